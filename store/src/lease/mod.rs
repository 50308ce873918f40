//! Lease liveness: which leases exist and when each expires.
//!
//! Grants and revokes are replicated commands (see [`crate::mvcc`]); liveness
//! is not. As in etcd, only the leader's clock matters: keep-alives go to the
//! leader, the leader decides a lease has expired and proposes its revoke, and
//! a new leader first extends every lease so that none expires early because
//! of the election.

mod lessor;

pub use lessor::{Lessor, MAX_LEASE_TTL};

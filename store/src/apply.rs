//! What applying one committed command produced, and who gets told.
//!
//! The state machine applies commands strictly in log order and hands each
//! result to its observers (the watch hub and the lessor) before applying the
//! next, so observers see revisions in order, each exactly once.

use berth_proto::mvccpb::Event;
use berth_proto::raft::InternalResponse;

/// A lease came into being or ended as part of an applied command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseChange {
    /// `LeaseGrant` applied.
    Granted {
        /// Lease ID.
        id: i64,
        /// Granted TTL in seconds.
        ttl: i64,
    },
    /// `LeaseRevoke` applied (by a client or by expiry).
    Revoked {
        /// Lease ID.
        id: i64,
    },
}

/// The result of applying one command.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    /// What the proposer is answered.
    pub response: InternalResponse,
    /// The store revision after this command (unchanged if it wrote nothing).
    pub revision: i64,
    /// Events of this command, all at `revision`, each with `prev_kv` filled
    /// when the key had a previous version (watchers strip it unless asked).
    pub events: Vec<Event>,
    /// Leases granted or revoked by this command.
    pub lease_changes: Vec<LeaseChange>,
}

/// Told of every applied command, in log order.
pub trait ApplyObserver: Send + Sync + 'static {
    /// Called after `applied` is durable in the state machine's RocksDB.
    fn applied(&self, applied: &Applied);
    /// Called after the whole state was replaced from a snapshot: observers
    /// must re-read what they cache (the watch hub drops its buffer, the
    /// lessor reloads its leases).
    fn restored(&self, revision: i64);
}

//! berth's store: an MVCC key-value store on RocksDB, replicated by openraft,
//! serving etcd's v3 gRPC API so that etcdctl and any etcd client work against
//! it unchanged.
//!
//! The layout follows etcd's server: [`mvcc`] stores revisions, [`lease`]
//! tracks leases, [`watch`] streams events, [`raft`] replicates, [`server`]
//! orders requests (the `etcdserver` role) and [`grpc`] only translates.

pub mod apply;
pub mod error;
pub mod faults;
pub mod grpc;
pub mod http;
pub mod lease;
pub mod metrics;
pub mod mvcc;
pub mod raft;
pub mod server;
pub mod transport;
pub mod watch;

pub use error::{Result, StoreError};

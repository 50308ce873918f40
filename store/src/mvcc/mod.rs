//! The MVCC key-value store on RocksDB: etcd's `mvcc` package for berth.
//!
//! Every write gets one store-wide revision; each key keeps its
//! create/mod revision, version and lease; every version stays readable
//! until compacted. The Raft state machine is the only writer: it applies
//! committed commands in log order, so a write batch per command is all the
//! concurrency control needed, and readers see whole commands through
//! RocksDB snapshots.
//!
//! Column families: `kv` (live keys: key → `KeyValue`), `hist` (every
//! version: escaped key + inverted revision → `Event`), `rev` (revision →
//! key, the order watchers replay), `lease` (ID → TTL), `lease_keys` (ID +
//! key), `meta` (revisions and the state machine's own records).

mod apply;
mod history;
mod keys;
mod read;
mod store;
#[cfg(test)]
mod tests;
mod write;

pub use keys::{in_range, Revision};
pub use store::KvStore;

/// The revision of an empty store (etcd's): the first write is revision 2.
pub const INITIAL_REVISION: i64 = 1;

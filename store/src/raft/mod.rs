//! Replication: openraft over berth's own storage and transport.
//!
//! As in openraft's `raft-kv-rocksdb` example, one concept per file:
//! [`types`] (what openraft is instantiated with), [`log_store`] (the Raft log
//! and vote on their own RocksDB, fsynced before anything is acknowledged),
//! [`state_machine`] (applies committed entries to [`crate::mvcc::KvStore`]),
//! [`snapshot`] (snapshot files: RocksDB checkpoints packed into one file),
//! [`network`] (Raft RPCs over the `RaftTransport` gRPC service).
//!
//! Wiring a member:
//! ```ignore
//! let log_store = LogStore::open(&data_dir.join("raft"))?;
//! let state_machine = StateMachine::open(kv, &data_dir.join("snapshots"), observers).await?;
//! let applied = state_machine.applied_index(); // before Raft takes it
//! let network = Network::new(connector, max_message_bytes);
//! let config = raft::config(heartbeat, election_timeout, snapshot_count)?;
//! let raft = Raft::new(id, config, network, log_store, state_machine).await?;
//! ```

#[cfg(test)]
mod cluster_tests;
mod group_commit;
mod log_cache;
mod log_store;
mod network;
mod runtime;
mod snapshot;
mod state_machine;
mod types;

use std::sync::Arc;
use std::time::Duration;

use bincode::Options;
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use log_store::LogStore;
pub use network::{Network, PeerClient, RefusedForLog};
pub use openraft::ServerState;
pub use runtime::{seed_thread_rng, Runtime};
pub use state_machine::{SnapshotBuilder, StateMachine};
pub use types::{
    LogId, Member, Raft, Request, Response, SnapshotMeta, StoredMembership, TypeConfig,
};

use crate::{Result, StoreError};

/// Entries a snapshot has to cover before the log behind it may be purged
/// down to [`LOGS_KEPT_AFTER_SNAPSHOT`].
pub const DEFAULT_SNAPSHOT_COUNT: u64 = 10_000;

/// Entries kept behind the latest snapshot, so that a follower that is only a
/// little behind catches up from the log instead of a whole snapshot (etcd's
/// `--snapshot-catchup-entries` plays the same role).
pub const LOGS_KEPT_AFTER_SNAPSHOT: u64 = 1_000;

/// Snapshot bytes per `InstallSnapshot` message: well under the peer
/// service's message limit (twice etcd's 1.5 MiB request limit).
pub const SNAPSHOT_CHUNK_BYTES: u64 = 1024 * 1024;

/// How long the last snapshot chunk may take, installation included: a
/// large state is untarred and swapped in before the follower answers.
const INSTALL_SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(30);

/// openraft's configuration for berth: etcd's `--heartbeat-interval` and
/// `--election-timeout`, and a snapshot every `snapshot_count` applied
/// entries (etcd's `--snapshot-count`).
///
/// A follower of etcd 3.4 campaigns once it has not heard from the leader
/// for its randomized timeout in `[election, 2 × election)` (Raft §5.2), and
/// ignores other candidates for one election timeout after it last heard from
/// the leader (raft's `inLease`, check quorum being always on in etcd).
/// openraft instead makes a follower refuse votes for a leader lease of
/// `election_timeout_max` and campaign only after that lease *plus* its own
/// timeout from `[election_timeout_min, election_timeout_max)`. So the
/// maximum is the election timeout (the lease is etcd's) and the minimum is
/// small: a follower campaigns in `(election, 2 × election)`, as in etcd,
/// not after two to four election timeouts. The minimum, two heartbeats, is
/// also the least a candidate that did not win waits before it tries again
/// (no lease holds it back), long enough for a winner to be heard first.
pub fn config(
    heartbeat: Duration,
    election_timeout: Duration,
    snapshot_count: u64,
) -> Result<Arc<openraft::Config>> {
    let heartbeat_ms = millis(heartbeat);
    let election_ms = millis(election_timeout);
    let snapshot_count = snapshot_count.max(1);
    let config = openraft::Config {
        cluster_name: "berth".to_string(),
        heartbeat_interval: heartbeat_ms,
        election_timeout_min: heartbeat_ms.saturating_mul(2),
        election_timeout_max: election_ms,
        install_snapshot_timeout: millis(INSTALL_SNAPSHOT_TIMEOUT),
        snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(snapshot_count),
        snapshot_max_chunk_size: SNAPSHOT_CHUNK_BYTES,
        max_in_snapshot_log_to_keep: LOGS_KEPT_AFTER_SNAPSHOT,
        // Purging is a RocksDB range delete: cheap, but not worth doing for
        // every single entry.
        purge_batch_size: 256,
        // A follower further behind than this gets a snapshot; it must exceed
        // what the leader keeps behind its snapshot or catch-up never ends.
        replication_lag_threshold: snapshot_count.saturating_add(LOGS_KEPT_AFTER_SNAPSHOT),
        ..Default::default()
    };
    let config = config.validate().map_err(|e| {
        StoreError::Other(
            tonic::Code::InvalidArgument as i32,
            format!("raft configuration: {e}"),
        )
    })?;
    Ok(Arc::new(config))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Serializes anything Raft stores or sends (log entries, votes, RPCs and
/// their results) with bincode.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    bincode_options()
        .serialize(value)
        .map_err(|e| StoreError::Storage(format!("encoding raft data: {e}")))
}

/// The inverse of [`encode`]. Input from the network is untrusted: a
/// malformed or truncated payload is an error, never a panic, and trailing
/// bytes are refused.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    bincode_options()
        .with_limit(bytes.len() as u64)
        .deserialize(bytes)
        .map_err(|e| StoreError::Storage(format!("decoding raft data: {e}")))
}

fn bincode_options() -> impl Options {
    // Fixed-width integers: the layout `bincode::serialize` produces.
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .reject_trailing_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_campaigns_between_one_and_two_election_timeouts_after_the_leader() {
        let c = config(
            Duration::from_millis(100),
            Duration::from_millis(1000),
            10_000,
        )
        .unwrap();
        assert_eq!(c.heartbeat_interval, 100);
        // openraft's leader lease is the maximum; a follower campaigns after
        // the lease and a timeout in [min, max).
        assert_eq!(c.election_timeout_max, 1000);
        assert_eq!(c.election_timeout_min, 200);
        assert_eq!(
            c.snapshot_policy,
            openraft::SnapshotPolicy::LogsSinceLast(10_000)
        );
        assert_eq!(c.max_in_snapshot_log_to_keep, LOGS_KEPT_AFTER_SNAPSHOT);
    }

    #[test]
    fn config_refuses_an_election_timeout_not_above_two_heartbeats() {
        let err = config(Duration::from_millis(100), Duration::from_millis(200), 10).unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
    }

    #[test]
    fn decode_refuses_truncated_and_trailing_bytes() {
        let bytes = encode(&(1u64, "x".to_string())).unwrap();
        assert_eq!(
            decode::<(u64, String)>(&bytes).unwrap(),
            (1, "x".to_string())
        );
        assert!(decode::<(u64, String)>(&bytes[..bytes.len() - 1]).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode::<(u64, String)>(&longer).is_err());
    }

    #[test]
    fn decode_of_a_huge_length_prefix_fails_without_allocating_it() {
        let mut bytes = u64::MAX.to_le_bytes().to_vec();
        bytes.extend_from_slice(b"abc");
        assert!(decode::<Vec<u8>>(&bytes).is_err());
    }
}

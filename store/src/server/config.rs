//! A member's configuration, named and defaulted as etcd's flags are.

use std::path::PathBuf;
use std::time::Duration;

/// etcd's default `--max-request-bytes`: 1.5 MiB.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 1536 * 1024;

/// etcd's default `--max-txn-ops`.
pub const DEFAULT_MAX_TXN_OPS: usize = 128;

/// What a store member needs to know to start.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `--name`: this member's name in `initial_cluster`.
    pub name: String,
    /// `--data-dir`: where the Raft log and the state machine live.
    pub data_dir: PathBuf,
    /// `--initial-cluster`: every member's name and peer URL.
    pub initial_cluster: Vec<(String, String)>,
    /// `--initial-cluster-token`: mixed into member and cluster IDs so that two
    /// clusters with the same URLs get different IDs.
    pub initial_cluster_token: String,
    /// `--advertise-client-urls`: what `member list` shows for this member.
    pub advertise_client_urls: Vec<String>,
    /// `--heartbeat-interval`.
    pub heartbeat_interval: Duration,
    /// `--election-timeout`.
    pub election_timeout: Duration,
    /// How long a request may wait for its result before `request timed out`.
    pub request_timeout: Duration,
    /// `--snapshot-count`: applied entries between snapshots.
    pub snapshot_count: u64,
    /// `--max-txn-ops`.
    pub max_txn_ops: usize,
    /// `--max-request-bytes`.
    pub max_request_bytes: usize,
    /// Where this run's lease ID counter starts, in milliseconds since the
    /// Unix epoch: the wall clock when `None` (etcd's `idutil`, so that a
    /// restarted member does not hand out its earlier IDs). A simulation sets
    /// its own clock here so that a seed replays the same IDs.
    pub lease_id_clock: Option<u64>,
}

impl ServerConfig {
    /// A single-member cluster named `name` with etcd's other defaults.
    pub fn single(name: &str, data_dir: PathBuf, peer_url: &str, client_url: &str) -> Self {
        ServerConfig {
            name: name.to_string(),
            data_dir,
            initial_cluster: vec![(name.to_string(), peer_url.to_string())],
            initial_cluster_token: "etcd-cluster".to_string(),
            advertise_client_urls: vec![client_url.to_string()],
            heartbeat_interval: Duration::from_millis(100),
            election_timeout: Duration::from_millis(1000),
            request_timeout: Duration::from_secs(7),
            snapshot_count: 10_000,
            max_txn_ops: DEFAULT_MAX_TXN_OPS,
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            lease_id_clock: None,
        }
    }

    /// This member's peer URL, from `initial_cluster`.
    pub fn peer_url(&self) -> Option<&str> {
        self.initial_cluster
            .iter()
            .find(|(name, _)| *name == self.name)
            .map(|(_, url)| url.as_str())
    }

    /// The Raft ID of the member `name` with `peer_url`: stable across
    /// restarts, distinct across clusters with different tokens.
    pub fn member_id(&self, name: &str, peer_url: &str) -> u64 {
        let mut bytes = Vec::new();
        for part in [name, peer_url, self.initial_cluster_token.as_str()] {
            bytes.extend_from_slice(part.as_bytes());
            bytes.push(0);
        }
        // Raft IDs of 0 mean "none" in etcd's tooling; never hand one out.
        fnv1a(&bytes).max(1)
    }

    /// The cluster ID: a hash of every member's ID.
    pub fn cluster_id(&self) -> u64 {
        let mut ids: Vec<u64> = self
            .initial_cluster
            .iter()
            .map(|(name, url)| self.member_id(name, url))
            .collect();
        ids.sort_unstable();
        let bytes: Vec<u8> = ids.iter().flat_map(|id| id.to_be_bytes()).collect();
        fnv1a(&bytes)
    }
}

/// FNV-1a, 64 bit: a stable hash (std's hasher may change between Rust
/// releases, and IDs must not).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn three() -> ServerConfig {
        let mut cfg = ServerConfig::single("n1", "/tmp/x".into(), "http://a:1", "http://a:2");
        cfg.initial_cluster = vec![
            ("n1".into(), "http://a:1".into()),
            ("n2".into(), "http://a:3".into()),
            ("n3".into(), "http://a:5".into()),
        ];
        cfg
    }

    #[test]
    fn member_ids_are_stable_and_distinct() {
        let cfg = three();
        let ids: Vec<u64> = cfg
            .initial_cluster
            .iter()
            .map(|(n, u)| cfg.member_id(n, u))
            .collect();
        assert_eq!(ids[0], three().member_id("n1", "http://a:1"));
        assert_ne!(ids[0], ids[1]);
        assert_ne!(ids[1], ids[2]);
    }

    #[test]
    fn cluster_token_changes_the_ids() {
        let a = three();
        let mut b = three();
        b.initial_cluster_token = "other".into();
        assert_ne!(a.cluster_id(), b.cluster_id());
        assert_ne!(
            a.member_id("n1", "http://a:1"),
            b.member_id("n1", "http://a:1")
        );
    }
}

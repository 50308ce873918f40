//! Every metric of the store, in one place, under etcd's metric names so
//! existing etcd dashboards and alerts apply.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// The store's metrics.
pub struct Metrics {
    registry: Registry,
    /// `etcd_server_has_leader`.
    pub has_leader: Gauge,
    /// `etcd_server_is_leader`.
    pub is_leader: Gauge,
    /// `etcd_server_leader_changes_seen_total`.
    pub leader_changes: Counter,
    /// `etcd_server_term`.
    pub term: Gauge<u64, AtomicU64>,
    /// `etcd_server_proposals_committed_total` (the commit index).
    pub committed_index: Gauge<u64, AtomicU64>,
    /// `etcd_server_proposals_applied_total` (the applied index).
    pub applied_index: Gauge<u64, AtomicU64>,
    /// `etcd_server_proposals_failed_total`.
    pub proposals_failed: Counter,
    /// `etcd_server_proposal_duration_seconds`: propose to applied answer.
    pub proposal_duration: Histogram,
    /// `etcd_disk_wal_fsync_duration_seconds`: each synced Raft log write.
    pub wal_fsync_duration: Histogram,
    /// `etcd_mvcc_db_total_size_in_bytes`.
    pub db_size: Gauge,
    /// `etcd_debugging_mvcc_watcher_total`: watchers open.
    pub watchers: Gauge,
    /// `berth_store_read_index_rounds_total`: read-index rounds this member
    /// ran, each a quorum check if it leads or one request to the leader.
    pub read_index_rounds: Counter,
    /// `berth_store_read_index_reads_total`: reads those rounds served, so
    /// that reads per round shows how well concurrent reads share them.
    pub read_index_reads: Counter,
}

impl Metrics {
    /// A fresh set of metrics in its own registry.
    pub fn new() -> Arc<Metrics> {
        let mut registry = Registry::default();
        let m = Metrics {
            has_leader: Gauge::default(),
            is_leader: Gauge::default(),
            leader_changes: Counter::default(),
            term: Gauge::default(),
            committed_index: Gauge::default(),
            applied_index: Gauge::default(),
            proposals_failed: Counter::default(),
            // 0.5 ms .. ~8 s, etcd's bucket layout for disk and proposals.
            proposal_duration: Histogram::new(exponential_buckets(0.0005, 2.0, 14)),
            wal_fsync_duration: Histogram::new(exponential_buckets(0.0005, 2.0, 14)),
            db_size: Gauge::default(),
            watchers: Gauge::default(),
            read_index_rounds: Counter::default(),
            read_index_reads: Counter::default(),
            registry: Registry::default(),
        };
        registry.register(
            "etcd_server_has_leader",
            "Whether a leader exists (1) or not (0)",
            m.has_leader.clone(),
        );
        registry.register(
            "etcd_server_is_leader",
            "Whether this member is the leader",
            m.is_leader.clone(),
        );
        registry.register(
            "etcd_server_leader_changes_seen",
            "Leader changes seen",
            m.leader_changes.clone(),
        );
        registry.register("etcd_server_term", "The Raft term", m.term.clone());
        registry.register(
            "etcd_server_proposals_committed",
            "The Raft commit index",
            m.committed_index.clone(),
        );
        registry.register(
            "etcd_server_proposals_applied",
            "The Raft applied index",
            m.applied_index.clone(),
        );
        registry.register(
            "etcd_server_proposals_failed",
            "Proposals that failed",
            m.proposals_failed.clone(),
        );
        registry.register(
            "etcd_server_proposal_duration_seconds",
            "Time from proposal to applied answer",
            m.proposal_duration.clone(),
        );
        registry.register(
            "etcd_disk_wal_fsync_duration_seconds",
            "Latency of synced Raft log writes",
            m.wal_fsync_duration.clone(),
        );
        registry.register(
            "etcd_mvcc_db_total_size_in_bytes",
            "State machine size on disk",
            m.db_size.clone(),
        );
        registry.register(
            "etcd_debugging_mvcc_watcher_total",
            "Watchers open",
            m.watchers.clone(),
        );
        registry.register(
            "berth_store_read_index_rounds",
            "Read-index rounds run: quorum checks as leader, requests to the leader otherwise",
            m.read_index_rounds.clone(),
        );
        registry.register(
            "berth_store_read_index_reads",
            "Reads served by read-index rounds",
            m.read_index_reads.clone(),
        );
        Arc::new(Metrics { registry, ..m })
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

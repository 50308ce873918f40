//! The `etcdserver` role: orders every request through Raft, answers reads
//! at the right point, forwards what needs the leader, and keeps leases.
//!
//! The gRPC front end ([`crate::grpc`]) only translates to and from these
//! calls; the state lives in [`crate::mvcc`], replication in [`crate::raft`].

mod batch;
mod config;
mod failover;
mod leases;
mod peers;
mod propose;
mod read;
mod start;
pub mod validate;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use berth_proto::etcdserverpb::ResponseHeader;
use openraft::ServerState;

pub use config::{ServerConfig, DEFAULT_MAX_REQUEST_BYTES, DEFAULT_MAX_TXN_OPS};
pub use start::start;

use crate::lease::Lessor;
use crate::metrics::Metrics;
use crate::mvcc::KvStore;
use crate::raft::{Raft, RefusedForLog};
use crate::watch::WatchHub;
use peers::Peers;

/// One running store member.
pub struct EtcdServer {
    id: u64,
    cluster_id: u64,
    config: ServerConfig,
    raft: Raft,
    kv: KvStore,
    hub: Arc<WatchHub>,
    lessor: Arc<Lessor>,
    peers: Peers,
    lease_ids: propose::LeaseIdGenerator,
    metrics: Arc<Metrics>,
    /// The Raft commit index, as the log store last saved it.
    committed: Arc<AtomicU64>,
    /// Vote requests of this member refused for a longer log.
    refused_for_log: RefusedForLog,
    /// Writes waiting to be proposed together (see [`batch`]).
    proposals: batch::Queue,
    /// Linearizable reads of this member's clients, waiting for a round.
    client_reads: read::Rounds,
    /// Followers' read index requests, waiting for a round on this member.
    follower_reads: read::Rounds,
    /// The index of the last entry applied, its observers told.
    applied: tokio::sync::watch::Receiver<u64>,
}

impl EtcdServer {
    /// This member's Raft ID (etcd's member ID).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The cluster's ID.
    pub fn cluster_id(&self) -> u64 {
        self.cluster_id
    }

    /// The configuration this member started with.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// The Raft handle.
    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    /// The local state machine (serializable reads only).
    pub fn kv(&self) -> &KvStore {
        &self.kv
    }

    /// The watch hub fed by this member's state machine.
    pub fn hub(&self) -> &Arc<WatchHub> {
        &self.hub
    }

    /// The lease table.
    pub fn lessor(&self) -> &Arc<Lessor> {
        &self.lessor
    }

    /// A response header at the current revision and term.
    pub fn header(&self) -> ResponseHeader {
        self.header_at(self.kv.current_revision())
    }

    /// A response header for a given revision.
    pub fn header_at(&self, revision: i64) -> ResponseHeader {
        ResponseHeader {
            cluster_id: self.cluster_id,
            member_id: self.id,
            revision,
            raft_term: self.raft.metrics().borrow().current_term,
        }
    }

    /// The leader this member knows of, if any.
    pub fn leader(&self) -> Option<u64> {
        self.raft.metrics().borrow().current_leader
    }

    /// The peer URL of member `id`, from the membership Raft knows.
    fn peer_url(&self, id: u64) -> Option<String> {
        let metrics = self.raft.metrics();
        let m = metrics.borrow();
        let url = m
            .membership_config
            .nodes()
            .find(|(member_id, _)| **member_id == id)
            .map(|(_, member)| member.peer_url.clone());
        url
    }

    /// Whether this member is the leader right now.
    pub fn is_leader(&self) -> bool {
        let metrics = self.raft.metrics();
        let m = metrics.borrow();
        m.state == ServerState::Leader && m.current_leader == Some(self.id)
    }

    /// The Raft commit index this member knows of.
    pub fn committed_index(&self) -> u64 {
        self.committed.load(Ordering::Acquire)
    }

    /// Ready to serve: a leader is known and everything committed that this
    /// member knows of is applied.
    pub fn is_ready(&self) -> bool {
        let metrics = self.raft.metrics();
        let m = metrics.borrow();
        let applied = m.last_applied.map(|l| l.index).unwrap_or(0);
        m.current_leader.is_some() && m.running_state.is_ok() && applied >= self.committed_index()
    }

    /// The store's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Brings the gauges that mirror Raft's state up to date (on scrape).
    pub fn refresh_metrics(&self) {
        let metrics = self.raft.metrics();
        let m = metrics.borrow();
        self.metrics
            .has_leader
            .set(i64::from(m.current_leader.is_some()));
        self.metrics
            .is_leader
            .set(i64::from(m.current_leader == Some(self.id)));
        self.metrics.term.set(m.current_term);
        self.metrics.committed_index.set(self.committed_index());
        self.metrics
            .applied_index
            .set(m.last_applied.map(|l| l.index).unwrap_or(0));
        self.metrics.db_size.set(self.kv.db_size());
        self.metrics.watchers.set(self.hub().watchers());
    }

    /// Stops Raft; in-flight requests fail with `server stopped`.
    pub async fn shutdown(&self) {
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(error = %e, "raft shutdown");
        }
    }
}

/// Counts leader changes as this member sees them (etcd's
/// `leader_changes_seen_total`). Ends when Raft stops.
pub(crate) async fn watch_leader_changes(raft: Raft, metrics: Arc<Metrics>) {
    let mut rx = raft.metrics();
    let mut leader = rx.borrow().current_leader;
    while rx.changed().await.is_ok() {
        let now = rx.borrow().current_leader;
        if now.is_some() && now != leader {
            metrics.leader_changes.inc();
        }
        leader = now;
    }
}

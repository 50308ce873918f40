//! Bringing a member up: open its stores, join Raft, publish its client URLs.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use berth_proto::raft::{internal_request, InternalRequest, MemberAttributes};

use super::config::ServerConfig;
use super::failover::run_failover;
use super::leases::run_expiry;
use super::peers::Peers;
use super::propose::LeaseIdGenerator;
use super::read::{run_rounds, Round};
use super::EtcdServer;
use crate::apply::ApplyObserver;
use crate::lease::Lessor;
use crate::metrics::Metrics;
use crate::mvcc::KvStore;
use crate::raft::{self, LogStore, Member, Network, StateMachine};
use crate::transport::Connector;
use crate::watch::WatchHub;
use crate::{Result, StoreError};

/// Starts a member: opens (or creates) its data, starts Raft, and on first
/// start forms the cluster from `initial_cluster`. The caller serves the
/// returned server's client and peer services (see [`crate::grpc`]).
pub async fn start(config: ServerConfig, connector: Connector) -> Result<Arc<EtcdServer>> {
    let peer_url = config
        .peer_url()
        .ok_or_else(|| {
            invalid(format!(
                "--name {:?} is not in --initial-cluster",
                config.name
            ))
        })?
        .to_string();
    let id = config.member_id(&config.name, &peer_url);
    let cluster_id = config.cluster_id();
    std::fs::create_dir_all(&config.data_dir).map_err(io)?;

    let kv = KvStore::open(&config.data_dir.join("kv"))?;
    let hub = WatchHub::new(kv.clone());
    let lessor = Arc::new(Lessor::open(config.election_timeout, kv.clone())?);

    let observers: Vec<Arc<dyn ApplyObserver>> = vec![hub.clone(), lessor.clone()];
    let metrics = Metrics::new();
    let log_store = LogStore::open(&config.data_dir.join("raft"))?
        .observe_fsync(metrics.wal_fsync_duration.clone());
    let committed = log_store.committed_index();
    let state_machine =
        StateMachine::open(kv.clone(), &config.data_dir.join("snapshots"), observers).await?;
    let applied = state_machine.applied_index();
    let network = Network::new(connector.clone(), config.max_request_bytes * 2);
    let refused_for_log = network.refused_for_log();
    let raft_config = raft::config(
        config.heartbeat_interval,
        config.election_timeout,
        config.snapshot_count,
    )?;
    let raft = raft::Raft::new(id, raft_config, network, log_store, state_machine)
        .await
        .map_err(|e| StoreError::Storage(e.to_string()))?;

    let members: BTreeMap<u64, Member> = config
        .initial_cluster
        .iter()
        .map(|(name, url)| {
            (
                config.member_id(name, url),
                Member {
                    name: name.clone(),
                    peer_url: url.clone(),
                },
            )
        })
        .collect();
    let initialized = raft
        .is_initialized()
        .await
        .map_err(|_| StoreError::Stopped)?;
    if !initialized {
        // Every member of a new cluster initializes with the same membership;
        // openraft allows that, and whoever's entry wins, it is the same.
        if let Err(e) = raft.initialize(members).await {
            tracing::info!(error = %e, "cluster already initialized");
        }
    }

    let start_millis = config.lease_id_clock.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    });
    tokio::spawn(super::watch_leader_changes(raft.clone(), metrics.clone()));
    let (proposals, queued) = super::batch::queue();
    let (client_reads, client_waiting) = super::read::rounds();
    let (follower_reads, follower_waiting) = super::read::rounds();
    let server = Arc::new(EtcdServer {
        proposals,
        client_reads,
        follower_reads,
        applied,
        metrics,
        committed,
        refused_for_log,
        id,
        cluster_id,
        peers: Peers::new(connector, config.max_request_bytes * 2),
        lease_ids: LeaseIdGenerator::new(id, start_millis),
        config,
        raft,
        kv,
        hub,
        lessor,
    });
    tokio::spawn(super::batch::run(queued, Arc::downgrade(&server)));
    tokio::spawn(run_rounds(
        client_waiting,
        Arc::downgrade(&server),
        Round::Clients,
    ));
    tokio::spawn(run_rounds(
        follower_waiting,
        Arc::downgrade(&server),
        Round::Followers,
    ));
    tokio::spawn(run_expiry(Arc::downgrade(&server)));
    tokio::spawn(run_failover(Arc::downgrade(&server)));
    tokio::spawn(publish_attributes(Arc::downgrade(&server)));
    Ok(server)
}

/// Records this member's name and client URLs in the replicated state, as
/// etcd's `publish` does, so every member can list them.
async fn publish_attributes(server: std::sync::Weak<EtcdServer>) {
    loop {
        let Some(s) = server.upgrade() else { return };
        let attributes = MemberAttributes {
            id: s.id,
            name: s.config.name.clone(),
            client_urls: s.config.advertise_client_urls.clone(),
        };
        match s.kv.members_attributes() {
            Ok(known) if known.contains(&attributes) => return,
            _ => {}
        }
        let req = InternalRequest {
            request: Some(internal_request::Request::MemberAttributes(attributes)),
        };
        match s.propose(req).await {
            Ok(_) => return,
            Err(StoreError::Stopped) => return,
            Err(e) => tracing::debug!(error = %e, "publishing member attributes"),
        }
        drop(s);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn invalid(message: String) -> StoreError {
    StoreError::Other(tonic::Code::InvalidArgument as i32, message)
}

fn io(e: std::io::Error) -> StoreError {
    StoreError::Storage(e.to_string())
}

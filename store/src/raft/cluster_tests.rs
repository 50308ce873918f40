//! Members wired together for real: log store, state machine and network
//! under openraft, over gRPC on localhost.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use berth_proto::etcdserverpb::{
    LeaseKeepAliveRequest, LeaseKeepAliveResponse, LeaseTimeToLiveRequest, LeaseTimeToLiveResponse,
    PutRequest, RangeRequest,
};
use berth_proto::mvccpb::KeyValue;
use berth_proto::raft::raft_transport_server::{RaftTransport, RaftTransportServer};
use berth_proto::raft::{
    internal_request, InternalRequest, InternalResponse, RaftPayload, ReadIndexRequest,
    ReadIndexResponse,
};
use tempfile::TempDir;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request as GrpcRequest, Response as GrpcResponse, Status};

use super::*;
use crate::apply::{Applied, ApplyObserver};
use crate::mvcc::KvStore;
use crate::transport::tcp_connector;

const TIMEOUT: Option<Duration> = Some(Duration::from_secs(20));

/// The Raft half of the peer service, as the server's would be.
#[derive(Clone, Default)]
struct Peer {
    raft: Arc<RwLock<Option<Raft>>>,
}

impl Peer {
    fn raft(&self) -> Result<Raft, Status> {
        let raft = self.raft.read().unwrap().clone();
        raft.ok_or_else(|| Status::unavailable("member is down"))
    }
}

fn reply<T: serde::Serialize>(value: &T) -> Result<GrpcResponse<RaftPayload>, Status> {
    let data = encode(value).map_err(|e| Status::internal(e.to_string()))?;
    Ok(GrpcResponse::new(RaftPayload { data }))
}

fn bad(e: crate::StoreError) -> Status {
    Status::invalid_argument(e.to_string())
}

#[tonic::async_trait]
impl RaftTransport for Peer {
    async fn append_entries(
        &self,
        request: GrpcRequest<RaftPayload>,
    ) -> Result<GrpcResponse<RaftPayload>, Status> {
        let rpc = decode(&request.into_inner().data).map_err(bad)?;
        reply(&self.raft()?.append_entries(rpc).await)
    }

    async fn vote(
        &self,
        request: GrpcRequest<RaftPayload>,
    ) -> Result<GrpcResponse<RaftPayload>, Status> {
        let rpc = decode(&request.into_inner().data).map_err(bad)?;
        reply(&self.raft()?.vote(rpc).await)
    }

    async fn install_snapshot(
        &self,
        request: GrpcRequest<RaftPayload>,
    ) -> Result<GrpcResponse<RaftPayload>, Status> {
        let rpc = decode(&request.into_inner().data).map_err(bad)?;
        reply(&self.raft()?.install_snapshot(rpc).await)
    }

    async fn propose(
        &self,
        _: GrpcRequest<InternalRequest>,
    ) -> Result<GrpcResponse<InternalResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }

    async fn read_index(
        &self,
        _: GrpcRequest<ReadIndexRequest>,
    ) -> Result<GrpcResponse<ReadIndexResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }

    async fn lease_keep_alive(
        &self,
        _: GrpcRequest<LeaseKeepAliveRequest>,
    ) -> Result<GrpcResponse<LeaseKeepAliveResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }

    async fn lease_time_to_live(
        &self,
        _: GrpcRequest<LeaseTimeToLiveRequest>,
    ) -> Result<GrpcResponse<LeaseTimeToLiveResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
}

/// Records the revision of every applied command (shared with the state
/// machine's tests).
#[derive(Default)]
pub(super) struct Revisions(pub(super) Mutex<Vec<i64>>);

impl ApplyObserver for Revisions {
    fn applied(&self, applied: &Applied) {
        self.0.lock().unwrap().push(applied.revision);
    }
    fn restored(&self, _revision: i64) {}
}

struct Node {
    id: u64,
    member: Member,
    dir: TempDir,
    peer: Peer,
    server: JoinHandle<()>,
    kv: Option<KvStore>,
    revisions: Arc<Revisions>,
}

fn test_config() -> Arc<openraft::Config> {
    let base = config(Duration::from_millis(50), Duration::from_millis(300), 10).unwrap();
    let mut c = (*base).clone();
    // Purge everything a snapshot covers and send snapshots in several
    // chunks, so that a new member needs the whole path.
    c.max_in_snapshot_log_to_keep = 0;
    c.purge_batch_size = 1;
    c.snapshot_max_chunk_size = 4096;
    Arc::new(c)
}

impl Node {
    async fn spawn(id: u64) -> Node {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let peer = Peer::default();
        let service = RaftTransportServer::new(peer.clone());
        let server = tokio::spawn(async move {
            let _ = tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(TcpListenerStream::new(listener))
                .await;
        });
        let mut node = Node {
            id,
            member: Member {
                name: format!("m{id}"),
                peer_url: format!("http://{addr}"),
            },
            dir: tempfile::tempdir().unwrap(),
            peer,
            server,
            kv: None,
            revisions: Arc::new(Revisions::default()),
        };
        node.start().await;
        node
    }

    async fn start(&mut self) {
        let dir: &Path = self.dir.path();
        // A stopped member's state machine and log tasks end just after
        // its shutdown returns; until then they hold the databases' locks.
        let mut tries = 0;
        let (kv, log_store) = loop {
            match (
                KvStore::open(&dir.join("kv")),
                LogStore::open(&dir.join("raft")),
            ) {
                (Ok(kv), Ok(log)) => break (kv, log),
                (kv, log) if tries == 50 => panic!("reopening: {:?} {:?}", kv.err(), log.err()),
                _ => {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            }
        };
        self.revisions = Arc::new(Revisions::default());
        let observers: Vec<Arc<dyn ApplyObserver>> = vec![self.revisions.clone()];
        let sm = StateMachine::open(kv.clone(), &dir.join("snapshots"), observers)
            .await
            .unwrap();
        let network = Network::new(tcp_connector(), 4 << 20);
        let raft = Raft::new(self.id, test_config(), network, log_store, sm)
            .await
            .unwrap();
        *self.peer.raft.write().unwrap() = Some(raft);
        self.kv = Some(kv);
    }

    async fn stop(&mut self) {
        let raft = self.peer.raft.write().unwrap().take();
        if let Some(raft) = raft {
            raft.shutdown().await.unwrap();
        }
        self.kv = None;
    }

    fn raft(&self) -> Raft {
        self.peer.raft().unwrap()
    }

    fn kv(&self) -> &KvStore {
        self.kv.as_ref().unwrap()
    }

    fn everything(&self) -> Vec<KeyValue> {
        let all = RangeRequest {
            key: vec![0],
            range_end: vec![0],
            ..Default::default()
        };
        self.kv().range(&all).unwrap().kvs
    }

    async fn wait_applied(&self, index: u64) {
        self.raft()
            .wait(TIMEOUT)
            .applied_index_at_least(Some(index), "applied")
            .await
            .unwrap();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn put(key: String, value: String) -> Request {
    Request(InternalRequest {
        request: Some(internal_request::Request::Put(PutRequest {
            key: key.into_bytes(),
            value: value.into_bytes(),
            ..Default::default()
        })),
    })
}

async fn leader_of(nodes: &[Node]) -> usize {
    let leader = nodes[0]
        .raft()
        .wait(TIMEOUT)
        .metrics(|m| m.current_leader.is_some(), "leader")
        .await
        .unwrap()
        .current_leader
        .unwrap();
    nodes.iter().position(|n| n.id == leader).unwrap()
}

async fn write(nodes: &[Node], count: usize, prefix: &str) -> u64 {
    let leader = leader_of(nodes).await;
    let mut last = 0;
    for i in 0..count {
        let written = nodes[leader]
            .raft()
            .client_write(put(format!("{prefix}{i:03}"), format!("v{i}")))
            .await
            .unwrap();
        assert!(written.data.revision > 1);
        last = written.log_id.index;
    }
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_replicate_restart_and_catch_a_new_member_up_by_snapshot() {
    let mut nodes = Vec::new();
    for id in 1..=3 {
        nodes.push(Node::spawn(id).await);
    }
    let members: BTreeMap<u64, Member> = nodes.iter().map(|n| (n.id, n.member.clone())).collect();
    nodes[0].raft().initialize(members).await.unwrap();

    let last = write(&nodes, 30, "a").await;
    for node in &nodes {
        node.wait_applied(last).await;
    }
    let expected = nodes[0].everything();
    assert_eq!(expected.len(), 30);
    for node in &nodes[1..] {
        assert_eq!(node.everything(), expected);
    }

    // A member restarted from its data resumes where it stopped: it
    // applies only what is new to it.
    let restarted = (leader_of(&nodes).await + 1) % 3;
    let revision_before = nodes[restarted].kv().current_revision();
    nodes[restarted].stop().await;
    nodes[restarted].start().await;
    let last = write(&nodes, 5, "b").await;
    for node in &nodes {
        node.wait_applied(last).await;
    }
    let seen = nodes[restarted].revisions.0.lock().unwrap().clone();
    assert!(
        !seen.is_empty() && seen.iter().all(|r| *r > revision_before),
        "{seen:?}"
    );
    assert_eq!(nodes[restarted].everything(), nodes[0].everything());

    // Snapshot and purge on every member, then add a member: the log it
    // would need is gone, so it must be sent the snapshot (in chunks).
    for node in &nodes {
        node.raft().trigger().snapshot().await.unwrap();
        node.raft()
            .wait(TIMEOUT)
            .metrics(|m| m.snapshot.map(|s| s.index) >= Some(last), "snapshot")
            .await
            .unwrap();
        node.raft().trigger().purge_log(last).await.unwrap();
    }
    let leader = leader_of(&nodes).await;
    nodes[leader]
        .raft()
        .wait(TIMEOUT)
        .metrics(|m| m.purged.map(|p| p.index) >= Some(last), "purged")
        .await
        .unwrap();
    let newcomer = Node::spawn(4).await;
    nodes[leader]
        .raft()
        .add_learner(4, newcomer.member.clone(), true)
        .await
        .unwrap();
    nodes.push(newcomer);
    let last = write(&nodes, 3, "c").await;
    for node in &nodes {
        node.wait_applied(last).await;
    }
    let expected = nodes[0].everything();
    assert_eq!(expected.len(), 38);
    assert_eq!(nodes[3].everything(), expected);
    assert_eq!(
        nodes[3].kv().current_revision(),
        nodes[0].kv().current_revision()
    );
    let snapshot = nodes[3].raft().metrics().borrow().snapshot;
    assert!(
        snapshot.is_some(),
        "the new member was caught up by snapshot"
    );

    for node in &mut nodes {
        node.stop().await;
    }
}

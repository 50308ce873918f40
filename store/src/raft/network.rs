//! Raft RPCs between members, over the `RaftTransport` gRPC service.
//!
//! Payload shapes (each a [`RaftPayload`] whose `data` is [`encode`]d):
//!
//! | RPC | request | response |
//! |---|---|---|
//! | `AppendEntries` | `AppendEntriesRequest<TypeConfig>` | `Result<AppendEntriesResponse<u64>, RaftError<u64>>` |
//! | `Vote` | `VoteRequest<u64>` | `Result<VoteResponse<u64>, RaftError<u64>>` |
//! | `InstallSnapshot` | `InstallSnapshotRequest<TypeConfig>` (one chunk) | `Result<InstallSnapshotResponse<u64>, RaftError<u64, InstallSnapshotError>>` |
//!
//! The receiving member decodes the request, hands it to its
//! `Raft::append_entries` / `vote` / `install_snapshot` and encodes the
//! result as is. A gRPC status instead of a payload means the message did
//! not get through (or could not be decoded).
//!
//! Failures are reported so that openraft paces itself: a member that cannot
//! be reached (gRPC `Unavailable`: connection refused, reset, or not yet up)
//! is `Unreachable`, and openraft backs off per [`PeerClient::backoff`]
//! before sending to it again; any other transport failure is a
//! `NetworkError`, retried at the next heartbeat.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use berth_proto::raft::raft_transport_client::RaftTransportClient;
use berth_proto::raft::RaftPayload;
use openraft::error::{
    InstallSnapshotError, NetworkError, PayloadTooLarge, RPCError, RaftError, RemoteError,
    Unreachable,
};
use openraft::network::{Backoff, RPCOption};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{RaftNetwork, RaftNetworkFactory};
use serde::de::DeserializeOwned;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

use super::types::{Member, TypeConfig};
use super::{decode, encode};
use crate::transport::Connector;

type RpcResult<T, E = openraft::error::Infallible> =
    Result<T, RPCError<u64, Member, RaftError<u64, E>>>;

/// First pause after a member turned out unreachable; it doubles with each
/// further failure up to [`BACKOFF_MAX`], and resets on the first success.
const BACKOFF_START: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// How many of this member's vote requests were refused by a member whose
/// log is ahead of the requester's. Such a candidate cannot win before it
/// catches up (Raft §5.4.1, the election restriction): openraft delays its
/// own next campaign then, and so does berth's early failover
/// (`server::failover`).
#[derive(Clone, Debug, Default)]
pub struct RefusedForLog(Arc<AtomicU64>);

impl RefusedForLog {
    /// Refusals so far; only changes matter.
    pub fn count(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    fn saw(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// openraft's network factory: one [`PeerClient`] per target, over a gRPC
/// channel per peer URL shared by every client of that member.
pub struct Network {
    connector: Connector,
    max_message_bytes: usize,
    channels: HashMap<String, Channel>,
    refused_for_log: RefusedForLog,
}

impl Network {
    /// A network dialing through `connector`, sending and accepting peer
    /// messages of at most `max_message_bytes`.
    pub fn new(connector: Connector, max_message_bytes: usize) -> Network {
        Network {
            connector,
            max_message_bytes,
            channels: HashMap::new(),
            refused_for_log: RefusedForLog::default(),
        }
    }

    /// The count of vote requests refused for a longer log, shared with
    /// every client this network makes.
    pub fn refused_for_log(&self) -> RefusedForLog {
        self.refused_for_log.clone()
    }

    fn channel(&mut self, peer_url: &str) -> Result<Channel, String> {
        if let Some(channel) = self.channels.get(peer_url) {
            return Ok(channel.clone());
        }
        let endpoint = Endpoint::from_shared(peer_url.to_string())
            .map_err(|e| format!("peer URL {peer_url:?}: {e}"))?
            .tcp_nodelay(true);
        let channel = (self.connector)(endpoint);
        self.channels.insert(peer_url.to_string(), channel.clone());
        Ok(channel)
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = PeerClient;

    async fn new_client(&mut self, target: u64, node: &Member) -> PeerClient {
        let client = self.channel(&node.peer_url).map(|channel| {
            RaftTransportClient::new(channel)
                .max_decoding_message_size(self.max_message_bytes)
                .max_encoding_message_size(self.max_message_bytes)
        });
        PeerClient {
            target,
            node: node.clone(),
            client,
            max_message_bytes: self.max_message_bytes,
            refused_for_log: self.refused_for_log.clone(),
        }
    }
}

/// Sends Raft RPCs to one member.
pub struct PeerClient {
    target: u64,
    node: Member,
    /// Or why there is none (an unusable peer URL).
    client: Result<RaftTransportClient<Channel>, String>,
    max_message_bytes: usize,
    refused_for_log: RefusedForLog,
}

/// Why an RPC failed before the remote Raft answered.
#[derive(Debug, thiserror::Error)]
enum SendError {
    #[error("{0}")]
    Unreachable(String),
    #[error("{0}")]
    Network(String),
}

impl<E: std::error::Error> From<SendError> for RPCError<u64, Member, RaftError<u64, E>> {
    fn from(e: SendError) -> Self {
        match &e {
            SendError::Unreachable(_) => RPCError::Unreachable(Unreachable::new(&e)),
            SendError::Network(_) => RPCError::Network(NetworkError::new(&e)),
        }
    }
}

fn status_error(target: u64, status: Status) -> SendError {
    let message = format!("to member {target:x}: {status}");
    match status.code() {
        Code::Unavailable => SendError::Unreachable(message),
        _ => SendError::Network(message),
    }
}

impl PeerClient {
    fn client(&self) -> Result<RaftTransportClient<Channel>, SendError> {
        self.client.clone().map_err(SendError::Unreachable)
    }

    /// Decodes the remote Raft's result; its error becomes a `RemoteError`.
    #[allow(clippy::result_large_err)] // openraft's own error type, returned as openraft defines it
    fn answer<T, E>(&self, reply: Result<tonic::Response<RaftPayload>, Status>) -> RpcResult<T, E>
    where
        T: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let data = reply
            .map_err(|s| status_error(self.target, s))?
            .into_inner()
            .data;
        let result: Result<T, RaftError<u64, E>> = decode(&data)
            .map_err(|e| SendError::Network(format!("reply of member {:x}: {e}", self.target)))?;
        result.map_err(|e| {
            RPCError::RemoteError(RemoteError::new_with_node(
                self.target,
                self.node.clone(),
                e,
            ))
        })
    }

    fn payload(&self, data: Vec<u8>) -> Result<RaftPayload, SendError> {
        if data.len() > self.max_message_bytes {
            return Err(SendError::Network(format!(
                "a message of {} bytes exceeds the peer message limit of {}",
                data.len(),
                self.max_message_bytes
            )));
        }
        Ok(RaftPayload { data })
    }
}

fn encode_err(e: crate::StoreError) -> SendError {
    SendError::Network(e.to_string())
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<u64>> {
        let entries = rpc.entries.len() as u64;
        let data = encode(&rpc).map_err(encode_err)?;
        if data.len() > self.max_message_bytes && entries > 1 {
            // Ask openraft to resend fewer entries, scaled to fit with room
            // to spare (entries vary in size).
            let fitting = entries * self.max_message_bytes as u64 / data.len() as u64 / 2;
            return Err(RPCError::PayloadTooLarge(
                PayloadTooLarge::new_entries_hint(fitting.max(1)),
            ));
        }
        let request = RaftPayload { data };
        let reply = self.client()?.append_entries(request).await;
        self.answer(reply)
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        _option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<u64>, InstallSnapshotError> {
        let request = self.payload(encode(&rpc).map_err(encode_err)?)?;
        let reply = self.client()?.install_snapshot(request).await;
        self.answer(reply)
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        _option: RPCOption,
    ) -> RpcResult<VoteResponse<u64>> {
        let request = self.payload(encode(&rpc).map_err(encode_err)?)?;
        let reply = self.client()?.vote(request).await;
        let answer: RpcResult<VoteResponse<u64>> = self.answer(reply);
        if let Ok(resp) = &answer {
            if !resp.vote_granted && resp.last_log_id > rpc.last_log_id {
                self.refused_for_log.saw();
            }
        }
        answer
    }

    /// Exponential, so a member that is down costs little, and one that
    /// comes back is found again within [`BACKOFF_MAX`].
    fn backoff(&self) -> Backoff {
        let delays =
            std::iter::successors(Some(BACKOFF_START), |d| Some((*d * 2).min(BACKOFF_MAX)));
        Backoff::new(delays)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::tcp_connector;
    use openraft::error::Infallible;
    use openraft::{CommittedLeaderId, LogId, Vote};

    fn member(url: &str) -> Member {
        Member {
            name: "m".to_string(),
            peer_url: url.to_string(),
        }
    }

    #[tokio::test]
    async fn a_member_nobody_listens_for_is_unreachable() {
        // Bind then drop a listener: its port is (almost surely) closed.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut network = Network::new(tcp_connector(), 4 << 20);
        let mut client = network
            .new_client(2, &member(&format!("http://127.0.0.1:{port}")))
            .await;
        let vote = VoteRequest::new(Vote::new(1, 1), None);
        let err = client
            .vote(vote, RPCOption::new(Duration::from_secs(1)))
            .await
            .unwrap_err();
        assert!(matches!(err, RPCError::Unreachable(_)), "{err:?}");
    }

    #[tokio::test]
    async fn an_unusable_peer_url_is_unreachable_not_a_panic() {
        let mut network = Network::new(tcp_connector(), 4 << 20);
        let mut client = network.new_client(2, &member("not a url")).await;
        let vote = VoteRequest::new(Vote::new(1, 1), None);
        let err = client
            .vote(vote, RPCOption::new(Duration::from_secs(1)))
            .await
            .unwrap_err();
        assert!(matches!(err, RPCError::Unreachable(_)), "{err:?}");
    }

    #[tokio::test]
    async fn too_many_entries_for_one_message_ask_openraft_for_fewer() {
        let mut network = Network::new(tcp_connector(), 1024);
        let mut client = network.new_client(2, &member("http://127.0.0.1:1")).await;
        let entries = (1..=100)
            .map(|i| openraft::Entry::<TypeConfig> {
                log_id: LogId::new(CommittedLeaderId::new(1, 1), i),
                payload: openraft::EntryPayload::Normal(super::super::Request::default()),
            })
            .collect();
        let rpc = AppendEntriesRequest {
            vote: Vote::new(1, 1),
            prev_log_id: None,
            leader_commit: None,
            entries,
        };
        let err = client
            .append_entries(rpc, RPCOption::new(Duration::from_secs(1)))
            .await
            .unwrap_err();
        match err {
            RPCError::PayloadTooLarge(p) => assert!(p.entries_hint() < 100),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_remote_raft_error_decodes_from_its_payload() {
        let result: Result<VoteResponse<u64>, RaftError<u64, Infallible>> =
            Ok(VoteResponse::new(Vote::new(2, 3), None, false));
        let bytes = encode(&result).unwrap();
        let back: Result<VoteResponse<u64>, RaftError<u64, Infallible>> = decode(&bytes).unwrap();
        assert_eq!(back, result);
    }

    /// A member that refuses every vote, naming `last_log_id` as its own.
    struct Refusing {
        last_log_id: Option<LogId<u64>>,
    }

    #[tonic::async_trait]
    impl berth_proto::raft::raft_transport_server::RaftTransport for Refusing {
        async fn append_entries(
            &self,
            _: tonic::Request<RaftPayload>,
        ) -> Result<tonic::Response<RaftPayload>, Status> {
            Err(Status::unimplemented("not in this test"))
        }

        async fn vote(
            &self,
            request: tonic::Request<RaftPayload>,
        ) -> Result<tonic::Response<RaftPayload>, Status> {
            let req: VoteRequest<u64> = decode(&request.into_inner().data).unwrap();
            let refused: Result<VoteResponse<u64>, RaftError<u64>> =
                Ok(VoteResponse::new(req.vote, self.last_log_id, false));
            let data = encode(&refused).unwrap();
            Ok(tonic::Response::new(RaftPayload { data }))
        }

        async fn install_snapshot(
            &self,
            _: tonic::Request<RaftPayload>,
        ) -> Result<tonic::Response<RaftPayload>, Status> {
            Err(Status::unimplemented("not in this test"))
        }

        async fn propose(
            &self,
            _: tonic::Request<berth_proto::raft::InternalRequest>,
        ) -> Result<tonic::Response<berth_proto::raft::InternalResponse>, Status> {
            Err(Status::unimplemented("not in this test"))
        }

        async fn read_index(
            &self,
            _: tonic::Request<berth_proto::raft::ReadIndexRequest>,
        ) -> Result<tonic::Response<berth_proto::raft::ReadIndexResponse>, Status> {
            Err(Status::unimplemented("not in this test"))
        }

        async fn lease_keep_alive(
            &self,
            _: tonic::Request<berth_proto::etcdserverpb::LeaseKeepAliveRequest>,
        ) -> Result<tonic::Response<berth_proto::etcdserverpb::LeaseKeepAliveResponse>, Status>
        {
            Err(Status::unimplemented("not in this test"))
        }

        async fn lease_time_to_live(
            &self,
            _: tonic::Request<berth_proto::etcdserverpb::LeaseTimeToLiveRequest>,
        ) -> Result<tonic::Response<berth_proto::etcdserverpb::LeaseTimeToLiveResponse>, Status>
        {
            Err(Status::unimplemented("not in this test"))
        }
    }

    async fn refusing(last_log_id: Option<LogId<u64>>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let service =
            berth_proto::raft::raft_transport_server::RaftTransportServer::new(Refusing {
                last_log_id,
            });
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        url
    }

    #[tokio::test]
    async fn only_votes_refused_for_a_longer_log_are_counted() {
        let mine = Some(LogId::new(CommittedLeaderId::new(2, 1), 10));
        let shorter = refusing(Some(LogId::new(CommittedLeaderId::new(2, 1), 9))).await;
        let longer = refusing(Some(LogId::new(CommittedLeaderId::new(2, 1), 11))).await;
        let mut network = Network::new(tcp_connector(), 4 << 20);
        let refused = network.refused_for_log();
        let option = || RPCOption::new(Duration::from_secs(5));

        let mut client = network.new_client(2, &member(&shorter)).await;
        let resp = client
            .vote(VoteRequest::new(Vote::new(3, 1), mine), option())
            .await
            .unwrap();
        assert!(!resp.vote_granted);
        assert_eq!(refused.count(), 0);

        let mut client = network.new_client(3, &member(&longer)).await;
        client
            .vote(VoteRequest::new(Vote::new(3, 1), mine), option())
            .await
            .unwrap();
        assert_eq!(refused.count(), 1);
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let client = PeerClient {
            target: 2,
            node: member("http://x"),
            client: Err("unused".to_string()),
            max_message_bytes: 1,
            refused_for_log: RefusedForLog::default(),
        };
        let delays: Vec<_> = client.backoff().take(7).collect();
        assert_eq!(delays[0], BACKOFF_START);
        assert_eq!(delays[1], BACKOFF_START * 2);
        assert_eq!(delays[6], BACKOFF_MAX);
    }
}

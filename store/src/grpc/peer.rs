//! berth's peer service: Raft messages between members, and the requests a
//! follower hands to the leader.

use std::sync::Arc;

use berth_proto::etcdserverpb::{
    LeaseKeepAliveRequest, LeaseKeepAliveResponse, LeaseTimeToLiveRequest, LeaseTimeToLiveResponse,
};
use berth_proto::raft::{
    raft_transport_server::RaftTransport, InternalRequest, InternalResponse, RaftPayload,
    ReadIndexRequest, ReadIndexResponse,
};
use tonic::{Request, Response, Status};

use crate::raft::{decode, encode};
use crate::server::EtcdServer;

/// The peer service over an [`EtcdServer`].
pub struct PeerService {
    server: Arc<EtcdServer>,
}

impl PeerService {
    /// A peer service for `server`.
    pub fn new(server: Arc<EtcdServer>) -> PeerService {
        PeerService { server }
    }
}

fn bad_payload(e: impl std::fmt::Display) -> Status {
    Status::invalid_argument(format!("undecodable raft payload: {e}"))
}

fn payload<T: serde::Serialize>(value: &T) -> Result<Response<RaftPayload>, Status> {
    let data = encode(value).map_err(|e| Status::internal(e.to_string()))?;
    Ok(Response::new(RaftPayload { data }))
}

#[tonic::async_trait]
impl RaftTransport for PeerService {
    async fn append_entries(
        &self,
        request: Request<RaftPayload>,
    ) -> Result<Response<RaftPayload>, Status> {
        let rpc = decode(&request.into_inner().data).map_err(bad_payload)?;
        let result = self.server.raft().append_entries(rpc).await;
        payload(&result)
    }

    async fn vote(&self, request: Request<RaftPayload>) -> Result<Response<RaftPayload>, Status> {
        let rpc = decode(&request.into_inner().data).map_err(bad_payload)?;
        let result = self.server.raft().vote(rpc).await;
        payload(&result)
    }

    async fn install_snapshot(
        &self,
        request: Request<RaftPayload>,
    ) -> Result<Response<RaftPayload>, Status> {
        let rpc = decode(&request.into_inner().data).map_err(bad_payload)?;
        let result = self.server.raft().install_snapshot(rpc).await;
        payload(&result)
    }

    async fn propose(
        &self,
        request: Request<InternalRequest>,
    ) -> Result<Response<InternalResponse>, Status> {
        let resp = self.server.propose_forwarded(request.into_inner()).await?;
        Ok(Response::new(resp))
    }

    async fn read_index(
        &self,
        _request: Request<ReadIndexRequest>,
    ) -> Result<Response<ReadIndexResponse>, Status> {
        let index = self.server.read_index_local().await?;
        Ok(Response::new(ReadIndexResponse { index }))
    }

    async fn lease_keep_alive(
        &self,
        request: Request<LeaseKeepAliveRequest>,
    ) -> Result<Response<LeaseKeepAliveResponse>, Status> {
        if !self.server.is_leader() {
            return Err(crate::StoreError::NotLeader.into());
        }
        let resp = self
            .server
            .lease_keep_alive(request.into_inner().id)
            .await?;
        Ok(Response::new(resp))
    }

    async fn lease_time_to_live(
        &self,
        request: Request<LeaseTimeToLiveRequest>,
    ) -> Result<Response<LeaseTimeToLiveResponse>, Status> {
        if !self.server.is_leader() {
            return Err(crate::StoreError::NotLeader.into());
        }
        let resp = self.server.lease_time_to_live(request.into_inner()).await?;
        Ok(Response::new(resp))
    }
}

//! etcd's KV service.

use std::sync::Arc;

use berth_proto::etcdserverpb::{
    kv_server::Kv, CompactionRequest, CompactionResponse, DeleteRangeRequest, DeleteRangeResponse,
    PutRequest, PutResponse, RangeRequest, RangeResponse, TxnRequest, TxnResponse,
};
use berth_proto::raft::{internal_request, internal_response, InternalRequest};
use tonic::{Request, Response, Status};

use super::fill_header;
use crate::server::{validate, EtcdServer};

/// etcd's `KV` service over an [`EtcdServer`].
pub struct KvService {
    server: Arc<EtcdServer>,
}

impl KvService {
    /// A KV service for `server`.
    pub fn new(server: Arc<EtcdServer>) -> KvService {
        KvService { server }
    }

    async fn propose(
        &self,
        request: internal_request::Request,
    ) -> Result<internal_response::Response, Status> {
        let resp = self
            .server
            .propose(InternalRequest {
                request: Some(request),
            })
            .await?;
        resp.response
            .ok_or_else(|| Status::internal("empty apply response"))
    }
}

fn unexpected() -> Status {
    Status::internal("unexpected apply response")
}

#[tonic::async_trait]
impl Kv for KvService {
    async fn range(
        &self,
        request: Request<RangeRequest>,
    ) -> Result<Response<RangeResponse>, Status> {
        let req = request.into_inner();
        validate::range(&req)?;
        if !req.serializable {
            self.server.linearizable_read().await?;
        }
        let mut resp = self.server.kv().range(&req)?;
        fill_header(&self.server, &mut resp.header);
        Ok(Response::new(resp))
    }

    async fn put(&self, request: Request<PutRequest>) -> Result<Response<PutResponse>, Status> {
        let req = request.into_inner();
        validate::put(&req)?;
        match self.propose(internal_request::Request::Put(req)).await? {
            internal_response::Response::Put(mut resp) => {
                fill_header(&self.server, &mut resp.header);
                Ok(Response::new(resp))
            }
            _ => Err(unexpected()),
        }
    }

    async fn delete_range(
        &self,
        request: Request<DeleteRangeRequest>,
    ) -> Result<Response<DeleteRangeResponse>, Status> {
        let req = request.into_inner();
        validate::delete_range(&req)?;
        match self
            .propose(internal_request::Request::DeleteRange(req))
            .await?
        {
            internal_response::Response::DeleteRange(mut resp) => {
                fill_header(&self.server, &mut resp.header);
                Ok(Response::new(resp))
            }
            _ => Err(unexpected()),
        }
    }

    async fn txn(&self, request: Request<TxnRequest>) -> Result<Response<TxnResponse>, Status> {
        let req = request.into_inner();
        validate::txn(&req, self.server.config().max_txn_ops)?;
        match self.propose(internal_request::Request::Txn(req)).await? {
            internal_response::Response::Txn(mut resp) => {
                fill_header(&self.server, &mut resp.header);
                Ok(Response::new(resp))
            }
            _ => Err(unexpected()),
        }
    }

    async fn compact(
        &self,
        request: Request<CompactionRequest>,
    ) -> Result<Response<CompactionResponse>, Status> {
        // Future and already-compacted revisions are refused while applying,
        // where the revision is known exactly.
        let req = request.into_inner();
        match self
            .propose(internal_request::Request::Compaction(req))
            .await?
        {
            internal_response::Response::Compaction(mut resp) => {
                fill_header(&self.server, &mut resp.header);
                Ok(Response::new(resp))
            }
            _ => Err(unexpected()),
        }
    }
}

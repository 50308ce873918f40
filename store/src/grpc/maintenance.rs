//! etcd's Maintenance service (status only for now).

use std::sync::Arc;

use berth_proto::etcdserverpb::{maintenance_server::Maintenance, StatusRequest, StatusResponse};
use tonic::{Request, Response, Status};

use crate::server::EtcdServer;

/// The etcd API version berth implements, reported by `Status` (clients such
/// as etcdctl print it; some gate features on it).
pub const API_VERSION: &str = "3.5.0";

/// etcd's `Maintenance` service over an [`EtcdServer`].
pub struct MaintenanceService {
    server: Arc<EtcdServer>,
}

impl MaintenanceService {
    /// A Maintenance service for `server`.
    pub fn new(server: Arc<EtcdServer>) -> MaintenanceService {
        MaintenanceService { server }
    }
}

#[tonic::async_trait]
impl Maintenance for MaintenanceService {
    async fn status(
        &self,
        _request: Request<StatusRequest>,
    ) -> Result<Response<StatusResponse>, Status> {
        let db_size = self.server.kv().db_size();
        let metrics = self.server.raft().metrics();
        let resp = {
            let m = metrics.borrow();
            StatusResponse {
                header: Some(self.server.header()),
                version: API_VERSION.to_string(),
                db_size,
                leader: m.current_leader.unwrap_or(0),
                raft_index: self.server.committed_index(),
                raft_term: m.current_term,
                raft_applied_index: m.last_applied.map(|l| l.index).unwrap_or(0),
                errors: Vec::new(),
                db_size_in_use: db_size,
                is_learner: false,
            }
        };
        Ok(Response::new(resp))
    }
}

//! etcd's Cluster service (membership is read-only for now).

use std::sync::Arc;

use berth_proto::etcdserverpb::{
    cluster_server::Cluster, Member, MemberListRequest, MemberListResponse,
};
use tonic::{Request, Response, Status};

use crate::server::EtcdServer;

/// etcd's `Cluster` service over an [`EtcdServer`].
pub struct ClusterService {
    server: Arc<EtcdServer>,
}

impl ClusterService {
    /// A Cluster service for `server`.
    pub fn new(server: Arc<EtcdServer>) -> ClusterService {
        ClusterService { server }
    }
}

#[tonic::async_trait]
impl Cluster for ClusterService {
    async fn member_list(
        &self,
        request: Request<MemberListRequest>,
    ) -> Result<Response<MemberListResponse>, Status> {
        if request.into_inner().linearizable {
            self.server.linearizable_read().await?;
        }
        let attributes = self.server.kv().members_attributes()?;
        let metrics = self.server.raft().metrics();
        let members = {
            let m = metrics.borrow();
            let learners: Vec<u64> = m.membership_config.membership().learner_ids().collect();
            m.membership_config
                .nodes()
                .map(|(&id, node)| {
                    // A member that has not published its attributes yet is
                    // listed without name and client URLs ("unstarted").
                    let published = attributes.iter().find(|a| a.id == id);
                    Member {
                        id,
                        name: published.map(|a| a.name.clone()).unwrap_or_default(),
                        peer_urls: vec![node.peer_url.clone()],
                        client_urls: published.map(|a| a.client_urls.clone()).unwrap_or_default(),
                        is_learner: learners.contains(&id),
                    }
                })
                .collect()
        };
        Ok(Response::new(MemberListResponse {
            header: Some(self.server.header()),
            members,
        }))
    }
}

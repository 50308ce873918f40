//! The gRPC front ends. They translate between the wire and
//! [`crate::server::EtcdServer`]; no decision is made here.
//!
//! Clients get etcd's v3 services (KV, Watch, Lease, Cluster, Maintenance);
//! members get berth's peer service (Raft messages and forwarded requests).

mod cluster;
mod kv;
mod lease;
mod maintenance;
mod peer;

use std::sync::Arc;
use std::time::Duration;

use berth_proto::etcdserverpb::{
    cluster_server::ClusterServer, kv_server::KvServer, lease_server::LeaseServer,
    maintenance_server::MaintenanceServer, watch_server::WatchServer,
};
use berth_proto::raft::raft_transport_server::RaftTransportServer;
use futures::Stream;
use tokio::io::{AsyncRead, AsyncWrite};
use tonic::transport::server::Connected;
use tonic::transport::Server;

use crate::server::EtcdServer;
use crate::watch;

pub use cluster::ClusterService;
pub use kv::KvService;
pub use lease::LeaseService;
pub use maintenance::MaintenanceService;
pub use peer::PeerService;

/// gRPC's own framing overhead allowed on top of the request size limit, so
/// that an oversized request reaches the server and gets etcd's error.
const GRPC_OVERHEAD_BYTES: usize = 512 * 1024;

/// How often an idle watch with `progress_notify` hears the current revision
/// (etcd's default is ten minutes).
pub const DEFAULT_PROGRESS_INTERVAL: Duration = Duration::from_secs(600);

/// Serves etcd's client services on every connection `incoming` yields,
/// until `shutdown` completes.
pub async fn serve_clients<S, IO, IE, F>(
    server: Arc<EtcdServer>,
    incoming: S,
    shutdown: F,
) -> Result<(), tonic::transport::Error>
where
    S: Stream<Item = Result<IO, IE>> + Send + 'static,
    IO: AsyncRead + AsyncWrite + Connected + Unpin + Send + 'static,
    IE: Into<Box<dyn std::error::Error + Send + Sync>>,
    F: std::future::Future<Output = ()> + Send,
{
    let max = server.config().max_request_bytes + GRPC_OVERHEAD_BYTES;
    let header_server = server.clone();
    let header: watch::HeaderFn = Arc::new(move || header_server.header());
    let watch = watch::WatchService::new(server.hub().clone(), header, DEFAULT_PROGRESS_INTERVAL);
    Server::builder()
        .tcp_nodelay(true)
        .add_service(
            KvServer::new(KvService::new(server.clone()))
                .max_decoding_message_size(max)
                .max_encoding_message_size(usize::MAX),
        )
        .add_service(WatchServer::new(watch).max_decoding_message_size(max))
        .add_service(LeaseServer::new(LeaseService::new(server.clone())))
        .add_service(ClusterServer::new(ClusterService::new(server.clone())))
        .add_service(MaintenanceServer::new(MaintenanceService::new(server)))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}

/// Serves berth's peer service on every connection `incoming` yields, until
/// `shutdown` completes.
pub async fn serve_peers<S, IO, IE, F>(
    server: Arc<EtcdServer>,
    incoming: S,
    shutdown: F,
) -> Result<(), tonic::transport::Error>
where
    S: Stream<Item = Result<IO, IE>> + Send + 'static,
    IO: AsyncRead + AsyncWrite + Connected + Unpin + Send + 'static,
    IE: Into<Box<dyn std::error::Error + Send + Sync>>,
    F: std::future::Future<Output = ()> + Send,
{
    let max = (server.config().max_request_bytes + GRPC_OVERHEAD_BYTES) * 4;
    Server::builder()
        .tcp_nodelay(true)
        .add_service(
            RaftTransportServer::new(PeerService::new(server))
                .max_decoding_message_size(max)
                .max_encoding_message_size(max),
        )
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}

/// Fills the member-level fields of a header the state machine produced
/// (which carries only the revision).
fn fill_header(
    server: &EtcdServer,
    header: &mut Option<berth_proto::etcdserverpb::ResponseHeader>,
) {
    let revision = header
        .as_ref()
        .map(|h| h.revision)
        .unwrap_or_else(|| server.kv().current_revision());
    *header = Some(server.header_at(revision));
}

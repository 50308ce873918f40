//! Watch: etcd's event streams over the store's history.
//!
//! The [`hub`] holds recent revisions in memory and is fed by the state
//! machine; each client stream ([`stream`]), driven by its response body, serves its
//! [`watcher`]s from the hub, or from history on disk when they are behind.

mod hub;
mod stream;
#[cfg(test)]
mod tests;
mod watcher;

use std::sync::Arc;
use std::time::Duration;

use berth_proto::etcdserverpb::watch_server::Watch;
use berth_proto::etcdserverpb::WatchRequest;
use futures::Stream;
use tonic::{Request, Response, Status, Streaming};

pub use hub::{Batch, WatchHub, DEFAULT_RING_REVISIONS};
pub use stream::{HeaderFn, ResponseStream};
pub use watcher::Watcher;

/// etcd's Watch service.
#[derive(Clone)]
pub struct WatchService {
    hub: Arc<WatchHub>,
    header: HeaderFn,
    progress_interval: Duration,
}

impl WatchService {
    /// A service over `hub`, with response headers from `header` and
    /// progress notifications every `progress_interval`.
    pub fn new(hub: Arc<WatchHub>, header: HeaderFn, progress_interval: Duration) -> WatchService {
        WatchService {
            hub,
            header,
            progress_interval,
        }
    }

    /// Serves one stream of requests; the responses come out of the
    /// returned stream.
    pub fn serve<S>(&self, inbound: S) -> ResponseStream
    where
        S: Stream<Item = Result<WatchRequest, Status>> + Unpin + Send + 'static,
    {
        stream::WatchStream::new(self.hub.clone(), self.header.clone())
            .serve(inbound, self.progress_interval)
    }
}

#[tonic::async_trait]
impl Watch for WatchService {
    type WatchStream = ResponseStream;

    async fn watch(
        &self,
        request: Request<Streaming<WatchRequest>>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        Ok(Response::new(self.serve(request.into_inner())))
    }
}

//! Watch: etcd's event streams over the store's history.
//!
//! The [`hub`] holds recent revisions in memory and is fed by the state
//! machine; each client stream is one task ([`stream`]) serving its
//! [`watcher`]s from the hub, or from history on disk when they are behind.

mod hub;
mod stream;
#[cfg(test)]
mod tests;
mod watcher;

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use berth_proto::etcdserverpb::watch_server::Watch;
use berth_proto::etcdserverpb::{WatchRequest, WatchResponse};
use futures::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

pub use hub::{Batch, WatchHub, DEFAULT_RING_REVISIONS};
pub use stream::HeaderFn;
pub use watcher::Watcher;

/// Responses buffered per stream before the stream's task waits for the
/// client: bounds memory per slow client.
const STREAM_BUFFER: usize = 128;

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
    pub fn serve<S>(&self, inbound: S) -> ReceiverStream<Result<WatchResponse, Status>>
    where
        S: Stream<Item = Result<WatchRequest, Status>> + Unpin + Send + 'static,
    {
        let (tx, rx) = tokio::sync::mpsc::channel(STREAM_BUFFER);
        let task = stream::WatchStream::new(self.hub.clone(), self.header.clone(), tx);
        tokio::spawn(task.run(inbound, self.progress_interval));
        ReceiverStream::new(rx)
    }
}

#[tonic::async_trait]
impl Watch for WatchService {
    type WatchStream = Pin<Box<dyn Stream<Item = Result<WatchResponse, Status>> + Send + 'static>>;

    async fn watch(
        &self,
        request: Request<Streaming<WatchRequest>>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        Ok(Response::new(Box::pin(self.serve(request.into_inner()))))
    }
}

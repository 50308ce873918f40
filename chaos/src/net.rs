//! The store's transports over turmoil's simulated network: the same gRPC
//! services and clients as over TCP, on turmoil's sockets.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use berth_store::transport::Connector;
use futures::Stream;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tonic::transport::server::Connected;
use tonic::transport::{Channel, Endpoint, Uri};
use turmoil::net::{TcpListener, TcpStream};

/// How often an idle connection is pinged, and how long a ping may go
/// unanswered before the connection is dropped and redialled. A partition in
/// turmoil silently drops segments of open connections; without pings a
/// connection broken that way would stall instead of failing.
const KEEPALIVE: Duration = Duration::from_millis(500);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(1);

/// Dials turmoil's network, resolving the endpoint's host by turmoil's DNS.
pub fn connector() -> Connector {
    Arc::new(|endpoint: Endpoint| {
        endpoint
            .http2_keep_alive_interval(KEEPALIVE)
            .keep_alive_timeout(KEEPALIVE_TIMEOUT)
            .keep_alive_while_idle(true)
            .connect_with_connector_lazy(tower::service_fn(|uri: Uri| async move {
                let host = uri
                    .host()
                    .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no host"))?
                    .to_string();
                let port = uri.port_u16().unwrap_or(80);
                // Worded as tonic's own dialer words it, which the store
                // reads as "never connected" (a member whose process is
                // gone), so the simulation takes the same paths.
                let stream = TcpStream::connect((host.as_str(), port))
                    .await
                    .map_err(|e| io::Error::new(e.kind(), format!("tcp connect error: {e}")))?;
                Ok::<_, io::Error>(TokioIo::new(stream))
            }))
    })
}

/// A channel to `http://host:port` over turmoil's network.
pub fn channel(url: &str) -> Result<Channel, tonic::transport::Error> {
    Ok(connector()(Endpoint::from_shared(url.to_string())?))
}

/// An accepted connection, as tonic's server takes it.
pub struct Accepted(TcpStream);

impl Connected for Accepted {
    type ConnectInfo = ();

    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for Accepted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Accepted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// The connections a listener accepts, as the stream tonic serves.
pub fn incoming(listener: TcpListener) -> impl Stream<Item = io::Result<Accepted>> {
    futures::stream::unfold(listener, |listener| async move {
        let accepted = listener.accept().await.map(|(s, _)| Accepted(s));
        Some((accepted, listener))
    })
}

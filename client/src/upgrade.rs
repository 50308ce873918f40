//! Proxying an HTTP/1.1 protocol upgrade to another server: the SPDY and
//! WebSocket streams of `kubectl exec` go from the API server to the pod's
//! agent, and from the agent to the runtime's streaming server, each hop
//! forwarding the upgrade request and then copying bytes both ways once
//! both sides switched protocols. Neither hop reads the stream protocol, so
//! every version kubectl and the runtime agree on passes through.
//!
//! Written here rather than taken from a reverse-proxy crate: the ones
//! available either speak WebSocket only (re-framing messages) or pull in a
//! whole proxy framework; this is one request and one byte copy.

use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// The most of a refusal's body passed back.
const MAX_REFUSAL_BYTES: usize = 64 * 1024;

/// Why the upstream server could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum UpgradeError {
    /// The target URL has no host or port.
    #[error("bad upstream URL {0}")]
    BadTarget(String),
    /// Connecting or sending failed.
    #[error("{target}: {message}")]
    Unreachable {
        /// The upstream address.
        target: String,
        /// What failed.
        message: String,
    },
}

/// Sends `incoming`'s method and headers to `target` (an `http://` URL with
/// the path and query to ask for). When the upstream answers
/// `101 Switching Protocols`, the client's connection and the upstream's are
/// joined byte for byte in a task of their own and the 101 is returned for
/// the caller to answer with; any other answer is returned as it came (its
/// body cut at 64 KiB), so the client sees the upstream's refusal.
pub async fn proxy<B: Send + 'static>(
    mut incoming: Request<B>,
    target: &Uri,
    timeout: Duration,
) -> Result<Response<Full<Bytes>>, UpgradeError> {
    let authority = target
        .authority()
        .ok_or_else(|| UpgradeError::BadTarget(target.to_string()))?
        .clone();
    let port = authority.port_u16().unwrap_or(80);
    let unreachable = |message: String| UpgradeError::Unreachable {
        target: authority.to_string(),
        message,
    };
    let stream = tokio::time::timeout(timeout, TcpStream::connect((authority.host(), port)))
        .await
        .map_err(|_| unreachable(format!("no connection within {timeout:?}")))?
        .map_err(|e| unreachable(e.to_string()))?;
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    tokio::spawn(async move {
        if let Err(e) = connection.with_upgrades().await {
            tracing::debug!(error = %e, "upstream connection");
        }
    });

    let path = target
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let mut outgoing = Request::builder()
        .method(incoming.method().clone())
        .uri(path)
        .body(Full::new(Bytes::new()))
        .map_err(|e| UpgradeError::BadTarget(e.to_string()))?;
    for (name, value) in incoming.headers() {
        // Hop-specific: the upstream gets its own Host; a body is never
        // forwarded (upgrade requests carry none).
        if name == header::HOST || name == header::CONTENT_LENGTH || name == header::AUTHORIZATION {
            continue;
        }
        outgoing.headers_mut().append(name.clone(), value.clone());
    }
    if let Ok(host) = HeaderValue::from_str(authority.as_str()) {
        outgoing.headers_mut().insert(header::HOST, host);
    }

    let mut answer = tokio::time::timeout(timeout, sender.send_request(outgoing))
        .await
        .map_err(|_| unreachable(format!("no answer within {timeout:?}")))?
        .map_err(|e| unreachable(e.to_string()))?;
    let mut response = Response::builder().status(answer.status());
    if let Some(headers) = response.headers_mut() {
        for (name, value) in answer.headers() {
            headers.append(name.clone(), value.clone());
        }
    }
    if answer.status() != StatusCode::SWITCHING_PROTOCOLS {
        let body = Limited::new(answer.into_body(), MAX_REFUSAL_BYTES)
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        return response
            .body(Full::new(body))
            .map_err(|e| unreachable(e.to_string()));
    }
    let client_side = hyper::upgrade::on(&mut incoming);
    let upstream_side = hyper::upgrade::on(&mut answer);
    tokio::spawn(async move {
        let (client, upstream) = match tokio::join!(client_side, upstream_side) {
            (Ok(c), Ok(u)) => (c, u),
            (c, u) => {
                tracing::debug!(client = ?c.err(), upstream = ?u.err(), "upgrade failed");
                return;
            }
        };
        let mut client = TokioIo::new(client);
        let mut upstream = TokioIo::new(upstream);
        if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
            tracing::debug!(error = %e, "upgraded stream ended");
        }
    });
    response
        .body(Full::new(Bytes::new()))
        .map_err(|e| unreachable(e.to_string()))
}

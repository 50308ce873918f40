//! HTTPS for the API (kube-apiserver's `--tls-cert-file` and
//! `--tls-private-key-file`), beside plain HTTP on the same port.
//!
//! kubectl sends a kubeconfig's bearer token only over TLS, so kubectl
//! needs HTTPS; berth's own components (on loopback, gRPC with prior
//! knowledge) may keep plain HTTP/2. Each connection is told apart by its
//! first byte: a TLS handshake record starts with 0x16, which no HTTP
//! request line or HTTP/2 preface does.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// The first byte of a TLS record carrying a handshake.
const TLS_HANDSHAKE: u8 = 0x16;

/// Why the certificate or key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("certificate: {0}")]
    Certificate(String),
    #[error("private key: {0}")]
    Key(String),
    #[error("{0}")]
    Config(#[from] rustls::Error),
}

/// A server configuration from a PEM certificate chain and its PEM
/// private key, offering HTTP/2 and HTTP/1.1 (ALPN).
pub fn server_config(
    cert_pem: &[u8],
    key_pem: &[u8],
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Certificate(e.to_string()))?;
    if chain.is_empty() {
        return Err(TlsError::Certificate("no PEM certificate found".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| TlsError::Key(e.to_string()))?;
    // The provider is named rather than taken from the process default,
    // which is ambiguous when more than one is compiled in.
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Serves `app` on `listener`, over TLS or plain HTTP as each connection
/// begins, until `shutdown` completes (open connections are left to end
/// with the process).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    config: Arc<rustls::ServerConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let acceptor = TlsAcceptor::from(config);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors and the like: wait, not spin.
                    tracing::warn!(error = %e, "accept");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => return Ok(()),
        };
        let _ = stream.set_nodelay(true);
        let (app, acceptor) = (app.clone(), acceptor.clone());
        tokio::spawn(async move {
            let mut first = [0u8; 1];
            // peek waits for the client's first byte without taking it.
            if !matches!(stream.peek(&mut first).await, Ok(1)) {
                return;
            }
            let served = if first[0] == TLS_HANDSHAKE {
                match acceptor.accept(stream).await {
                    Ok(tls) => serve_connection(TokioIo::new(tls), app).await,
                    Err(e) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake");
                        return;
                    }
                }
            } else {
                serve_connection(TokioIo::new(stream), app).await
            };
            if let Err(e) = served {
                tracing::debug!(%peer, error = %e, "connection");
            }
        });
    }
}

async fn serve_connection<I>(
    io: I,
    app: Router,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    auto::Builder::new(TokioExecutor::new())
        // exec and attach upgrade their connection.
        .serve_connection_with_upgrades(io, TowerToHyperService::new(app))
        .await
}

//! berth's API server: the Kubernetes REST API (what kubectl and client-go
//! speak) over berth's store, which it reaches through etcd's v3 API.
//!
//! As kube-apiserver is laid out: [`registry`] says which kinds are served
//! and how each is checked, [`object`] owns the metadata the server sets,
//! [`storage`] keeps objects under `/registry/...` with their mod revision
//! as resourceVersion, and [`rest`] translates HTTP. [`grpc`] serves the
//! same registry to berth's components as `berth.api.v1.Resources`, on the
//! same port.

pub mod allocator;
pub mod authn;
pub mod cache;
pub mod convert;
pub mod defaults;
pub mod error;
pub mod grpc;
pub mod metrics;
pub mod object;
pub mod patch;
pub mod protobuf;
pub mod registry;
pub mod rest;
pub mod selector;
pub mod storage;
pub mod table;
pub mod tls;
pub mod validation;

use std::sync::Arc;

use serde_json::json;
use tokio::net::TcpListener;

pub use error::{ApiError, Result};

/// Namespaces every cluster has.
pub const SYSTEM_NAMESPACES: [&str; 4] =
    ["default", "kube-system", "kube-public", "kube-node-lease"];

/// Settings of the API server.
#[derive(Debug, Clone)]
pub struct Config {
    /// How often a watch with `allowWatchBookmarks` gets a BOOKMARK
    /// (kube-apiserver sends them about once a minute).
    pub bookmark_interval: std::time::Duration,
    /// Recent events the watch cache keeps per resource; a watch from an
    /// older version is served by the store.
    pub watch_cache_size: usize,
    /// Bearer tokens to require (`--token-auth-file`); with none, every
    /// request is served.
    pub authenticator: Option<Arc<authn::TokenAuthenticator>>,
    /// HTTPS beside plain HTTP on the same port, when set.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bookmark_interval: std::time::Duration::from_secs(60),
            watch_cache_size: 4096,
            authenticator: None,
            tls: None,
        }
    }
}

/// Serves the REST API on `listener`, storing objects through the store
/// member at `store_url`, until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    store_url: &str,
    config: Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let storage = storage::Storage::connect(store_url)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
    let api = Arc::new(rest::Api {
        cache: cache::WatchCache::new(
            storage.clone(),
            config.bookmark_interval,
            config.watch_cache_size,
        ),
        storage,
        metrics: metrics::Metrics::default(),
    });
    api.cache.start_all();
    tokio::spawn(ensure_system_namespaces(api.clone()));
    let rest = rest::router(api);
    // gRPC shares the port: HTTP/2 requests to /berth.api.v1.Resources/...
    let app = rest
        .clone()
        .route_service("/berth.api.v1.Resources/{*method}", grpc::service(rest));
    let app = match config.authenticator {
        Some(authenticator) => app.layer(axum::middleware::from_fn_with_state(
            authenticator,
            authn::middleware,
        )),
        None => app,
    };
    match config.tls {
        Some(tls) => tls::serve(listener, app, tls, shutdown).await,
        None => {
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
        }
    }
}

/// Creates the system namespaces that are missing, retrying until the
/// store answers (it may still be electing a leader).
async fn ensure_system_namespaces(api: Arc<rest::Api>) {
    let Some(namespaces) = registry::find("", "v1", "namespaces") else {
        return;
    };
    for name in SYSTEM_NAMESPACES {
        loop {
            let body = json!({"metadata": {"name": name}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}});
            let created = async {
                let prepared = object::prepare_create(
                    namespaces,
                    None,
                    body,
                    object::FieldValidation::Strict,
                )?;
                api.storage
                    .create(
                        &object::key(namespaces, None, name),
                        object::encode(&prepared.value)?,
                    )
                    .await
            };
            match created.await {
                Ok(_) => break,
                Err(e) => {
                    tracing::debug!(namespace = name, error = %e, "creating system namespace");
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                }
            }
        }
    }
}

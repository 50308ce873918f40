//! The agent's HTTP server, on the port the kubelet serves (10250):
//! container logs at `GET /containerLogs/{namespace}/{pod}/{container}`,
//! which the API server proxies `kubectl logs` to, and commands in
//! containers at `/exec/{namespace}/{pod}/{container}` (`kubectl exec`).
//!
//! - [`logs`]: the CRI log format and the query options over it.
//! - [`follow`]: reading a log file as a stream, following it as it grows.

pub mod exec;
pub mod follow;
pub mod logs;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::sync::watch;

use logs::LogOptions;

/// Where the log of one container instance is, and whether it still runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerLog {
    /// The instance's CRI log file
    /// (`<log_dir>/<ns>_<pod>_<uid>/<container>/<restartCount>.log`).
    pub path: PathBuf,
    /// Whether the instance still runs: a follower stops at the end of the
    /// file once it does not.
    pub running: bool,
}

/// Finds containers' log files: the agent's pods and runtime behind the
/// log server.
#[async_trait::async_trait]
pub trait LogSource: Send + Sync {
    /// The log of the current instance of `container` in pod
    /// `namespace/pod`, or with `previous`, of the instance before it.
    /// Asked again while following, to learn when the instance stops.
    async fn container_log(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        previous: bool,
    ) -> Result<ContainerLog, LogError>;
}

/// Prepares commands in containers: the agent's pods and runtime behind
/// the exec endpoint.
#[async_trait::async_trait]
pub trait ExecSource: Send + Sync {
    /// The runtime's streaming URL for `options` run in the current
    /// instance of `container` in pod `namespace/pod`.
    async fn exec_url(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        options: &exec::ExecOptions,
    ) -> Result<String, LogError>;
}

/// Why a log cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// 404: the node runs no such pod.
    #[error("pod \"{namespace}/{pod}\" not found")]
    PodNotFound {
        /// The pod's namespace.
        namespace: String,
        /// The pod's name.
        pod: String,
    },
    /// 404: the pod has no such container.
    #[error("container \"{container}\" in pod \"{pod}\" not found")]
    ContainerNotFound {
        /// The pod's name.
        pod: String,
        /// The container asked for.
        container: String,
    },
    /// 400: `previous` asked for, but the container has not restarted.
    #[error("previous terminated container \"{container}\" in pod \"{pod}\" not found")]
    NoPrevious {
        /// The pod's name.
        pod: String,
        /// The container asked for.
        container: String,
    },
    /// 400: the container has not started, so it has no log yet.
    #[error("container \"{container}\" in pod \"{pod}\" is waiting to start: {reason}")]
    Waiting {
        /// The pod's name.
        pod: String,
        /// The container asked for.
        container: String,
        /// Why it waits (`ContainerCreating`, `CrashLoopBackOff`).
        reason: String,
    },
    /// 400: a query parameter with a bad value.
    #[error("{0}")]
    BadRequest(String),
    /// 500: the runtime or the file system failed.
    #[error("{0}")]
    Internal(String),
}

impl LogError {
    /// The HTTP status it is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            LogError::PodNotFound { .. } | LogError::ContainerNotFound { .. } => {
                StatusCode::NOT_FOUND
            }
            LogError::NoPrevious { .. } | LogError::Waiting { .. } | LogError::BadRequest(_) => {
                StatusCode::BAD_REQUEST
            }
            LogError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for LogError {
    fn into_response(self) -> Response {
        plain(self.status(), Body::from(format!("{self}\n")))
    }
}

/// What every handler shares.
#[derive(Clone)]
struct Shared {
    source: Arc<dyn LogSource>,
    exec: Arc<dyn ExecSource>,
    /// Turns true when the server shuts down, so followers end.
    shutdown: watch::Receiver<bool>,
}

/// Serves the agent's HTTP API on `listener` until `shutdown` resolves;
/// open log streams then end, and the server returns once they have.
pub async fn serve(
    listener: tokio::net::TcpListener,
    source: Arc<dyn LogSource>,
    exec: Arc<dyn ExecSource>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop, stopping) = watch::channel(false);
    let router = router(source, exec, stopping);
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            shutdown.await;
            // No follower left is no error.
            let _ = stop.send(true);
        })
        .await
}

fn router(
    source: Arc<dyn LogSource>,
    exec: Arc<dyn ExecSource>,
    shutdown: watch::Receiver<bool>,
) -> Router {
    Router::new()
        .route(
            "/containerLogs/{namespace}/{pod}/{container}",
            get(container_logs),
        )
        .route(
            "/exec/{namespace}/{pod}/{container}",
            get(exec_stream).post(exec_stream),
        )
        .fallback(|| async { plain(StatusCode::NOT_FOUND, Body::from("404 page not found\n")) })
        .with_state(Shared {
            source,
            exec,
            shutdown,
        })
}

async fn container_logs(
    State(shared): State<Shared>,
    Path((namespace, pod, container)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, LogError> {
    let options = LogOptions::parse(query.as_deref().unwrap_or(""), jiff::Timestamp::now())
        .map_err(LogError::BadRequest)?;
    let log = shared
        .source
        .container_log(&namespace, &pod, &container, options.previous)
        .await?;
    tracing::debug!(namespace, pod, container, path = %log.path.display(), ?options, "serving logs");
    let target = follow::Container {
        source: shared.source.clone(),
        namespace,
        pod,
        container,
        running: log.running,
    };
    let chunks = follow::stream(log.path.clone(), options, target, shared.shutdown)
        .await
        .map_err(|e| LogError::Internal(format!("read log {}: {e}", log.path.display())))?;
    Ok(plain(StatusCode::OK, Body::from_stream(chunks)))
}

async fn exec_stream(
    State(shared): State<Shared>,
    Path((namespace, pod, container)): Path<(String, String, String)>,
    request: axum::extract::Request,
) -> Result<Response, LogError> {
    let query = request.uri().query().unwrap_or_default().to_string();
    let options = exec::ExecOptions::parse(&query).map_err(LogError::BadRequest)?;
    let url = shared
        .exec
        .exec_url(&namespace, &pod, &container, &options)
        .await?;
    let target: axum::http::Uri = url
        .parse()
        .map_err(|e| LogError::Internal(format!("the runtime's exec URL {url:?}: {e}")))?;
    tracing::debug!(namespace, pod, container, ?options, "exec");
    let answer = berth_client::upgrade::proxy(request, &target, exec::UPSTREAM_TIMEOUT)
        .await
        .map_err(|e| LogError::Internal(format!("the runtime's streaming server: {e}")))?;
    Ok(answer.map(Body::new))
}

/// A `text/plain` response.
fn plain(status: StatusCode, body: Body) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;

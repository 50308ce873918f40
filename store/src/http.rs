//! The operability endpoints: `/livez`, `/readyz` and `/metrics`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::server::EtcdServer;

/// The HTTP routes for one member.
pub fn router(server: Arc<EtcdServer>) -> Router {
    Router::new()
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(server)
}

/// Live while Raft runs.
async fn livez(State(server): State<Arc<EtcdServer>>) -> impl IntoResponse {
    if server.raft().metrics().borrow().running_state.is_ok() {
        (StatusCode::OK, "ok\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "raft stopped\n")
    }
}

/// Ready when a leader is known and everything committed is applied.
async fn readyz(State(server): State<Arc<EtcdServer>>) -> impl IntoResponse {
    if server.leader().is_none() {
        (StatusCode::SERVICE_UNAVAILABLE, "no leader\n")
    } else if !server.is_ready() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "applying committed entries\n",
        )
    } else {
        (StatusCode::OK, "ok\n")
    }
}

async fn metrics(State(server): State<Arc<EtcdServer>>) -> impl IntoResponse {
    server.refresh_metrics();
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        server.metrics().encode(),
    )
}

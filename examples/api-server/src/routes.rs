//! The HTTP routes and the switches behind them.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{RawQuery, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::load;

/// Longest CPU burn one request may ask for: a probe or a test should never
/// be able to wedge a blocking thread for good.
const MAX_BURN_MS: u64 = 10 * 60 * 1000;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    version: String,
    hostname: String,
    /// Cleared by `/admin/readiness?fail=true`: the readiness probe fails
    /// and the endpoints controller takes the pod out of its Service.
    ready: AtomicBool,
    /// Cleared by `/admin/liveness?fail=true`: the liveness probe fails and
    /// the kubelet restarts the container.
    live: AtomicBool,
    /// Memory taken by `/eat`, held until the process ends.
    eaten: Mutex<Vec<Vec<u8>>>,
}

impl AppState {
    /// A healthy server of this version on this host.
    pub fn new(version: String, hostname: String) -> Self {
        Self {
            inner: Arc::new(Inner {
                version,
                hostname,
                ready: AtomicBool::new(true),
                live: AtomicBool::new(true),
                eaten: Mutex::new(Vec::new()),
            }),
        }
    }
}

/// Every route, with one log line per request.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(root))
        .route("/health/ready", get(ready))
        .route("/health/live", get(live))
        .route("/admin/readiness", get(set_readiness).post(set_readiness))
        .route("/admin/liveness", get(set_liveness).post(set_liveness))
        .route("/burn", get(burn).post(burn))
        .route("/eat", get(eat).post(eat))
        .layer(middleware::from_fn(log_request))
        .with_state(state)
}

async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let uri = request.uri().clone();
    let start = Instant::now();
    let response = next.run(request).await;
    let line = format!(
        "{method} {uri} {} {}ms\n",
        response.status().as_u16(),
        start.elapsed().as_millis()
    );
    // A closed stdout (the log reader gone) must not take the server down,
    // which `println!` would by panicking.
    let _ = std::io::stdout().lock().write_all(line.as_bytes());
    response
}

async fn root(State(state): State<AppState>) -> String {
    format!(
        "api-server {} on {}\n",
        state.inner.version, state.inner.hostname
    )
}

fn health(up: bool, what: &str) -> Response {
    if up {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        // Kubernetes counts any status of 400 or more as a probe failure.
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{what} switched off\n"),
        )
            .into_response()
    }
}

async fn ready(State(state): State<AppState>) -> Response {
    health(state.inner.ready.load(Ordering::SeqCst), "readiness")
}

async fn live(State(state): State<AppState>) -> Response {
    health(state.inner.live.load(Ordering::SeqCst), "liveness")
}

/// The value of `key` in a query string, if present.
fn query_param(query: Option<&str>, key: &str) -> Option<String> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// A required query parameter parsed as `T`, or what is wrong with it.
fn required<T: std::str::FromStr>(query: Option<&str>, key: &str) -> Result<T, String> {
    let value =
        query_param(query, key).ok_or_else(|| format!("query parameter {key} is required"))?;
    value
        .parse()
        .map_err(|_| format!("query parameter {key}={value:?} is not valid"))
}

fn bad_request(message: String) -> Response {
    (StatusCode::BAD_REQUEST, format!("{message}\n")).into_response()
}

fn switch(flag: &AtomicBool, what: &str, query: Option<&str>) -> Response {
    match required::<bool>(query, "fail") {
        Ok(fail) => {
            flag.store(!fail, Ordering::SeqCst);
            (StatusCode::OK, format!("{what} fail={fail}\n")).into_response()
        }
        Err(message) => bad_request(message),
    }
}

async fn set_readiness(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    switch(&state.inner.ready, "readiness", query.as_deref())
}

async fn set_liveness(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    switch(&state.inner.live, "liveness", query.as_deref())
}

async fn burn(RawQuery(query): RawQuery) -> Response {
    let ms = match required::<u64>(query.as_deref(), "ms") {
        Ok(ms) if ms <= MAX_BURN_MS => ms,
        Ok(ms) => return bad_request(format!("ms={ms} is over the limit of {MAX_BURN_MS}")),
        Err(message) => return bad_request(message),
    };
    match tokio::task::spawn_blocking(move || load::burn(Duration::from_millis(ms))).await {
        Ok(()) => (StatusCode::OK, format!("burned {ms} ms\n")).into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{error}\n")).into_response(),
    }
}

async fn eat(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let mib = match required::<usize>(query.as_deref(), "mb") {
        Ok(mib) => mib,
        Err(message) => return bad_request(message),
    };
    let block = match tokio::task::spawn_blocking(move || load::eat(mib)).await {
        Ok(Ok(block)) => block,
        Ok(Err(message)) => {
            return (StatusCode::INSUFFICIENT_STORAGE, format!("{message}\n")).into_response()
        }
        Err(error) => {
            return (StatusCode::INTERNAL_SERVER_ERROR, format!("{error}\n")).into_response()
        }
    };
    let mut eaten = match state.inner.eaten.lock() {
        Ok(eaten) => eaten,
        // A poisoned lock still holds valid blocks: keep using it.
        Err(poisoned) => poisoned.into_inner(),
    };
    eaten.push(block);
    let total: usize = eaten.iter().map(Vec::len).sum();
    (
        StatusCode::OK,
        format!("holding {} MiB\n", total / (1024 * 1024)),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use tower::ServiceExt;

    async fn call(app: &Router, method: &str, uri: &str) -> (StatusCode, String) {
        let request = axum::http::Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    fn app() -> Router {
        router(AppState::new("1.2.0".into(), "pod-a".into()))
    }

    #[tokio::test]
    async fn root_names_version_and_hostname() {
        let (status, body) = call(&app(), "GET", "/").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, "api-server 1.2.0 on pod-a\n");
    }

    #[tokio::test]
    async fn readiness_fails_after_switch_and_recovers() {
        let app = app();
        assert_eq!(call(&app, "GET", "/health/ready").await.0, StatusCode::OK);
        let (status, _) = call(&app, "POST", "/admin/readiness?fail=true").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            call(&app, "GET", "/health/ready").await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        // Liveness is a separate switch.
        assert_eq!(call(&app, "GET", "/health/live").await.0, StatusCode::OK);
        call(&app, "GET", "/admin/readiness?fail=false").await;
        assert_eq!(call(&app, "GET", "/health/ready").await.0, StatusCode::OK);
    }

    #[tokio::test]
    async fn liveness_fails_after_switch() {
        let app = app();
        call(&app, "GET", "/admin/liveness?fail=true").await;
        assert_eq!(
            call(&app, "GET", "/health/live").await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(call(&app, "GET", "/health/ready").await.0, StatusCode::OK);
    }

    #[tokio::test]
    async fn switch_without_a_boolean_is_a_bad_request() {
        let app = app();
        assert_eq!(
            call(&app, "POST", "/admin/liveness").await.0,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            call(&app, "POST", "/admin/liveness?fail=maybe").await.0,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(call(&app, "GET", "/health/live").await.0, StatusCode::OK);
    }

    #[tokio::test]
    async fn eat_keeps_what_it_took() {
        let app = app();
        assert_eq!(
            call(&app, "GET", "/eat?mb=2").await,
            (StatusCode::OK, "holding 2 MiB\n".into())
        );
        assert_eq!(
            call(&app, "GET", "/eat?mb=3").await,
            (StatusCode::OK, "holding 5 MiB\n".into())
        );
    }

    #[tokio::test]
    async fn burn_answers_after_the_work_and_bounds_it() {
        let app = app();
        assert_eq!(
            call(&app, "GET", "/burn?ms=5").await,
            (StatusCode::OK, "burned 5 ms\n".into())
        );
        assert_eq!(
            call(&app, "GET", "/burn?ms=99999999").await.0,
            StatusCode::BAD_REQUEST
        );
    }
}

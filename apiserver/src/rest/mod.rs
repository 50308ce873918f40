//! The Kubernetes REST API, as kubectl and client-go speak it.

mod commit;
mod delete;
mod discovery;
mod handlers;
mod openapi;
mod path;
mod proxy_exec;
mod proxy_log;
mod subresource;
mod versions;
mod watch;

pub(crate) use watch::body_lines;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::response::Response;
use axum::Router;
use serde_json::Value;

use crate::error::{ApiError, Result};
use crate::metrics::{CodeLabels, Metrics, RequestLabels};
use crate::storage::Storage;
use path::Target;

/// Largest request body accepted, as kube-apiserver's limit.
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// The shared state of the REST front end.
pub struct Api {
    pub storage: Storage,
    pub metrics: Metrics,
    /// Serves every watch.
    pub cache: crate::cache::WatchCache,
}

/// The router serving every path of the API.
pub fn router(api: Arc<Api>) -> Router {
    Router::new().fallback(handle).with_state(api)
}

async fn handle(State(api): State<Arc<Api>>, req: Request) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let labels = request_labels(&method, &path, &query);
    let id = uuid::Uuid::new_v4().to_string();
    let span = tracing::debug_span!("request", %id, %method, path);
    let started = std::time::Instant::now();
    let result = tracing::Instrument::instrument(dispatch(&api, req), span).await;
    let mut response = match result {
        Ok(resp) => resp,
        Err(e) => {
            tracing::debug!(id, %method, path, query, error = %e, "request refused");
            let mut response = json_response(e.code(), &e.status());
            // The rest of an oversized body is never read, so the connection
            // cannot carry another request: say so, or a client may reuse it.
            if matches!(e, ApiError::TooLarge) {
                response.headers_mut().insert(
                    header::CONNECTION,
                    axum::http::HeaderValue::from_static("close"),
                );
            }
            response
        }
    };
    if let Some(labels) = labels {
        if labels.verb != "WATCH" {
            api.metrics
                .duration
                .get_or_create(&labels)
                .observe(started.elapsed().as_secs_f64());
        }
        api.metrics
            .requests
            .get_or_create(&CodeLabels {
                verb: labels.verb,
                group: labels.group,
                resource: labels.resource,
                subresource: labels.subresource,
                code: response.status().as_u16().to_string(),
            })
            .inc();
    }
    // kube-apiserver names each request in an `Audit-Id` header.
    if let Ok(value) = axum::http::HeaderValue::from_str(&id) {
        response.headers_mut().insert("Audit-Id", value);
    }
    response
}

/// The metric labels of a request to a resource; `None` for other paths.
fn request_labels(method: &Method, path: &str, query: &str) -> Option<RequestLabels> {
    let (resource, subresource, collection) = match path::parse(path)? {
        Target::Collection { resource, .. } => (resource, String::new(), true),
        Target::Object { resource, .. } => (resource, String::new(), false),
        Target::Subresource {
            resource,
            subresource,
            ..
        } => (resource, subresource, false),
        Target::GroupVersion { .. } => return None,
    };
    let watch = Params::parse(query).is_watch();
    let verb = match (method.as_str(), collection) {
        ("GET", true) if watch => "WATCH",
        ("GET", true) => "LIST",
        ("DELETE", true) => "DELETECOLLECTION",
        (m, _) => m,
    };
    Some(RequestLabels {
        verb: verb.to_string(),
        group: resource.group.to_string(),
        resource: resource.plural.to_string(),
        subresource,
    })
}

async fn dispatch(api: &Api, req: Request) -> Result<Response> {
    let path = req.uri().path().to_string();
    let params = Params::parse(req.uri().query().unwrap_or(""));
    let method = req.method().clone();
    let table = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(crate::table::wants_table);
    match (method.clone(), path.as_str()) {
        (Method::GET, "/version") => return Ok(json_response(200, &discovery::version())),
        (Method::GET, "/api") => return Ok(json_response(200, &discovery::api_versions())),
        (Method::GET, "/apis") => return Ok(json_response(200, &discovery::api_groups())),
        (Method::GET, "/metrics") => {
            return Ok(Response::builder()
                .header(
                    header::CONTENT_TYPE,
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                )
                .body(Body::from(api.metrics.encode()))
                .unwrap_or_default());
        }
        (Method::GET, "/livez" | "/readyz" | "/healthz") => {
            return Ok(text_response(200, "ok"));
        }
        (Method::GET, "/openapi/v3") => return Ok(json_response(200, &openapi::root())),
        (Method::GET, p) if p.starts_with("/openapi/v3/") => {
            return match openapi::document(&p["/openapi/v3/".len()..]) {
                Some(doc) => Ok(json_response(200, &doc)),
                None => Err(not_found_path(p)),
            };
        }
        _ => {}
    }
    let target = path::parse(&path).ok_or_else(|| not_found_path(&path))?;
    if let Some(storage) = target.resource().and_then(versions::storage_version) {
        return versions::serve(api, req, target, storage, params, table).await;
    }
    serve_target(api, req, target, params, table).await
}

/// Serves a parsed API path.
async fn serve_target(
    api: &Api,
    req: Request,
    target: Target,
    params: Params,
    table: bool,
) -> Result<Response> {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    match target {
        Target::GroupVersion { group, version } => match discovery::resource_list(&group, &version)
        {
            Some(list) if method == Method::GET => Ok(json_response(200, &list)),
            Some(_) => Err(ApiError::MethodNotAllowed),
            None => Err(not_found_path(&path)),
        },
        Target::Collection {
            resource,
            namespace,
        } => {
            let ns = namespace.as_deref();
            match method {
                Method::GET if params.is_watch() => {
                    watch::serve(api, resource, ns, &params, table).await
                }
                Method::GET => handlers::list(api, resource, ns, &params, table).await,
                Method::POST => {
                    let body = body_json(req).await?;
                    handlers::create(api, resource, ns, body, &params).await
                }
                Method::DELETE => {
                    let body = delete_body(req).await?;
                    let options = delete::DeleteOptions::parse(&body, &params)?;
                    delete::delete_collection(api, resource, ns, &params, &options).await
                }
                _ => Err(ApiError::MethodNotAllowed),
            }
        }
        Target::Object {
            resource,
            namespace,
            name,
        } => {
            let ns = namespace.as_deref();
            match method {
                Method::GET => handlers::get(api, resource, ns, &name, &params, table).await,
                Method::PUT => {
                    let body = body_json(req).await?;
                    handlers::update(api, resource, ns, &name, body, &params).await
                }
                Method::PATCH => {
                    let kind = content_type(&req);
                    let body = body_bytes(req).await?;
                    handlers::patch(api, resource, ns, &name, &kind, &body, &params).await
                }
                Method::DELETE => {
                    let body = delete_body(req).await?;
                    let options = delete::DeleteOptions::parse(&body, &params)?;
                    delete::delete(api, resource, ns, &name, &options).await
                }
                _ => Err(ApiError::MethodNotAllowed),
            }
        }
        Target::Subresource {
            resource,
            namespace,
            name,
            subresource,
        } => {
            if subresource == "exec" {
                return match method {
                    Method::GET | Method::POST => {
                        let ns = namespace.as_deref().unwrap_or_default().to_string();
                        proxy_exec::serve(api, &ns, &name, &params, req).await
                    }
                    _ => Err(ApiError::MethodNotAllowed),
                };
            }
            if subresource == "log" {
                return match method {
                    Method::GET => {
                        let ns = namespace.as_deref().unwrap_or_default();
                        proxy_log::serve(api, ns, &name, &params).await
                    }
                    _ => Err(ApiError::MethodNotAllowed),
                };
            }
            let body = match method {
                Method::GET => subresource::Body::None,
                Method::PATCH => {
                    let kind = content_type(&req);
                    let bytes = body_bytes(req).await?;
                    subresource::Body::Patch(crate::patch::Patch::parse(&kind, &bytes)?)
                }
                _ => subresource::Body::Object(body_json(req).await?),
            };
            subresource::serve(
                api,
                resource,
                namespace.as_deref(),
                &name,
                &subresource,
                method,
                body,
            )
            .await
        }
    }
}

/// Query parameters of a request.
#[derive(Debug, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    pub(crate) fn parse(query: &str) -> Params {
        Params {
            pairs: form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        }
    }

    /// The value of `name`, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn is_watch(&self) -> bool {
        matches!(self.get("watch"), Some("true" | "1"))
    }
}

fn not_found_path(path: &str) -> ApiError {
    ApiError::NotFound {
        kind: "path".into(),
        name: path.to_string(),
    }
}

fn content_type(req: &Request) -> String {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_string())
        .unwrap_or_default()
}

async fn body_bytes(req: Request) -> Result<bytes::Bytes> {
    axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError::TooLarge)
}

/// A create or update body: JSON, or Kubernetes' protobuf (what typed
/// clients such as `kubectl create namespace` send).
async fn body_json(req: Request) -> Result<Value> {
    let kind = content_type(&req);
    let bytes = body_bytes(req).await?;
    match kind.as_str() {
        "" | "application/json" => serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::BadRequest(format!("the request body is not valid JSON: {e}"))),
        crate::protobuf::CONTENT_TYPE => from_protobuf(&bytes),
        _ => Err(ApiError::UnsupportedMediaType),
    }
}

fn from_protobuf(bytes: &[u8]) -> Result<Value> {
    crate::protobuf::decode(bytes)
        .map_err(|e| ApiError::BadRequest(format!("the request body is not valid protobuf: {e}")))
}

/// A DELETE body (DeleteOptions) as JSON bytes, whichever encoding came.
async fn delete_body(req: Request) -> Result<Vec<u8>> {
    let kind = content_type(&req);
    let bytes = body_bytes(req).await?;
    if kind == crate::protobuf::CONTENT_TYPE && !bytes.is_empty() {
        let value = from_protobuf(&bytes)?;
        return serde_json::to_vec(&value).map_err(|e| ApiError::Store(e.to_string()));
    }
    Ok(bytes.to_vec())
}

/// A JSON response with `code`.
pub fn json_response(code: u16, value: &Value) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_default();
    Response::builder()
        .status(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap_or_default()
}

fn text_response(code: u16, text: &str) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(code).unwrap_or(StatusCode::OK))
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(text.to_string()))
        .unwrap_or_default()
}

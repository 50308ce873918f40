//! Versions served beside the stored one (`autoscaling/v1`
//! HorizontalPodAutoscalers, stored as `autoscaling/v2`): bodies are
//! converted on the way in, answers on the way out, and patches apply to
//! the object as the client's version shows it.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, Method};
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use serde_json::Value;

use super::path::Target;
use super::{body_bytes, content_type, serve_target, Api, Params};
use crate::convert::convert;
use crate::error::{ApiError, Result};
use crate::patch::Patch;
use crate::registry::{self, Resource};

/// How many times a patch is re-applied when the object changes under it.
const PATCH_ATTEMPTS: usize = 5;

/// The resource a served version is stored as, when it is another one.
pub fn storage_version(resource: &'static Resource) -> Option<&'static Resource> {
    match (resource.group, resource.version, resource.plural) {
        ("autoscaling", "v1", "horizontalpodautoscalers") => {
            registry::find("autoscaling", "v2", "horizontalpodautoscalers")
        }
        _ => None,
    }
}

/// Serves a request for a converted version through its storage version.
pub async fn serve(
    api: &Api,
    req: Request,
    target: Target,
    storage: &'static Resource,
    params: Params,
    table: bool,
) -> Result<Response> {
    let Some(served) = target.resource() else {
        return serve_target(api, req, target, params, table).await;
    };
    let kind = served.kind;
    let (client, stored) = (served.api_version(), storage.api_version());
    let to_stored = |v: &Value| convert(kind, &client, &stored, v).unwrap_or_else(|| v.clone());
    let target = target.with_resource(storage);
    let method = req.method().clone();
    let watch = params.is_watch();
    let response = match method {
        Method::PATCH => {
            let patch = Patch::parse(&content_type(&req), &body_bytes(req).await?)?;
            return patch_as(api, target, served, storage, &patch).await;
        }
        Method::POST | Method::PUT => {
            let uri = req.uri().clone();
            let body = super::body_json(req).await?;
            // Fields the client's version lacks would be lost in the
            // conversion: check them against that version first.
            let validation = crate::object::FieldValidation::parse(params.get("fieldValidation"))?;
            if validation == crate::object::FieldValidation::Strict {
                let typed = (served.decode)(&body).map_err(ApiError::BadRequest)?;
                let unknown = registry::unknown_fields(&body, &typed);
                if !unknown.is_empty() {
                    let texts: Vec<String> = unknown
                        .iter()
                        .map(|f| format!("unknown field {f:?}"))
                        .collect();
                    return Err(ApiError::BadRequest(format!(
                        "{kind} in version {:?} cannot be handled as a {kind}: strict decoding error: {}",
                        served.version,
                        texts.join(", ")
                    )));
                }
            }
            let body = serde_json::to_vec(&to_stored(&body))
                .map_err(|e| ApiError::Store(e.to_string()))?;
            let forwarded = Request::builder()
                .method(method)
                .uri(uri)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body))
                .map_err(|e| ApiError::BadRequest(e.to_string()))?;
            serve_target(api, forwarded, target, params, table).await?
        }
        _ => serve_target(api, req, target, params, table).await?,
    };
    Ok(convert_response(response, kind, &stored, &client, watch).await)
}

/// Applies `patch` to the object as `served` shows it, stores the result,
/// and answers in `served`'s version.
async fn patch_as(
    api: &Api,
    target: Target,
    served: &'static Resource,
    storage: &'static Resource,
    patch: &Patch,
) -> Result<Response> {
    let Target::Object {
        namespace, name, ..
    } = target
    else {
        return Err(ApiError::MethodNotAllowed);
    };
    let (client, stored) = (served.api_version(), storage.api_version());
    let ns = namespace.as_deref();
    for _ in 0..PATCH_ATTEMPTS {
        let (existing, _) = super::handlers::read(api, storage, ns, &name).await?;
        let view = convert(served.kind, &stored, &client, &existing).unwrap_or(existing);
        let patched = patch
            .apply_as(served.kind, &view)
            .map_err(|message| ApiError::Invalid {
                kind: served.kind_qualified(),
                name: name.clone(),
                causes: vec![(String::new(), message)],
            })?;
        let body = convert(served.kind, &client, &stored, &patched).unwrap_or(patched);
        // Guarded by the version read: a concurrent write means start over,
        // unless the patch itself named the version.
        match super::handlers::update(api, storage, ns, &name, body, &Params::default()).await {
            Err(ApiError::Conflict { .. }) if !patch.names_resource_version() => continue,
            Err(e) => return Err(e),
            Ok(response) => {
                return Ok(convert_response(response, served.kind, &stored, &client, false).await)
            }
        }
    }
    Err(ApiError::Conflict {
        kind: storage.qualified(),
        name,
    })
}

/// Converts an answer's objects (one, a list's items, or a watch's events)
/// from `from` to `to`; Tables and Status pass unchanged.
async fn convert_response(
    response: Response,
    kind: &str,
    from: &str,
    to: &str,
    watch: bool,
) -> Response {
    let (parts, body) = response.into_parts();
    let (kind, from, to) = (kind.to_string(), from.to_string(), to.to_string());
    let convert_value = move |mut value: Value| -> Value {
        let one = |v: &Value| -> Value {
            if v.get("apiVersion").and_then(Value::as_str) == Some(from.as_str()) {
                convert(&kind, &from, &to, v).unwrap_or_else(|| v.clone())
            } else {
                v.clone()
            }
        };
        if let Some(items) = value.get_mut("items").and_then(Value::as_array_mut) {
            for item in items.iter_mut() {
                *item = one(item);
            }
            if let Some(list) = value.get_mut("apiVersion") {
                *list = Value::String(to.clone());
            }
            return value;
        }
        if let Some(object) = value.get_mut("object") {
            *object = one(object);
            return value;
        }
        one(&value)
    };
    if watch {
        let lines = super::body_lines(body).map(move |line| {
            let line = line?;
            Ok::<Bytes, std::io::Error>(match serde_json::from_slice::<Value>(&line) {
                Ok(event) => {
                    let mut out = serde_json::to_vec(&convert_value(event)).unwrap_or_default();
                    out.push(b'\n');
                    Bytes::from(out)
                }
                Err(_) => Bytes::from(line),
            })
        });
        return Response::from_parts(parts, Body::from_stream(lines));
    }
    let bytes = axum::body::to_bytes(body, super::MAX_BODY_BYTES * 64)
        .await
        .unwrap_or_default();
    let converted = match serde_json::from_slice::<Value>(&bytes) {
        Ok(value) => serde_json::to_vec(&convert_value(value)).unwrap_or_else(|_| bytes.to_vec()),
        Err(_) => bytes.to_vec(),
    };
    let mut parts = parts;
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(converted))
}

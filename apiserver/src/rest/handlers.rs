//! The verbs on objects: get, list, create, update, patch, delete.

use axum::response::Response;
use base64::Engine;
use serde_json::{json, Value};

use super::commit::commit;
use super::{json_response, Api, Params};
use crate::error::{ApiError, Result};
use crate::object::{self, FieldValidation};
use crate::patch;
use crate::registry::{self, Resource};
use crate::selector;
use crate::table;

/// `GET` one object, or its one-row Table.
pub async fn get(
    api: &Api,
    resource: &Resource,
    ns: Option<&str>,
    name: &str,
    params: &Params,
    as_table: bool,
) -> Result<Response> {
    let (value, _) = read(api, resource, ns, name).await?;
    if as_table {
        let rv = object::resource_version(&value).unwrap_or("").to_string();
        let t = table::table(
            resource,
            std::slice::from_ref(&value),
            json!({"resourceVersion": rv}),
            params.get("includeObject"),
        );
        return Ok(json_response(200, &t));
    }
    Ok(json_response(200, &value))
}

/// Reads an object and its mod revision, or NotFound.
pub(super) async fn read(
    api: &Api,
    resource: &Resource,
    ns: Option<&str>,
    name: &str,
) -> Result<(Value, i64)> {
    let key = object::key(resource, ns, name);
    match api.storage.get(&key).await? {
        Some(item) => Ok((object::decode(&item)?, item.mod_revision)),
        None => Err(not_found(resource, name)),
    }
}

pub(super) fn not_found(resource: &Resource, name: &str) -> ApiError {
    ApiError::NotFound {
        kind: resource.qualified(),
        name: name.to_string(),
    }
}

/// A `continue` token: where the next page starts and the revision the
/// whole list is read at.
#[derive(serde::Serialize, serde::Deserialize)]
struct Continue {
    rv: i64,
    start: String,
}

/// `GET` a collection, with selectors, `limit` and `continue`.
pub async fn list(
    api: &Api,
    resource: &'static Resource,
    ns: Option<&str>,
    params: &Params,
    as_table: bool,
) -> Result<Response> {
    let (labels, fields) = selector::from_params(params, resource)?;
    // resourceVersion "0" accepts any version: served from the watch cache
    // without touching the store, as kube-apiserver serves it (whole, as
    // the cache has no pages).
    let from_cache = params.get("resourceVersion") == Some("0")
        && params.get("continue").is_none_or(str::is_empty);
    if from_cache {
        let (revision, objects) = api.cache.snapshot(resource).await?;
        let prefix = object::prefix(resource, ns);
        let items: Vec<Value> = objects
            .iter()
            .filter(|e| e.key.starts_with(&prefix))
            .filter(|e| labels.matches_labels(&e.object) && fields.matches_fields(&e.object))
            .map(|e| e.object.clone())
            .collect();
        let metadata = json!({"resourceVersion": revision.to_string()});
        return Ok(list_response(resource, items, metadata, params, as_table));
    }
    let limit: i64 = match params.get("limit") {
        Some(l) => l
            .parse()
            .map_err(|_| ApiError::BadRequest(format!("limit {l:?} is not a number")))?,
        None => 0,
    };
    let prefix = object::prefix(resource, ns);
    let (revision, start) = match params.get("continue").filter(|c| !c.is_empty()) {
        Some(token) => {
            let c = decode_continue(token)?;
            (c.rv, Some(c.start.into_bytes()))
        }
        None => (list_revision(params)?, None),
    };
    let mut items = Vec::new();
    let mut next_start = start;
    let mut read_at = revision;
    let mut more;
    // Selectors filter after reading, so a page may need several reads to
    // fill `limit`, as kube-apiserver does.
    loop {
        let want = if limit > 0 {
            limit - items.len() as i64
        } else {
            0
        };
        let page = api
            .storage
            .list(&prefix, next_start.as_deref(), read_at, want)
            .await?;
        read_at = page.revision;
        more = page.more;
        for item in &page.items {
            let value = object::decode(item)?;
            if labels.matches_labels(&value) && fields.matches_fields(&value) {
                items.push(value);
            }
        }
        next_start = page.items.last().map(|last| {
            let mut k = last.key.clone();
            k.push(0);
            k
        });
        if !more || limit == 0 || items.len() as i64 >= limit {
            break;
        }
    }
    let mut metadata = json!({"resourceVersion": read_at.to_string()});
    if more {
        if let Some(start) = next_start {
            metadata["continue"] = json!(encode_continue(&Continue {
                rv: read_at,
                start: String::from_utf8_lossy(&start).into_owned(),
            }));
        }
    }
    Ok(list_response(resource, items, metadata, params, as_table))
}

/// A `<Kind>List`, or its Table.
fn list_response(
    resource: &Resource,
    items: Vec<Value>,
    metadata: Value,
    params: &Params,
    as_table: bool,
) -> Response {
    if as_table {
        let t = table::table(resource, &items, metadata, params.get("includeObject"));
        return json_response(200, &t);
    }
    let list = json!({
        "kind": format!("{}List", resource.kind),
        "apiVersion": resource.api_version(),
        "metadata": metadata,
        "items": items,
    });
    json_response(200, &list)
}

/// The revision a list reads at: the latest for "" and "0" (any revision
/// at least as new is allowed), the exact one for `resourceVersionMatch=Exact`.
fn list_revision(params: &Params) -> Result<i64> {
    let rv = params.get("resourceVersion").unwrap_or("");
    if rv.is_empty() || rv == "0" {
        return Ok(0);
    }
    let n: i64 = rv
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("invalid resource version {rv:?}")))?;
    Ok(match params.get("resourceVersionMatch") {
        Some("Exact") => n,
        _ => 0,
    })
}

fn encode_continue(c: &Continue) -> String {
    let bytes = serde_json::to_vec(c).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn decode_continue(token: &str) -> Result<Continue> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| ApiError::BadRequest("invalid continue token".into()))
}

/// `POST` a new object.
pub async fn create(
    api: &Api,
    resource: &Resource,
    ns: Option<&str>,
    body: Value,
    params: &Params,
) -> Result<Response> {
    let validation = FieldValidation::parse(params.get("fieldValidation"))?;
    if let Some(ns) = ns.filter(|_| resource.namespaced) {
        namespace_exists(api, resource, ns).await?;
    }
    let prepared = object::prepare_create(resource, ns, body, validation)?;
    let name = object::name(&prepared.value)
        .unwrap_or_default()
        .to_string();
    let key = object::key(resource, ns, &name);
    let mut value = prepared.value;
    match commit(api, resource, &key, None, Some(&mut value)).await? {
        Some(revision) => Ok(with_warnings(
            json_response(201, &with_rv(value, revision)),
            &prepared.warnings,
        )),
        None => Err(ApiError::AlreadyExists {
            kind: resource.qualified(),
            name,
        }),
    }
}

/// NamespaceLifecycle: new objects only in namespaces that exist and are
/// not being deleted.
async fn namespace_exists(api: &Api, resource: &Resource, ns: &str) -> Result<()> {
    let namespaces = registry::find("", "v1", "namespaces")
        .ok_or_else(|| ApiError::Store("namespaces are not registered".into()))?;
    match api.storage.get(&object::key(namespaces, None, ns)).await? {
        Some(item) => {
            let namespace = object::decode(&item)?;
            if namespace
                .pointer("/metadata/deletionTimestamp")
                .is_some_and(|t| !t.is_null())
            {
                return Err(ApiError::Forbidden(format!(
                    "{} is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                    resource.qualified()
                )));
            }
            Ok(())
        }
        None => Err(not_found(namespaces, ns)),
    }
}

/// `PUT` a replacement, guarded by the body's resourceVersion (or by the
/// version just read when the body has none: an unconditional update).
pub async fn update(
    api: &Api,
    resource: &Resource,
    ns: Option<&str>,
    name: &str,
    body: Value,
    params: &Params,
) -> Result<Response> {
    let validation = FieldValidation::parse(params.get("fieldValidation"))?;
    let (existing, current) = read(api, resource, ns, name).await?;
    let expected = match object::resource_version(&body) {
        Some(rv) => rv
            .parse::<i64>()
            .map_err(|_| ApiError::BadRequest(format!("invalid resourceVersion {rv:?}")))?,
        None => current,
    };
    if expected != current {
        return Err(conflict(resource, name));
    }
    let mut body = body;
    keep_status(resource, &mut body, &existing);
    let prepared = object::prepare_update(resource, ns, name, body, &existing, validation)?;
    let mut value = prepared.value;
    match store_update(api, resource, ns, name, (&existing, expected), &mut value).await? {
        Some(revision) => Ok(with_warnings(
            json_response(200, &with_rv(value, revision)),
            &prepared.warnings,
        )),
        None => Err(conflict(resource, name)),
    }
}

/// Writes `value` over `existing` if the object is still at `expected`;
/// `None` if it moved.
pub(super) async fn store_update(
    api: &Api,
    resource: &Resource,
    ns: Option<&str>,
    name: &str,
    (existing, expected): (&Value, i64),
    value: &mut Value,
) -> Result<Option<i64>> {
    let key = object::key(resource, ns, name);
    // The write that removes the last finalizer of an object being deleted
    // deletes it.
    if super::delete::is_finished_deleting(value) {
        return commit(api, resource, &key, Some((existing, expected)), None).await;
    }
    commit(api, resource, &key, Some((existing, expected)), Some(value)).await
}

pub(super) fn conflict(resource: &Resource, name: &str) -> ApiError {
    ApiError::Conflict {
        kind: resource.qualified(),
        name: name.to_string(),
    }
}

/// How many times a patch is re-applied when the object changes under it,
/// as kube-apiserver retries an unconditional patch.
const PATCH_ATTEMPTS: usize = 5;

/// `PATCH` with a JSON patch, a JSON merge patch or a strategic merge patch.
/// A patch that names no resourceVersion is applied to the latest object,
/// again if another write got in between.
pub async fn patch(
    api: &Api,
    resource: &Resource,
    ns: Option<&str>,
    name: &str,
    content_type: &str,
    body: &[u8],
    params: &Params,
) -> Result<Response> {
    let validation = FieldValidation::parse(params.get("fieldValidation"))?;
    let patch = patch::Patch::parse(content_type, body)?;
    for _ in 0..PATCH_ATTEMPTS {
        let (existing, current) = read(api, resource, ns, name).await?;
        let patched = patch
            .apply(resource, &existing)
            .map_err(|message| ApiError::Invalid {
                kind: resource.kind_qualified(),
                name: name.to_string(),
                causes: vec![("".into(), message)],
            })?;
        // A patch that names a resourceVersion is guarded by it.
        let guarded = match object::resource_version(&patched) {
            Some(rv) if Some(rv) != object::resource_version(&existing) => {
                return Err(conflict(resource, name));
            }
            Some(_) => patch.names_resource_version(),
            None => false,
        };
        let mut patched = patched;
        keep_status(resource, &mut patched, &existing);
        let prepared = object::prepare_update(resource, ns, name, patched, &existing, validation)?;
        let mut value = prepared.value;
        match store_update(api, resource, ns, name, (&existing, current), &mut value).await? {
            Some(revision) => {
                return Ok(with_warnings(
                    json_response(200, &with_rv(value, revision)),
                    &prepared.warnings,
                ))
            }
            None if guarded => return Err(conflict(resource, name)),
            None => continue,
        }
    }
    Err(conflict(resource, name))
}

/// Writes to an object whose kind has a status subresource keep the stored
/// status: only `.../status` changes it, as in Kubernetes.
fn keep_status(resource: &Resource, body: &mut Value, existing: &Value) {
    if !resource.has_status() {
        return;
    }
    if let Some(obj) = body.as_object_mut() {
        match existing.get("status") {
            Some(status) => {
                obj.insert("status".into(), status.clone());
            }
            None => {
                obj.remove("status");
            }
        }
    }
}

/// Adds a `Warning: 299` header per text, as kubectl prints them.
pub(super) fn with_warnings(mut response: Response, warnings: &[String]) -> Response {
    for text in warnings {
        let value = format!("299 - {}", serde_json::Value::from(text.as_str()));
        if let Ok(value) = axum::http::HeaderValue::from_str(&value) {
            response.headers_mut().append("Warning", value);
        }
    }
    response
}

pub(super) fn with_rv(mut value: Value, revision: i64) -> Value {
    if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("resourceVersion".into(), json!(revision.to_string()));
    }
    value
}

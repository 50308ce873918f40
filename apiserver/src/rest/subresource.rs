//! Subresources: `status` (the only way to change `.status`), `scale`
//! (an `autoscaling/v1` Scale view of `spec.replicas`), `pods/binding`
//! (the scheduler's assignment of a pod to a node) and `namespaces/finalize`.

use axum::http::Method;
use axum::response::Response;
use serde_json::{json, Value};

use super::handlers::{conflict, read, store_update, with_rv};
use super::{json_response, Api};
use crate::error::{ApiError, Result};
use crate::object;
use crate::patch::Patch;
use crate::registry::Resource;

/// How many times a read-modify-write is retried when another write got in.
const ATTEMPTS: usize = 5;

/// A request body, as the verb carries it.
pub enum Body {
    /// GET.
    None,
    /// PUT or POST: a whole object.
    Object(Value),
    /// PATCH.
    Patch(Patch),
}

/// Serves `method` on `subresource` of one object.
pub async fn serve(
    api: &Api,
    resource: &Resource,
    ns: Option<&str>,
    name: &str,
    subresource: &str,
    method: Method,
    body: Body,
) -> Result<Response> {
    match (subresource, method, body) {
        ("status", Method::GET, _) => {
            let (value, _) = read(api, resource, ns, name).await?;
            Ok(json_response(200, &value))
        }
        ("status", Method::PUT | Method::PATCH, body) => {
            let value = modify(api, resource, ns, name, |existing| {
                let proposed = proposed(resource, existing, None, &body)?;
                let mut updated = existing.clone();
                if let Some(obj) = updated.as_object_mut() {
                    match proposed.get("status") {
                        Some(status) if !status.is_null() => {
                            obj.insert("status".into(), status.clone());
                        }
                        _ => {
                            obj.remove("status");
                        }
                    }
                }
                Ok(updated)
            })
            .await?;
            Ok(json_response(200, &value))
        }
        // The namespace controller's last step: clearing spec.finalizers
        // of an emptied namespace, which then goes.
        ("finalize", Method::PUT, body) => {
            let value = modify(api, resource, ns, name, |existing| {
                let proposed = proposed(resource, existing, None, &body)?;
                let mut updated = existing.clone();
                let finalizers = proposed
                    .pointer("/spec/finalizers")
                    .cloned()
                    .unwrap_or_else(|| json!([]));
                if let Some(spec) = updated.get_mut("spec").and_then(Value::as_object_mut) {
                    spec.insert("finalizers".into(), finalizers);
                }
                Ok(updated)
            })
            .await?;
            Ok(json_response(200, &value))
        }
        ("scale", Method::GET, _) => {
            let (value, _) = read(api, resource, ns, name).await?;
            Ok(json_response(200, &scale(&value)))
        }
        ("scale", Method::PUT | Method::PATCH, body) => {
            let value = modify(api, resource, ns, name, |existing| {
                let current = scale(existing);
                let proposed = proposed(resource, &current, Some("Scale"), &body)?;
                let replicas = proposed
                    .pointer("/spec/replicas")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                if replicas < 0 {
                    return Err(ApiError::Invalid {
                        kind: resource.kind_qualified(),
                        name: name.to_string(),
                        causes: vec![(
                            "spec.replicas".into(),
                            format!(
                                "Invalid value: {replicas}: must be greater than or equal to 0"
                            ),
                        )],
                    });
                }
                let mut updated = existing.clone();
                if let Some(spec) = updated.get_mut("spec").and_then(Value::as_object_mut) {
                    spec.insert("replicas".into(), json!(replicas));
                }
                Ok(updated)
            })
            .await?;
            Ok(json_response(200, &scale(&value)))
        }
        ("binding", Method::POST, Body::Object(binding)) => {
            bind(api, resource, ns, name, &binding).await?;
            Ok(json_response(
                201,
                &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
            ))
        }
        _ => Err(ApiError::MethodNotAllowed),
    }
}

/// What a PUT or PATCH proposes for `current` (an object or its Scale).
fn proposed(
    resource: &Resource,
    current: &Value,
    view_kind: Option<&str>,
    body: &Body,
) -> Result<Value> {
    match body {
        Body::Object(v) => {
            // A PUT naming a resourceVersion is conditional on it.
            if let Some(rv) = object::resource_version(v) {
                if Some(rv) != object::resource_version(current) {
                    return Err(conflict(resource, object::name(current).unwrap_or("")));
                }
            }
            Ok(v.clone())
        }
        Body::Patch(p) => {
            let kind = view_kind.unwrap_or(resource.kind);
            p.apply_as(kind, current)
                .map_err(|message| ApiError::Invalid {
                    kind: resource.kind_qualified(),
                    name: object::name(current).unwrap_or("").to_string(),
                    causes: vec![("".into(), message)],
                })
        }
        Body::None => Ok(current.clone()),
    }
}

/// Reads the object, lets `change` compute its new state, and writes it if
/// nothing else wrote in between (else starts over); returns what was stored.
async fn modify(
    api: &Api,
    resource: &Resource,
    ns: Option<&str>,
    name: &str,
    change: impl Fn(&Value) -> Result<Value>,
) -> Result<Value> {
    for _ in 0..ATTEMPTS {
        let (existing, current) = read(api, resource, ns, name).await?;
        let updated = change(&existing)?;
        let prepared = object::prepare_subresource_update(resource, ns, name, updated, &existing)?;
        let mut value = prepared.value;
        if let Some(revision) =
            store_update(api, resource, ns, name, (&existing, current), &mut value).await?
        {
            return Ok(with_rv(value, revision));
        }
    }
    Err(conflict(resource, name))
}

/// The `autoscaling/v1` Scale of a deployment or replica set.
pub fn scale(object: &Value) -> Value {
    let meta = object.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let pick = |k: &str| meta.get(k).cloned().unwrap_or(Value::Null);
    let selector = object
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|labels| {
            labels
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": pick("name"),
            "namespace": pick("namespace"),
            "uid": pick("uid"),
            "resourceVersion": pick("resourceVersion"),
            "creationTimestamp": pick("creationTimestamp"),
        },
        "spec": {"replicas": object.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1)},
        "status": {
            "replicas": object.pointer("/status/replicas").and_then(Value::as_i64).unwrap_or(0),
            "selector": selector,
        },
    })
}

/// Assigns a pod to the node a Binding names: once only, as Kubernetes
/// refuses to move a bound pod.
async fn bind(
    api: &Api,
    resource: &Resource,
    ns: Option<&str>,
    name: &str,
    binding: &Value,
) -> Result<()> {
    let node = binding
        .pointer("/target/name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::Invalid {
            kind: "Binding".into(),
            name: name.to_string(),
            causes: vec![("target.name".into(), "Required value".into())],
        })?
        .to_string();
    modify(api, resource, ns, name, |existing| {
        if let Some(current) = existing
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
        {
            return Err(ApiError::ConflictMessage(format!(
                "Operation cannot be fulfilled on pods/binding \"{name}\": pod {name} is already assigned to node \"{current}\""
            )));
        }
        if existing.pointer("/metadata/deletionTimestamp").is_some_and(|t| !t.is_null()) {
            return Err(ApiError::ConflictMessage(format!(
                "Operation cannot be fulfilled on pods/binding \"{name}\": pod {name} is being deleted, cannot be assigned to a host"
            )));
        }
        let mut pod = existing.clone();
        if let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) {
            spec.insert("nodeName".into(), json!(node));
        }
        let condition = json!({
            "type": "PodScheduled",
            "status": "True",
            "lastProbeTime": null,
            "lastTransitionTime": object::now(),
        });
        let status = pod
            .as_object_mut()
            .map(|o| o.entry("status").or_insert_with(|| json!({})));
        if let Some(status) = status.and_then(Value::as_object_mut) {
            let conditions = status
                .entry("conditions")
                .or_insert_with(|| json!([]));
            if let Some(list) = conditions.as_array_mut() {
                list.retain(|c| c.get("type").and_then(Value::as_str) != Some("PodScheduled"));
                list.push(condition);
            }
        }
        Ok(pod)
    })
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_views_replicas_and_the_selector() {
        let d = json!({"metadata": {"name": "d", "namespace": "n", "uid": "u", "resourceVersion": "7"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "a"}}},
            "status": {"replicas": 2}});
        let s = scale(&d);
        assert_eq!(s["spec"]["replicas"], 3);
        assert_eq!(s["status"], json!({"replicas": 2, "selector": "app=a"}));
        assert_eq!(s["metadata"]["resourceVersion"], "7");
    }
}

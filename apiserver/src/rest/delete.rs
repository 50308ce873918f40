//! `DELETE`: preconditions, graceful deletion of pods, finalizers and
//! `propagationPolicy`, and deletecollection.
//!
//! An object with finalizers, or a pod on a node given a grace period, is
//! not removed at once: it gets `deletionTimestamp` (and
//! `deletionGracePeriodSeconds`) and stays until its finalizers are gone
//! and the grace is over (the agent deletes a pod again with grace 0 once
//! its containers stopped). `propagationPolicy` is recorded for the garbage
//! collector as Kubernetes records it: `Orphan` adds the `orphan`
//! finalizer, `Foreground` adds `foregroundDeletion`, `Background` (the
//! default) deletes the owner now and leaves dependents to the collector.

use axum::response::Response;
use serde_json::{json, Value};

use super::commit::commit;
use super::handlers::{conflict, read, store_update, with_rv};
use super::{json_response, Api, Params};
use crate::error::{ApiError, Result};
use crate::object;
use crate::registry::Resource;
use crate::selector;

/// How many times a delete is re-tried when the object changes under it.
const ATTEMPTS: usize = 5;

/// `DeleteOptions`, from the body and the query (the query wins).
#[derive(Debug, Default, Clone)]
pub struct DeleteOptions {
    pub grace_period_seconds: Option<i64>,
    pub propagation_policy: Option<String>,
    pub precondition_uid: Option<String>,
    pub precondition_resource_version: Option<String>,
}

impl DeleteOptions {
    /// Parses the optional JSON body and the query parameters.
    pub fn parse(body: &[u8], params: &Params) -> Result<DeleteOptions> {
        let mut options = DeleteOptions::default();
        if !body.iter().all(u8::is_ascii_whitespace) {
            let value: Value = serde_json::from_slice(body).map_err(|e| {
                ApiError::BadRequest(format!("the DeleteOptions body is not valid JSON: {e}"))
            })?;
            options.grace_period_seconds = value.get("gracePeriodSeconds").and_then(Value::as_i64);
            options.propagation_policy = value
                .get("propagationPolicy")
                .and_then(Value::as_str)
                .map(String::from);
            if value.get("orphanDependents").and_then(Value::as_bool) == Some(true) {
                options
                    .propagation_policy
                    .get_or_insert_with(|| "Orphan".into());
            }
            options.precondition_uid = value
                .pointer("/preconditions/uid")
                .and_then(Value::as_str)
                .map(String::from);
            options.precondition_resource_version = value
                .pointer("/preconditions/resourceVersion")
                .and_then(Value::as_str)
                .map(String::from);
        }
        if let Some(g) = params.get("gracePeriodSeconds") {
            options.grace_period_seconds = Some(g.parse().map_err(|_| {
                ApiError::BadRequest(format!("gracePeriodSeconds {g:?} is not a number"))
            })?);
        }
        if let Some(p) = params.get("propagationPolicy") {
            options.propagation_policy = Some(p.to_string());
        }
        match options.propagation_policy.as_deref() {
            None | Some("Orphan" | "Background" | "Foreground") => Ok(options),
            Some(other) => Err(ApiError::Invalid {
                kind: "DeleteOptions".into(),
                name: String::new(),
                causes: vec![(
                    "propagationPolicy".into(),
                    format!("Unsupported value: {other:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""),
                )],
            }),
        }
    }
}

/// `DELETE` one object; answers with the object as deleted, or as marked
/// for deletion.
pub async fn delete(
    api: &Api,
    resource: &Resource,
    ns: Option<&str>,
    name: &str,
    options: &DeleteOptions,
) -> Result<Response> {
    let value = delete_one(api, resource, ns, name, options).await?;
    Ok(json_response(200, &value))
}

async fn delete_one(
    api: &Api,
    resource: &Resource,
    ns: Option<&str>,
    name: &str,
    options: &DeleteOptions,
) -> Result<Value> {
    if resource.kind == "Namespace" && crate::SYSTEM_NAMESPACES.contains(&name) {
        return Err(ApiError::Forbidden(format!(
            "namespaces \"{name}\" is forbidden: this namespace may not be deleted"
        )));
    }
    for _ in 0..ATTEMPTS {
        let (existing, current) = read(api, resource, ns, name).await?;
        check_preconditions(resource, name, &existing, options)?;
        match plan(resource, &existing, options) {
            Plan::Remove => {
                let key = object::key(resource, ns, name);
                if commit(api, resource, &key, Some((&existing, current)), None)
                    .await?
                    .is_some()
                {
                    return Ok(existing);
                }
            }
            // The stored object with deletion fields only: nothing a client
            // sent, so no admission to run again.
            Plan::Mark(mut marked) => {
                if let Some(rv) =
                    store_update(api, resource, ns, name, (&existing, current), &mut marked).await?
                {
                    return Ok(with_rv(marked, rv));
                }
            }
        }
    }
    Err(conflict(resource, name))
}

fn check_preconditions(
    resource: &Resource,
    name: &str,
    existing: &Value,
    options: &DeleteOptions,
) -> Result<()> {
    let meta = |f: &str| {
        existing
            .pointer(&format!("/metadata/{f}"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    if let Some(uid) = &options.precondition_uid {
        if *uid != meta("uid") {
            return Err(ApiError::ConflictMessage(format!(
                "Operation cannot be fulfilled on {} \"{name}\": Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                resource.qualified(),
                meta("uid")
            )));
        }
    }
    if let Some(rv) = &options.precondition_resource_version {
        if *rv != meta("resourceVersion") {
            return Err(ApiError::ConflictMessage(format!(
                "Operation cannot be fulfilled on {} \"{name}\": Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                resource.qualified(),
                meta("resourceVersion")
            )));
        }
    }
    Ok(())
}

/// What a delete does to an object.
#[derive(Debug, PartialEq)]
pub enum Plan {
    /// Remove it from the store now.
    Remove,
    /// Store it with this deletion state instead.
    Mark(Value),
}

/// Decides how `existing` is deleted under `options`.
pub fn plan(resource: &Resource, existing: &Value, options: &DeleteOptions) -> Plan {
    let mut finalizers: Vec<String> = existing
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|f| {
            f.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    let policy_finalizer = match options.propagation_policy.as_deref() {
        Some("Orphan") => Some("orphan"),
        Some("Foreground") => Some("foregroundDeletion"),
        _ => None,
    };
    if let Some(f) = policy_finalizer {
        // One policy at a time, as the garbage collector reads them.
        finalizers.retain(|x| x != "orphan" && x != "foregroundDeletion");
        finalizers.push(f.to_string());
    }
    let grace = grace_period(resource, existing, options);
    let already = existing
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null());
    let current_grace = existing
        .pointer("/metadata/deletionGracePeriodSeconds")
        .and_then(Value::as_i64);
    if finalizers.is_empty() && grace == 0 && !held_by_namespace_finalizers(existing) {
        return Plan::Remove;
    }
    let mut marked = existing.clone();
    let Some(meta) = marked.get_mut("metadata").and_then(Value::as_object_mut) else {
        return Plan::Remove;
    };
    // A second delete may only shorten the grace period.
    let grace = match current_grace {
        Some(g) if already && g <= grace => g,
        _ => grace,
    };
    if !already || current_grace != Some(grace) {
        let at = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(grace);
        meta.insert(
            "deletionTimestamp".into(),
            json!(at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()),
        );
    }
    meta.insert("deletionGracePeriodSeconds".into(), json!(grace));
    if finalizers.is_empty() {
        meta.remove("finalizers");
    } else {
        meta.insert("finalizers".into(), json!(finalizers));
    }
    if resource.kind == "Namespace" {
        if let Some(status) = marked.get_mut("status").and_then(Value::as_object_mut) {
            status.insert("phase".into(), json!("Terminating"));
        }
    }
    Plan::Mark(marked)
}

/// The grace period of a delete: only pods bound to a node and not yet
/// finished get one (from the options, else the pod's
/// `terminationGracePeriodSeconds`, else 30 s).
fn grace_period(resource: &Resource, existing: &Value, options: &DeleteOptions) -> i64 {
    if resource.kind != "Pod" {
        return 0;
    }
    let bound = existing
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    let finished = matches!(
        existing.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    );
    if !bound || finished {
        return 0;
    }
    options
        .grace_period_seconds
        .or_else(|| {
            existing
                .pointer("/spec/terminationGracePeriodSeconds")
                .and_then(Value::as_i64)
        })
        .unwrap_or(30)
        .max(0)
}

/// Whether a stored object marked for deletion is due to go: no
/// finalizers left and no grace period pending.
pub fn is_finished_deleting(value: &Value) -> bool {
    let marked = value
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null());
    let finalizers = value
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|f| !f.is_empty());
    let grace = value
        .pointer("/metadata/deletionGracePeriodSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    marked && !finalizers && !held_by_namespace_finalizers(value) && grace == 0
}

/// A namespace with spec finalizers is emptied first (by the namespace
/// controller) and removed once they are gone: until then it is
/// Terminating.
fn held_by_namespace_finalizers(object: &Value) -> bool {
    object.get("kind").and_then(Value::as_str) == Some("Namespace")
        && object
            .pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty())
}

/// `DELETE` on a collection: deletes every object the selectors match and
/// answers with the list of them.
pub async fn delete_collection(
    api: &Api,
    resource: &Resource,
    ns: Option<&str>,
    params: &Params,
    options: &DeleteOptions,
) -> Result<Response> {
    let (labels, fields) = selector::from_params(params, resource)?;
    let page = api
        .storage
        .list(&object::prefix(resource, ns), None, 0, 0)
        .await?;
    let mut deleted = Vec::new();
    for item in &page.items {
        let value = object::decode(item)?;
        if !(labels.matches_labels(&value) && fields.matches_fields(&value)) {
            continue;
        }
        let name = object::name(&value).unwrap_or("").to_string();
        let namespace = value
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .map(String::from);
        match delete_one(api, resource, namespace.as_deref().or(ns), &name, options).await {
            Ok(v) => deleted.push(v),
            // Deleted by someone else meanwhile: nothing left to do.
            Err(ApiError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(json_response(
        200,
        &json!({
            "kind": format!("{}List", resource.kind),
            "apiVersion": resource.api_version(),
            "metadata": {"resourceVersion": page.revision.to_string()},
            "items": deleted,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry;

    fn pods() -> &'static Resource {
        registry::find("", "v1", "pods").unwrap()
    }

    #[test]
    fn pods_on_a_node_get_their_grace_period_others_go_at_once() {
        let unbound = json!({"metadata": {"name": "p"}, "spec": {}});
        assert_eq!(
            plan(pods(), &unbound, &DeleteOptions::default()),
            Plan::Remove
        );
        let bound = json!({"metadata": {"name": "p"}, "spec": {"nodeName": "n", "terminationGracePeriodSeconds": 30}});
        let Plan::Mark(marked) = plan(pods(), &bound, &DeleteOptions::default()) else {
            panic!("a bound pod is marked");
        };
        assert_eq!(marked["metadata"]["deletionGracePeriodSeconds"], 30);
        assert!(marked["metadata"]["deletionTimestamp"].is_string());
        assert!(!is_finished_deleting(&marked));
        let now = DeleteOptions {
            grace_period_seconds: Some(0),
            ..Default::default()
        };
        assert_eq!(plan(pods(), &marked, &now), Plan::Remove);
        let longer = DeleteOptions {
            grace_period_seconds: Some(60),
            ..Default::default()
        };
        let Plan::Mark(again) = plan(pods(), &marked, &longer) else {
            panic!("still graceful");
        };
        assert_eq!(again["metadata"]["deletionGracePeriodSeconds"], 30);
    }

    #[test]
    fn finalizers_and_propagation_policies_keep_the_object() {
        let cms = registry::find("", "v1", "configmaps").unwrap();
        let cm = json!({"metadata": {"name": "c", "finalizers": ["example.com/hold"]}});
        let Plan::Mark(marked) = plan(cms, &cm, &DeleteOptions::default()) else {
            panic!("finalizers hold it");
        };
        assert_eq!(marked["metadata"]["deletionGracePeriodSeconds"], 0);
        let mut released = marked.clone();
        released["metadata"]["finalizers"] = json!([]);
        assert!(is_finished_deleting(&released));

        let deployments = registry::find("apps", "v1", "deployments").unwrap();
        let d = json!({"metadata": {"name": "d"}});
        let orphan = DeleteOptions {
            propagation_policy: Some("Orphan".into()),
            ..Default::default()
        };
        let Plan::Mark(marked) = plan(deployments, &d, &orphan) else {
            panic!("orphan is a finalizer");
        };
        assert_eq!(marked["metadata"]["finalizers"], json!(["orphan"]));
        assert_eq!(
            plan(deployments, &d, &DeleteOptions::default()),
            Plan::Remove
        );
    }

    #[test]
    fn options_come_from_the_body_and_the_query() {
        let params = Params::parse("gracePeriodSeconds=5");
        let o = DeleteOptions::parse(
            br#"{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Foreground","preconditions":{"uid":"u"}}"#,
            &params,
        )
        .unwrap();
        assert_eq!(o.grace_period_seconds, Some(5));
        assert_eq!(o.propagation_policy.as_deref(), Some("Foreground"));
        assert_eq!(o.precondition_uid.as_deref(), Some("u"));
        assert!(DeleteOptions::parse(b"", &Params::parse("propagationPolicy=Sideways")).is_err());
        assert!(DeleteOptions::parse(b"{nope", &Params::default()).is_err());
    }

    #[test]
    fn namespaces_terminate_until_their_finalizers_are_gone() {
        let namespaces = registry::find("", "v1", "namespaces").unwrap();
        let ns = json!({"kind": "Namespace", "metadata": {"name": "n"},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}});
        let Plan::Mark(marked) = plan(namespaces, &ns, &DeleteOptions::default()) else {
            panic!("a namespace with finalizers terminates");
        };
        assert_eq!(marked["status"]["phase"], "Terminating");
        assert!(!is_finished_deleting(&marked));
        let mut finalized = marked.clone();
        finalized["spec"]["finalizers"] = json!([]);
        assert!(is_finished_deleting(&finalized));
    }
}

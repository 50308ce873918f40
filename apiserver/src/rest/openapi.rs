//! OpenAPI v3 documents: `/openapi/v3` lists one document per group version,
//! and each document lists the paths and operations served there.
//!
//! kubectl reads them to learn that a kind's PATCH takes `fieldValidation`
//! (then it leaves validation to the server instead of downloading schemas
//! to validate on the client). The documents carry no `requestBody` content
//! types, so kubectl computes strategic merge patches from its compiled-in
//! types as it does for any built-in kind. Component schemas are not
//! published yet (`kubectl explain` needs them).

use serde_json::{json, Map, Value};

use super::discovery::KUBERNETES_MINOR;
use crate::registry::{self, Resource, RESOURCES};

/// `/openapi/v3`: where each group version's document lives.
pub fn root() -> Value {
    let mut paths = Map::new();
    for (group, version) in registry::group_versions() {
        let gv = gv_path(group, version);
        paths.insert(
            gv.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{gv}?hash={}", hash(group, version))}),
        );
    }
    json!({ "paths": paths })
}

/// The document of the group version at `gv_path` (`api/v1`,
/// `apis/apps/v1`), or `None` if it is not served.
pub fn document(gv_path: &str) -> Option<Value> {
    let (group, version) = match gv_path.trim_matches('/').split('/').collect::<Vec<_>>()[..] {
        ["api", version] => ("", version),
        ["apis", group, version] => (group, version),
        _ => return None,
    };
    let mut paths = Map::new();
    for r in RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        let base = format!("/{}", gv_path.trim_matches('/'));
        let (collection, item) = if r.namespaced {
            (
                format!("{base}/namespaces/{{namespace}}/{}", r.plural),
                format!("{base}/namespaces/{{namespace}}/{}/{{name}}", r.plural),
            )
        } else {
            (
                format!("{base}/{}", r.plural),
                format!("{base}/{}/{{name}}", r.plural),
            )
        };
        paths.insert(
            collection,
            json!({
                "get": operation(r, "list", &["labelSelector", "fieldSelector", "limit", "continue", "resourceVersion", "watch"]),
                "post": operation(r, "post", &["dryRun", "fieldManager", "fieldValidation"]),
                "delete": operation(r, "deletecollection", &["labelSelector", "fieldSelector"]),
            }),
        );
        paths.insert(
            item,
            json!({
                "get": operation(r, "get", &[]),
                "put": operation(r, "put", &["dryRun", "fieldManager", "fieldValidation"]),
                "patch": operation(r, "patch", &["dryRun", "fieldManager", "fieldValidation", "force"]),
                "delete": operation(r, "delete", &["gracePeriodSeconds", "propagationPolicy"]),
            }),
        );
    }
    if paths.is_empty() {
        return None;
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": format!("v1.{KUBERNETES_MINOR}.0")},
        "paths": paths,
        "components": {"schemas": {}},
    }))
}

fn operation(r: &Resource, action: &str, query: &[&str]) -> Value {
    let parameters: Vec<Value> = query
        .iter()
        .map(|name| json!({"name": name, "in": "query", "schema": {"type": "string"}}))
        .collect();
    json!({
        "operationId": format!("{action}{}", r.kind),
        "parameters": parameters,
        "responses": {"200": {"description": "OK"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": r.group, "version": r.version, "kind": r.kind},
    })
}

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// A stable hash of a document, so clients cache it until the served kinds
/// (and so the binary) change.
fn hash(group: &str, version: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (group, version, env!("CARGO_PKG_VERSION")).hash(&mut h);
    for r in RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        r.plural.hash(&mut h);
    }
    format!("{:016X}", h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_group_version_has_a_document_whose_patch_takes_field_validation() {
        let root = root();
        let paths = root["paths"].as_object().unwrap();
        assert!(paths.contains_key("api/v1") && paths.contains_key("apis/apps/v1"));
        for gv in paths.keys() {
            let doc = document(gv).unwrap();
            assert_eq!(doc["openapi"], "3.0.0");
            let patches: Vec<&Value> = doc["paths"]
                .as_object()
                .unwrap()
                .values()
                .filter_map(|p| p.get("patch"))
                .collect();
            assert!(!patches.is_empty(), "{gv}");
            for patch in patches {
                assert!(patch["parameters"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p["name"] == "fieldValidation"));
            }
        }
        let apps = document("apis/apps/v1").unwrap();
        let deployment = &apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"];
        assert_eq!(
            deployment["patch"]["x-kubernetes-group-version-kind"],
            json!({"group": "apps", "version": "v1", "kind": "Deployment"})
        );
        assert!(document("apis/apps/v9").is_none());
        assert!(document("nonsense").is_none());
    }
}

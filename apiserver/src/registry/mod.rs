//! The resources the API serves: one entry per kind, naming it as
//! Kubernetes' discovery does and saying how to check a body is that kind.

mod kinds;

pub use kinds::RESOURCES;

use serde_json::Value;

/// A served resource.
#[derive(Debug)]
pub struct Resource {
    /// API group ("" for the core group).
    pub group: &'static str,
    /// Version served.
    pub version: &'static str,
    /// `kind`.
    pub kind: &'static str,
    /// Plural path segment (`pods`); also the storage prefix.
    pub plural: &'static str,
    /// `singularName` in discovery.
    pub singular: &'static str,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// kubectl's short names (`po`, `deploy`).
    pub short_names: &'static [&'static str],
    /// Discovery categories (`all`).
    pub categories: &'static [&'static str],
    /// Decodes a body as the kind's typed object and encodes it again, so
    /// that a wrong type for a field is refused with the decoder's message
    /// and fields the kind does not have are found by what went missing.
    pub decode: fn(&Value) -> Result<Value, String>,
}

impl Resource {
    /// `apiVersion` of its objects (`v1`, `apps/v1`).
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The name errors use: `pods`, `deployments.apps`.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// Subresources served under each object, as discovery lists them.
    pub fn subresources(&self) -> &'static [&'static str] {
        match self.kind {
            "Pod" => &["status", "binding", "log", "exec"],
            "Deployment" | "ReplicaSet" => &["status", "scale"],
            "Namespace" => &["status", "finalize"],
            "Node"
            | "Service"
            | "HorizontalPodAutoscaler"
            | "PersistentVolume"
            | "PersistentVolumeClaim"
            | "Ingress" => &["status"],
            _ => &[],
        }
    }

    /// Whether `.status` is written only through the status subresource
    /// (writes to the object itself keep the stored status).
    pub fn has_status(&self) -> bool {
        self.subresources().contains(&"status")
    }

    /// The name 422 errors use: `Pod`, `Deployment.apps`.
    pub fn kind_qualified(&self) -> String {
        if self.group.is_empty() {
            self.kind.to_string()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }

    /// The verbs discovery lists.
    pub fn verbs(&self) -> &'static [&'static str] {
        &[
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ]
    }
}

/// The resource served at `group`/`version` under `plural`.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static Resource> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// Every group version served, core first, in discovery order.
pub fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&'static str, &'static str)> = Vec::new();
    for r in RESOURCES {
        if !out.contains(&(r.group, r.version)) {
            out.push((r.group, r.version));
        }
    }
    out
}

/// The fields of `input` that its typed round trip `typed` lost: the ones
/// the kind does not declare, as paths like Kubernetes' strict decoding
/// names them (`spec.template.spec.containers[0].imagePolicy`).
pub fn unknown_fields(input: &Value, typed: &Value) -> Vec<String> {
    let mut out = Vec::new();
    collect_unknown(input, typed, "", &mut out);
    out
}

fn collect_unknown(input: &Value, typed: &Value, path: &str, out: &mut Vec<String>) {
    match (input, typed) {
        (Value::Object(fields), Value::Object(known)) => {
            for (name, value) in fields {
                let child = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                match known.get(name) {
                    Some(k) => collect_unknown(value, k, &child, out),
                    // An explicit null is the same as leaving a field out.
                    None if value.is_null() => {}
                    None => out.push(child),
                }
            }
        }
        (Value::Array(items), Value::Array(known)) => {
            for (i, (value, k)) in items.iter().zip(known).enumerate() {
                collect_unknown(value, k, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_are_named_by_their_path() {
        let pods = find("", "v1", "pods").unwrap();
        let body = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "labels": {"a": "b"}, "creationTimestamp": null},
            "spec": {"containers": [{"name": "c", "image": "i", "imagePolicy": "x"}], "bogus": 1},
        });
        let typed = (pods.decode)(&body).unwrap();
        assert_eq!(
            unknown_fields(&body, &typed),
            vec!["spec.bogus", "spec.containers[0].imagePolicy"]
        );
        let clean = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "i", "resources": {"limits": {"cpu": "1"}}}]}});
        assert!(unknown_fields(&clean, &(pods.decode)(&clean).unwrap()).is_empty());
    }
}

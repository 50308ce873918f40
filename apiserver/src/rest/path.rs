//! Request paths: `/api/v1/...` and `/apis/<group>/<version>/...`.

use crate::registry::{self, Resource};

/// What a path names.
#[derive(Debug)]
pub enum Target {
    /// `/api/v1`, `/apis/apps/v1`: the group version's resource list.
    GroupVersion { group: String, version: String },
    /// A resource's objects, in one namespace or all.
    Collection {
        resource: &'static Resource,
        namespace: Option<String>,
    },
    /// One object.
    Object {
        resource: &'static Resource,
        namespace: Option<String>,
        name: String,
    },
    /// A subresource of one object (`pods/p/status`, `deployments/d/scale`).
    Subresource {
        resource: &'static Resource,
        namespace: Option<String>,
        name: String,
        subresource: String,
    },
}

impl Target {
    /// The resource named, unless the path is a group version.
    pub fn resource(&self) -> Option<&'static Resource> {
        match self {
            Target::GroupVersion { .. } => None,
            Target::Collection { resource, .. }
            | Target::Object { resource, .. }
            | Target::Subresource { resource, .. } => Some(resource),
        }
    }

    /// The same path on another version of its resource.
    pub fn with_resource(self, to: &'static Resource) -> Target {
        match self {
            Target::GroupVersion { .. } => self,
            Target::Collection { namespace, .. } => Target::Collection {
                resource: to,
                namespace,
            },
            Target::Object {
                namespace, name, ..
            } => Target::Object {
                resource: to,
                namespace,
                name,
            },
            Target::Subresource {
                namespace,
                name,
                subresource,
                ..
            } => Target::Subresource {
                resource: to,
                namespace,
                name,
                subresource,
            },
        }
    }
}

/// Parses an API path; `None` for paths the API does not serve.
pub fn parse(path: &str) -> Option<Target> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    let find = |plural: &str| registry::find(group, version, plural);
    let target = match rest {
        [] => Target::GroupVersion {
            group: group.to_string(),
            version: version.to_string(),
        },
        // A namespaced resource inside a namespace, when the third segment
        // names one; otherwise `namespaces/<name>` itself.
        ["namespaces", ns, plural, tail @ ..] if find(plural).is_some_and(|r| r.namespaced) => {
            let resource = find(plural)?;
            match tail {
                [] => Target::Collection {
                    resource,
                    namespace: Some(ns.to_string()),
                },
                [name] => Target::Object {
                    resource,
                    namespace: Some(ns.to_string()),
                    name: name.to_string(),
                },
                [name, sub] if resource.subresources().contains(sub) => Target::Subresource {
                    resource,
                    namespace: Some(ns.to_string()),
                    name: name.to_string(),
                    subresource: sub.to_string(),
                },
                _ => return None,
            }
        }
        [plural] => Target::Collection {
            resource: find(plural)?,
            namespace: None,
        },
        [plural, name] => {
            let resource = find(plural)?;
            if resource.namespaced {
                return None;
            }
            Target::Object {
                resource,
                namespace: None,
                name: name.to_string(),
            }
        }
        [plural, name, sub] => {
            let resource = find(plural)?;
            if resource.namespaced || !resource.subresources().contains(sub) {
                return None;
            }
            Target::Subresource {
                resource,
                namespace: None,
                name: name.to_string(),
                subresource: sub.to_string(),
            }
        }
        _ => return None,
    };
    Some(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn describe(path: &str) -> String {
        match parse(path) {
            None => "none".into(),
            Some(Target::GroupVersion { group, version }) => format!("gv {group}/{version}"),
            Some(Target::Collection {
                resource,
                namespace,
            }) => format!("list {} in {:?}", resource.plural, namespace),
            Some(Target::Object {
                resource,
                namespace,
                name,
            }) => format!("get {}/{name} in {:?}", resource.plural, namespace),
            Some(Target::Subresource {
                resource,
                name,
                subresource,
                ..
            }) => format!("sub {}/{name}/{subresource}", resource.plural),
        }
    }

    #[test]
    fn paths_name_what_kubernetes_names() {
        assert_eq!(describe("/api/v1"), "gv /v1");
        assert_eq!(describe("/apis/apps/v1"), "gv apps/v1");
        assert_eq!(describe("/api/v1/pods"), "list pods in None");
        assert_eq!(
            describe("/api/v1/namespaces/default/pods"),
            "list pods in Some(\"default\")"
        );
        assert_eq!(
            describe("/api/v1/namespaces/default/pods/p"),
            "get pods/p in Some(\"default\")"
        );
        assert_eq!(describe("/api/v1/namespaces"), "list namespaces in None");
        assert_eq!(
            describe("/api/v1/namespaces/default"),
            "get namespaces/default in None"
        );
        assert_eq!(
            describe("/apis/apps/v1/namespaces/x/deployments/d"),
            "get deployments/d in Some(\"x\")"
        );
        assert_eq!(describe("/api/v1/nodes/n1"), "get nodes/n1 in None");
        assert_eq!(describe("/api/v1/pods/p"), "none");
        assert_eq!(describe("/api/v1/widgets"), "none");
        assert_eq!(describe("/apis/apps/v1/pods"), "none");
        assert_eq!(describe("/metrics"), "none");
        assert_eq!(
            describe("/apis/apps/v1/namespaces/x/deployments/d/scale"),
            "sub deployments/d/scale"
        );
        assert_eq!(describe("/api/v1/nodes/n1/status"), "sub nodes/n1/status");
        assert_eq!(describe("/api/v1/namespaces/x/configmaps/c/status"), "none");
    }
}

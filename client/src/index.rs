//! The indexes components look objects up by: namespace, controller owner,
//! node, label.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;

use crate::api::Resource;
use crate::store::IndexFn;

/// Index name: the object's namespace.
pub const NAMESPACE: &str = "namespace";
/// Index name: the uids of the object's owners.
pub const OWNER_UID: &str = "owner-uid";
/// Index name: the node a pod is bound to.
pub const NODE_NAME: &str = "node-name";

/// Indexes objects by namespace.
pub fn namespace<K: Resource>() -> IndexFn<K> {
    Arc::new(|k: &K| k.metadata().namespace.clone().into_iter().collect())
}

/// Indexes objects by the uid of each owner reference.
pub fn owner_uid<K: Resource>() -> IndexFn<K> {
    Arc::new(|k: &K| {
        k.metadata()
            .owner_references
            .iter()
            .flatten()
            .map(|o| o.uid.clone())
            .collect()
    })
}

/// Indexes pods by `spec.nodeName`; unbound pods are not indexed.
pub fn pod_node_name() -> IndexFn<Pod> {
    Arc::new(|p: &Pod| {
        p.spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .filter(|n| !n.is_empty())
            .into_iter()
            .collect()
    })
}

/// Indexes objects by the value of label `key` (index name: the key).
pub fn label<K: Resource>(key: &str) -> IndexFn<K> {
    let key = key.to_string();
    Arc::new(move |k: &K| {
        k.metadata()
            .labels
            .as_ref()
            .and_then(|l| l.get(&key).cloned())
            .into_iter()
            .collect()
    })
}

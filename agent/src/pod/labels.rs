//! The labels and annotations the kubelet puts on sandboxes and containers,
//! under the names Kubernetes uses, so the agent finds its pods again after a
//! restart and tools that know the kubelet's names read them.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;

/// Pod name.
pub const POD_NAME: &str = "io.kubernetes.pod.name";
/// Pod namespace.
pub const POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
/// Pod uid: how sandboxes and containers are matched to pods.
pub const POD_UID: &str = "io.kubernetes.pod.uid";
/// Container name in the pod spec.
pub const CONTAINER_NAME: &str = "io.kubernetes.container.name";
/// Hash of the container's spec: a changed spec restarts the container.
pub const CONTAINER_HASH: &str = "io.kubernetes.container.hash";
/// Restart count at creation.
pub const CONTAINER_RESTART_COUNT: &str = "io.kubernetes.container.restartCount";

/// The labels identifying `pod`.
pub fn pod_labels(pod: &Pod) -> BTreeMap<String, String> {
    let meta = &pod.metadata;
    let mut labels: BTreeMap<String, String> = meta.labels.clone().unwrap_or_default();
    labels.insert(POD_NAME.into(), meta.name.clone().unwrap_or_default());
    labels.insert(
        POD_NAMESPACE.into(),
        meta.namespace.clone().unwrap_or_default(),
    );
    labels.insert(POD_UID.into(), meta.uid.clone().unwrap_or_default());
    labels
}

/// FNV-1a over the container's spec as JSON: stable for an unchanged spec.
pub fn container_hash(container: &k8s_openapi::api::core::v1::Container) -> String {
    let json = serde_json::to_vec(container).unwrap_or_default();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in json {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:x}")
}

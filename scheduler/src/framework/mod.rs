//! What every plugin shares: node and pod records, the cache they live in,
//! the per-cycle snapshot, and the score scale.

pub mod cache;
pub mod node_info;
pub mod pod_info;
pub mod snapshot;

use k8s_openapi::api::core::v1::Pod;

/// The highest score a score plugin may give a node (kube-scheduler's
/// `MaxNodeScore`); the lowest is 0.
pub const MAX_NODE_SCORE: i64 = 100;

/// The well-known label carrying a node's hostname.
pub const LABEL_HOSTNAME: &str = "kubernetes.io/hostname";
/// The well-known label carrying a node's zone.
pub const LABEL_ZONE: &str = "topology.kubernetes.io/zone";
/// The well-known label carrying a node's region.
pub const LABEL_REGION: &str = "topology.kubernetes.io/region";

/// The pod's namespace; the apiserver always sets one, `default` stands in
/// for a bare object.
pub fn pod_namespace(pod: &Pod) -> &str {
    pod.metadata.namespace.as_deref().unwrap_or("default")
}

/// The identity of a pod in the cache and the queue: `namespace/name`, which no
/// two live pods share.
pub fn pod_key(pod: &Pod) -> String {
    format!(
        "{}/{}",
        pod_namespace(pod),
        pod.metadata.name.as_deref().unwrap_or_default()
    )
}

/// The node a pod is bound to, if any.
pub fn pod_node_name(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .filter(|n| !n.is_empty())
}

/// Why a filter rejected a node: the reasons exactly as Kubernetes prints them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unschedulable {
    /// The filter plugin that rejected the node.
    pub plugin: &'static str,
    /// One or more reasons (NodeResourcesFit may name several resources).
    pub reasons: Vec<String>,
}

impl Unschedulable {
    /// A rejection with one reason.
    pub fn new(plugin: &'static str, reason: impl Into<String>) -> Self {
        Unschedulable {
            plugin,
            reasons: vec![reason.into()],
        }
    }
}

/// The outcome of one filter on one node.
pub type FilterResult = Result<(), Unschedulable>;

/// Scales raw scores to `0..=max`, proportionally to the highest one, and with
/// `reverse` turns them around so the lowest raw score gets `max`
/// (kube-scheduler's `DefaultNormalizeScore`). All-zero raw scores stay 0, or
/// become `max` when reversed.
pub fn default_normalize_score(max: i64, reverse: bool, scores: &mut [i64]) {
    let highest = scores.iter().copied().max().unwrap_or(0).max(0);
    if highest == 0 {
        if reverse {
            scores.iter_mut().for_each(|s| *s = max);
        }
        return;
    }
    for s in scores.iter_mut() {
        let scaled = max * *s / highest;
        *s = if reverse { max - scaled } else { scaled };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_scales_to_the_highest() {
        let mut s = [0, 5, 10];
        default_normalize_score(MAX_NODE_SCORE, false, &mut s);
        assert_eq!(s, [0, 50, 100]);
    }

    #[test]
    fn normalize_reversed_favours_the_lowest() {
        let mut s = [0, 1, 4];
        default_normalize_score(MAX_NODE_SCORE, true, &mut s);
        assert_eq!(s, [100, 75, 0]);
        let mut zeros = [0, 0];
        default_normalize_score(MAX_NODE_SCORE, true, &mut zeros);
        assert_eq!(zeros, [100, 100]);
    }
}

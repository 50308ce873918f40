//! NodeUnschedulable: cordoned nodes (`spec.unschedulable`) take no new pods,
//! except pods tolerating the `node.kubernetes.io/unschedulable:NoSchedule`
//! taint.

use k8s_openapi::api::core::v1::{Pod, Taint};

use super::taint_toleration::tolerations_tolerate;
use crate::framework::node_info::NodeInfo;
use crate::framework::{FilterResult, Unschedulable};

/// Plugin name.
pub const NAME: &str = "NodeUnschedulable";
/// Reason when the node is cordoned.
pub const ERR_REASON_UNSCHEDULABLE: &str = "node(s) were unschedulable";
/// The taint a pod must tolerate to land on a cordoned node.
pub const TAINT_NODE_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";

/// Rejects a cordoned node unless the pod tolerates its cordon.
pub fn filter(pod: &Pod, node: &NodeInfo) -> FilterResult {
    let cordoned = node
        .node()
        .and_then(|n| n.spec.as_ref())
        .and_then(|s| s.unschedulable)
        .unwrap_or(false);
    if !cordoned {
        return Ok(());
    }
    let cordon = Taint {
        key: TAINT_NODE_UNSCHEDULABLE.to_string(),
        effect: "NoSchedule".to_string(),
        ..Default::default()
    };
    let tolerations = pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.as_deref())
        .unwrap_or_default();
    if tolerations_tolerate(tolerations, &cordon) {
        return Ok(());
    }
    Err(Unschedulable::new(NAME, ERR_REASON_UNSCHEDULABLE))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{node, pod, toleration, with_tolerations};

    fn cordoned() -> NodeInfo {
        let mut n = node("n1", "1", "1Gi", "10");
        n.spec.get_or_insert_with(Default::default).unschedulable = Some(true);
        let mut ni = NodeInfo::new("n1");
        ni.set_node(n);
        ni
    }

    #[test]
    fn cordoned_node_is_rejected() {
        let err = filter(&pod("p"), &cordoned()).err();
        assert_eq!(
            err.map(|e| e.reasons),
            Some(vec!["node(s) were unschedulable".to_string()])
        );
    }

    #[test]
    fn schedulable_node_passes() {
        let mut ni = NodeInfo::new("n1");
        ni.set_node(node("n1", "1", "1Gi", "10"));
        assert!(filter(&pod("p"), &ni).is_ok());
    }

    #[test]
    fn pod_tolerating_the_cordon_passes() {
        let p = with_tolerations(
            pod("p"),
            vec![toleration(
                TAINT_NODE_UNSCHEDULABLE,
                "Exists",
                "",
                "NoSchedule",
            )],
        );
        assert!(filter(&p, &cordoned()).is_ok());
    }
}

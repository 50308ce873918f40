//! NodeName: a pod naming a node in `spec.nodeName` fits only that node.

use k8s_openapi::api::core::v1::Pod;

use crate::framework::node_info::NodeInfo;
use crate::framework::{pod_node_name, FilterResult, Unschedulable};

/// Plugin name.
pub const NAME: &str = "NodeName";
/// Reason when the node is not the one the pod names.
pub const ERR_REASON: &str = "node(s) didn't match the requested node name";

/// Rejects every node but the one named by the pod, if it names one.
pub fn filter(pod: &Pod, node: &NodeInfo) -> FilterResult {
    match pod_node_name(pod) {
        Some(wanted) if wanted != node.name() => Err(Unschedulable::new(NAME, ERR_REASON)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{on_node, pod};

    #[test]
    fn only_the_named_node_fits() {
        let p = on_node(pod("p"), "n2");
        assert!(filter(&p, &NodeInfo::new("n2")).is_ok());
        let err = filter(&p, &NodeInfo::new("n1")).err();
        assert_eq!(
            err.map(|e| e.reasons),
            Some(vec![
                "node(s) didn't match the requested node name".to_string()
            ])
        );
    }

    #[test]
    fn pod_without_node_name_fits_any() {
        assert!(filter(&pod("p"), &NodeInfo::new("n1")).is_ok());
    }
}

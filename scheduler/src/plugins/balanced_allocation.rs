//! NodeResourcesBalancedAllocation: prefers nodes whose cpu and memory would be
//! used in like proportion once the pod runs there, so that neither runs out
//! while the other lies idle.
//!
//! Score = (1 - standard deviation of the used fractions) * 100, where a
//! fraction is requested / allocatable capped at 1; for two resources the
//! standard deviation is |f1 - f2| / 2. Unlike LeastAllocated it uses real
//! requests, not the scoring defaults, and it does not score pods that
//! request nothing (Kubernetes issue #129138: all such pods would otherwise
//! pile onto one node).

use crate::framework::node_info::NodeInfo;
use crate::framework::MAX_NODE_SCORE;
use crate::resources::Resource;

/// Plugin name.
pub const NAME: &str = "NodeResourcesBalancedAllocation";

/// Whether the plugin scores this pod: not when it requests no cpu and no
/// memory (Kubernetes' PreScore Skip for best-effort pods).
pub fn pre_score(pod_requests: &Resource) -> bool {
    pod_requests.milli_cpu != 0 || pod_requests.memory != 0
}

/// The balance score of the node for a pod requesting `pod_requests`.
pub fn score(pod_requests: &Resource, node: &NodeInfo) -> i64 {
    let pairs = [
        (
            node.requested
                .milli_cpu
                .saturating_add(pod_requests.milli_cpu),
            node.allocatable.milli_cpu,
        ),
        (
            node.requested.memory.saturating_add(pod_requests.memory),
            node.allocatable.memory,
        ),
    ];
    let fractions: Vec<f64> = pairs
        .iter()
        .filter(|(_, allocatable)| *allocatable != 0)
        .map(|(requested, allocatable)| (*requested as f64 / *allocatable as f64).min(1.0))
        .collect();
    let std = match fractions.as_slice() {
        [a, b] => ((a - b) / 2.0).abs(),
        [] | [_] => 0.0,
        many => {
            let mean = many.iter().sum::<f64>() / many.len() as f64;
            let var = many.iter().map(|f| (f - mean) * (f - mean)).sum::<f64>() / many.len() as f64;
            var.sqrt()
        }
    };
    ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::pod_info::PodInfo;
    use crate::resources::pod_requests;
    use crate::testutil::{node, on_node, pod, pod_req};
    use std::sync::Arc;

    fn node_info(cpu: &str, mem: &str, running: Vec<k8s_openapi::api::core::v1::Pod>) -> NodeInfo {
        let mut ni = NodeInfo::new("n1");
        ni.set_node(node("n1", cpu, mem, "110"));
        for p in running {
            ni.add_pod(Arc::new(PodInfo::new(on_node(p, "n1"))));
        }
        ni
    }

    #[test]
    fn unequal_fractions_lose_half_their_difference() {
        // cpu 3000/4000 = 0.75, memory 5000/10000 = 0.5: std 0.125, score 87.
        let ni = node_info("4", "10000", vec![]);
        assert_eq!(score(&pod_requests(&pod_req("p", "3", "5000")), &ni), 87);
    }

    #[test]
    fn equal_fractions_score_full() {
        // (1000 + 2000) / 6000 = 0.5 and (2000 + 3000) / 10000 = 0.5.
        let ni = node_info("6", "10000", vec![pod_req("a", "1", "2000")]);
        assert_eq!(score(&pod_requests(&pod_req("p", "2", "3000")), &ni), 100);
    }

    #[test]
    fn fractions_are_capped_at_one() {
        // cpu 8000/4000 capped to 1, memory 0: std 0.5, score 50.
        let ni = node_info("4", "10000", vec![]);
        assert_eq!(score(&pod_requests(&pod_req("p", "8", "0")), &ni), 50);
    }

    #[test]
    fn pods_without_requests_are_not_scored() {
        assert!(!pre_score(&pod_requests(&pod("p"))));
        assert!(pre_score(&pod_requests(&pod_req("p", "1m", "0"))));
    }
}

//! NodeResourcesFit: a pod fits a node only if the node's allocatable
//! resources, less what its pods request, cover the pod's requests and the
//! node has room for one more pod. Its score is the `LeastAllocated`
//! strategy: the more of cpu and memory stays free, the better.

use crate::framework::node_info::NodeInfo;
use crate::framework::{FilterResult, Unschedulable, MAX_NODE_SCORE};
use crate::resources::Resource;

/// Plugin name.
pub const NAME: &str = "NodeResourcesFit";
/// Reason when the node runs as many pods as it allows.
pub const ERR_REASON_TOO_MANY_PODS: &str = "Too many pods";

/// Weights of cpu and memory in `LeastAllocated` (the default `resources`).
const CPU_WEIGHT: i64 = 1;
const MEMORY_WEIGHT: i64 = 1;

fn insufficient(resource: &str) -> String {
    format!("Insufficient {resource}")
}

/// Rejects the node, naming every resource that falls short: `Too many pods`,
/// `Insufficient cpu`, `Insufficient memory`, `Insufficient ephemeral-storage`,
/// `Insufficient <extended resource>`.
pub fn filter(requests: &Resource, node: &NodeInfo) -> FilterResult {
    let mut reasons = Vec::new();
    let pods = i64::try_from(node.pods.len()).unwrap_or(i64::MAX);
    if pods.saturating_add(1) > node.allocatable.allowed_pod_number {
        reasons.push(ERR_REASON_TOO_MANY_PODS.to_string());
    }
    let free = |alloc: i64, used: i64| alloc.saturating_sub(used);
    let a = &node.allocatable;
    let r = &node.requested;
    if requests.milli_cpu > 0 && requests.milli_cpu > free(a.milli_cpu, r.milli_cpu) {
        reasons.push(insufficient("cpu"));
    }
    if requests.memory > 0 && requests.memory > free(a.memory, r.memory) {
        reasons.push(insufficient("memory"));
    }
    if requests.ephemeral_storage > 0
        && requests.ephemeral_storage > free(a.ephemeral_storage, r.ephemeral_storage)
    {
        reasons.push(insufficient("ephemeral-storage"));
    }
    for (name, want) in &requests.scalar {
        if *want > 0 && *want > free(a.get(name), r.get(name)) {
            reasons.push(insufficient(name));
        }
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(Unschedulable {
            plugin: NAME,
            reasons,
        })
    }
}

/// `(capacity - requested) * 100 / capacity`, 0 when over capacity or when
/// there is no capacity.
pub fn least_requested_score(requested: i64, capacity: i64) -> i64 {
    if capacity <= 0 || requested > capacity {
        return 0;
    }
    let free = i128::from(capacity) - i128::from(requested);
    (free * i128::from(MAX_NODE_SCORE) / i128::from(capacity)) as i64
}

/// `LeastAllocated` score of the node for a pod with non-zero requests
/// `pod_non_zero`: the weighted mean over cpu and memory of
/// [`least_requested_score`], counting the node's pods with non-zero requests
/// too. Resources the node does not offer are left out of the mean.
pub fn score(pod_non_zero: &Resource, node: &NodeInfo) -> i64 {
    let resources = [
        (
            node.allocatable.milli_cpu,
            node.non_zero_requested
                .milli_cpu
                .saturating_add(pod_non_zero.milli_cpu),
            CPU_WEIGHT,
        ),
        (
            node.allocatable.memory,
            node.non_zero_requested
                .memory
                .saturating_add(pod_non_zero.memory),
            MEMORY_WEIGHT,
        ),
    ];
    let mut total = 0;
    let mut weights = 0;
    for (capacity, requested, weight) in resources {
        if capacity == 0 {
            continue;
        }
        total += least_requested_score(requested, capacity) * weight;
        weights += weight;
    }
    if weights == 0 {
        0
    } else {
        total / weights
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::pod_info::PodInfo;
    use crate::resources::{pod_non_zero_requests, pod_requests};
    use crate::testutil::{node, on_node, pod, pod_req, quantities, spec};
    use std::sync::Arc;

    fn node_info(
        cpu: &str,
        mem: &str,
        pods: &str,
        running: Vec<k8s_openapi::api::core::v1::Pod>,
    ) -> NodeInfo {
        let mut ni = NodeInfo::new("n1");
        ni.set_node(node("n1", cpu, mem, pods));
        for p in running {
            ni.add_pod(Arc::new(PodInfo::new(on_node(p, "n1"))));
        }
        ni
    }

    fn reasons(r: FilterResult) -> Vec<String> {
        r.err().map(|e| e.reasons).unwrap_or_default()
    }

    #[test]
    fn pod_that_fits_passes() {
        let ni = node_info("2", "4Gi", "10", vec![pod_req("a", "1", "1Gi")]);
        assert!(filter(&pod_requests(&pod_req("p", "1", "3Gi")), &ni).is_ok());
    }

    #[test]
    fn insufficient_cpu() {
        let ni = node_info("2", "4Gi", "10", vec![pod_req("a", "1500m", "1Gi")]);
        assert_eq!(
            reasons(filter(&pod_requests(&pod_req("p", "1", "1Gi")), &ni)),
            ["Insufficient cpu"]
        );
    }

    #[test]
    fn every_short_resource_is_named() {
        let ni = node_info("1", "1Gi", "10", vec![]);
        assert_eq!(
            reasons(filter(&pod_requests(&pod_req("p", "2", "2Gi")), &ni)),
            ["Insufficient cpu", "Insufficient memory"]
        );
    }

    #[test]
    fn too_many_pods_even_without_requests() {
        let ni = node_info("4", "4Gi", "1", vec![pod("a")]);
        assert_eq!(
            reasons(filter(&pod_requests(&pod("p")), &ni)),
            ["Too many pods"]
        );
    }

    #[test]
    fn extended_resources_must_be_offered() {
        let mut p = pod("p");
        spec(&mut p).containers[0].resources =
            Some(k8s_openapi::api::core::v1::ResourceRequirements {
                requests: Some(quantities(&[("example.com/gpu", "1")])),
                ..Default::default()
            });
        let ni = node_info("4", "4Gi", "10", vec![]);
        assert_eq!(
            reasons(filter(&pod_requests(&p), &ni)),
            ["Insufficient example.com/gpu"]
        );
    }

    #[test]
    fn least_allocated_matches_the_documented_formula() {
        // Node 4 cpu / 10000 bytes, a pod there asking 1 cpu / 2000; the new
        // pod asks 2 cpu / 3000.
        // cpu: (4000 - 3000) * 100 / 4000 = 25; memory: (10000 - 5000) * 100 / 10000 = 50;
        // (25 + 50) / 2 = 37.
        let ni = node_info("4", "10000", "10", vec![pod_req("a", "1", "2000")]);
        let p = pod_req("p", "2", "3000");
        assert_eq!(score(&pod_non_zero_requests(&p), &ni), 37);
    }

    #[test]
    fn least_allocated_counts_default_requests_for_bare_pods() {
        // 100m of 1000m and 200Mi of 1000Mi: (90 + 80) / 2 = 85.
        let ni = node_info("1", "1000Mi", "10", vec![]);
        assert_eq!(score(&pod_non_zero_requests(&pod("p")), &ni), 85);
    }

    #[test]
    fn least_allocated_is_zero_when_over_capacity() {
        assert_eq!(least_requested_score(5, 4), 0);
        assert_eq!(least_requested_score(0, 0), 0);
        assert_eq!(least_requested_score(0, 4), 100);
    }
}

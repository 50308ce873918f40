//! The filter and score plugins of kube-scheduler's default profile that
//! concern pods and nodes (the volume plugins and ImageLocality are not here).
//!
//! Filters run in the default profile's order; the first that rejects a node
//! decides its reasons. Each score plugin's normalized score (0..=100) is
//! multiplied by its weight in the default profile.

pub mod balanced_allocation;
pub mod inter_pod_affinity;
pub mod node_affinity;
pub mod node_name;
pub mod node_ports;
pub mod node_resources_fit;
pub mod node_unschedulable;
pub mod pod_topology_spread;
pub mod taint_toleration;

/// Score weight of TaintToleration in the default profile.
pub const TAINT_TOLERATION_WEIGHT: i64 = 3;
/// Score weight of NodeAffinity in the default profile.
pub const NODE_AFFINITY_WEIGHT: i64 = 2;
/// Score weight of PodTopologySpread in the default profile.
pub const POD_TOPOLOGY_SPREAD_WEIGHT: i64 = 2;
/// Score weight of InterPodAffinity in the default profile.
pub const INTER_POD_AFFINITY_WEIGHT: i64 = 2;
/// Score weight of NodeResourcesFit in the default profile.
pub const NODE_RESOURCES_FIT_WEIGHT: i64 = 1;
/// Score weight of NodeResourcesBalancedAllocation in the default profile.
pub const BALANCED_ALLOCATION_WEIGHT: i64 = 1;

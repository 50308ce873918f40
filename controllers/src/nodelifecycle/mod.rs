//! The node lifecycle controller: notices nodes whose kubelet went silent,
//! marks their status Unknown, taints nodes by condition, and evicts pods
//! from NoExecute-tainted nodes (Kubernetes' node lifecycle controller and
//! NoExecute taint manager, with their default settings).
//!
//! The wiring runs [`plan_node`] for every node every
//! [`NODE_MONITOR_PERIOD`] (and when a node, its Lease or its pods change),
//! keeping the returned [`NodeHealth`] per node name, and performs the
//! writes of the [`NodePlan`] in field order.
//!
//! Simplified compared with Kubernetes:
//! - no zone disruption handling: Kubernetes rate-limits NoExecute tainting
//!   per zone (0.1 node/s) and stops evicting in a zone where every node is
//!   unhealthy (a likely control-plane partition); here every node is
//!   tainted as soon as it is judged;
//! - the NoExecute taint follows the status judged in the same pass, one
//!   monitor period sooner than Kubernetes;
//! - toleration periods start at each taint's `timeAdded` rather than when
//!   the taint manager first saw the pod (see [`pod_eviction`]).

pub mod controller;
mod eviction;
mod health;
mod monitor;
mod taints;

pub use eviction::{
    plan_evictions, pod_eviction, tolerates, EvictionPlan, PodEviction, PodEvictionAction,
    DISRUPTION_TARGET, MESSAGE_DELETION_BY_TAINT_MANAGER, REASON_DELETION_BY_TAINT_MANAGER,
};
pub use health::{
    observe_node_health, HealthConfig, HealthObservation, NodeHealth,
    MESSAGE_NODE_STATUS_NEVER_UPDATED, MESSAGE_NODE_STATUS_UNKNOWN, NODE_LEASE_NAMESPACE,
    NODE_MONITOR_GRACE_PERIOD, NODE_MONITOR_PERIOD, NODE_STARTUP_GRACE_PERIOD,
    REASON_NODE_STATUS_NEVER_UPDATED, REASON_NODE_STATUS_UNKNOWN,
};
pub use monitor::{plan_node, NodeInput, NodePlan};
pub use taints::{
    no_execute_taint_key, no_schedule_taint_keys, reconcile_taints, NO_EXECUTE, NO_SCHEDULE,
    TAINT_DISK_PRESSURE, TAINT_MEMORY_PRESSURE, TAINT_NETWORK_UNAVAILABLE, TAINT_NOT_READY,
    TAINT_PID_PRESSURE, TAINT_UNREACHABLE, TAINT_UNSCHEDULABLE,
};

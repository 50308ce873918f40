//! The ReplicaSet controller's decisions, as Kubernetes' kube-controller-manager makes
//! them (`pkg/controller/replicaset`): keep `spec.replicas` active pods that match the
//! selector, and report what it sees in `status`.
//!
//! This module is pure: [`sync`] takes the ReplicaSet, the pods and ReplicaSets of its
//! namespace, whether [`ControllerExpectations`] are satisfied, and the time, and
//! returns a [`ReplicaSetPlan`]. The wiring (informers, work queue, API calls) executes
//! the plan's [`ReplicaSetAction`]s in order, keeps the expectations up to date from
//! their results and from pod watch events, records the pod events, writes the status,
//! and requeues after `requeue_after`.
//!
//! Pod watch events update expectations as in Kubernetes: a pod added with our
//! controller reference → `creation_observed`; a pod deleted, or updated to carry a
//! deletionTimestamp → `deletion_observed`; a ReplicaSet deleted → `delete`.

pub mod controller;
mod expectations;
mod pod_control;
mod ranking;
mod status;
mod sync;

pub use expectations::{ControllerExpectations, EXPECTATIONS_TIMEOUT};
pub use pod_control::{
    created_pod_event, deleted_pod_event, failed_create_event, failed_delete_event,
    pod_from_template, slow_start_batches, Event, EventType, BURST_REPLICAS, FAILED_CREATE_REASON,
    FAILED_DELETE_REASON, SLOW_START_INITIAL_BATCH_SIZE, SUCCESSFUL_CREATE_REASON,
    SUCCESSFUL_DELETE_REASON,
};
pub use ranking::pods_to_delete;
pub use status::{calculate_status, requeue_after, REPLICA_FAILURE};
pub use sync::{sync, PodToDelete, ReplicaSetAction, ReplicaSetInput, ReplicaSetPlan};

use crate::controller_ref::SelectorError;

/// Why a ReplicaSet cannot be synced. None of these heal by retrying: the object must
/// change (validation normally prevents them).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    /// The ReplicaSet has no spec.
    #[error("replica set has no spec")]
    MissingSpec,
    /// The ReplicaSet has no pod template to create pods from.
    #[error("replica set has no pod template")]
    MissingTemplate,
    /// The selector cannot be evaluated.
    #[error("invalid selector: {0}")]
    InvalidSelector(#[from] SelectorError),
}

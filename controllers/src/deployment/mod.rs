//! The Deployment controller's decisions, as Kubernetes' kube-controller-manager makes
//! them (`pkg/controller/deployment`): one ReplicaSet per pod-template version, the
//! current one scaled up and the others down by the strategy, proportional scaling
//! when the Deployment is resized mid-rollout, revision bookkeeping, history cleanup,
//! and the status with its Available and Progressing conditions.
//!
//! This module is pure: [`sync`] takes the Deployment, the ReplicaSets and pods of its
//! namespace, and the time, and returns a [`DeploymentPlan`]. The wiring executes the
//! plan's [`DeploymentAction`]s in order and stops at the first failure (requeueing
//! with backoff, as Kubernetes returns the error); when all succeed it writes the
//! revision annotation and the status if given, then requeues after `requeue_after`.
//! Two failures need a decision from here: a `CreateReplicaSet` answered with
//! AlreadyExists goes to [`resolve_create_conflict`], any other create error to
//! [`create_failed`].
//!
//! Rollback (`kubectl rollout undo`) is done by kubectl, which copies an old
//! ReplicaSet's template into the Deployment; the controller then treats that
//! ReplicaSet as the new one and gives it the next revision. Nothing else is needed
//! server-side.

mod annotations;
mod conditions;
pub mod controller;
mod hash;
mod new_replica_set;
mod progress;
mod recreate;
mod rolling;
mod scale;
mod sync;
mod util;

#[cfg(test)]
mod sim;

use std::time::Duration;

use k8s_openapi::api::apps::v1::{DeploymentStatus, ReplicaSet};

pub use annotations::{
    DESIRED_REPLICAS_ANNOTATION, MAX_REPLICAS_ANNOTATION, REVISION_ANNOTATION,
    REVISION_HISTORY_ANNOTATION,
};
pub use conditions::{
    AVAILABLE, FAILED_RS_CREATE_REASON, FOUND_NEW_RS_REASON, MINIMUM_REPLICAS_AVAILABLE,
    MINIMUM_REPLICAS_UNAVAILABLE, NEW_REPLICA_SET_REASON, NEW_RS_AVAILABLE_REASON,
    PAUSED_DEPLOY_REASON, PROGRESSING, REPLICA_FAILURE, REPLICA_SET_UPDATED_REASON,
    RESUMED_DEPLOY_REASON, TIMED_OUT_REASON,
};
pub use hash::{compute_hash, equal_ignore_hash, safe_encode};
pub use new_replica_set::{create_failed, resolve_create_conflict, CreateConflict};
pub use sync::{sync, DeploymentInput};
pub use util::{max_surge, max_unavailable, POD_TEMPLATE_HASH_LABEL};

use crate::controller_ref::{ControllerRefChange, SelectorError};
use crate::replicaset::Event;

/// Reason of the event for every ReplicaSet resize.
pub const SCALING_REPLICA_SET_REASON: &str = "ScalingReplicaSet";
/// Reason of the warning for a Deployment with an empty selector.
pub const SELECTING_ALL_REASON: &str = "SelectingAll";

/// One step of a Deployment plan.
#[derive(Debug, Clone, PartialEq)]
pub enum DeploymentAction {
    /// Add the Deployment's controller reference to an orphan ReplicaSet that matches
    /// (re-read the Deployment first and skip if it is gone or being deleted).
    AdoptReplicaSet(ControllerRefChange),
    /// Remove the Deployment's controller reference from a ReplicaSet that no longer
    /// matches; NotFound counts as done.
    ReleaseReplicaSet(ControllerRefChange),
    /// Create this ReplicaSet; on success record `events`.
    CreateReplicaSet {
        /// The ReplicaSet, named `<deployment>-<pod-template-hash>`.
        replica_set: Box<ReplicaSet>,
        /// `Scaled up replica set NAME from 0 to N` when created with pods.
        events: Vec<Event>,
    },
    /// Replace this ReplicaSet (spec.replicas, annotations, minReadySeconds changed;
    /// its resourceVersion makes the write conditional); on success record `events`.
    /// A plan writes each ReplicaSet at most once: later changes in the same sync are
    /// folded into the earlier action, so its resourceVersion is still current.
    UpdateReplicaSet {
        /// The ReplicaSet as it should be.
        replica_set: Box<ReplicaSet>,
        /// `Scaled up|down replica set NAME from M to N`, one per size change.
        events: Vec<Event>,
    },
    /// Delete an old ReplicaSet beyond revisionHistoryLimit (NotFound counts as done).
    DeleteReplicaSet {
        /// Its name.
        name: String,
        /// Its UID, a delete precondition.
        uid: String,
    },
    /// Record an event on the Deployment.
    RecordEvent(Event),
}

/// The outcome of one Deployment sync.
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentPlan {
    /// Steps to execute in order, stopping at the first failure.
    pub actions: Vec<DeploymentAction>,
    /// New value of the Deployment's `deployment.kubernetes.io/revision` annotation,
    /// when it changes. Kubernetes writes it together with the status (its status
    /// update keeps metadata annotations); a separate metadata patch works as well.
    pub revision: Option<String>,
    /// The status to write, when it differs from the current one.
    pub status: Option<DeploymentStatus>,
    /// Sync again after this long to check progressDeadlineSeconds (zero: now, with
    /// rate limiting).
    pub requeue_after: Option<Duration>,
}

/// Why a Deployment cannot be synced; validation normally prevents all of them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    /// The Deployment has no spec.
    #[error("deployment has no spec")]
    MissingSpec,
    /// A maxSurge/maxUnavailable string that is not a percentage.
    #[error("invalid value {0:?}: not an integer or percentage")]
    InvalidIntOrPercent(String),
    /// A strategy type other than RollingUpdate or Recreate.
    #[error("deployment strategy {0:?} isn't supported")]
    UnsupportedStrategy(String),
    /// The selector cannot be evaluated.
    #[error("invalid selector: {0}")]
    InvalidSelector(#[from] SelectorError),
}

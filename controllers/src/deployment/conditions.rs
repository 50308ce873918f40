//! Deployment conditions: their reasons, Kubernetes' messages, and the rule for
//! lastUpdateTime / lastTransitionTime.

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{DeploymentCondition, DeploymentStatus, ReplicaSetCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// Condition type: enough pods are available.
pub const AVAILABLE: &str = "Available";
/// Condition type: the rollout moves (or finished, or is stuck).
pub const PROGRESSING: &str = "Progressing";
/// Condition type: a ReplicaSet cannot create or delete pods.
pub const REPLICA_FAILURE: &str = "ReplicaFailure";

/// Progressing: a ReplicaSet was scaled as part of the rollout.
pub const REPLICA_SET_UPDATED_REASON: &str = "ReplicaSetUpdated";
/// Progressing: the new ReplicaSet could not be created.
pub const FAILED_RS_CREATE_REASON: &str = "ReplicaSetCreateError";
/// Progressing: the controller created the new ReplicaSet.
pub const NEW_REPLICA_SET_REASON: &str = "NewReplicaSetCreated";
/// Progressing: the controller found an existing new ReplicaSet.
pub const FOUND_NEW_RS_REASON: &str = "FoundNewReplicaSet";
/// Progressing: the rollout completed.
pub const NEW_RS_AVAILABLE_REASON: &str = "NewReplicaSetAvailable";
/// Progressing (False): no progress within progressDeadlineSeconds.
pub const TIMED_OUT_REASON: &str = "ProgressDeadlineExceeded";
/// Progressing (Unknown): paused, so the deadline is not counted.
pub const PAUSED_DEPLOY_REASON: &str = "DeploymentPaused";
/// Progressing (Unknown): resumed; the deadline counts from now.
pub const RESUMED_DEPLOY_REASON: &str = "DeploymentResumed";
/// Available (True).
pub const MINIMUM_REPLICAS_AVAILABLE: &str = "MinimumReplicasAvailable";
/// Available (False).
pub const MINIMUM_REPLICAS_UNAVAILABLE: &str = "MinimumReplicasUnavailable";

/// A condition stamped `now` for both times (Kubernetes' `NewDeploymentCondition`).
pub fn new_condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: String,
    now: Timestamp,
) -> DeploymentCondition {
    DeploymentCondition {
        type_: type_.to_string(),
        status: status.to_string(),
        reason: Some(reason.to_string()),
        message: Some(message),
        last_update_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

/// The condition of `type_`, if present.
pub fn get_condition<'a>(
    status: &'a DeploymentStatus,
    type_: &str,
) -> Option<&'a DeploymentCondition> {
    status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == type_)
}

/// Sets a condition (Kubernetes' `SetDeploymentCondition`): nothing changes if one of
/// that type already has the same status and reason (so its times stay); a change of
/// reason under the same status keeps lastTransitionTime. The condition moves to the
/// end of the list.
pub fn set_condition(status: &mut DeploymentStatus, mut condition: DeploymentCondition) {
    if let Some(current) = get_condition(status, &condition.type_) {
        if current.status == condition.status && current.reason == condition.reason {
            return;
        }
        if current.status == condition.status {
            condition.last_transition_time = current.last_transition_time.clone();
        }
    }
    remove_condition(status, &condition.type_);
    status
        .conditions
        .get_or_insert_with(Vec::new)
        .push(condition);
}

/// Removes the condition of `type_`; an emptied list becomes absent.
pub fn remove_condition(status: &mut DeploymentStatus, type_: &str) {
    if let Some(conditions) = status.conditions.as_mut() {
        conditions.retain(|c| c.type_ != type_);
        if conditions.is_empty() {
            status.conditions = None;
        }
    }
}

/// A ReplicaSet's failure condition as a Deployment condition, both times taken from
/// its transition (Kubernetes' `ReplicaSetToDeploymentCondition`).
pub fn from_replica_set_condition(c: &ReplicaSetCondition) -> DeploymentCondition {
    DeploymentCondition {
        type_: c.type_.clone(),
        status: c.status.clone(),
        reason: c.reason.clone(),
        message: c.message.clone(),
        last_update_time: c.last_transition_time.clone(),
        last_transition_time: c.last_transition_time.clone(),
    }
}

/// `Created new replica set "NAME"`.
pub fn created_message(rs_name: &str) -> String {
    format!("Created new replica set \"{rs_name}\"")
}

/// `Found new replica set "NAME"`.
pub fn found_message(rs_name: &str) -> String {
    format!("Found new replica set \"{rs_name}\"")
}

/// `Failed to create new replica set "NAME": ERROR`.
pub fn failed_create_message(rs_name: &str, error: &str) -> String {
    format!("Failed to create new replica set \"{rs_name}\": {error}")
}

/// `ReplicaSet "NAME" has successfully progressed.` (or the Deployment's name when
/// there is no new ReplicaSet).
pub fn progressed_message(kind_name: &Subject<'_>) -> String {
    format!("{} has successfully progressed.", kind_name.quoted())
}

/// `ReplicaSet "NAME" is progressing.`
pub fn progressing_message(kind_name: &Subject<'_>) -> String {
    format!("{} is progressing.", kind_name.quoted())
}

/// `ReplicaSet "NAME" has timed out progressing.`
pub fn timed_out_message(kind_name: &Subject<'_>) -> String {
    format!("{} has timed out progressing.", kind_name.quoted())
}

/// Whom a Progressing message names: the new ReplicaSet, else the Deployment.
pub enum Subject<'a> {
    /// The new ReplicaSet.
    ReplicaSet(&'a str),
    /// The Deployment (no new ReplicaSet yet).
    Deployment(&'a str),
}

impl Subject<'_> {
    fn quoted(&self) -> String {
        match self {
            Subject::ReplicaSet(n) => format!("ReplicaSet \"{n}\""),
            Subject::Deployment(n) => format!("Deployment \"{n}\""),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    #[test]
    fn same_status_and_reason_keeps_both_times() {
        let mut status = DeploymentStatus::default();
        set_condition(
            &mut status,
            new_condition(
                AVAILABLE,
                "True",
                MINIMUM_REPLICAS_AVAILABLE,
                "a".into(),
                at(1),
            ),
        );
        set_condition(
            &mut status,
            new_condition(
                AVAILABLE,
                "True",
                MINIMUM_REPLICAS_AVAILABLE,
                "a".into(),
                at(9),
            ),
        );
        let c = get_condition(&status, AVAILABLE).expect("set");
        assert_eq!(c.last_update_time, Some(Time(at(1))));
    }

    #[test]
    fn new_reason_same_status_keeps_transition_time_only() {
        let mut status = DeploymentStatus::default();
        set_condition(
            &mut status,
            new_condition(
                PROGRESSING,
                "True",
                NEW_REPLICA_SET_REASON,
                "x".into(),
                at(1),
            ),
        );
        set_condition(
            &mut status,
            new_condition(
                PROGRESSING,
                "True",
                REPLICA_SET_UPDATED_REASON,
                "y".into(),
                at(5),
            ),
        );
        let c = get_condition(&status, PROGRESSING).expect("set");
        assert_eq!(c.last_transition_time, Some(Time(at(1))));
        assert_eq!(c.last_update_time, Some(Time(at(5))));
        set_condition(
            &mut status,
            new_condition(PROGRESSING, "False", TIMED_OUT_REASON, "z".into(), at(7)),
        );
        let c = get_condition(&status, PROGRESSING).expect("set");
        assert_eq!(c.last_transition_time, Some(Time(at(7))));
    }

    #[test]
    fn messages_match_kubernetes() {
        assert_eq!(
            progressed_message(&Subject::ReplicaSet("web-abc")),
            "ReplicaSet \"web-abc\" has successfully progressed."
        );
        assert_eq!(
            timed_out_message(&Subject::Deployment("web")),
            "Deployment \"web\" has timed out progressing."
        );
    }
}

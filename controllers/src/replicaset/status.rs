//! The ReplicaSet status the controller writes after each sync (Kubernetes'
//! `calculateStatus` in replica_set_utils).

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetCondition, ReplicaSetStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::pod_control::{FAILED_CREATE_REASON, FAILED_DELETE_REASON};
use crate::controller_ref::selector_matches;
use crate::pod_util;

/// Condition type set while pods cannot be created or deleted.
pub const REPLICA_FAILURE: &str = "ReplicaFailure";

/// The status for `rs` given its claimed active `pods`.
///
/// - `replicas`: active pods owned;
/// - `fullyLabeledReplicas`: of those, pods carrying every label of the template (the
///   Deployment controller relies on it when relabeling);
/// - `readyReplicas`, `availableReplicas`: ready, and ready for at least
///   `minReadySeconds`;
/// - `observedGeneration`: the generation this sync acted on;
/// - `ReplicaFailure`: set with reason FailedCreate/FailedDelete and the error text
///   when `manage_error` is given and no such condition exists yet; removed after a
///   sync without error.
pub fn calculate_status(
    rs: &ReplicaSet,
    pods: &[&Pod],
    manage_error: Option<&str>,
    now: Timestamp,
) -> ReplicaSetStatus {
    let mut status = rs.status.clone().unwrap_or_default();
    let spec = rs.spec.as_ref();
    let min_ready = spec.and_then(|s| s.min_ready_seconds).unwrap_or(0);
    let desired = spec.and_then(|s| s.replicas).unwrap_or(1);
    let template_labels = spec
        .and_then(|s| s.template.as_ref())
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let template_selector = k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
        match_labels: Some(template_labels),
        match_expressions: None,
    };

    let (mut fully_labeled, mut ready, mut available) = (0, 0, 0);
    for pod in pods {
        // A selector built from plain labels is always valid.
        if selector_matches(&template_selector, pod.metadata.labels.as_ref()).unwrap_or(false) {
            fully_labeled += 1;
        }
        if pod_util::is_pod_ready(pod) {
            ready += 1;
            if pod_util::is_pod_available(pod, min_ready, now) {
                available += 1;
            }
        }
    }

    let count = i32::try_from(pods.len()).unwrap_or(i32::MAX);
    let has_failure = failure_condition(&status).is_some();
    match manage_error {
        Some(error) if !has_failure => {
            let reason = match count.cmp(&desired) {
                std::cmp::Ordering::Less => Some(FAILED_CREATE_REASON),
                std::cmp::Ordering::Greater => Some(FAILED_DELETE_REASON),
                std::cmp::Ordering::Equal => None,
            };
            let condition = ReplicaSetCondition {
                type_: REPLICA_FAILURE.into(),
                status: "True".into(),
                reason: reason.map(str::to_string),
                message: Some(error.to_string()),
                last_transition_time: Some(Time(now)),
            };
            let mut conditions: Vec<ReplicaSetCondition> = status
                .conditions
                .take()
                .unwrap_or_default()
                .into_iter()
                .filter(|c| c.type_ != REPLICA_FAILURE)
                .collect();
            conditions.push(condition);
            status.conditions = Some(conditions);
        }
        None if has_failure => {
            let conditions: Vec<ReplicaSetCondition> = status
                .conditions
                .take()
                .unwrap_or_default()
                .into_iter()
                .filter(|c| c.type_ != REPLICA_FAILURE)
                .collect();
            status.conditions = (!conditions.is_empty()).then_some(conditions);
        }
        _ => {}
    }

    // Kubernetes omits zero counts (omitempty), except the required `replicas`.
    let nz = |v: i32| (v != 0).then_some(v);
    status.replicas = count;
    status.fully_labeled_replicas = nz(fully_labeled);
    status.ready_replicas = nz(ready);
    status.available_replicas = nz(available);
    status.observed_generation = rs.metadata.generation;
    status
}

fn failure_condition(status: &ReplicaSetStatus) -> Option<&ReplicaSetCondition> {
    status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == REPLICA_FAILURE)
}

/// When to sync again so pods that are ready but not yet available get counted:
/// after `minReadySeconds`, when the sync succeeded, every desired pod is ready and not
/// every one is available (Kubernetes requeues exactly then).
pub fn requeue_after(rs: &ReplicaSet, status: &ReplicaSetStatus) -> Option<Duration> {
    let spec = rs.spec.as_ref()?;
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    let desired = spec.replicas.unwrap_or(1);
    let ready = status.ready_replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    (min_ready > 0 && ready == desired && available != desired)
        .then(|| Duration::from_secs(u64::try_from(min_ready).unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::ReplicaSetSpec;
    use k8s_openapi::api::core::v1::{PodCondition, PodStatus, PodTemplateSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use std::collections::BTreeMap;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn rs(replicas: i32, min_ready: i32) -> ReplicaSet {
        ReplicaSet {
            metadata: ObjectMeta {
                name: Some("web".into()),
                generation: Some(4),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(replicas),
                min_ready_seconds: Some(min_ready),
                template: Some(PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(labels(&[("app", "web"), ("tier", "front")])),
                        ..Default::default()
                    }),
                    spec: None,
                }),
                ..Default::default()
            }),
            status: None,
        }
    }

    fn pod(l: &[(&str, &str)], ready_at: Option<i64>) -> Pod {
        Pod {
            metadata: ObjectMeta {
                labels: Some(labels(l)),
                ..Default::default()
            },
            spec: None,
            status: Some(PodStatus {
                phase: Some("Running".into()),
                conditions: ready_at.map(|s| {
                    vec![PodCondition {
                        type_: "Ready".into(),
                        status: "True".into(),
                        last_transition_time: Some(Time(Timestamp::from_second(s).unwrap())),
                        ..Default::default()
                    }]
                }),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn counts_labeled_ready_and_available_pods() {
        let full = [("app", "web"), ("tier", "front")];
        let pods = [
            pod(&full, Some(0)),
            pod(&full, Some(95)),
            pod(&[("app", "web")], None),
        ];
        let refs: Vec<&Pod> = pods.iter().collect();
        let now = Timestamp::from_second(100).unwrap();
        let status = calculate_status(&rs(3, 10), &refs, None, now);
        assert_eq!(status.replicas, 3);
        assert_eq!(status.fully_labeled_replicas, Some(2));
        assert_eq!(status.ready_replicas, Some(2));
        assert_eq!(status.available_replicas, Some(1));
        assert_eq!(status.observed_generation, Some(4));
    }

    #[test]
    fn create_error_sets_replica_failure_and_success_clears_it() {
        let now = Timestamp::from_second(100).unwrap();
        let mut set = rs(2, 0);
        let status = calculate_status(&set, &[], Some("quota exceeded"), now);
        let cond = &status.conditions.clone().expect("conditions")[0];
        assert_eq!(cond.type_, REPLICA_FAILURE);
        assert_eq!(cond.reason.as_deref(), Some("FailedCreate"));
        assert_eq!(cond.message.as_deref(), Some("quota exceeded"));
        set.status = Some(status);
        let cleared = calculate_status(&set, &[], None, now);
        assert_eq!(cleared.conditions, None);
    }

    #[test]
    fn requeues_after_min_ready_seconds_while_ready_pods_wait_to_be_available() {
        let set = rs(1, 30);
        let pods = [pod(&[("app", "web")], Some(90))];
        let refs: Vec<&Pod> = pods.iter().collect();
        let status = calculate_status(&set, &refs, None, Timestamp::from_second(100).unwrap());
        assert_eq!(requeue_after(&set, &status), Some(Duration::from_secs(30)));
    }
}

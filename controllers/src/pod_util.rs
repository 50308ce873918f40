//! Pod predicates the workload controllers share: active, ready, available
//! (Kubernetes' `IsPodActive`, `IsPodReady`, `IsPodAvailable`).

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::Pod;

/// Annotation by which users rank pods for scale-down (Kubernetes' PodDeletionCost,
/// enabled by default): lower cost is deleted first.
pub const POD_DELETION_COST_ANNOTATION: &str = "controller.kubernetes.io/pod-deletion-cost";

/// The pod's phase as written, "" when unset.
pub fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

/// Whether the pod counts toward a controller's replicas: not in a terminal phase
/// (Succeeded/Failed) and not being deleted.
pub fn is_pod_active(pod: &Pod) -> bool {
    let phase = phase(pod);
    phase != "Succeeded" && phase != "Failed" && pod.metadata.deletion_timestamp.is_none()
}

/// Whether the pod's Ready condition is True.
pub fn is_pod_ready(pod: &Pod) -> bool {
    ready_condition(pod).is_some_and(|c| c.status == "True")
}

/// When the pod became ready: the Ready condition's lastTransitionTime, if the pod is
/// ready and the time is recorded.
pub fn ready_since(pod: &Pod) -> Option<Timestamp> {
    ready_condition(pod)
        .filter(|c| c.status == "True")
        .and_then(|c| c.last_transition_time.as_ref())
        .map(|t| t.0)
}

fn ready_condition(pod: &Pod) -> Option<&k8s_openapi::api::core::v1::PodCondition> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
}

/// Whether the pod is available: ready, and ready for more than `min_ready_seconds`
/// by `now`. With `min_ready_seconds == 0` readiness alone suffices; otherwise a ready
/// pod without a recorded transition time is not yet available (Kubernetes'
/// `IsPodAvailable`).
pub fn is_pod_available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> bool {
    if !is_pod_ready(pod) {
        return false;
    }
    if min_ready_seconds <= 0 {
        return true;
    }
    ready_since(pod).is_some_and(|since| {
        now.duration_since(since) > SignedDuration::from_secs(i64::from(min_ready_seconds))
    })
}

/// How long until a ready pod becomes available, if it is ready but not yet available.
pub fn time_until_available(
    pod: &Pod,
    min_ready_seconds: i32,
    now: Timestamp,
) -> Option<SignedDuration> {
    if min_ready_seconds <= 0 || is_pod_available(pod, min_ready_seconds, now) {
        return None;
    }
    let since = ready_since(pod)?;
    let left = SignedDuration::from_secs(i64::from(min_ready_seconds)) - now.duration_since(since);
    Some(left.max(SignedDuration::ZERO))
}

/// The highest restart count among the pod's containers.
pub fn max_container_restarts(pod: &Pod) -> i32 {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .map(|c| c.restart_count)
        .max()
        .unwrap_or(0)
}

/// The pod's deletion cost; absent or unparsable reads as 0, as in Kubernetes (the
/// apiserver validates the annotation, so a bad value only comes from old objects).
pub fn deletion_cost(pod: &Pod) -> i32 {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(POD_DELETION_COST_ANNOTATION))
        .and_then(|v| v.parse::<i32>().ok())
        .unwrap_or(0)
}

/// The pod's `namespace/name` key, as controllers key their expectations.
pub fn pod_key(pod: &Pod) -> String {
    format!(
        "{}/{}",
        pod.metadata.namespace.as_deref().unwrap_or_default(),
        pod.metadata.name.as_deref().unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn ready_pod(since: Timestamp) -> Pod {
        Pod {
            status: Some(PodStatus {
                phase: Some("Running".into()),
                conditions: Some(vec![PodCondition {
                    type_: "Ready".into(),
                    status: "True".into(),
                    last_transition_time: Some(Time(since)),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn ready_pod_is_available_only_after_min_ready_seconds() {
        let t0 = Timestamp::from_second(1_000).unwrap();
        let pod = ready_pod(t0);
        let at = |s: i64| Timestamp::from_second(1_000 + s).unwrap();
        assert!(is_pod_available(&pod, 0, t0));
        assert!(!is_pod_available(&pod, 10, at(10)));
        assert!(is_pod_available(&pod, 10, at(11)));
        assert_eq!(
            time_until_available(&pod, 10, at(4)),
            Some(SignedDuration::from_secs(6))
        );
    }

    #[test]
    fn terminal_and_deleting_pods_are_inactive() {
        let mut pod = ready_pod(Timestamp::UNIX_EPOCH);
        assert!(is_pod_active(&pod));
        pod.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        assert!(!is_pod_active(&pod));
        let mut done = ready_pod(Timestamp::UNIX_EPOCH);
        if let Some(s) = done.status.as_mut() {
            s.phase = Some("Succeeded".into());
        }
        assert!(!is_pod_active(&done));
    }
}

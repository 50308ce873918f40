//! Taint-based eviction (Kubernetes' NoExecute taint manager): a pod on a
//! node with NoExecute taints is deleted at once if it does not tolerate them
//! all, after the shortest `tolerationSeconds` of the tolerations it relies
//! on, or never if it tolerates them all indefinitely.
//!
//! The API server's DefaultTolerationSeconds admission gives every pod
//! `not-ready` and `unreachable` NoExecute tolerations of 300 s, which is why
//! pods leave a dead node five minutes after it is tainted.

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::{Pod, PodCondition, Taint, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::taints::NO_EXECUTE;

/// Condition type added to a pod before the taint manager deletes it, so its
/// owner and users can tell why it went away.
pub const DISRUPTION_TARGET: &str = "DisruptionTarget";
/// Reason of [`DISRUPTION_TARGET`] set by the taint manager.
pub const REASON_DELETION_BY_TAINT_MANAGER: &str = "DeletionByTaintManager";
/// Message of [`DISRUPTION_TARGET`] set by the taint manager.
pub const MESSAGE_DELETION_BY_TAINT_MANAGER: &str =
    "Taint manager: deleting due to NoExecute taint";

/// Kubernetes' `Toleration.ToleratesTaint`: an empty effect matches every
/// effect, an empty key (with `Exists`) every key; `Equal` (the default
/// operator) also compares values.
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    let effect = toleration.effect.as_deref().unwrap_or_default();
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = toleration.key.as_deref().unwrap_or_default();
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or_default() {
        "" | "Equal" => {
            toleration.value.as_deref().unwrap_or_default()
                == taint.value.as_deref().unwrap_or_default()
        }
        "Exists" => true,
        _ => false,
    }
}

/// When a pod has to leave a tainted node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodEviction {
    /// Every NoExecute taint is tolerated without a time limit (or there are none).
    Keep,
    /// Some taint is not tolerated, or tolerated for zero seconds.
    Now,
    /// Tolerated until this time.
    At(Timestamp),
}

/// Decides one pod against the node's taints (non-NoExecute ones are
/// ignored). For each taint the pod's first matching toleration is the one
/// it relies on (Kubernetes' `GetMatchingTolerations`); the pod must go when
/// the earliest of `taint start + tolerationSeconds` passes. A taint's start
/// is its `timeAdded`, or `untimed_since` (when this controller first saw the
/// node tainted) for taints written without one.
///
/// Kubernetes starts every limit at the moment its taint manager first sees
/// the pod under NoExecute taints; starting each limit at its taint's
/// `timeAdded` gives the same answer for the usual single taint and makes the
/// decision a pure function of the objects.
pub fn pod_eviction(pod: &Pod, taints: &[Taint], untimed_since: Timestamp) -> PodEviction {
    let tolerations: &[Toleration] = pod
        .spec
        .as_ref()
        .and_then(|spec| spec.tolerations.as_deref())
        .unwrap_or_default();
    let mut deadline: Option<Timestamp> = None;
    for taint in taints.iter().filter(|t| t.effect == NO_EXECUTE) {
        let Some(toleration) = tolerations.iter().find(|t| tolerates(t, taint)) else {
            return PodEviction::Now;
        };
        let Some(seconds) = toleration.toleration_seconds else {
            continue;
        };
        if seconds <= 0 {
            return PodEviction::Now;
        }
        let start = taint.time_added.as_ref().map_or(untimed_since, |t| t.0);
        // A limit beyond the representable range never expires.
        let Ok(until) = start.checked_add(SignedDuration::from_secs(seconds)) else {
            continue;
        };
        deadline = Some(deadline.map_or(until, |d| d.min(until)));
    }
    deadline.map_or(PodEviction::Keep, PodEviction::At)
}

/// A pod the taint manager deletes now.
#[derive(Clone, Debug, PartialEq)]
pub struct PodEvictionAction {
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's name.
    pub name: String,
    /// The pod's uid, for a delete precondition (never delete a same-named successor).
    pub uid: Option<String>,
    /// The `DisruptionTarget` condition to add to the pod's status before
    /// deleting it.
    pub condition: PodCondition,
}

/// The taint manager's plan for one node.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EvictionPlan {
    /// Pods to delete now.
    pub evict: Vec<PodEvictionAction>,
    /// When the earliest tolerated pod runs out of time: evaluate the node
    /// again then.
    pub next_check: Option<Timestamp>,
}

/// Applies [`pod_eviction`] to the pods of node `node_name` at `now`. Pods of
/// other nodes and pods already being deleted are skipped.
pub fn plan_evictions(
    node_name: &str,
    taints: &[Taint],
    pods: &[Pod],
    now: Timestamp,
    untimed_since: Timestamp,
) -> EvictionPlan {
    let mut plan = EvictionPlan::default();
    if !taints.iter().any(|t| t.effect == NO_EXECUTE) {
        return plan;
    }
    for pod in pods {
        let on_node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node_name);
        if !on_node || pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let due = match pod_eviction(pod, taints, untimed_since) {
            PodEviction::Keep => false,
            PodEviction::Now => true,
            PodEviction::At(at) if at <= now => true,
            PodEviction::At(at) => {
                plan.next_check = Some(plan.next_check.map_or(at, |n| n.min(at)));
                false
            }
        };
        if due {
            plan.evict.push(PodEvictionAction {
                namespace: pod.metadata.namespace.clone().unwrap_or_default(),
                name: pod.metadata.name.clone().unwrap_or_default(),
                uid: pod.metadata.uid.clone(),
                condition: PodCondition {
                    type_: DISRUPTION_TARGET.to_owned(),
                    status: "True".to_owned(),
                    reason: Some(REASON_DELETION_BY_TAINT_MANAGER.to_owned()),
                    message: Some(MESSAGE_DELETION_BY_TAINT_MANAGER.to_owned()),
                    last_transition_time: Some(Time(now)),
                    ..PodCondition::default()
                },
            });
        }
    }
    plan
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::endpoints::pod::tests::pod;
    use crate::nodelifecycle::health::tests::at;
    use crate::nodelifecycle::taints::{TAINT_NOT_READY, TAINT_UNREACHABLE};

    /// The tolerations DefaultTolerationSeconds admission adds to every pod.
    pub(crate) fn default_tolerations() -> Vec<Toleration> {
        [TAINT_NOT_READY, TAINT_UNREACHABLE]
            .into_iter()
            .map(|key| Toleration {
                key: Some(key.to_owned()),
                operator: Some("Exists".to_owned()),
                effect: Some(NO_EXECUTE.to_owned()),
                toleration_seconds: Some(300),
                value: None,
            })
            .collect()
    }

    pub(crate) fn with_tolerations(mut p: Pod, tolerations: Vec<Toleration>) -> Pod {
        if let Some(spec) = p.spec.as_mut() {
            spec.tolerations = Some(tolerations);
        }
        p
    }

    fn unreachable_since(seconds: i64) -> Taint {
        Taint {
            key: TAINT_UNREACHABLE.to_owned(),
            effect: NO_EXECUTE.to_owned(),
            time_added: Some(Time(at(seconds))),
            value: None,
        }
    }

    fn names(plan: &EvictionPlan) -> Vec<&str> {
        plan.evict.iter().map(|e| e.name.as_str()).collect()
    }

    #[test]
    fn default_tolerations_evict_three_hundred_seconds_after_the_taint() {
        let p = with_tolerations(pod("a", "10.0.0.1", true), default_tolerations());
        let taints = [unreachable_since(100)];
        let early = plan_evictions("node-a", &taints, std::slice::from_ref(&p), at(399), at(0));
        assert!(early.evict.is_empty());
        assert_eq!(early.next_check, Some(at(400)));
        let due = plan_evictions("node-a", &taints, &[p], at(400), at(0));
        assert_eq!(names(&due), ["a"]);
        assert_eq!(
            due.evict[0].condition.reason.as_deref(),
            Some("DeletionByTaintManager")
        );
        assert_eq!(due.next_check, None);
    }

    #[test]
    fn pod_without_toleration_is_evicted_immediately() {
        let p = pod("a", "10.0.0.1", true);
        let plan = plan_evictions("node-a", &[unreachable_since(100)], &[p], at(100), at(0));
        assert_eq!(names(&plan), ["a"]);
    }

    #[test]
    fn toleration_without_seconds_keeps_the_pod_forever() {
        let forever = Toleration {
            operator: Some("Exists".to_owned()),
            ..Toleration::default()
        };
        let p = with_tolerations(pod("a", "10.0.0.1", true), vec![forever]);
        assert_eq!(
            pod_eviction(&p, &[unreachable_since(0)], at(0)),
            PodEviction::Keep
        );
        let plan = plan_evictions("node-a", &[unreachable_since(0)], &[p], at(99_999), at(0));
        assert!(plan.evict.is_empty() && plan.next_check.is_none());
    }

    #[test]
    fn no_schedule_taints_evict_nobody() {
        let taint = Taint {
            effect: "NoSchedule".to_owned(),
            ..unreachable_since(0)
        };
        let plan = plan_evictions(
            "node-a",
            &[taint],
            &[pod("a", "10.0.0.1", true)],
            at(1),
            at(0),
        );
        assert!(plan.evict.is_empty());
    }

    #[test]
    fn equal_operator_compares_values() {
        let taint = Taint {
            key: "dedicated".to_owned(),
            value: Some("gpu".to_owned()),
            effect: NO_EXECUTE.to_owned(),
            time_added: None,
        };
        let mut toleration = Toleration {
            key: Some("dedicated".to_owned()),
            value: Some("gpu".to_owned()),
            ..Toleration::default()
        };
        assert!(tolerates(&toleration, &taint));
        toleration.value = Some("cpu".to_owned());
        assert!(!tolerates(&toleration, &taint));
    }
}

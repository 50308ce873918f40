//! One pass of the node lifecycle controller over one node (Kubernetes'
//! `monitorNodeHealth` for that node, plus its NoSchedule tainting pass and
//! the taint manager's decisions for the node's pods), as a plan of writes.

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition, Pod, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::eviction::{plan_evictions, EvictionPlan};
use super::health::{observe_node_health, HealthConfig, NodeHealth};
use super::taints::{reconcile_taints, NO_EXECUTE};

/// What one pass reads about a node.
#[derive(Clone, Copy, Debug)]
pub struct NodeInput<'a> {
    /// The node as the informer has it.
    pub node: &'a Node,
    /// Its Lease in `kube-node-lease`, if any.
    pub lease: Option<&'a Lease>,
    /// The pods bound to it (`spec.nodeName`); others are ignored.
    pub pods: &'a [Pod],
    /// The state the previous pass returned for this node.
    pub previous: Option<&'a NodeHealth>,
    /// The controller's clock.
    pub now: Timestamp,
}

/// The writes one pass asks for, in the order the wiring performs them.
#[derive(Clone, Debug, PartialEq)]
pub struct NodePlan {
    /// State to pass back next time (keep it even when a write fails: the
    /// next pass recomputes and retries every write).
    pub health: NodeHealth,
    /// 1. New `status.conditions` for the node (UpdateStatus), if changed.
    pub status_conditions: Option<Vec<NodeCondition>>,
    /// 2. New `spec.taints` for the node, if changed.
    pub taints: Option<Vec<Taint>>,
    /// 3. Pods to write back with their Ready condition False
    ///    (Kubernetes' `MarkPodsNotReady`), each an updated copy for
    ///    UpdateStatus that keeps the read resourceVersion.
    pub pods_not_ready: Vec<Pod>,
    /// 4. Pods to evict now, and when to look again.
    pub evictions: EvictionPlan,
    /// When the wiring should run the next pass for this node at the latest:
    /// the earliest of the moment it turns stale and the next eviction.
    /// Kubernetes simply re-runs every node each `node-monitor-period` (5 s);
    /// doing so is always correct too.
    pub recheck_at: Option<Timestamp>,
}

/// Pods on an unreachable node whose Ready condition still says otherwise,
/// returned with Ready=False. The kubelet cannot report on them any more,
/// so Services must stop sending them traffic.
fn mark_pods_not_ready(node_name: &str, pods: &[Pod], now: Timestamp) -> Vec<Pod> {
    let mut updated = Vec::new();
    for pod in pods {
        let on_node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node_name);
        if !on_node {
            continue;
        }
        let mut pod = pod.clone();
        let ready = pod
            .status
            .as_mut()
            .and_then(|status| status.conditions.as_mut())
            .and_then(|conditions| conditions.iter_mut().find(|c| c.type_ == "Ready"));
        // Pods without a Ready condition are left alone, as in Kubernetes.
        if let Some(ready) = ready {
            if ready.status != "False" {
                ready.status = "False".to_owned();
                ready.last_transition_time = Some(Time(now));
                updated.push(pod);
            }
        }
    }
    updated
}

/// Plans one pass over one node.
///
/// 1. Judge health ([`observe_node_health`]): a stale node's conditions
///    become Unknown.
/// 2. Bring the controller's taints in line with the judged conditions
///    ([`reconcile_taints`]).
/// 3. If Ready is Unknown (this controller lost the kubelet), mark the
///    node's pods not ready. Kubernetes does so once, on the transition;
///    planning it whenever a pod is still Ready is the same result and also
///    retries a failed write.
/// 4. Evict pods per the resulting NoExecute taints ([`plan_evictions`]).
///
/// Unlike Kubernetes, the NoExecute taint is planned in the same pass as the
/// Unknown status (Kubernetes taints on the pass after) and is not
/// rate-limited per zone; see the module documentation.
pub fn plan_node(input: NodeInput<'_>, config: &HealthConfig) -> NodePlan {
    let NodeInput {
        node,
        lease,
        pods,
        previous,
        now,
    } = input;
    let observation = observe_node_health(node, lease, previous, now, config);
    let mut health = observation.health;
    let node_name = node.metadata.name.as_deref().unwrap_or_default();

    let spec = node.spec.as_ref();
    let current_taints: &[Taint] = spec.and_then(|s| s.taints.as_deref()).unwrap_or_default();
    let unschedulable = spec.and_then(|s| s.unschedulable).unwrap_or(false);
    let new_taints = reconcile_taints(current_taints, &observation.conditions, unschedulable, now);
    let taints = new_taints.as_deref().unwrap_or(current_taints);

    let ready = observation.conditions.iter().find(|c| c.type_ == "Ready");
    let unreachable = ready.is_some_and(|c| c.status == "Unknown");
    let pods_not_ready = if unreachable {
        mark_pods_not_ready(node_name, pods, now)
    } else {
        Vec::new()
    };

    health.no_execute_since = if taints.iter().any(|t| t.effect == NO_EXECUTE) {
        Some(health.no_execute_since.unwrap_or(now))
    } else {
        None
    };
    let untimed_since = health.no_execute_since.unwrap_or(now);
    let evictions = plan_evictions(node_name, taints, pods, now, untimed_since);

    let recheck_at = match (observation.stale_at, evictions.next_check) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    NodePlan {
        health,
        status_conditions: observation.status_changed.then_some(observation.conditions),
        taints: new_taints,
        pods_not_ready,
        evictions,
        recheck_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints::pod::tests::pod;
    use crate::nodelifecycle::eviction::tests::{default_tolerations, with_tolerations};
    use crate::nodelifecycle::health::tests::{at, lease, node};
    use crate::nodelifecycle::taints::TAINT_UNREACHABLE;

    /// Runs passes at the given seconds with a lease last renewed at 0,
    /// applying each plan's node writes as the API server would.
    fn run(mut n: Node, pods: &[Pod], times: &[i64]) -> (Node, NodePlan) {
        let config = HealthConfig::default();
        let l = lease(0);
        let mut previous: Option<NodeHealth> = None;
        let mut last = None;
        for &t in times {
            let input = NodeInput {
                node: &n,
                lease: Some(&l),
                pods,
                previous: previous.as_ref(),
                now: at(t),
            };
            let plan = plan_node(input, &config);
            if let (Some(conditions), Some(status)) = (&plan.status_conditions, n.status.as_mut()) {
                status.conditions = Some(conditions.clone());
            }
            if let Some(taints) = &plan.taints {
                n.spec.get_or_insert_with(Default::default).taints = Some(taints.clone());
            }
            previous = Some(plan.health.clone());
            last = Some(plan);
        }
        match last {
            Some(plan) => (n, plan),
            None => panic!("at least one pass"),
        }
    }

    #[test]
    fn healthy_node_needs_no_writes() {
        let (_, plan) = run(node("True", 0), &[], &[0, 20]);
        assert_eq!(plan.status_conditions, None);
        assert_eq!(plan.taints, None);
        assert_eq!(plan.recheck_at, Some(at(40)));
    }

    #[test]
    fn silent_node_is_tainted_unreachable_and_its_pods_marked_not_ready() {
        let p = with_tolerations(pod("a", "10.0.0.1", true), default_tolerations());
        let (n, plan) = run(node("True", 0), &[p], &[0, 41]);
        assert!(plan.status_conditions.is_some());
        let taints = n.spec.and_then(|s| s.taints).unwrap_or_default();
        let unreachable: Vec<&str> = taints
            .iter()
            .filter(|t| t.key == TAINT_UNREACHABLE)
            .map(|t| t.effect.as_str())
            .collect();
        assert_eq!(unreachable, ["NoSchedule", "NoExecute"]);
        assert_eq!(plan.pods_not_ready.len(), 1);
        assert!(plan.evictions.evict.is_empty());
        assert_eq!(plan.evictions.next_check, Some(at(341)));
    }

    #[test]
    fn tolerating_pods_are_evicted_five_minutes_after_the_taint() {
        let p = with_tolerations(pod("a", "10.0.0.1", true), default_tolerations());
        let (_, plan) = run(node("True", 0), &[p], &[0, 41, 340]);
        assert!(plan.evictions.evict.is_empty());
        let p = with_tolerations(pod("a", "10.0.0.1", true), default_tolerations());
        let (_, plan) = run(node("True", 0), &[p], &[0, 41, 341]);
        assert_eq!(plan.evictions.evict.len(), 1);
    }

    #[test]
    fn pods_without_tolerations_are_evicted_when_the_node_is_tainted() {
        let (_, plan) = run(node("True", 0), &[pod("a", "10.0.0.1", true)], &[0, 41]);
        assert_eq!(plan.evictions.evict.len(), 1);
    }

    #[test]
    fn kubelet_posting_not_ready_taints_not_ready_without_marking_pods() {
        let (n, plan) = run(node("False", 0), &[pod("a", "10.0.0.1", true)], &[0]);
        assert_eq!(plan.status_conditions, None);
        assert!(plan.pods_not_ready.is_empty());
        let taints = n.spec.and_then(|s| s.taints).unwrap_or_default();
        assert!(taints
            .iter()
            .any(|t| t.key == "node.kubernetes.io/not-ready"));
    }
}

//! PodTopologySpread: spreads matching pods evenly over topology domains
//! (zones, nodes, any node label).
//!
//! `whenUnsatisfiable: DoNotSchedule` constraints filter ([`filtering`]);
//! `ScheduleAnyway` constraints score ([`scoring`]). A pod without constraints
//! of its own gets the cluster-level system defaults when it belongs to a
//! workload: hostname with maxSkew 3 and zone with maxSkew 5, both
//! ScheduleAnyway.
//!
//! Kubernetes takes the default constraints' selector from the Services,
//! ReplicaSets, ReplicationControllers and StatefulSets selecting the pod. This
//! scheduler does not see those objects; for a pod controlled by a ReplicaSet,
//! ReplicationController or StatefulSet it uses the pod's own labels, less the
//! labels a StatefulSet makes unique per pod, which selects the pod's siblings
//! as the owner's selector would (a ReplicaSet's selector includes
//! `pod-template-hash`, which the pod carries too). Pods without such an owner
//! get no default constraints.

pub mod filtering;
pub mod scoring;

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;

use super::node_affinity::RequiredNodeAffinity;
use super::taint_toleration::has_untolerated_hard_taint;
use crate::framework::node_info::NodeInfo;
use crate::framework::pod_info::PodInfo;
use crate::framework::{pod_namespace, LABEL_HOSTNAME, LABEL_ZONE};
use crate::labels::Selector;

/// Plugin name.
pub const NAME: &str = "PodTopologySpread";
/// Reason when placing the pod on the node would exceed a maxSkew.
pub const ERR_REASON_CONSTRAINTS_NOT_MATCH: &str =
    "node(s) didn't match pod topology spread constraints";
/// Reason when the node lacks a constraint's topology label.
pub const ERR_REASON_NODE_LABEL_NOT_MATCH: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";

/// `whenUnsatisfiable` of constraints that filter.
pub const DO_NOT_SCHEDULE: &str = "DoNotSchedule";
/// `whenUnsatisfiable` of constraints that only score.
pub const SCHEDULE_ANYWAY: &str = "ScheduleAnyway";

/// Labels that differ between the pods of one StatefulSet (or one revision),
/// left out of the default selector so it selects the siblings.
const PER_POD_LABELS: [&str; 3] = [
    "statefulset.kubernetes.io/pod-name",
    "apps.kubernetes.io/pod-index",
    "controller-revision-hash",
];

/// A spread constraint with its defaults applied.
#[derive(Debug, Clone)]
pub struct Constraint {
    /// How far the matching-pod count of a domain may exceed the minimum.
    pub max_skew: i32,
    /// The node label defining the domains.
    pub topology_key: String,
    /// Which pods count (labelSelector narrowed by matchLabelKeys).
    pub selector: Selector,
    /// Fewer eligible domains than this make the global minimum 0.
    pub min_domains: i32,
    /// `nodeAffinityPolicy: Honor` (the default): only nodes matching the
    /// pod's node affinity/selector count.
    pub honor_node_affinity: bool,
    /// `nodeTaintsPolicy: Honor` (default Ignore): only nodes whose taints the
    /// pod tolerates count.
    pub honor_node_taints: bool,
}

impl Constraint {
    /// Whether the node's pods count toward this constraint under the node
    /// inclusion policies.
    pub fn includes_node(
        &self,
        pod: &Pod,
        node: &NodeInfo,
        required: &RequiredNodeAffinity,
    ) -> bool {
        if self.honor_node_affinity && !required.matches(node) {
            return false;
        }
        !(self.honor_node_taints && has_untolerated_hard_taint(pod, node))
    }
}

/// Whether the pod has spread constraints of its own (otherwise the system
/// defaults apply).
pub fn has_own_constraints(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.topology_spread_constraints.as_ref())
        .is_some_and(|c| !c.is_empty())
}

/// The pod's constraints with `whenUnsatisfiable == when`, or the system
/// defaults of that kind when it declares none.
pub fn constraints(pod: &Pod, when: &str) -> Vec<Constraint> {
    if !has_own_constraints(pod) {
        return default_constraints(pod, when);
    }
    let labels = pod.metadata.labels.as_ref();
    pod.spec
        .iter()
        .flat_map(|s| s.topology_spread_constraints.iter().flatten())
        .filter(|c| c.when_unsatisfiable == when)
        .map(|c| {
            let mut selector = Selector::from_label_selector(c.label_selector.as_ref());
            for key in c.match_label_keys.iter().flatten() {
                if let Some(value) = labels.and_then(|l| l.get(key)) {
                    selector.require(key, value);
                }
            }
            Constraint {
                max_skew: c.max_skew,
                topology_key: c.topology_key.clone(),
                selector,
                min_domains: c.min_domains.unwrap_or(1),
                honor_node_affinity: c.node_affinity_policy.as_deref() != Some("Ignore"),
                honor_node_taints: c.node_taints_policy.as_deref() == Some("Honor"),
            }
        })
        .collect()
}

fn default_constraints(pod: &Pod, when: &str) -> Vec<Constraint> {
    if when != SCHEDULE_ANYWAY {
        return Vec::new();
    }
    let Some(selector) = default_selector(pod) else {
        return Vec::new();
    };
    [(LABEL_HOSTNAME, 3), (LABEL_ZONE, 5)]
        .into_iter()
        .map(|(key, max_skew)| Constraint {
            max_skew,
            topology_key: key.to_string(),
            selector: selector.clone(),
            min_domains: 1,
            honor_node_affinity: true,
            honor_node_taints: false,
        })
        .collect()
}

/// The selector of the pod's controlling workload, approximated from the
/// pod's labels (see the module documentation).
fn default_selector(pod: &Pod) -> Option<Selector> {
    let owned = pod.metadata.owner_references.iter().flatten().any(|o| {
        o.controller == Some(true)
            && matches!(
                o.kind.as_str(),
                "ReplicaSet" | "StatefulSet" | "ReplicationController"
            )
    });
    if !owned {
        return None;
    }
    let mut labels = pod.metadata.labels.clone().unwrap_or_default();
    labels.retain(|k, _| !PER_POD_LABELS.contains(&k.as_str()));
    (!labels.is_empty()).then(|| Selector::from_map(&labels))
}

/// Whether the node carries every constraint's topology label.
pub fn node_has_all_keys(node: &NodeInfo, constraints: &[Constraint]) -> bool {
    constraints
        .iter()
        .all(|c| node.label(&c.topology_key).is_some())
}

/// How many of `pods` count for a constraint: in namespace `ns`, not being
/// deleted, and selected.
pub fn count_matching(pods: &[Arc<PodInfo>], selector: &Selector, ns: &str) -> i64 {
    pods.iter()
        .filter(|p| !p.is_terminating() && pod_namespace(&p.pod) == ns)
        .filter(|p| selector.matches(p.pod.metadata.labels.as_ref()))
        .count() as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{owned_by_replica_set, pod, spec, with_labels};
    use k8s_openapi::api::core::v1::TopologySpreadConstraint;

    #[test]
    fn replica_set_pods_get_soft_default_constraints() {
        let p = owned_by_replica_set(with_labels(pod("p"), &[("app", "web")]), "web-1");
        let soft = constraints(&p, SCHEDULE_ANYWAY);
        let keys: Vec<(&str, i32)> = soft
            .iter()
            .map(|c| (c.topology_key.as_str(), c.max_skew))
            .collect();
        assert_eq!(keys, [(LABEL_HOSTNAME, 3), (LABEL_ZONE, 5)]);
        assert!(constraints(&p, DO_NOT_SCHEDULE).is_empty());
    }

    #[test]
    fn bare_pods_get_no_default_constraints() {
        let p = with_labels(pod("p"), &[("app", "web")]);
        assert!(constraints(&p, SCHEDULE_ANYWAY).is_empty());
    }

    #[test]
    fn match_label_keys_narrow_the_selector() {
        let mut p = with_labels(pod("p"), &[("app", "web"), ("pod-template-hash", "abc")]);
        spec(&mut p).topology_spread_constraints = Some(vec![TopologySpreadConstraint {
            max_skew: 1,
            topology_key: LABEL_ZONE.into(),
            when_unsatisfiable: DO_NOT_SCHEDULE.into(),
            label_selector: Some(crate::testutil::selector(&[("app", "web")])),
            match_label_keys: Some(vec!["pod-template-hash".into()]),
            ..Default::default()
        }]);
        let c = constraints(&p, DO_NOT_SCHEDULE);
        let old = crate::testutil::labels(&[("app", "web"), ("pod-template-hash", "old")]);
        let same = crate::testutil::labels(&[("app", "web"), ("pod-template-hash", "abc")]);
        assert!(c.first().is_some_and(|c| !c.selector.matches(Some(&old))));
        assert!(c.first().is_some_and(|c| c.selector.matches(Some(&same))));
        assert!(c
            .first()
            .is_some_and(|c| c.honor_node_affinity && !c.honor_node_taints && c.min_domains == 1));
    }
}

//! The DoNotSchedule half of PodTopologySpread: a node is rejected when
//! putting the pod there would make its domain's matching-pod count exceed
//! the smallest domain's by more than maxSkew:
//! `count(domain) + (1 if the pod itself matches) - global minimum > maxSkew`.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::Pod;

use super::{constraints, count_matching, node_has_all_keys, Constraint, DO_NOT_SCHEDULE, NAME};
use super::{ERR_REASON_CONSTRAINTS_NOT_MATCH, ERR_REASON_NODE_LABEL_NOT_MATCH};
use crate::framework::node_info::NodeInfo;
use crate::framework::snapshot::Snapshot;
use crate::framework::{pod_namespace, FilterResult, Unschedulable};
use crate::plugins::node_affinity::RequiredNodeAffinity;

/// Matching-pod counts per domain, computed once per cycle over all nodes.
#[derive(Debug, Clone, Default)]
pub struct PreFilterState {
    constraints: Vec<Constraint>,
    /// Per constraint: topology value → matching pods in that domain.
    counts: Vec<HashMap<String, i64>>,
}

impl PreFilterState {
    /// The smallest domain count of constraint `i`, or 0 when there are fewer
    /// eligible domains than its minDomains. With no domain at all nothing
    /// limits the skew.
    fn min_match(&self, i: usize, min_domains: i32) -> i64 {
        let Some(counts) = self.counts.get(i) else {
            return 0;
        };
        if (counts.len() as i64) < i64::from(min_domains) {
            return 0;
        }
        counts
            .values()
            .copied()
            .min()
            .unwrap_or(i64::from(i32::MAX))
    }
}

/// Counts, for each DoNotSchedule constraint, the matching pods of every
/// domain. Only nodes carrying all the constraints' topology labels and
/// admitted by each constraint's node inclusion policies count.
pub fn pre_filter(
    pod: &Pod,
    snapshot: &Snapshot,
    required: &RequiredNodeAffinity,
) -> PreFilterState {
    let constraints = constraints(pod, DO_NOT_SCHEDULE);
    if constraints.is_empty() {
        return PreFilterState::default();
    }
    let ns = pod_namespace(pod);
    let mut counts = vec![HashMap::new(); constraints.len()];
    for node in snapshot.nodes() {
        if !node_has_all_keys(node, &constraints) {
            continue;
        }
        for (c, domain_counts) in constraints.iter().zip(counts.iter_mut()) {
            if !c.includes_node(pod, node, required) {
                continue;
            }
            let value = node.label(&c.topology_key).unwrap_or_default().to_string();
            *domain_counts.entry(value).or_insert(0) += count_matching(&node.pods, &c.selector, ns);
        }
    }
    PreFilterState {
        constraints,
        counts,
    }
}

/// Rejects nodes lacking a topology label, and nodes whose domain would
/// exceed a constraint's maxSkew.
pub fn filter(state: &PreFilterState, pod: &Pod, node: &NodeInfo) -> FilterResult {
    for (i, c) in state.constraints.iter().enumerate() {
        let Some(value) = node.label(&c.topology_key) else {
            return Err(Unschedulable::new(NAME, ERR_REASON_NODE_LABEL_NOT_MATCH));
        };
        let self_match = i64::from(c.selector.matches(pod.metadata.labels.as_ref()));
        let in_domain = state
            .counts
            .get(i)
            .and_then(|m| m.get(value))
            .copied()
            .unwrap_or(0);
        let skew = in_domain + self_match - state.min_match(i, c.min_domains);
        if skew > i64::from(c.max_skew) {
            return Err(Unschedulable::new(NAME, ERR_REASON_CONSTRAINTS_NOT_MATCH));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::LABEL_ZONE;
    use crate::testutil::{
        labels, node, on_node, pod, selector, snapshot, spec, with_labels, with_node_labels,
    };
    use k8s_openapi::api::core::v1::{Node, TopologySpreadConstraint};

    fn zone_node(name: &str, zone: &str) -> Node {
        with_node_labels(node(name, "4", "8Gi", "110"), &[(LABEL_ZONE, zone)])
    }

    fn spread_pod(name: &str, max_skew: i32, min_domains: Option<i32>) -> Pod {
        let mut p = with_labels(pod(name), &[("app", "web")]);
        spec(&mut p).topology_spread_constraints = Some(vec![TopologySpreadConstraint {
            max_skew,
            min_domains,
            topology_key: LABEL_ZONE.into(),
            when_unsatisfiable: DO_NOT_SCHEDULE.into(),
            label_selector: Some(selector(&[("app", "web")])),
            ..Default::default()
        }]);
        p
    }

    fn web(name: &str, node: &str) -> Pod {
        on_node(with_labels(pod(name), &[("app", "web")]), node)
    }

    /// Zones a (2 pods), b (1 pod), c (0 pods); maxSkew 1.
    fn three_zones() -> Snapshot {
        snapshot(
            vec![
                zone_node("a1", "a"),
                zone_node("b1", "b"),
                zone_node("c1", "c"),
            ],
            vec![web("w1", "a1"), web("w2", "a1"), web("w3", "b1")],
        )
    }

    fn verdicts(p: &Pod, snap: &Snapshot) -> Vec<(String, bool)> {
        let state = pre_filter(p, snap, &RequiredNodeAffinity::new(p));
        snap.nodes()
            .iter()
            .map(|n| (n.name().to_string(), filter(&state, p, n).is_ok()))
            .collect()
    }

    #[test]
    fn only_the_emptiest_zone_keeps_skew_within_one() {
        let snap = three_zones();
        let got = verdicts(&spread_pod("p", 1, None), &snap);
        assert_eq!(
            got,
            [
                ("a1".into(), false),
                ("b1".into(), false),
                ("c1".into(), true)
            ]
        );
    }

    #[test]
    fn larger_max_skew_admits_more_zones() {
        let snap = three_zones();
        let got = verdicts(&spread_pod("p", 2, None), &snap);
        assert_eq!(
            got,
            [
                ("a1".into(), false),
                ("b1".into(), true),
                ("c1".into(), true)
            ]
        );
    }

    #[test]
    fn skew_failure_has_kubernetes_reason() {
        let snap = three_zones();
        let p = spread_pod("p", 1, None);
        let state = pre_filter(&p, &snap, &RequiredNodeAffinity::new(&p));
        let err = snap.get("a1").map(|n| filter(&state, &p, n));
        assert_eq!(
            err.and_then(|r| r.err()).map(|e| e.reasons),
            Some(vec![
                "node(s) didn't match pod topology spread constraints".to_string()
            ])
        );
    }

    #[test]
    fn node_without_the_topology_label_is_filtered_out() {
        let snap = snapshot(
            vec![zone_node("a1", "a"), node("bare", "4", "8Gi", "110")],
            vec![],
        );
        let p = spread_pod("p", 1, None);
        let state = pre_filter(&p, &snap, &RequiredNodeAffinity::new(&p));
        let err = snap.get("bare").and_then(|n| filter(&state, &p, n).err());
        assert_eq!(
            err.map(|e| e.reasons),
            Some(vec![
                "node(s) didn't match pod topology spread constraints (missing required label)"
                    .to_string()
            ])
        );
    }

    #[test]
    fn too_few_domains_for_min_domains_make_the_minimum_zero() {
        // Two zones with one pod each: normally both pass with maxSkew 1, but
        // minDomains 3 makes the global minimum 0, so 1 + 1 - 0 > 1.
        let snap = snapshot(
            vec![zone_node("a1", "a"), zone_node("b1", "b")],
            vec![web("w1", "a1"), web("w2", "b1")],
        );
        assert!(verdicts(&spread_pod("p", 1, None), &snap)
            .iter()
            .all(|(_, ok)| *ok));
        assert!(verdicts(&spread_pod("p", 1, Some(3)), &snap)
            .iter()
            .all(|(_, ok)| !*ok));
    }

    #[test]
    fn pods_of_other_namespaces_or_labels_do_not_count() {
        let mut other_ns = web("x", "a1");
        other_ns.metadata.namespace = Some("other".into());
        let mut other_app = web("y", "a1");
        other_app.metadata.labels = Some(labels(&[("app", "db")]));
        let snap = snapshot(
            vec![zone_node("a1", "a"), zone_node("b1", "b")],
            vec![other_ns, other_app],
        );
        assert!(verdicts(&spread_pod("p", 1, None), &snap)
            .iter()
            .all(|(_, ok)| *ok));
    }
}

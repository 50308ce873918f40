//! The ScheduleAnyway half of PodTopologySpread: nodes in domains with fewer
//! matching pods score higher.
//!
//! Per constraint a node earns `count * ln(domains + 2) + (maxSkew - 1)`, where
//! count is its domain's matching pods (its own pods for the hostname key) and
//! domains is the number of domains among the feasible nodes; the sum is
//! rounded. Normalization turns it around: `100 * (max + min - s) / max`, so
//! the emptiest domain gets 100. Only ScheduleAnyway constraints score, as in
//! Kubernetes; DoNotSchedule constraints are enforced by the filter alone.

use std::collections::{HashMap, HashSet};

use k8s_openapi::api::core::v1::Pod;

use super::{
    constraints, count_matching, has_own_constraints, node_has_all_keys, Constraint,
    SCHEDULE_ANYWAY,
};
use crate::framework::node_info::NodeInfo;
use crate::framework::snapshot::Snapshot;
use crate::framework::{pod_namespace, LABEL_HOSTNAME, MAX_NODE_SCORE};
use crate::plugins::node_affinity::RequiredNodeAffinity;

/// Domain counts and weights for one cycle's scoring.
#[derive(Debug, Clone)]
pub struct PreScoreState {
    constraints: Vec<Constraint>,
    /// Feasible nodes lacking a required topology label: scored 0.
    ignored: HashSet<String>,
    /// Per constraint (hostname constraints excepted): value → matching pods.
    counts: Vec<HashMap<String, i64>>,
    /// Per constraint: ln(number of domains + 2).
    weights: Vec<f64>,
}

/// Prepares scoring over the `feasible` nodes; `None` when the pod has no
/// ScheduleAnyway constraints (Kubernetes' PreScore Skip).
pub fn pre_score(
    pod: &Pod,
    snapshot: &Snapshot,
    feasible: &[&NodeInfo],
    required: &RequiredNodeAffinity,
) -> Option<PreScoreState> {
    let constraints = constraints(pod, SCHEDULE_ANYWAY);
    if constraints.is_empty() || snapshot.is_empty() {
        return None;
    }
    // System-default constraints do not require every key, so that nodes
    // without a zone label are still spread by hostname.
    let require_all_keys = has_own_constraints(pod);
    let mut ignored = HashSet::new();
    let mut counts = vec![HashMap::new(); constraints.len()];
    for node in feasible {
        if require_all_keys && !node_has_all_keys(node, &constraints) {
            ignored.insert(node.name().to_string());
            continue;
        }
        for (c, domain_counts) in constraints.iter().zip(counts.iter_mut()) {
            if c.topology_key == LABEL_HOSTNAME {
                continue;
            }
            let value = node.label(&c.topology_key).unwrap_or_default().to_string();
            domain_counts.entry(value).or_insert(0);
        }
    }
    let weights = constraints
        .iter()
        .zip(counts.iter())
        .map(|(c, domains)| {
            let size = if c.topology_key == LABEL_HOSTNAME {
                feasible.len() - ignored.len()
            } else {
                domains.len()
            };
            (size as f64 + 2.0).ln()
        })
        .collect();

    // Count matching pods over all nodes, but only into the domains that
    // feasible nodes belong to.
    let ns = pod_namespace(pod);
    for node in snapshot.nodes() {
        if require_all_keys && !node_has_all_keys(node, &constraints) {
            continue;
        }
        for (c, domain_counts) in constraints.iter().zip(counts.iter_mut()) {
            if c.topology_key == LABEL_HOSTNAME || !c.includes_node(pod, node, required) {
                continue;
            }
            let value = node.label(&c.topology_key).unwrap_or_default();
            if let Some(count) = domain_counts.get_mut(value) {
                *count += count_matching(&node.pods, &c.selector, ns);
            }
        }
    }
    Some(PreScoreState {
        constraints,
        ignored,
        counts,
        weights,
    })
}

/// Raw score of a feasible node: higher means more crowded.
pub fn score(state: &PreScoreState, pod: &Pod, node: &NodeInfo) -> i64 {
    if state.ignored.contains(node.name()) {
        return 0;
    }
    let ns = pod_namespace(pod);
    let mut total = 0.0;
    for (i, c) in state.constraints.iter().enumerate() {
        let Some(value) = node.label(&c.topology_key) else {
            continue;
        };
        let count = if c.topology_key == LABEL_HOSTNAME {
            count_matching(&node.pods, &c.selector, ns)
        } else {
            state
                .counts
                .get(i)
                .and_then(|m| m.get(value))
                .copied()
                .unwrap_or(0)
        };
        let weight = state.weights.get(i).copied().unwrap_or(0.0);
        total += count as f64 * weight + f64::from(c.max_skew - 1);
    }
    total.round() as i64
}

/// Turns crowding into preference: ignored nodes get 0, others
/// `100 * (max + min - score) / max` (100 for all when max is 0).
pub fn normalize_score(state: &PreScoreState, nodes: &[&NodeInfo], scores: &mut [i64]) {
    let counted = |i: usize| {
        nodes
            .get(i)
            .is_some_and(|n| !state.ignored.contains(n.name()))
    };
    let mut min = i64::MAX;
    let mut max = 0;
    for (i, s) in scores.iter().enumerate() {
        if counted(i) {
            min = min.min(*s);
            max = max.max(*s);
        }
    }
    for (i, s) in scores.iter_mut().enumerate() {
        *s = if !counted(i) {
            0
        } else if max == 0 {
            MAX_NODE_SCORE
        } else {
            MAX_NODE_SCORE * (max + min - *s) / max
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::LABEL_ZONE;
    use crate::testutil::with_node_labels;
    use crate::testutil::{
        node, on_node, owned_by_replica_set, pod, selector, snapshot, spec, with_labels,
    };
    use k8s_openapi::api::core::v1::TopologySpreadConstraint;

    fn scores(p: &Pod, snap: &Snapshot) -> Option<Vec<i64>> {
        let feasible: Vec<&NodeInfo> = snap.nodes().iter().map(|n| n.as_ref()).collect();
        let state = pre_score(p, snap, &feasible, &RequiredNodeAffinity::new(p))?;
        let mut s: Vec<i64> = feasible.iter().map(|n| score(&state, p, n)).collect();
        normalize_score(&state, &feasible, &mut s);
        Some(s)
    }

    fn replica(name: &str) -> Pod {
        owned_by_replica_set(with_labels(pod(name), &[("app", "web")]), "web-1")
    }

    #[test]
    fn default_constraints_prefer_nodes_without_siblings() {
        // Hostname: 3 feasible nodes, weight ln(5) = 1.609; n1 holds one sibling:
        // 1 * 1.609 + 2 = 3.6 → 4, others 0 + 2 = 2. The zone constraint does
        // not apply (no zone labels). Normalized: n1 100*(4+2-4)/4 = 50, others 100.
        let snap = snapshot(
            vec![
                node("n1", "4", "8Gi", "110"),
                node("n2", "4", "8Gi", "110"),
                node("n3", "4", "8Gi", "110"),
            ],
            vec![on_node(replica("r1"), "n1")],
        );
        assert_eq!(scores(&replica("r2"), &snap), Some(vec![50, 100, 100]));
    }

    #[test]
    fn pods_without_soft_constraints_are_not_scored() {
        let snap = snapshot(vec![node("n1", "4", "8Gi", "110")], vec![]);
        assert_eq!(scores(&pod("p"), &snap), None);
    }

    #[test]
    fn zone_counts_include_every_node_of_the_zone() {
        // Zone a: 2 matching pods (over two nodes), zone b: 0. Weight ln(4) = 1.386;
        // maxSkew 1: a scores round(2 * 1.386) = 3, b scores 0.
        // Normalized: a 100*(3+0-3)/3 = 0, b 100.
        let mut p = with_labels(pod("p"), &[("app", "web")]);
        spec(&mut p).topology_spread_constraints = Some(vec![TopologySpreadConstraint {
            max_skew: 1,
            topology_key: LABEL_ZONE.into(),
            when_unsatisfiable: SCHEDULE_ANYWAY.into(),
            label_selector: Some(selector(&[("app", "web")])),
            ..Default::default()
        }]);
        let zone =
            |n: &str, z: &str| with_node_labels(node(n, "4", "8Gi", "110"), &[(LABEL_ZONE, z)]);
        let web = |n: &str, on: &str| on_node(with_labels(pod(n), &[("app", "web")]), on);
        let snap = snapshot(
            vec![
                zone("a1", "a"),
                zone("a2", "a"),
                zone("b1", "b"),
                node("bare", "4", "8Gi", "110"),
            ],
            vec![web("w1", "a1"), web("w2", "a2")],
        );
        let names: Vec<&str> = snap.nodes().iter().map(|n| n.name()).collect();
        let got = scores(&p, &snap).unwrap_or_default();
        let by_name: HashMap<&str, i64> = names.into_iter().zip(got).collect();
        assert_eq!(by_name.get("a1"), Some(&0));
        assert_eq!(by_name.get("a2"), Some(&0));
        assert_eq!(by_name.get("b1"), Some(&100));
        // Own constraints require the key: the unlabeled node is ignored.
        assert_eq!(by_name.get("bare"), Some(&0));
    }
}

//! Preferred inter-pod affinity and anti-affinity.
//!
//! Every running pod adds to (or takes from) the score of its node's
//! topology domains: by the weight of each preferred affinity (anti-affinity)
//! term of the incoming pod that it matches; by the weight of each of its own
//! preferred affinity (anti-affinity) terms that the incoming pod matches; and
//! by [`HARD_POD_AFFINITY_WEIGHT`] for each of its required affinity terms the
//! incoming pod matches. A node scores the sum over its labels' domains;
//! scores are then scaled min-to-max onto 0..=100.

use std::collections::HashMap;

use crate::framework::node_info::NodeInfo;
use crate::framework::pod_info::{AffinityTerm, PodInfo, WeightedAffinityTerm};
use crate::framework::snapshot::Snapshot;
use crate::framework::{pod_namespace, MAX_NODE_SCORE};

use super::HARD_POD_AFFINITY_WEIGHT;

/// Topology key → value → accumulated weight.
#[derive(Debug, Clone, Default)]
pub struct PreScoreState {
    topology_score: HashMap<String, HashMap<String, i64>>,
}

impl PreScoreState {
    fn add(&mut self, term: &AffinityTerm, weight: i64, node: &NodeInfo) {
        if let Some(value) = node.label(&term.topology_key) {
            *self
                .topology_score
                .entry(term.topology_key.clone())
                .or_default()
                .entry(value.to_string())
                .or_insert(0) += weight;
        }
    }

    fn add_weighted(
        &mut self,
        terms: &[WeightedAffinityTerm],
        subject: &PodInfo,
        subject_ns_labels: Option<&std::collections::BTreeMap<String, String>>,
        node: &NodeInfo,
        sign: i64,
    ) {
        for t in terms {
            if t.term.matches(&subject.pod, subject_ns_labels) {
                self.add(&t.term, sign * i64::from(t.weight), node);
            }
        }
    }
}

/// Accumulates the domain weights; `None` when nothing concerns this pod
/// (Kubernetes' PreScore Skip).
pub fn pre_score(incoming: &PodInfo, snapshot: &Snapshot) -> Option<PreScoreState> {
    let has_preferences = !incoming.preferred_affinity_terms.is_empty()
        || !incoming.preferred_anti_affinity_terms.is_empty();
    let incoming_ns_labels = snapshot.namespace_labels(pod_namespace(&incoming.pod));
    let mut state = PreScoreState::default();
    // Without preferences of its own, only running pods with affinity terms
    // can say anything about the incoming pod.
    let nodes: Box<dyn Iterator<Item = &NodeInfo>> = if has_preferences {
        Box::new(snapshot.nodes().iter().map(|n| n.as_ref()))
    } else {
        Box::new(snapshot.nodes_with_affinity_pods())
    };
    for node in nodes {
        if node.labels().is_none_or(|l| l.is_empty()) {
            continue;
        }
        let pods = if has_preferences {
            &node.pods
        } else {
            &node.pods_with_affinity
        };
        for existing in pods {
            let existing_ns_labels = snapshot.namespace_labels(pod_namespace(&existing.pod));
            state.add_weighted(
                &incoming.preferred_affinity_terms,
                existing,
                existing_ns_labels,
                node,
                1,
            );
            state.add_weighted(
                &incoming.preferred_anti_affinity_terms,
                existing,
                existing_ns_labels,
                node,
                -1,
            );
            for t in &existing.required_affinity_terms {
                if t.matches(&incoming.pod, incoming_ns_labels) {
                    state.add(t, HARD_POD_AFFINITY_WEIGHT, node);
                }
            }
            state.add_weighted(
                &existing.preferred_affinity_terms,
                incoming,
                incoming_ns_labels,
                node,
                1,
            );
            state.add_weighted(
                &existing.preferred_anti_affinity_terms,
                incoming,
                incoming_ns_labels,
                node,
                -1,
            );
        }
    }
    (!state.topology_score.is_empty()).then_some(state)
}

/// Raw score: the sum of the weights of the node's domains.
pub fn score(state: &PreScoreState, node: &NodeInfo) -> i64 {
    state
        .topology_score
        .iter()
        .filter_map(|(key, values)| node.label(key).and_then(|v| values.get(v)))
        .sum()
}

/// Scales scores so the lowest becomes 0 and the highest 100 (all 0 when equal).
pub fn normalize_score(scores: &mut [i64]) {
    let (Some(min), Some(max)) = (scores.iter().copied().min(), scores.iter().copied().max())
    else {
        return;
    };
    let spread = max - min;
    for s in scores.iter_mut() {
        *s = if spread > 0 {
            (MAX_NODE_SCORE as f64 * ((*s - min) as f64 / spread as f64)) as i64
        } else {
            0
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::LABEL_HOSTNAME;
    use crate::testutil::{node, on_node, pod, selector, snapshot, spec, with_labels};
    use k8s_openapi::api::core::v1::WeightedPodAffinityTerm;
    use k8s_openapi::api::core::v1::{
        Affinity, Pod, PodAffinity, PodAffinityTerm, PodAntiAffinity,
    };

    fn weighted(app: &str, weight: i32) -> WeightedPodAffinityTerm {
        WeightedPodAffinityTerm {
            weight,
            pod_affinity_term: PodAffinityTerm {
                label_selector: Some(selector(&[("app", app)])),
                topology_key: LABEL_HOSTNAME.into(),
                ..Default::default()
            },
        }
    }

    fn preferring(
        mut p: Pod,
        affinity: Vec<WeightedPodAffinityTerm>,
        anti: Vec<WeightedPodAffinityTerm>,
    ) -> Pod {
        spec(&mut p).affinity = Some(Affinity {
            pod_affinity: Some(PodAffinity {
                preferred_during_scheduling_ignored_during_execution: Some(affinity),
                ..Default::default()
            }),
            pod_anti_affinity: Some(PodAntiAffinity {
                preferred_during_scheduling_ignored_during_execution: Some(anti),
                ..Default::default()
            }),
            ..Default::default()
        });
        p
    }

    fn normalized(p: &Pod, running: Vec<Pod>) -> Option<Vec<i64>> {
        let snap = snapshot(
            ["n1", "n2", "n3"]
                .iter()
                .map(|n| node(n, "4", "8Gi", "110"))
                .collect(),
            running,
        );
        let info = PodInfo::new(p.clone());
        let state = pre_score(&info, &snap)?;
        let mut s: Vec<i64> = ["n1", "n2", "n3"]
            .iter()
            .filter_map(|n| snap.get(n))
            .map(|n| score(&state, n))
            .collect();
        normalize_score(&mut s);
        Some(s)
    }

    #[test]
    fn preferred_affinity_and_anti_affinity_weigh_domains() {
        // n1 has a cache pod (+80), n2 a batch pod (-20), n3 nothing (0):
        // min -20, max 80 → n1 100, n2 0, n3 20.
        let p = preferring(
            pod("p"),
            vec![weighted("cache", 80)],
            vec![weighted("batch", 20)],
        );
        let running = vec![
            on_node(with_labels(pod("c"), &[("app", "cache")]), "n1"),
            on_node(with_labels(pod("b"), &[("app", "batch")]), "n2"),
        ];
        assert_eq!(normalized(&p, running), Some(vec![100, 0, 20]));
    }

    #[test]
    fn existing_pods_preferences_about_the_incoming_pod_count() {
        let fan = preferring(pod("fan"), vec![weighted("web", 10)], vec![]);
        let p = with_labels(pod("p"), &[("app", "web")]);
        assert_eq!(
            normalized(&p, vec![on_node(fan, "n2")]),
            Some(vec![0, 100, 0])
        );
    }

    #[test]
    fn nothing_to_score_is_skipped() {
        assert!(normalized(&pod("p"), vec![on_node(pod("x"), "n1")]).is_none());
    }
}

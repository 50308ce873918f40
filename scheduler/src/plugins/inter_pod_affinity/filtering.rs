//! Required inter-pod affinity and anti-affinity.
//!
//! PreFilter counts, per topology pair `(key, value)`: running pods the
//! incoming pod's affinity terms all match, running pods its anti-affinity
//! terms match, and running pods whose own required anti-affinity matches the
//! incoming pod. Filter then only looks up the node's pairs.

use std::collections::HashMap;

use crate::framework::node_info::NodeInfo;
use crate::framework::pod_info::{AffinityTerm, PodInfo};
use crate::framework::snapshot::Snapshot;
use crate::framework::{pod_namespace, FilterResult, Unschedulable};

use super::{
    ERR_REASON_AFFINITY_RULES_NOT_MATCH, ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH,
    ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH, NAME,
};

type PairCounts = HashMap<(String, String), i64>;

/// Topology-pair counts for one cycle.
#[derive(Debug, Clone, Default)]
pub struct PreFilterState {
    existing_anti_affinity: PairCounts,
    affinity: PairCounts,
    anti_affinity: PairCounts,
    /// Whether the incoming pod matches all of its own affinity terms (then it
    /// may start a group where none exists yet).
    matches_own_affinity: bool,
    /// Nothing to check: no required terms anywhere concern this pod.
    skip: bool,
}

fn bump(counts: &mut PairCounts, node: &NodeInfo, key: &str) {
    if let Some(value) = node.label(key) {
        *counts
            .entry((key.to_string(), value.to_string()))
            .or_insert(0) += 1;
    }
}

fn matches_all(terms: &[AffinityTerm], pod: &PodInfo, snapshot: &Snapshot) -> bool {
    let ns_labels = snapshot.namespace_labels(pod_namespace(&pod.pod));
    !terms.is_empty() && terms.iter().all(|t| t.matches(&pod.pod, ns_labels))
}

/// Computes the counts for `incoming` over the snapshot.
pub fn pre_filter(incoming: &PodInfo, snapshot: &Snapshot) -> PreFilterState {
    let own_ns_labels = snapshot.namespace_labels(pod_namespace(&incoming.pod));
    let mut state = PreFilterState::default();

    for node in snapshot.nodes_with_required_anti_affinity_pods() {
        for existing in &node.pods_with_required_anti_affinity {
            for term in &existing.required_anti_affinity_terms {
                if term.matches(&incoming.pod, own_ns_labels) {
                    bump(&mut state.existing_anti_affinity, node, &term.topology_key);
                }
            }
        }
    }

    let affinity = &incoming.required_affinity_terms;
    let anti = &incoming.required_anti_affinity_terms;
    if !affinity.is_empty() || !anti.is_empty() {
        for node in snapshot.nodes() {
            for existing in &node.pods {
                if matches_all(affinity, existing, snapshot) {
                    for t in affinity {
                        bump(&mut state.affinity, node, &t.topology_key);
                    }
                }
                let ns_labels = snapshot.namespace_labels(pod_namespace(&existing.pod));
                for t in anti {
                    if t.matches(&existing.pod, ns_labels) {
                        bump(&mut state.anti_affinity, node, &t.topology_key);
                    }
                }
            }
        }
    }
    state.matches_own_affinity = matches_all(affinity, incoming, snapshot);
    state.skip = state.existing_anti_affinity.is_empty() && affinity.is_empty() && anti.is_empty();
    state
}

/// Every affinity term's domain on this node must hold a matching pod; when
/// no pod anywhere matches, a pod matching its own terms may go anywhere that
/// has the topology labels (it is the first of its group).
fn satisfies_affinity(state: &PreFilterState, incoming: &PodInfo, node: &NodeInfo) -> bool {
    let mut pods_exist = true;
    for term in &incoming.required_affinity_terms {
        let Some(value) = node.label(&term.topology_key) else {
            return false;
        };
        let pair = (term.topology_key.clone(), value.to_string());
        if state.affinity.get(&pair).copied().unwrap_or(0) <= 0 {
            pods_exist = false;
        }
    }
    pods_exist || (state.affinity.is_empty() && state.matches_own_affinity)
}

fn satisfies_anti_affinity(state: &PreFilterState, incoming: &PodInfo, node: &NodeInfo) -> bool {
    incoming.required_anti_affinity_terms.iter().all(|term| {
        node.label(&term.topology_key).is_none_or(|value| {
            let pair = (term.topology_key.clone(), value.to_string());
            state.anti_affinity.get(&pair).copied().unwrap_or(0) <= 0
        })
    })
}

fn satisfies_existing_anti_affinity(state: &PreFilterState, node: &NodeInfo) -> bool {
    if state.existing_anti_affinity.is_empty() {
        return true;
    }
    node.labels().into_iter().flatten().all(|(k, v)| {
        state
            .existing_anti_affinity
            .get(&(k.clone(), v.clone()))
            .copied()
            .unwrap_or(0)
            <= 0
    })
}

/// Checks, in Kubernetes' order, the pod's affinity, its anti-affinity, and
/// running pods' anti-affinity against it.
pub fn filter(state: &PreFilterState, incoming: &PodInfo, node: &NodeInfo) -> FilterResult {
    if state.skip {
        return Ok(());
    }
    if !satisfies_affinity(state, incoming, node) {
        return Err(Unschedulable::new(
            NAME,
            ERR_REASON_AFFINITY_RULES_NOT_MATCH,
        ));
    }
    if !satisfies_anti_affinity(state, incoming, node) {
        return Err(Unschedulable::new(
            NAME,
            ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH,
        ));
    }
    if !satisfies_existing_anti_affinity(state, node) {
        return Err(Unschedulable::new(
            NAME,
            ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH,
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::LABEL_HOSTNAME;
    use crate::testutil::{node, on_node, pod, selector, snapshot, spec, with_labels};
    use k8s_openapi::api::core::v1::{
        Affinity, Pod, PodAffinity, PodAffinityTerm, PodAntiAffinity,
    };

    fn term(app: &str) -> PodAffinityTerm {
        PodAffinityTerm {
            label_selector: Some(selector(&[("app", app)])),
            topology_key: LABEL_HOSTNAME.into(),
            ..Default::default()
        }
    }

    fn with_affinity(
        mut p: Pod,
        affinity: Vec<PodAffinityTerm>,
        anti: Vec<PodAffinityTerm>,
    ) -> Pod {
        spec(&mut p).affinity = Some(Affinity {
            pod_affinity: (!affinity.is_empty()).then(|| PodAffinity {
                required_during_scheduling_ignored_during_execution: Some(affinity),
                ..Default::default()
            }),
            pod_anti_affinity: (!anti.is_empty()).then(|| PodAntiAffinity {
                required_during_scheduling_ignored_during_execution: Some(anti),
                ..Default::default()
            }),
            ..Default::default()
        });
        p
    }

    fn verdicts(p: &Pod, nodes: &[&str], running: Vec<Pod>) -> Vec<Result<(), String>> {
        let snap = snapshot(
            nodes.iter().map(|n| node(n, "4", "8Gi", "110")).collect(),
            running,
        );
        let info = PodInfo::new(p.clone());
        let state = pre_filter(&info, &snap);
        nodes
            .iter()
            .map(|n| match snap.get(n).map(|ni| filter(&state, &info, ni)) {
                Some(Ok(())) => Ok(()),
                Some(Err(e)) => Err(e.reasons.join(",")),
                None => Err("missing".into()),
            })
            .collect()
    }

    #[test]
    fn affinity_requires_a_matching_pod_in_the_domain() {
        let p = with_affinity(pod("p"), vec![term("db")], vec![]);
        let db = on_node(with_labels(pod("db"), &[("app", "db")]), "n2");
        assert_eq!(
            verdicts(&p, &["n1", "n2"], vec![db]),
            [
                Err("node(s) didn't match pod affinity rules".into()),
                Ok(())
            ]
        );
    }

    #[test]
    fn first_pod_of_a_self_affine_group_may_go_anywhere() {
        let p = with_affinity(
            with_labels(pod("p"), &[("app", "db")]),
            vec![term("db")],
            vec![],
        );
        assert_eq!(verdicts(&p, &["n1", "n2"], vec![]), [Ok(()), Ok(())]);
        let loner = with_affinity(pod("q"), vec![term("db")], vec![]);
        assert!(verdicts(&loner, &["n1"], vec![]).iter().all(|v| v.is_err()));
    }

    #[test]
    fn anti_affinity_avoids_domains_with_matching_pods() {
        let p = with_affinity(pod("p"), vec![], vec![term("web")]);
        let web = on_node(with_labels(pod("w"), &[("app", "web")]), "n1");
        assert_eq!(
            verdicts(&p, &["n1", "n2"], vec![web]),
            [
                Err("node(s) didn't match pod anti-affinity rules".into()),
                Ok(())
            ]
        );
    }

    #[test]
    fn existing_pods_anti_affinity_keeps_the_pod_away() {
        let guard = on_node(with_affinity(pod("guard"), vec![], vec![term("web")]), "n1");
        let p = with_labels(pod("p"), &[("app", "web")]);
        assert_eq!(
            verdicts(&p, &["n1", "n2"], vec![guard]),
            [
                Err("node(s) didn't satisfy existing pods anti-affinity rules".into()),
                Ok(())
            ]
        );
    }

    #[test]
    fn terms_only_see_their_namespace_by_default() {
        let p = with_affinity(pod("p"), vec![], vec![term("web")]);
        let mut elsewhere = on_node(with_labels(pod("w"), &[("app", "web")]), "n1");
        elsewhere.metadata.namespace = Some("other".into());
        assert_eq!(verdicts(&p, &["n1"], vec![elsewhere]), [Ok(())]);
    }
}

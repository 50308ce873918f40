//! TaintToleration: a node's `NoSchedule` and `NoExecute` taints keep off pods
//! that do not tolerate them; its `PreferNoSchedule` taints make it less
//! attractive, the more of them the pod does not tolerate.

use k8s_openapi::api::core::v1::{Pod, Taint, Toleration};

use crate::framework::node_info::NodeInfo;
use crate::framework::{default_normalize_score, FilterResult, Unschedulable, MAX_NODE_SCORE};

/// Plugin name.
pub const NAME: &str = "TaintToleration";

/// Whether `toleration` tolerates `taint` (core/v1 `Toleration.ToleratesTaint`):
/// an empty effect or key matches any; operator `Exists` matches any value,
/// `Equal` (or empty) requires the same value.
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

/// Whether any of `tolerations` tolerates `taint`.
pub fn tolerations_tolerate(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| tolerates(t, taint))
}

fn pod_tolerations(pod: &Pod) -> &[Toleration] {
    pod.spec
        .as_ref()
        .and_then(|s| s.tolerations.as_deref())
        .unwrap_or_default()
}

fn node_taints(node: &NodeInfo) -> &[Taint] {
    node.node()
        .and_then(|n| n.spec.as_ref())
        .and_then(|s| s.taints.as_deref())
        .unwrap_or_default()
}

/// The first `NoSchedule` or `NoExecute` taint of `taints` that the
/// tolerations leave untolerated.
pub fn find_untolerated_hard_taint<'a>(
    taints: &'a [Taint],
    tolerations: &[Toleration],
) -> Option<&'a Taint> {
    taints
        .iter()
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
        .find(|t| !tolerations_tolerate(tolerations, t))
}

/// Whether the node has a `NoSchedule`/`NoExecute` taint the pod does not
/// tolerate (also used by PodTopologySpread's `nodeTaintsPolicy: Honor`).
pub fn has_untolerated_hard_taint(pod: &Pod, node: &NodeInfo) -> bool {
    find_untolerated_hard_taint(node_taints(node), pod_tolerations(pod)).is_some()
}

/// Rejects the node when one of its `NoSchedule`/`NoExecute` taints is not
/// tolerated, naming that taint as Kubernetes does:
/// `node(s) had untolerated taint {key: value}`.
pub fn filter(pod: &Pod, node: &NodeInfo) -> FilterResult {
    match find_untolerated_hard_taint(node_taints(node), pod_tolerations(pod)) {
        None => Ok(()),
        Some(t) => Err(Unschedulable::new(
            NAME,
            format!(
                "node(s) had untolerated taint {{{}: {}}}",
                t.key,
                t.value.as_deref().unwrap_or_default()
            ),
        )),
    }
}

/// The pod's tolerations that count for scoring: those for `PreferNoSchedule`
/// or for every effect.
pub fn pre_score(pod: &Pod) -> Vec<Toleration> {
    pod_tolerations(pod)
        .iter()
        .filter(|t| {
            matches!(
                t.effect.as_deref(),
                None | Some("") | Some("PreferNoSchedule")
            )
        })
        .cloned()
        .collect()
}

/// Raw score: how many `PreferNoSchedule` taints of the node go untolerated.
pub fn score(prefer_tolerations: &[Toleration], node: &NodeInfo) -> i64 {
    node_taints(node)
        .iter()
        .filter(|t| t.effect == "PreferNoSchedule" && !tolerations_tolerate(prefer_tolerations, t))
        .count() as i64
}

/// Fewer untolerated taints is better: normalized in reverse.
pub fn normalize_score(scores: &mut [i64]) {
    default_normalize_score(MAX_NODE_SCORE, true, scores);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{node, pod, taint, toleration, with_taints, with_tolerations};

    fn tainted(taints: Vec<Taint>) -> NodeInfo {
        let mut ni = NodeInfo::new("n1");
        ni.set_node(with_taints(node("n1", "1", "1Gi", "10"), taints));
        ni
    }

    fn reasons(r: FilterResult) -> Vec<String> {
        r.err().map(|e| e.reasons).unwrap_or_default()
    }

    #[test]
    fn untolerated_no_schedule_taint_is_named() {
        let ni = tainted(vec![taint("dedicated", "gpu", "NoSchedule")]);
        assert_eq!(
            reasons(filter(&pod("p"), &ni)),
            ["node(s) had untolerated taint {dedicated: gpu}"]
        );
    }

    #[test]
    fn taint_without_value_prints_empty_value() {
        let ni = tainted(vec![taint(
            "node.kubernetes.io/unreachable",
            "",
            "NoExecute",
        )]);
        assert_eq!(
            reasons(filter(&pod("p"), &ni)),
            ["node(s) had untolerated taint {node.kubernetes.io/unreachable: }"]
        );
    }

    #[test]
    fn equal_toleration_needs_the_same_value() {
        let ni = tainted(vec![taint("dedicated", "gpu", "NoSchedule")]);
        let ok = with_tolerations(
            pod("p"),
            vec![toleration("dedicated", "Equal", "gpu", "NoSchedule")],
        );
        assert!(filter(&ok, &ni).is_ok());
        let wrong = with_tolerations(
            pod("p"),
            vec![toleration("dedicated", "Equal", "cpu", "NoSchedule")],
        );
        assert!(filter(&wrong, &ni).is_err());
        let wrong_effect = with_tolerations(
            pod("p"),
            vec![toleration("dedicated", "Equal", "gpu", "NoExecute")],
        );
        assert!(filter(&wrong_effect, &ni).is_err());
    }

    #[test]
    fn exists_with_empty_key_tolerates_everything() {
        let ni = tainted(vec![
            taint("a", "1", "NoSchedule"),
            taint("b", "", "NoExecute"),
        ]);
        let p = with_tolerations(pod("p"), vec![toleration("", "Exists", "", "")]);
        assert!(filter(&p, &ni).is_ok());
    }

    #[test]
    fn prefer_no_schedule_taints_do_not_filter() {
        let ni = tainted(vec![taint("a", "1", "PreferNoSchedule")]);
        assert!(filter(&pod("p"), &ni).is_ok());
    }

    #[test]
    fn score_counts_untolerated_prefer_no_schedule_taints_reversed() {
        let p = with_tolerations(
            pod("p"),
            vec![toleration("a", "Exists", "", "PreferNoSchedule")],
        );
        let tols = pre_score(&p);
        let nodes = [
            tainted(vec![]),
            tainted(vec![taint("a", "", "PreferNoSchedule")]),
            tainted(vec![taint("b", "", "PreferNoSchedule")]),
            tainted(vec![
                taint("b", "", "PreferNoSchedule"),
                taint("c", "", "PreferNoSchedule"),
            ]),
        ];
        let mut scores: Vec<i64> = nodes.iter().map(|n| score(&tols, n)).collect();
        assert_eq!(scores, [0, 0, 1, 2]);
        normalize_score(&mut scores);
        assert_eq!(scores, [100, 100, 50, 0]);
    }
}

//! Which pods a ReplicaSet deletes first when it has too many (Kubernetes'
//! `getPodsToDelete` with `ActivePodsWithRanks`, PodDeletionCost and
//! LogarithmicScaleDown enabled as they are by default).
//!
//! The order prefers pods whose loss hurts least: not yet scheduled, not yet running,
//! not ready, cheap by the user's own ranking, crowded onto one node with their
//! siblings, ready or alive only briefly, crash-looping.

use std::cmp::Ordering;
use std::collections::HashMap;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;

use crate::pod_util;

/// Chooses `count` pods to delete from `pods` (the ReplicaSet's active pods).
///
/// `related_pods` are the active and inactive pods of every ReplicaSet sharing this
/// one's controller (a Deployment's other revisions); a pod's rank is the number of
/// active related pods on its node, and higher ranks go first, spreading what stays
/// across nodes. Pass an empty slice for a ReplicaSet without a controller.
pub fn pods_to_delete<'a>(
    pods: &[&'a Pod],
    related_pods: &[&Pod],
    count: usize,
    now: Timestamp,
) -> Vec<&'a Pod> {
    let mut on_node: HashMap<&str, usize> = HashMap::new();
    for pod in related_pods.iter().filter(|p| pod_util::is_pod_active(p)) {
        *on_node.entry(node_name(pod)).or_default() += 1;
    }
    let mut ranked: Vec<(&'a Pod, usize)> = pods
        .iter()
        .map(|p| (*p, on_node.get(node_name(p)).copied().unwrap_or(0)))
        .collect();
    if count < ranked.len() {
        ranked.sort_by(|a, b| deletion_order(a, b, now));
    }
    ranked.into_iter().take(count).map(|(p, _)| p).collect()
}

fn node_name(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .unwrap_or("")
}

/// Pending before Unknown before Running; any other phase sorts with Pending, as an
/// absent map entry reads zero in Kubernetes.
fn phase_ordinal(pod: &Pod) -> u8 {
    match pod_util::phase(pod) {
        "Unknown" => 1,
        "Running" => 2,
        _ => 0,
    }
}

/// `Less` of Kubernetes' ActivePodsWithRanks as an ordering: `Less` means "delete first".
fn deletion_order(a: &(&Pod, usize), b: &(&Pod, usize), now: Timestamp) -> Ordering {
    let ((pa, rank_a), (pb, rank_b)) = (a, b);
    // 1. Unassigned before assigned.
    let (na, nb) = (node_name(pa), node_name(pb));
    if na != nb && (na.is_empty() || nb.is_empty()) {
        return if na.is_empty() {
            Ordering::Less
        } else {
            Ordering::Greater
        };
    }
    // 2. Pending < Unknown < Running.
    let by_phase = phase_ordinal(pa).cmp(&phase_ordinal(pb));
    if by_phase != Ordering::Equal {
        return by_phase;
    }
    // 3. Not ready before ready.
    let (ready_a, ready_b) = (pod_util::is_pod_ready(pa), pod_util::is_pod_ready(pb));
    if ready_a != ready_b {
        return if ready_a {
            Ordering::Greater
        } else {
            Ordering::Less
        };
    }
    // 4. Lower pod-deletion-cost first.
    let by_cost = pod_util::deletion_cost(pa).cmp(&pod_util::deletion_cost(pb));
    if by_cost != Ordering::Equal {
        return by_cost;
    }
    // 5. More co-located related pods first.
    if rank_a != rank_b {
        return rank_b.cmp(rank_a);
    }
    // 6. Both ready: ready for less time first, compared on a log2 scale.
    if ready_a && ready_b {
        let (ta, tb) = (pod_util::ready_since(pa), pod_util::ready_since(pb));
        if ta != tb {
            return newer_first(ta, tb, now, pa, pb);
        }
    }
    // 7. More container restarts first.
    let by_restarts =
        pod_util::max_container_restarts(pb).cmp(&pod_util::max_container_restarts(pa));
    if by_restarts != Ordering::Equal {
        return by_restarts;
    }
    // 8. Newer pods first, compared on a log2 scale.
    let (ca, cb) = (created(pa), created(pb));
    if ca != cb {
        return newer_first(ca, cb, now, pa, pb);
    }
    Ordering::Equal
}

fn created(pod: &Pod) -> Option<Timestamp> {
    pod.metadata.creation_timestamp.as_ref().map(|t| t.0)
}

/// Newer time first, a missing time before any. Times whose ages fall in the same
/// power-of-two bucket count as equal and are ordered by UID instead, so scale-down
/// spreads pseudo-randomly over pods of similar age (Kubernetes' LogarithmicScaleDown).
fn newer_first(
    a: Option<Timestamp>,
    b: Option<Timestamp>,
    now: Timestamp,
    pa: &Pod,
    pb: &Pod,
) -> Ordering {
    let (Some(a), Some(b)) = (a, b) else {
        // afterOrZero: the zero time comes first.
        return match (a, b) {
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            _ => Ordering::Equal,
        };
    };
    let diff = log2_age(a, now) - log2_age(b, now);
    match diff.cmp(&0) {
        Ordering::Equal => pa.metadata.uid.cmp(&pb.metadata.uid),
        other => other,
    }
}

/// floor(log2(age in nanoseconds)), -1 for a time at or after `now`.
fn log2_age(t: Timestamp, now: Timestamp) -> i64 {
    let nanos = now.duration_since(t).as_nanos();
    if nanos <= 0 {
        return -1;
    }
    i64::from(127 - nanos.leading_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ContainerStatus, PodCondition, PodSpec, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

    const NOW: i64 = 1_000_000;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    fn pod(name: &str, node: &str, phase: &str, ready_at: Option<i64>) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                uid: Some(format!("uid-{name}")),
                creation_timestamp: Some(Time(ts(NOW - 100_000))),
                ..Default::default()
            },
            spec: Some(PodSpec {
                node_name: (!node.is_empty()).then(|| node.to_string()),
                ..Default::default()
            }),
            status: Some(PodStatus {
                phase: Some(phase.into()),
                conditions: ready_at.map(|at| {
                    vec![PodCondition {
                        type_: "Ready".into(),
                        status: "True".into(),
                        last_transition_time: Some(Time(ts(at))),
                        ..Default::default()
                    }]
                }),
                ..Default::default()
            }),
        }
    }

    fn order(pods: &[Pod], related: &[Pod]) -> Vec<String> {
        let refs: Vec<&Pod> = pods.iter().collect();
        let rel: Vec<&Pod> = related.iter().collect();
        // Ask for all but one so the sort runs; append the survivor for the full order.
        let mut chosen: Vec<String> = pods_to_delete(&refs, &rel, pods.len() - 1, ts(NOW))
            .iter()
            .map(|p| p.metadata.name.clone().unwrap_or_default())
            .collect();
        for p in pods {
            let name = p.metadata.name.clone().unwrap_or_default();
            if !chosen.contains(&name) {
                chosen.push(name);
            }
        }
        chosen
    }

    #[test]
    fn unassigned_then_pending_then_unknown_then_running() {
        let pods = vec![
            pod("running", "n1", "Running", None),
            pod("unknown", "n1", "Unknown", None),
            pod("pending", "n1", "Pending", None),
            pod("unassigned", "", "Pending", None),
        ];
        assert_eq!(
            order(&pods, &[]),
            ["unassigned", "pending", "unknown", "running"]
        );
    }

    #[test]
    fn not_ready_before_ready_and_lower_cost_before_higher() {
        let mut cheap = pod("cheap", "n1", "Running", Some(NOW - 50_000));
        cheap.metadata.annotations = Some(
            [(
                pod_util::POD_DELETION_COST_ANNOTATION.to_string(),
                "-5".to_string(),
            )]
            .into(),
        );
        let pods = vec![
            pod("ready", "n1", "Running", Some(NOW - 50_000)),
            cheap,
            pod("not-ready", "n1", "Running", None),
        ];
        assert_eq!(order(&pods, &[]), ["not-ready", "cheap", "ready"]);
    }

    #[test]
    fn pods_on_crowded_nodes_go_first() {
        let pods = vec![
            pod("alone", "n1", "Running", Some(NOW - 50_000)),
            pod("crowded", "n2", "Running", Some(NOW - 50_000)),
        ];
        let related = vec![
            pods[0].clone(),
            pods[1].clone(),
            pod("sibling-a", "n2", "Running", None),
            pod("sibling-b", "n2", "Running", None),
        ];
        assert_eq!(order(&pods, &related), ["crowded", "alone"]);
    }

    #[test]
    fn recently_ready_then_restarting_then_newer_pods_go_first() {
        let pods = vec![
            pod("old-ready", "n1", "Running", Some(NOW - 80_000)),
            pod("fresh-ready", "n1", "Running", Some(NOW - 10)),
        ];
        assert_eq!(order(&pods, &[]), ["fresh-ready", "old-ready"]);

        let mut crashy = pod("crashy", "n1", "Running", None);
        if let Some(s) = crashy.status.as_mut() {
            s.container_statuses = Some(vec![ContainerStatus {
                restart_count: 7,
                ..Default::default()
            }]);
        }
        let mut newer = pod("newer", "n1", "Running", None);
        newer.metadata.creation_timestamp = Some(Time(ts(NOW - 5)));
        let pods = vec![pod("older", "n1", "Running", None), newer, crashy];
        assert_eq!(order(&pods, &[]), ["crashy", "newer", "older"]);
    }

    #[test]
    fn deleting_everything_needs_no_ranking() {
        let pods = [
            pod("a", "n1", "Running", None),
            pod("b", "", "Pending", None),
        ];
        let refs: Vec<&Pod> = pods.iter().collect();
        assert_eq!(pods_to_delete(&refs, &[], 2, ts(NOW)).len(), 2);
    }
}

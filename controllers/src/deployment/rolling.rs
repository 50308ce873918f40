//! The RollingUpdate strategy (Kubernetes' rolling.go): grow the new ReplicaSet while
//! the total stays within `replicas + maxSurge`, shrink old ones while available pods
//! stay at or above `replicas - maxUnavailable`, one step per sync.

use super::progress::{deployment_complete, sync_rollout_status};
use super::sync::Syncer;
use super::util::{max_unavailable, replicas, rs_available, rs_replicas, sum};
use super::SyncError;

/// One rolling-update sync (Kubernetes' `rolloutRolling`): scale up if possible, else
/// scale down if possible, else (once complete) clean up history; then status.
pub(super) fn rollout(s: &mut Syncer) -> Result<(), SyncError> {
    s.get_all_replica_sets_and_sync_revision(true)?;
    if reconcile_new_replica_set(s)? || reconcile_old_replica_sets(s) {
        sync_rollout_status(s);
        return Ok(());
    }
    let status = s.d.status.clone().unwrap_or_default();
    if deployment_complete(&s.d, &status) {
        s.cleanup();
    }
    sync_rollout_status(s);
    Ok(())
}

/// Scales the new ReplicaSet toward `replicas` as far as maxSurge allows, or down to
/// `replicas` if it is above. Returns whether it scaled.
fn reconcile_new_replica_set(s: &mut Syncer) -> Result<bool, SyncError> {
    let Some(new) = s.new_rs else {
        return Ok(false);
    };
    let desired = replicas(&s.d);
    let current = rs_replicas(&s.rss[new]);
    if current == desired {
        return Ok(false);
    }
    if current > desired {
        return Ok(s.scale_and_record(new, desired));
    }
    let target = s.new_rs_new_replicas(new)?;
    Ok(s.scale_and_record(new, target))
}

/// Scales old ReplicaSets down as far as availability allows. Returns whether any was.
///
/// The room to scale down is `all - minAvailable - newUnavailable`: pods above the
/// minimum, not counting new pods that are not available yet, so a new template that
/// never becomes ready cannot drain the old pods (Kubernetes' reconcileOldReplicaSets).
fn reconcile_old_replica_sets(s: &mut Syncer) -> bool {
    let Some(new) = s.new_rs else {
        return false;
    };
    let mut old: Vec<usize> = s
        .old_indices()
        .into_iter()
        .filter(|&i| rs_replicas(&s.rss[i]) > 0)
        .collect();
    if old.is_empty() {
        return false;
    }
    let all = sum(s.all_indices().iter().map(|&i| &s.rss[i]), rs_replicas);
    let min_available = replicas(&s.d) - max_unavailable(&s.d);
    let new_unavailable = rs_replicas(&s.rss[new]) - rs_available(&s.rss[new]);
    let max_scaled_down = all - min_available - new_unavailable;
    if max_scaled_down <= 0 {
        return false;
    }
    // Old ReplicaSets are taken oldest first in both passes.
    old.sort_by(|&a, &b| super::util::by_creation(&s.rss[a], &s.rss[b]));
    // Unhealthy old pods go first: removing them costs no availability, and left alone
    // they could block the rollout (kubernetes#16737).
    let Some(cleaned) = cleanup_unhealthy_replicas(s, &old, max_scaled_down) else {
        // Kubernetes swallows this inconsistency and moves on without scaling down.
        return false;
    };
    let scaled = scale_down_old_replica_sets(s, &old);
    cleaned + scaled > 0
}

/// Scales old ReplicaSets down by their unavailable pods, at most `max_cleanup` in
/// total (Kubernetes' `cleanupUnhealthyReplicas`). `None` if a ReplicaSet reports more
/// available pods than it wants (a stale status), as Kubernetes then gives up.
fn cleanup_unhealthy_replicas(s: &mut Syncer, old: &[usize], max_cleanup: i32) -> Option<i32> {
    let mut total = 0;
    for &i in old {
        if total >= max_cleanup {
            break;
        }
        let size = rs_replicas(&s.rss[i]);
        let available = rs_available(&s.rss[i]);
        if size == 0 || size == available {
            continue;
        }
        let count = (max_cleanup - total).min(size - available);
        if count < 0 {
            return None;
        }
        s.scale_and_record(i, size - count);
        total += count;
    }
    Some(total)
}

/// Scales old ReplicaSets down by the available pods above minAvailable, oldest first
/// (Kubernetes' `scaleDownOldReplicaSetsForRollingUpdate`).
fn scale_down_old_replica_sets(s: &mut Syncer, old: &[usize]) -> i32 {
    let min_available = replicas(&s.d) - max_unavailable(&s.d);
    let available = sum(s.all_indices().iter().map(|&i| &s.rss[i]), rs_available);
    if available <= min_available {
        return 0;
    }
    let budget = available - min_available;
    let mut total = 0;
    for &i in old {
        if total >= budget {
            break;
        }
        let size = rs_replicas(&s.rss[i]);
        if size == 0 {
            continue;
        }
        let count = size.min(budget - total);
        s.scale_and_record(i, size - count);
        total += count;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::super::sim::{Sim, Strategy};
    use super::super::DeploymentAction;

    #[test]
    fn first_rollout_creates_the_replica_set_at_full_size() {
        let mut sim = Sim::new(3, Strategy::rolling("25%", "25%"));
        let plan = sim.step();
        let created = plan.actions.iter().find_map(|a| match a {
            DeploymentAction::CreateReplicaSet {
                replica_set,
                events,
            } => Some((replica_set, events)),
            _ => None,
        });
        let (rs, event) = created.expect("new replica set");
        let name = rs.metadata.name.clone().unwrap_or_default();
        let hash = rs
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(super::super::POD_TEMPLATE_HASH_LABEL))
            .cloned()
            .unwrap_or_default();
        assert_eq!(name, format!("web-{hash}"));
        assert_eq!(
            rs.spec
                .as_ref()
                .and_then(|s| s.selector.match_labels.as_ref())
                .and_then(|m| m.get("pod-template-hash")),
            Some(&hash)
        );
        assert_eq!(
            event.first().map(|e| e.message.clone()),
            Some(format!("Scaled up replica set {name} from 0 to 3"))
        );
        assert_eq!(plan.revision.as_deref(), Some("1"));
    }

    #[test]
    fn rolling_update_of_three_stays_within_surge_and_availability() {
        let mut sim = Sim::new(3, Strategy::rolling("25%", "25%"));
        sim.settle();
        assert_eq!(sim.sizes(), vec![3]);
        sim.change_image("web:2");
        // 25% of 3: surge rounds up to 1, unavailable rounds down to 0.
        let (max_total, min_available) = (3 + 1, 3);
        for step in 0..30 {
            let plan = sim.sync_and_apply();
            assert!(
                sim.active_pods() <= max_total,
                "step {step}: {} pods",
                sim.active_pods()
            );
            assert!(
                sim.available_pods() >= min_available,
                "step {step}: {} available",
                sim.available_pods()
            );
            sim.tick();
            if plan.actions.is_empty() && plan.status.is_none() && sim.sizes() == vec![0, 3] {
                break;
            }
        }
        assert_eq!(sim.sizes(), vec![0, 3], "old drained, new at full size");
        let status = sim.deployment.status.clone().unwrap_or_default();
        assert_eq!(status.updated_replicas, Some(3));
        assert_eq!(status.available_replicas, Some(3));
        assert_eq!(status.unavailable_replicas, None);
        let revision = sim
            .deployment
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("deployment.kubernetes.io/revision"))
            .cloned();
        assert_eq!(revision.as_deref(), Some("2"));
    }

    #[test]
    fn unavailable_new_pods_do_not_drain_old_ones() {
        let mut sim = Sim::new(4, Strategy::rolling("1", "1"));
        sim.settle();
        sim.change_image("web:2");
        sim.pods_become_available = false;
        for _ in 0..10 {
            sim.step();
        }
        // Old lost exactly maxUnavailable; new holds the surge plus that one.
        assert_eq!(sim.sizes(), vec![3, 2]);
        assert_eq!(sim.available_pods(), 3);
    }

    #[test]
    fn unhealthy_old_pods_are_removed_first() {
        let mut sim = Sim::new(3, Strategy::rolling("0", "1"));
        sim.settle();
        // One old pod stops being ready.
        if let Some(pod) = sim.pods.first_mut() {
            if let Some(status) = pod.status.as_mut() {
                status.conditions = None;
            }
        }
        sim.pods_become_available = false;
        sim.tick();
        sim.change_image("web:2");
        let plan = sim.step();
        let scaled: Vec<String> = plan
            .actions
            .iter()
            .filter_map(|a| match a {
                DeploymentAction::UpdateReplicaSet { events, .. } => {
                    events.first().map(|e| e.message.clone())
                }
                _ => None,
            })
            .collect();
        assert_eq!(scaled.len(), 1, "{scaled:?}");
        assert!(scaled[0].ends_with("from 3 to 2"));
        assert_eq!(
            sim.available_pods(),
            2,
            "the unready pod went, the ready ones stay"
        );
    }

    #[test]
    fn two_resizes_of_one_replica_set_in_a_sync_are_one_write_with_both_events() {
        let mut sim = Sim::new(4, Strategy::rolling("0", "2"));
        sim.settle();
        if let Some(status) = sim.pods.first_mut().and_then(|p| p.status.as_mut()) {
            status.conditions = None;
        }
        sim.pods_become_available = false;
        sim.tick();
        sim.change_image("web:2");
        let plan = sim.step();
        let updates: Vec<Vec<String>> = plan
            .actions
            .iter()
            .filter_map(|a| match a {
                DeploymentAction::UpdateReplicaSet { events, .. } => {
                    Some(events.iter().map(|e| e.message.clone()).collect())
                }
                _ => None,
            })
            .collect();
        // Unhealthy cleanup takes the unready pod, then availability allows one more.
        assert_eq!(updates.len(), 1, "{updates:?}");
        assert!(updates[0][0].ends_with("from 4 to 3"), "{updates:?}");
        assert!(updates[0][1].ends_with("from 3 to 2"), "{updates:?}");
        assert_eq!(sim.sizes(), vec![2, 0]);
    }

    #[test]
    fn history_beyond_the_limit_is_cleaned_oldest_first() {
        let mut sim = Sim::new(1, Strategy::rolling("1", "0"));
        if let Some(s) = sim.deployment.spec.as_mut() {
            s.revision_history_limit = Some(2);
        }
        sim.settle();
        for v in 2..=5 {
            sim.change_image(&format!("web:{v}"));
            sim.settle();
        }
        // Current plus the two most recent old revisions.
        let mut revisions: Vec<String> = sim
            .replica_sets
            .iter()
            .filter_map(|rs| {
                rs.metadata
                    .annotations
                    .as_ref()?
                    .get("deployment.kubernetes.io/revision")
                    .cloned()
            })
            .collect();
        revisions.sort();
        assert_eq!(revisions, vec!["3", "4", "5"]);
    }
}

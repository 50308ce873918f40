//! Rollout progress: the Progressing condition against progressDeadlineSeconds, and
//! when to look again (Kubernetes' progress.go).
//!
//! Progress means more updated, ready or available pods, or fewer old ones, than the
//! status last said. Each sign of progress refreshes the condition's lastUpdateTime;
//! a rollout that shows none for progressDeadlineSeconds is marked
//! ProgressDeadlineExceeded (the rollout itself continues: the condition only reports).

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, DeploymentStatus};

use super::conditions::{
    self as cond, from_replica_set_condition, get_condition, new_condition, remove_condition,
    set_condition, Subject,
};
use super::sync::Syncer;
use super::util::{progress_deadline_seconds, replicas};

/// Computes the status during a rollout, estimating progress, and the requeue for the
/// deadline check (Kubernetes' `syncRolloutStatus`).
pub(super) fn sync_rollout_status(s: &mut Syncer) {
    let mut status = s.calculate_status();
    let deadline = progress_deadline_seconds(&s.d);
    if deadline.is_none() {
        remove_condition(&mut status, cond::PROGRESSING);
    }
    let old_status = s.d.status.clone().unwrap_or_default();
    let current = get_condition(&old_status, cond::PROGRESSING).cloned();
    // A finished rollout being resynced: nothing to estimate.
    let finished = status.replicas == status.updated_replicas
        && current.as_ref().and_then(|c| c.reason.as_deref())
            == Some(cond::NEW_RS_AVAILABLE_REASON);
    let d_name = s.d.metadata.name.clone().unwrap_or_default();
    let rs_name = s.new_rs.and_then(|i| s.rss[i].metadata.name.clone());
    let subject = match rs_name.as_deref() {
        Some(n) => Subject::ReplicaSet(n),
        None => Subject::Deployment(&d_name),
    };

    if deadline.is_some() && !finished {
        if deployment_complete(&s.d, &status) {
            set_condition(
                &mut status,
                new_condition(
                    cond::PROGRESSING,
                    "True",
                    cond::NEW_RS_AVAILABLE_REASON,
                    cond::progressed_message(&subject),
                    s.now,
                ),
            );
        } else if deployment_progressing(&old_status, &status) {
            // Unlike other conditions, Progressing is rewritten for the same reason so
            // lastUpdateTime records the latest progress; lastTransitionTime stays while
            // the status stays True.
            let mut condition = new_condition(
                cond::PROGRESSING,
                "True",
                cond::REPLICA_SET_UPDATED_REASON,
                cond::progressing_message(&subject),
                s.now,
            );
            if let Some(current) = &current {
                if current.status == "True" {
                    condition.last_transition_time = current.last_transition_time.clone();
                }
                remove_condition(&mut status, cond::PROGRESSING);
            }
            set_condition(&mut status, condition);
        } else if deployment_timed_out(&s.d, &status, s.now) {
            set_condition(
                &mut status,
                new_condition(
                    cond::PROGRESSING,
                    "False",
                    cond::TIMED_OUT_REASON,
                    cond::timed_out_message(&subject),
                    s.now,
                ),
            );
        }
    }

    match replica_failure(s) {
        Some(failure) => set_condition(&mut status, failure),
        None => remove_condition(&mut status, cond::REPLICA_FAILURE),
    }

    // Kubernetes schedules the deadline check only when nothing changed; a written
    // status comes back as a watch event and is checked on that sync.
    if old_status == status {
        s.requeue_after = requeue_after(&s.d, &status, s.now);
    }
    s.d.status = Some(status);
}

/// The first ReplicaFailure of the new ReplicaSet, else of any ReplicaSet.
fn replica_failure(s: &Syncer) -> Option<DeploymentCondition> {
    let failure_of = |i: usize| {
        s.rss[i]
            .status
            .as_ref()
            .and_then(|st| st.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == cond::REPLICA_FAILURE))
            .map(from_replica_set_condition)
    };
    s.new_rs
        .and_then(failure_of)
        .or_else(|| s.all_indices().into_iter().find_map(failure_of))
}

/// Every desired replica is updated and available, no old pod remains, and the status
/// is of the current generation (Kubernetes' `DeploymentComplete`).
pub(super) fn deployment_complete(d: &Deployment, status: &DeploymentStatus) -> bool {
    let desired = replicas(d);
    status.updated_replicas.unwrap_or(0) == desired
        && status.replicas.unwrap_or(0) == desired
        && status.available_replicas.unwrap_or(0) == desired
        && status.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0)
}

/// Whether `new` shows progress over `old` (Kubernetes' `DeploymentProgressing`).
fn deployment_progressing(old: &DeploymentStatus, new: &DeploymentStatus) -> bool {
    let n = |v: Option<i32>| v.unwrap_or(0);
    let old_old_pods = n(old.replicas) - n(old.updated_replicas);
    let new_old_pods = n(new.replicas) - n(new.updated_replicas);
    n(new.updated_replicas) > n(old.updated_replicas)
        || new_old_pods < old_old_pods
        || n(new.ready_replicas) > n(old.ready_replicas)
        || n(new.available_replicas) > n(old.available_replicas)
}

/// When the Progressing condition's last update plus the deadline lies in the past.
/// A missing time reads as long ago.
fn deadline_at(d: &Deployment, c: &DeploymentCondition) -> Option<Timestamp> {
    let secs = progress_deadline_seconds(d)?;
    let from = c
        .last_update_time
        .as_ref()
        .map_or(Timestamp::UNIX_EPOCH, |t| t.0);
    from.checked_add(SignedDuration::from_secs(i64::from(secs)))
        .ok()
}

/// Whether the rollout has shown no progress within the deadline (Kubernetes'
/// `DeploymentTimedOut`): never after a completed rollout, always once timed out.
fn deployment_timed_out(d: &Deployment, status: &DeploymentStatus, now: Timestamp) -> bool {
    let Some(c) = get_condition(status, cond::PROGRESSING) else {
        return false;
    };
    match c.reason.as_deref() {
        Some(cond::NEW_RS_AVAILABLE_REASON) => false,
        Some(cond::TIMED_OUT_REASON) => progress_deadline_seconds(d).is_some(),
        _ => deadline_at(d, c).is_some_and(|at| at < now),
    }
}

/// When to check the deadline again (Kubernetes' `requeueStuckDeployment`): not at all
/// without a deadline, a Progressing condition, or once complete or timed out;
/// immediately when less than a second is left; otherwise a second after it passes.
fn requeue_after(d: &Deployment, status: &DeploymentStatus, now: Timestamp) -> Option<Duration> {
    let c = get_condition(status, cond::PROGRESSING)?;
    if deployment_complete(d, status) || c.reason.as_deref() == Some(cond::TIMED_OUT_REASON) {
        return None;
    }
    let left = deadline_at(d, c)?.duration_since(now);
    if left < SignedDuration::from_secs(1) {
        return Some(Duration::ZERO);
    }
    Duration::try_from(left + SignedDuration::from_secs(1)).ok()
}

#[cfg(test)]
mod tests {
    use super::super::sim::{Sim, Strategy};
    use super::super::{PROGRESSING, TIMED_OUT_REASON};
    use super::*;
    use jiff::ToSpan;

    fn progressing(sim: &Sim) -> DeploymentCondition {
        let status = sim.deployment.status.clone().unwrap_or_default();
        get_condition(&status, PROGRESSING)
            .cloned()
            .expect("Progressing condition")
    }

    #[test]
    fn stuck_rollout_exceeds_its_deadline_with_kubernetes_message() {
        let mut sim = Sim::new(3, Strategy::rolling("25%", "25%"));
        if let Some(spec) = sim.deployment.spec.as_mut() {
            spec.progress_deadline_seconds = Some(600);
        }
        sim.settle();
        sim.change_image("web:2");
        sim.pods_become_available = false;
        let first = sim.step();
        assert!(first
            .actions
            .iter()
            .any(|a| matches!(a, super::super::DeploymentAction::CreateReplicaSet { .. })));
        assert_eq!(
            progressing(&sim).reason.as_deref(),
            Some(cond::NEW_REPLICA_SET_REASON)
        );
        // The new pod appears (progress), then nothing more happens.
        sim.step();
        sim.step();
        assert_eq!(
            progressing(&sim).reason.as_deref(),
            Some(cond::REPLICA_SET_UPDATED_REASON)
        );

        // Before the deadline a requeue is scheduled for just after it.
        sim.advance(5.minutes());
        let waiting = sim.step();
        let requeue = waiting.requeue_after.expect("deadline check scheduled");
        assert_eq!(requeue, Duration::from_secs(301));

        sim.advance(6.minutes());
        sim.step();
        let c = progressing(&sim);
        assert_eq!(c.status, "False");
        assert_eq!(c.reason.as_deref(), Some(TIMED_OUT_REASON));
        let name = sim.new_rs_name().expect("new replica set");
        assert_eq!(
            c.message,
            Some(format!("ReplicaSet \"{name}\" has timed out progressing."))
        );
    }

    #[test]
    fn finished_rollout_reports_successful_progress() {
        let mut sim = Sim::new(2, Strategy::rolling("25%", "25%"));
        sim.settle();
        let c = progressing(&sim);
        let name = sim.new_rs_name().expect("new replica set");
        assert_eq!(c.reason.as_deref(), Some(cond::NEW_RS_AVAILABLE_REASON));
        assert_eq!(
            c.message,
            Some(format!(
                "ReplicaSet \"{name}\" has successfully progressed."
            ))
        );
        let available = get_condition(
            sim.deployment.status.as_ref().expect("status"),
            cond::AVAILABLE,
        )
        .expect("Available");
        assert_eq!(
            available.reason.as_deref(),
            Some(cond::MINIMUM_REPLICAS_AVAILABLE)
        );
    }

    #[test]
    fn progress_refreshes_update_time_but_not_transition_time() {
        let mut sim = Sim::new(4, Strategy::rolling("25%", "25%"));
        sim.settle();
        sim.change_image("web:2");
        sim.step();
        let created = progressing(&sim);
        sim.advance(1.minute());
        sim.step();
        let updated = progressing(&sim);
        assert_eq!(
            updated.reason.as_deref(),
            Some(cond::REPLICA_SET_UPDATED_REASON)
        );
        assert_eq!(updated.last_transition_time, created.last_transition_time);
        assert!(updated.last_update_time > created.last_update_time);
    }
}

//! The Recreate strategy (Kubernetes' recreate.go): scale every old ReplicaSet to
//! zero, wait until none of their pods is left running, and only then create (or
//! scale up) the new ReplicaSet, so old and new pods never run side by side.

use super::progress::{deployment_complete, sync_rollout_status};
use super::sync::Syncer;
use super::util::{replicas, rs_replicas};
use super::SyncError;

/// One Recreate sync (Kubernetes' `rolloutRecreate`).
pub(super) fn rollout(s: &mut Syncer) -> Result<(), SyncError> {
    // No new ReplicaSet yet: creating it now could start new pods before old ones stop.
    s.get_all_replica_sets_and_sync_revision(false)?;

    let mut scaled_down = false;
    for i in s.old_indices() {
        if rs_replicas(&s.rss[i]) > 0 && s.scale_and_record(i, 0) {
            scaled_down = true;
        }
    }
    if scaled_down || s.old_pods_running() {
        sync_rollout_status(s);
        return Ok(());
    }

    if s.new_rs.is_none() {
        s.get_all_replica_sets_and_sync_revision(true)?;
    }
    if let Some(new) = s.new_rs {
        let desired = replicas(&s.d);
        s.scale_and_record(new, desired);
    }
    let status = s.d.status.clone().unwrap_or_default();
    if deployment_complete(&s.d, &status) {
        s.cleanup();
    }
    sync_rollout_status(s);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::sim::{Sim, Strategy};
    use super::super::DeploymentAction;

    fn created(plan: &super::super::DeploymentPlan) -> bool {
        plan.actions
            .iter()
            .any(|a| matches!(a, DeploymentAction::CreateReplicaSet { .. }))
    }

    #[test]
    fn recreate_scales_old_to_zero_and_waits_for_pods_before_creating_new() {
        let mut sim = Sim::new(3, Strategy::recreate());
        sim.settle();
        sim.change_image("web:2");

        // 1. Old scaled to zero; nothing new yet.
        let plan = sim.sync_and_apply();
        assert!(!created(&plan));
        assert_eq!(sim.sizes(), vec![0]);

        // 2. Old pods are still terminating: wait.
        let plan = sim.sync_and_apply();
        assert!(!created(&plan), "old pods still running");
        assert!(plan.actions.is_empty());

        // 3. Old pods gone: the new ReplicaSet is created at full size.
        sim.tick();
        let plan = sim.step();
        assert!(created(&plan));
        assert_eq!(sim.sizes(), vec![0, 3]);

        sim.settle();
        let status = sim.deployment.status.clone().unwrap_or_default();
        assert_eq!(status.available_replicas, Some(3));
        assert_eq!(status.updated_replicas, Some(3));
    }

    #[test]
    fn finished_old_pods_do_not_block_the_new_replica_set() {
        let mut sim = Sim::new(1, Strategy::recreate());
        sim.settle();
        // The old pod completed (phase Succeeded) instead of being deleted.
        for pod in &mut sim.pods {
            if let Some(status) = pod.status.as_mut() {
                status.phase = Some("Succeeded".into());
            }
        }
        sim.tick();
        sim.change_image("web:2");
        sim.step();
        let plan = sim.step();
        assert!(created(&plan));
    }
}

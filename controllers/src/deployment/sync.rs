//! One sync of a Deployment (Kubernetes' `syncDeployment` and deployment/sync.go):
//! claim ReplicaSets, find or create the new one and keep revisions in order, then
//! either only report status (being deleted), scale (paused, or resized), or roll out
//! by the strategy.

use std::collections::HashMap;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;

use super::annotations::{
    desired_replicas, replicas_annotations_need_update, revision, set_replicas_annotations,
    REVISION_ANNOTATION,
};
use super::conditions::{self as cond, get_condition, new_condition, set_condition};
use super::util::{
    self, by_creation, is_paused, is_rolling_update, max_surge, max_unavailable,
    progress_deadline_seconds, replicas, rs_replicas, set_rs_replicas, sum, RECREATE,
};
use super::{
    recreate, rolling, scale, DeploymentAction, DeploymentPlan, SyncError,
    SCALING_REPLICA_SET_REASON, SELECTING_ALL_REASON,
};
use crate::controller_ref::{claim, controller_of, selector_is_empty, selector_matches, Claim};
use crate::replicaset::Event;

/// What one sync of a Deployment looks at.
#[derive(Debug, Clone, Copy)]
pub struct DeploymentInput<'a> {
    /// The Deployment, as the informer holds it.
    pub deployment: &'a Deployment,
    /// The ReplicaSets of its namespace (others are ignored).
    pub replica_sets: &'a [ReplicaSet],
    /// The pods of its namespace: Recreate waits for old ones to be gone.
    pub pods: &'a [Pod],
    /// The current time, for conditions and the progress deadline.
    pub now: Timestamp,
}

/// The working state of one sync: a copy of the Deployment whose annotations and status
/// the steps update, the owned ReplicaSets (oldest first) as they will be once the
/// planned actions are applied, and the actions so far.
pub(super) struct Syncer {
    pub d: Deployment,
    pub rss: Vec<ReplicaSet>,
    pub new_rs: Option<usize>,
    pub actions: Vec<DeploymentAction>,
    pub now: Timestamp,
    /// Pods of each owned ReplicaSet, by ReplicaSet UID (Kubernetes' podMap).
    pub pods_by_rs: HashMap<String, Vec<Pod>>,
    pub requeue_after: Option<Duration>,
}

/// Plans one sync of `input.deployment`.
pub fn sync(input: DeploymentInput<'_>) -> Result<DeploymentPlan, SyncError> {
    let d = input.deployment;
    let spec = d.spec.as_ref().ok_or(SyncError::MissingSpec)?;
    // Check the strategy parameters once, so later arithmetic can rely on them.
    if is_rolling_update(d) {
        util::resolve_fenceposts(d, replicas(d))?;
    } else if util::strategy_type(d) != RECREATE {
        return Err(SyncError::UnsupportedStrategy(
            util::strategy_type(d).into(),
        ));
    }
    let mut s = Syncer {
        d: d.clone(),
        rss: Vec::new(),
        new_rs: None,
        actions: Vec::new(),
        now: input.now,
        pods_by_rs: HashMap::new(),
        requeue_after: None,
    };

    if selector_is_empty(&spec.selector) {
        s.actions.push(DeploymentAction::RecordEvent(Event::warning(
            SELECTING_ALL_REASON,
            "This deployment is selecting all pods. A non-empty selector is required.".into(),
        )));
        let status = s.d.status.get_or_insert_with(Default::default);
        if status.observed_generation < d.metadata.generation {
            status.observed_generation = d.metadata.generation;
        }
        return Ok(s.finish(d));
    }

    s.claim_replica_sets(input.replica_sets)?;
    s.map_pods(input.pods)?;

    if d.metadata.deletion_timestamp.is_some() {
        s.get_all_replica_sets_and_sync_revision(false)?;
        s.sync_deployment_status();
        return Ok(s.finish(d));
    }
    s.check_paused_conditions();
    if is_paused(d) || s.is_scaling_event()? {
        s.sync_scale()?;
        return Ok(s.finish(d));
    }
    if util::strategy_type(d) == RECREATE {
        recreate::rollout(&mut s)?;
    } else {
        rolling::rollout(&mut s)?;
    }
    Ok(s.finish(d))
}

impl Syncer {
    /// The plan: the actions, plus the annotation and status writes that differ from
    /// `original`.
    fn finish(self, original: &Deployment) -> DeploymentPlan {
        let rev = |d: &Deployment| {
            d.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(REVISION_ANNOTATION))
                .cloned()
        };
        let revision = rev(&self.d).filter(|r| Some(r) != rev(original).as_ref());
        let status = self
            .d
            .status
            .clone()
            .filter(|s| Some(s) != original.status.as_ref());
        DeploymentPlan {
            actions: self.actions,
            revision,
            status,
            requeue_after: self.requeue_after,
        }
    }

    /// Adopts matching orphans and releases owned ReplicaSets that no longer match
    /// (Kubernetes' `getReplicaSetsForDeployment`); keeps the owned ones oldest first.
    fn claim_replica_sets(&mut self, all: &[ReplicaSet]) -> Result<(), SyncError> {
        let selector = self
            .d
            .spec
            .as_ref()
            .map(|s| s.selector.clone())
            .unwrap_or_default();
        let namespace = self.d.metadata.namespace.clone();
        for rs in all.iter().filter(|rs| rs.metadata.namespace == namespace) {
            match claim::<Deployment>(&self.d.metadata, &selector, &rs.metadata)? {
                Claim::Owned => self.rss.push(rs.clone()),
                Claim::Adopt(change) => {
                    let mut adopted = rs.clone();
                    adopted.metadata.owner_references = Some(change.owner_references.clone());
                    self.actions.push(DeploymentAction::AdoptReplicaSet(change));
                    self.rss.push(adopted);
                }
                Claim::Release(change) => self
                    .actions
                    .push(DeploymentAction::ReleaseReplicaSet(change)),
                Claim::Ignore => {}
            }
        }
        self.rss.sort_by(by_creation);
        Ok(())
    }

    /// Groups the pods the Deployment selects by their controlling ReplicaSet, terminal
    /// ones included (Recreate must see every old pod gone).
    fn map_pods(&mut self, pods: &[Pod]) -> Result<(), SyncError> {
        let selector = self
            .d
            .spec
            .as_ref()
            .map(|s| s.selector.clone())
            .unwrap_or_default();
        for rs in &self.rss {
            self.pods_by_rs
                .insert(rs.metadata.uid.clone().unwrap_or_default(), Vec::new());
        }
        for pod in pods
            .iter()
            .filter(|p| p.metadata.namespace == self.d.metadata.namespace)
        {
            if !selector_matches(&selector, pod.metadata.labels.as_ref())? {
                continue;
            }
            if let Some(owner) = controller_of(&pod.metadata) {
                if let Some(list) = self.pods_by_rs.get_mut(&owner.uid) {
                    list.push(pod.clone());
                }
            }
        }
        Ok(())
    }

    /// Indices of the old ReplicaSets (all but the new one), oldest first.
    pub fn old_indices(&self) -> Vec<usize> {
        (0..self.rss.len())
            .filter(|&i| Some(i) != self.new_rs)
            .collect()
    }

    /// Indices of the old ReplicaSets, then the new one: Kubernetes' `allRSs`.
    pub fn all_indices(&self) -> Vec<usize> {
        let mut all = self.old_indices();
        all.extend(self.new_rs);
        all
    }

    /// Resizes a ReplicaSet if its size differs, recording the event
    /// (Kubernetes' `scaleReplicaSetAndRecordEvent`).
    pub fn scale_and_record(&mut self, i: usize, new_scale: i32) -> bool {
        let current = rs_replicas(&self.rss[i]);
        if current == new_scale {
            return false;
        }
        let op = if current < new_scale { "up" } else { "down" };
        self.scale_replica_set(i, new_scale, op)
    }

    /// Writes a ReplicaSet's size and its desired/max annotations when either is
    /// stale; returns whether the size changed (Kubernetes' `scaleReplicaSet`).
    pub fn scale_replica_set(&mut self, i: usize, new_scale: i32, op: &str) -> bool {
        let desired = replicas(&self.d);
        let max = desired + max_surge(&self.d);
        let rs = &mut self.rss[i];
        let old_scale = rs_replicas(rs);
        let size_changed = old_scale != new_scale;
        if !size_changed && !replicas_annotations_need_update(rs, desired, max) {
            return false;
        }
        set_rs_replicas(rs, new_scale);
        set_replicas_annotations(rs, desired, max);
        let name = rs.metadata.name.clone().unwrap_or_default();
        let event = size_changed.then(|| {
            Event::normal(
                SCALING_REPLICA_SET_REASON,
                format!("Scaled {op} replica set {name} from {old_scale} to {new_scale}"),
            )
        });
        let rs = rs.clone();
        self.write_replica_set(rs, event);
        size_changed
    }

    /// Plans writing `rs`, folding it into an earlier create or update of the same
    /// ReplicaSet in this plan: a second update would carry a stale resourceVersion
    /// (Kubernetes carries the object each update returns into the next step).
    pub fn write_replica_set(&mut self, mut rs: ReplicaSet, event: Option<Event>) {
        for action in &mut self.actions {
            match action {
                DeploymentAction::CreateReplicaSet {
                    replica_set,
                    events,
                }
                | DeploymentAction::UpdateReplicaSet {
                    replica_set,
                    events,
                } if replica_set.metadata.name == rs.metadata.name => {
                    // The creation time on our working copy is ours, not the server's.
                    rs.metadata.creation_timestamp = replica_set.metadata.creation_timestamp.take();
                    **replica_set = rs;
                    events.extend(event);
                    return;
                }
                _ => {}
            }
        }
        self.actions.push(DeploymentAction::UpdateReplicaSet {
            replica_set: Box::new(rs),
            events: event.into_iter().collect(),
        });
    }

    /// Deletes the oldest old ReplicaSets beyond revisionHistoryLimit, never one that
    /// still has or wants pods or whose last change its controller has not yet seen
    /// (Kubernetes' `cleanupDeployment`).
    pub fn cleanup(&mut self) {
        let Some(limit) = util::revision_history_limit(&self.d) else {
            return;
        };
        let mut cleanable: Vec<usize> = self
            .old_indices()
            .into_iter()
            .filter(|&i| self.rss[i].metadata.deletion_timestamp.is_none())
            .collect();
        let excess = cleanable
            .len()
            .saturating_sub(usize::try_from(limit).unwrap_or(0));
        if excess == 0 {
            return;
        }
        cleanable.sort_by(|&a, &b| {
            let (ra, rb) = (&self.rss[a], &self.rss[b]);
            match (revision(ra), revision(rb)) {
                (Some(x), Some(y)) if x != y => x.cmp(&y),
                _ => by_creation(ra, rb),
            }
        });
        for &i in cleanable.iter().take(excess) {
            let rs = &self.rss[i];
            let status = rs.status.clone().unwrap_or_default();
            let unobserved =
                rs.metadata.generation.unwrap_or(0) > status.observed_generation.unwrap_or(0);
            if status.replicas != 0 || rs_replicas(rs) != 0 || unobserved {
                continue;
            }
            self.actions.push(DeploymentAction::DeleteReplicaSet {
                name: rs.metadata.name.clone().unwrap_or_default(),
                uid: rs.metadata.uid.clone().unwrap_or_default(),
            });
        }
    }

    /// The status the ReplicaSets add up to, with the Available condition (Kubernetes'
    /// `calculateStatus`). Zero counts are omitted, as Kubernetes' JSON omits them.
    pub fn calculate_status(&self) -> DeploymentStatus {
        let all: Vec<&ReplicaSet> = self.all_indices().iter().map(|&i| &self.rss[i]).collect();
        let available = sum(all.iter().copied(), util::rs_available);
        let total = sum(all.iter().copied(), rs_replicas);
        let unavailable = (total - available).max(0);
        let previous = self.d.status.clone().unwrap_or_default();
        let nz = |v: i32| (v != 0).then_some(v);
        let mut status = DeploymentStatus {
            observed_generation: self.d.metadata.generation,
            replicas: nz(sum(all.iter().copied(), util::rs_actual)),
            updated_replicas: nz(self.new_rs.map_or(0, |i| util::rs_actual(&self.rss[i]))),
            ready_replicas: nz(sum(all.iter().copied(), util::rs_ready)),
            available_replicas: nz(available),
            unavailable_replicas: nz(unavailable),
            collision_count: previous.collision_count,
            conditions: previous.conditions,
            terminating_replicas: None,
        };
        let condition = if available >= replicas(&self.d) - max_unavailable(&self.d) {
            new_condition(
                cond::AVAILABLE,
                "True",
                cond::MINIMUM_REPLICAS_AVAILABLE,
                "Deployment has minimum availability.".into(),
                self.now,
            )
        } else {
            new_condition(
                cond::AVAILABLE,
                "False",
                cond::MINIMUM_REPLICAS_UNAVAILABLE,
                "Deployment does not have minimum availability.".into(),
                self.now,
            )
        };
        set_condition(&mut status, condition);
        status
    }

    /// Status without progress estimation (Kubernetes' `syncDeploymentStatus`).
    pub fn sync_deployment_status(&mut self) {
        self.d.status = Some(self.calculate_status());
    }

    /// Marks the Progressing condition paused or resumed, so time spent paused never
    /// counts against progressDeadlineSeconds (Kubernetes' `checkPausedConditions`).
    fn check_paused_conditions(&mut self) {
        if progress_deadline_seconds(&self.d).is_none() {
            return;
        }
        let paused = is_paused(&self.d);
        let status = self.d.status.get_or_insert_with(Default::default);
        let reason = get_condition(status, cond::PROGRESSING).and_then(|c| c.reason.clone());
        if reason.as_deref() == Some(cond::TIMED_OUT_REASON) {
            return;
        }
        let paused_recorded = reason.as_deref() == Some(cond::PAUSED_DEPLOY_REASON);
        if paused && !paused_recorded {
            set_condition(
                status,
                new_condition(
                    cond::PROGRESSING,
                    "Unknown",
                    cond::PAUSED_DEPLOY_REASON,
                    "Deployment is paused".into(),
                    self.now,
                ),
            );
        } else if !paused && paused_recorded {
            set_condition(
                status,
                new_condition(
                    cond::PROGRESSING,
                    "Unknown",
                    cond::RESUMED_DEPLOY_REASON,
                    "Deployment is resumed".into(),
                    self.now,
                ),
            );
        }
    }

    /// Whether `spec.replicas` changed since the active ReplicaSets were last sized:
    /// their desired-replicas annotation says so (Kubernetes' `isScalingEvent`).
    fn is_scaling_event(&mut self) -> Result<bool, SyncError> {
        self.get_all_replica_sets_and_sync_revision(false)?;
        let desired = replicas(&self.d);
        Ok(self.all_indices().iter().any(|&i| {
            let rs = &self.rss[i];
            rs_replicas(rs) > 0 && desired_replicas(rs).is_some_and(|a| a != desired)
        }))
    }

    /// Scaling without rollout, for paused or resized Deployments (Kubernetes' `sync`).
    fn sync_scale(&mut self) -> Result<(), SyncError> {
        self.get_all_replica_sets_and_sync_revision(false)?;
        scale::scale(self);
        if is_paused(&self.d) {
            self.cleanup();
        }
        self.sync_deployment_status();
        Ok(())
    }

    /// Whether any old ReplicaSet still has pods, or any pod of an old ReplicaSet is
    /// not terminal (Kubernetes' `oldPodsRunning`; phase Unknown counts as running).
    pub fn old_pods_running(&self) -> bool {
        let old = self.old_indices();
        if sum(old.iter().map(|&i| &self.rss[i]), util::rs_actual) > 0 {
            return true;
        }
        let new_uid = self.new_rs.and_then(|i| self.rss[i].metadata.uid.clone());
        self.pods_by_rs.iter().any(|(uid, pods)| {
            Some(uid) != new_uid.as_ref()
                && pods
                    .iter()
                    .any(|p| !matches!(crate::pod_util::phase(p), "Succeeded" | "Failed"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::sim::{Sim, Strategy};
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    #[test]
    fn empty_selector_only_warns_and_observes_the_generation() {
        let mut sim = Sim::new(1, Strategy::rolling("25%", "25%"));
        if let Some(spec) = sim.deployment.spec.as_mut() {
            spec.selector = Default::default();
        }
        let plan = sim.step();
        let [DeploymentAction::RecordEvent(e)] = plan.actions.as_slice() else {
            panic!("expected only the warning: {:?}", plan.actions);
        };
        assert_eq!(e.reason, SELECTING_ALL_REASON);
        assert_eq!(plan.status.and_then(|s| s.observed_generation), Some(1));
    }

    #[test]
    fn orphan_replica_set_matching_the_selector_is_adopted() {
        let mut sim = Sim::new(2, Strategy::rolling("25%", "25%"));
        sim.settle();
        sim.replica_sets[0].metadata.owner_references = None;
        let plan = sim.step();
        assert!(matches!(
            plan.actions.first(),
            Some(DeploymentAction::AdoptReplicaSet(change)) if change.owner.kind == "Deployment"
        ));
        assert!(
            !plan
                .actions
                .iter()
                .any(|a| matches!(a, DeploymentAction::CreateReplicaSet { .. })),
            "the adopted ReplicaSet is the new one"
        );
    }

    #[test]
    fn pausing_marks_progressing_unknown_and_resuming_reestimates_progress() {
        let mut sim = Sim::new(1, Strategy::rolling("25%", "25%"));
        sim.settle();
        let reason = |sim: &Sim| {
            sim.deployment
                .status
                .as_ref()
                .and_then(|s| get_condition(s, cond::PROGRESSING))
                .map(|c| (c.status.clone(), c.reason.clone().unwrap_or_default()))
        };
        if let Some(spec) = sim.deployment.spec.as_mut() {
            spec.paused = Some(true);
        }
        sim.step();
        assert_eq!(
            reason(&sim),
            Some(("Unknown".into(), cond::PAUSED_DEPLOY_REASON.into()))
        );
        if let Some(spec) = sim.deployment.spec.as_mut() {
            spec.paused = Some(false);
        }
        sim.step();
        assert_eq!(
            reason(&sim),
            Some(("True".into(), cond::NEW_RS_AVAILABLE_REASON.into())),
            "resumed restarts the deadline; this finished rollout is at once reported done"
        );
    }

    #[test]
    fn deployment_being_deleted_only_reports_status() {
        let mut sim = Sim::new(2, Strategy::rolling("25%", "25%"));
        sim.settle();
        sim.set_replicas(5);
        sim.deployment.metadata.deletion_timestamp = Some(Time(sim.now));
        let plan = sim.step();
        assert!(plan.actions.is_empty());
        assert_eq!(sim.sizes(), vec![2]);
    }
}

//! The new ReplicaSet: finding the one that runs the current template, creating it
//! when there is none (named and labeled by the pod-template-hash, sized by the
//! strategy), keeping revisions in order, and resolving name collisions (Kubernetes'
//! `getNewReplicaSet`).

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

use super::annotations::{
    max_revision, set_deployment_revision, set_new_replica_set_annotations, REVISION_ANNOTATION,
};
use super::conditions::{self as cond, get_condition, new_condition, set_condition};
use super::hash::{compute_hash, equal_ignore_hash};
use super::sync::Syncer;
use super::util::{
    self, find_new_replica_set, is_rolling_update, max_surge, min_ready_seconds,
    progress_deadline_seconds, replicas, rs_replicas, set_rs_replicas, sum,
    POD_TEMPLATE_HASH_LABEL,
};
use super::{DeploymentAction, SyncError, SCALING_REPLICA_SET_REASON};
use crate::controller_ref::{is_controlled_by, new_controller_ref};
use crate::replicaset::Event;

/// How a `CreateReplicaSet` answered with AlreadyExists resolves.
#[derive(Debug, Clone, PartialEq)]
pub enum CreateConflict {
    /// The existing ReplicaSet is this Deployment's, with its template: treat the
    /// create as done and carry on with the plan.
    Ours,
    /// A different ReplicaSet holds the name: write this status (collisionCount + 1,
    /// which changes the next hash) and requeue.
    Collision(Box<DeploymentStatus>),
}

/// Decides an AlreadyExists answer to creating the new ReplicaSet (Kubernetes' hash
/// collision handling in `getNewReplicaSet`).
pub fn resolve_create_conflict(d: &Deployment, existing: &ReplicaSet) -> CreateConflict {
    let uid = d.metadata.uid.as_deref().unwrap_or_default();
    let same_template = match (
        d.spec.as_ref(),
        existing.spec.as_ref().and_then(|s| s.template.as_ref()),
    ) {
        (Some(spec), Some(t)) => equal_ignore_hash(&spec.template, t),
        _ => false,
    };
    if is_controlled_by(&existing.metadata, uid) && same_template {
        return CreateConflict::Ours;
    }
    let mut status = d.status.clone().unwrap_or_default();
    status.collision_count = Some(status.collision_count.unwrap_or(0).saturating_add(1));
    CreateConflict::Collision(Box::new(status))
}

/// What to write and record when creating the new ReplicaSet fails otherwise: the
/// Progressing condition ReplicaSetCreateError (when a deadline is set) and a Warning
/// event with the same message.
pub fn create_failed(
    d: &Deployment,
    rs_name: &str,
    error: &str,
    now: Timestamp,
) -> (Option<DeploymentStatus>, Event) {
    let message = cond::failed_create_message(rs_name, error);
    let status = progress_deadline_seconds(d).map(|_| {
        let mut status = d.status.clone().unwrap_or_default();
        set_condition(
            &mut status,
            new_condition(
                cond::PROGRESSING,
                "False",
                cond::FAILED_RS_CREATE_REASON,
                message.clone(),
                now,
            ),
        );
        status
    });
    (
        status,
        Event::warning(cond::FAILED_RS_CREATE_REASON, message),
    )
}

impl Syncer {
    /// Finds the new ReplicaSet and brings revisions up to date; with `create`, creates
    /// the new ReplicaSet if there is none (Kubernetes' `getNewReplicaSet`).
    pub fn get_all_replica_sets_and_sync_revision(
        &mut self,
        create: bool,
    ) -> Result<(), SyncError> {
        self.new_rs = find_new_replica_set(&self.d, &self.rss);
        let old = self.old_indices();
        let new_revision = max_revision(old.iter().map(|&i| &self.rss[i])) + 1;
        let surge = max_surge(&self.d);
        let deadline = progress_deadline_seconds(&self.d).is_some();

        if let Some(i) = self.new_rs {
            let mut copy = self.rss[i].clone();
            let annotated =
                set_new_replica_set_annotations(&self.d, &mut copy, new_revision, true, surge);
            let min_ready = min_ready_seconds(&self.d);
            let spec = copy.spec.get_or_insert_with(Default::default);
            if annotated || spec.min_ready_seconds.unwrap_or(0) != min_ready {
                spec.min_ready_seconds = Some(min_ready);
                self.write_replica_set(copy.clone(), None);
                self.rss[i] = copy;
                // Kubernetes returns here; the Deployment's revision follows next sync.
                return Ok(());
            }
            let rs_revision = copy
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(REVISION_ANNOTATION))
                .cloned()
                .unwrap_or_default();
            set_deployment_revision(&mut self.d, &rs_revision);
            let status = self.d.status.get_or_insert_with(Default::default);
            // A Deployment that never reported progress gets its baseline now.
            if deadline && get_condition(status, cond::PROGRESSING).is_none() {
                let name = copy.metadata.name.clone().unwrap_or_default();
                set_condition(
                    status,
                    new_condition(
                        cond::PROGRESSING,
                        "True",
                        cond::FOUND_NEW_RS_REASON,
                        cond::found_message(&name),
                        self.now,
                    ),
                );
            }
            return Ok(());
        }
        if !create {
            return Ok(());
        }

        let mut rs = self.new_replica_set_object();
        let name = rs.metadata.name.clone().unwrap_or_default();
        // Size it among the others before annotating (Kubernetes' `NewRSNewReplicas`).
        self.rss.push(rs.clone());
        let index = self.rss.len() - 1;
        self.new_rs = Some(index);
        let count = self.new_rs_new_replicas(index)?;
        set_rs_replicas(&mut rs, count);
        set_new_replica_set_annotations(&self.d, &mut rs, new_revision, false, surge);
        let event = (count > 0).then(|| {
            Event::normal(
                SCALING_REPLICA_SET_REASON,
                format!("Scaled up replica set {name} from 0 to {count}"),
            )
        });
        self.actions.push(DeploymentAction::CreateReplicaSet {
            replica_set: Box::new(rs.clone()),
            events: event.into_iter().collect(),
        });
        // The working copy sorts as the newest ReplicaSet, as it will be once created.
        rs.metadata.creation_timestamp = Some(Time(self.now));
        self.rss[index] = rs;

        set_deployment_revision(&mut self.d, &new_revision.to_string());
        if deadline {
            let status = self.d.status.get_or_insert_with(Default::default);
            set_condition(
                status,
                new_condition(
                    cond::PROGRESSING,
                    "True",
                    cond::NEW_REPLICA_SET_REASON,
                    cond::created_message(&name),
                    self.now,
                ),
            );
        }
        Ok(())
    }

    /// The new ReplicaSet for the current template, with zero replicas: named and
    /// labeled by the pod-template-hash, its selector narrowed by it, owned by the
    /// Deployment.
    fn new_replica_set_object(&self) -> ReplicaSet {
        let spec = self.d.spec.clone().unwrap_or_default();
        let collision_count = self.d.status.as_ref().and_then(|s| s.collision_count);
        let hash = compute_hash(&spec.template, collision_count);
        let mut template = spec.template;
        let meta = template.metadata.get_or_insert_with(Default::default);
        meta.labels
            .get_or_insert_with(Default::default)
            .insert(POD_TEMPLATE_HASH_LABEL.into(), hash.clone());
        let labels = meta.labels.clone();
        let mut selector = spec.selector;
        selector
            .match_labels
            .get_or_insert_with(Default::default)
            .insert(POD_TEMPLATE_HASH_LABEL.into(), hash.clone());
        let name = self.d.metadata.name.clone().unwrap_or_default();
        ReplicaSet {
            metadata: ObjectMeta {
                name: Some(format!("{name}-{hash}")),
                namespace: self.d.metadata.namespace.clone(),
                owner_references: Some(vec![new_controller_ref::<Deployment>(&self.d.metadata)]),
                labels,
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(0),
                min_ready_seconds: Some(min_ready_seconds(&self.d)),
                selector,
                template: Some(template),
            }),
            status: None,
        }
    }

    /// How many replicas the new ReplicaSet may have now: for RollingUpdate as many as
    /// the surge allows up to `replicas`, for Recreate all of them.
    pub fn new_rs_new_replicas(&self, new: usize) -> Result<i32, SyncError> {
        let desired = replicas(&self.d);
        let current = rs_replicas(&self.rss[new]);
        if !is_rolling_update(&self.d) {
            return Ok(desired);
        }
        let surge = util::surge_value(&self.d)?;
        let total = sum(
            self.all_indices().iter().map(|&i| &self.rss[i]),
            rs_replicas,
        );
        let max_total = desired + surge;
        if total >= max_total {
            return Ok(current);
        }
        Ok(current + (max_total - total).min(desired - current))
    }
}

#[cfg(test)]
mod tests {
    use super::super::sim::{Sim, Strategy};
    use super::*;

    #[test]
    fn change_cause_is_copied_to_the_new_replica_set() {
        let mut sim = Sim::new(1, Strategy::rolling("25%", "25%"));
        sim.deployment.metadata.annotations = Some(
            [(
                "kubernetes.io/change-cause".to_string(),
                "first".to_string(),
            )]
            .into(),
        );
        sim.settle();
        let rs = &sim.replica_sets[0];
        let a = rs.metadata.annotations.clone().unwrap_or_default();
        assert_eq!(
            a.get("kubernetes.io/change-cause").map(String::as_str),
            Some("first")
        );
        assert_eq!(a.get(REVISION_ANNOTATION).map(String::as_str), Some("1"));
    }

    #[test]
    fn existing_replica_set_of_ours_with_the_template_is_no_collision() {
        let mut sim = Sim::new(1, Strategy::rolling("25%", "25%"));
        sim.settle();
        let existing = sim.replica_sets[0].clone();
        assert_eq!(
            resolve_create_conflict(&sim.deployment, &existing),
            CreateConflict::Ours
        );
    }

    #[test]
    fn foreign_replica_set_holding_the_name_bumps_collision_count() {
        let mut sim = Sim::new(1, Strategy::rolling("25%", "25%"));
        sim.settle();
        let mut foreign = sim.replica_sets[0].clone();
        foreign.metadata.owner_references = None;
        let CreateConflict::Collision(status) = resolve_create_conflict(&sim.deployment, &foreign)
        else {
            panic!("expected a collision");
        };
        assert_eq!(status.collision_count, Some(1));
        // The next attempt uses another name.
        sim.deployment.status = Some(*status);
        sim.change_image("web:1");
        let template = sim.deployment.spec.clone().unwrap_or_default().template;
        assert_ne!(
            compute_hash(&template, Some(1)),
            compute_hash(&template, None)
        );
    }

    #[test]
    fn create_failure_reports_replica_set_create_error() {
        let sim = Sim::new(1, Strategy::rolling("25%", "25%"));
        let (status, event) = create_failed(&sim.deployment, "web-abc", "quota exceeded", sim.now);
        let status = status.expect("deadline is set by default");
        let c = get_condition(&status, cond::PROGRESSING).expect("Progressing");
        assert_eq!(c.status, "False");
        assert_eq!(c.reason.as_deref(), Some(cond::FAILED_RS_CREATE_REASON));
        assert_eq!(
            event.message,
            "Failed to create new replica set \"web-abc\": quota exceeded"
        );
    }
}

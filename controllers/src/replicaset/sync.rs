//! One sync of a ReplicaSet as a plan (Kubernetes' `syncReplicaSet` and
//! `manageReplicas`): claim pods, then create the missing or delete the surplus, then
//! report status.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetStatus};
use k8s_openapi::api::core::v1::Pod;

use super::pod_control::{pod_from_template, slow_start_batches, BURST_REPLICAS};
use super::ranking::pods_to_delete;
use super::status::{calculate_status, requeue_after};
use super::SyncError;
use crate::controller_ref::{claim, controller_of, selector_matches, Claim, ControllerRefChange};
use crate::pod_util;

/// What one sync of a ReplicaSet looks at.
#[derive(Debug, Clone, Copy)]
pub struct ReplicaSetInput<'a> {
    /// The ReplicaSet, as the informer holds it.
    pub replica_set: &'a ReplicaSet,
    /// The pods of its namespace (others are ignored).
    pub pods: &'a [Pod],
    /// The ReplicaSets of its namespace; those sharing its controller (a Deployment's
    /// other revisions) rank pods for deletion. May be empty.
    pub replica_sets: &'a [ReplicaSet],
    /// [`ControllerExpectations::satisfied`](super::ControllerExpectations::satisfied)
    /// for this ReplicaSet: when false, earlier creations or deletions are still in
    /// flight and this sync only claims and reports status.
    pub expectations_satisfied: bool,
    /// The current time, for availability and deletion ranking.
    pub now: Timestamp,
}

/// A pod chosen for deletion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodToDelete {
    /// Pod name.
    pub name: String,
    /// Pod UID, a delete precondition so a recreated namesake survives.
    pub uid: String,
    /// `namespace/name`, the key for [`ControllerExpectations::expect_deletions`](super::ControllerExpectations::expect_deletions).
    pub key: String,
}

/// One step of the plan; the wiring executes them in order.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplicaSetAction {
    /// Add the ReplicaSet's controller reference to an orphan pod that matches. The
    /// wiring should first re-read the ReplicaSet from the apiserver and skip adoption
    /// if it is gone or being deleted (Kubernetes' `RecheckDeletionTimestamp`).
    AdoptPod(ControllerRefChange),
    /// Remove the ReplicaSet's controller reference from a pod that no longer matches;
    /// NotFound counts as done.
    ReleasePod(ControllerRefChange),
    /// Create `count` copies of `pod` (it has `generateName`), in `batches` sizes one
    /// after the other, stopping after a batch with any failure. Before starting, call
    /// `expect_creations(key, count)`; call `creation_observed` once per failed or
    /// skipped creation; record [`created_pod_event`](super::created_pod_event) or
    /// [`failed_create_event`](super::failed_create_event) per attempt.
    CreatePods {
        /// The pod to create.
        pod: Box<Pod>,
        /// How many (at most [`BURST_REPLICAS`]).
        count: usize,
        /// Slow-start batch sizes, summing to `count`.
        batches: Vec<usize>,
    },
    /// Delete these pods (concurrently). Before starting, call `expect_deletions` with
    /// their keys; call `deletion_observed` for each that fails (NotFound is success);
    /// record [`deleted_pod_event`](super::deleted_pod_event) or
    /// [`failed_delete_event`](super::failed_delete_event).
    DeletePods(Vec<PodToDelete>),
}

/// The outcome of one sync.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicaSetPlan {
    /// Steps to execute in order.
    pub actions: Vec<ReplicaSetAction>,
    /// The active pods the ReplicaSet owns once claims are applied.
    pub claimed_pods: Vec<Pod>,
    /// Status to write if every action succeeds. If creating or deleting fails, write
    /// `calculate_status(rs, claimed_pods, Some(error), now)` instead, which adds the
    /// ReplicaFailure condition.
    pub status: ReplicaSetStatus,
    /// Sync again after this long (pods waiting out minReadySeconds).
    pub requeue_after: Option<Duration>,
}

/// Plans one sync of `input.replica_set`.
pub fn sync(input: ReplicaSetInput<'_>) -> Result<ReplicaSetPlan, SyncError> {
    let rs = input.replica_set;
    let spec = rs.spec.as_ref().ok_or(SyncError::MissingSpec)?;
    let namespace = rs.metadata.namespace.as_deref();
    let in_namespace = |p: &&Pod| p.metadata.namespace.as_deref() == namespace;

    let mut actions = Vec::new();
    let mut claimed: Vec<&Pod> = Vec::new();
    // Inactive pods are neither counted nor adopted (Kubernetes filters before claiming).
    for pod in input
        .pods
        .iter()
        .filter(in_namespace)
        .filter(|p| pod_util::is_pod_active(p))
    {
        match claim::<ReplicaSet>(&rs.metadata, &spec.selector, &pod.metadata)? {
            Claim::Owned => claimed.push(pod),
            Claim::Adopt(change) => {
                actions.push(ReplicaSetAction::AdoptPod(change));
                claimed.push(pod);
            }
            Claim::Release(change) => actions.push(ReplicaSetAction::ReleasePod(change)),
            Claim::Ignore => {}
        }
    }

    if input.expectations_satisfied && rs.metadata.deletion_timestamp.is_none() {
        let desired = usize::try_from(spec.replicas.unwrap_or(1)).unwrap_or(0);
        if claimed.len() < desired {
            let count = (desired - claimed.len()).min(BURST_REPLICAS);
            actions.push(ReplicaSetAction::CreatePods {
                pod: Box::new(pod_from_template(rs)?),
                count,
                batches: slow_start_batches(count),
            });
        } else if claimed.len() > desired {
            let count = (claimed.len() - desired).min(BURST_REPLICAS);
            let related = related_pods(rs, input.replica_sets, input.pods)?;
            let doomed = pods_to_delete(&claimed, &related, count, input.now);
            actions.push(ReplicaSetAction::DeletePods(
                doomed
                    .into_iter()
                    .map(|p| PodToDelete {
                        name: p.metadata.name.clone().unwrap_or_default(),
                        uid: p.metadata.uid.clone().unwrap_or_default(),
                        key: pod_util::pod_key(p),
                    })
                    .collect(),
            ));
        }
    }

    let status = calculate_status(rs, &claimed, None, input.now);
    let requeue_after = requeue_after(rs, &status);
    Ok(ReplicaSetPlan {
        actions,
        claimed_pods: claimed.into_iter().cloned().collect(),
        status,
        requeue_after,
    })
}

/// Pods selected by any ReplicaSet that shares `rs`'s controller, each once
/// (Kubernetes' `getIndirectlyRelatedPods`). A ReplicaSet without a controller has none.
fn related_pods<'a>(
    rs: &ReplicaSet,
    replica_sets: &[ReplicaSet],
    pods: &'a [Pod],
) -> Result<Vec<&'a Pod>, SyncError> {
    let Some(owner) = controller_of(&rs.metadata) else {
        return Ok(Vec::new());
    };
    let namespace = rs.metadata.namespace.as_deref();
    let mut seen = std::collections::HashSet::new();
    let mut related = Vec::new();
    for sibling in replica_sets.iter().filter(|s| {
        s.metadata.namespace.as_deref() == namespace
            && controller_of(&s.metadata).is_some_and(|o| o.uid == owner.uid)
    }) {
        let Some(selector) = sibling.spec.as_ref().map(|s| &s.selector) else {
            continue;
        };
        for pod in pods
            .iter()
            .filter(|p| p.metadata.namespace.as_deref() == namespace)
        {
            if selector_matches(selector, pod.metadata.labels.as_ref())?
                && seen.insert(pod.metadata.uid.clone())
            {
                related.push(pod);
            }
        }
    }
    Ok(related)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller_ref::new_controller_ref;
    use k8s_openapi::api::apps::v1::{Deployment, ReplicaSetSpec};
    use k8s_openapi::api::core::v1::{PodSpec, PodStatus, PodTemplateSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};
    use std::collections::BTreeMap;

    fn web() -> BTreeMap<String, String> {
        BTreeMap::from([("app".to_string(), "web".to_string())])
    }

    fn rs(replicas: i32) -> ReplicaSet {
        ReplicaSet {
            metadata: ObjectMeta {
                name: Some("web".into()),
                namespace: Some("default".into()),
                uid: Some("rs-uid".into()),
                generation: Some(1),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(replicas),
                selector: LabelSelector {
                    match_labels: Some(web()),
                    ..Default::default()
                },
                template: Some(PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(web()),
                        ..Default::default()
                    }),
                    spec: Some(PodSpec::default()),
                }),
                ..Default::default()
            }),
            status: None,
        }
    }

    fn owned_pod(owner: &ReplicaSet, name: &str, node: &str) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("default".into()),
                uid: Some(format!("uid-{name}")),
                labels: Some(web()),
                owner_references: Some(vec![new_controller_ref::<ReplicaSet>(&owner.metadata)]),
                ..Default::default()
            },
            spec: Some(PodSpec {
                node_name: (!node.is_empty()).then(|| node.to_string()),
                ..Default::default()
            }),
            status: Some(PodStatus {
                phase: Some("Running".into()),
                ..Default::default()
            }),
        }
    }

    fn input<'a>(rs: &'a ReplicaSet, pods: &'a [Pod]) -> ReplicaSetInput<'a> {
        ReplicaSetInput {
            replica_set: rs,
            pods,
            replica_sets: std::slice::from_ref(rs),
            expectations_satisfied: true,
            now: Timestamp::from_second(1_000).unwrap(),
        }
    }

    #[test]
    fn missing_pods_are_created_in_slow_start_batches() {
        let set = rs(5);
        let pods = [owned_pod(&set, "a", "n1")];
        let plan = sync(input(&set, &pods)).unwrap();
        let [ReplicaSetAction::CreatePods {
            pod,
            count,
            batches,
        }] = plan.actions.as_slice()
        else {
            panic!("expected one create: {:?}", plan.actions);
        };
        assert_eq!((*count, batches.as_slice()), (4, [1, 2, 1].as_slice()));
        assert_eq!(pod.metadata.generate_name.as_deref(), Some("web-"));
        assert_eq!(plan.status.replicas, 1);
    }

    #[test]
    fn creations_are_capped_at_burst_replicas() {
        let set = rs(2_000);
        let plan = sync(input(&set, &[])).unwrap();
        assert!(matches!(
            plan.actions.as_slice(),
            [ReplicaSetAction::CreatePods { count: 500, .. }]
        ));
    }

    #[test]
    fn surplus_pods_are_deleted_worst_first() {
        let set = rs(1);
        let mut pending = owned_pod(&set, "pending", "n1");
        if let Some(s) = pending.status.as_mut() {
            s.phase = Some("Pending".into());
        }
        let pods = [owned_pod(&set, "running", "n1"), pending];
        let plan = sync(input(&set, &pods)).unwrap();
        let [ReplicaSetAction::DeletePods(doomed)] = plan.actions.as_slice() else {
            panic!("expected one delete: {:?}", plan.actions);
        };
        assert_eq!(doomed.len(), 1);
        assert_eq!(doomed[0].name, "pending");
        assert_eq!(doomed[0].key, "default/pending");
    }

    #[test]
    fn orphans_are_adopted_and_counted_mismatched_pods_released() {
        let set = rs(2);
        let mut orphan = owned_pod(&set, "orphan", "n1");
        orphan.metadata.owner_references = None;
        let mut relabeled = owned_pod(&set, "relabeled", "n1");
        relabeled.metadata.labels = Some(BTreeMap::from([("app".into(), "debug".into())]));
        let pods = [owned_pod(&set, "mine", "n1"), orphan, relabeled];
        let plan = sync(input(&set, &pods)).unwrap();
        assert!(matches!(&plan.actions[0], ReplicaSetAction::AdoptPod(c) if c.name == "orphan"));
        assert!(
            matches!(&plan.actions[1], ReplicaSetAction::ReleasePod(c) if c.name == "relabeled")
        );
        assert_eq!(plan.actions.len(), 2, "two claimed pods meet two replicas");
        assert_eq!(plan.status.replicas, 2);
    }

    #[test]
    fn unsatisfied_expectations_only_report_status() {
        let set = rs(3);
        let mut inp = input(&set, &[]);
        inp.expectations_satisfied = false;
        let plan = sync(inp).unwrap();
        assert!(plan.actions.is_empty());
        assert_eq!(plan.status.observed_generation, Some(1));
    }

    #[test]
    fn terminating_and_finished_pods_do_not_count() {
        let set = rs(1);
        let mut deleting = owned_pod(&set, "deleting", "n1");
        deleting.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        let mut failed = owned_pod(&set, "failed", "n1");
        if let Some(s) = failed.status.as_mut() {
            s.phase = Some("Failed".into());
        }
        let plan = sync(input(&set, &[deleting, failed])).unwrap();
        assert!(matches!(
            plan.actions.as_slice(),
            [ReplicaSetAction::CreatePods { count: 1, .. }]
        ));
    }

    #[test]
    fn sibling_pods_of_the_same_deployment_rank_deletions() {
        let deployment = ObjectMeta {
            name: Some("web".into()),
            uid: Some("d-uid".into()),
            ..Default::default()
        };
        let mut mine = rs(1);
        mine.metadata.owner_references = Some(vec![new_controller_ref::<Deployment>(&deployment)]);
        let mut sibling = rs(2);
        sibling.metadata.name = Some("web-old".into());
        sibling.metadata.uid = Some("old-uid".into());
        sibling.metadata.owner_references = mine.metadata.owner_references.clone();
        if let Some(s) = sibling.spec.as_mut() {
            s.selector.match_labels = Some(BTreeMap::from([("rev".into(), "old".into())]));
        }
        let mut old_pod = owned_pod(&sibling, "old", "n2");
        old_pod.metadata.labels = Some(BTreeMap::from([("rev".into(), "old".into())]));
        let pods = [
            owned_pod(&mine, "on-n1", "n1"),
            owned_pod(&mine, "on-n2", "n2"),
            old_pod,
        ];
        let sets = [mine.clone(), sibling];
        let mut inp = input(&mine, &pods);
        inp.replica_sets = &sets;
        let plan = sync(inp).unwrap();
        let [ReplicaSetAction::DeletePods(doomed)] = plan.actions.as_slice() else {
            panic!("expected one delete: {:?}", plan.actions);
        };
        assert_eq!(doomed[0].name, "on-n2", "n2 also runs a sibling's pod");
    }
}

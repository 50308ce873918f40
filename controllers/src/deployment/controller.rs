//! The Deployment controller's wiring: informer events to work-queue keys,
//! each planned action to an API call, then the revision and status.

use berth_client::controller::{self, Requeue};
use berth_client::not_found_ok;
use berth_client::{
    index, Api, Client, Error, Informer, Notification, Patch, Recorder, Store, WorkQueue,
};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use serde_json::json;

use super::{
    create_failed, resolve_create_conflict, sync, CreateConflict, DeploymentAction,
    DeploymentInput, REVISION_ANNOTATION,
};
use crate::controller_ref::{controller_of, selector_matches};
use crate::replicaset::{Event, EventType};

#[derive(Clone)]
struct Shared {
    client: Client,
    deployments: Store<Deployment>,
    replica_sets: Store<ReplicaSet>,
    pods: Store<Pod>,
    recorder: Recorder,
}

impl Shared {
    fn record(&self, d: &Deployment, event: &Event) {
        match event.type_ {
            EventType::Normal => self.recorder.normal(d, event.reason, &event.message),
            EventType::Warning => self.recorder.warning(d, event.reason, &event.message),
        }
    }

    /// The Deployment controlling `rs`, if it is one in the cache.
    fn owner_of(&self, rs: &ReplicaSet) -> Option<String> {
        let owner = controller_of(&rs.metadata)?;
        if owner.kind != "Deployment" {
            return None;
        }
        let key = format!(
            "{}/{}",
            rs.metadata.namespace.as_deref().unwrap_or_default(),
            owner.name
        );
        let d = self.deployments.get(&key)?;
        (d.metadata.uid.as_deref() == Some(owner.uid.as_str())).then_some(key)
    }

    /// Deployments whose selector matches an orphan ReplicaSet.
    fn matching(&self, rs: &ReplicaSet) -> Vec<String> {
        let ns = rs.metadata.namespace.as_deref().unwrap_or_default();
        self.deployments
            .by_index(index::NAMESPACE, ns)
            .iter()
            .filter(|d| {
                d.spec.as_ref().is_some_and(|s| {
                    selector_matches(&s.selector, rs.metadata.labels.as_ref()).unwrap_or(false)
                })
            })
            .map(|d| berth_client::key_of(d.as_ref()))
            .collect()
    }
}

/// Runs the controller over the shared informers until dropped.
pub async fn run(
    client: Client,
    deployments: &Informer<Deployment>,
    replica_sets: &Informer<ReplicaSet>,
    pods: &Informer<Pod>,
    workers: usize,
) {
    let shared = Shared {
        recorder: Recorder::new(client.clone(), "deployment-controller"),
        client,
        deployments: deployments.store(),
        replica_sets: replica_sets.store(),
        pods: pods.store(),
    };
    let queue = WorkQueue::new();
    let mut d_events = shared.deployments.subscribe();
    let mut rs_events = shared.replica_sets.subscribe();
    let mut pod_events = shared.pods.subscribe();
    let feeder = {
        let queue = queue.clone();
        let shared = shared.clone();
        async move {
            loop {
                tokio::select! {
                    Some(note) = d_events.recv() => {
                        queue.add(berth_client::key_of(note.object().as_ref()));
                    }
                    Some(note) = rs_events.recv() => on_replica_set(&shared, &queue, note),
                    Some(note) = pod_events.recv() => {
                        // Recreate waits for old pods to be gone.
                        if let Notification::Deleted(pod) = note {
                            let rs = controller_of(&pod.metadata).and_then(|o| {
                                let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
                                shared.replica_sets.get(&format!("{ns}/{}", o.name))
                            });
                            if let Some(key) = rs.and_then(|rs| shared.owner_of(&rs)) {
                                queue.add(key);
                            }
                        }
                    }
                    else => break,
                }
            }
        }
    };
    let sync = move |key: String| {
        let shared = shared.clone();
        async move { sync_key(&shared, &key).await }
    };
    tokio::join!(feeder, controller::run("deployment", queue, workers, sync));
}

/// Kubernetes' addReplicaSet/updateReplicaSet/deleteReplicaSet.
fn on_replica_set(shared: &Shared, queue: &WorkQueue<String>, note: Notification<ReplicaSet>) {
    match note {
        Notification::Added(rs) | Notification::Deleted(rs) => match shared.owner_of(&rs) {
            Some(key) => queue.add(key),
            None if controller_of(&rs.metadata).is_none() => {
                shared.matching(&rs).into_iter().for_each(|k| queue.add(k))
            }
            None => {}
        },
        Notification::Updated { old, new } => {
            if old.metadata.resource_version == new.metadata.resource_version {
                return;
            }
            let old_owner = shared.owner_of(&old);
            let new_owner = shared.owner_of(&new);
            if old_owner != new_owner {
                old_owner.into_iter().for_each(|k| queue.add(k));
            }
            match new_owner {
                Some(key) => queue.add(key),
                None if controller_of(&new.metadata).is_none() => {
                    shared.matching(&new).into_iter().for_each(|k| queue.add(k))
                }
                None => {}
            }
        }
    }
}

async fn sync_key(shared: &Shared, key: &str) -> Result<Requeue, Error> {
    let Some(d) = shared.deployments.get(key) else {
        return Ok(Requeue::No);
    };
    let ns = d.metadata.namespace.clone().unwrap_or_default();
    let replica_sets: Vec<ReplicaSet> = shared
        .replica_sets
        .by_index(index::NAMESPACE, &ns)
        .iter()
        .map(|r| ReplicaSet::clone(r))
        .collect();
    let pods: Vec<Pod> = shared
        .pods
        .by_index(index::NAMESPACE, &ns)
        .iter()
        .map(|p| Pod::clone(p))
        .collect();
    let now = jiff::Timestamp::now();
    let plan = match sync(DeploymentInput {
        deployment: &d,
        replica_sets: &replica_sets,
        pods: &pods,
        now,
    }) {
        Ok(plan) => plan,
        Err(e) => {
            tracing::warn!(deployment = key, error = %e, "cannot sync");
            return Ok(Requeue::No);
        }
    };
    let rs_api: Api<ReplicaSet> = Api::namespaced(shared.client.clone(), &ns);
    let d_api: Api<Deployment> = Api::namespaced(shared.client.clone(), &ns);
    for action in plan.actions {
        match action {
            DeploymentAction::AdoptReplicaSet(change) => {
                let name = d.metadata.name.clone().unwrap_or_default();
                // Never adopt for a Deployment that is gone or going.
                let live = d_api.get_opt(&name).await?;
                if live.is_some_and(|l| {
                    l.metadata.uid == d.metadata.uid && l.metadata.deletion_timestamp.is_none()
                }) {
                    not_found_ok(
                        rs_api
                            .patch(&change.name, &Patch::Strategic(change.adopt_patch()))
                            .await,
                    )?;
                }
            }
            DeploymentAction::ReleaseReplicaSet(change) => not_found_ok(
                rs_api
                    .patch(&change.name, &Patch::Strategic(change.release_patch()))
                    .await,
            )?,
            DeploymentAction::CreateReplicaSet {
                replica_set,
                events,
            } => {
                let name = replica_set.metadata.name.clone().unwrap_or_default();
                match rs_api.create(&replica_set).await {
                    Ok(_) => events.iter().for_each(|e| shared.record(&d, e)),
                    Err(e) if e.is_already_exists() => {
                        let existing = rs_api.get(&name).await?;
                        match resolve_create_conflict(&d, &existing) {
                            CreateConflict::Ours => {}
                            CreateConflict::Collision(status) => {
                                write_status(&d_api, &d, *status).await?;
                                return Err(Error::Transport(format!(
                                    "hash collision on replica set {name}"
                                )));
                            }
                        }
                    }
                    Err(e) => {
                        let (status, event) = create_failed(&d, &name, &e.to_string(), now);
                        shared.record(&d, &event);
                        if let Some(status) = status {
                            write_status(&d_api, &d, status).await?;
                        }
                        return Err(e);
                    }
                }
            }
            DeploymentAction::UpdateReplicaSet {
                replica_set,
                events,
            } => {
                rs_api.replace(&replica_set).await?;
                events.iter().for_each(|e| shared.record(&d, e));
            }
            DeploymentAction::DeleteReplicaSet { name, uid } => {
                let options = json!({"preconditions": {"uid": uid}});
                not_found_ok(rs_api.delete_in("", &name, &options).await)?;
            }
            DeploymentAction::RecordEvent(event) => shared.record(&d, &event),
        }
    }
    let mut current = Deployment::clone(&d);
    if let Some(revision) = plan.revision {
        let patch =
            Patch::Merge(json!({"metadata": {"annotations": {REVISION_ANNOTATION: revision}}}));
        match d_api
            .patch(d.metadata.name.as_deref().unwrap_or_default(), &patch)
            .await
        {
            Ok(patched) => current = patched,
            Err(e) if e.is_not_found() => return Ok(Requeue::No),
            Err(e) => return Err(e),
        }
    }
    if let Some(status) = plan.status {
        write_status(&d_api, &current, status).await?;
    }
    Ok(plan
        .requeue_after
        .map(Requeue::After)
        .unwrap_or(Requeue::No))
}

async fn write_status(
    api: &Api<Deployment>,
    d: &Deployment,
    status: DeploymentStatus,
) -> Result<(), Error> {
    if d.status.as_ref() == Some(&status) {
        return Ok(());
    }
    let mut updated = d.clone();
    updated.status = Some(status);
    not_found_ok(api.replace_status(&updated).await)
}

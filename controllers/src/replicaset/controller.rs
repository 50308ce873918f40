//! The ReplicaSet controller's wiring: informer events to work-queue keys
//! and expectations, and each planned action to an API call.

use std::sync::{Arc, Mutex, MutexGuard};

use berth_client::controller::{self, Requeue};
use berth_client::not_found_ok;
use berth_client::{
    index, Api, Client, Error, Informer, Notification, Patch, Recorder, Store, WorkQueue,
};
use futures::future::join_all;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use serde_json::json;
use tokio::time::Instant;

use super::{
    calculate_status, created_pod_event, deleted_pod_event, failed_create_event,
    failed_delete_event, sync, ControllerExpectations, Event, EventType, ReplicaSetAction,
    ReplicaSetInput,
};
use crate::controller_ref::{controller_of, selector_matches};
use crate::pod_util::pod_key;

/// Everything one sync needs, shared by the workers.
#[derive(Clone)]
struct Shared {
    client: Client,
    replica_sets: Store<ReplicaSet>,
    pods: Store<Pod>,
    expectations: Arc<Mutex<ControllerExpectations>>,
    recorder: Recorder,
}

impl Shared {
    // Each critical section is one map update; a poisoned lock is entered
    // anyway rather than wedging every ReplicaSet.
    fn expectations(&self) -> MutexGuard<'_, ControllerExpectations> {
        self.expectations.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn record(&self, rs: &ReplicaSet, event: &Event) {
        match event.type_ {
            EventType::Normal => self.recorder.normal(rs, event.reason, &event.message),
            EventType::Warning => self.recorder.warning(rs, event.reason, &event.message),
        }
    }
}

/// Runs the controller over the shared informers until dropped.
pub async fn run(
    client: Client,
    replica_sets: &Informer<ReplicaSet>,
    pods: &Informer<Pod>,
    workers: usize,
) {
    let shared = Shared {
        recorder: Recorder::new(client.clone(), "replicaset-controller"),
        client,
        replica_sets: replica_sets.store(),
        pods: pods.store(),
        expectations: Arc::new(Mutex::new(ControllerExpectations::new())),
    };
    let queue = WorkQueue::new();
    let mut rs_events = shared.replica_sets.subscribe();
    let mut pod_events = shared.pods.subscribe();
    let feeder = {
        let queue = queue.clone();
        let shared = shared.clone();
        async move {
            loop {
                tokio::select! {
                    Some(note) = rs_events.recv() => {
                        let key = berth_client::key_of(note.object().as_ref());
                        if let Notification::Deleted(_) = note {
                            shared.expectations().delete(&key);
                        }
                        queue.add(key);
                    }
                    Some(note) = pod_events.recv() => on_pod(&shared, &queue, note),
                    else => break,
                }
            }
        }
    };
    let sync = move |key: String| {
        let shared = shared.clone();
        async move { sync_key(&shared, &key).await }
    };
    tokio::join!(feeder, controller::run("replicaset", queue, workers, sync));
}

/// The ReplicaSet that controls `pod`, if it is one in the cache.
fn owner_key(shared: &Shared, pod: &Pod) -> Option<String> {
    let owner = controller_of(&pod.metadata)?;
    if owner.kind != "ReplicaSet" {
        return None;
    }
    let key = format!(
        "{}/{}",
        pod.metadata.namespace.as_deref().unwrap_or_default(),
        owner.name
    );
    let rs = shared.replica_sets.get(&key)?;
    (rs.metadata.uid.as_deref() == Some(owner.uid.as_str())).then_some(key)
}

/// ReplicaSets in the pod's namespace whose selector matches it: candidates
/// to adopt an orphan.
fn matching(shared: &Shared, pod: &Pod) -> Vec<String> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
    shared
        .replica_sets
        .by_index(index::NAMESPACE, ns)
        .iter()
        .filter(|rs| {
            rs.spec.as_ref().is_some_and(|s| {
                selector_matches(&s.selector, pod.metadata.labels.as_ref()).unwrap_or(false)
            })
        })
        .map(|rs| berth_client::key_of(rs.as_ref()))
        .collect()
}

/// Kubernetes' addPod/updatePod/deletePod: observe expectations and queue
/// the ReplicaSets the change concerns.
fn on_pod(shared: &Shared, queue: &WorkQueue<String>, note: Notification<Pod>) {
    match note {
        Notification::Added(pod) => {
            if let Some(key) = owner_key(shared, &pod) {
                if pod.metadata.deletion_timestamp.is_some() {
                    shared
                        .expectations()
                        .deletion_observed(&key, &pod_key(&pod));
                } else {
                    shared.expectations().creation_observed(&key);
                }
                queue.add(key);
            } else if controller_of(&pod.metadata).is_none() {
                matching(shared, &pod)
                    .into_iter()
                    .for_each(|k| queue.add(k));
            }
        }
        Notification::Updated { old, new } => {
            if old.metadata.resource_version == new.metadata.resource_version {
                // A resync: nothing changed, the ReplicaSet resyncs itself.
                return;
            }
            if new.metadata.deletion_timestamp.is_some() {
                if let Some(key) = owner_key(shared, &new) {
                    shared
                        .expectations()
                        .deletion_observed(&key, &pod_key(&new));
                }
            }
            let old_owner = owner_key(shared, &old);
            let new_owner = owner_key(shared, &new);
            if old_owner != new_owner {
                old_owner.into_iter().for_each(|k| queue.add(k));
            }
            match new_owner {
                Some(key) => queue.add(key),
                None if controller_of(&new.metadata).is_none()
                    && old.metadata.labels != new.metadata.labels =>
                {
                    matching(shared, &new)
                        .into_iter()
                        .for_each(|k| queue.add(k));
                }
                None => {}
            }
        }
        Notification::Deleted(pod) => {
            if let Some(key) = owner_key(shared, &pod) {
                shared
                    .expectations()
                    .deletion_observed(&key, &pod_key(&pod));
                queue.add(key);
            }
        }
    }
}

async fn sync_key(shared: &Shared, key: &str) -> Result<Requeue, Error> {
    let Some(rs) = shared.replica_sets.get(key) else {
        shared.expectations().delete(key);
        return Ok(Requeue::No);
    };
    let ns = rs.metadata.namespace.clone().unwrap_or_default();
    let pods: Vec<Pod> = shared
        .pods
        .by_index(index::NAMESPACE, &ns)
        .iter()
        .map(|p| Pod::clone(p))
        .collect();
    let replica_sets: Vec<ReplicaSet> = shared
        .replica_sets
        .by_index(index::NAMESPACE, &ns)
        .iter()
        .map(|r| ReplicaSet::clone(r))
        .collect();
    let satisfied = shared.expectations().satisfied(key, Instant::now());
    let now = jiff::Timestamp::now();
    let plan = match sync(ReplicaSetInput {
        replica_set: &rs,
        pods: &pods,
        replica_sets: &replica_sets,
        expectations_satisfied: satisfied,
        now,
    }) {
        Ok(plan) => plan,
        Err(e) => {
            // Only a changed object can fix this; retrying would not.
            tracing::warn!(replicaset = key, error = %e, "cannot sync");
            return Ok(Requeue::No);
        }
    };
    let pods_api: Api<Pod> = Api::namespaced(shared.client.clone(), &ns);
    let mut failure: Option<String> = None;
    for action in plan.actions {
        let result = match action {
            ReplicaSetAction::AdoptPod(change) => {
                let fresh: Api<ReplicaSet> = Api::namespaced(shared.client.clone(), &ns);
                let name = rs.metadata.name.clone().unwrap_or_default();
                // Kubernetes' RecheckDeletionTimestamp: never adopt for a
                // ReplicaSet that is already gone or going.
                match fresh.get_opt(&name).await? {
                    Some(live)
                        if live.metadata.uid == rs.metadata.uid
                            && live.metadata.deletion_timestamp.is_none() =>
                    {
                        not_found_ok(
                            pods_api
                                .patch(&change.name, &Patch::Strategic(change.adopt_patch()))
                                .await,
                        )
                        .map_err(|e| e.to_string())
                    }
                    _ => Ok(()),
                }
            }
            ReplicaSetAction::ReleasePod(change) => not_found_ok(
                pods_api
                    .patch(&change.name, &Patch::Strategic(change.release_patch()))
                    .await,
            )
            .map_err(|e| e.to_string()),
            ReplicaSetAction::CreatePods {
                pod,
                count,
                batches,
            } => create_pods(shared, key, &rs, &pods_api, &pod, count, &batches).await,
            ReplicaSetAction::DeletePods(victims) => {
                let keys: Vec<String> = victims.iter().map(|v| v.key.clone()).collect();
                shared
                    .expectations()
                    .expect_deletions(key, &keys, Instant::now());
                let deletes = victims.iter().map(|v| {
                    let options = json!({"preconditions": {"uid": v.uid}});
                    let api = pods_api.clone();
                    async move { (v, api.delete_in("", &v.name, &options).await) }
                });
                let mut result = Ok(());
                for (victim, outcome) in join_all(deletes).await {
                    match outcome {
                        Ok(_) => shared.record(&rs, &deleted_pod_event(&victim.name)),
                        Err(e) => {
                            shared.expectations().deletion_observed(key, &victim.key);
                            if !e.is_not_found() {
                                shared.record(&rs, &failed_delete_event(&e.to_string()));
                                result = Err(e.to_string());
                            }
                        }
                    }
                }
                result
            }
        };
        if let Err(e) = result {
            failure = Some(e);
            break;
        }
    }
    let status = match &failure {
        None => plan.status,
        Some(e) => {
            let claimed: Vec<&Pod> = plan.claimed_pods.iter().collect();
            calculate_status(&rs, &claimed, Some(e), now)
        }
    };
    if rs.status.as_ref() != Some(&status) {
        let mut updated = ReplicaSet::clone(&rs);
        updated.status = Some(status);
        match Api::<ReplicaSet>::namespaced(shared.client.clone(), &ns)
            .replace_status(&updated)
            .await
        {
            Ok(_) => {}
            Err(e) if e.is_not_found() => return Ok(Requeue::No),
            Err(e) => return Err(e),
        }
    }
    if let Some(e) = failure {
        return Err(Error::Transport(e));
    }
    Ok(plan
        .requeue_after
        .map(Requeue::After)
        .unwrap_or(Requeue::No))
}

/// Creates `count` pods in slow-start batches: a batch with a failure
/// stops the rest, whose expected creations are lowered at once.
async fn create_pods(
    shared: &Shared,
    key: &str,
    rs: &ReplicaSet,
    api: &Api<Pod>,
    pod: &Pod,
    count: usize,
    batches: &[usize],
) -> Result<(), String> {
    shared
        .expectations()
        .expect_creations(key, count, Instant::now());
    let mut done = 0;
    for batch in batches {
        let creates = (0..*batch).map(|_| api.create(pod));
        let mut failed = None;
        for outcome in join_all(creates).await {
            match outcome {
                Ok(created) => {
                    let name = created.metadata.name.unwrap_or_default();
                    shared.record(rs, &created_pod_event(&name));
                }
                Err(e) => {
                    shared.expectations().creation_observed(key);
                    // A terminating namespace refuses new pods; that is
                    // expected, not an event-worthy failure.
                    if e.code() != Some(403) {
                        shared.record(rs, &failed_create_event(&e.to_string()));
                    }
                    failed = Some(e.to_string());
                }
            }
        }
        done += batch;
        if let Some(e) = failed {
            for _ in done..count {
                shared.expectations().creation_observed(key);
            }
            return Err(e);
        }
    }
    Ok(())
}

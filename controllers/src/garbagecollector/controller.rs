//! The garbage collector's wiring: every watched kind feeds the owner
//! graph; each queued uid is processed into deletes and patches written
//! through the API with the object's uid as a precondition.

use std::sync::{Arc, Mutex, MutexGuard};

use berth_client::controller::{self, Requeue};
use berth_client::not_found_ok;
use berth_client::{Api, Client, Error, Informer, Notification, Patch, Resource, WorkQueue};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{ConfigMap, Endpoints, Pod, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::json;
use tokio::sync::mpsc;

use super::{Action, Graph, GraphObject, ObjectIdentity};

/// Runs `$body` with `$k` standing for the type served as
/// (`$api_version`, `$kind`); `$other` for kinds the collector does not
/// handle. Owner references name a type by apiVersion and kind, so every
/// call on an object of the graph goes through this table.
macro_rules! with_kind {
    ($api_version:expr, $kind:expr, $k:ident => $body:expr, $other:expr) => {
        match ($api_version, $kind) {
            ("v1", "Pod") => {
                type $k = Pod;
                $body
            }
            ("v1", "Service") => {
                type $k = Service;
                $body
            }
            ("v1", "Endpoints") => {
                type $k = Endpoints;
                $body
            }
            ("v1", "ConfigMap") => {
                type $k = ConfigMap;
                $body
            }
            ("v1", "Secret") => {
                type $k = Secret;
                $body
            }
            ("apps/v1", "Deployment") => {
                type $k = Deployment;
                $body
            }
            ("apps/v1", "ReplicaSet") => {
                type $k = ReplicaSet;
                $body
            }
            ("discovery.k8s.io/v1", "EndpointSlice") => {
                type $k = EndpointSlice;
                $body
            }
            _ => $other,
        }
    };
}

/// A change of any kind, as the graph takes it.
enum Change {
    Observe(GraphObject),
    Remove(String),
}

/// The informers the collector watches; those it shares with other
/// controllers come from the manager.
pub struct Informers<'a> {
    /// Pods.
    pub pods: &'a Informer<Pod>,
    /// ReplicaSets.
    pub replica_sets: &'a Informer<ReplicaSet>,
    /// Deployments.
    pub deployments: &'a Informer<Deployment>,
    /// Services.
    pub services: &'a Informer<Service>,
    /// Endpoints.
    pub endpoints: &'a Informer<Endpoints>,
    /// EndpointSlices.
    pub slices: &'a Informer<EndpointSlice>,
}

fn forward<K: Resource>(informer: &Informer<K>, tx: mpsc::UnboundedSender<Change>) {
    let mut rx = informer.store().subscribe();
    tokio::spawn(async move {
        while let Some(note) = rx.recv().await {
            let change = match &note {
                Notification::Deleted(k) => match k.metadata().uid.clone() {
                    Some(uid) => Change::Remove(uid),
                    None => continue,
                },
                Notification::Updated { old, new } if Arc::ptr_eq(old, new) => continue,
                Notification::Added(k) | Notification::Updated { new: k, .. } => {
                    match GraphObject::from_meta(K::API_VERSION, K::KIND, k.metadata()) {
                        Ok(object) => Change::Observe(object),
                        Err(_) => continue,
                    }
                }
            };
            if tx.send(change).is_err() {
                break;
            }
        }
    });
}

#[derive(Clone)]
struct Shared {
    client: Client,
    graph: Arc<Mutex<Graph>>,
    queue: WorkQueue<String>,
}

impl Shared {
    // One graph update per critical section; a poisoned lock is entered
    // anyway rather than stopping collection.
    fn graph(&self) -> MutexGuard<'_, Graph> {
        self.graph.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Runs the collector until dropped.
pub async fn run(client: Client, informers: Informers<'_>, workers: usize) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    forward(informers.pods, tx.clone());
    forward(informers.replica_sets, tx.clone());
    forward(informers.deployments, tx.clone());
    forward(informers.services, tx.clone());
    forward(informers.endpoints, tx.clone());
    forward(informers.slices, tx.clone());
    let configmaps = Informer::spawn(
        Api::<ConfigMap>::all(client.clone()),
        Default::default(),
        Vec::new(),
    );
    let secrets = Informer::spawn(
        Api::<Secret>::all(client.clone()),
        Default::default(),
        Vec::new(),
    );
    configmaps.wait_synced().await;
    secrets.wait_synced().await;
    forward(&configmaps, tx.clone());
    forward(&secrets, tx);
    let shared = Shared {
        client,
        graph: Arc::new(Mutex::new(Graph::new())),
        queue: WorkQueue::new(),
    };
    let feeder = {
        let shared = shared.clone();
        async move {
            while let Some(change) = rx.recv().await {
                let uids = match change {
                    Change::Observe(object) => shared.graph().observe(object),
                    Change::Remove(uid) => shared.graph().remove(&uid),
                };
                uids.into_iter().for_each(|u| shared.queue.add(u));
            }
        }
    };
    let queue = shared.queue.clone();
    let sync = move |uid: String| {
        let shared = shared.clone();
        async move { process(&shared, &uid).await }
    };
    tokio::join!(
        feeder,
        controller::run("garbagecollector", queue, workers, sync)
    );
}

async fn process(shared: &Shared, uid: &str) -> Result<Requeue, Error> {
    let actions = shared.graph().process(uid);
    for action in actions {
        match action {
            Action::VerifyOwner {
                owner, namespace, ..
            } => {
                let ns = namespace.unwrap_or_default();
                let found = get_meta(
                    &shared.client,
                    &owner.api_version,
                    &owner.kind,
                    &ns,
                    &owner.name,
                )
                .await?;
                match found {
                    Lookup::Found(meta) if meta.uid.as_deref() == Some(owner.uid.as_str()) => {
                        if let Ok(object) =
                            GraphObject::from_meta(&owner.api_version, &owner.kind, &meta)
                        {
                            let uids = shared.graph().observe(object);
                            uids.into_iter().for_each(|u| shared.queue.add(u));
                        }
                    }
                    Lookup::Found(_) | Lookup::Absent => {
                        let uids = shared.graph().mark_owner_absent(&owner.uid);
                        uids.into_iter().for_each(|u| shared.queue.add(u));
                    }
                    // A kind the collector does not serve: nothing is
                    // deleted on a guess.
                    Lookup::Unknown => {}
                }
            }
            Action::Delete {
                object,
                propagation,
            } => {
                let options = json!({
                    "propagationPolicy": propagation.as_str(),
                    "preconditions": {"uid": object.uid},
                });
                tracing::debug!(kind = %object.kind, name = %object.name, "garbage collecting");
                with_kind!(object.api_version.as_str(), object.kind.as_str(), K => {
                    let api: Api<K> = Api::all(shared.client.clone());
                    let ns = object.namespace.clone().unwrap_or_default();
                    not_found_ok(api.delete_in(&ns, &object.name, &options).await)?;
                }, ())
            }
            Action::RemoveOwnerReferences { object, owner_uids } => {
                let owners = current_owners(shared, &object);
                let kept: Vec<_> = owners
                    .into_iter()
                    .filter(|o| !owner_uids.contains(&o.uid))
                    .collect();
                patch_meta(shared, &object, json!({"ownerReferences": kept})).await?;
            }
            Action::UnblockOwnerReferences { object, owner_uids } => {
                let mut owners = current_owners(shared, &object);
                for o in owners.iter_mut().filter(|o| owner_uids.contains(&o.uid)) {
                    o.block_owner_deletion = Some(false);
                }
                patch_meta(shared, &object, json!({"ownerReferences": owners})).await?;
            }
            Action::RemoveFinalizer { object, finalizer } => {
                let finalizers: Vec<String> = shared
                    .graph()
                    .get(&object.uid)
                    .map(|o| o.finalizers.clone())
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|f| f != finalizer)
                    .collect();
                patch_meta(shared, &object, json!({"finalizers": finalizers})).await?;
            }
        }
    }
    Ok(Requeue::No)
}

fn current_owners(
    shared: &Shared,
    object: &ObjectIdentity,
) -> Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference> {
    shared
        .graph()
        .get(&object.uid)
        .map(|o| o.owners.clone())
        .unwrap_or_default()
}

/// A merge patch of `metadata`, guarded by the object's uid (a recreated
/// namesake is never touched).
async fn patch_meta(
    shared: &Shared,
    object: &ObjectIdentity,
    mut meta: serde_json::Value,
) -> Result<(), Error> {
    meta["uid"] = json!(object.uid);
    let patch = Patch::Merge(json!({ "metadata": meta }));
    let ns = object.namespace.clone().unwrap_or_default();
    with_kind!(object.api_version.as_str(), object.kind.as_str(), K => {
        let api: Api<K> = Api::all(shared.client.clone());
        not_found_ok(api.patch_in(&ns, &object.name, &patch).await)
    }, Ok(()))
}

/// What a live lookup of an owner found.
enum Lookup {
    Found(Box<ObjectMeta>),
    Absent,
    Unknown,
}

async fn get_meta(
    client: &Client,
    api_version: &str,
    kind: &str,
    namespace: &str,
    name: &str,
) -> Result<Lookup, Error> {
    with_kind!(api_version, kind, K => {
        let api: Api<K> = Api::namespaced(client.clone(), namespace);
        Ok(match api.get_opt(name).await? {
            Some(k) => Lookup::Found(Box::new(k.metadata)),
            None => Lookup::Absent,
        })
    }, Ok(Lookup::Unknown))
}

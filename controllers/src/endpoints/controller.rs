//! The Endpoints controller's wiring: a Service and the pods it selects to
//! its Endpoints object, rewritten whenever either changes.

use berth_client::controller::{self, Requeue};
use berth_client::{index, Api, Client, Error, Informer, Notification, Store, WorkQueue};
use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};

use super::pod::pod_selected_by;
use super::{sync_endpoints, EndpointsAction};

/// Keys of the Services in the pod's namespace that select it (Kubernetes'
/// GetPodServiceMemberships).
pub(crate) fn services_selecting(services: &Store<Service>, pod: &Pod) -> Vec<String> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
    services
        .by_index(index::NAMESPACE, ns)
        .iter()
        .filter(|s| pod_selected_by(s, pod))
        .map(|s| berth_client::key_of(s.as_ref()))
        .collect()
}

/// Queues the Services a pod change concerns: those selecting the pod
/// before and after.
pub(crate) fn on_pod(
    services: &Store<Service>,
    queue: &WorkQueue<String>,
    note: &Notification<Pod>,
) {
    match note {
        Notification::Added(p) | Notification::Deleted(p) => {
            services_selecting(services, p)
                .into_iter()
                .for_each(|k| queue.add(k));
        }
        Notification::Updated { old, new } => {
            if old.metadata.resource_version == new.metadata.resource_version {
                return;
            }
            let mut keys = services_selecting(services, old);
            keys.extend(services_selecting(services, new));
            keys.sort();
            keys.dedup();
            keys.into_iter().for_each(|k| queue.add(k));
        }
    }
}

/// Runs the controller until dropped.
pub async fn run(
    client: Client,
    services: &Informer<Service>,
    pods: &Informer<Pod>,
    endpoints: &Informer<Endpoints>,
    workers: usize,
) {
    let queue = WorkQueue::new();
    let services = services.store();
    let pods = pods.store();
    let endpoints = endpoints.store();
    let mut service_events = services.subscribe();
    let mut pod_events = pods.subscribe();
    let feeder = {
        let queue = queue.clone();
        let services = services.clone();
        async move {
            loop {
                tokio::select! {
                    Some(note) = service_events.recv() => {
                        queue.add(berth_client::key_of(note.object().as_ref()));
                    }
                    Some(note) = pod_events.recv() => on_pod(&services, &queue, &note),
                    else => break,
                }
            }
        }
    };
    let sync = move |key: String| {
        let client = client.clone();
        let services = services.clone();
        let pods = pods.clone();
        let endpoints = endpoints.clone();
        async move { sync_key(&client, &services, &pods, &endpoints, &key).await }
    };
    tokio::join!(feeder, controller::run("endpoints", queue, workers, sync));
}

async fn sync_key(
    client: &Client,
    services: &Store<Service>,
    pods: &Store<Pod>,
    endpoints: &Store<Endpoints>,
    key: &str,
) -> Result<Requeue, Error> {
    let (ns, name) = key.split_once('/').unwrap_or(("", key));
    let api: Api<Endpoints> = Api::namespaced(client.clone(), ns);
    let Some(service) = services.get(key) else {
        // The Service is gone; so are its Endpoints.
        if endpoints.get(key).is_some() {
            match api.delete(name).await {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        return Ok(Requeue::No);
    };
    let in_namespace: Vec<Pod> = pods
        .by_index(index::NAMESPACE, ns)
        .iter()
        .map(|p| Pod::clone(p))
        .collect();
    let current = endpoints.get(key);
    match sync_endpoints(&service, &in_namespace, current.as_deref(), None) {
        EndpointsAction::LeaveAlone | EndpointsAction::Unchanged => {}
        EndpointsAction::Create(desired) => match api.create(&desired).await {
            Ok(_) => {}
            // Written by an earlier sync the cache has not seen yet: the
            // watch event will queue the Service again.
            Err(e) if e.is_already_exists() => {}
            Err(e) => return Err(e),
        },
        EndpointsAction::Update(desired) => {
            api.replace(&desired).await?;
        }
    }
    Ok(Requeue::No)
}

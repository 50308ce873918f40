//! The EndpointSlice controller's wiring: a Service, the pods it selects
//! and the nodes' zones to the slices labeled with its name.

use berth_client::controller::{self, Requeue};
use berth_client::{index, Api, Client, Error, Informer, Store, WorkQueue};
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde_json::json;

use super::{node_zones, reconcile_slices, LABEL_SERVICE_NAME};
use crate::endpoints::controller::on_pod;

/// Index of slices by `namespace/service-name`.
const BY_SERVICE: &str = "service";

/// The index function of [`BY_SERVICE`].
fn by_service() -> berth_client::IndexFn<EndpointSlice> {
    std::sync::Arc::new(|s: &EndpointSlice| {
        let ns = s.metadata.namespace.clone().unwrap_or_default();
        s.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(LABEL_SERVICE_NAME))
            .map(|svc| format!("{ns}/{svc}"))
            .into_iter()
            .collect()
    })
}

/// The indexes the slice informer needs.
pub fn indexes() -> Vec<(&'static str, berth_client::IndexFn<EndpointSlice>)> {
    vec![(BY_SERVICE, by_service())]
}

/// Runs the controller until dropped. `slices` must carry [`indexes`].
pub async fn run(
    client: Client,
    services: &Informer<Service>,
    pods: &Informer<Pod>,
    slices: &Informer<EndpointSlice>,
    nodes: &Informer<Node>,
    workers: usize,
) {
    let queue = WorkQueue::new();
    let services = services.store();
    let pods = pods.store();
    let slices = slices.store();
    let nodes = nodes.store();
    let mut service_events = services.subscribe();
    let mut pod_events = pods.subscribe();
    let mut slice_events = slices.subscribe();
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
                    // A slice changed by someone else is put back as it should be.
                    Some(note) = slice_events.recv() => {
                        for key in by_service()(note.object()) {
                            queue.add(key);
                        }
                    }
                    else => break,
                }
            }
        }
    };
    let sync = move |key: String| {
        let client = client.clone();
        let (services, pods, slices, nodes) = (
            services.clone(),
            pods.clone(),
            slices.clone(),
            nodes.clone(),
        );
        async move { sync_key(&client, &services, &pods, &slices, &nodes, &key).await }
    };
    tokio::join!(
        feeder,
        controller::run("endpointslice", queue, workers, sync)
    );
}

async fn sync_key(
    client: &Client,
    services: &Store<Service>,
    pods: &Store<Pod>,
    slices: &Store<EndpointSlice>,
    nodes: &Store<Node>,
    key: &str,
) -> Result<Requeue, Error> {
    let (ns, _) = key.split_once('/').unwrap_or(("", key));
    // Slices of a deleted Service go with it through their owner
    // reference (garbage collector).
    let Some(service) = services.get(key) else {
        return Ok(Requeue::No);
    };
    let in_namespace: Vec<Pod> = pods
        .by_index(index::NAMESPACE, ns)
        .iter()
        .map(|p| Pod::clone(p))
        .collect();
    let existing: Vec<EndpointSlice> = slices
        .by_index(BY_SERVICE, key)
        .iter()
        .map(|s| EndpointSlice::clone(s))
        .collect();
    let all_nodes = nodes.list();
    let zones = node_zones(all_nodes.iter().map(|n| n.as_ref()));
    let plan = match reconcile_slices(&service, &in_namespace, &existing, &zones, None) {
        Ok(Some(plan)) => plan,
        Ok(None) => return Ok(Requeue::No),
        Err(e) => {
            tracing::warn!(service = key, error = %e, "cannot reconcile slices");
            return Ok(Requeue::No);
        }
    };
    let api: Api<EndpointSlice> = Api::namespaced(client.clone(), ns);
    for slice in &plan.create {
        api.create(slice).await?;
    }
    for slice in &plan.update {
        api.replace(slice).await?;
    }
    for slice in &plan.delete {
        let name = slice.metadata.name.as_deref().unwrap_or_default();
        let options = json!({"preconditions": {"uid": slice.metadata.uid}});
        match api.delete_in("", name, &options).await {
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
    }
    if !plan.pods_on_unknown_nodes.is_empty() {
        // Kubernetes retries until the nodes are known, for their zones.
        return Err(Error::Transport(format!(
            "pods on unknown nodes: {}",
            plan.pods_on_unknown_nodes.join(", ")
        )));
    }
    Ok(Requeue::No)
}

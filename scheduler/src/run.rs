//! The scheduler's wiring: informers over nodes, pods and namespaces feed
//! the [`Scheduler`]; its decisions become `pods/binding` calls, `Scheduled`
//! and `FailedScheduling` events, and the pod's PodScheduled condition, as
//! kube-scheduler writes them.

use std::sync::Arc;
use std::time::Duration;

use berth_client::{Api, Client, Informer, InformerConfig, Notification, Patch, Recorder};
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use serde_json::json;

use crate::scheduler::{Scheduler, SchedulerConfig};

/// How often assumed pods whose binding was never confirmed are dropped.
const CLEANUP_PERIOD: Duration = Duration::from_secs(1);

/// Schedules pods through the API server of `client` until the future is
/// dropped (leadership lost or the member stopping).
pub async fn run(client: Client, config: SchedulerConfig) {
    let scheduler = Arc::new(Scheduler::new(config));
    let nodes = Informer::spawn(
        Api::<Node>::all(client.clone()),
        InformerConfig::default(),
        Vec::new(),
    );
    let pods = Informer::spawn(
        Api::<Pod>::all(client.clone()),
        InformerConfig::default(),
        Vec::new(),
    );
    let namespaces = Informer::spawn(
        Api::<Namespace>::all(client.clone()),
        InformerConfig::default(),
        Vec::new(),
    );
    nodes.wait_synced().await;
    namespaces.wait_synced().await;
    pods.wait_synced().await;
    let feed = feed(
        scheduler.clone(),
        nodes.store().subscribe(),
        pods.store().subscribe(),
        namespaces.store().subscribe(),
    );
    let cleanup = {
        let scheduler = scheduler.clone();
        async move {
            let mut tick = tokio::time::interval(CLEANUP_PERIOD);
            loop {
                tick.tick().await;
                scheduler.cleanup_expired();
            }
        }
    };
    tracing::info!("scheduler starting");
    let recorder = Recorder::new(client.clone(), "default-scheduler");
    let pods_api: Api<Pod> = Api::all(client);
    let schedule = async {
        let mut binds = tokio::task::JoinSet::new();
        while let Some(pod) = scheduler.next().await {
            // Finished bindings are reaped as we go so the set stays small.
            while binds.try_join_next().is_some() {}
            match scheduler.schedule(&pod) {
                Ok(node) => {
                    // Binding runs beside the next decisions, as
                    // kube-scheduler's binding cycle does; the pod is
                    // already assumed on its node in the cache.
                    binds.spawn(bind(
                        scheduler.clone(),
                        pods_api.clone(),
                        recorder.clone(),
                        pod,
                        node,
                    ));
                }
                Err(fit) => {
                    let message = fit.to_string();
                    recorder.warning(&pod, "FailedScheduling", &message);
                    set_unschedulable(&pods_api, &pod, &message).await;
                    scheduler.unschedulable(&pod, &fit);
                }
            }
        }
    };
    tokio::join!(feed, cleanup, schedule);
}

async fn bind(
    scheduler: Arc<Scheduler>,
    api: Api<Pod>,
    recorder: Recorder,
    pod: Pod,
    node: String,
) {
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    match api.bind(&ns, &name, &node).await {
        Ok(()) => {
            recorder.normal(
                &pod,
                "Scheduled",
                &format!("Successfully assigned {ns}/{name} to {node}"),
            );
            scheduler.bound(&pod);
        }
        Err(e) => {
            tracing::debug!(pod = %name, %node, error = %e, "binding failed");
            scheduler.forget(&pod);
            if !e.is_not_found() {
                recorder.warning(&pod, "FailedScheduling", &format!("Binding rejected: {e}"));
                scheduler.backoff(&pod);
            }
        }
    }
}

/// The PodScheduled=False condition kube-scheduler writes on a pod it
/// cannot place, so `kubectl describe` and `get pods` explain the Pending.
async fn set_unschedulable(api: &Api<Pod>, pod: &Pod, message: &str) {
    let current = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "PodScheduled"));
    if current.is_some_and(|c| c.status == "False" && c.message.as_deref() == Some(message)) {
        return;
    }
    let patch = Patch::Strategic(json!({
        "status": {"conditions": [{
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": message,
            "lastProbeTime": null,
            "lastTransitionTime": jiff::Timestamp::now().to_string(),
        }]}
    }));
    let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    if let Err(e) = api.patch_status(ns, name, &patch).await {
        tracing::debug!(pod = %name, error = %e, "PodScheduled condition not written");
    }
}

async fn feed(
    scheduler: Arc<Scheduler>,
    mut nodes: tokio::sync::mpsc::UnboundedReceiver<Notification<Node>>,
    mut pods: tokio::sync::mpsc::UnboundedReceiver<Notification<Pod>>,
    mut namespaces: tokio::sync::mpsc::UnboundedReceiver<Notification<Namespace>>,
) {
    loop {
        tokio::select! {
            Some(note) = nodes.recv() => match note {
                Notification::Added(n) => scheduler.on_node_add(&n),
                Notification::Updated { old, new } => scheduler.on_node_update(&old, &new),
                Notification::Deleted(n) => scheduler.on_node_delete(&n),
            },
            Some(note) = pods.recv() => match note {
                Notification::Added(p) => scheduler.on_pod_add(&p),
                Notification::Updated { old, new } => scheduler.on_pod_update(&old, &new),
                Notification::Deleted(p) => scheduler.on_pod_delete(&p),
            },
            Some(note) = namespaces.recv() => match note {
                Notification::Added(n) | Notification::Updated { new: n, .. } => {
                    scheduler.on_namespace_update(&n)
                }
                Notification::Deleted(n) => scheduler.on_namespace_delete(&n),
            },
            else => break,
        }
    }
}

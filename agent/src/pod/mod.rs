//! The pods of this node: one worker per pod, each syncing its pod
//! level-triggered (on every change of the object, on probe results, and
//! once a second), ending it when it is deleted; sandboxes left by pods that
//! no longer exist (deleted while the agent was down) are removed.

mod backoff;
mod labels;
mod logs;
mod shared;
mod start;
pub mod status;
mod sync;
mod terminate;
mod volumes;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use berth_client::{Notification, Store};
use k8s_openapi::api::core::v1::Pod;
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinHandle;

pub use backoff::Backoff;
pub use logs::PodLogs;
pub use shared::Shared;
pub use start::pull_policy;
pub use sync::PodWorker;
pub use terminate::grace_period;

use crate::probe::ProbeEvent;

/// How often a worker syncs its pod without being asked.
pub const RESYNC: Duration = Duration::from_secs(1);

struct Handle {
    pod: watch::Sender<Option<Arc<Pod>>>,
    kick: Arc<Notify>,
    unhealthy: mpsc::UnboundedSender<String>,
    task: JoinHandle<()>,
}

/// Runs a worker per pod of `pods` (an informer's store of this node's
/// pods) until `stop` fires.
pub async fn run(
    shared: Arc<Shared>,
    pods: Store<Pod>,
    mut probe_events: mpsc::UnboundedReceiver<ProbeEvent>,
    mut stop: watch::Receiver<bool>,
) {
    remove_orphans(&shared, &pods).await;
    let mut changes = pods.subscribe();
    let mut workers: HashMap<String, Handle> = HashMap::new();
    loop {
        tokio::select! {
            change = changes.recv() => {
                let Some(change) = change else { break };
                match change {
                    Notification::Added(pod) | Notification::Updated { new: pod, .. } => {
                        dispatch(&shared, &mut workers, Some(pod));
                    }
                    Notification::Deleted(pod) => {
                        let uid = pod.metadata.uid.clone().unwrap_or_default();
                        if let Some(handle) = workers.get(&uid) {
                            let _ = handle.pod.send(None);
                        }
                    }
                }
            }
            event = probe_events.recv() => {
                let Some(event) = event else { continue };
                on_probe_event(&shared, &pods, &workers, event);
            }
            _ = stop.changed() => break,
        }
        workers.retain(|_, h| !h.task.is_finished());
    }
    for handle in workers.values() {
        handle.task.abort();
    }
}

fn dispatch(shared: &Arc<Shared>, workers: &mut HashMap<String, Handle>, pod: Option<Arc<Pod>>) {
    let Some(pod) = pod else { return };
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    if let Some(handle) = workers.get(&uid) {
        if !handle.task.is_finished() {
            let _ = handle.pod.send(Some(pod));
            return;
        }
    }
    // A new pod, or a late update of one whose worker already returned:
    // a fresh worker, which starts from what the runtime has.
    let (pod_tx, pod_rx) = watch::channel(Some(pod));
    let kick = Arc::new(Notify::new());
    let (unhealthy_tx, unhealthy_rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(work(
        PodWorker::new(Arc::clone(shared)),
        pod_rx,
        Arc::clone(&kick),
        unhealthy_rx,
    ));
    workers.insert(
        uid,
        Handle {
            pod: pod_tx,
            kick,
            unhealthy: unhealthy_tx,
            task,
        },
    );
}

fn on_probe_event(
    shared: &Arc<Shared>,
    pods: &Store<Pod>,
    workers: &HashMap<String, Handle>,
    event: ProbeEvent,
) {
    let (uid, container_id) = match &event {
        ProbeEvent::ReadinessChanged { uid, .. } | ProbeEvent::Started { uid, .. } => {
            (uid.clone(), None)
        }
        ProbeEvent::LivenessFailed(failed) => {
            (failed.uid.clone(), Some(failed.container_id.clone()))
        }
        ProbeEvent::Unhealthy {
            uid,
            probe,
            message,
            ..
        }
        | ProbeEvent::Warning {
            uid,
            probe,
            message,
            ..
        } => {
            let (reason, text) = match &event {
                ProbeEvent::Warning { .. } => {
                    ("ProbeWarning", format!("{probe} probe warning: {message}"))
                }
                _ => ("Unhealthy", format!("{probe} probe failed: {message}")),
            };
            if let Some(pod) = pods
                .list()
                .into_iter()
                .find(|p| p.metadata.uid.as_deref() == Some(uid.as_str()))
            {
                shared.recorder.warning(pod.as_ref(), reason, &text);
            }
            return;
        }
    };
    if let Some(handle) = workers.get(&uid) {
        if let Some(id) = container_id {
            let _ = handle.unhealthy.send(id);
        }
        handle.kick.notify_one();
    }
}

/// One pod's loop.
async fn work(
    mut worker: PodWorker,
    mut pod: watch::Receiver<Option<Arc<Pod>>>,
    kick: Arc<Notify>,
    mut unhealthy: mpsc::UnboundedReceiver<String>,
) {
    let mut last: Option<Arc<Pod>> = None;
    loop {
        while let Ok(id) = unhealthy.try_recv() {
            worker.unhealthy.insert(id);
        }
        let current = pod.borrow_and_update().clone();
        match current {
            Some(p) if p.metadata.deletion_timestamp.is_some() => {
                worker.terminate(&p).await;
                return;
            }
            Some(p) => {
                worker.sync(&p).await;
                last = Some(p);
            }
            None => {
                // Gone from the API without the agent ending it (a forced
                // deletion): stop what still runs.
                if let Some(p) = &last {
                    let uid = p.metadata.uid.clone().unwrap_or_default();
                    worker.kill(&uid, None, grace_period(p)).await;
                }
                return;
            }
        }
        tokio::select! {
            changed = pod.changed() => if changed.is_err() { return },
            _ = kick.notified() => {}
            _ = tokio::time::sleep(RESYNC) => {}
        }
    }
}

/// Removes sandboxes whose pod no longer exists on this node.
async fn remove_orphans(shared: &Arc<Shared>, pods: &Store<Pod>) {
    let known: HashSet<String> = pods
        .list()
        .iter()
        .filter_map(|p| p.metadata.uid.clone())
        .collect();
    let Ok(sandboxes) = shared.runtime.list_pod_sandboxes().await else {
        return;
    };
    let orphans: HashSet<String> = sandboxes
        .into_iter()
        .map(|s| s.uid)
        .filter(|uid| !uid.is_empty() && !known.contains(uid))
        .collect();
    for uid in orphans {
        tracing::info!(uid, "removing the sandbox of a pod that no longer exists");
        let mut worker = PodWorker::new(Arc::clone(shared));
        worker
            .kill(&uid, None, Duration::from_secs(DEFAULT_ORPHAN_GRACE))
            .await;
    }
}

/// Grace period for containers of pods the agent no longer knows: the
/// Kubernetes default.
const DEFAULT_ORPHAN_GRACE: u64 = 30;

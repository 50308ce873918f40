//! Ending a pod: every container stopped with the pod's grace period
//! (SIGTERM, then SIGKILL when it runs out), the sandbox stopped and
//! removed, probes and volumes dropped; then the pod object is deleted for
//! good (grace 0, guarded by its uid), as the kubelet confirms a deletion.

use std::time::Duration;

use futures::future::join_all;
use k8s_openapi::api::core::v1::Pod;
use serde_json::json;

use super::sync::{pod_name, PodWorker};
use crate::runtime::ContainerState;

/// The grace period of a pod being deleted: the deletion's, else the spec's
/// (30 s by default).
pub fn grace_period(pod: &Pod) -> Duration {
    let seconds = pod
        .metadata
        .deletion_grace_period_seconds
        .or_else(|| {
            pod.spec
                .as_ref()
                .and_then(|s| s.termination_grace_period_seconds)
        })
        .unwrap_or(30);
    Duration::from_secs(u64::try_from(seconds).unwrap_or(0))
}

impl PodWorker {
    /// Stops and removes everything the runtime runs for pod `uid`.
    pub async fn kill(&mut self, uid: &str, pod: Option<&Pod>, grace: Duration) {
        let runtime = &self.shared.runtime;
        let sandboxes = self.sandboxes(uid).await.unwrap_or_default();
        for sandbox in &sandboxes {
            let containers = runtime
                .list_containers(Some(&sandbox.id))
                .await
                .unwrap_or_default();
            let running: Vec<_> = containers
                .iter()
                .filter(|c| c.state == ContainerState::Running)
                .collect();
            if let Some(pod) = pod {
                for c in &running {
                    self.shared.recorder.normal(
                        pod,
                        "Killing",
                        &format!("Stopping container {}", c.name),
                    );
                }
            }
            // All at once: the grace period is the pod's, not each container's.
            join_all(running.iter().map(|c| runtime.stop_container(&c.id, grace))).await;
            if let Err(e) = runtime.stop_pod_sandbox(&sandbox.id).await {
                tracing::warn!(uid, error = %e, "stopping a sandbox failed");
            }
            if let Err(e) = runtime.remove_pod_sandbox(&sandbox.id).await {
                tracing::warn!(uid, error = %e, "removing a sandbox failed");
            }
        }
        self.shared.probes.remove_pod(uid);
        let dir = self.shared.pods_dir.join(uid);
        if let Err(e) = tokio::fs::remove_dir_all(&dir).await {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(uid, error = %e, "removing the pod's directory failed");
            }
        }
    }

    /// Ends `pod`, which is being deleted, and deletes its object.
    pub async fn terminate(&mut self, pod: &Pod) {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        self.kill(&uid, Some(pod), grace_period(pod)).await;
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let pods: berth_client::Api<Pod> =
            berth_client::Api::namespaced(self.shared.client.clone(), &ns);
        let options = json!({ "gracePeriodSeconds": 0, "preconditions": { "uid": uid } });
        match pods.delete_in(&ns, &name, &options).await {
            Ok(_) => {}
            Err(e) if e.is_not_found() || e.is_conflict() => {}
            Err(e) => tracing::warn!(pod = %pod_name(pod), error = %e, "deleting the pod failed"),
        }
    }
}

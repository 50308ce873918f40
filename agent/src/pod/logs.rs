//! Where the agent's server finds a container's log and runs commands in
//! it: the pod from the node's pod store, its containers from the runtime,
//! newest attempt for the current log (and exec) and the one before it for
//! `previous`.

use std::sync::Arc;

use berth_client::Store;
use k8s_openapi::api::core::v1::Pod;

use crate::runtime::{ContainerState, ContainerStatus, ExecRequest, Runtime};
use crate::server::exec::ExecOptions;
use crate::server::{ContainerLog, ExecSource, LogError, LogSource};

/// The agent's pods and runtime as a [`LogSource`].
pub struct PodLogs {
    pods: Store<Pod>,
    runtime: Arc<dyn Runtime>,
}

impl PodLogs {
    /// Logs of the pods in `pods` (this node's), run by `runtime`.
    pub fn new(pods: Store<Pod>, runtime: Arc<dyn Runtime>) -> Self {
        PodLogs { pods, runtime }
    }
}

/// Why the container waits, as the pod's status says (the kubelet answers
/// a log request for a container that never started with it).
fn waiting_reason(pod: &Pod, container: &str) -> String {
    let status = pod.status.as_ref();
    status
        .and_then(|s| {
            s.container_statuses
                .iter()
                .chain(s.init_container_statuses.iter())
                .flatten()
                .find(|c| c.name == container)
                .cloned()
        })
        .and_then(|c| c.state?.waiting?.reason)
        .unwrap_or_else(|| "ContainerCreating".to_string())
}

impl PodLogs {
    /// The pod and the runtime's instances of its `container`, newest
    /// attempt first.
    async fn instances(
        &self,
        namespace: &str,
        pod_name: &str,
        container: &str,
    ) -> Result<(Arc<Pod>, Vec<ContainerStatus>), LogError> {
        let pod = self
            .pods
            .get(&format!("{namespace}/{pod_name}"))
            .ok_or_else(|| LogError::PodNotFound {
                namespace: namespace.to_string(),
                pod: pod_name.to_string(),
            })?;
        let spec = pod.spec.clone().unwrap_or_default();
        let declared = spec
            .containers
            .iter()
            .chain(spec.init_containers.iter().flatten())
            .any(|c| c.name == container);
        if !declared {
            return Err(LogError::ContainerNotFound {
                pod: pod_name.to_string(),
                container: container.to_string(),
            });
        }
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let internal = |e: crate::runtime::RuntimeError| LogError::Internal(e.to_string());
        let sandboxes: Vec<String> = self
            .runtime
            .list_pod_sandboxes()
            .await
            .map_err(internal)?
            .into_iter()
            .filter(|s| s.uid == uid)
            .map(|s| s.id)
            .collect();
        let mut instances = Vec::new();
        for sandbox in &sandboxes {
            instances.extend(
                self.runtime
                    .list_containers(Some(sandbox))
                    .await
                    .map_err(internal)?
                    .into_iter()
                    .filter(|c| c.name == container),
            );
        }
        instances.sort_by(|a, b| {
            b.attempt
                .cmp(&a.attempt)
                .then(b.created_at.cmp(&a.created_at))
        });
        Ok((pod, instances))
    }
}

#[async_trait::async_trait]
impl LogSource for PodLogs {
    async fn container_log(
        &self,
        namespace: &str,
        pod_name: &str,
        container: &str,
        previous: bool,
    ) -> Result<ContainerLog, LogError> {
        let (pod, instances) = self.instances(namespace, pod_name, container).await?;
        let wanted = if previous {
            instances.get(1).ok_or_else(|| LogError::NoPrevious {
                pod: pod_name.to_string(),
                container: container.to_string(),
            })?
        } else {
            instances
                .first()
                .filter(|c| c.state != ContainerState::Created)
                .ok_or_else(|| LogError::Waiting {
                    pod: pod_name.to_string(),
                    container: container.to_string(),
                    reason: waiting_reason(&pod, container),
                })?
        };
        Ok(ContainerLog {
            path: wanted.log_path.clone(),
            running: wanted.state == ContainerState::Running,
        })
    }
}

#[async_trait::async_trait]
impl ExecSource for PodLogs {
    async fn exec_url(
        &self,
        namespace: &str,
        pod_name: &str,
        container: &str,
        options: &ExecOptions,
    ) -> Result<String, LogError> {
        let (pod, instances) = self.instances(namespace, pod_name, container).await?;
        let running = instances
            .first()
            .filter(|c| c.state == ContainerState::Running)
            .ok_or_else(|| {
                // kube-apiserver's words for exec into a container that
                // does not run.
                LogError::BadRequest(format!(
                    "container {container} is not valid for pod {pod_name}: not running ({})",
                    waiting_reason(&pod, container)
                ))
            })?;
        self.runtime
            .exec(&ExecRequest {
                container_id: running.id.clone(),
                cmd: options.command.clone(),
                tty: options.tty,
                stdin: options.stdin,
                stdout: options.stdout,
                stderr: options.stderr,
            })
            .await
            .map_err(|e| LogError::Internal(e.to_string()))
    }
}

//! Starting one container: its image (pulled by the pull policy, behind
//! ImagePullBackOff), its environment and mounts, its cgroup limits, then
//! create and start. A failure comes back as the waiting reason the kubelet
//! reports (`ErrImagePull`, `ImagePullBackOff`, `ErrImageNeverPull`,
//! `CreateContainerConfigError`, `CreateContainerError`,
//! `RunContainerError`) with its message.

use std::collections::BTreeMap;
use std::path::PathBuf;

use k8s_openapi::api::core::v1::{Container, Pod};
use tokio::time::Instant;

use super::labels::{self, CONTAINER_HASH, CONTAINER_NAME, CONTAINER_RESTART_COUNT};
use super::sync::PodWorker;
use crate::env::{container_env, PodEnvContext};
use crate::runtime::{self, ContainerConfig, RuntimeError, SandboxConfig};

/// A waiting reason and its message.
pub type Held = (String, String);

/// The pull policy Kubernetes defaults to: `Always` for `:latest` or no
/// tag, `IfNotPresent` otherwise.
pub fn pull_policy(container: &Container) -> String {
    if let Some(policy) = container
        .image_pull_policy
        .as_deref()
        .filter(|p| !p.is_empty())
    {
        return policy.to_string();
    }
    let image = container.image.as_deref().unwrap_or_default();
    let name = image.split('@').next().unwrap_or_default();
    let last = name.rsplit('/').next().unwrap_or_default();
    match last.split_once(':') {
        Some((_, tag)) if tag != "latest" => "IfNotPresent".into(),
        _ if image.contains('@') => "IfNotPresent".into(),
        _ => "Always".into(),
    }
}

impl PodWorker {
    /// The sandbox `pod` runs in.
    pub(super) fn sandbox_config(&self, pod: &Pod, attempt: u32) -> SandboxConfig {
        let meta = &pod.metadata;
        let name = meta.name.clone().unwrap_or_default();
        let namespace = meta.namespace.clone().unwrap_or_default();
        let uid = meta.uid.clone().unwrap_or_default();
        let spec = pod.spec.clone().unwrap_or_default();
        let port_mappings = spec
            .containers
            .iter()
            .flat_map(|c| c.ports.iter().flatten())
            .map(|p| runtime::PortMapping {
                protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                container_port: u16::try_from(p.container_port).unwrap_or(0),
                host_port: p.host_port.and_then(|h| u16::try_from(h).ok()).unwrap_or(0),
                host_ip: p.host_ip.clone().unwrap_or_default(),
            })
            .collect();
        SandboxConfig {
            hostname: spec.hostname.clone().unwrap_or_else(|| name.clone()),
            log_directory: self
                .shared
                .log_dir
                .join(format!("{namespace}_{name}_{uid}")),
            dns: self.shared.dns.clone(),
            port_mappings,
            labels: labels::pod_labels(pod),
            annotations: meta.annotations.clone().unwrap_or_default(),
            cgroup_parent: String::new(),
            name,
            namespace,
            uid,
            attempt,
        }
    }

    /// Makes sure `container`'s image is on the node.
    async fn ensure_image(&mut self, pod: &Pod, container: &Container) -> Result<String, Held> {
        let image = container.image.clone().unwrap_or_default();
        let policy = pull_policy(container);
        let present = self
            .shared
            .runtime
            .image_status(&image)
            .await
            .ok()
            .flatten();
        if let (Some(found), false) = (&present, policy == "Always") {
            self.shared.recorder.normal(
                pod,
                "Pulled",
                &format!("Container image \"{image}\" already present on machine"),
            );
            return Ok(found.id.clone());
        }
        if policy == "Never" {
            let message =
                format!("Container image \"{image}\" is not present with pull policy of Never");
            self.shared
                .recorder
                .warning(pod, "ErrImageNeverPull", &message);
            return Err(("ErrImageNeverPull".into(), message));
        }
        let now = Instant::now();
        if let Some(failed) = self.pull_failed_at.get(&image) {
            if self.pulls.remaining(&image, *failed, now).is_some() {
                let message = format!("Back-off pulling image \"{image}\"");
                self.shared.recorder.normal(pod, "BackOff", &message);
                self.shared
                    .recorder
                    .warning(pod, "Failed", "Error: ImagePullBackOff");
                return Err(("ImagePullBackOff".into(), message));
            }
        }
        self.shared
            .recorder
            .normal(pod, "Pulling", &format!("Pulling image \"{image}\""));
        match self.shared.runtime.pull_image(&image).await {
            Ok(id) => {
                self.pulls.reset(&image);
                self.pull_failed_at.remove(&image);
                self.shared.recorder.normal(
                    pod,
                    "Pulled",
                    &format!("Successfully pulled image \"{image}\""),
                );
                Ok(id)
            }
            Err(e) => {
                self.pulls.next(&image, now);
                self.pull_failed_at.insert(image.clone(), now);
                let message = format!("Failed to pull image \"{image}\": {e}");
                self.shared.recorder.warning(pod, "Failed", &message);
                self.shared
                    .recorder
                    .warning(pod, "Failed", "Error: ErrImagePull");
                Err(("ErrImagePull".into(), message))
            }
        }
    }

    /// Creates and starts attempt `attempt` of `container` in the sandbox.
    pub(super) async fn start_container(
        &mut self,
        pod: &Pod,
        sandbox_id: &str,
        sandbox: &SandboxConfig,
        container: &Container,
        attempt: u32,
    ) -> Result<(), Held> {
        self.ensure_image(pod, container).await?;
        let config_error = |message: String| ("CreateContainerConfigError".to_string(), message);
        let pod_ips: Vec<String> = self
            .sandboxes(sandbox.uid.as_str())
            .await
            .ok()
            .and_then(|s| s.into_iter().find(|s| s.id == sandbox_id))
            .and_then(|s| s.ip)
            .into_iter()
            .collect();
        let host_ips = vec![self.shared.node_ip.clone()];
        let context = PodEnvContext {
            pod,
            pod_ips: &pod_ips,
            host_ips: &host_ips,
            node_allocatable: &self.shared.allocatable,
        };
        let envs =
            container_env(&context, container, self.shared.lookup.as_ref()).map_err(|e| {
                let message = e.to_string();
                self.shared
                    .recorder
                    .warning(pod, "Failed", &format!("Error: {message}"));
                config_error(message)
            })?;
        let resources = runtime::resources::linux_resources(container.resources.as_ref())
            .map_err(|e| config_error(e.to_string()))?;
        let mounts = self.mounts(pod, container, &envs).map_err(config_error)?;
        let mut container_labels: BTreeMap<String, String> = BTreeMap::new();
        container_labels.insert(CONTAINER_NAME.into(), container.name.clone());
        for key in [labels::POD_NAME, labels::POD_NAMESPACE, labels::POD_UID] {
            if let Some(v) = sandbox.labels.get(key) {
                container_labels.insert(key.into(), v.clone());
            }
        }
        let annotations: BTreeMap<String, String> = [
            (
                CONTAINER_HASH.to_string(),
                labels::container_hash(container),
            ),
            (CONTAINER_RESTART_COUNT.to_string(), attempt.to_string()),
        ]
        .into();
        let config = ContainerConfig {
            name: container.name.clone(),
            attempt,
            image: container.image.clone().unwrap_or_default(),
            command: container.command.clone().unwrap_or_default(),
            args: container.args.clone().unwrap_or_default(),
            working_dir: container.working_dir.clone().unwrap_or_default(),
            envs,
            mounts,
            labels: container_labels,
            annotations,
            log_path: format!("{}/{attempt}.log", container.name),
            stdin: container.stdin.unwrap_or(false),
            tty: container.tty.unwrap_or(false),
            resources,
        };
        let dir: PathBuf = sandbox.log_directory.join(&container.name);
        let _ = tokio::fs::create_dir_all(&dir).await;
        let id = self
            .shared
            .runtime
            .create_container(sandbox_id, &config, sandbox)
            .await
            .map_err(|e| {
                let message = e.to_string();
                self.shared
                    .recorder
                    .warning(pod, "Failed", &format!("Error: {message}"));
                ("CreateContainerError".to_string(), message)
            })?;
        self.shared.recorder.normal(
            pod,
            "Created",
            &format!("Created container: {}", container.name),
        );
        if let Err(e) = self.shared.runtime.start_container(&id).await {
            let message = match e {
                RuntimeError::Failed(m) => m,
                other => other.to_string(),
            };
            self.shared
                .recorder
                .warning(pod, "Failed", &format!("Error: {message}"));
            return Err(("RunContainerError".into(), message));
        }
        self.shared.recorder.normal(
            pod,
            "Started",
            &format!("Started container {}", container.name),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_image(image: &str, policy: Option<&str>) -> Container {
        Container {
            name: "c".into(),
            image: Some(image.into()),
            image_pull_policy: policy.map(str::to_string),
            ..Container::default()
        }
    }

    #[test]
    fn pull_policy_defaults_as_kubernetes() {
        assert_eq!(
            pull_policy(&with_image("api-server:1.2.0", None)),
            "IfNotPresent"
        );
        assert_eq!(pull_policy(&with_image("busybox", None)), "Always");
        assert_eq!(pull_policy(&with_image("busybox:latest", None)), "Always");
        assert_eq!(pull_policy(&with_image("localhost:5000/x", None)), "Always");
        assert_eq!(
            pull_policy(&with_image("localhost:5000/x:2", None)),
            "IfNotPresent"
        );
        assert_eq!(
            pull_policy(&with_image("x@sha256:ab", None)),
            "IfNotPresent"
        );
        assert_eq!(pull_policy(&with_image("busybox", Some("Never"))), "Never");
    }
}

//! A runtime that starts nothing: sandboxes and containers live only in
//! memory, containers run as soon as they are started and stop when told, and
//! every image is present. Pods on a hollow node go Running and Ready like real
//! ones, so hundreds of agents fit in one process for scale tests (the role of
//! Kubernetes' kubemark "hollow nodes").

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use super::{
    ContainerConfig, ContainerState, ContainerStats, ContainerStatus, ExecRequest, ExecResult,
    Image, Result, Runtime, RuntimeError, SandboxConfig, SandboxState, SandboxStatus,
};

/// Exit code of a container stopped by the runtime: killed by SIGKILL
/// (128 + 9), as a real container that ignores SIGTERM ends.
const KILLED_EXIT_CODE: i32 = 137;

/// The in-memory runtime of a hollow node.
#[derive(Debug)]
pub struct HollowRuntime {
    /// First three octets of every sandbox IP (`10.100.7`).
    ip_prefix: String,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// The last id handed out; ids are never reused.
    next_id: u64,
    /// The last host octet handed out; the next sandbox takes the next free one.
    last_octet: u8,
    sandboxes: HashMap<String, SandboxStatus>,
    containers: HashMap<String, ContainerStatus>,
}

impl HollowRuntime {
    /// A runtime whose sandboxes get IPs under `ip_prefix`, the first three
    /// octets of an IPv4 address: `"10.100.7"` gives `10.100.7.1`,
    /// `10.100.7.2`, ... Give each hollow node its own prefix, as each real
    /// node has its own pod CIDR.
    pub fn new(ip_prefix: impl Into<String>) -> Self {
        Self {
            ip_prefix: ip_prefix.into(),
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the maps half-updated
        // (every update is a single insert or field write), so a poisoned lock
        // is safe to keep using.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Default for HollowRuntime {
    fn default() -> Self {
        Self::new("10.100.0")
    }
}

fn now_nanos() -> i64 {
    jiff::Timestamp::now().as_nanosecond() as i64
}

fn fake_image_id(image: &str) -> String {
    // A stable id per name, so image_ref is the same for every container of
    // an image, as a real runtime's digest would be.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in image.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("sha256:{hash:016x}{hash:016x}{hash:016x}{hash:016x}")
}

#[async_trait]
impl Runtime for HollowRuntime {
    async fn version(&self) -> Result<String> {
        Ok("hollow://0.1.0".to_string())
    }

    async fn image_status(&self, image: &str) -> Result<Option<Image>> {
        Ok(Some(Image {
            id: fake_image_id(image),
            names: vec![image.to_string()],
            size: 0,
        }))
    }

    async fn pull_image(&self, image: &str) -> Result<String> {
        Ok(fake_image_id(image))
    }

    async fn list_images(&self) -> Result<Vec<Image>> {
        Ok(Vec::new())
    }

    async fn run_pod_sandbox(&self, config: &SandboxConfig) -> Result<String> {
        let mut state = self.state();
        let octet = free_octet(&state, &self.ip_prefix).ok_or_else(|| {
            RuntimeError::Failed(format!(
                "no free address left in {}.0/24 (254 sandboxes)",
                self.ip_prefix
            ))
        })?;
        state.last_octet = octet;
        state.next_id += 1;
        let id = format!("hollow-sandbox-{}", state.next_id);
        let ip = format!("{}.{octet}", self.ip_prefix);
        state.sandboxes.insert(
            id.clone(),
            SandboxStatus {
                id: id.clone(),
                name: config.name.clone(),
                namespace: config.namespace.clone(),
                uid: config.uid.clone(),
                attempt: config.attempt,
                state: SandboxState::Ready,
                ip: Some(ip),
                created_at: now_nanos(),
                labels: config.labels.clone(),
                annotations: config.annotations.clone(),
            },
        );
        Ok(id)
    }

    async fn stop_pod_sandbox(&self, id: &str) -> Result<()> {
        let mut state = self.state();
        let state = &mut *state;
        let sandbox = state
            .sandboxes
            .get_mut(id)
            .ok_or_else(|| RuntimeError::NotFound(format!("sandbox {id}")))?;
        sandbox.state = SandboxState::NotReady;
        let now = now_nanos();
        for container in state.containers.values_mut() {
            if container.sandbox_id == id {
                stop(container, now);
            }
        }
        Ok(())
    }

    async fn remove_pod_sandbox(&self, id: &str) -> Result<()> {
        let mut state = self.state();
        // Removing a removed sandbox succeeds, as in the CRI.
        state.sandboxes.remove(id);
        state.containers.retain(|_, c| c.sandbox_id != id);
        Ok(())
    }

    async fn list_pod_sandboxes(&self) -> Result<Vec<SandboxStatus>> {
        Ok(self.state().sandboxes.values().cloned().collect())
    }

    async fn create_container(
        &self,
        sandbox_id: &str,
        config: &ContainerConfig,
        sandbox: &SandboxConfig,
    ) -> Result<String> {
        let mut state = self.state();
        if !state.sandboxes.contains_key(sandbox_id) {
            return Err(RuntimeError::NotFound(format!("sandbox {sandbox_id}")));
        }
        state.next_id += 1;
        let id = format!("hollow-container-{}", state.next_id);
        state.containers.insert(
            id.clone(),
            ContainerStatus {
                id: id.clone(),
                sandbox_id: sandbox_id.to_string(),
                name: config.name.clone(),
                attempt: config.attempt,
                state: ContainerState::Created,
                created_at: now_nanos(),
                started_at: 0,
                finished_at: 0,
                exit_code: 0,
                reason: String::new(),
                message: String::new(),
                image: config.image.clone(),
                image_ref: fake_image_id(&config.image),
                labels: config.labels.clone(),
                annotations: config.annotations.clone(),
                log_path: sandbox_log_path(sandbox, config),
            },
        );
        Ok(id)
    }

    async fn start_container(&self, id: &str) -> Result<()> {
        let mut state = self.state();
        let container = state
            .containers
            .get_mut(id)
            .ok_or_else(|| RuntimeError::NotFound(format!("container {id}")))?;
        if container.state != ContainerState::Created {
            return Err(RuntimeError::Failed(format!(
                "container {id} is not in created state"
            )));
        }
        container.state = ContainerState::Running;
        container.started_at = now_nanos();
        Ok(())
    }

    async fn stop_container(&self, id: &str, _timeout: Duration) -> Result<()> {
        let mut state = self.state();
        let container = state
            .containers
            .get_mut(id)
            .ok_or_else(|| RuntimeError::NotFound(format!("container {id}")))?;
        stop(container, now_nanos());
        Ok(())
    }

    async fn remove_container(&self, id: &str) -> Result<()> {
        self.state().containers.remove(id);
        Ok(())
    }

    async fn list_containers(&self, sandbox_id: Option<&str>) -> Result<Vec<ContainerStatus>> {
        Ok(self
            .state()
            .containers
            .values()
            .filter(|c| sandbox_id.is_none_or(|s| c.sandbox_id == s))
            .cloned()
            .collect())
    }

    async fn container_status(&self, id: &str) -> Result<ContainerStatus> {
        self.state()
            .containers
            .get(id)
            .cloned()
            .ok_or_else(|| RuntimeError::NotFound(format!("container {id}")))
    }

    async fn exec_sync(&self, id: &str, _cmd: &[String], _timeout: Duration) -> Result<ExecResult> {
        let state = self.state();
        let container = state
            .containers
            .get(id)
            .ok_or_else(|| RuntimeError::NotFound(format!("container {id}")))?;
        if container.state != ContainerState::Running {
            return Err(RuntimeError::Failed(format!(
                "container {id} is not running"
            )));
        }
        // Probes that exec in a hollow container always succeed, so its pod
        // becomes Ready.
        Ok(ExecResult::default())
    }

    async fn exec(&self, request: &ExecRequest) -> Result<String> {
        Err(RuntimeError::Failed(format!(
            "streaming exec into {} is not served by the hollow runtime",
            request.container_id
        )))
    }

    async fn container_stats(&self, id: &str) -> Result<ContainerStats> {
        if self.state().containers.contains_key(id) {
            Ok(ContainerStats::default())
        } else {
            Err(RuntimeError::NotFound(format!("container {id}")))
        }
    }
}

/// Moves a container to Exited as a stop would: a created container that
/// never ran exits 0, a running one as if SIGKILLed; an exited one is left as
/// it is (stopping is idempotent).
fn stop(container: &mut ContainerStatus, now: i64) {
    match container.state {
        ContainerState::Running => {
            container.exit_code = KILLED_EXIT_CODE;
            container.reason = "Error".to_string();
        }
        ContainerState::Created | ContainerState::Unknown => {
            container.exit_code = 0;
            container.reason = "Completed".to_string();
        }
        ContainerState::Exited => return,
    }
    container.state = ContainerState::Exited;
    container.finished_at = now;
}

/// The next host octet (1..=254) after the last one handed out that no
/// sandbox holds, like host-local IPAM's round-robin over a /24: an address
/// freed by a removed sandbox is reused only after the others.
fn free_octet(state: &State, prefix: &str) -> Option<u8> {
    let taken: std::collections::HashSet<&str> = state
        .sandboxes
        .values()
        .filter_map(|s| s.ip.as_deref())
        .collect();
    (1..=254u16)
        .map(|step| ((u16::from(state.last_octet) + step - 1) % 254 + 1) as u8)
        .find(|octet| !taken.contains(format!("{prefix}.{octet}").as_str()))
}

fn sandbox_log_path(sandbox: &SandboxConfig, config: &ContainerConfig) -> PathBuf {
    sandbox.log_directory.join(&config.log_path)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn sandbox(name: &str) -> SandboxConfig {
        SandboxConfig {
            name: name.to_string(),
            namespace: "default".to_string(),
            uid: format!("uid-{name}"),
            labels: BTreeMap::from([("app".to_string(), name.to_string())]),
            ..Default::default()
        }
    }

    fn container(name: &str) -> ContainerConfig {
        ContainerConfig {
            name: name.to_string(),
            image: "busybox:latest".to_string(),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn sandboxes_get_distinct_ips_under_the_prefix() {
        let runtime = HollowRuntime::new("10.100.3");
        let a = runtime.run_pod_sandbox(&sandbox("a")).await.unwrap();
        let b = runtime.run_pod_sandbox(&sandbox("b")).await.unwrap();
        let sandboxes = runtime.list_pod_sandboxes().await.unwrap();
        let ip = |id: &str| {
            sandboxes
                .iter()
                .find(|s| s.id == id)
                .and_then(|s| s.ip.clone())
                .unwrap()
        };
        assert!(ip(&a).starts_with("10.100.3."), "{}", ip(&a));
        assert_ne!(ip(&a), ip(&b));
        assert!(sandboxes.iter().all(|s| s.state == SandboxState::Ready));
        assert_eq!(sandboxes.iter().find(|s| s.id == a).unwrap().name, "a");
    }

    #[tokio::test]
    async fn container_lifecycle_created_running_exited() {
        let runtime = HollowRuntime::new("10.100.0");
        let config = sandbox("web");
        let pod = runtime.run_pod_sandbox(&config).await.unwrap();
        let id = runtime
            .create_container(&pod, &container("app"), &config)
            .await
            .unwrap();
        let status = runtime.container_status(&id).await.unwrap();
        assert_eq!(status.state, ContainerState::Created);
        assert_eq!(status.sandbox_id, pod);

        runtime.start_container(&id).await.unwrap();
        let status = runtime.container_status(&id).await.unwrap();
        assert_eq!(status.state, ContainerState::Running);
        assert!(status.started_at > 0);

        let exec = runtime
            .exec_sync(&id, &["true".to_string()], Duration::from_secs(1))
            .await
            .unwrap();
        assert_eq!(exec.exit_code, 0);

        runtime
            .stop_container(&id, Duration::from_secs(30))
            .await
            .unwrap();
        let status = runtime.container_status(&id).await.unwrap();
        assert_eq!(status.state, ContainerState::Exited);
        assert_eq!(status.exit_code, 137);
        assert!(status.finished_at >= status.started_at);

        // Stopping again is idempotent and keeps the first outcome.
        runtime
            .stop_container(&id, Duration::from_secs(30))
            .await
            .unwrap();
        assert_eq!(runtime.container_status(&id).await.unwrap().exit_code, 137);
    }

    #[tokio::test]
    async fn stopping_a_created_container_exits_zero() {
        let runtime = HollowRuntime::default();
        let config = sandbox("job");
        let pod = runtime.run_pod_sandbox(&config).await.unwrap();
        let id = runtime
            .create_container(&pod, &container("c"), &config)
            .await
            .unwrap();
        runtime.stop_container(&id, Duration::ZERO).await.unwrap();
        let status = runtime.container_status(&id).await.unwrap();
        assert_eq!(
            (status.state, status.exit_code),
            (ContainerState::Exited, 0)
        );
    }

    #[tokio::test]
    async fn stopping_a_sandbox_stops_its_containers_and_removing_drops_them() {
        let runtime = HollowRuntime::default();
        let config = sandbox("web");
        let pod = runtime.run_pod_sandbox(&config).await.unwrap();
        let other = runtime.run_pod_sandbox(&sandbox("other")).await.unwrap();
        let id = runtime
            .create_container(&pod, &container("app"), &config)
            .await
            .unwrap();
        let kept = runtime
            .create_container(&other, &container("app"), &config)
            .await
            .unwrap();
        runtime.start_container(&id).await.unwrap();
        runtime.start_container(&kept).await.unwrap();

        runtime.stop_pod_sandbox(&pod).await.unwrap();
        let sandboxes = runtime.list_pod_sandboxes().await.unwrap();
        let stopped = sandboxes.iter().find(|s| s.id == pod).unwrap();
        assert_eq!(stopped.state, SandboxState::NotReady);
        assert_eq!(
            runtime.container_status(&id).await.unwrap().state,
            ContainerState::Exited
        );
        assert_eq!(
            runtime.container_status(&kept).await.unwrap().state,
            ContainerState::Running
        );

        runtime.remove_pod_sandbox(&pod).await.unwrap();
        runtime.remove_pod_sandbox(&pod).await.unwrap();
        assert!(matches!(
            runtime.container_status(&id).await,
            Err(RuntimeError::NotFound(_))
        ));
        let left = runtime.list_containers(None).await.unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].id, kept);
        assert_eq!(runtime.list_containers(Some(&pod)).await.unwrap().len(), 0);
    }

    #[tokio::test]
    async fn addresses_stay_unique_while_sandboxes_come_and_go() {
        let runtime = HollowRuntime::new("10.100.9");
        let mut live = Vec::new();
        for _ in 0..254 {
            live.push(runtime.run_pod_sandbox(&sandbox("p")).await.unwrap());
        }
        assert!(matches!(
            runtime.run_pod_sandbox(&sandbox("full")).await,
            Err(RuntimeError::Failed(_))
        ));
        runtime.remove_pod_sandbox(&live[10]).await.unwrap();
        runtime.run_pod_sandbox(&sandbox("again")).await.unwrap();
        let ips: std::collections::HashSet<_> = runtime
            .list_pod_sandboxes()
            .await
            .unwrap()
            .into_iter()
            .filter_map(|s| s.ip)
            .collect();
        assert_eq!(ips.len(), 254);
        assert!(ips.contains("10.100.9.11"));
    }

    #[tokio::test]
    async fn images_are_always_present() {
        let runtime = HollowRuntime::default();
        let image = runtime.image_status("nosuch:1").await.unwrap().unwrap();
        assert!(image.id.starts_with("sha256:"));
        assert_eq!(runtime.pull_image("nosuch:1").await.unwrap(), image.id);
    }

    #[tokio::test]
    async fn unknown_ids_are_not_found() {
        let runtime = HollowRuntime::default();
        assert!(matches!(
            runtime.start_container("nope").await,
            Err(RuntimeError::NotFound(_))
        ));
        assert!(matches!(
            runtime
                .create_container("nope", &container("c"), &sandbox("x"))
                .await,
            Err(RuntimeError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn hundreds_of_runtimes_coexist() {
        let runtimes: Vec<_> = (0..500)
            .map(|n| HollowRuntime::new(format!("10.{}.{}", 100 + n / 256, n % 256)))
            .collect();
        for runtime in &runtimes {
            runtime.run_pod_sandbox(&sandbox("p")).await.unwrap();
        }
        let mut ips = std::collections::HashSet::new();
        for runtime in &runtimes {
            for s in runtime.list_pod_sandboxes().await.unwrap() {
                assert!(ips.insert(s.ip.unwrap()));
            }
        }
        assert_eq!(ips.len(), 500);
    }
}

//! One pod brought to its spec, level-triggered: every sync reads what the
//! runtime has and does the next step (the kubelet's `SyncPod`): a sandbox,
//! then the init containers one at a time in order, then the containers;
//! restarts as the restart policy says, held back by CrashLoopBackOff; a
//! container whose liveness failed or whose spec changed is killed and
//! started again. Then the pod's status is written when it changed.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Container, Pod, PodStatus};
use serde_json::json;
use tokio::time::Instant;

use super::backoff::{go_duration, Backoff};
use super::labels::{self, CONTAINER_HASH, CONTAINER_NAME, POD_UID};
use super::shared::Shared;
use super::status::{self, ContainerView, Observed};
use crate::runtime::{self, ContainerState, SandboxConfig, SandboxState};

/// The per-pod state a worker keeps between syncs.
pub struct PodWorker {
    pub(super) shared: Arc<Shared>,
    pub(super) restarts: Backoff,
    pub(super) pulls: Backoff,
    pub(super) pull_failed_at: HashMap<String, Instant>,
    /// Containers whose liveness or startup probe failed, by runtime id.
    pub(super) unhealthy: HashSet<String>,
    /// Why a container is held back, from the last attempt to start it.
    pub(super) held: HashMap<String, (String, String)>,
    last_status: Option<PodStatus>,
    /// The pod reached Succeeded or Failed: nothing of it runs again.
    finished: bool,
    /// Its sandbox was stopped after it ended.
    released: bool,
}

/// Which containers of the spec a step works on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Init,
    Regular,
}

/// Nanoseconds since the epoch, now.
fn now_nanos() -> i64 {
    i64::try_from(Timestamp::now().as_nanosecond()).unwrap_or(i64::MAX)
}

/// The monotonic instant of a wall-clock time in nanoseconds (back-off
/// counts from a container's finish, which the runtime reports as wall time).
fn instant_of(nanos: i64, now: Instant) -> Instant {
    let ago = u64::try_from(now_nanos().saturating_sub(nanos)).unwrap_or(0);
    now.checked_sub(Duration::from_nanos(ago)).unwrap_or(now)
}

pub(super) fn pod_name(pod: &Pod) -> String {
    format!(
        "{}_{}({})",
        pod.metadata.name.as_deref().unwrap_or_default(),
        pod.metadata.namespace.as_deref().unwrap_or_default(),
        pod.metadata.uid.as_deref().unwrap_or_default()
    )
}

/// The runtime's containers of one spec name, newest attempt first.
fn by_name(all: &[runtime::ContainerStatus]) -> HashMap<String, Vec<runtime::ContainerStatus>> {
    let mut map: HashMap<String, Vec<runtime::ContainerStatus>> = HashMap::new();
    for c in all {
        if let Some(name) = c.labels.get(CONTAINER_NAME) {
            map.entry(name.clone()).or_default().push(c.clone());
        }
    }
    for list in map.values_mut() {
        list.sort_by(|a, b| {
            b.attempt
                .cmp(&a.attempt)
                .then(b.created_at.cmp(&a.created_at))
        });
    }
    map
}

impl PodWorker {
    /// A worker with no history.
    pub fn new(shared: Arc<Shared>) -> Self {
        PodWorker {
            shared,
            restarts: Backoff::default(),
            pulls: Backoff::default(),
            pull_failed_at: HashMap::new(),
            unhealthy: HashSet::new(),
            held: HashMap::new(),
            last_status: None,
            finished: false,
            released: false,
        }
    }

    /// The runtime's sandboxes of `uid`, newest attempt first.
    pub(super) async fn sandboxes(
        &self,
        uid: &str,
    ) -> runtime::Result<Vec<runtime::SandboxStatus>> {
        let mut mine: Vec<runtime::SandboxStatus> = self
            .shared
            .runtime
            .list_pod_sandboxes()
            .await?
            .into_iter()
            .filter(|s| s.uid == uid || s.labels.get(POD_UID).map(String::as_str) == Some(uid))
            .collect();
        mine.sort_by(|a, b| {
            b.attempt
                .cmp(&a.attempt)
                .then(b.created_at.cmp(&a.created_at))
        });
        Ok(mine)
    }

    /// Brings `pod` one step closer to its spec and writes its status.
    pub async fn sync(&mut self, pod: &Pod) {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        // A pod that ended never runs again, whatever a stale copy of the
        // object says: the worker remembers it ended, as the kubelet's pod
        // workers do, and the status it wrote stands.
        let ended_in_api = matches!(
            pod.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        );
        if self.finished || ended_in_api {
            self.finished = true;
            self.release(&uid).await;
            return;
        }
        let mut observed = Observed {
            host_ip: Some(self.shared.node_ip.clone()),
            ..Observed::default()
        };
        let spec = pod.spec.clone().unwrap_or_default();
        let init_specs = spec.init_containers.clone().unwrap_or_default();
        match self.ensure_sandbox(pod, &uid).await {
            Ok((sandbox, config)) => {
                observed.sandbox_ready = true;
                // Keeps ConfigMap and Secret volumes current while the pod runs.
                let has_volumes = spec.volumes.as_ref().is_some_and(|v| !v.is_empty());
                if has_volumes {
                    if let Err(e) = self.set_up_volumes(pod) {
                        tracing::warn!(pod = %pod_name(pod), error = %e, "volumes");
                    }
                }
                observed.pod_ip = sandbox.ip.clone();
                match self.shared.runtime.list_containers(Some(&sandbox.id)).await {
                    Ok(all) => {
                        let named = by_name(&all);
                        let (init, initialized) = self
                            .step(pod, &sandbox, &config, Kind::Init, &init_specs, &named)
                            .await;
                        observed.init = init;
                        if initialized {
                            let (containers, _) = self
                                .step(
                                    pod,
                                    &sandbox,
                                    &config,
                                    Kind::Regular,
                                    &spec.containers,
                                    &named,
                                )
                                .await;
                            observed.containers = containers;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(pod = %pod_name(pod), error = %e, "listing containers failed")
                    }
                }
            }
            Err(e) => {
                tracing::warn!(pod = %pod_name(pod), error = %e, "sandbox failed");
                self.shared.recorder.warning(
                    pod,
                    "FailedCreatePodSandBox",
                    &format!("Failed to create pod sandbox: {e}"),
                );
            }
        }
        let status = status::build(pod, &observed, Timestamp::now());
        self.write_status(pod, status).await;
        // A pod that ended keeps its record but frees its sandbox and IP,
        // once its final status is written.
        let written_ended = self
            .last_status
            .as_ref()
            .and_then(|s| s.phase.as_deref())
            .is_some_and(|p| p == "Succeeded" || p == "Failed");
        if written_ended {
            self.finished = true;
            self.release(&uid).await;
        }
    }

    /// Stops the sandbox of a pod that ended (its containers stay, for
    /// their logs and statuses) and its probes; once.
    async fn release(&mut self, uid: &str) {
        if self.released {
            return;
        }
        if let Ok(sandboxes) = self.sandboxes(uid).await {
            for s in sandboxes.iter().filter(|s| s.state == SandboxState::Ready) {
                let _ = self.shared.runtime.stop_pod_sandbox(&s.id).await;
            }
        }
        self.shared.probes.remove_pod(uid);
        self.released = true;
    }

    /// The pod's ready sandbox, made when missing.
    async fn ensure_sandbox(
        &mut self,
        pod: &Pod,
        uid: &str,
    ) -> runtime::Result<(runtime::SandboxStatus, SandboxConfig)> {
        let sandboxes = self.sandboxes(uid).await?;
        let config = self.sandbox_config(pod, 0);
        if let Some(ready) = sandboxes.iter().find(|s| s.state == SandboxState::Ready) {
            let config = SandboxConfig {
                attempt: ready.attempt,
                ..config
            };
            return Ok((ready.clone(), config));
        }
        // A sandbox that died takes its containers with it: every container
        // starts again in the new one (the kubelet's "SandboxChanged").
        let attempt = sandboxes.first().map_or(0, |s| s.attempt + 1);
        for old in &sandboxes {
            let _ = self.shared.runtime.stop_pod_sandbox(&old.id).await;
            let _ = self.shared.runtime.remove_pod_sandbox(&old.id).await;
        }
        if !sandboxes.is_empty() {
            self.shared.recorder.normal(
                pod,
                "SandboxChanged",
                "Pod sandbox changed, it will be killed and re-created.",
            );
        }
        let config = SandboxConfig { attempt, ..config };
        if let Err(e) = tokio::fs::create_dir_all(&config.log_directory).await {
            return Err(runtime::RuntimeError::Failed(format!(
                "creating {}: {e}",
                config.log_directory.display()
            )));
        }
        let id = self.shared.runtime.run_pod_sandbox(&config).await?;
        let made = self
            .sandboxes(uid)
            .await?
            .into_iter()
            .find(|s| s.id == id)
            .ok_or_else(|| runtime::RuntimeError::NotFound(format!("sandbox {id}")))?;
        Ok((made, config))
    }

    /// Walks the containers of one kind: starts what is missing, restarts
    /// what the policy restarts, kills what failed its liveness probe.
    /// Returns their views and, for init containers, whether all succeeded.
    #[allow(clippy::too_many_arguments)]
    async fn step(
        &mut self,
        pod: &Pod,
        sandbox: &runtime::SandboxStatus,
        config: &SandboxConfig,
        kind: Kind,
        specs: &[Container],
        named: &HashMap<String, Vec<runtime::ContainerStatus>>,
    ) -> (Vec<ContainerView>, bool) {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let policy = pod
            .spec
            .as_ref()
            .and_then(|s| s.restart_policy.clone())
            .unwrap_or_else(|| "Always".into());
        let grace = pod
            .spec
            .as_ref()
            .and_then(|s| s.termination_grace_period_seconds)
            .unwrap_or(30);
        let mut views = Vec::with_capacity(specs.len());
        let mut all_done = true;
        let mut blocked = false;
        for spec in specs {
            let mine = named.get(&spec.name).cloned().unwrap_or_default();
            let mut view = ContainerView {
                current: mine.first().cloned(),
                previous: mine.get(1).cloned(),
                restart_count: mine.first().map_or(0, |c| c.attempt as i32),
                ready: false,
                started: false,
                ..ContainerView::default()
            };
            // Older attempts than the previous one are of no more use.
            for old in mine.iter().skip(2) {
                let _ = self.shared.runtime.remove_container(&old.id).await;
            }
            if blocked {
                all_done = false;
                views.push(view);
                continue;
            }
            let now = Instant::now();
            let mut start_attempt: Option<u32> = None;
            match view.current.clone() {
                None => start_attempt = Some(0),
                Some(c) if c.state == ContainerState::Running => {
                    let changed =
                        c.annotations.get(CONTAINER_HASH) != Some(&labels::container_hash(spec));
                    let unhealthy = self.unhealthy.remove(&c.id);
                    if changed || unhealthy {
                        let why = if changed {
                            format!(
                                "Container {} definition changed, will be restarted",
                                spec.name
                            )
                        } else {
                            format!(
                                "Container {} failed liveness probe, will be restarted",
                                spec.name
                            )
                        };
                        self.shared.recorder.normal(pod, "Killing", &why);
                        self.shared.probes.remove(&uid, &spec.name);
                        let timeout = Duration::from_secs(u64::try_from(grace).unwrap_or(30));
                        let _ = self.shared.runtime.stop_container(&c.id, timeout).await;
                        // Read back its end so the restart policy sees the exit.
                        if let Ok(ended) = self.shared.runtime.container_status(&c.id).await {
                            view.current = Some(ended);
                        }
                        if changed {
                            start_attempt = Some(c.attempt + 1);
                        }
                    } else {
                        if kind == Kind::Regular {
                            self.shared.probes.add(
                                pod,
                                spec,
                                &c.id,
                                sandbox.ip.as_deref().unwrap_or_default(),
                            );
                            view.ready = self.shared.probes.ready(&uid, &spec.name);
                            view.started = self.shared.probes.started(&uid, &spec.name);
                        }
                        all_done = false;
                        if kind == Kind::Init {
                            blocked = true;
                        }
                    }
                }
                Some(c) if c.state == ContainerState::Created => {
                    // Made but never started (the agent stopped in between).
                    let _ = self.shared.runtime.remove_container(&c.id).await;
                    start_attempt = Some(c.attempt);
                    view.current = view.previous.take();
                }
                Some(_) => {}
            }
            if start_attempt.is_none() {
                if let Some(c) = view
                    .current
                    .clone()
                    .filter(|c| c.state != ContainerState::Running)
                {
                    // Ended: restart as the policy says.
                    let succeeded = c.exit_code == 0;
                    let restart = match (kind, policy.as_str()) {
                        (Kind::Init, "Never") => false,
                        (Kind::Init, _) => !succeeded,
                        (Kind::Regular, "Never") => false,
                        (Kind::Regular, "OnFailure") => !succeeded,
                        (Kind::Regular, _) => true,
                    };
                    if kind == Kind::Init && !succeeded {
                        all_done = false;
                        blocked = true;
                    }
                    if restart {
                        let key = spec.name.clone();
                        let since = instant_of(c.finished_at, now);
                        if self.restarts.remaining(&key, since, now).is_some() {
                            let message = format!(
                                "back-off {} restarting failed container={} pod={}",
                                go_duration(self.restarts.delay(&key)),
                                spec.name,
                                pod_name(pod)
                            );
                            self.shared.recorder.warning(
                                pod,
                                "BackOff",
                                &format!(
                                    "Back-off restarting failed container {} in pod {}",
                                    spec.name,
                                    pod_name(pod)
                                ),
                            );
                            view.waiting = Some(("CrashLoopBackOff".into(), message));
                            all_done = false;
                            blocked |= kind == Kind::Init;
                        } else {
                            self.restarts.next(&key, now);
                            start_attempt = Some(c.attempt + 1);
                        }
                    }
                }
            }
            if let Some(attempt) = start_attempt {
                all_done = false;
                blocked |= kind == Kind::Init;
                match self
                    .start_container(pod, &sandbox.id, config, spec, attempt)
                    .await
                {
                    Ok(()) => {
                        self.held.remove(&spec.name);
                        // Show it as the runtime now has it.
                        if let Ok(list) =
                            self.shared.runtime.list_containers(Some(&sandbox.id)).await
                        {
                            let fresh = by_name(&list).remove(&spec.name).unwrap_or_default();
                            view.current = fresh.first().cloned();
                            view.previous = fresh.get(1).cloned();
                            view.restart_count = attempt as i32;
                        }
                    }
                    Err((reason, message)) => {
                        self.held
                            .insert(spec.name.clone(), (reason.clone(), message.clone()));
                        view.waiting = Some((reason, message));
                    }
                }
            }
            views.push(view);
        }
        (views, all_done)
    }

    /// Writes `status` when it differs from what was last written.
    async fn write_status(&mut self, pod: &Pod, status: PodStatus) {
        if self.last_status.as_ref() == Some(&status) || pod.status.as_ref() == Some(&status) {
            self.last_status = Some(status);
            return;
        }
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let pods: berth_client::Api<Pod> =
            berth_client::Api::namespaced(self.shared.client.clone(), &ns);
        // A merge patch replaces the lists (containerStatuses, conditions)
        // whole, which is what a status from scratch needs.
        let patch = berth_client::Patch::Merge(json!({ "status": status }));
        match pods.patch_status(&ns, &name, &patch).await {
            Ok(_) => self.last_status = Some(status),
            Err(e) if e.is_not_found() => {}
            Err(e) => tracing::warn!(pod = %pod_name(pod), error = %e, "writing pod status failed"),
        }
    }
}

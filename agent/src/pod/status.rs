//! A pod's status from what the runtime shows: each container's state,
//! last state, restart count and readiness; the phase; the conditions; the
//! QoS class. Pure, so every rule is tested on plain data.
//!
//! The rules are the kubelet's (`generateAPIPodStatus`, `getPhase`):
//! a container waiting to restart (CrashLoopBackOff) counts as stopped, not
//! waiting, so a crash-looping pod stays Running; conditions keep their
//! lastTransitionTime while their status does not change.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated,
    ContainerStateWaiting, ContainerStatus, HostIP, Pod, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::runtime::{self, ContainerState as RuntimeState};

/// The runtime prefix of `containerID` (`containerd://<id>`).
pub const CONTAINER_ID_SCHEME: &str = "containerd";

/// What the agent knows of one container of the spec.
#[derive(Debug, Clone, Default)]
pub struct ContainerView {
    /// The newest runtime container of this name.
    pub current: Option<runtime::ContainerStatus>,
    /// The one before it (for `lastState`).
    pub previous: Option<runtime::ContainerStatus>,
    /// Why it is not running, when the agent holds it back
    /// (`ContainerCreating`, `CrashLoopBackOff`, `ErrImagePull`, ...), and
    /// the message.
    pub waiting: Option<(String, String)>,
    /// Restarts so far.
    pub restart_count: i32,
    /// The readiness probe's verdict (true without a probe).
    pub ready: bool,
    /// The startup probe's verdict (true without a probe).
    pub started: bool,
}

/// Everything [`build`] reads besides the pod.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// The sandbox's IP, once its network is up.
    pub pod_ip: Option<String>,
    /// The node's IP.
    pub host_ip: Option<String>,
    /// Whether a sandbox is ready.
    pub sandbox_ready: bool,
    /// Init containers, in spec order.
    pub init: Vec<ContainerView>,
    /// Containers, in spec order.
    pub containers: Vec<ContainerView>,
}

fn nanos_to_time(nanos: i64) -> Option<Time> {
    if nanos <= 0 {
        return None;
    }
    Timestamp::from_nanosecond(i128::from(nanos)).ok().map(Time)
}

fn terminated(c: &runtime::ContainerStatus) -> ContainerStateTerminated {
    // The kubelet's words for an exit without a runtime reason.
    let reason = if !c.reason.is_empty() {
        c.reason.clone()
    } else if c.exit_code == 0 {
        "Completed".to_string()
    } else {
        "Error".to_string()
    };
    ContainerStateTerminated {
        exit_code: c.exit_code,
        reason: Some(reason),
        message: (!c.message.is_empty()).then(|| c.message.clone()),
        started_at: nanos_to_time(c.started_at),
        finished_at: nanos_to_time(c.finished_at),
        container_id: Some(format!("{CONTAINER_ID_SCHEME}://{}", c.id)),
        signal: None,
    }
}

fn waiting(reason: &str, message: &str) -> ContainerState {
    ContainerState {
        waiting: Some(ContainerStateWaiting {
            reason: Some(reason.to_string()),
            message: (!message.is_empty()).then(|| message.to_string()),
        }),
        ..ContainerState::default()
    }
}

/// One container's status.
pub fn container_status(spec: &Container, view: &ContainerView) -> ContainerStatus {
    let image = spec.image.clone().unwrap_or_default();
    let mut status = ContainerStatus {
        name: spec.name.clone(),
        image: image.clone(),
        image_id: String::new(),
        restart_count: view.restart_count,
        ready: false,
        started: Some(false),
        ..ContainerStatus::default()
    };
    let last_of = |c: &runtime::ContainerStatus| ContainerState {
        terminated: Some(terminated(c)),
        ..ContainerState::default()
    };
    match (&view.current, &view.waiting) {
        (Some(c), held) if c.state == RuntimeState::Running && held.is_none() => {
            status.container_id = Some(format!("{CONTAINER_ID_SCHEME}://{}", c.id));
            status.image_id = c.image_ref.clone();
            status.state = Some(ContainerState {
                running: Some(ContainerStateRunning {
                    started_at: nanos_to_time(c.started_at),
                }),
                ..ContainerState::default()
            });
            status.last_state = view.previous.as_ref().map(last_of);
            status.started = Some(view.started);
            status.ready = view.started && view.ready;
        }
        (Some(c), None) if c.state == RuntimeState::Exited => {
            status.container_id = Some(format!("{CONTAINER_ID_SCHEME}://{}", c.id));
            status.image_id = c.image_ref.clone();
            status.state = Some(last_of(c));
            status.last_state = view.previous.as_ref().map(last_of);
        }
        (current, Some((reason, message))) => {
            status.state = Some(waiting(reason, message));
            // A container held back after running once shows its last run.
            status.last_state = current
                .as_ref()
                .filter(|c| c.state == RuntimeState::Exited)
                .or(view.previous.as_ref())
                .map(last_of);
        }
        (_, None) => {
            status.state = Some(waiting("ContainerCreating", ""));
            status.last_state = view.previous.as_ref().map(last_of);
        }
    }
    if status.last_state.is_none() {
        status.last_state = Some(ContainerState::default());
    }
    status
}

fn is_running(s: &ContainerStatus) -> bool {
    s.state.as_ref().is_some_and(|st| st.running.is_some())
}

fn terminated_state(s: &ContainerStatus) -> Option<&ContainerStateTerminated> {
    s.state.as_ref().and_then(|st| st.terminated.as_ref())
}

fn restarting(s: &ContainerStatus) -> bool {
    s.state.as_ref().is_some_and(|st| st.waiting.is_some())
        && s.last_state
            .as_ref()
            .is_some_and(|st| st.terminated.is_some())
}

/// Whether every init container completed successfully.
pub fn initialized(init: &[ContainerStatus]) -> bool {
    init.iter()
        .all(|s| terminated_state(s).is_some_and(|t| t.exit_code == 0))
}

/// The pod phase, by the kubelet's `getPhase`.
pub fn phase(
    restart_policy: &str,
    init: &[ContainerStatus],
    containers: &[ContainerStatus],
) -> String {
    let never = restart_policy == "Never";
    // An init container that failed for good fails the pod.
    if init
        .iter()
        .any(|s| terminated_state(s).is_some_and(|t| t.exit_code != 0))
        && never
    {
        return "Failed".into();
    }
    if !initialized(init) {
        return "Pending".into();
    }
    let (mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0);
    for s in containers {
        if is_running(s) {
            running += 1;
        } else if let Some(t) = terminated_state(s) {
            stopped += 1;
            if t.exit_code == 0 {
                succeeded += 1;
            }
        } else if restarting(s) {
            stopped += 1;
        } else {
            waiting += 1;
        }
    }
    if waiting > 0 {
        return "Pending".into();
    }
    if running > 0 {
        return "Running".into();
    }
    if stopped > 0 {
        if restart_policy == "Always" || restart_policy.is_empty() {
            return "Running".into();
        }
        if stopped == succeeded {
            return "Succeeded".into();
        }
        if never {
            return "Failed".into();
        }
        return "Running".into();
    }
    "Pending".into()
}

fn condition(
    old: &[PodCondition],
    type_: &str,
    ok: bool,
    reason: Option<String>,
    message: Option<String>,
    now: &Time,
) -> PodCondition {
    let status = if ok { "True" } else { "False" }.to_string();
    // The transition time moves only when the status does.
    let since = old
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .and_then(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| now.clone());
    PodCondition {
        type_: type_.to_string(),
        status,
        reason: if ok { None } else { reason },
        message: if ok { None } else { message },
        last_transition_time: Some(since),
        last_probe_time: None,
        observed_generation: None,
    }
}

fn names_where(statuses: &[ContainerStatus], pick: impl Fn(&ContainerStatus) -> bool) -> String {
    let names: Vec<&str> = statuses
        .iter()
        .filter(|s| pick(s))
        .map(|s| s.name.as_str())
        .collect();
    format!("[{}]", names.join(" "))
}

/// The pod's status as the kubelet would write it now.
pub fn build(pod: &Pod, observed: &Observed, now: Timestamp) -> PodStatus {
    let now_time = Time(now);
    let old = pod.status.clone().unwrap_or_default();
    let spec = pod.spec.clone().unwrap_or_default();
    let init_specs = spec.init_containers.clone().unwrap_or_default();
    let init: Vec<ContainerStatus> = init_specs
        .iter()
        .zip(
            observed
                .init
                .iter()
                .chain(std::iter::repeat(&ContainerView::default())),
        )
        .map(|(c, v)| container_status(c, v))
        .collect();
    let containers: Vec<ContainerStatus> = spec
        .containers
        .iter()
        .zip(
            observed
                .containers
                .iter()
                .chain(std::iter::repeat(&ContainerView::default())),
        )
        .map(|(c, v)| container_status(c, v))
        .collect();
    let restart_policy = spec
        .restart_policy
        .clone()
        .unwrap_or_else(|| "Always".into());
    let phase = phase(&restart_policy, &init, &containers);
    let old_conditions = old.conditions.clone().unwrap_or_default();
    let is_initialized = initialized(&init);
    let all_ready = is_initialized && containers.iter().all(|s| s.ready);
    let unready = names_where(&containers, |s| !s.ready);
    let mut conditions = vec![
        condition(
            &old_conditions,
            "PodReadyToStartContainers",
            observed.sandbox_ready,
            None,
            None,
            &now_time,
        ),
        condition(
            &old_conditions,
            "Initialized",
            is_initialized,
            Some("ContainersNotInitialized".into()),
            Some(format!(
                "containers with incomplete status: {}",
                names_where(&init, |s| terminated_state(s)
                    .is_none_or(|t| t.exit_code != 0))
            )),
            &now_time,
        ),
        condition(
            &old_conditions,
            "Ready",
            all_ready,
            Some("ContainersNotReady".into()),
            Some(format!("containers with unready status: {unready}")),
            &now_time,
        ),
        condition(
            &old_conditions,
            "ContainersReady",
            all_ready,
            Some("ContainersNotReady".into()),
            Some(format!("containers with unready status: {unready}")),
            &now_time,
        ),
    ];
    // Conditions other writers own (PodScheduled, DisruptionTarget, ...)
    // are kept as they are.
    let ours = [
        "PodReadyToStartContainers",
        "Initialized",
        "Ready",
        "ContainersReady",
    ];
    for c in old_conditions {
        if !ours.contains(&c.type_.as_str()) {
            conditions.push(c);
        }
    }
    let pod_ip = observed.pod_ip.clone().or(old.pod_ip.clone());
    let host_ip = observed.host_ip.clone().or(old.host_ip.clone());
    PodStatus {
        phase: Some(phase),
        conditions: Some(conditions),
        host_ip: host_ip.clone(),
        host_ips: host_ip.map(|ip| vec![HostIP { ip }]),
        pod_ip: pod_ip.clone(),
        pod_ips: pod_ip.map(|ip| vec![PodIP { ip }]),
        start_time: old.start_time.or(Some(now_time)),
        init_container_statuses: (!init.is_empty()).then_some(init),
        container_statuses: Some(containers),
        qos_class: Some(qos_class(&spec.containers, &init_specs).to_string()),
        ..old
    }
}

/// The QoS class (`Guaranteed`, `Burstable`, `BestEffort`) by Kubernetes'
/// rules: Guaranteed when every container limits cpu and memory and requests
/// equal limits (a missing request defaults to the limit); BestEffort when
/// nothing requests or limits anything.
pub fn qos_class(containers: &[Container], init: &[Container]) -> &'static str {
    let all: Vec<&Container> = containers.iter().chain(init.iter()).collect();
    let mut any = false;
    let mut guaranteed = true;
    for c in &all {
        let resources = c.resources.clone().unwrap_or_default();
        let requests: BTreeMap<String, Quantity> = resources.requests.unwrap_or_default();
        let limits: BTreeMap<String, Quantity> = resources.limits.unwrap_or_default();
        let nonzero = |q: &Quantity| !q.0.trim().is_empty() && q.0.trim() != "0";
        if requests.values().any(nonzero) || limits.values().any(nonzero) {
            any = true;
        }
        for resource in ["cpu", "memory"] {
            match limits.get(resource) {
                None => guaranteed = false,
                Some(limit) => {
                    if let Some(request) = requests.get(resource) {
                        if request.0.trim() != limit.0.trim() {
                            guaranteed = false;
                        }
                    }
                }
            }
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

//! The node's conditions as the kubelet reports them: Ready, and the three
//! pressures against the kubelet's default hard eviction thresholds
//! (memory.available < 100Mi, nodefs.available < 10%, pid.available < 10%
//! of pid_max is not tracked: PIDPressure stays False), with Kubernetes'
//! reasons and messages. Transition times move only when a status changes.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::NodeCondition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// memory.available below which MemoryPressure is True (the kubelet's
/// default `evictionHard`).
pub const MEMORY_AVAILABLE_THRESHOLD: u64 = 100 * 1024 * 1024;
/// nodefs.available fraction below which DiskPressure is True.
pub const NODEFS_AVAILABLE_PERCENT: u64 = 10;

/// What the conditions are computed from.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pressure {
    /// Memory available, bytes (None: unknown).
    pub memory_available: Option<u64>,
    /// Disk available and total of the node's filesystem, bytes.
    pub disk: Option<(u64, u64)>,
    /// Whether the container runtime answers.
    pub runtime_ready: bool,
}

fn condition(
    old: &[NodeCondition],
    type_: &str,
    on: bool,
    reason: &str,
    message: &str,
    now: &Time,
) -> NodeCondition {
    let status = if on { "True" } else { "False" }.to_string();
    let since = old
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .and_then(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| now.clone());
    NodeCondition {
        type_: type_.into(),
        status,
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_heartbeat_time: Some(now.clone()),
        last_transition_time: Some(since),
    }
}

/// The four conditions, in the kubelet's order.
pub fn conditions(
    old: &[NodeCondition],
    pressure: &Pressure,
    now: Timestamp,
) -> Vec<NodeCondition> {
    let now = Time(now);
    let memory = pressure
        .memory_available
        .is_some_and(|a| a < MEMORY_AVAILABLE_THRESHOLD);
    let disk = pressure
        .disk
        .is_some_and(|(avail, total)| total > 0 && avail * 100 < total * NODEFS_AVAILABLE_PERCENT);
    vec![
        if memory {
            condition(
                old,
                "MemoryPressure",
                true,
                "KubeletHasInsufficientMemory",
                "kubelet has insufficient memory available",
                &now,
            )
        } else {
            condition(
                old,
                "MemoryPressure",
                false,
                "KubeletHasSufficientMemory",
                "kubelet has sufficient memory available",
                &now,
            )
        },
        if disk {
            condition(
                old,
                "DiskPressure",
                true,
                "KubeletHasDiskPressure",
                "kubelet has disk pressure",
                &now,
            )
        } else {
            condition(
                old,
                "DiskPressure",
                false,
                "KubeletHasNoDiskPressure",
                "kubelet has no disk pressure",
                &now,
            )
        },
        condition(
            old,
            "PIDPressure",
            false,
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available",
            &now,
        ),
        if pressure.runtime_ready {
            condition(
                old,
                "Ready",
                true,
                "KubeletReady",
                "kubelet is posting ready status",
                &now,
            )
        } else {
            condition(
                old,
                "Ready",
                false,
                "KubeletNotReady",
                "container runtime is down",
                &now,
            )
        },
    ]
}

/// Whether two condition lists differ in anything but heartbeat times.
pub fn changed(a: &[NodeCondition], b: &[NodeCondition]) -> bool {
    let key = |c: &NodeCondition| {
        (
            c.type_.clone(),
            c.status.clone(),
            c.reason.clone(),
            c.last_transition_time.clone(),
        )
    };
    a.len() != b.len() || a.iter().zip(b).any(|(x, y)| key(x) != key(y))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_of<'a>(conditions: &'a [NodeCondition], type_: &str) -> &'a str {
        conditions
            .iter()
            .find(|c| c.type_ == type_)
            .map_or("", |c| c.status.as_str())
    }

    #[test]
    fn healthy_node_is_ready_without_pressure() {
        let p = Pressure {
            memory_available: Some(1 << 30),
            disk: Some((50, 100)),
            runtime_ready: true,
        };
        let c = conditions(&[], &p, Timestamp::now());
        assert_eq!(status_of(&c, "Ready"), "True");
        assert_eq!(status_of(&c, "MemoryPressure"), "False");
        assert_eq!(status_of(&c, "DiskPressure"), "False");
        assert_eq!(status_of(&c, "PIDPressure"), "False");
    }

    #[test]
    fn thresholds_turn_pressure_on_and_keep_transition_times() {
        let t0 = Timestamp::now();
        let p = Pressure {
            memory_available: Some(50 << 20),
            disk: Some((5, 100)),
            runtime_ready: false,
        };
        let first = conditions(&[], &p, t0);
        assert_eq!(status_of(&first, "MemoryPressure"), "True");
        assert_eq!(status_of(&first, "DiskPressure"), "True");
        assert_eq!(status_of(&first, "Ready"), "False");
        let later = t0 + jiff::SignedDuration::from_secs(10);
        let second = conditions(&first, &p, later);
        assert!(!changed(&first, &second));
        assert_eq!(
            second[0].last_transition_time,
            first[0].last_transition_time
        );
        assert_ne!(second[0].last_heartbeat_time, first[0].last_heartbeat_time);
    }
}

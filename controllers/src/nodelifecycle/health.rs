//! Node health as the node lifecycle controller judges it: a node is healthy
//! while this controller keeps seeing its kubelet's heartbeats change (the
//! Ready condition's `lastHeartbeatTime`, or its Lease's `renewTime` in
//! `kube-node-lease`). Staleness is measured from when *this controller*
//! last saw a heartbeat change, on its own clock, never by comparing the
//! kubelet's timestamps with ours (Kubernetes' `nodeHealthData`), so clock
//! skew between machines cannot make a node look dead or alive.

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// Namespace holding one Lease per node, renewed by its kubelet.
pub const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";

/// Kubernetes' default `--node-monitor-grace-period`: heartbeats older than
/// this (by our observation) make the node's conditions Unknown.
pub const NODE_MONITOR_GRACE_PERIOD: SignedDuration = SignedDuration::from_secs(40);

/// Kubernetes' default `--node-startup-grace-period`: the allowance for a node
/// that has never posted a Ready condition.
pub const NODE_STARTUP_GRACE_PERIOD: SignedDuration = SignedDuration::from_secs(60);

/// Kubernetes' default `--node-monitor-period`: how often the wiring should
/// judge every node, since staleness comes from time passing, not events.
pub const NODE_MONITOR_PERIOD: SignedDuration = SignedDuration::from_secs(5);

/// Reason set on conditions this controller turns Unknown.
pub const REASON_NODE_STATUS_UNKNOWN: &str = "NodeStatusUnknown";
/// Message set with [`REASON_NODE_STATUS_UNKNOWN`].
pub const MESSAGE_NODE_STATUS_UNKNOWN: &str = "Kubelet stopped posting node status.";
/// Reason of conditions the kubelet never posted at all.
pub const REASON_NODE_STATUS_NEVER_UPDATED: &str = "NodeStatusNeverUpdated";
/// Message set with [`REASON_NODE_STATUS_NEVER_UPDATED`].
pub const MESSAGE_NODE_STATUS_NEVER_UPDATED: &str = "Kubelet never posted node status.";

/// The conditions a silent kubelet can no longer vouch for. NetworkUnavailable
/// is left alone: the network provider, not the kubelet, owns it.
const KUBELET_CONDITIONS: [&str; 4] = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

/// The grace periods; defaults are Kubernetes'.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HealthConfig {
    /// See [`NODE_MONITOR_GRACE_PERIOD`].
    pub node_monitor_grace_period: SignedDuration,
    /// See [`NODE_STARTUP_GRACE_PERIOD`].
    pub node_startup_grace_period: SignedDuration,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            node_monitor_grace_period: NODE_MONITOR_GRACE_PERIOD,
            node_startup_grace_period: NODE_STARTUP_GRACE_PERIOD,
        }
    }
}

/// What this controller remembers about one node between passes
/// (Kubernetes' `nodeHealthData`). The wiring keeps one per node name, passes
/// it back on the next pass, and drops it when the node is deleted.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeHealth {
    /// When this controller last saw a heartbeat or lease renewal.
    pub probe_timestamp: Timestamp,
    /// When this controller last saw the Ready condition change state.
    pub ready_transition_timestamp: Timestamp,
    /// Since when the node has carried NoExecute taints, by our observation;
    /// the start of toleration periods for taints without `timeAdded`.
    pub no_execute_since: Option<Timestamp>,
    /// The Ready condition as last seen, to detect heartbeats.
    saved_ready: Option<NodeCondition>,
    /// The Lease's renewTime as last seen (`Some(None)`: seen, never renewed).
    saved_lease: Option<Option<Timestamp>>,
}

impl NodeHealth {
    fn fresh(at: Timestamp) -> Self {
        NodeHealth {
            probe_timestamp: at,
            ready_transition_timestamp: at,
            no_execute_since: None,
            saved_ready: None,
            saved_lease: None,
        }
    }
}

/// The result of judging one node's health.
#[derive(Clone, Debug, PartialEq)]
pub struct HealthObservation {
    /// State to keep for the next pass.
    pub health: NodeHealth,
    /// The node's conditions after this controller's judgement.
    pub conditions: Vec<NodeCondition>,
    /// Whether `conditions` differ from what the node carries and must be
    /// written to its status.
    pub status_changed: bool,
    /// The Ready condition the kubelet reported (synthetic Unknown when it
    /// never posted one).
    pub observed_ready: NodeCondition,
    /// When the node turns stale if no heartbeat arrives, if it has not yet.
    pub stale_at: Option<Timestamp>,
}

fn ready_condition(conditions: &[NodeCondition]) -> Option<&NodeCondition> {
    conditions.iter().find(|c| c.type_ == "Ready")
}

fn lease_renew_time(lease: &Lease) -> Option<Timestamp> {
    lease.spec.as_ref()?.renew_time.as_ref().map(|t| t.0)
}

/// Judges one node (Kubernetes' `tryUpdateNodeHealth`).
///
/// `previous` is the state returned by the last pass for this node (`None`
/// the first time), `lease` the node's Lease in [`NODE_LEASE_NAMESPACE`].
/// When neither heartbeat nor lease renewal has been seen change for longer
/// than the grace period, Ready, MemoryPressure, DiskPressure and PIDPressure
/// become Unknown.
pub fn observe_node_health(
    node: &Node,
    lease: Option<&Lease>,
    previous: Option<&NodeHealth>,
    now: Timestamp,
    config: &HealthConfig,
) -> HealthObservation {
    let mut conditions: Vec<NodeCondition> = node
        .status
        .as_ref()
        .and_then(|status| status.conditions.clone())
        .unwrap_or_default();
    let created = node
        .metadata
        .creation_timestamp
        .as_ref()
        .map_or(now, |t| t.0);
    let current_ready = ready_condition(&conditions).cloned();
    let (observed_ready, grace) = match &current_ready {
        Some(ready) => (ready.clone(), config.node_monitor_grace_period),
        // Never posted: judge from the node's creation, with the startup allowance.
        None => (
            NodeCondition {
                type_: "Ready".to_owned(),
                status: "Unknown".to_owned(),
                last_heartbeat_time: Some(Time(created)),
                last_transition_time: Some(Time(created)),
                ..NodeCondition::default()
            },
            config.node_startup_grace_period,
        ),
    };

    let saved_ready = previous.and_then(|health| health.saved_ready.as_ref());
    let mut health = match (previous, saved_ready, &current_ready) {
        (None, _, None) => NodeHealth::fresh(created),
        // First sight of the node, or of its Ready condition, or Ready
        // vanished: start the clock now.
        (None, _, Some(_)) | (Some(_), None, Some(_)) | (Some(_), Some(_), None) => {
            NodeHealth::fresh(now)
        }
        (Some(prev), Some(saved), Some(current))
            if saved.last_heartbeat_time != current.last_heartbeat_time =>
        {
            // A heartbeat. The transition clock restarts only if Ready
            // changed state since we last looked.
            let transitioned = saved.last_transition_time != current.last_transition_time;
            NodeHealth {
                ready_transition_timestamp: if transitioned {
                    now
                } else {
                    prev.ready_transition_timestamp
                },
                ..NodeHealth::fresh(now)
            }
        }
        (Some(prev), _, _) => prev.clone(),
    };
    // Taint bookkeeping belongs to the monitor pass, not to heartbeats.
    health.no_execute_since = previous.and_then(|prev| prev.no_execute_since);
    health.saved_ready = current_ready.clone();

    // Any lease renewal we have not seen before is a heartbeat too; a kubelet
    // that only renews its lease keeps its node healthy.
    if let Some(lease) = lease {
        let renewed = lease_renew_time(lease);
        let is_new = match health.saved_lease {
            None => true,
            Some(saved) => matches!((saved, renewed), (Some(a), Some(b)) if a < b),
        };
        if is_new {
            health.saved_lease = Some(renewed);
            health.probe_timestamp = now;
        }
    }

    let deadline = health.probe_timestamp.checked_add(grace).ok();
    let stale = deadline.is_some_and(|deadline| now > deadline);
    let mut status_changed = false;
    if stale {
        for type_ in KUBELET_CONDITIONS {
            match conditions.iter_mut().find(|c| c.type_ == type_) {
                None => conditions.push(NodeCondition {
                    type_: type_.to_owned(),
                    status: "Unknown".to_owned(),
                    reason: Some(REASON_NODE_STATUS_NEVER_UPDATED.to_owned()),
                    message: Some(MESSAGE_NODE_STATUS_NEVER_UPDATED.to_owned()),
                    last_heartbeat_time: Some(Time(created)),
                    last_transition_time: Some(Time(now)),
                }),
                Some(condition) if condition.status != "Unknown" => {
                    condition.status = "Unknown".to_owned();
                    condition.reason = Some(REASON_NODE_STATUS_UNKNOWN.to_owned());
                    condition.message = Some(MESSAGE_NODE_STATUS_UNKNOWN.to_owned());
                    condition.last_transition_time = Some(Time(now));
                }
                Some(_) => {}
            }
        }
        let judged_ready = ready_condition(&conditions).cloned();
        // Kubernetes writes only when Ready itself changed.
        if judged_ready.as_ref() != Some(&observed_ready) {
            status_changed = true;
            health.ready_transition_timestamp = now;
            health.saved_ready = judged_ready;
            health.saved_lease = lease.map(lease_renew_time);
        }
    }
    if !status_changed {
        // Write nothing that the kubelet did not write.
        conditions = node
            .status
            .as_ref()
            .and_then(|status| status.conditions.clone())
            .unwrap_or_default();
    }
    HealthObservation {
        health,
        conditions,
        status_changed,
        observed_ready,
        stale_at: deadline.filter(|_| !stale),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use k8s_openapi::api::coordination::v1::LeaseSpec;
    use k8s_openapi::api::core::v1::NodeStatus;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};

    pub(crate) fn at(seconds: i64) -> Timestamp {
        Timestamp::UNIX_EPOCH + SignedDuration::from_secs(1_000_000 + seconds)
    }

    /// A node created at 0 whose kubelet reported Ready=`status` with a
    /// heartbeat at `heartbeat` (kubelet clock).
    pub(crate) fn node(status: &str, heartbeat: i64) -> Node {
        let condition = |type_: &str, status: &str| NodeCondition {
            type_: type_.to_owned(),
            status: status.to_owned(),
            last_heartbeat_time: Some(Time(at(heartbeat))),
            last_transition_time: Some(Time(at(0))),
            ..NodeCondition::default()
        };
        Node {
            metadata: ObjectMeta {
                name: Some("node-a".to_owned()),
                creation_timestamp: Some(Time(at(0))),
                ..ObjectMeta::default()
            },
            spec: None,
            status: Some(NodeStatus {
                conditions: Some(vec![
                    condition("Ready", status),
                    condition("MemoryPressure", "False"),
                    condition("DiskPressure", "False"),
                    condition("PIDPressure", "False"),
                ]),
                ..NodeStatus::default()
            }),
        }
    }

    pub(crate) fn lease(renewed: i64) -> Lease {
        Lease {
            metadata: ObjectMeta::default(),
            spec: Some(LeaseSpec {
                renew_time: Some(MicroTime(at(renewed))),
                ..LeaseSpec::default()
            }),
        }
    }

    fn statuses(observation: &HealthObservation) -> Vec<(String, String)> {
        let conditions = observation.conditions.iter();
        conditions
            .map(|c| (c.type_.clone(), c.status.clone()))
            .collect()
    }

    #[test]
    fn node_goes_unknown_forty_seconds_after_the_last_observed_renewal() {
        let config = HealthConfig::default();
        let n = node("True", 0);
        let first = observe_node_health(&n, Some(&lease(0)), None, at(10), &config);
        assert!(!first.status_changed);
        // The lease stops being renewed. At 50 s (exactly 40 s later) still fine.
        let same = observe_node_health(&n, Some(&lease(0)), Some(&first.health), at(50), &config);
        assert!(!same.status_changed);
        let stale = observe_node_health(&n, Some(&lease(0)), Some(&same.health), at(51), &config);
        assert!(stale.status_changed);
        for (type_, status) in statuses(&stale) {
            assert_eq!(status, "Unknown", "{type_}");
        }
        let ready = ready_condition(&stale.conditions)
            .cloned()
            .unwrap_or_default();
        assert_eq!(ready.reason.as_deref(), Some("NodeStatusUnknown"));
        assert_eq!(
            ready.message.as_deref(),
            Some("Kubelet stopped posting node status.")
        );
    }

    #[test]
    fn staleness_is_measured_on_the_controllers_clock_not_the_kubelets() {
        // The kubelet's clock is an hour behind: its heartbeat looks ancient,
        // but this controller has just seen it change.
        let config = HealthConfig::default();
        let n = node("True", -3600);
        let first = observe_node_health(&n, None, None, at(100), &config);
        let later = observe_node_health(&n, None, Some(&first.health), at(120), &config);
        assert!(!later.status_changed);
        let stale = observe_node_health(&n, None, Some(&later.health), at(141), &config);
        assert!(stale.status_changed);
    }

    #[test]
    fn lease_renewals_keep_the_node_healthy_and_a_renewal_ends_staleness() {
        let config = HealthConfig::default();
        let n = node("True", 0);
        let mut health = observe_node_health(&n, Some(&lease(0)), None, at(0), &config).health;
        for t in (10..=200).step_by(10) {
            let o = observe_node_health(&n, Some(&lease(t)), Some(&health), at(t), &config);
            assert!(!o.status_changed, "renewed at {t}");
            health = o.health;
        }
        let stale = observe_node_health(&n, Some(&lease(200)), Some(&health), at(300), &config);
        assert!(stale.status_changed);
        // The kubelet comes back: it posts Ready=True with a new heartbeat.
        let back = node("True", 310);
        let o = observe_node_health(
            &back,
            Some(&lease(310)),
            Some(&stale.health),
            at(310),
            &config,
        );
        assert!(!o.status_changed);
        assert_eq!(
            ready_condition(&o.conditions).map(|c| c.status.as_str()),
            Some("True")
        );
    }

    #[test]
    fn node_that_never_posted_status_gets_the_startup_grace_period() {
        let config = HealthConfig::default();
        let mut n = node("True", 0);
        n.status = None;
        let early = observe_node_health(&n, None, None, at(60), &config);
        assert!(!early.status_changed);
        let late = observe_node_health(&n, None, Some(&early.health), at(61), &config);
        assert!(late.status_changed);
        let ready = ready_condition(&late.conditions)
            .cloned()
            .unwrap_or_default();
        assert_eq!(ready.reason.as_deref(), Some("NodeStatusNeverUpdated"));
    }
}

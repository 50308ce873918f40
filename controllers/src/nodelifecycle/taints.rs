//! The taints the node lifecycle controller owns on a node, derived from its
//! conditions:
//!
//! - NoExecute (taint-based eviction): Ready=False → `not-ready`,
//!   Ready=Unknown → `unreachable`, each with `timeAdded`; both removed when
//!   Ready is True again. The two are swapped, never both present.
//! - NoSchedule (TaintNodesByCondition): one taint per adverse condition
//!   (not ready, unreachable, memory/disk/PID pressure, network unavailable)
//!   plus `unschedulable` for cordoned nodes, so the scheduler filters on
//!   taints alone.
//!
//! Taints anyone else put on the node are kept as they are.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{NodeCondition, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// Node is not ready (Ready=False).
pub const TAINT_NOT_READY: &str = "node.kubernetes.io/not-ready";
/// Node is unreachable from the controller (Ready=Unknown).
pub const TAINT_UNREACHABLE: &str = "node.kubernetes.io/unreachable";
/// MemoryPressure=True.
pub const TAINT_MEMORY_PRESSURE: &str = "node.kubernetes.io/memory-pressure";
/// DiskPressure=True.
pub const TAINT_DISK_PRESSURE: &str = "node.kubernetes.io/disk-pressure";
/// PIDPressure=True.
pub const TAINT_PID_PRESSURE: &str = "node.kubernetes.io/pid-pressure";
/// NetworkUnavailable=True.
pub const TAINT_NETWORK_UNAVAILABLE: &str = "node.kubernetes.io/network-unavailable";
/// `spec.unschedulable` (cordoned).
pub const TAINT_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";

/// Effect evicting pods that do not tolerate the taint.
pub const NO_EXECUTE: &str = "NoExecute";
/// Effect keeping new pods off the node.
pub const NO_SCHEDULE: &str = "NoSchedule";

/// Condition type and status → the NoSchedule taint key it implies
/// (Kubernetes' `nodeConditionToTaintKeyStatusMap`).
const CONDITION_TAINTS: [(&str, &str, &str); 6] = [
    ("Ready", "False", TAINT_NOT_READY),
    ("Ready", "Unknown", TAINT_UNREACHABLE),
    ("MemoryPressure", "True", TAINT_MEMORY_PRESSURE),
    ("DiskPressure", "True", TAINT_DISK_PRESSURE),
    ("PIDPressure", "True", TAINT_PID_PRESSURE),
    ("NetworkUnavailable", "True", TAINT_NETWORK_UNAVAILABLE),
];

/// Whether this controller owns the NoSchedule taint with this key.
fn is_managed_no_schedule_key(key: &str) -> bool {
    key == TAINT_UNSCHEDULABLE || CONDITION_TAINTS.iter().any(|(_, _, k)| *k == key)
}

/// Whether this controller owns the NoExecute taint with this key.
fn is_managed_no_execute_key(key: &str) -> bool {
    key == TAINT_NOT_READY || key == TAINT_UNREACHABLE
}

/// The NoSchedule taint keys the conditions call for.
pub fn no_schedule_taint_keys(
    conditions: &[NodeCondition],
    unschedulable: bool,
) -> Vec<&'static str> {
    let mut keys: Vec<&'static str> = CONDITION_TAINTS
        .iter()
        .filter(|(type_, status, _)| {
            conditions
                .iter()
                .any(|c| c.type_ == *type_ && c.status == *status)
        })
        .map(|(_, _, key)| *key)
        .collect();
    if unschedulable {
        keys.push(TAINT_UNSCHEDULABLE);
    }
    keys
}

/// The NoExecute taint key the Ready condition calls for: `Some(None)` when
/// Ready is True (no taint), `None` when there is no Ready condition or an
/// unrecognized status (leave the NoExecute taints as they are).
pub fn no_execute_taint_key(ready: Option<&NodeCondition>) -> Option<Option<&'static str>> {
    match ready.map(|c| c.status.as_str()) {
        Some("True") => Some(None),
        Some("False") => Some(Some(TAINT_NOT_READY)),
        Some("Unknown") => Some(Some(TAINT_UNREACHABLE)),
        _ => None,
    }
}

fn has_taint(taints: &[Taint], key: &str, effect: &str) -> bool {
    taints.iter().any(|t| t.key == key && t.effect == effect)
}

/// The node's taints with this controller's taints brought in line with
/// `conditions` and `unschedulable`, or `None` when they already are. New
/// NoExecute taints get `timeAdded = now`, the start of pods' toleration
/// periods; taints already present keep theirs.
pub fn reconcile_taints(
    current: &[Taint],
    conditions: &[NodeCondition],
    unschedulable: bool,
    now: Timestamp,
) -> Option<Vec<Taint>> {
    let no_schedule = no_schedule_taint_keys(conditions, unschedulable);
    let ready = conditions.iter().find(|c| c.type_ == "Ready");
    let no_execute = no_execute_taint_key(ready);

    let mut taints: Vec<Taint> = current
        .iter()
        .filter(|taint| {
            if taint.effect == NO_SCHEDULE && is_managed_no_schedule_key(&taint.key) {
                return no_schedule.contains(&taint.key.as_str());
            }
            if taint.effect == NO_EXECUTE && is_managed_no_execute_key(&taint.key) {
                return match no_execute {
                    Some(wanted) => wanted == Some(taint.key.as_str()),
                    None => true,
                };
            }
            true
        })
        .cloned()
        .collect();
    for key in no_schedule {
        if !has_taint(&taints, key, NO_SCHEDULE) {
            taints.push(Taint {
                key: key.to_owned(),
                effect: NO_SCHEDULE.to_owned(),
                time_added: None,
                value: None,
            });
        }
    }
    if let Some(Some(key)) = no_execute {
        if !has_taint(&taints, key, NO_EXECUTE) {
            taints.push(Taint {
                key: key.to_owned(),
                effect: NO_EXECUTE.to_owned(),
                time_added: Some(Time(now)),
                value: None,
            });
        }
    }
    (taints.as_slice() != current).then_some(taints)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nodelifecycle::health::tests::at;

    fn condition(type_: &str, status: &str) -> NodeCondition {
        NodeCondition {
            type_: type_.to_owned(),
            status: status.to_owned(),
            ..NodeCondition::default()
        }
    }

    fn keys(taints: &[Taint]) -> Vec<(String, String)> {
        taints
            .iter()
            .map(|t| (t.key.clone(), t.effect.clone()))
            .collect()
    }

    fn pair(key: &str, effect: &str) -> (String, String) {
        (key.to_owned(), effect.to_owned())
    }

    #[test]
    fn unknown_ready_adds_both_unreachable_taints() {
        let conditions = [condition("Ready", "Unknown")];
        let Some(taints) = reconcile_taints(&[], &conditions, false, at(5)) else {
            panic!("taints change");
        };
        assert_eq!(
            keys(&taints),
            [
                pair(TAINT_UNREACHABLE, NO_SCHEDULE),
                pair(TAINT_UNREACHABLE, NO_EXECUTE)
            ]
        );
        assert_eq!(taints[1].time_added, Some(Time(at(5))));
        assert_eq!(taints[0].time_added, None);
    }

    #[test]
    fn not_ready_swaps_unreachable_for_not_ready() {
        let unknown = [condition("Ready", "Unknown")];
        let Some(tainted) = reconcile_taints(&[], &unknown, false, at(5)) else {
            panic!("taints change");
        };
        let not_ready = [condition("Ready", "False")];
        let Some(swapped) = reconcile_taints(&tainted, &not_ready, false, at(9)) else {
            panic!("taints change");
        };
        assert_eq!(
            keys(&swapped),
            [
                pair(TAINT_NOT_READY, NO_SCHEDULE),
                pair(TAINT_NOT_READY, NO_EXECUTE)
            ]
        );
    }

    #[test]
    fn ready_again_removes_the_controllers_taints_only() {
        let foreign = Taint {
            key: "dedicated".to_owned(),
            effect: NO_SCHEDULE.to_owned(),
            value: Some("gpu".to_owned()),
            time_added: None,
        };
        let unknown = [condition("Ready", "Unknown")];
        let Some(tainted) =
            reconcile_taints(std::slice::from_ref(&foreign), &unknown, false, at(5))
        else {
            panic!("taints change");
        };
        assert_eq!(tainted.len(), 3);
        let ready = [condition("Ready", "True")];
        assert_eq!(
            reconcile_taints(&tainted, &ready, false, at(9)),
            Some(vec![foreign])
        );
    }

    #[test]
    fn existing_taints_keep_their_time_and_cause_no_write() {
        let unknown = [condition("Ready", "Unknown")];
        let Some(tainted) = reconcile_taints(&[], &unknown, false, at(5)) else {
            panic!("taints change");
        };
        assert_eq!(reconcile_taints(&tainted, &unknown, false, at(60)), None);
    }

    #[test]
    fn pressure_and_cordon_add_no_schedule_taints() {
        let conditions = [
            condition("Ready", "True"),
            condition("MemoryPressure", "True"),
            condition("DiskPressure", "False"),
        ];
        let Some(taints) = reconcile_taints(&[], &conditions, true, at(0)) else {
            panic!("taints change");
        };
        assert_eq!(
            keys(&taints),
            [
                pair(TAINT_MEMORY_PRESSURE, NO_SCHEDULE),
                pair(TAINT_UNSCHEDULABLE, NO_SCHEDULE)
            ]
        );
    }
}

//! Resizing a Deployment that is not rolling out: a paused Deployment, or one whose
//! `spec.replicas` changed (Kubernetes' `scale` in sync.go).
//!
//! Mid-rollout, new pods are added to or removed from every active ReplicaSet in
//! proportion to its size, rather than all to the new one: growing only the new
//! ReplicaSet would hasten a rollout whose template may be bad, and shrinking only the
//! old ones would too.

use std::cmp::Ordering;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};

use super::annotations::{is_saturated, max_replicas};
use super::sync::Syncer;
use super::util::{by_creation, is_rolling_update, max_surge, replicas, rs_replicas, sum};

/// Scales the ReplicaSets of `s` to the Deployment's size.
pub(super) fn scale(s: &mut Syncer) {
    let desired = replicas(&s.d);
    // One active ReplicaSet (or none): it simply takes the whole size.
    if let Some(i) = active_or_latest(s) {
        if rs_replicas(&s.rss[i]) != desired {
            s.scale_and_record(i, desired);
        }
        return;
    }
    // A saturated new ReplicaSet (e.g. after adopting old ones) leaves nothing for the
    // old ones.
    if let Some(new) = s.new_rs {
        if is_saturated(&s.d, &s.rss[new]) {
            for i in s.old_indices() {
                if rs_replicas(&s.rss[i]) > 0 {
                    s.scale_and_record(i, 0);
                }
            }
            return;
        }
    }
    if !is_rolling_update(&s.d) {
        return;
    }

    let mut active: Vec<usize> = s
        .all_indices()
        .into_iter()
        .filter(|&i| rs_replicas(&s.rss[i]) > 0)
        .collect();
    let current = sum(active.iter().map(|&i| &s.rss[i]), rs_replicas);
    let allowed = if desired > 0 {
        desired + max_surge(&s.d)
    } else {
        0
    };
    let to_add = allowed - current;
    // Largest first; among equals, newer first when growing and older first when
    // shrinking (Kubernetes' ReplicaSetsBySizeNewer / BySizeOlder).
    let order = |a: &ReplicaSet, b: &ReplicaSet, newer_first: bool| {
        rs_replicas(b).cmp(&rs_replicas(a)).then_with(|| {
            if newer_first {
                by_creation(b, a)
            } else {
                by_creation(a, b)
            }
        })
    };
    let op = match to_add.cmp(&0) {
        Ordering::Greater => {
            active.sort_by(|&a, &b| order(&s.rss[a], &s.rss[b], true));
            "up"
        }
        Ordering::Less => {
            active.sort_by(|&a, &b| order(&s.rss[a], &s.rss[b], false));
            "down"
        }
        Ordering::Equal => "",
    };

    let mut added = 0;
    let mut sizes: Vec<i32> = Vec::with_capacity(active.len());
    for &i in &active {
        let rs = &s.rss[i];
        let proportion = if to_add != 0 {
            proportion(rs, &s.d, to_add, added)
        } else {
            0
        };
        sizes.push(rs_replicas(rs) + proportion);
        added += proportion;
    }
    // Rounding leftovers go to the first (largest) ReplicaSet.
    if let Some(first) = sizes.first_mut() {
        if to_add != 0 {
            *first = (*first + to_add - added).max(0);
        }
    }
    for (&i, size) in active.iter().zip(sizes) {
        s.scale_replica_set(i, size, op);
    }
}

/// The only active ReplicaSet, or the newest (the new one first) when none is active;
/// `None` with several active ones (Kubernetes' `FindActiveOrLatest`).
fn active_or_latest(s: &Syncer) -> Option<usize> {
    let mut old = s.old_indices();
    if s.new_rs.is_none() && old.is_empty() {
        return None;
    }
    old.sort_by(|&a, &b| by_creation(&s.rss[b], &s.rss[a]));
    let active: Vec<usize> = old
        .iter()
        .copied()
        .chain(s.new_rs)
        .filter(|&i| rs_replicas(&s.rss[i]) > 0)
        .collect();
    match active.as_slice() {
        [] => s.new_rs.or_else(|| old.first().copied()),
        [only] => Some(*only),
        _ => None,
    }
}

/// This ReplicaSet's share of `to_add`, bounded so the running total `added` never
/// passes it (Kubernetes' `GetProportion`).
fn proportion(rs: &ReplicaSet, d: &Deployment, to_add: i32, added: i32) -> i32 {
    if rs_replicas(rs) == 0 || to_add == 0 || to_add == added {
        return 0;
    }
    let fraction = fraction(rs, d);
    let allowed = to_add - added;
    if to_add > 0 {
        fraction.min(allowed)
    } else {
        fraction.max(allowed)
    }
}

/// How much this ReplicaSet grows or shrinks when the Deployment's maximum size
/// (replicas + maxSurge) goes from what the ReplicaSet's max-replicas annotation
/// recorded to its current value (Kubernetes' `getReplicaSetFraction`).
fn fraction(rs: &ReplicaSet, d: &Deployment) -> i32 {
    let size = rs_replicas(rs);
    if replicas(d) == 0 {
        return -size;
    }
    let deployment_max = replicas(d) + max_surge(d);
    // Without the annotation, the current total is the best estimate; the min/max in
    // `proportion` keeps the result within bounds regardless.
    let annotated =
        max_replicas(rs).unwrap_or_else(|| d.status.as_ref().and_then(|s| s.replicas).unwrap_or(0));
    if annotated <= 0 {
        return 0;
    }
    let new_size = f64::from(size) * f64::from(deployment_max) / f64::from(annotated);
    new_size.round() as i32 - size
}

#[cfg(test)]
mod tests {
    use super::super::sim::{Sim, Strategy};
    use super::super::DeploymentAction;
    use crate::replicaset::Event;

    /// A rollout of 10 replicas (maxSurge 3, maxUnavailable 2) stuck with the new
    /// pods never becoming available.
    fn stuck_mid_rollout() -> Sim {
        let mut sim = Sim::new(10, Strategy::rolling("3", "2"));
        sim.settle();
        sim.change_image("web:2");
        sim.pods_become_available = false;
        for _ in 0..5 {
            sim.step();
        }
        sim
    }

    #[test]
    fn scaling_mid_rollout_spreads_new_replicas_proportionally() {
        let mut sim = stuck_mid_rollout();
        assert_eq!(sim.sizes(), vec![8, 5], "old at 10 - 2, new at 13 - 8");

        sim.set_replicas(15);
        let plan = sim.step();
        // 15 + 3 = 18 allowed, 13 present: 5 more. Old gets 8*18/13 ≈ 11 (+3), new
        // 5*18/13 ≈ 7 (+2).
        assert_eq!(sim.sizes(), vec![11, 7]);
        let scaled: Vec<&str> = plan
            .actions
            .iter()
            .filter_map(|a| match a {
                DeploymentAction::UpdateReplicaSet { events, .. } => {
                    events.first().map(|Event { message, .. }| message.as_str())
                }
                _ => None,
            })
            .collect();
        assert_eq!(scaled.len(), 2);
        assert!(
            scaled[0].starts_with("Scaled up replica set web-")
                && scaled[0].ends_with(" from 8 to 11")
        );
        assert!(scaled[1].ends_with(" from 5 to 7"));
    }

    #[test]
    fn scaling_down_mid_rollout_takes_from_the_largest_first() {
        let mut sim = stuck_mid_rollout();
        sim.set_replicas(5);
        sim.step();
        // 5 + 3 = 8 allowed: old 8*8/13 ≈ 5 (-3), new 5*8/13 ≈ 3 (-2).
        assert_eq!(sim.sizes(), vec![5, 3]);
    }

    #[test]
    fn a_single_active_replica_set_takes_the_whole_size() {
        let mut sim = Sim::new(3, Strategy::rolling("25%", "25%"));
        sim.settle();
        sim.set_replicas(6);
        let plan = sim.step();
        assert_eq!(sim.sizes(), vec![6]);
        assert!(plan.actions.iter().any(|a| matches!(
            a,
            DeploymentAction::UpdateReplicaSet { events, .. } if events.iter().any(|e| e.message.ends_with("from 3 to 6"))
        )));
    }

    #[test]
    fn paused_deployment_scales_but_does_not_roll_out() {
        let mut sim = Sim::new(2, Strategy::rolling("25%", "25%"));
        sim.settle();
        if let Some(s) = sim.deployment.spec.as_mut() {
            s.paused = Some(true);
        }
        sim.change_image("web:2");
        sim.set_replicas(4);
        sim.settle();
        assert_eq!(sim.sizes(), vec![4], "no new ReplicaSet while paused");
    }
}

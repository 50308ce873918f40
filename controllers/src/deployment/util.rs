//! Deployment arithmetic shared by the strategies (Kubernetes'
//! `deployment/util`): spec defaults, maxSurge/maxUnavailable, replica counts, and which
//! ReplicaSet is new.

use std::cmp::Ordering;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::hash::equal_ignore_hash;
use super::SyncError;

/// Label that tells a Deployment's ReplicaSets (and their pods) apart.
pub const POD_TEMPLATE_HASH_LABEL: &str = "pod-template-hash";

/// Strategy type that replaces pods gradually.
pub const ROLLING_UPDATE: &str = "RollingUpdate";
/// Strategy type that removes every old pod before creating new ones.
pub const RECREATE: &str = "Recreate";

/// Kubernetes reads `i32::MAX` in progressDeadlineSeconds and revisionHistoryLimit as
/// "no limit".
const UNLIMITED: i32 = i32::MAX;

/// `spec.replicas`, defaulting to 1 as the apps/v1 API does.
pub fn replicas(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

/// `spec.minReadySeconds`, default 0.
pub fn min_ready_seconds(d: &Deployment) -> i32 {
    d.spec
        .as_ref()
        .and_then(|s| s.min_ready_seconds)
        .unwrap_or(0)
}

/// `spec.paused`, default false.
pub fn is_paused(d: &Deployment) -> bool {
    d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false)
}

/// `spec.strategy.type`, defaulting to RollingUpdate.
pub fn strategy_type(d: &Deployment) -> &str {
    d.spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.type_.as_deref())
        .unwrap_or(ROLLING_UPDATE)
}

/// Whether the deployment rolls (Kubernetes' `IsRollingUpdate`).
pub fn is_rolling_update(d: &Deployment) -> bool {
    strategy_type(d) == ROLLING_UPDATE
}

/// `spec.progressDeadlineSeconds` (default 600) unless it means "no deadline"
/// (Kubernetes' `HasProgressDeadline`).
pub fn progress_deadline_seconds(d: &Deployment) -> Option<i32> {
    let secs = d
        .spec
        .as_ref()
        .and_then(|s| s.progress_deadline_seconds)
        .unwrap_or(600);
    (secs != UNLIMITED).then_some(secs)
}

/// `spec.revisionHistoryLimit` (default 10) unless it means "keep all"
/// (Kubernetes' `HasRevisionHistoryLimit`).
pub fn revision_history_limit(d: &Deployment) -> Option<i32> {
    let limit = d
        .spec
        .as_ref()
        .and_then(|s| s.revision_history_limit)
        .unwrap_or(10);
    (limit != UNLIMITED).then_some(limit)
}

/// An absolute value, or a percentage of `total` rounded up or down (Kubernetes'
/// `GetScaledValueFromIntOrPercent`).
pub fn scaled_value(value: &IntOrString, total: i32, round_up: bool) -> Result<i32, SyncError> {
    match value {
        IntOrString::Int(v) => Ok(*v),
        IntOrString::String(s) => {
            let percent: i32 = s
                .strip_suffix('%')
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| SyncError::InvalidIntOrPercent(s.clone()))?;
            let exact = f64::from(total) * f64::from(percent) / 100.0;
            Ok(if round_up {
                exact.ceil()
            } else {
                exact.floor()
            } as i32)
        }
    }
}

/// maxSurge and maxUnavailable resolved together for `desired` replicas: surge rounds
/// up, unavailable rounds down, and if both come to 0 unavailable becomes 1, since a
/// rollout must be able to move (Kubernetes' `ResolveFenceposts`). Absent values are
/// the apps/v1 defaults of 25%.
pub fn resolve_fenceposts(d: &Deployment, desired: i32) -> Result<(i32, i32), SyncError> {
    let rolling = d
        .spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.rolling_update.as_ref());
    let default = IntOrString::String("25%".into());
    let surge_value = rolling
        .and_then(|r| r.max_surge.as_ref())
        .unwrap_or(&default);
    let unavailable_value = rolling
        .and_then(|r| r.max_unavailable.as_ref())
        .unwrap_or(&default);
    let surge = scaled_value(surge_value, desired, true)?;
    let mut unavailable = scaled_value(unavailable_value, desired, false)?;
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    Ok((surge, unavailable))
}

/// maxSurge alone, rounded up, without the fencepost adjustment: how far the new
/// ReplicaSet may grow past `replicas` (Kubernetes' `NewRSNewReplicas` reads it so).
pub fn surge_value(d: &Deployment) -> Result<i32, SyncError> {
    let default = IntOrString::String("25%".into());
    let value = d
        .spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.rolling_update.as_ref())
        .and_then(|r| r.max_surge.as_ref())
        .unwrap_or(&default);
    scaled_value(value, replicas(d), true)
}

/// Pods a rolling deployment may run above `replicas`; 0 for Recreate (Kubernetes'
/// `MaxSurge`). Invalid values read as 0: validation rejects them, and the sync reports
/// the error before anything uses this.
pub fn max_surge(d: &Deployment) -> i32 {
    if !is_rolling_update(d) {
        return 0;
    }
    resolve_fenceposts(d, replicas(d)).map_or(0, |(s, _)| s)
}

/// Pods a rolling deployment may lack below `replicas`, at most `replicas`; 0 for
/// Recreate or zero replicas (Kubernetes' `MaxUnavailable`).
pub fn max_unavailable(d: &Deployment) -> i32 {
    let desired = replicas(d);
    if !is_rolling_update(d) || desired == 0 {
        return 0;
    }
    resolve_fenceposts(d, desired).map_or(0, |(_, u)| u.min(desired))
}

/// `spec.replicas` of a ReplicaSet, defaulting to 1 as the API does.
pub fn rs_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

/// Sets `spec.replicas` of a ReplicaSet.
pub fn set_rs_replicas(rs: &mut ReplicaSet, value: i32) {
    rs.spec.get_or_insert_with(Default::default).replicas = Some(value);
}

fn status_field(
    rs: &ReplicaSet,
    f: impl Fn(&k8s_openapi::api::apps::v1::ReplicaSetStatus) -> i32,
) -> i32 {
    rs.status.as_ref().map_or(0, f)
}

/// `status.replicas` of a ReplicaSet: pods it actually has.
pub fn rs_actual(rs: &ReplicaSet) -> i32 {
    status_field(rs, |s| s.replicas)
}

/// `status.readyReplicas` of a ReplicaSet.
pub fn rs_ready(rs: &ReplicaSet) -> i32 {
    status_field(rs, |s| s.ready_replicas.unwrap_or(0))
}

/// `status.availableReplicas` of a ReplicaSet.
pub fn rs_available(rs: &ReplicaSet) -> i32 {
    status_field(rs, |s| s.available_replicas.unwrap_or(0))
}

/// Sum of `f` over ReplicaSets.
pub fn sum<'a>(rss: impl IntoIterator<Item = &'a ReplicaSet>, f: fn(&ReplicaSet) -> i32) -> i32 {
    rss.into_iter().map(f).fold(0i32, i32::saturating_add)
}

/// Oldest first; equal times by name (Kubernetes' `ReplicaSetsByCreationTimestamp`).
pub fn by_creation(a: &ReplicaSet, b: &ReplicaSet) -> Ordering {
    let ta = a.metadata.creation_timestamp.as_ref().map(|t| t.0);
    let tb = b.metadata.creation_timestamp.as_ref().map(|t| t.0);
    ta.cmp(&tb)
        .then_with(|| a.metadata.name.cmp(&b.metadata.name))
}

/// The deployment's new ReplicaSet among `rss`: the oldest whose template equals the
/// deployment's ignoring the pod-template-hash label (Kubernetes' `FindNewReplicaSet`;
/// choosing the oldest keeps the choice stable if duplicates ever exist).
pub fn find_new_replica_set(d: &Deployment, rss: &[ReplicaSet]) -> Option<usize> {
    let template = d.spec.as_ref().map(|s| &s.template)?;
    let mut order: Vec<usize> = (0..rss.len()).collect();
    order.sort_by(|&a, &b| by_creation(&rss[a], &rss[b]));
    order.into_iter().find(|&i| {
        rss[i]
            .spec
            .as_ref()
            .and_then(|s| s.template.as_ref())
            .is_some_and(|t| equal_ignore_hash(t, template))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment};

    fn rolling(replicas: i32, surge: IntOrString, unavailable: IntOrString) -> Deployment {
        Deployment {
            spec: Some(DeploymentSpec {
                replicas: Some(replicas),
                strategy: Some(DeploymentStrategy {
                    type_: Some(ROLLING_UPDATE.into()),
                    rolling_update: Some(RollingUpdateDeployment {
                        max_surge: Some(surge),
                        max_unavailable: Some(unavailable),
                    }),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn pct(s: &str) -> IntOrString {
        IntOrString::String(s.into())
    }

    #[test]
    fn quarter_of_three_surges_one_and_keeps_all_available() {
        let d = rolling(3, pct("25%"), pct("25%"));
        assert_eq!((max_surge(&d), max_unavailable(&d)), (1, 0));
    }

    #[test]
    fn percentages_round_surge_up_and_unavailable_down() {
        let d = rolling(10, pct("25%"), pct("25%"));
        assert_eq!((max_surge(&d), max_unavailable(&d)), (3, 2));
    }

    #[test]
    fn both_fenceposts_zero_make_unavailable_one() {
        let d = rolling(1, IntOrString::Int(0), pct("10%"));
        assert_eq!((max_surge(&d), max_unavailable(&d)), (0, 1));
    }

    #[test]
    fn unavailable_is_capped_at_replicas_and_zero_without_replicas() {
        assert_eq!(
            max_unavailable(&rolling(2, IntOrString::Int(0), IntOrString::Int(5))),
            2
        );
        assert_eq!(
            max_unavailable(&rolling(0, IntOrString::Int(1), IntOrString::Int(1))),
            0
        );
    }

    #[test]
    fn recreate_has_no_surge_or_unavailability() {
        let mut d = rolling(4, pct("50%"), pct("50%"));
        if let Some(s) = d.spec.as_mut().and_then(|s| s.strategy.as_mut()) {
            s.type_ = Some(RECREATE.into());
        }
        assert_eq!((max_surge(&d), max_unavailable(&d)), (0, 0));
    }

    #[test]
    fn malformed_percentage_is_an_error() {
        assert!(scaled_value(&pct("25"), 4, true).is_err());
    }
}

//! The annotations a Deployment keeps on itself and its ReplicaSets: revision numbers
//! (what `kubectl rollout history/undo` read) and the desired/max replica counts that
//! let proportional scaling tell a scaling event from a rollout.
//!
//! Rollback needs nothing more server-side: `kubectl rollout undo` reads these
//! revisions, copies the chosen ReplicaSet's template into the Deployment, and the
//! controller then finds that ReplicaSet again as the "new" one and gives it the next
//! revision.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};

use super::util::{rs_available, rs_replicas};

/// The rollout sequence number of a ReplicaSet (and, copied, of its Deployment).
pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";
/// Earlier revisions a ReplicaSet served, when a rollback reused it.
pub const REVISION_HISTORY_ANNOTATION: &str = "deployment.kubernetes.io/revision-history";
/// `spec.replicas` of the Deployment when it last sized this ReplicaSet.
pub const DESIRED_REPLICAS_ANNOTATION: &str = "deployment.kubernetes.io/desired-replicas";
/// `spec.replicas + maxSurge` of the Deployment when it last sized this ReplicaSet.
pub const MAX_REPLICAS_ANNOTATION: &str = "deployment.kubernetes.io/max-replicas";
/// kubectl's record of the applied manifest: never copied to ReplicaSets.
const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// The extensions/v1beta1 rollback request: never copied.
const DEPRECATED_ROLLBACK_TO: &str = "deprecated.deployment.rollback.to";

/// Longest revision-history value kept (Kubernetes keeps about 100 revisions).
const MAX_REVISION_HISTORY_CHARS: usize = 2000;

/// Deployment annotations that are the controller's own bookkeeping; all others
/// (`kubernetes.io/change-cause` among them) are copied to the new ReplicaSet so
/// `kubectl rollout history` can show them.
fn skip_copy(key: &str) -> bool {
    matches!(
        key,
        LAST_APPLIED_ANNOTATION
            | REVISION_ANNOTATION
            | REVISION_HISTORY_ANNOTATION
            | DESIRED_REPLICAS_ANNOTATION
            | MAX_REPLICAS_ANNOTATION
            | DEPRECATED_ROLLBACK_TO
    )
}

fn annotation<'a>(rs: &'a ReplicaSet, key: &str) -> Option<&'a str> {
    rs.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .map(String::as_str)
}

/// A ReplicaSet's revision: 0 when unannotated, `None` when unparsable (such
/// ReplicaSets are skipped when computing revisions, as Kubernetes does).
pub fn revision(rs: &ReplicaSet) -> Option<i64> {
    match annotation(rs, REVISION_ANNOTATION) {
        None => Some(0),
        Some(v) => v.parse().ok(),
    }
}

/// The highest revision among `rss` (Kubernetes' `MaxRevision`).
pub fn max_revision<'a>(rss: impl IntoIterator<Item = &'a ReplicaSet>) -> i64 {
    rss.into_iter()
        .filter_map(revision)
        .max()
        .unwrap_or(0)
        .max(0)
}

fn int_annotation(rs: &ReplicaSet, key: &str) -> Option<i32> {
    annotation(rs, key).and_then(|v| v.parse().ok())
}

/// The desired-replicas annotation, if present and numeric.
pub fn desired_replicas(rs: &ReplicaSet) -> Option<i32> {
    int_annotation(rs, DESIRED_REPLICAS_ANNOTATION)
}

/// The max-replicas annotation, if present and numeric.
pub fn max_replicas(rs: &ReplicaSet) -> Option<i32> {
    int_annotation(rs, MAX_REPLICAS_ANNOTATION)
}

/// Whether the desired/max annotations differ from these values.
pub fn replicas_annotations_need_update(rs: &ReplicaSet, desired: i32, max: i32) -> bool {
    annotation(rs, DESIRED_REPLICAS_ANNOTATION) != Some(desired.to_string().as_str())
        || annotation(rs, MAX_REPLICAS_ANNOTATION) != Some(max.to_string().as_str())
}

/// Writes the desired/max annotations; returns whether anything changed.
pub fn set_replicas_annotations(rs: &mut ReplicaSet, desired: i32, max: i32) -> bool {
    let annotations = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    let mut changed = false;
    for (key, value) in [
        (DESIRED_REPLICAS_ANNOTATION, desired.to_string()),
        (MAX_REPLICAS_ANNOTATION, max.to_string()),
    ] {
        if annotations.get(key) != Some(&value) {
            annotations.insert(key.to_string(), value);
            changed = true;
        }
    }
    changed
}

/// Sets the Deployment's revision annotation; returns whether it changed.
pub fn set_deployment_revision(d: &mut Deployment, revision: &str) -> bool {
    let annotations = d.metadata.annotations.get_or_insert_with(BTreeMap::new);
    if annotations.get(REVISION_ANNOTATION).map(String::as_str) == Some(revision) {
        return false;
    }
    annotations.insert(REVISION_ANNOTATION.to_string(), revision.to_string());
    true
}

/// Brings the new ReplicaSet's annotations up to date (Kubernetes'
/// `SetNewReplicaSetAnnotations`): copies the Deployment's own annotations, raises its
/// revision to `new_revision` if lower (remembering the old one in revision-history,
/// which is what a rollback to this ReplicaSet leaves behind), and on creation
/// (`exists == false`) sets desired/max replicas. Returns whether anything changed.
pub fn set_new_replica_set_annotations(
    d: &Deployment,
    rs: &mut ReplicaSet,
    new_revision: i64,
    exists: bool,
    max_surge: i32,
) -> bool {
    let annotations = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
    let mut changed = false;
    for (key, value) in d.metadata.annotations.iter().flatten() {
        if skip_copy(key) || annotations.get(key) == Some(value) {
            continue;
        }
        annotations.insert(key.clone(), value.clone());
        changed = true;
    }

    let old = annotations.get(REVISION_ANNOTATION).cloned();
    let old_revision = match old.as_deref() {
        None | Some("") => 0,
        Some(v) => match v.parse::<i64>() {
            Ok(n) => n,
            // Kubernetes leaves a ReplicaSet with a corrupt revision alone entirely.
            Err(_) => return false,
        },
    };
    if old_revision < new_revision {
        annotations.insert(REVISION_ANNOTATION.to_string(), new_revision.to_string());
        changed = true;
        if let Some(old) = old.filter(|o| !o.is_empty()) {
            let history = annotations
                .get(REVISION_HISTORY_ANNOTATION)
                .cloned()
                .unwrap_or_default();
            if let Some(updated) = append_history(&history, &old) {
                annotations.insert(REVISION_HISTORY_ANNOTATION.to_string(), updated);
            }
        }
    }

    if !exists {
        let desired = super::util::replicas(d);
        if set_replicas_annotations(rs, desired, desired + max_surge) {
            changed = true;
        }
    }
    changed
}

/// Appends `old` to the comma-separated history, dropping the oldest entries to stay
/// within [`MAX_REVISION_HISTORY_CHARS`]; `None` if even that cannot fit it.
fn append_history(history: &str, old: &str) -> Option<String> {
    if history.is_empty() {
        return Some(old.to_string());
    }
    let mut entries: Vec<&str> = history.split(',').collect();
    let mut total = history.len() + old.len() + 1;
    let mut start = 0;
    while total > MAX_REVISION_HISTORY_CHARS && start < entries.len() {
        total -= entries[start].len() + 1;
        start += 1;
    }
    if total > MAX_REVISION_HISTORY_CHARS {
        return None;
    }
    entries.drain(..start);
    entries.push(old);
    Some(entries.join(","))
}

/// Whether the new ReplicaSet already holds every desired replica, believes so itself
/// (annotation), and all of them are available (Kubernetes' `IsSaturated`).
pub fn is_saturated(d: &Deployment, rs: &ReplicaSet) -> bool {
    let desired = super::util::replicas(d);
    desired_replicas(rs) == Some(desired)
        && rs_replicas(rs) == desired
        && rs_available(rs) == desired
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rs_with(annotations: &[(&str, &str)]) -> ReplicaSet {
        let mut rs = ReplicaSet::default();
        rs.metadata.annotations = Some(
            annotations
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        rs
    }

    #[test]
    fn max_revision_skips_unparsable_revisions() {
        let rss = [
            rs_with(&[(REVISION_ANNOTATION, "3")]),
            rs_with(&[(REVISION_ANNOTATION, "x")]),
            rs_with(&[]),
        ];
        assert_eq!(max_revision(&rss), 3);
    }

    #[test]
    fn new_replica_set_gets_change_cause_revision_and_replica_counts() {
        let mut d = Deployment::default();
        d.metadata.annotations = Some(BTreeMap::from([
            ("kubernetes.io/change-cause".to_string(), "bump".to_string()),
            (REVISION_ANNOTATION.to_string(), "1".to_string()),
        ]));
        if let Some(spec) = d.spec.as_mut() {
            spec.replicas = Some(3);
        } else {
            d.spec = Some(k8s_openapi::api::apps::v1::DeploymentSpec {
                replicas: Some(3),
                ..Default::default()
            });
        }
        let mut rs = ReplicaSet::default();
        assert!(set_new_replica_set_annotations(&d, &mut rs, 2, false, 1));
        let a = rs.metadata.annotations.expect("annotations");
        assert_eq!(a["kubernetes.io/change-cause"], "bump");
        assert_eq!(a[REVISION_ANNOTATION], "2");
        assert_eq!(a[DESIRED_REPLICAS_ANNOTATION], "3");
        assert_eq!(a[MAX_REPLICAS_ANNOTATION], "4");
    }

    #[test]
    fn reused_replica_set_remembers_its_earlier_revisions() {
        let d = Deployment::default();
        let mut rs = rs_with(&[
            (REVISION_ANNOTATION, "2"),
            (REVISION_HISTORY_ANNOTATION, "1"),
        ]);
        assert!(set_new_replica_set_annotations(&d, &mut rs, 5, true, 0));
        let a = rs.metadata.annotations.expect("annotations");
        assert_eq!(a[REVISION_ANNOTATION], "5");
        assert_eq!(a[REVISION_HISTORY_ANNOTATION], "1,2");
        assert!(!a.contains_key(DESIRED_REPLICAS_ANNOTATION));
    }

    #[test]
    fn history_drops_oldest_entries_beyond_the_limit() {
        let long = vec!["1234567890"; 190].join(",");
        let updated = append_history(&long, "99").expect("fits after trimming");
        assert!(updated.len() <= MAX_REVISION_HISTORY_CHARS);
        assert!(updated.ends_with(",99"));
    }
}

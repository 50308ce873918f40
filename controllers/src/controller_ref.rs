//! Controller references: which objects a controller owns, and the adoption and
//! release decisions of Kubernetes' `ControllerRefManager`.
//!
//! An object belongs to a controller when its controller ownerReference (the one with
//! `controller: true`) carries the controller's UID. Label selectors only decide which
//! orphans may be adopted and which owned objects must be released; they never steal an
//! object another controller owns.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use serde_json::json;

/// A label selector that cannot be evaluated (Kubernetes' `LabelSelectorAsSelector` error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// The operator of a `matchExpressions` entry is not In, NotIn, Exists or DoesNotExist.
    #[error("{operator:?} is not a valid label selector operator")]
    InvalidOperator {
        /// The operator as written.
        operator: String,
    },
    /// In/NotIn need at least one value; Exists/DoesNotExist take none.
    #[error("values for operator {operator} on key {key:?}: {reason}")]
    InvalidValues {
        /// The requirement's key.
        key: String,
        /// The requirement's operator.
        operator: String,
        /// What is wrong with the values.
        reason: &'static str,
    },
}

/// Whether `labels` satisfy `selector`, with Kubernetes' semantics: every matchLabels
/// pair and every matchExpressions requirement must hold; an empty selector matches
/// everything (controllers guard against that themselves where it matters).
pub fn selector_matches(
    selector: &LabelSelector,
    labels: Option<&BTreeMap<String, String>>,
) -> Result<bool, SelectorError> {
    let empty = BTreeMap::new();
    let labels = labels.unwrap_or(&empty);
    // Validate every requirement before answering, so an invalid selector is an error
    // whatever the labels are (Kubernetes converts the whole selector first).
    let mut all = true;
    for (key, value) in selector.match_labels.iter().flatten() {
        if labels.get(key) != Some(value) {
            all = false;
        }
    }
    for req in selector.match_expressions.iter().flatten() {
        let values = req.values.as_deref().unwrap_or(&[]);
        let present = labels.get(&req.key);
        let holds = match req.operator.as_str() {
            "In" | "NotIn" => {
                if values.is_empty() {
                    return Err(SelectorError::InvalidValues {
                        key: req.key.clone(),
                        operator: req.operator.clone(),
                        reason: "must be non-empty",
                    });
                }
                let contained = present.is_some_and(|v| values.contains(v));
                if req.operator == "In" {
                    contained
                } else {
                    !contained
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    return Err(SelectorError::InvalidValues {
                        key: req.key.clone(),
                        operator: req.operator.clone(),
                        reason: "must be empty",
                    });
                }
                present.is_some() == (req.operator == "Exists")
            }
            other => {
                return Err(SelectorError::InvalidOperator {
                    operator: other.to_string(),
                })
            }
        };
        all &= holds;
    }
    Ok(all)
}

/// Whether the selector selects nothing-in-particular (no labels, no expressions):
/// Kubernetes refuses to let a Deployment act with such a selector ("SelectingAll").
pub fn selector_is_empty(selector: &LabelSelector) -> bool {
    selector.match_labels.as_ref().is_none_or(|m| m.is_empty())
        && selector
            .match_expressions
            .as_ref()
            .is_none_or(|e| e.is_empty())
}

/// The controller ownerReference of an object, if any (Kubernetes' `GetControllerOf`).
pub fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true))
}

/// Whether `meta` is controlled by the object with `owner_uid`.
pub fn is_controlled_by(meta: &ObjectMeta, owner_uid: &str) -> bool {
    controller_of(meta).is_some_and(|r| r.uid == owner_uid)
}

/// A controller ownerReference pointing at `owner` (Kubernetes' `NewControllerRef`):
/// `controller: true` so no other controller adopts the object, and
/// `blockOwnerDeletion: true` so foreground deletion of the owner waits for it.
pub fn new_controller_ref<K: k8s_openapi::Resource>(owner: &ObjectMeta) -> OwnerReference {
    OwnerReference {
        api_version: K::API_VERSION.to_string(),
        kind: K::KIND.to_string(),
        name: owner.name.clone().unwrap_or_default(),
        uid: owner.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// A change of an object's controller reference that the wiring applies as a patch.
#[derive(Debug, Clone, PartialEq)]
pub struct ControllerRefChange {
    /// Name of the object (pod or ReplicaSet) to patch.
    pub name: String,
    /// UID of that object: the patch is a precondition on it, so a recreated object of
    /// the same name is never adopted or released by mistake.
    pub uid: String,
    /// The controller reference being added (adopt) or removed (release).
    pub owner: OwnerReference,
    /// The object's complete ownerReferences after the change, for wirings that write
    /// the whole list (merge patch or update) instead of a strategic merge patch.
    pub owner_references: Vec<OwnerReference>,
}

impl ControllerRefChange {
    /// The strategic merge patch Kubernetes sends to adopt: add the controller
    /// reference (merge key `uid`), guarded by the object's UID.
    pub fn adopt_patch(&self) -> serde_json::Value {
        json!({
            "metadata": {
                "ownerReferences": [self.owner],
                "uid": self.uid,
            }
        })
    }

    /// The strategic merge patch Kubernetes sends to release: delete the owner
    /// reference whose `uid` is ours, guarded by the object's UID.
    pub fn release_patch(&self) -> serde_json::Value {
        json!({
            "metadata": {
                "ownerReferences": [{"$patch": "delete", "uid": self.owner.uid}],
                "uid": self.uid,
            }
        })
    }
}

/// What the controller does with one candidate object (Kubernetes' `ClaimObject`).
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// Already ours and still selected: keep it.
    Owned,
    /// An orphan that matches: adopt it, then treat it as ours.
    Adopt(ControllerRefChange),
    /// Ours but no longer selected: release it, and stop counting it.
    Release(ControllerRefChange),
    /// Not ours and not adoptable.
    Ignore,
}

/// Decides what `controller` does with `object` under `selector`, following
/// Kubernetes' ControllerRefManager rules:
/// - an object controlled by someone else is never touched;
/// - an owned object that still matches is kept; one that no longer matches is released,
///   unless the controller is being deleted (the garbage collector will handle it);
/// - an orphan is adopted only if it matches, lives in the controller's namespace, and
///   neither it nor the controller is being deleted.
pub fn claim<K: k8s_openapi::Resource>(
    controller: &ObjectMeta,
    selector: &LabelSelector,
    object: &ObjectMeta,
) -> Result<Claim, SelectorError> {
    let controller_uid = controller.uid.as_deref().unwrap_or_default();
    let matches = selector_matches(selector, object.labels.as_ref())?;
    let name = object.name.clone().unwrap_or_default();
    let uid = object.uid.clone().unwrap_or_default();
    let refs = object.owner_references.clone().unwrap_or_default();
    if let Some(existing) = controller_of(object) {
        if existing.uid != controller_uid {
            return Ok(Claim::Ignore);
        }
        if matches {
            return Ok(Claim::Owned);
        }
        if controller.deletion_timestamp.is_some() {
            return Ok(Claim::Ignore);
        }
        let owner = existing.clone();
        let owner_references = refs.into_iter().filter(|r| r.uid != owner.uid).collect();
        return Ok(Claim::Release(ControllerRefChange {
            name,
            uid,
            owner,
            owner_references,
        }));
    }
    let same_namespace = controller.namespace.is_none() || controller.namespace == object.namespace;
    if controller.deletion_timestamp.is_some()
        || !matches
        || object.deletion_timestamp.is_some()
        || !same_namespace
    {
        return Ok(Claim::Ignore);
    }
    let owner = new_controller_ref::<K>(controller);
    // A plain (non-controller) reference to us is replaced, not duplicated: the API
    // rejects two references with the same UID.
    let mut owner_references: Vec<OwnerReference> =
        refs.into_iter().filter(|r| r.uid != owner.uid).collect();
    owner_references.push(owner.clone());
    Ok(Claim::Adopt(ControllerRefChange {
        name,
        uid,
        owner,
        owner_references,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::ReplicaSet;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelectorRequirement, Time};

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn meta(name: &str, uid: &str, l: &[(&str, &str)]) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            uid: Some(uid.into()),
            labels: Some(labels(l)),
            ..Default::default()
        }
    }

    fn app_selector() -> LabelSelector {
        LabelSelector {
            match_labels: Some(labels(&[("app", "web")])),
            ..Default::default()
        }
    }

    #[test]
    fn selector_expressions_follow_kubernetes_operators() {
        let sel = LabelSelector {
            match_labels: Some(labels(&[("app", "web")])),
            match_expressions: Some(vec![
                LabelSelectorRequirement {
                    key: "tier".into(),
                    operator: "In".into(),
                    values: Some(vec!["front".into(), "edge".into()]),
                },
                LabelSelectorRequirement {
                    key: "canary".into(),
                    operator: "DoesNotExist".into(),
                    values: None,
                },
            ]),
        };
        let ok = labels(&[("app", "web"), ("tier", "edge")]);
        let canary = labels(&[("app", "web"), ("tier", "edge"), ("canary", "1")]);
        assert_eq!(selector_matches(&sel, Some(&ok)), Ok(true));
        assert_eq!(selector_matches(&sel, Some(&canary)), Ok(false));
        assert_eq!(selector_matches(&sel, None), Ok(false));
    }

    #[test]
    fn invalid_operator_is_an_error() {
        let sel = LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "a".into(),
                operator: "Near".into(),
                values: None,
            }]),
            ..Default::default()
        };
        assert!(selector_matches(&sel, None).is_err());
    }

    #[test]
    fn matching_orphan_is_adopted_with_a_blocking_controller_ref() {
        let rs = meta("web", "rs-uid", &[]);
        let pod = meta("web-abc", "pod-uid", &[("app", "web")]);
        let Ok(Claim::Adopt(change)) = claim::<ReplicaSet>(&rs, &app_selector(), &pod) else {
            panic!("expected adoption");
        };
        assert_eq!(change.uid, "pod-uid");
        assert_eq!(change.owner.kind, "ReplicaSet");
        assert_eq!(change.owner.api_version, "apps/v1");
        assert_eq!(change.owner.controller, Some(true));
        assert_eq!(change.owner.block_owner_deletion, Some(true));
        assert_eq!(change.owner_references, vec![change.owner.clone()]);
        assert_eq!(change.adopt_patch()["metadata"]["uid"], "pod-uid");
    }

    #[test]
    fn owned_object_whose_labels_no_longer_match_is_released() {
        let rs = meta("web", "rs-uid", &[]);
        let mut pod = meta("web-abc", "pod-uid", &[("app", "other")]);
        pod.owner_references = Some(vec![new_controller_ref::<ReplicaSet>(&rs)]);
        let Ok(Claim::Release(change)) = claim::<ReplicaSet>(&rs, &app_selector(), &pod) else {
            panic!("expected release");
        };
        assert!(change.owner_references.is_empty());
        assert_eq!(
            change.release_patch()["metadata"]["ownerReferences"][0]["$patch"],
            "delete"
        );
    }

    #[test]
    fn objects_of_other_controllers_and_deleting_orphans_are_left_alone() {
        let rs = meta("web", "rs-uid", &[]);
        let other = meta("other", "other-uid", &[]);
        let mut foreign = meta("p1", "u1", &[("app", "web")]);
        foreign.owner_references = Some(vec![new_controller_ref::<ReplicaSet>(&other)]);
        assert_eq!(
            claim::<ReplicaSet>(&rs, &app_selector(), &foreign),
            Ok(Claim::Ignore)
        );
        let mut deleting = meta("p2", "u2", &[("app", "web")]);
        deleting.deletion_timestamp = Some(Time(jiff::Timestamp::UNIX_EPOCH));
        assert_eq!(
            claim::<ReplicaSet>(&rs, &app_selector(), &deleting),
            Ok(Claim::Ignore)
        );
    }

    #[test]
    fn controller_being_deleted_neither_adopts_nor_releases() {
        let mut rs = meta("web", "rs-uid", &[]);
        rs.deletion_timestamp = Some(Time(jiff::Timestamp::UNIX_EPOCH));
        let orphan = meta("p1", "u1", &[("app", "web")]);
        let mut mismatched = meta("p2", "u2", &[("app", "other")]);
        mismatched.owner_references = Some(vec![new_controller_ref::<ReplicaSet>(&rs)]);
        assert_eq!(
            claim::<ReplicaSet>(&rs, &app_selector(), &orphan),
            Ok(Claim::Ignore)
        );
        assert_eq!(
            claim::<ReplicaSet>(&rs, &app_selector(), &mismatched),
            Ok(Claim::Ignore)
        );
    }
}

//! The garbage collector's decision for one object (Kubernetes'
//! `attemptToDeleteItem`, `processDeletingDependentsItem` and
//! `orphanDependents`), as a list of actions for the wiring.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

use super::graph::{
    Graph, GraphObject, ObjectIdentity, OwnerState, FINALIZER_FOREGROUND, FINALIZER_ORPHAN,
};

/// How a delete propagates to the deleted object's dependents
/// (`DeleteOptions.propagationPolicy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Propagation {
    /// Delete now; the garbage collector deletes the dependents afterwards.
    Background,
    /// Keep the object (with `foregroundDeletion`) until its blocking dependents are gone.
    Foreground,
    /// Keep the object (with `orphan`) until its dependents no longer reference it.
    Orphan,
}

impl Propagation {
    /// The `propagationPolicy` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Propagation::Background => "Background",
            Propagation::Foreground => "Foreground",
            Propagation::Orphan => "Orphan",
        }
    }
}

/// One write (or lookup) the wiring performs. Every write carries the
/// target's uid as a precondition. Actions of one `process` call are
/// performed in order; on the first failure the wiring stops and requeues
/// the uid with backoff.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// The graph does not know whether `owner` exists: GET it (in
    /// `namespace`, the dependent's, when its kind is namespaced). If it is
    /// not found or has another uid, call [`Graph::mark_owner_absent`] with
    /// `owner.uid` and process the uids it returns; if it exists, observe it.
    VerifyOwner {
        /// The object whose reference needs resolving.
        dependent: ObjectIdentity,
        /// The unresolved reference.
        owner: OwnerReference,
        /// Where to look a namespaced owner up.
        namespace: Option<String>,
    },
    /// Delete `object` with this propagation policy.
    Delete {
        /// The object to delete.
        object: ObjectIdentity,
        /// Its `propagationPolicy`.
        propagation: Propagation,
    },
    /// Remove from `object` the ownerReferences with these uids (owners that
    /// are gone, waiting for their dependents, or orphaning them).
    RemoveOwnerReferences {
        /// The dependent to patch.
        object: ObjectIdentity,
        /// uids of the references to drop.
        owner_uids: Vec<String>,
    },
    /// Set `blockOwnerDeletion: false` on `object`'s references with these
    /// uids, to break a foreground-deletion cycle.
    UnblockOwnerReferences {
        /// The dependent to patch.
        object: ObjectIdentity,
        /// uids of the references to unblock.
        owner_uids: Vec<String>,
    },
    /// Remove `finalizer` from `object`, letting the API server finish its deletion.
    RemoveFinalizer {
        /// The owner being deleted.
        object: ObjectIdentity,
        /// [`FINALIZER_ORPHAN`] or [`FINALIZER_FOREGROUND`].
        finalizer: &'static str,
    },
}

impl Graph {
    /// Decides what to do about the object with `uid`; empty when nothing is
    /// to be done (or the graph does not hold it).
    ///
    /// - Being deleted with `orphan`: strip its references from every
    ///   dependent, then remove the finalizer.
    /// - Being deleted with `foregroundDeletion`: remove the finalizer once
    ///   no dependent with `blockOwnerDeletion` remains (its dependents are
    ///   deleted when they are processed).
    /// - Otherwise being deleted: nothing, the deletion is under way.
    /// - Otherwise, by its owners: any owner unknown → verify it first; some
    ///   owner solid → drop only the references to absent owners and owners
    ///   waiting for their dependents; no solid owner → delete it (in the
    ///   foreground if an owner waits on it and it has dependents of its own,
    ///   so the wait covers the whole subtree).
    pub fn process(&self, uid: &str) -> Vec<Action> {
        let Some(object) = self.get(uid) else {
            return Vec::new();
        };
        if object.deleting {
            return self.process_deleting(object);
        }
        if object.owners.is_empty() {
            return Vec::new();
        }

        let mut solid = Vec::new();
        let mut dangling = Vec::new();
        let mut waiting = Vec::new();
        let mut unknown = Vec::new();
        for reference in &object.owners {
            match self.owner_state(object, reference) {
                OwnerState::Present(owner) if owner.deleting_dependents() => {
                    waiting.push(reference)
                }
                OwnerState::Present(_) => solid.push(reference),
                OwnerState::Absent => dangling.push(reference),
                OwnerState::Unknown => unknown.push(reference),
            }
        }
        if !unknown.is_empty() {
            return unknown
                .into_iter()
                .map(|owner| Action::VerifyOwner {
                    dependent: object.identity.clone(),
                    owner: owner.clone(),
                    namespace: object.identity.namespace.clone(),
                })
                .collect();
        }

        if !solid.is_empty() {
            // Still owned: only references that can never be satisfied go.
            // References to owners waiting in the foreground must go too, or
            // those owners would wait for this object forever.
            let stale: Vec<String> = dangling
                .iter()
                .chain(&waiting)
                .map(|owner| owner.uid.clone())
                .collect();
            if stale.is_empty() {
                return Vec::new();
            }
            return vec![Action::RemoveOwnerReferences {
                object: object.identity.clone(),
                owner_uids: stale,
            }];
        }

        if !waiting.is_empty() && self.has_dependents(uid) {
            let mut actions = Vec::new();
            // A dependent of ours is itself waiting for its dependents while
            // our owner waits for us: a possible cycle of blocked owners.
            // Stop blocking our owners so the chain can resolve.
            if self
                .dependents_of(uid)
                .any(GraphObject::deleting_dependents)
            {
                let blocking: Vec<String> = object
                    .owners
                    .iter()
                    .filter(|o| o.block_owner_deletion == Some(true))
                    .map(|o| o.uid.clone())
                    .collect();
                if !blocking.is_empty() {
                    actions.push(Action::UnblockOwnerReferences {
                        object: object.identity.clone(),
                        owner_uids: blocking,
                    });
                }
            }
            actions.push(Action::Delete {
                object: object.identity.clone(),
                propagation: Propagation::Foreground,
            });
            return actions;
        }

        // No owner left that wants it. Honour a policy already requested
        // through finalizers, else delete in the background.
        let propagation = if object.has_finalizer(FINALIZER_ORPHAN) {
            Propagation::Orphan
        } else if object.has_finalizer(FINALIZER_FOREGROUND) {
            Propagation::Foreground
        } else {
            Propagation::Background
        };
        vec![Action::Delete {
            object: object.identity.clone(),
            propagation,
        }]
    }

    fn process_deleting(&self, object: &GraphObject) -> Vec<Action> {
        let uid = object.identity.uid.as_str();
        let mut actions = Vec::new();
        if object.has_finalizer(FINALIZER_ORPHAN) {
            for dependent in self.dependents_of(uid) {
                actions.push(Action::RemoveOwnerReferences {
                    object: dependent.identity.clone(),
                    owner_uids: vec![uid.to_owned()],
                });
            }
            actions.push(Action::RemoveFinalizer {
                object: object.identity.clone(),
                finalizer: FINALIZER_ORPHAN,
            });
        }
        if object.has_finalizer(FINALIZER_FOREGROUND) {
            let blocked = self.dependents_of(uid).any(|dependent| {
                dependent
                    .reference_to(uid)
                    .is_some_and(|r| r.block_owner_deletion == Some(true))
            });
            if !blocked {
                actions.push(Action::RemoveFinalizer {
                    object: object.identity.clone(),
                    finalizer: FINALIZER_FOREGROUND,
                });
            }
        }
        actions
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::garbagecollector::graph::tests::{object, owner_ref};

    fn delete(name: &str, kind: &str, propagation: Propagation) -> Action {
        Action::Delete {
            object: object(kind, name, vec![]).identity,
            propagation,
        }
    }

    fn deleting(mut o: GraphObject, finalizer: &str) -> GraphObject {
        o.deleting = true;
        o.finalizers.push(finalizer.to_owned());
        o
    }

    /// A ReplicaSet `rs` with pods `p1` (blocking) and `p2` (not blocking).
    fn replica_set_with_pods() -> Graph {
        let mut graph = Graph::new();
        graph.observe(object("ReplicaSet", "rs", vec![]));
        graph.observe(object(
            "Pod",
            "p1",
            vec![owner_ref("ReplicaSet", "rs", true)],
        ));
        graph.observe(object(
            "Pod",
            "p2",
            vec![owner_ref("ReplicaSet", "rs", false)],
        ));
        graph
    }

    #[test]
    fn owned_object_with_its_owner_present_is_kept() {
        let graph = replica_set_with_pods();
        assert!(graph.process("uid-p1").is_empty());
        assert!(graph.process("uid-rs").is_empty());
    }

    #[test]
    fn dependents_of_a_deleted_owner_are_deleted_in_the_background() {
        let mut graph = replica_set_with_pods();
        let queued = graph.remove("uid-rs");
        assert_eq!(queued, ["uid-p1", "uid-p2"]);
        let actions: Vec<Action> = queued.iter().flat_map(|uid| graph.process(uid)).collect();
        assert_eq!(
            actions,
            [
                delete("p1", "Pod", Propagation::Background),
                delete("p2", "Pod", Propagation::Background)
            ]
        );
    }

    #[test]
    fn a_gone_owner_among_live_ones_only_loses_its_reference() {
        let mut graph = Graph::new();
        graph.observe(object("ReplicaSet", "a", vec![]));
        graph.observe(object("ReplicaSet", "b", vec![]));
        let owners = vec![
            owner_ref("ReplicaSet", "a", false),
            owner_ref("ReplicaSet", "b", false),
        ];
        graph.observe(object("Pod", "p", owners));
        graph.remove("uid-b");
        assert_eq!(
            graph.process("uid-p"),
            [Action::RemoveOwnerReferences {
                object: object("Pod", "p", vec![]).identity,
                owner_uids: vec!["uid-b".to_owned()],
            }]
        );
    }

    #[test]
    fn unknown_owner_is_verified_before_anything_is_deleted() {
        let mut graph = Graph::new();
        let queued = graph.observe(object(
            "Pod",
            "p",
            vec![owner_ref("ReplicaSet", "rs", true)],
        ));
        let actions: Vec<Action> = queued.iter().flat_map(|uid| graph.process(uid)).collect();
        assert!(matches!(
            actions.as_slice(),
            [Action::VerifyOwner { owner, namespace, .. }]
                if owner.uid == "uid-rs" && namespace.as_deref() == Some("default")
        ));
        // The lookup found nothing: now the pod is garbage.
        let queued = graph.mark_owner_absent("uid-rs");
        assert_eq!(queued, ["uid-p"]);
        assert_eq!(
            graph.process("uid-p"),
            [delete("p", "Pod", Propagation::Background)]
        );
    }

    #[test]
    fn orphan_strips_references_then_removes_the_finalizer() {
        let mut graph = replica_set_with_pods();
        let queued = graph.observe(deleting(
            object("ReplicaSet", "rs", vec![]),
            FINALIZER_ORPHAN,
        ));
        assert!(queued.contains(&"uid-rs".to_owned()));
        let rs = object("ReplicaSet", "rs", vec![]).identity;
        assert_eq!(
            graph.process("uid-rs"),
            [
                Action::RemoveOwnerReferences {
                    object: object("Pod", "p1", vec![]).identity,
                    owner_uids: vec!["uid-rs".to_owned()],
                },
                Action::RemoveOwnerReferences {
                    object: object("Pod", "p2", vec![]).identity,
                    owner_uids: vec!["uid-rs".to_owned()],
                },
                Action::RemoveFinalizer {
                    object: rs,
                    finalizer: FINALIZER_ORPHAN
                },
            ]
        );
    }

    #[test]
    fn foreground_deletes_dependents_and_waits_for_the_blocking_ones() {
        let mut graph = replica_set_with_pods();
        let rs = deleting(object("ReplicaSet", "rs", vec![]), FINALIZER_FOREGROUND);
        let queued = graph.observe(rs);
        assert_eq!(queued, ["uid-p1", "uid-p2", "uid-rs"]);
        // p1 blocks: the owner waits. Both pods are deleted.
        assert!(graph.process("uid-rs").is_empty());
        assert_eq!(
            graph.process("uid-p1"),
            [delete("p1", "Pod", Propagation::Background)]
        );
        assert_eq!(
            graph.process("uid-p2"),
            [delete("p2", "Pod", Propagation::Background)]
        );
        // Once p1 is gone only the non-blocking p2 remains: the owner may go.
        let queued = graph.remove("uid-p1");
        assert_eq!(queued, ["uid-rs"]);
        assert_eq!(
            graph.process("uid-rs"),
            [Action::RemoveFinalizer {
                object: object("ReplicaSet", "rs", vec![]).identity,
                finalizer: FINALIZER_FOREGROUND
            }]
        );
    }

    #[test]
    fn foreground_owner_deletes_a_dependent_with_children_in_the_foreground() {
        let mut graph = Graph::new();
        graph.observe(object("Deployment", "d", vec![]));
        graph.observe(object(
            "ReplicaSet",
            "rs",
            vec![owner_ref("Deployment", "d", true)],
        ));
        graph.observe(object(
            "Pod",
            "p",
            vec![owner_ref("ReplicaSet", "rs", true)],
        ));
        graph.observe(deleting(
            object("Deployment", "d", vec![]),
            FINALIZER_FOREGROUND,
        ));
        assert_eq!(
            graph.process("uid-rs"),
            [delete("rs", "ReplicaSet", Propagation::Foreground)]
        );
    }

    #[test]
    fn reference_to_a_waiting_owner_is_dropped_when_another_owner_remains() {
        let mut graph = Graph::new();
        graph.observe(object("ReplicaSet", "a", vec![]));
        graph.observe(object("ReplicaSet", "b", vec![]));
        let owners = vec![
            owner_ref("ReplicaSet", "a", true),
            owner_ref("ReplicaSet", "b", true),
        ];
        graph.observe(object("Pod", "p", owners));
        graph.observe(deleting(
            object("ReplicaSet", "a", vec![]),
            FINALIZER_FOREGROUND,
        ));
        assert_eq!(
            graph.process("uid-p"),
            [Action::RemoveOwnerReferences {
                object: object("Pod", "p", vec![]).identity,
                owner_uids: vec!["uid-a".to_owned()],
            }]
        );
    }

    #[test]
    fn object_already_being_deleted_is_left_to_finish() {
        let mut graph = Graph::new();
        let mut pod = object("Pod", "p", vec![owner_ref("ReplicaSet", "rs", true)]);
        pod.deleting = true;
        graph.observe(pod);
        assert!(graph.process("uid-p").is_empty());
    }
}

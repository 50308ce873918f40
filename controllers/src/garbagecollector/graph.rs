//! The owner/dependent graph over every object that has, or is named in,
//! ownerReferences (Kubernetes' `GraphBuilder`): nodes keyed by uid, edges
//! from each owner uid to its dependents. Owners may be missing from the
//! graph (not seen yet, or gone); such owners are "unknown" until either
//! their deletion was observed or a live lookup confirmed their absence.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use super::GraphError;

/// Finalizer that makes the API server keep an owner until its dependents
/// no longer reference it (`propagationPolicy: Orphan`).
pub const FINALIZER_ORPHAN: &str = "orphan";
/// Finalizer that makes the API server keep an owner until its blocking
/// dependents are gone (`propagationPolicy: Foreground`).
pub const FINALIZER_FOREGROUND: &str = "foregroundDeletion";

/// Which object a graph node is.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObjectIdentity {
    /// `apiVersion`, e.g. `apps/v1`.
    pub api_version: String,
    /// `kind`, e.g. `ReplicaSet`.
    pub kind: String,
    /// The namespace; `None` for cluster-scoped objects.
    pub namespace: Option<String>,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.uid`; every write the wiring makes should carry it as a
    /// precondition, so a same-named successor is never touched.
    pub uid: String,
}

/// What the graph keeps of one object.
#[derive(Clone, Debug, PartialEq)]
pub struct GraphObject {
    /// The object's identity.
    pub identity: ObjectIdentity,
    /// Its `metadata.ownerReferences`.
    pub owners: Vec<OwnerReference>,
    /// Whether `metadata.deletionTimestamp` is set.
    pub deleting: bool,
    /// Its `metadata.finalizers`.
    pub finalizers: Vec<String>,
}

impl GraphObject {
    /// Builds the node for an object from its type and metadata, as the
    /// wiring gets them from any informer (typed or dynamic).
    pub fn from_meta(api_version: &str, kind: &str, meta: &ObjectMeta) -> Result<Self, GraphError> {
        let name = meta.name.clone().ok_or(GraphError::MissingName)?;
        let uid = meta
            .uid
            .clone()
            .ok_or_else(|| GraphError::MissingUid(name.clone()))?;
        Ok(GraphObject {
            identity: ObjectIdentity {
                api_version: api_version.to_owned(),
                kind: kind.to_owned(),
                namespace: meta.namespace.clone().filter(|ns| !ns.is_empty()),
                name,
                uid,
            },
            owners: meta.owner_references.clone().unwrap_or_default(),
            deleting: meta.deletion_timestamp.is_some(),
            finalizers: meta.finalizers.clone().unwrap_or_default(),
        })
    }

    /// Whether the object carries `finalizer`.
    pub fn has_finalizer(&self, finalizer: &str) -> bool {
        self.finalizers.iter().any(|f| f == finalizer)
    }

    /// Whether the object is being deleted in the foreground, i.e. waits for
    /// its dependents (Kubernetes' `isDeletingDependents`).
    pub fn deleting_dependents(&self) -> bool {
        self.deleting && self.has_finalizer(FINALIZER_FOREGROUND)
    }

    /// Whether the object is being deleted with its dependents orphaned.
    pub fn orphaning_dependents(&self) -> bool {
        self.deleting && self.has_finalizer(FINALIZER_ORPHAN)
    }

    /// The object's reference to `owner_uid`, if it has one.
    pub fn reference_to(&self, owner_uid: &str) -> Option<&OwnerReference> {
        self.owners.iter().find(|owner| owner.uid == owner_uid)
    }
}

/// How an ownerReference resolves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OwnerState<'a> {
    /// The owner exists (as far as the graph knows).
    Present(&'a GraphObject),
    /// The owner does not exist: its deletion was observed, a lookup found
    /// nothing with that uid, or the object with that uid is not what the
    /// reference names.
    Absent,
    /// Not in the graph and not known to be gone: look it up.
    Unknown,
}

/// The in-memory owner/dependent graph. The wiring feeds it every add,
/// update and delete of every resource kind with ownerReferences, and
/// processes the uids the feeding methods return.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    nodes: BTreeMap<String, GraphObject>,
    /// Owner uid → uids of objects referencing it (the owner may be absent).
    dependents: BTreeMap<String, BTreeSet<String>>,
    /// Owner uids known not to exist, kept while something references them
    /// (Kubernetes' `absentOwnerCache`).
    absent: BTreeSet<String>,
}

/// The API group of an apiVersion (`apps/v1` → `apps`, `v1` → ``): owner
/// references match across versions of the same group.
fn group(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}

impl Graph {
    /// An empty graph.
    pub fn new() -> Self {
        Graph::default()
    }

    /// The object with `uid`, if the graph has it.
    pub fn get(&self, uid: &str) -> Option<&GraphObject> {
        self.nodes.get(uid)
    }

    /// Number of objects in the graph.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the graph holds no objects.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The objects referencing `uid` as an owner that the graph holds.
    pub fn dependents_of(&self, uid: &str) -> impl Iterator<Item = &GraphObject> {
        self.dependents
            .get(uid)
            .into_iter()
            .flatten()
            .filter_map(|dependent| self.nodes.get(dependent))
    }

    /// Whether anything references `uid` as an owner.
    pub fn has_dependents(&self, uid: &str) -> bool {
        self.dependents_of(uid).next().is_some()
    }

    /// Resolves one of `dependent`'s ownerReferences. An object with the
    /// referenced uid but another name, kind, group, or a namespace other
    /// than the dependent's counts as absent: the API server would never
    /// return it for that reference.
    pub fn owner_state(
        &self,
        dependent: &GraphObject,
        reference: &OwnerReference,
    ) -> OwnerState<'_> {
        if let Some(owner) = self.nodes.get(&reference.uid) {
            let id = &owner.identity;
            let same_object = id.name == reference.name
                && id.kind == reference.kind
                && group(&id.api_version) == group(&reference.api_version);
            // A namespaced owner must live in the dependent's namespace;
            // cluster-scoped owners may own anything.
            let reachable = id.namespace.is_none() || id.namespace == dependent.identity.namespace;
            return if same_object && reachable {
                OwnerState::Present(owner)
            } else {
                OwnerState::Absent
            };
        }
        if self.absent.contains(&reference.uid) {
            OwnerState::Absent
        } else {
            OwnerState::Unknown
        }
    }

    /// Records an add or update. Returns the uids to process: the object, its
    /// old and new owners (one may be waiting for it), and, when it is being
    /// deleted in the foreground, all its dependents.
    pub fn observe(&mut self, object: GraphObject) -> Vec<String> {
        let uid = object.identity.uid.clone();
        // Uids are never reused: an object we see exists, whatever was believed.
        self.absent.remove(&uid);
        let new_owners: BTreeSet<String> = object.owners.iter().map(|o| o.uid.clone()).collect();
        let old = self.nodes.insert(uid.clone(), object);
        let old_owners: BTreeSet<String> = old
            .iter()
            .flat_map(|o| o.owners.iter().map(|owner| owner.uid.clone()))
            .collect();
        for owner in old_owners.difference(&new_owners) {
            self.unlink(owner, &uid);
        }
        for owner in &new_owners {
            self.dependents
                .entry(owner.clone())
                .or_default()
                .insert(uid.clone());
        }

        let mut to_process: BTreeSet<String> = BTreeSet::from([uid.clone()]);
        to_process.extend(old_owners);
        to_process.extend(new_owners);
        if self
            .nodes
            .get(&uid)
            .is_some_and(GraphObject::deleting_dependents)
        {
            to_process.extend(self.dependents.get(&uid).into_iter().flatten().cloned());
        }
        self.existing(to_process)
    }

    /// Records a deletion. Returns the uids to process: the object's
    /// dependents (their owner is gone) and its owners (one may have been
    /// waiting for it).
    pub fn remove(&mut self, uid: &str) -> Vec<String> {
        let Some(object) = self.nodes.remove(uid) else {
            return Vec::new();
        };
        let mut to_process: BTreeSet<String> = BTreeSet::new();
        for owner in &object.owners {
            self.unlink(&owner.uid, uid);
            to_process.insert(owner.uid.clone());
        }
        if let Some(dependents) = self.dependents.get(uid) {
            to_process.extend(dependents.iter().cloned());
            self.absent.insert(uid.to_owned());
        }
        self.existing(to_process)
    }

    /// Records that a live lookup found no object for `uid` (not found, or
    /// found with another uid). Returns the dependents to process again.
    /// Ignored while the graph holds the uid: its delete event will follow.
    pub fn mark_owner_absent(&mut self, uid: &str) -> Vec<String> {
        if self.nodes.contains_key(uid) {
            return Vec::new();
        }
        let Some(dependents) = self.dependents.get(uid) else {
            return Vec::new();
        };
        let dependents = dependents.clone();
        self.absent.insert(uid.to_owned());
        self.existing(dependents)
    }

    fn unlink(&mut self, owner: &str, dependent: &str) {
        let now_empty = self.dependents.get_mut(owner).is_some_and(|set| {
            set.remove(dependent);
            set.is_empty()
        });
        if now_empty {
            self.dependents.remove(owner);
            // Nothing refers to it any more: forget its absence too.
            self.absent.remove(owner);
        }
    }

    fn existing(&self, uids: impl IntoIterator<Item = String>) -> Vec<String> {
        uids.into_iter()
            .filter(|uid| self.nodes.contains_key(uid))
            .collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn owner_ref(kind: &str, name: &str, block: bool) -> OwnerReference {
        OwnerReference {
            api_version: if kind == "Deployment" || kind == "ReplicaSet" {
                "apps/v1".to_owned()
            } else {
                "v1".to_owned()
            },
            kind: kind.to_owned(),
            name: name.to_owned(),
            uid: format!("uid-{name}"),
            controller: Some(true),
            block_owner_deletion: Some(block),
        }
    }

    /// An object in `default` whose uid is `uid-<name>`.
    pub(crate) fn object(kind: &str, name: &str, owners: Vec<OwnerReference>) -> GraphObject {
        GraphObject {
            identity: ObjectIdentity {
                api_version: owner_ref(kind, name, false).api_version,
                kind: kind.to_owned(),
                namespace: Some("default".to_owned()),
                name: name.to_owned(),
                uid: format!("uid-{name}"),
            },
            owners,
            deleting: false,
            finalizers: Vec::new(),
        }
    }

    #[test]
    fn dependents_are_indexed_by_owner_uid() {
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
            vec![owner_ref("ReplicaSet", "rs", true)],
        ));
        let names: Vec<&str> = graph
            .dependents_of("uid-rs")
            .map(|o| o.identity.name.as_str())
            .collect();
        assert_eq!(names, ["p1", "p2"]);
        // Dropping the reference unlinks the dependent.
        graph.observe(object("Pod", "p2", vec![]));
        assert_eq!(graph.dependents_of("uid-rs").count(), 1);
    }

    #[test]
    fn removing_an_owner_returns_its_dependents_and_marks_it_absent() {
        let mut graph = Graph::new();
        graph.observe(object("ReplicaSet", "rs", vec![]));
        let pod = object("Pod", "p1", vec![owner_ref("ReplicaSet", "rs", true)]);
        graph.observe(pod.clone());
        assert_eq!(graph.remove("uid-rs"), ["uid-p1"]);
        let reference = owner_ref("ReplicaSet", "rs", true);
        assert_eq!(graph.owner_state(&pod, &reference), OwnerState::Absent);
    }

    #[test]
    fn owner_in_another_namespace_is_absent() {
        let mut graph = Graph::new();
        let mut rs = object("ReplicaSet", "rs", vec![]);
        rs.identity.namespace = Some("other".to_owned());
        graph.observe(rs);
        let pod = object("Pod", "p1", vec![owner_ref("ReplicaSet", "rs", true)]);
        let reference = owner_ref("ReplicaSet", "rs", true);
        assert_eq!(graph.owner_state(&pod, &reference), OwnerState::Absent);
    }

    #[test]
    fn owner_never_seen_is_unknown() {
        let graph = Graph::new();
        let pod = object("Pod", "p1", vec![owner_ref("ReplicaSet", "rs", true)]);
        let reference = owner_ref("ReplicaSet", "rs", true);
        assert_eq!(graph.owner_state(&pod, &reference), OwnerState::Unknown);
    }
}

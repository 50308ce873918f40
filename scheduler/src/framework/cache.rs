//! The scheduler's cache of nodes and the pods bound (or about to be bound) to
//! them.
//!
//! Pods move through it as in kube-scheduler's cache: the scheduler *assumes* a
//! pod onto the node it chose, so the next decision already counts it, before
//! the binding is written and long before the watch reports it; when the
//! informer then reports the pod bound, the assumption is *confirmed*; when
//! binding fails it is *forgotten*. An assumed pod whose binding finished but
//! which the informer never confirms expires after a time-to-live, if one is
//! configured (Kubernetes configures none since issue #106361: the pod's
//! deletion event removes it instead).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use tokio::time::Instant;

use super::node_info::NodeInfo;
use super::pod_info::PodInfo;
use super::snapshot::{NamespaceLabels, Snapshot};
use super::{pod_key, pod_node_name, LABEL_REGION, LABEL_ZONE};

/// A cache operation that does not fit the pod's state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CacheError {
    /// `assume` of a pod the cache already holds.
    #[error("pod {0} is in the cache, so can't be assumed")]
    AlreadyInCache(String),
    /// `forget` or `finish_binding` of a pod that is not assumed.
    #[error("pod {0} wasn't assumed so cannot be forgotten")]
    NotAssumed(String),
}

#[derive(Debug, Clone)]
struct PodState {
    node: String,
    assumed: bool,
    deadline: Option<Instant>,
}

/// Nodes and their pods, kept current by informer events and by the
/// scheduler's own assumptions.
#[derive(Debug, Default)]
pub struct Cache {
    nodes: HashMap<String, Arc<NodeInfo>>,
    pods: HashMap<String, PodState>,
    namespaces: Arc<NamespaceLabels>,
    order: Vec<String>,
    order_stale: bool,
    assumed_ttl: Option<Duration>,
    generation: u64,
    /// Nodes changed since the generation `update_snapshot` last brought a
    /// snapshot to: only those are copied into it next time, so a cycle
    /// costs what changed, not the cluster's size (kube-scheduler's
    /// UpdateSnapshot walks its most-recently-updated list the same way).
    changed: HashSet<String>,
    synced_generation: u64,
}

impl Cache {
    /// An empty cache whose assumed pods never expire (Kubernetes' default).
    pub fn new() -> Self {
        Cache::default()
    }

    /// An empty cache whose assumed pods expire `ttl` after their binding
    /// finished, unless confirmed by then.
    pub fn with_assumed_ttl(ttl: Duration) -> Self {
        Cache {
            assumed_ttl: Some(ttl),
            ..Cache::default()
        }
    }

    /// Changes with every update; a snapshot of the same generation is current.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    fn touch(&mut self) {
        self.generation += 1;
    }

    fn node_mut(&mut self, name: &str) -> &mut NodeInfo {
        if !self.changed.contains(name) {
            self.changed.insert(name.to_string());
        }
        let entry = self
            .nodes
            .entry(name.to_string())
            .or_insert_with(|| Arc::new(NodeInfo::new(name)));
        // Copy-on-write: a snapshot still holding this record keeps its view.
        Arc::make_mut(entry)
    }

    /// Adds a node, or replaces it when already known.
    pub fn add_node(&mut self, node: Node) {
        let Some(name) = node.metadata.name.clone() else {
            return;
        };
        let old_zone = self.nodes.get(&name).and_then(|n| n.node()).map(zone_key);
        if old_zone.as_deref() != Some(zone_key(&node).as_str()) {
            self.order_stale = true;
        }
        self.node_mut(&name).set_node(node);
        self.touch();
    }

    /// Same as [`Cache::add_node`]: the newest object wins.
    pub fn update_node(&mut self, node: Node) {
        self.add_node(node);
    }

    /// Removes a node. Its pods stay recorded (without a node nothing is
    /// scheduled there) until their own deletion events arrive.
    pub fn remove_node(&mut self, name: &str) {
        if let Some(entry) = self.nodes.get_mut(name) {
            Arc::make_mut(entry).clear_node();
            if entry.is_vacant() {
                self.nodes.remove(name);
            }
            self.order_stale = true;
            self.touch();
        }
    }

    /// Records a pod the informer reports bound to a node. Confirms it when it
    /// was assumed (moving it if it landed elsewhere); replaces it when it was
    /// already there. Pods without `spec.nodeName` are ignored.
    pub fn add_pod(&mut self, pod: &Pod) {
        let Some(node) = pod_node_name(pod).map(str::to_string) else {
            return;
        };
        let key = pod_key(pod);
        self.unlink(&key);
        let info = Arc::new(PodInfo::new(pod.clone()));
        self.node_mut(&node).add_pod(info);
        self.pods.insert(
            key,
            PodState {
                node,
                assumed: false,
                deadline: None,
            },
        );
        self.touch();
    }

    /// Records a new version of a bound pod.
    pub fn update_pod(&mut self, old: &Pod, new: &Pod) {
        if pod_key(old) != pod_key(new) {
            self.remove_pod(old);
        }
        self.add_pod(new);
    }

    /// Removes a pod (deleted, or assumed and then deleted before binding).
    pub fn remove_pod(&mut self, pod: &Pod) {
        let key = pod_key(pod);
        if self.unlink(&key) {
            self.touch();
        }
    }

    /// Takes the pod `key` off its node and out of the pod table.
    fn unlink(&mut self, key: &str) -> bool {
        let Some(state) = self.pods.remove(key) else {
            return false;
        };
        if let Some(entry) = self.nodes.get_mut(&state.node) {
            self.changed.insert(state.node.clone());
            Arc::make_mut(entry).remove_pod(key);
            if entry.is_vacant() {
                self.nodes.remove(&state.node);
            }
        }
        true
    }

    /// Counts `pod` on `node` right away, before the binding is written.
    pub fn assume(&mut self, pod: &Pod, node: &str) -> Result<(), CacheError> {
        let key = pod_key(pod);
        if self.pods.contains_key(&key) {
            return Err(CacheError::AlreadyInCache(key));
        }
        let mut bound = pod.clone();
        bound.spec.get_or_insert_with(Default::default).node_name = Some(node.to_string());
        let info = Arc::new(PodInfo::new(bound));
        self.node_mut(node).add_pod(info);
        self.pods.insert(
            key,
            PodState {
                node: node.to_string(),
                assumed: true,
                deadline: None,
            },
        );
        self.touch();
        Ok(())
    }

    /// Notes that the binding of an assumed pod was written; its time-to-live,
    /// if any, runs from `now`.
    pub fn finish_binding(&mut self, pod: &Pod, now: Instant) -> Result<(), CacheError> {
        let key = pod_key(pod);
        match self.pods.get_mut(&key) {
            Some(state) if state.assumed => {
                state.deadline = self.assumed_ttl.map(|ttl| now + ttl);
                Ok(())
            }
            _ => Err(CacheError::NotAssumed(key)),
        }
    }

    /// Undoes [`Cache::assume`] (the binding failed).
    pub fn forget(&mut self, pod: &Pod) -> Result<(), CacheError> {
        let key = pod_key(pod);
        match self.pods.get(&key) {
            Some(state) if state.assumed => {
                self.unlink(&key);
                self.touch();
                Ok(())
            }
            _ => Err(CacheError::NotAssumed(key)),
        }
    }

    /// Whether `pod` is assumed and not yet confirmed.
    pub fn is_assumed(&self, pod: &Pod) -> bool {
        self.pods.get(&pod_key(pod)).is_some_and(|s| s.assumed)
    }

    /// The node the cache holds `pod` on, assumed or confirmed.
    pub fn pod_node(&self, pod: &Pod) -> Option<&str> {
        self.pods.get(&pod_key(pod)).map(|s| s.node.as_str())
    }

    /// Drops assumed pods whose deadline passed by `now`; returns their keys.
    pub fn cleanup_expired(&mut self, now: Instant) -> Vec<String> {
        let expired: Vec<String> = self
            .pods
            .iter()
            .filter(|(_, s)| s.assumed && s.deadline.is_some_and(|d| d <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for key in &expired {
            tracing::warn!(pod = %key, "assumed pod expired without being confirmed");
            self.unlink(key);
        }
        if !expired.is_empty() {
            self.touch();
        }
        expired
    }

    /// Records (or replaces) a namespace's labels, which namespace selectors
    /// of pod affinity terms match against.
    pub fn add_namespace(&mut self, ns: &Namespace) {
        let Some(name) = ns.metadata.name.clone() else {
            return;
        };
        let labels = ns.metadata.labels.clone().unwrap_or_default();
        Arc::make_mut(&mut self.namespaces).insert(name, labels);
        self.touch();
    }

    /// Forgets a namespace.
    pub fn remove_namespace(&mut self, name: &str) {
        if Arc::make_mut(&mut self.namespaces).remove(name).is_some() {
            self.touch();
        }
    }

    /// Number of node objects known.
    pub fn node_count(&self) -> usize {
        self.nodes.values().filter(|n| n.node().is_some()).count()
    }

    /// Number of pods held, assumed ones included.
    pub fn pod_count(&self) -> usize {
        self.pods.len()
    }

    /// The record of node `name`.
    pub fn node_info(&self, name: &str) -> Option<&NodeInfo> {
        self.nodes.get(name).map(|n| n.as_ref())
    }

    /// Brings `snapshot` up to date; a no-op when nothing changed since.
    pub fn update_snapshot(&mut self, snapshot: &mut Snapshot) {
        if snapshot.generation() == self.generation && self.generation != 0 {
            return;
        }
        // Copy only what changed, when the snapshot is the one last brought
        // up to date and the set of nodes (and so their order) is the same.
        let incremental = !self.order_stale
            && self.synced_generation != 0
            && snapshot.generation() == self.synced_generation;
        if incremental {
            for name in self.changed.drain() {
                if let Some(info) = self.nodes.get(&name) {
                    snapshot.replace(&name, Arc::clone(info));
                }
            }
            snapshot.set_namespace_labels(Arc::clone(&self.namespaces), self.generation);
        } else {
            *snapshot = self.snapshot();
            self.changed.clear();
        }
        self.synced_generation = self.generation;
    }

    /// A new snapshot of the current state.
    pub fn snapshot(&mut self) -> Snapshot {
        if self.order_stale || self.order.len() != self.node_count() {
            self.order = zone_interleaved(&self.nodes);
            self.order_stale = false;
        }
        let nodes = self
            .order
            .iter()
            .filter_map(|name| self.nodes.get(name).cloned())
            .collect();
        Snapshot::new(nodes, Arc::clone(&self.namespaces), self.generation)
    }
}

/// The zone of a node as kube-scheduler's node tree keys it: region and zone.
fn zone_key(node: &Node) -> String {
    let label = |k: &str| {
        node.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(k))
            .cloned()
            .unwrap_or_default()
    };
    format!("{}:\u{0}:{}", label(LABEL_REGION), label(LABEL_ZONE))
}

/// Node names taking one node of each zone in turn, as kube-scheduler's node
/// tree lists them, so that a search stopping early still sees every zone.
fn zone_interleaved(nodes: &HashMap<String, Arc<NodeInfo>>) -> Vec<String> {
    let mut zones: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, info) in nodes {
        if let Some(node) = info.node() {
            zones.entry(zone_key(node)).or_default().push(name.clone());
        }
    }
    let mut lists: Vec<std::vec::IntoIter<String>> = zones
        .into_values()
        .map(|mut names| {
            names.sort();
            names.into_iter()
        })
        .collect();
    let mut order = Vec::new();
    loop {
        let before = order.len();
        for list in lists.iter_mut() {
            if let Some(name) = list.next() {
                order.push(name);
            }
        }
        if order.len() == before {
            return order;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{node, on_node, pod_req, with_node_labels};

    fn cpu_requested(cache: &Cache, node: &str) -> i64 {
        cache
            .node_info(node)
            .map(|n| n.requested.milli_cpu)
            .unwrap_or(-1)
    }

    #[test]
    fn assumed_pod_counts_before_it_is_confirmed() {
        let mut cache = Cache::new();
        cache.add_node(node("n1", "4", "8Gi", "110"));
        let p = pod_req("a", "1", "1Gi");
        assert_eq!(cache.assume(&p, "n1"), Ok(()));
        assert_eq!(cpu_requested(&cache, "n1"), 1000);
        assert!(cache.is_assumed(&p));
        cache.add_pod(&on_node(p.clone(), "n1"));
        assert!(!cache.is_assumed(&p));
        assert_eq!(cpu_requested(&cache, "n1"), 1000);
    }

    #[test]
    fn confirmation_on_another_node_moves_the_pod() {
        let mut cache = Cache::new();
        cache.add_node(node("n1", "4", "8Gi", "110"));
        cache.add_node(node("n2", "4", "8Gi", "110"));
        let p = pod_req("a", "1", "1Gi");
        cache.assume(&p, "n1").ok();
        cache.add_pod(&on_node(p.clone(), "n2"));
        assert_eq!(cpu_requested(&cache, "n1"), 0);
        assert_eq!(cpu_requested(&cache, "n2"), 1000);
    }

    #[test]
    fn forget_undoes_assume() {
        let mut cache = Cache::new();
        cache.add_node(node("n1", "4", "8Gi", "110"));
        let p = pod_req("a", "1", "1Gi");
        cache.assume(&p, "n1").ok();
        assert_eq!(cache.forget(&p), Ok(()));
        assert_eq!(cpu_requested(&cache, "n1"), 0);
        assert!(cache.forget(&p).is_err());
    }

    #[test]
    fn assuming_a_cached_pod_is_an_error() {
        let mut cache = Cache::new();
        let p = pod_req("a", "1", "1Gi");
        cache.add_pod(&on_node(p.clone(), "n1"));
        assert!(matches!(
            cache.assume(&p, "n1"),
            Err(CacheError::AlreadyInCache(_))
        ));
    }

    #[test]
    fn assumed_pods_expire_only_after_binding_finished_and_ttl() {
        let mut cache = Cache::with_assumed_ttl(Duration::from_secs(30));
        cache.add_node(node("n1", "4", "8Gi", "110"));
        let p = pod_req("a", "1", "1Gi");
        let t0 = Instant::now();
        cache.assume(&p, "n1").ok();
        assert!(cache
            .cleanup_expired(t0 + Duration::from_secs(3600))
            .is_empty());
        cache.finish_binding(&p, t0).ok();
        assert!(cache
            .cleanup_expired(t0 + Duration::from_secs(29))
            .is_empty());
        assert_eq!(
            cache.cleanup_expired(t0 + Duration::from_secs(30)),
            vec!["default/a"]
        );
        assert_eq!(cpu_requested(&cache, "n1"), 0);
    }

    #[test]
    fn confirmed_pods_never_expire() {
        let mut cache = Cache::with_assumed_ttl(Duration::from_secs(1));
        let p = pod_req("a", "1", "1Gi");
        let t0 = Instant::now();
        cache.assume(&p, "n1").ok();
        cache.finish_binding(&p, t0).ok();
        cache.add_pod(&on_node(p, "n1"));
        assert!(cache
            .cleanup_expired(t0 + Duration::from_secs(60))
            .is_empty());
        assert_eq!(cache.pod_count(), 1);
    }

    #[test]
    fn pods_seen_before_their_node_are_kept() {
        let mut cache = Cache::new();
        cache.add_pod(&on_node(pod_req("a", "1", "1Gi"), "n1"));
        assert_eq!(cache.snapshot().len(), 0);
        cache.add_node(node("n1", "4", "8Gi", "110"));
        let snap = cache.snapshot();
        assert_eq!(snap.get("n1").map(|n| n.requested.milli_cpu), Some(1000));
    }

    #[test]
    fn snapshot_is_not_changed_by_later_updates() {
        let mut cache = Cache::new();
        cache.add_node(node("n1", "4", "8Gi", "110"));
        let snap = cache.snapshot();
        cache.add_pod(&on_node(pod_req("a", "1", "1Gi"), "n1"));
        assert_eq!(snap.get("n1").map(|n| n.requested.milli_cpu), Some(0));
        let mut snap2 = snap.clone();
        cache.update_snapshot(&mut snap2);
        assert_eq!(snap2.get("n1").map(|n| n.requested.milli_cpu), Some(1000));
        assert_eq!(snap2.generation(), cache.generation());
    }

    #[test]
    fn update_snapshot_copies_what_changed_and_sees_new_nodes() {
        let mut cache = Cache::new();
        cache.add_node(node("n1", "4", "8Gi", "110"));
        cache.add_node(node("n2", "4", "8Gi", "110"));
        let mut snap = Snapshot::default();
        cache.update_snapshot(&mut snap);
        let before = snap.clone();
        // Incremental: only n1 changed.
        cache.assume(&pod_req("a", "1", "1Gi"), "n1").ok();
        cache.update_snapshot(&mut snap);
        assert_eq!(snap.get("n1").map(|n| n.requested.milli_cpu), Some(1000));
        assert_eq!(snap.get("n2").map(|n| n.requested.milli_cpu), Some(0));
        assert_eq!(before.get("n1").map(|n| n.requested.milli_cpu), Some(0));
        // A removed pod and a new node show as well.
        cache.forget(&pod_req("a", "1", "1Gi")).ok();
        cache.add_node(node("n3", "4", "8Gi", "110"));
        cache.update_snapshot(&mut snap);
        assert_eq!(snap.len(), 3);
        assert_eq!(snap.get("n1").map(|n| n.requested.milli_cpu), Some(0));
        // A snapshot not brought up to date by this cache is rebuilt whole.
        let mut stale = before;
        cache.add_pod(&on_node(pod_req("b", "2", "1Gi"), "n2"));
        cache.update_snapshot(&mut snap);
        cache.update_snapshot(&mut stale);
        assert_eq!(stale.len(), 3);
        assert_eq!(stale.get("n2").map(|n| n.requested.milli_cpu), Some(2000));
        assert_eq!(snap.get("n2").map(|n| n.requested.milli_cpu), Some(2000));
    }

    #[test]
    fn nodes_are_listed_one_zone_at_a_time() {
        let mut cache = Cache::new();
        for (name, zone) in [
            ("a1", "a"),
            ("a2", "a"),
            ("a3", "a"),
            ("b1", "b"),
            ("c1", "c"),
            ("c2", "c"),
        ] {
            cache.add_node(with_node_labels(
                node(name, "1", "1Gi", "10"),
                &[(LABEL_ZONE, zone)],
            ));
        }
        let snap = cache.snapshot();
        let names: Vec<&str> = snap.nodes().iter().map(|n| n.name()).collect();
        assert_eq!(names, ["a1", "b1", "c1", "a2", "c2", "a3"]);
    }

    #[test]
    fn removing_a_node_hides_it_from_snapshots() {
        let mut cache = Cache::new();
        cache.add_node(node("n1", "4", "8Gi", "110"));
        cache.add_node(node("n2", "4", "8Gi", "110"));
        cache.remove_node("n1");
        let snap = cache.snapshot();
        assert_eq!(snap.len(), 1);
        assert!(snap.get("n1").is_none());
    }
}

//! A consistent view of the cluster for one scheduling cycle.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::node_info::NodeInfo;

/// Namespace name → that namespace's labels.
pub type NamespaceLabels = HashMap<String, BTreeMap<String, String>>;

/// The nodes (with their pods) and namespace labels one scheduling cycle
/// reads. Node records are shared with the cache and copied on write there, so
/// taking a snapshot copies pointers only, and later cache changes never show
/// through a snapshot already taken.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    nodes: Vec<Arc<NodeInfo>>,
    index: HashMap<String, usize>,
    with_affinity: Vec<usize>,
    with_required_anti_affinity: Vec<usize>,
    namespace_labels: Arc<NamespaceLabels>,
    generation: u64,
}

impl Snapshot {
    /// A snapshot of `nodes` in this order. Records without a node object are
    /// left out: nothing can be scheduled onto them.
    pub fn new(
        nodes: Vec<Arc<NodeInfo>>,
        namespace_labels: Arc<NamespaceLabels>,
        generation: u64,
    ) -> Self {
        let nodes: Vec<Arc<NodeInfo>> = nodes.into_iter().filter(|n| n.node().is_some()).collect();
        let index = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name().to_string(), i))
            .collect();
        let with_affinity = Self::positions(&nodes, |n| !n.pods_with_affinity.is_empty());
        let with_required_anti_affinity =
            Self::positions(&nodes, |n| !n.pods_with_required_anti_affinity.is_empty());
        Snapshot {
            nodes,
            index,
            with_affinity,
            with_required_anti_affinity,
            namespace_labels,
            generation,
        }
    }

    /// Puts the newer record of node `name` in place of the old one. A node
    /// the snapshot does not list is not added: adding or removing nodes
    /// changes their order, which takes a new snapshot.
    pub fn replace(&mut self, name: &str, info: Arc<NodeInfo>) {
        let Some(&i) = self.index.get(name) else {
            return;
        };
        let Some(slot) = self.nodes.get_mut(i) else {
            return;
        };
        let affinity_changed = slot.pods_with_affinity.is_empty()
            != info.pods_with_affinity.is_empty()
            || slot.pods_with_required_anti_affinity.is_empty()
                != info.pods_with_required_anti_affinity.is_empty();
        *slot = info;
        if affinity_changed {
            self.with_affinity = Self::positions(&self.nodes, |n| !n.pods_with_affinity.is_empty());
            self.with_required_anti_affinity = Self::positions(&self.nodes, |n| {
                !n.pods_with_required_anti_affinity.is_empty()
            });
        }
    }

    /// Sets the namespace labels and the generation after [`Snapshot::replace`]s.
    pub fn set_namespace_labels(&mut self, labels: Arc<NamespaceLabels>, generation: u64) {
        self.namespace_labels = labels;
        self.generation = generation;
    }

    fn positions(nodes: &[Arc<NodeInfo>], keep: impl Fn(&NodeInfo) -> bool) -> Vec<usize> {
        nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| keep(n))
            .map(|(i, _)| i)
            .collect()
    }

    /// All schedulable-to nodes, in the cache's zone-interleaved order.
    pub fn nodes(&self) -> &[Arc<NodeInfo>] {
        &self.nodes
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when the cluster has no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The node called `name`.
    pub fn get(&self, name: &str) -> Option<&NodeInfo> {
        self.index
            .get(name)
            .and_then(|i| self.nodes.get(*i))
            .map(|n| n.as_ref())
    }

    /// Nodes running at least one pod with pod affinity or anti-affinity.
    pub fn nodes_with_affinity_pods(&self) -> impl Iterator<Item = &NodeInfo> {
        self.with_affinity
            .iter()
            .filter_map(|i| self.nodes.get(*i))
            .map(|n| n.as_ref())
    }

    /// Nodes running at least one pod with required anti-affinity.
    pub fn nodes_with_required_anti_affinity_pods(&self) -> impl Iterator<Item = &NodeInfo> {
        self.with_required_anti_affinity
            .iter()
            .filter_map(|i| self.nodes.get(*i))
            .map(|n| n.as_ref())
    }

    /// The labels of namespace `ns`, when known.
    pub fn namespace_labels(&self, ns: &str) -> Option<&BTreeMap<String, String>> {
        self.namespace_labels.get(ns)
    }

    /// The cache generation this snapshot shows.
    pub fn generation(&self) -> u64 {
        self.generation
    }
}

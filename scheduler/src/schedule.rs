//! One scheduling decision: filter the nodes, score the feasible ones, pick
//! the best (kube-scheduler's `schedulePod`).

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::core::v1::Pod;
use rand::Rng;

use crate::framework::node_info::{pod_host_ports, NodeInfo};
use crate::framework::pod_info::PodInfo;
use crate::framework::snapshot::Snapshot;
use crate::framework::{FilterResult, Unschedulable};
use crate::plugins::node_affinity::RequiredNodeAffinity;
use crate::plugins::{
    balanced_allocation, inter_pod_affinity, node_affinity, node_name, node_ports,
    node_resources_fit, node_unschedulable, pod_topology_spread, taint_toleration,
};
use crate::plugins::{
    BALANCED_ALLOCATION_WEIGHT, INTER_POD_AFFINITY_WEIGHT, NODE_AFFINITY_WEIGHT,
    NODE_RESOURCES_FIT_WEIGHT, POD_TOPOLOGY_SPREAD_WEIGHT, TAINT_TOLERATION_WEIGHT,
};

/// Below this many nodes every node is searched; above, the search stops
/// after finding at least this many feasible ones (`minFeasibleNodesToFind`).
pub const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// The adaptive percentage never drops below this
/// (`minFeasibleNodesPercentageToFind`).
pub const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND: usize = 5;
/// The adaptive percentage for a small cluster (`DefaultPercentageOfNodesToScore`'s
/// base), reduced by 1 per 125 nodes.
pub const BASE_PERCENTAGE_OF_NODES_TO_SCORE: usize = 50;

/// What the event for an unschedulable pod says when there are no nodes.
pub const NO_NODES_AVAILABLE: &str = "no nodes available to schedule pods";

/// Tunables of the decision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScheduleOptions {
    /// `percentageOfNodesToScore`: 0 (the default) is adaptive, otherwise the
    /// share of nodes to find feasible before scoring.
    pub percentage_of_nodes_to_score: u32,
}

/// A decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleResult {
    /// The chosen node.
    pub node: String,
    /// Nodes filtered (feasible or not) before the search stopped.
    pub evaluated_nodes: usize,
    /// Feasible nodes found (and scored).
    pub feasible_nodes: usize,
}

/// No node fits the pod; displays as Kubernetes' FailedScheduling message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FitError {
    /// Nodes in the snapshot.
    pub num_all_nodes: usize,
    /// Why each node was rejected.
    pub node_to_status: BTreeMap<String, Unschedulable>,
}

impl std::error::Error for FitError {}

impl FitError {
    /// The filter plugins that rejected some node, each once.
    pub fn unschedulable_plugins(&self) -> Vec<&'static str> {
        let mut plugins: Vec<&'static str> =
            self.node_to_status.values().map(|s| s.plugin).collect();
        plugins.sort_unstable();
        plugins.dedup();
        plugins
    }
}

impl fmt::Display for FitError {
    /// `0/3 nodes are available: 1 Insufficient memory, 2 Insufficient cpu.`:
    /// each reason with the number of nodes giving it (a node giving two
    /// reasons counts for both), as strings sorted the way Go's `sort.Strings`
    /// sorts them (bytewise, count first), joined by ", ".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.num_all_nodes == 0 {
            return f.write_str(NO_NODES_AVAILABLE);
        }
        let mut histogram: BTreeMap<&str, usize> = BTreeMap::new();
        for status in self.node_to_status.values() {
            for reason in &status.reasons {
                *histogram.entry(reason.as_str()).or_insert(0) += 1;
            }
        }
        let mut parts: Vec<String> = histogram.iter().map(|(r, n)| format!("{n} {r}")).collect();
        parts.sort();
        write!(f, "0/{} nodes are available:", self.num_all_nodes)?;
        if !parts.is_empty() {
            write!(f, " {}.", parts.join(", "))?;
        }
        Ok(())
    }
}

/// How many feasible nodes to find before scoring (kube-scheduler's
/// `numFeasibleNodesToFind`): all of a cluster under 100 nodes; otherwise
/// `percentage` of them, at least 100, where percentage 0 means adaptive:
/// `max(5, 50 - nodes / 125)`.
pub fn num_feasible_nodes_to_find(percentage: u32, num_all_nodes: usize) -> usize {
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND {
        return num_all_nodes;
    }
    let percentage = match percentage as usize {
        0 => BASE_PERCENTAGE_OF_NODES_TO_SCORE
            .saturating_sub(num_all_nodes / 125)
            .max(MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND),
        p => p.min(100),
    };
    (num_all_nodes * percentage / 100).max(MIN_FEASIBLE_NODES_TO_FIND)
}

/// What the filters need of the pod, computed once per cycle (PreFilter).
struct CycleState<'a> {
    pod: &'a Pod,
    info: PodInfo,
    required_node_affinity: RequiredNodeAffinity,
    host_ports: Vec<(String, String, i32)>,
    spread: pod_topology_spread::filtering::PreFilterState,
    inter_pod: inter_pod_affinity::filtering::PreFilterState,
}

impl<'a> CycleState<'a> {
    fn new(pod: &'a Pod, snapshot: &Snapshot) -> Self {
        let info = PodInfo::new(pod.clone());
        let required_node_affinity = RequiredNodeAffinity::new(pod);
        let spread =
            pod_topology_spread::filtering::pre_filter(pod, snapshot, &required_node_affinity);
        let inter_pod = inter_pod_affinity::filtering::pre_filter(&info, snapshot);
        CycleState {
            pod,
            host_ports: pod_host_ports(pod),
            info,
            required_node_affinity,
            spread,
            inter_pod,
        }
    }

    /// The default profile's filters in its order; the first rejection wins.
    fn filter(&self, node: &NodeInfo) -> FilterResult {
        node_unschedulable::filter(self.pod, node)?;
        node_name::filter(self.pod, node)?;
        taint_toleration::filter(self.pod, node)?;
        node_affinity::filter(&self.required_node_affinity, node)?;
        node_ports::filter(&self.host_ports, node)?;
        node_resources_fit::filter(&self.info.requests, node)?;
        pod_topology_spread::filtering::filter(&self.spread, self.pod, node)?;
        inter_pod_affinity::filtering::filter(&self.inter_pod, &self.info, node)
    }

    /// Every score plugin's normalized, weighted score, summed per node.
    fn score(&self, snapshot: &Snapshot, nodes: &[&NodeInfo]) -> Vec<i64> {
        let mut total = vec![0i64; nodes.len()];
        let mut add = |weight: i64, scores: Vec<i64>| {
            for (t, s) in total.iter_mut().zip(scores) {
                *t = t.saturating_add(s.saturating_mul(weight));
            }
        };

        let tolerations = taint_toleration::pre_score(self.pod);
        let mut s: Vec<i64> = nodes
            .iter()
            .map(|n| taint_toleration::score(&tolerations, n))
            .collect();
        taint_toleration::normalize_score(&mut s);
        add(TAINT_TOLERATION_WEIGHT, s);

        if let Some(preferred) = node_affinity::pre_score(self.pod) {
            let mut s: Vec<i64> = nodes
                .iter()
                .map(|n| node_affinity::score(&preferred, n))
                .collect();
            node_affinity::normalize_score(&mut s);
            add(NODE_AFFINITY_WEIGHT, s);
        }

        let s = nodes
            .iter()
            .map(|n| node_resources_fit::score(&self.info.non_zero_requests, n))
            .collect();
        add(NODE_RESOURCES_FIT_WEIGHT, s);

        use pod_topology_spread::scoring as spread;
        if let Some(state) =
            spread::pre_score(self.pod, snapshot, nodes, &self.required_node_affinity)
        {
            let mut s: Vec<i64> = nodes
                .iter()
                .map(|n| spread::score(&state, self.pod, n))
                .collect();
            spread::normalize_score(&state, nodes, &mut s);
            add(POD_TOPOLOGY_SPREAD_WEIGHT, s);
        }

        use inter_pod_affinity::scoring as inter_pod;
        if let Some(state) = inter_pod::pre_score(&self.info, snapshot) {
            let mut s: Vec<i64> = nodes.iter().map(|n| inter_pod::score(&state, n)).collect();
            inter_pod::normalize_score(&mut s);
            add(INTER_POD_AFFINITY_WEIGHT, s);
        }

        if balanced_allocation::pre_score(&self.info.requests) {
            let s = nodes
                .iter()
                .map(|n| balanced_allocation::score(&self.info.requests, n))
                .collect();
            add(BALANCED_ALLOCATION_WEIGHT, s);
        }
        total
    }
}

/// Picks a node for `pod` with the default options; see [`schedule_one_with`].
pub fn schedule_one<R: Rng + ?Sized>(
    pod: &Pod,
    snapshot: &Snapshot,
    start_index: usize,
    rng: &mut R,
) -> Result<ScheduleResult, FitError> {
    schedule_one_with(&ScheduleOptions::default(), pod, snapshot, start_index, rng)
}

/// Picks a node for `pod`.
///
/// Filters nodes starting at `start_index` (so successive pods start where the
/// last search stopped, and every node gets its turn), stopping once
/// [`num_feasible_nodes_to_find`] nodes fit; scores those with the default
/// profile's weights and picks the highest, breaking ties uniformly at random.
/// The caller advances its start index by `evaluated_nodes`.
pub fn schedule_one_with<R: Rng + ?Sized>(
    options: &ScheduleOptions,
    pod: &Pod,
    snapshot: &Snapshot,
    start_index: usize,
    rng: &mut R,
) -> Result<ScheduleResult, FitError> {
    let all = snapshot.nodes();
    if all.is_empty() {
        return Err(FitError {
            num_all_nodes: 0,
            node_to_status: BTreeMap::new(),
        });
    }
    let state = CycleState::new(pod, snapshot);
    let wanted = num_feasible_nodes_to_find(options.percentage_of_nodes_to_score, all.len());
    let mut feasible: Vec<&NodeInfo> = Vec::with_capacity(wanted.min(all.len()));
    let mut rejected = BTreeMap::new();
    let start = start_index % all.len();
    for node in all.iter().cycle().skip(start).take(all.len()) {
        if feasible.len() >= wanted {
            break;
        }
        match state.filter(node) {
            Ok(()) => feasible.push(node.as_ref()),
            Err(why) => {
                rejected.insert(node.name().to_string(), why);
            }
        }
    }
    let evaluated_nodes = feasible.len() + rejected.len();
    let feasible_nodes = feasible.len();
    let chosen = match feasible.as_slice() {
        [] => {
            return Err(FitError {
                num_all_nodes: all.len(),
                node_to_status: rejected,
            })
        }
        // One candidate needs no scoring.
        [only] => only.name().to_string(),
        _ => {
            let scores = state.score(snapshot, &feasible);
            select_host(&feasible, &scores, rng)
        }
    };
    Ok(ScheduleResult {
        node: chosen,
        evaluated_nodes,
        feasible_nodes,
    })
}

/// The highest-scoring node, each of several equal best ones equally likely
/// (reservoir sampling over the ties).
fn select_host<R: Rng + ?Sized>(nodes: &[&NodeInfo], scores: &[i64], rng: &mut R) -> String {
    let mut best: Option<(&str, i64)> = None;
    let mut ties = 0u32;
    for (node, score) in nodes.iter().zip(scores) {
        match best {
            Some((_, top)) if *score < top => {}
            Some((_, top)) if *score == top => {
                ties += 1;
                if rng.gen_range(0..ties) == 0 {
                    best = Some((node.name(), *score));
                }
            }
            _ => {
                ties = 1;
                best = Some((node.name(), *score));
            }
        }
    }
    best.map(|(n, _)| n.to_string()).unwrap_or_default()
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;

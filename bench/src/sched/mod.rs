//! `berth-bench sched`: scheduling throughput and latency at scale, the
//! figure kube-scheduler publishes (scheduler_perf's SchedulingBasic: pods
//! of 100m cpu and 500Mi memory onto nodes of 4 cpu, 32Gi and 110 pods).
//!
//! Two ways to run it:
//! - [`core`]: berth's scheduler in this process, fed the nodes and pods an
//!   informer would deliver, bindings confirmed at once: the algorithm,
//!   queue and cache alone.
//! - [`api`]: through a running berth server, whose elected scheduler sees
//!   the nodes and pods this benchmark creates; a pod counts as scheduled
//!   when its watch shows `spec.nodeName`: what kube-scheduler's published
//!   figure measures.

pub mod api;
pub mod core;

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use k8s_openapi::api::core::v1::{
    Container, Node, NodeCondition, NodeStatus, Pod, PodSpec, ResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

/// The shape of a run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Nodes in the cluster.
    pub nodes: usize,
    /// Pods to schedule (measured).
    pub pods: usize,
    /// Pods placed before measuring (scheduler_perf's "initPods").
    pub existing: usize,
    /// Pods per owner: pods of one owner share an `app` label, so the
    /// default topology spread spreads them.
    pub pods_per_app: usize,
    /// Zones the nodes are spread over (`topology.kubernetes.io/zone`).
    pub zones: usize,
}

/// What a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `core` or `api`.
    pub mode: String,
    /// Nodes.
    pub nodes: usize,
    /// Measured pods.
    pub pods: usize,
    /// Pods scheduled per second over the measured pods.
    pub pods_per_second: f64,
    /// Latency percentiles in milliseconds: in `core` mode one decision
    /// (filter, score, assume); in `api` mode from the pod's creation
    /// acknowledged to its binding seen on the watch.
    pub p50_ms: f64,
    /// 90th percentile, milliseconds.
    pub p90_ms: f64,
    /// 99th percentile, milliseconds.
    pub p99_ms: f64,
    /// Maximum, milliseconds.
    pub max_ms: f64,
    /// Pods that were not scheduled.
    pub unscheduled: usize,
}

impl Report {
    fn new(mode: &str, config: &Config, elapsed: Duration, latency: &Histogram<u64>) -> Self {
        let ms = |q: f64| latency.value_at_quantile(q) as f64 / 1000.0;
        Report {
            mode: mode.to_string(),
            nodes: config.nodes,
            pods: config.pods,
            pods_per_second: latency.len() as f64 / elapsed.as_secs_f64().max(1e-9),
            p50_ms: ms(0.50),
            p90_ms: ms(0.90),
            p99_ms: ms(0.99),
            max_ms: latency.max() as f64 / 1000.0,
            unscheduled: config.pods.saturating_sub(latency.len() as usize),
        }
    }

    /// Column names of [`Report::row`].
    pub fn header() -> &'static str {
        "mode   nodes   pods    pods/s     p50 ms   p90 ms   p99 ms   max ms   unscheduled"
    }

    /// One table row.
    pub fn row(&self) -> String {
        format!(
            "{:<6} {:<7} {:<7} {:<10.0} {:<8.3} {:<8.3} {:<8.3} {:<8.3} {}",
            self.mode,
            self.nodes,
            self.pods,
            self.pods_per_second,
            self.p50_ms,
            self.p90_ms,
            self.p99_ms,
            self.max_ms,
            self.unscheduled
        )
    }
}

/// Microseconds from 1 µs to 10 minutes at 3 significant digits.
/// A histogram of microseconds up to ten minutes.
pub(crate) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("constant histogram bounds are valid")
}

/// Records `took` in microseconds.
pub(crate) fn record(h: &mut Histogram<u64>, took: Duration) {
    h.saturating_record(u64::try_from(took.as_micros()).unwrap_or(u64::MAX).max(1));
}

fn quantities(pairs: &[(&str, &str)]) -> BTreeMap<String, Quantity> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
        .collect()
}

/// Node `i`: scheduler_perf's default node (4 cpu, 32Gi, 110 pods), Ready,
/// in zone `i % zones`.
pub fn node(i: usize, zones: usize) -> Node {
    let name = format!("bench-node-{i}");
    let allocatable = quantities(&[("cpu", "4"), ("memory", "32Gi"), ("pods", "110")]);
    Node {
        metadata: ObjectMeta {
            labels: Some(
                [
                    ("kubernetes.io/hostname".to_string(), name.clone()),
                    ("kubernetes.io/os".to_string(), "linux".to_string()),
                    (
                        "topology.kubernetes.io/zone".to_string(),
                        format!("zone-{}", i % zones.max(1)),
                    ),
                ]
                .into(),
            ),
            name: Some(name),
            ..ObjectMeta::default()
        },
        status: Some(NodeStatus {
            capacity: Some(allocatable.clone()),
            allocatable: Some(allocatable),
            conditions: Some(vec![NodeCondition {
                type_: "Ready".into(),
                status: "True".into(),
                ..NodeCondition::default()
            }]),
            ..NodeStatus::default()
        }),
        ..Node::default()
    }
}

/// Pending pod `i` in namespace `ns`: scheduler_perf's default pod (one
/// container requesting 100m cpu and 500Mi memory), labelled with its app.
pub fn pod(ns: &str, prefix: &str, i: usize, pods_per_app: usize) -> Pod {
    let name = format!("{prefix}-{i}");
    Pod {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(ns.to_string()),
            uid: Some(format!("{ns}-{name}")),
            labels: Some(
                [(
                    "app".to_string(),
                    format!("{prefix}-app-{}", i / pods_per_app.max(1)),
                )]
                .into(),
            ),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "pause".into(),
                image: Some("localhost/pause:latest".into()),
                resources: Some(ResourceRequirements {
                    requests: Some(quantities(&[("cpu", "100m"), ("memory", "500Mi")])),
                    ..ResourceRequirements::default()
                }),
                ..Container::default()
            }],
            scheduler_name: Some("default-scheduler".into()),
            ..PodSpec::default()
        }),
        ..Pod::default()
    }
}

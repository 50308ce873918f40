//! The scheduler as its wiring sees it: informer events in, pods to schedule
//! out, decisions assumed into the cache until the binding is seen.
//!
//! The wiring's loop:
//!
//! ```text
//! while let Some(pod) = scheduler.next().await {
//!     match scheduler.schedule(&pod) {
//!         Ok(node) => match bind(&pod, &node).await {
//!             Ok(()) => scheduler.bound(&pod),
//!             Err(_) => scheduler.forget(&pod),
//!         },
//!         Err(fit) => { record FailedScheduling with fit.to_string(); scheduler.unschedulable(&pod, &fit) }
//!     }
//! }
//! ```

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::time::Instant;

use crate::framework::cache::Cache;
use crate::framework::pod_node_name;
use crate::framework::snapshot::Snapshot;
use crate::queue::{ClusterEvent, QueueConfig, QueueCounts, SchedulingQueue};
use crate::schedule::{schedule_one_with, FitError, ScheduleOptions};

/// The `spec.schedulerName` this scheduler serves by default (also what the
/// apiserver defaults an empty one to).
pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";

/// Settings of a [`Scheduler`].
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Pods naming this scheduler are scheduled; others are left alone.
    pub scheduler_name: String,
    /// `percentageOfNodesToScore` (0: adaptive).
    pub percentage_of_nodes_to_score: u32,
    /// Queue durations.
    pub queue: QueueConfig,
    /// Time-to-live of assumed pods after binding (None, Kubernetes' choice:
    /// they stay until the informer confirms or deletes them).
    pub assumed_pod_ttl: Option<Duration>,
    /// Seed of the tie-breaking randomness (None: from the OS).
    pub seed: Option<u64>,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            scheduler_name: DEFAULT_SCHEDULER_NAME.to_string(),
            percentage_of_nodes_to_score: 0,
            queue: QueueConfig::default(),
            assumed_pod_ttl: None,
            seed: None,
        }
    }
}

struct Cycle {
    snapshot: Snapshot,
    next_start_index: usize,
    rng: StdRng,
}

/// Cache, queue and algorithm together. Every method takes `&self`; share it
/// in an `Arc` between the informer handlers and the scheduling loop.
pub struct Scheduler {
    config: SchedulerConfig,
    cache: Mutex<Cache>,
    queue: SchedulingQueue,
    cycle: Mutex<Cycle>,
}

fn relock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded state is updated in single steps; a panic in another
    // thread cannot leave it half-changed.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Pods that finished hold nothing on their node: kube-scheduler's informer
/// does not even list them (field selector `status.phase!=Succeeded,
/// status.phase!=Failed`).
fn is_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

fn node_changed_for_scheduling(old: &Node, new: &Node) -> bool {
    old.metadata.labels != new.metadata.labels
        || old.spec.as_ref().map(|s| (&s.taints, s.unschedulable))
            != new.spec.as_ref().map(|s| (&s.taints, s.unschedulable))
        || old.status.as_ref().map(|s| &s.allocatable)
            != new.status.as_ref().map(|s| &s.allocatable)
}

impl Scheduler {
    /// A scheduler with empty cache and queue.
    pub fn new(config: SchedulerConfig) -> Self {
        let cache = match config.assumed_pod_ttl {
            Some(ttl) => Cache::with_assumed_ttl(ttl),
            None => Cache::new(),
        };
        let rng = match config.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_entropy(),
        };
        Scheduler {
            queue: SchedulingQueue::with_config(config.queue),
            cache: Mutex::new(cache),
            cycle: Mutex::new(Cycle {
                snapshot: Snapshot::default(),
                next_start_index: 0,
                rng,
            }),
            config,
        }
    }

    fn responsible_for(&self, pod: &Pod) -> bool {
        let name = pod
            .spec
            .as_ref()
            .and_then(|s| s.scheduler_name.as_deref())
            .filter(|n| !n.is_empty())
            .unwrap_or(DEFAULT_SCHEDULER_NAME);
        name == self.config.scheduler_name
    }

    /// A node appeared.
    pub fn on_node_add(&self, node: &Node) {
        relock(&self.cache).add_node(node.clone());
        self.queue
            .move_all_to_active_or_backoff(ClusterEvent::NodeAdd);
    }

    /// A node changed; parked pods are retried when something scheduling
    /// looks at changed (labels, taints, cordon, allocatable).
    pub fn on_node_update(&self, old: &Node, new: &Node) {
        relock(&self.cache).update_node(new.clone());
        if node_changed_for_scheduling(old, new) {
            self.queue
                .move_all_to_active_or_backoff(ClusterEvent::NodeUpdate);
        }
    }

    /// A node went away.
    pub fn on_node_delete(&self, node: &Node) {
        if let Some(name) = node.metadata.name.as_deref() {
            relock(&self.cache).remove_node(name);
        }
    }

    /// A pod appeared: bound pods go to the cache, pending pods of this
    /// scheduler to the queue.
    pub fn on_pod_add(&self, pod: &Pod) {
        if is_terminal(pod) {
            return;
        }
        if pod_node_name(pod).is_some() {
            relock(&self.cache).add_pod(pod);
            self.queue.delete(pod);
            self.queue
                .move_all_to_active_or_backoff(ClusterEvent::AssignedPodAdd);
        } else if self.responsible_for(pod) && pod.metadata.deletion_timestamp.is_none() {
            self.queue.add(pod.clone());
        }
    }

    /// A pod changed. A pod seen bound for the first time confirms what the
    /// cache assumed.
    pub fn on_pod_update(&self, old: &Pod, new: &Pod) {
        if is_terminal(new) {
            return self.on_pod_delete(new);
        }
        if pod_node_name(new).is_some() {
            let first_seen_bound = pod_node_name(old).is_none();
            if first_seen_bound {
                relock(&self.cache).add_pod(new);
            } else {
                relock(&self.cache).update_pod(old, new);
            }
            self.queue.delete(new);
            self.queue
                .move_all_to_active_or_backoff(if first_seen_bound {
                    ClusterEvent::AssignedPodAdd
                } else {
                    ClusterEvent::AssignedPodUpdate
                });
        } else if self.responsible_for(new) {
            if new.metadata.deletion_timestamp.is_some() {
                self.queue.delete(new);
            } else {
                self.queue.update(old, new.clone());
            }
        }
    }

    /// A pod was deleted: it leaves the queue, and the cache (bound or
    /// assumed) with what it held.
    pub fn on_pod_delete(&self, pod: &Pod) {
        self.queue.delete(pod);
        let held = {
            let mut cache = relock(&self.cache);
            let held = cache.pod_node(pod).is_some();
            cache.remove_pod(pod);
            held
        };
        if held {
            self.queue
                .move_all_to_active_or_backoff(ClusterEvent::AssignedPodDelete);
        }
    }

    /// A namespace appeared or its labels changed.
    pub fn on_namespace_update(&self, ns: &Namespace) {
        relock(&self.cache).add_namespace(ns);
        self.queue
            .move_all_to_active_or_backoff(ClusterEvent::NamespaceChange);
    }

    /// A namespace was deleted.
    pub fn on_namespace_delete(&self, ns: &Namespace) {
        if let Some(name) = ns.metadata.name.as_deref() {
            relock(&self.cache).remove_namespace(name);
        }
    }

    /// Waits for the next pod to schedule; `None` after [`Scheduler::close`].
    /// Pods the cache already holds (assumed or bound meanwhile) are skipped.
    pub async fn next(&self) -> Option<Pod> {
        loop {
            let pod = self.queue.pop().await?;
            if relock(&self.cache).pod_node(&pod).is_some() {
                self.queue.done(&pod);
                continue;
            }
            return Some(pod);
        }
    }

    /// Picks a node for `pod` and assumes the pod there, so the next decision
    /// already counts it. On error the pod is unschedulable; pass the error to
    /// [`Scheduler::unschedulable`].
    pub fn schedule(&self, pod: &Pod) -> Result<String, FitError> {
        let mut cycle = relock(&self.cycle);
        let Cycle {
            snapshot,
            next_start_index,
            rng,
        } = &mut *cycle;
        relock(&self.cache).update_snapshot(snapshot);
        let options = ScheduleOptions {
            percentage_of_nodes_to_score: self.config.percentage_of_nodes_to_score,
        };
        let result = schedule_one_with(&options, pod, snapshot, *next_start_index, rng)?;
        *next_start_index = (*next_start_index + result.evaluated_nodes) % snapshot.len().max(1);
        let mut cache = relock(&self.cache);
        if let Err(e) = cache.assume(pod, &result.node) {
            // The informer already reported the pod bound: keep its node.
            tracing::debug!(error = %e, "pod already in the cache");
            if let Some(node) = cache.pod_node(pod) {
                return Ok(node.to_string());
            }
        }
        tracing::debug!(
            node = %result.node,
            evaluated = result.evaluated_nodes,
            feasible = result.feasible_nodes,
            "pod scheduled"
        );
        Ok(result.node)
    }

    /// The binding of `pod` was written.
    pub fn bound(&self, pod: &Pod) {
        if let Err(e) = relock(&self.cache).finish_binding(pod, Instant::now()) {
            tracing::debug!(error = %e, "binding finished for a pod not assumed");
        }
        self.queue.done(pod);
    }

    /// The binding of `pod` failed: the assumption is undone and the pod
    /// retried after its backoff.
    pub fn forget(&self, pod: &Pod) {
        if let Err(e) = relock(&self.cache).forget(pod) {
            tracing::debug!(error = %e, "forget of a pod not assumed");
        }
        self.queue.add_backoff(pod);
    }

    /// `pod` fits no node: it waits for a cluster event that may help.
    pub fn unschedulable(&self, pod: &Pod, err: &FitError) {
        self.queue
            .add_unschedulable(pod, &err.unschedulable_plugins());
    }

    /// The attempt for `pod` failed for another reason: retry after backoff.
    pub fn backoff(&self, pod: &Pod) {
        self.queue.add_backoff(pod);
    }

    /// Drops assumed pods whose time-to-live ran out (call periodically when
    /// a TTL is configured).
    pub fn cleanup_expired(&self) -> Vec<String> {
        relock(&self.cache).cleanup_expired(Instant::now())
    }

    /// Stops [`Scheduler::next`].
    pub fn close(&self) {
        self.queue.close();
    }

    /// How many pods wait where.
    pub fn queue_counts(&self) -> QueueCounts {
        self.queue.counts()
    }

    /// Number of nodes and of pods (assumed included) in the cache.
    pub fn cache_counts(&self) -> (usize, usize) {
        let cache = relock(&self.cache);
        (cache.node_count(), cache.pod_count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{node, on_node, owned_by_replica_set, pod, pod_req, spec, with_labels};
    use std::collections::BTreeSet;

    fn scheduler(nodes: &[&str]) -> Scheduler {
        let s = Scheduler::new(SchedulerConfig {
            seed: Some(1),
            ..Default::default()
        });
        for n in nodes {
            s.on_node_add(&node(n, "2", "4Gi", "110"));
        }
        s
    }

    #[tokio::test(start_paused = true)]
    async fn replicas_are_spread_and_confirmed() {
        let s = scheduler(&["n1", "n2", "n3"]);
        for i in 0..3 {
            let p = owned_by_replica_set(
                with_labels(
                    pod_req(&format!("web-{i}"), "100m", "100Mi"),
                    &[("app", "web")],
                ),
                "web",
            );
            s.on_pod_add(&p);
        }
        let mut nodes = BTreeSet::new();
        for _ in 0..3 {
            let Some(p) = s.next().await else { break };
            let Ok(n) = s.schedule(&p) else { break };
            s.bound(&p);
            s.on_pod_update(&p, &on_node(p.clone(), &n));
            nodes.insert(n);
        }
        assert_eq!(nodes.len(), 3);
        assert_eq!(s.cache_counts(), (3, 3));
        assert_eq!(s.queue_counts(), QueueCounts::default());
    }

    #[tokio::test(start_paused = true)]
    async fn unschedulable_pod_is_retried_when_a_node_is_added() {
        let s = scheduler(&["small"]);
        s.on_pod_add(&pod_req("big", "4", "1Gi"));
        let p = s.next().await.unwrap_or_default();
        let err = s.schedule(&p).err();
        assert_eq!(
            err.as_ref().map(ToString::to_string).as_deref(),
            Some("0/1 nodes are available: 1 Insufficient cpu.")
        );
        if let Some(err) = err {
            s.unschedulable(&p, &err);
        }
        assert_eq!(s.queue_counts().unschedulable, 1);
        tokio::time::sleep(Duration::from_secs(2)).await;
        s.on_node_add(&node("large", "8", "16Gi", "110"));
        assert_eq!(s.queue_counts().active, 1);
        let p = s.next().await.unwrap_or_default();
        assert_eq!(s.schedule(&p), Ok("large".to_string()));
    }

    #[tokio::test(start_paused = true)]
    async fn failed_binding_frees_the_node_and_retries() {
        let s = scheduler(&["n1"]);
        s.on_pod_add(&pod_req("a", "2", "1Gi"));
        let a = s.next().await.unwrap_or_default();
        assert_eq!(s.schedule(&a), Ok("n1".to_string()));
        // Assumed: a second pod of the same size no longer fits.
        assert!(s.schedule(&pod_req("b", "2", "1Gi")).is_err());
        s.forget(&a);
        assert!(s.schedule(&pod_req("b", "2", "1Gi")).is_ok());
        assert_eq!(s.queue_counts().backoff, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn pods_of_other_schedulers_and_bound_pods_are_not_queued() {
        let s = scheduler(&["n1"]);
        let mut other = pod("other");
        spec(&mut other).scheduler_name = Some("my-scheduler".into());
        s.on_pod_add(&other);
        s.on_pod_add(&on_node(pod("bound"), "n1"));
        assert_eq!(s.queue_counts(), QueueCounts::default());
        assert_eq!(s.cache_counts(), (1, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn finished_pods_free_their_node() {
        let s = scheduler(&["n1"]);
        let job = on_node(pod_req("job", "2", "1Gi"), "n1");
        s.on_pod_add(&job);
        assert!(s.schedule(&pod_req("p", "1", "1Gi")).is_err());
        let mut done = job.clone();
        done.status = Some(k8s_openapi::api::core::v1::PodStatus {
            phase: Some("Succeeded".into()),
            ..Default::default()
        });
        s.on_pod_update(&job, &done);
        assert_eq!(s.cache_counts(), (1, 0));
        assert_eq!(s.schedule(&pod_req("p", "1", "1Gi")), Ok("n1".to_string()));
    }

    #[tokio::test(start_paused = true)]
    async fn deleting_a_bound_pod_retries_pods_waiting_for_room() {
        let s = scheduler(&["n1"]);
        let hog = on_node(pod_req("hog", "2", "1Gi"), "n1");
        s.on_pod_add(&hog);
        s.on_pod_add(&pod_req("p", "1", "1Gi"));
        let p = s.next().await.unwrap_or_default();
        if let Err(err) = s.schedule(&p) {
            s.unschedulable(&p, &err);
        }
        assert_eq!(s.queue_counts().unschedulable, 1);
        tokio::time::sleep(Duration::from_secs(2)).await;
        s.on_pod_delete(&hog);
        let p = s.next().await.unwrap_or_default();
        assert_eq!(s.schedule(&p), Ok("n1".to_string()));
    }
}

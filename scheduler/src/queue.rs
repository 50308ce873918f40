//! The scheduling queue of pending pods, as kube-scheduler's PriorityQueue:
//!
//! - **activeQ**: pods ready for an attempt, highest priority first, then the
//!   earliest queued;
//! - **backoffQ**: pods waiting out their backoff after a failed attempt
//!   (1 s, doubling per attempt, at most 10 s);
//! - **unschedulable pods**: pods that fit nowhere, parked until a cluster
//!   event could make them fit (node added or changed, pod deleted, assigned
//!   pod changed) or until they have waited 5 minutes;
//! - **gated pods**: pods with `schedulingGates`, held until the gates are gone.
//!
//! A popped pod is *in flight* until its attempt ends. An update or a cluster
//! event arriving meanwhile is not lost: the pod comes back to activeQ or
//! backoffQ rather than being parked as unschedulable.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::framework::pod_key;

/// Backoff after the first failed attempt (`podInitialBackoffDuration`).
pub const DEFAULT_POD_INITIAL_BACKOFF: Duration = Duration::from_secs(1);
/// Longest backoff (`podMaxBackoffDuration`).
pub const DEFAULT_POD_MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Longest stay among unschedulable pods without a retry
/// (`podMaxInUnschedulablePodsDuration`).
pub const DEFAULT_POD_MAX_IN_UNSCHEDULABLE_PODS: Duration = Duration::from_secs(5 * 60);

/// Durations of the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueConfig {
    /// Backoff after the first failed attempt.
    pub initial_backoff: Duration,
    /// Longest backoff.
    pub max_backoff: Duration,
    /// Longest stay among unschedulable pods.
    pub max_in_unschedulable: Duration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            initial_backoff: DEFAULT_POD_INITIAL_BACKOFF,
            max_backoff: DEFAULT_POD_MAX_BACKOFF,
            max_in_unschedulable: DEFAULT_POD_MAX_IN_UNSCHEDULABLE_PODS,
        }
    }
}

/// How many pods wait where.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueCounts {
    /// In activeQ.
    pub active: usize,
    /// In backoffQ.
    pub backoff: usize,
    /// Parked as unschedulable.
    pub unschedulable: usize,
    /// Held by scheduling gates.
    pub gated: usize,
    /// Popped and not yet done.
    pub in_flight: usize,
}

/// A change in the cluster that may let parked pods fit somewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterEvent {
    /// A node was added.
    NodeAdd,
    /// A node's labels, taints, allocatable or cordon changed.
    NodeUpdate,
    /// A pod was bound to a node.
    AssignedPodAdd,
    /// A bound pod changed.
    AssignedPodUpdate,
    /// A bound pod was deleted, freeing what it held.
    AssignedPodDelete,
    /// A namespace's labels changed (namespace selectors of affinity terms).
    NamespaceChange,
}

impl ClusterEvent {
    /// Whether this event can undo a rejection by one of `plugins` (the
    /// filters that rejected the pod's nodes; none known: assume it can).
    pub fn may_help(self, plugins: &[&str]) -> bool {
        use crate::plugins::{
            inter_pod_affinity, node_ports, node_resources_fit, pod_topology_spread,
        };
        let helps: &[&str] = match self {
            ClusterEvent::NodeAdd | ClusterEvent::NodeUpdate => return true,
            ClusterEvent::AssignedPodDelete => &[
                node_resources_fit::NAME,
                node_ports::NAME,
                pod_topology_spread::NAME,
                inter_pod_affinity::NAME,
            ],
            ClusterEvent::AssignedPodAdd | ClusterEvent::AssignedPodUpdate => {
                &[pod_topology_spread::NAME, inter_pod_affinity::NAME]
            }
            ClusterEvent::NamespaceChange => &[inter_pod_affinity::NAME],
        };
        plugins.is_empty() || plugins.iter().any(|p| helps.contains(p))
    }
}

type ActiveKey = (Reverse<i32>, Instant, u64);
type BackoffKey = (Instant, u64);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Location {
    Active(ActiveKey),
    Backoff(BackoffKey),
    Unschedulable,
    Gated,
}

#[derive(Debug, Clone)]
struct QueuedPod {
    pod: Pod,
    /// When the pod was last put (back) into the queue.
    timestamp: Instant,
    /// Attempts made so far.
    attempts: u32,
    /// Filters that rejected the pod in its last attempt.
    unschedulable_plugins: Vec<&'static str>,
}

#[derive(Debug)]
struct InFlight {
    queued: QueuedPod,
    /// Scheduling cycle of the attempt.
    cycle: u64,
    /// A newer version that arrived during the attempt.
    updated: Option<Pod>,
    deleted: bool,
}

#[derive(Debug, Default)]
struct State {
    pods: HashMap<String, (QueuedPod, Location)>,
    active: BTreeMap<ActiveKey, String>,
    backoff: BTreeMap<BackoffKey, String>,
    in_flight: HashMap<String, InFlight>,
    scheduling_cycle: u64,
    move_request_cycle: u64,
    seq: u64,
    closed: bool,
}

fn priority(pod: &Pod) -> i32 {
    pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0)
}

fn is_gated(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.scheduling_gates.as_ref())
        .is_some_and(|g| !g.is_empty())
}

/// Whether an update could change the scheduling outcome: status-only and
/// bookkeeping changes cannot.
fn is_pod_updated(old: &Pod, new: &Pod) -> bool {
    old.spec != new.spec
        || old.metadata.labels != new.metadata.labels
        || old.metadata.annotations != new.metadata.annotations
}

impl State {
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn backoff_duration(config: &QueueConfig, attempts: u32) -> Duration {
        let mut d = config.initial_backoff;
        for _ in 1..attempts {
            if d >= config.max_backoff {
                break;
            }
            d = d.saturating_mul(2);
        }
        d.min(config.max_backoff)
    }

    fn backoff_expiry(config: &QueueConfig, q: &QueuedPod) -> Instant {
        q.timestamp + Self::backoff_duration(config, q.attempts)
    }

    /// Takes the pod `key` out of whichever structure holds it.
    fn unlink(&mut self, key: &str) -> Option<QueuedPod> {
        let (q, loc) = self.pods.remove(key)?;
        match loc {
            Location::Active(k) => {
                self.active.remove(&k);
            }
            Location::Backoff(k) => {
                self.backoff.remove(&k);
            }
            Location::Unschedulable | Location::Gated => {}
        }
        Some(q)
    }

    fn place(&mut self, key: String, q: QueuedPod, loc: Location) {
        match loc {
            Location::Active(k) => {
                self.active.insert(k, key.clone());
            }
            Location::Backoff(k) => {
                self.backoff.insert(k, key.clone());
            }
            Location::Unschedulable | Location::Gated => {}
        }
        self.pods.insert(key, (q, loc));
    }

    fn enqueue_active(&mut self, key: String, q: QueuedPod) {
        if is_gated(&q.pod) {
            return self.place(key, q, Location::Gated);
        }
        let k = (Reverse(priority(&q.pod)), q.timestamp, self.next_seq());
        self.place(key, q, Location::Active(k));
    }

    fn enqueue_backoff(&mut self, config: &QueueConfig, key: String, q: QueuedPod) {
        if is_gated(&q.pod) {
            return self.place(key, q, Location::Gated);
        }
        let k = (Self::backoff_expiry(config, &q), self.next_seq());
        self.place(key, q, Location::Backoff(k));
    }

    /// activeQ if the pod's backoff is over, else backoffQ.
    fn enqueue_active_or_backoff(
        &mut self,
        config: &QueueConfig,
        key: String,
        q: QueuedPod,
        now: Instant,
    ) {
        if q.attempts > 0 && Self::backoff_expiry(config, &q) > now {
            self.enqueue_backoff(config, key, q);
        } else {
            self.enqueue_active(key, q);
        }
    }

    fn flush(&mut self, config: &QueueConfig, now: Instant) -> bool {
        let mut moved = false;
        while let Some((&(expiry, seq), _)) = self.backoff.first_key_value() {
            if expiry > now {
                break;
            }
            if let Some(key) = self.backoff.remove(&(expiry, seq)) {
                if let Some((q, _)) = self.pods.remove(&key) {
                    self.enqueue_active(key, q);
                    moved = true;
                }
            }
        }
        let stale: Vec<String> = self
            .pods
            .iter()
            .filter(|(_, (q, loc))| {
                *loc == Location::Unschedulable
                    && now.duration_since(q.timestamp) >= config.max_in_unschedulable
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in stale {
            if let Some(q) = self.unlink(&key) {
                self.enqueue_active_or_backoff(config, key, q, now);
                moved = true;
            }
        }
        moved
    }

    /// When the next backoff ends or unschedulable pod goes stale.
    fn next_deadline(&self, config: &QueueConfig) -> Option<Instant> {
        let backoff = self.backoff.keys().next().map(|(t, _)| *t);
        let stale = self
            .pods
            .values()
            .filter(|(_, loc)| *loc == Location::Unschedulable)
            .map(|(q, _)| q.timestamp + config.max_in_unschedulable)
            .min();
        match (backoff, stale) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn pop_active(&mut self) -> Option<Pod> {
        let (_, key) = self.active.pop_first()?;
        let (mut q, _) = self.pods.remove(&key)?;
        q.attempts = q.attempts.saturating_add(1);
        self.scheduling_cycle += 1;
        let pod = q.pod.clone();
        self.in_flight.insert(
            key,
            InFlight {
                queued: q,
                cycle: self.scheduling_cycle,
                updated: None,
                deleted: false,
            },
        );
        Some(pod)
    }
}

/// Pending pods waiting for a scheduling attempt.
#[derive(Debug, Default)]
pub struct SchedulingQueue {
    state: Mutex<State>,
    notify: Notify,
    config: QueueConfig,
}

impl SchedulingQueue {
    /// A queue with Kubernetes' default durations.
    pub fn new() -> Self {
        Self::with_config(QueueConfig::default())
    }

    /// A queue with the given durations.
    pub fn with_config(config: QueueConfig) -> Self {
        SchedulingQueue {
            state: Mutex::new(State::default()),
            notify: Notify::new(),
            config,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves consistent maps
        // (every change is a single insert/remove pair), so keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a new pending pod (or replaces a queued one of the same name).
    pub fn add(&self, pod: Pod) {
        let key = pod_key(&pod);
        let mut st = self.lock();
        if let Some(flight) = st.in_flight.get_mut(&key) {
            flight.updated = Some(pod);
            return;
        }
        let queued = match st.unlink(&key) {
            Some(mut q) => {
                q.pod = pod;
                q
            }
            None => QueuedPod {
                pod,
                timestamp: Instant::now(),
                attempts: 0,
                unschedulable_plugins: Vec::new(),
            },
        };
        st.enqueue_active(key, queued);
        drop(st);
        self.notify.notify_one();
    }

    /// A pending pod changed. Queued pods are updated in place; a parked
    /// unschedulable (or gated) pod whose spec or labels changed is retried.
    pub fn update(&self, old: &Pod, new: Pod) {
        let key = pod_key(&new);
        let now = Instant::now();
        let mut st = self.lock();
        if let Some(flight) = st.in_flight.get_mut(&key) {
            flight.updated = Some(new);
            return;
        }
        let Some(loc) = st.pods.get(&key).map(|(_, l)| *l) else {
            drop(st);
            return self.add(new);
        };
        let retry =
            matches!(loc, Location::Unschedulable | Location::Gated) && is_pod_updated(old, &new);
        if let Some(mut q) = st.unlink(&key) {
            q.pod = new;
            match loc {
                _ if retry => st.enqueue_active_or_backoff(&self.config, key, q, now),
                // In place: the ordering keys stay as they were.
                other => st.place(key, q, other),
            }
        }
        drop(st);
        self.notify.notify_one();
    }

    /// Removes a pod (deleted, or now bound).
    pub fn delete(&self, pod: &Pod) {
        let key = pod_key(pod);
        let mut st = self.lock();
        st.unlink(&key);
        if let Some(flight) = st.in_flight.get_mut(&key) {
            flight.deleted = true;
        }
    }

    /// Waits for the next pod to schedule, moving pods whose backoff ended
    /// along the way. Returns `None` once the queue is closed.
    pub async fn pop(&self) -> Option<Pod> {
        loop {
            let deadline = {
                let mut st = self.lock();
                if st.closed {
                    return None;
                }
                st.flush(&self.config, Instant::now());
                if let Some(pod) = st.pop_active() {
                    return Some(pod);
                }
                st.next_deadline(&self.config)
            };
            match deadline {
                Some(at) => {
                    tokio::select! {
                        _ = self.notify.notified() => {}
                        _ = tokio::time::sleep_until(at) => {}
                    }
                }
                None => self.notify.notified().await,
            }
        }
    }

    /// Ends an attempt that found no node, rejected by `plugins`: the pod is
    /// parked until a cluster event that may help, unless it changed or such
    /// an event came while it was in flight, in which case it waits out its
    /// backoff instead.
    pub fn add_unschedulable(&self, pod: &Pod, plugins: &[&'static str]) {
        self.finish(pod, false, plugins);
    }

    /// Ends an attempt that failed for another reason (an error, a failed
    /// binding): the pod waits out its backoff.
    pub fn add_backoff(&self, pod: &Pod) {
        self.finish(pod, true, &[]);
    }

    fn finish(&self, pod: &Pod, error: bool, plugins: &[&'static str]) {
        let key = pod_key(pod);
        let now = Instant::now();
        let mut st = self.lock();
        let (mut queued, cycle, updated) = match st.in_flight.remove(&key) {
            Some(f) if f.deleted => return,
            Some(f) => (f.queued, f.cycle, f.updated),
            None => {
                if st.pods.contains_key(&key) {
                    return;
                }
                let q = QueuedPod {
                    pod: pod.clone(),
                    timestamp: now,
                    attempts: 1,
                    unschedulable_plugins: Vec::new(),
                };
                (q, st.scheduling_cycle, None)
            }
        };
        queued.timestamp = now;
        queued.unschedulable_plugins = plugins.to_vec();
        let changed = updated.is_some();
        if let Some(newer) = updated {
            queued.pod = newer;
        }
        if error || changed || st.move_request_cycle >= cycle {
            st.enqueue_backoff(&self.config, key, queued);
        } else {
            st.place(key, queued, Location::Unschedulable);
        }
        drop(st);
        self.notify.notify_one();
    }

    /// Ends an attempt that succeeded. A newer version that arrived in the
    /// meantime is queued again (a pod the cache already holds is skipped by
    /// the scheduler when popped).
    pub fn done(&self, pod: &Pod) {
        let key = pod_key(pod);
        let now = Instant::now();
        let mut st = self.lock();
        let Some(flight) = st.in_flight.remove(&key) else {
            return;
        };
        if let (Some(newer), false) = (flight.updated, flight.deleted) {
            let mut q = flight.queued;
            q.pod = newer;
            st.enqueue_active_or_backoff(&self.config, key, q, now);
            drop(st);
            self.notify.notify_one();
        }
    }

    /// A cluster event: moves every parked pod it may help to activeQ (or
    /// backoffQ while backing off), and makes pods now in flight retry soon
    /// rather than park.
    pub fn move_all_to_active_or_backoff(&self, event: ClusterEvent) {
        let now = Instant::now();
        let mut st = self.lock();
        let parked: Vec<String> = st
            .pods
            .iter()
            .filter(|(_, (q, loc))| {
                *loc == Location::Unschedulable && event.may_help(&q.unschedulable_plugins)
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in parked {
            if let Some(q) = st.unlink(&key) {
                st.enqueue_active_or_backoff(&self.config, key, q, now);
            }
        }
        st.move_request_cycle = st.scheduling_cycle;
        drop(st);
        self.notify.notify_one();
    }

    /// Moves pods whose backoff ended by `now` to activeQ (kube-scheduler does
    /// this every second; [`SchedulingQueue::pop`] does it as it waits).
    pub fn flush_backoff(&self, now: Instant) {
        let moved = self.lock().flush(&self.config, now);
        if moved {
            self.notify.notify_one();
        }
    }

    /// Stops the queue: waiting and later pops return `None`.
    pub fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_waiters();
        self.notify.notify_one();
    }

    /// How many pods wait where.
    pub fn counts(&self) -> QueueCounts {
        let st = self.lock();
        let mut c = QueueCounts {
            in_flight: st.in_flight.len(),
            ..Default::default()
        };
        for (_, loc) in st.pods.values() {
            match loc {
                Location::Active(_) => c.active += 1,
                Location::Backoff(_) => c.backoff += 1,
                Location::Unschedulable => c.unschedulable += 1,
                Location::Gated => c.gated += 1,
            }
        }
        c
    }

    /// The backoff the `attempts`-th failed attempt earns.
    pub fn backoff_duration(&self, attempts: u32) -> Duration {
        State::backoff_duration(&self.config, attempts)
    }
}

#[cfg(test)]
#[path = "queue_tests.rs"]
mod tests;

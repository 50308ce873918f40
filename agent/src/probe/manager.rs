//! The probe manager: one probe task per running container, keyed by pod uid
//! and container name, and the results the pod lifecycle reads (`ready`,
//! `started`) or is told about (restarts, `Unhealthy` events).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use futures::future::join_all;
use k8s_openapi::api::core::v1::{Container, Pod};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::worker::{ContainerProbes, Transition};
use super::{ProbeKind, ProbeResult, ProbeRunner, ProbeTarget};

/// A liveness or startup probe failed past its threshold: the kubelet kills
/// the container and lets its restart policy decide (Kubernetes' `Killing`
/// event: "Container x failed liveness probe, will be restarted").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LivenessFailed {
    /// Pod uid.
    pub uid: String,
    /// Container name.
    pub container: String,
    /// The runtime's id of the failed container.
    pub container_id: String,
    /// Liveness or startup.
    pub probe: ProbeKind,
    /// The last failure's message.
    pub message: String,
}

/// What the probes of a container tell the pod lifecycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeEvent {
    /// The container's readiness changed (a reason to write pod status now
    /// rather than at the next sync).
    ReadinessChanged {
        /// Pod uid.
        uid: String,
        /// Container name.
        container: String,
        /// Whether it is ready now.
        ready: bool,
    },
    /// The startup probe succeeded.
    Started {
        /// Pod uid.
        uid: String,
        /// Container name.
        container: String,
    },
    /// One probe run failed: the kubelet's `Unhealthy` warning event
    /// ("Readiness probe failed: HTTP probe failed with statuscode: 500").
    Unhealthy {
        /// Pod uid.
        uid: String,
        /// Container name.
        container: String,
        /// Which probe.
        probe: ProbeKind,
        /// The prober's message.
        message: String,
    },
    /// One probe run passed with a remark: the kubelet's `ProbeWarning`
    /// event.
    Warning {
        /// Pod uid.
        uid: String,
        /// Container name.
        container: String,
        /// Which probe.
        probe: ProbeKind,
        /// The prober's message.
        message: String,
    },
    /// The container must be restarted.
    LivenessFailed(LivenessFailed),
}

type Key = (String, String);

struct Worker {
    generation: u64,
    container_id: String,
    ready: bool,
    started: bool,
    task: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct Workers {
    by_container: HashMap<Key, Worker>,
    next_generation: u64,
}

/// Runs the probes of every running container of the node's pods.
pub struct ProbeManager {
    runner: Arc<dyn ProbeRunner>,
    workers: Arc<Mutex<Workers>>,
    events: mpsc::UnboundedSender<ProbeEvent>,
}

impl ProbeManager {
    /// A manager running probes through `runner` (a
    /// [`Prober`](super::Prober) in the agent), and the receiver of its
    /// events.
    pub fn new(runner: Arc<dyn ProbeRunner>) -> (Self, mpsc::UnboundedReceiver<ProbeEvent>) {
        let (events, receiver) = mpsc::unbounded_channel();
        let manager = Self {
            runner,
            workers: Arc::default(),
            events,
        };
        (manager, receiver)
    }

    /// Starts probing `container` of `pod`, running as `container_id` in a
    /// pod whose IP is `pod_ip`; its initial delays count from now.
    ///
    /// Calling it again for the same container id changes nothing, so the
    /// pod lifecycle may call it on every sync; a new container id (a
    /// restart) starts over from the initial results. Must be called within
    /// a tokio runtime.
    pub fn add(&self, pod: &Pod, container: &Container, container_id: &str, pod_ip: &str) {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let key = (uid.clone(), container.name.clone());
        let probes = ContainerProbes::new(container, Instant::now());
        let mut workers = lock(&self.workers);
        if workers
            .by_container
            .get(&key)
            .is_some_and(|w| w.container_id == container_id)
        {
            return;
        }
        if let Some(old) = workers.by_container.remove(&key) {
            abort(old);
        }
        workers.next_generation += 1;
        let generation = workers.next_generation;
        let task = if probes.is_empty() {
            None
        } else {
            let target = ProbeTarget {
                container: container.clone(),
                container_id: container_id.to_string(),
                pod_ip: pod_ip.to_string(),
            };
            let run = ProbeTask {
                key: key.clone(),
                generation,
                probes: probes.clone(),
                target,
                runner: self.runner.clone(),
                workers: self.workers.clone(),
                events: self.events.clone(),
            };
            Some(tokio::spawn(run.run()))
        };
        workers.by_container.insert(
            key,
            Worker {
                generation,
                container_id: container_id.to_string(),
                ready: probes.ready(),
                started: probes.started(),
                task,
            },
        );
    }

    /// Stops probing a container (it stopped or was removed).
    pub fn remove(&self, uid: &str, container: &str) {
        let removed = lock(&self.workers)
            .by_container
            .remove(&(uid.to_string(), container.to_string()));
        if let Some(worker) = removed {
            abort(worker);
        }
    }

    /// Stops probing every container of a pod.
    pub fn remove_pod(&self, uid: &str) {
        let mut workers = lock(&self.workers);
        let keys: Vec<Key> = workers
            .by_container
            .keys()
            .filter(|(u, _)| u == uid)
            .cloned()
            .collect();
        for key in keys {
            if let Some(worker) = workers.by_container.remove(&key) {
                abort(worker);
            }
        }
    }

    /// Whether the container is ready (`containerStatuses[].ready`): started,
    /// and its readiness probe, if any, passing. False for a container not
    /// being probed.
    pub fn ready(&self, uid: &str, container: &str) -> bool {
        lock(&self.workers)
            .by_container
            .get(&(uid.to_string(), container.to_string()))
            .is_some_and(|w| w.ready)
    }

    /// Whether the container has started (`containerStatuses[].started`):
    /// no startup probe, or it succeeded. False for a container not being
    /// probed.
    pub fn started(&self, uid: &str, container: &str) -> bool {
        lock(&self.workers)
            .by_container
            .get(&(uid.to_string(), container.to_string()))
            .is_some_and(|w| w.started)
    }
}

impl Drop for ProbeManager {
    fn drop(&mut self) {
        let mut workers = lock(&self.workers);
        for (_, worker) in workers.by_container.drain() {
            abort(worker);
        }
    }
}

fn abort(worker: Worker) {
    if let Some(task) = worker.task {
        task.abort();
    }
}

/// The map stays consistent under a panic elsewhere (each update is one
/// field write), so a poisoned lock is still usable.
fn lock(workers: &Mutex<Workers>) -> MutexGuard<'_, Workers> {
    workers
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The task probing one container.
struct ProbeTask {
    key: Key,
    generation: u64,
    probes: ContainerProbes,
    target: ProbeTarget,
    runner: Arc<dyn ProbeRunner>,
    workers: Arc<Mutex<Workers>>,
    events: mpsc::UnboundedSender<ProbeEvent>,
}

impl ProbeTask {
    async fn run(mut self) {
        while let Some(wakeup) = self.probes.next_wakeup() {
            tokio::time::sleep_until(wakeup).await;
            let due = self.probes.due(Instant::now());
            // Probes due together run together, so a slow liveness probe does
            // not delay readiness.
            let runs = due.iter().filter_map(|&(kind, due_at)| {
                let probe = self.probes.get(kind)?.probe().clone();
                let runner = self.runner.clone();
                let target = &self.target;
                Some(async move { (kind, due_at, runner.run(kind, &probe, target).await) })
            });
            let results = join_all(runs).await;
            let finished = Instant::now();
            for (kind, due_at, result) in results {
                let transitions = self.probes.record(kind, &result, due_at, finished);
                if !self.publish(kind, &result, transitions) {
                    return;
                }
            }
        }
    }

    /// Writes the container's results and sends events; false when this task
    /// no longer owns the container (replaced or removed).
    fn publish(&self, kind: ProbeKind, result: &ProbeResult, transitions: Vec<Transition>) -> bool {
        let mut workers = lock(&self.workers);
        let Some(worker) = workers.by_container.get_mut(&self.key) else {
            return false;
        };
        if worker.generation != self.generation {
            return false;
        }
        worker.ready = self.probes.ready();
        worker.started = self.probes.started();
        drop(workers);

        let (uid, container) = self.key.clone();
        let mut events = Vec::new();
        match result {
            ProbeResult::Failure(message) => events.push(ProbeEvent::Unhealthy {
                uid: uid.clone(),
                container: container.clone(),
                probe: kind,
                message: message.clone(),
            }),
            ProbeResult::Warning(message) => events.push(ProbeEvent::Warning {
                uid: uid.clone(),
                container: container.clone(),
                probe: kind,
                message: message.clone(),
            }),
            ProbeResult::Success | ProbeResult::Unknown(_) => {}
        }
        for transition in transitions {
            events.push(match transition {
                Transition::Changed(ProbeKind::Startup, true) => ProbeEvent::Started {
                    uid: uid.clone(),
                    container: container.clone(),
                },
                Transition::Changed(ProbeKind::Readiness, ready) => ProbeEvent::ReadinessChanged {
                    uid: uid.clone(),
                    container: container.clone(),
                    ready,
                },
                Transition::Changed(..) => continue,
                Transition::RestartNeeded(probe, message) => {
                    ProbeEvent::LivenessFailed(LivenessFailed {
                        uid: uid.clone(),
                        container: container.clone(),
                        container_id: self.target.container_id.clone(),
                        probe,
                        message,
                    })
                }
            });
        }
        // A startup success also makes the container ready when it has no
        // readiness probe.
        if self.probes.get(ProbeKind::Readiness).is_none()
            && events
                .iter()
                .any(|e| matches!(e, ProbeEvent::Started { .. }))
        {
            events.push(ProbeEvent::ReadinessChanged {
                uid,
                container,
                ready: true,
            });
        }
        for event in events {
            // The receiver gone means the agent is shutting down.
            let _ = self.events.send(event);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use k8s_openapi::api::core::v1::Probe;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use std::collections::VecDeque;
    use std::time::Duration;

    /// Answers each probe kind from a script (then repeats the last answer)
    /// and records when each ran, in seconds since the test started.
    struct Scripted {
        start: Instant,
        script: Mutex<HashMap<ProbeKind, VecDeque<ProbeResult>>>,
        calls: Mutex<Vec<(ProbeKind, u64, String)>>,
    }

    impl Scripted {
        fn new(script: &[(ProbeKind, Vec<ProbeResult>)]) -> Arc<Self> {
            Arc::new(Self {
                start: Instant::now(),
                script: Mutex::new(
                    script
                        .iter()
                        .map(|(k, r)| (*k, r.iter().cloned().collect()))
                        .collect(),
                ),
                calls: Mutex::new(Vec::new()),
            })
        }

        fn calls(&self, kind: ProbeKind) -> Vec<u64> {
            self.calls
                .lock()
                .unwrap()
                .iter()
                .filter(|c| c.0 == kind)
                .map(|c| c.1)
                .collect()
        }
    }

    #[async_trait]
    impl ProbeRunner for Scripted {
        async fn run(&self, kind: ProbeKind, _: &Probe, target: &ProbeTarget) -> ProbeResult {
            let at = (Instant::now() - self.start).as_secs();
            self.calls
                .lock()
                .unwrap()
                .push((kind, at, target.container_id.clone()));
            let mut script = self.script.lock().unwrap();
            let queue = script.get_mut(&kind).unwrap();
            if queue.len() > 1 {
                queue.pop_front().unwrap()
            } else {
                queue[0].clone()
            }
        }
    }

    fn pod() -> Pod {
        Pod {
            metadata: ObjectMeta {
                uid: Some("u1".into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn every(period: i32) -> Probe {
        Probe {
            period_seconds: Some(period),
            ..Default::default()
        }
    }

    fn fail() -> ProbeResult {
        ProbeResult::Failure("HTTP probe failed with statuscode: 500".into())
    }

    async fn advance(seconds: u64) {
        tokio::time::sleep(Duration::from_secs(seconds)).await;
    }

    fn drain(events: &mut mpsc::UnboundedReceiver<ProbeEvent>) -> Vec<ProbeEvent> {
        let mut all = Vec::new();
        while let Ok(event) = events.try_recv() {
            all.push(event);
        }
        all
    }

    #[tokio::test(start_paused = true)]
    async fn container_without_probes_is_ready_and_started_at_once() {
        let runner = Scripted::new(&[]);
        let (manager, _events) = ProbeManager::new(runner);
        let container = Container {
            name: "app".into(),
            ..Default::default()
        };
        assert!(
            !manager.ready("u1", "app"),
            "unknown containers are not ready"
        );
        manager.add(&pod(), &container, "c1", "10.0.0.2");
        assert!(manager.ready("u1", "app") && manager.started("u1", "app"));
    }

    #[tokio::test(start_paused = true)]
    async fn readiness_follows_the_probe_with_defaults() {
        let runner = Scripted::new(&[(
            ProbeKind::Readiness,
            vec![
                ProbeResult::Success,
                fail(),
                fail(),
                fail(),
                ProbeResult::Success,
            ],
        )]);
        let (manager, mut events) = ProbeManager::new(runner.clone());
        let container = Container {
            name: "app".into(),
            readiness_probe: Some(Probe::default()),
            ..Default::default()
        };
        manager.add(&pod(), &container, "c1", "10.0.0.2");
        assert!(!manager.ready("u1", "app"), "readiness starts as failure");
        advance(1).await;
        assert!(manager.ready("u1", "app"));
        advance(20).await;
        assert!(
            manager.ready("u1", "app"),
            "two failures are below the threshold of 3"
        );
        advance(10).await;
        assert!(!manager.ready("u1", "app"));
        advance(10).await;
        assert!(manager.ready("u1", "app"));
        assert_eq!(
            runner.calls(ProbeKind::Readiness),
            vec![0, 10, 20, 30, 40],
            "every 10 s by default"
        );
        let changes: Vec<bool> = drain(&mut events)
            .into_iter()
            .filter_map(|e| match e {
                ProbeEvent::ReadinessChanged { ready, .. } => Some(ready),
                _ => None,
            })
            .collect();
        assert_eq!(changes, vec![true, false, true]);
    }

    #[tokio::test(start_paused = true)]
    async fn initial_delay_postpones_the_first_probe() {
        let runner = Scripted::new(&[(ProbeKind::Readiness, vec![ProbeResult::Success])]);
        let (manager, _events) = ProbeManager::new(runner.clone());
        let probe = Probe {
            initial_delay_seconds: Some(5),
            period_seconds: Some(3),
            ..Default::default()
        };
        let container = Container {
            name: "app".into(),
            readiness_probe: Some(probe),
            ..Default::default()
        };
        manager.add(&pod(), &container, "c1", "10.0.0.2");
        advance(4).await;
        assert!(!manager.ready("u1", "app"));
        advance(6).await;
        assert_eq!(
            runner.calls(ProbeKind::Readiness),
            vec![5, 8],
            "then every period"
        );
        assert!(manager.ready("u1", "app"));
    }

    #[tokio::test(start_paused = true)]
    async fn startup_probe_gates_liveness_and_readiness() {
        let runner = Scripted::new(&[
            (
                ProbeKind::Startup,
                vec![fail(), fail(), ProbeResult::Success],
            ),
            (ProbeKind::Liveness, vec![ProbeResult::Success]),
            (ProbeKind::Readiness, vec![ProbeResult::Success]),
        ]);
        let (manager, mut events) = ProbeManager::new(runner.clone());
        let container = Container {
            name: "app".into(),
            startup_probe: Some(every(2)),
            liveness_probe: Some(every(10)),
            readiness_probe: Some(every(10)),
            ..Default::default()
        };
        manager.add(&pod(), &container, "c1", "10.0.0.2");
        advance(3).await;
        assert!(!manager.started("u1", "app") && !manager.ready("u1", "app"));
        assert!(
            runner.calls(ProbeKind::Liveness).is_empty()
                && runner.calls(ProbeKind::Readiness).is_empty()
        );
        advance(2).await;
        assert!(manager.started("u1", "app") && manager.ready("u1", "app"));
        advance(20).await;
        assert_eq!(
            runner.calls(ProbeKind::Startup),
            vec![0, 2, 4],
            "startup stops once it succeeded"
        );
        assert_eq!(runner.calls(ProbeKind::Readiness), vec![4, 10, 20]);
        assert_eq!(runner.calls(ProbeKind::Liveness), vec![4, 10, 20]);
        let events = drain(&mut events);
        assert!(events.contains(&ProbeEvent::Started {
            uid: "u1".into(),
            container: "app".into()
        }));
        let unhealthy = events
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    ProbeEvent::Unhealthy {
                        probe: ProbeKind::Startup,
                        ..
                    }
                )
            })
            .count();
        assert_eq!(unhealthy, 2, "each failed run is an Unhealthy event");
    }

    #[tokio::test(start_paused = true)]
    async fn liveness_failure_is_reported_once_then_a_new_container_starts_over() {
        let runner = Scripted::new(&[(ProbeKind::Liveness, vec![fail()])]);
        let (manager, mut events) = ProbeManager::new(runner.clone());
        let container = Container {
            name: "app".into(),
            liveness_probe: Some(every(1)),
            ..Default::default()
        };
        manager.add(&pod(), &container, "c1", "10.0.0.2");
        advance(10).await;
        let failures: Vec<LivenessFailed> = drain(&mut events)
            .into_iter()
            .filter_map(|e| match e {
                ProbeEvent::LivenessFailed(f) => Some(f),
                _ => None,
            })
            .collect();
        assert_eq!(
            failures,
            vec![LivenessFailed {
                uid: "u1".into(),
                container: "app".into(),
                container_id: "c1".into(),
                probe: ProbeKind::Liveness,
                message: "HTTP probe failed with statuscode: 500".into(),
            }]
        );
        assert_eq!(
            runner.calls(ProbeKind::Liveness),
            vec![0, 1, 2],
            "on hold after the third failure"
        );

        manager.add(&pod(), &container, "c1", "10.0.0.2");
        advance(5).await;
        assert_eq!(
            runner.calls(ProbeKind::Liveness).len(),
            3,
            "same container id: still on hold"
        );

        manager.add(&pod(), &container, "c2", "10.0.0.2");
        advance(5).await;
        assert_eq!(
            runner.calls(ProbeKind::Liveness).len(),
            6,
            "the restarted container is probed again"
        );
        assert!(runner.calls.lock().unwrap()[3..]
            .iter()
            .all(|c| c.2 == "c2"));
    }

    #[tokio::test(start_paused = true)]
    async fn removed_containers_are_no_longer_probed() {
        let runner = Scripted::new(&[(ProbeKind::Readiness, vec![ProbeResult::Success])]);
        let (manager, _events) = ProbeManager::new(runner.clone());
        let container = Container {
            name: "app".into(),
            readiness_probe: Some(every(1)),
            ..Default::default()
        };
        manager.add(&pod(), &container, "c1", "10.0.0.2");
        advance(2).await;
        manager.remove_pod("u1");
        let before = runner.calls(ProbeKind::Readiness).len();
        advance(5).await;
        assert_eq!(runner.calls(ProbeKind::Readiness).len(), before);
        assert!(!manager.ready("u1", "app"));
    }
}

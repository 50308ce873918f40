//! `berth up`'s wait for a healthy cluster: it says what it waits for,
//! reports any process that exits, and when a step does not complete in
//! time, names the part that failed and shows its log.

use std::collections::BTreeMap;
use std::process::Child;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use super::health::{self, Health};
use super::layout::{Cluster, MEMBERS};
use super::supervisor::State;
use super::tail;

/// The steps of a start, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Store,
    Api,
    Leaders,
    Node,
    Done,
}

/// Waits until the store has a leader, every API serves, the scheduler and
/// controller manager are elected and the node is Ready.
pub async fn wait_healthy(
    cluster: &Cluster,
    supervisor: &mut Child,
    started: Instant,
    deadline: Instant,
) -> Result<()> {
    let mut step = Step::Store;
    let mut seen_exits = BTreeMap::new();
    // Lease times have second precision.
    let since = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(1);
    loop {
        if let Some(status) = supervisor.try_wait()? {
            let log = cluster.log_of("supervisor");
            bail!(
                "the supervisor exited ({status}). Last lines of {}:\n{}",
                log.display(),
                tail(&log, 10)
            );
        }
        report_exits(cluster, &mut seen_exits);
        let health = Health::probe(cluster).await;
        let took = format!("[{:.1} s]", started.elapsed().as_secs_f64());
        while step != Step::Done {
            let Some(line) = passed(cluster, step, &health, since).await else {
                break;
            };
            println!("  {line:<70} {took}");
            step = next(step);
        }
        if step == Step::Done {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!(failure(cluster, step, &health));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn next(step: Step) -> Step {
    match step {
        Step::Store => Step::Api,
        Step::Api => Step::Leaders,
        Step::Leaders => Step::Node,
        Step::Node | Step::Done => Step::Done,
    }
}

/// The line to print if `step` is complete.
async fn passed(
    cluster: &Cluster,
    step: Step,
    health: &Health,
    since: jiff::Timestamp,
) -> Option<String> {
    match step {
        Step::Store => {
            let leader = health.store_leader()?;
            let answering = health.stores.iter().flatten().count();
            let term = health.stores.iter().flatten().map(|s| s.raft_term).max()?;
            (answering == MEMBERS.len())
                .then(|| format!("store: {answering} of 3 members, {leader} leads (term {term})"))
        }
        Step::Api => {
            if !health.apis.iter().all(|up| *up)
                || !health::api_serving(cluster.client().ok()).await
            {
                return None;
            }
            Some(format!(
                "API: m0 m1 m2 serving; the cluster's address is {}",
                cluster.kube_url(cluster.layout.ports.api)
            ))
        }
        Step::Leaders => Some(format!(
            "scheduler: {} leads; controller manager: {} leads",
            health.scheduler.as_ref()?,
            health.controller_manager.as_ref()?
        )),
        Step::Node => {
            let name = &cluster.layout.node_name;
            let ready = health
                .nodes
                .as_ref()?
                .iter()
                .any(|(node, ready)| node == name && *ready);
            let client = cluster.client().ok()?;
            (ready && health::node_renewed_since(&client, name, since).await)
                .then(|| format!("node {name}: Ready"))
        }
        Step::Done => Some(String::new()),
    }
}

/// Prints each process exit the supervisor reports, once.
fn report_exits(cluster: &Cluster, seen: &mut BTreeMap<String, (u32, Option<String>)>) {
    let Some(state) = State::read(cluster) else {
        return;
    };
    for (name, process) in state.processes {
        let Some(exit) = &process.last_exit else {
            continue;
        };
        let key = (process.restarts, process.last_exit.clone());
        if seen.get(&name) == Some(&key) {
            continue;
        }
        seen.insert(name.clone(), key);
        let log = cluster.log_of(&name);
        println!(
            "  ! {name} exited ({exit}); it is restarted. Last lines of {}:\n{}",
            log.display(),
            tail(&log, 5)
        );
    }
}

/// What failed at `step`, with the logs to read.
fn failure(cluster: &Cluster, step: Step, health: &Health) -> String {
    let logs = |names: &[&str]| -> String {
        names
            .iter()
            .map(|name| {
                let log = cluster.log_of(name);
                format!("{name}'s log {}:\n{}", log.display(), tail(&log, 8))
            })
            .collect()
    };
    match step {
        Step::Store => {
            let silent: Vec<&str> = (0..MEMBERS.len())
                .filter(|i| health.stores[*i].is_none())
                .map(|i| MEMBERS[i])
                .collect();
            if silent.is_empty() {
                format!(
                    "the store elected no leader: every member answers, none leads.\n{}",
                    logs(&MEMBERS)
                )
            } else {
                format!(
                    "store members not answering on their client port: {}.\n{}",
                    silent.join(", "),
                    logs(&silent)
                )
            }
        }
        Step::Api => {
            let down: Vec<&str> = (0..MEMBERS.len())
                .filter(|i| !health.apis[*i])
                .map(|i| MEMBERS[i])
                .collect();
            format!(
                "the API is not served by {} (or not at the cluster's address {}).\n{}",
                if down.is_empty() {
                    "the balancer".to_string()
                } else {
                    down.join(", ")
                },
                cluster.api_url(),
                logs(if down.is_empty() {
                    &["supervisor"]
                } else {
                    &down
                })
            )
        }
        Step::Leaders => format!(
            "no member took the {} Lease in kube-system.\n{}",
            if health.scheduler.is_none() {
                "kube-scheduler"
            } else {
                "kube-controller-manager"
            },
            logs(&MEMBERS)
        ),
        Step::Node | Step::Done => {
            let hint = match State::read(cluster).and_then(|s| s.runtime) {
                Some(super::RuntimeChoice::Cri) => {
                    " Is containerd still running (`scripts/containerd.sh start`)?"
                }
                _ => "",
            };
            format!(
                "node {} did not become Ready.{hint}\n{}",
                cluster.layout.node_name,
                logs(&["agent"])
            )
        }
    }
}

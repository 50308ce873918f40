//! The process `berth up` leaves running: it starts the three members and
//! the agent, restarts any that exits (with a growing delay, as a kubelet
//! restarts a static pod), serves the cluster's API address, and on
//! SIGTERM (`berth down`) stops the agent, removes the pods' sandboxes, and
//! stops the members.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use tokio::process::Command;
use tokio::sync::watch;

use super::layout::{write_atomically, Cluster, RuntimeChoice, MEMBERS};

/// The first restart's delay; each further one doubles it, up to
/// [`MAX_RESTART_DELAY`].
const FIRST_RESTART_DELAY: Duration = Duration::from_secs(1);
const MAX_RESTART_DELAY: Duration = Duration::from_secs(30);
/// A process that ran this long is healthy again: its next restart is
/// quick.
const STABLE_AFTER: Duration = Duration::from_secs(60);
/// How long a process has to exit after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(15);

/// What the supervisor reports in `DIR/run/state.json`, for `berth up`'s
/// progress and `berth status`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct State {
    /// The runtime the agent was started on.
    pub runtime: Option<RuntimeChoice>,
    /// By process name: m0, m1, m2, agent.
    pub processes: BTreeMap<String, ProcessState>,
}

/// One supervised process.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ProcessState {
    /// Its pid while it runs.
    pub pid: Option<u32>,
    /// Times it was started again after exiting.
    pub restarts: u32,
    /// How it last exited, e.g. `signal 9` or `exit status 1`.
    pub last_exit: Option<String>,
}

impl State {
    /// The state `dir`'s supervisor last wrote, if any.
    pub fn read(cluster: &Cluster) -> Option<State> {
        let text = std::fs::read_to_string(cluster.run_dir().join("state.json")).ok()?;
        serde_json::from_str(&text).ok()
    }
}

/// Shared state, written to disk on each change.
#[derive(Clone)]
struct Reporter {
    path: PathBuf,
    state: Arc<Mutex<State>>,
}

impl Reporter {
    fn update(&self, name: &str, change: impl FnOnce(&mut ProcessState)) {
        let text = {
            let Ok(mut state) = self.state.lock() else {
                return;
            };
            change(state.processes.entry(name.to_string()).or_default());
            serde_json::to_string_pretty(&*state).unwrap_or_default()
        };
        if let Err(e) = write_atomically(&self.path, text.as_bytes()) {
            tracing::warn!(error = %e, "writing the supervisor's state");
        }
    }
}

/// Runs the cluster of `cluster` with the agent on `runtime` (`cri` or
/// `process`) until SIGTERM or SIGINT.
pub async fn run(cluster: Cluster, runtime: RuntimeChoice) -> Result<()> {
    let run_dir = cluster.run_dir();
    std::fs::create_dir_all(&run_dir).with_context(|| format!("creating {}", run_dir.display()))?;
    let balancer = super::balancer::Balancer::bind(&cluster).await?;
    let reporter = Reporter {
        path: run_dir.join("state.json"),
        state: Arc::new(Mutex::new(State {
            runtime: Some(runtime),
            processes: BTreeMap::new(),
        })),
    };
    let pid_file = run_dir.join("supervisor.pid");
    write_atomically(&pid_file, std::process::id().to_string().as_bytes())?;
    let exe = std::env::current_exe().context("finding the berth binary")?;

    let (members_stop, members_stopped) = watch::channel(false);
    let (agent_stop, agent_stopped) = watch::channel(false);
    let balance = tokio::spawn(balancer.run(members_stopped.clone()));
    let mut members = Vec::new();
    for (i, name) in MEMBERS.iter().enumerate() {
        let process = Supervised {
            name: name.to_string(),
            exe: exe.clone(),
            args: cluster.member_args(i),
            log: cluster.log_of(name),
        };
        members.push(tokio::spawn(
            process.run(reporter.clone(), members_stopped.clone()),
        ));
    }
    let agent = Supervised {
        name: "agent".to_string(),
        exe,
        args: cluster.agent_args(runtime),
        log: cluster.log_of("agent"),
    };
    let agent = tokio::spawn(agent.run(reporter.clone(), agent_stopped));
    tracing::info!(?runtime, dir = %cluster.dir.display(), "cluster started");

    crate::store_cmd::shutdown_signal().await;
    tracing::info!("stopping the agent");
    let _ = agent_stop.send(true);
    let _ = agent.await;
    if runtime == RuntimeChoice::Cri {
        remove_sandboxes().await;
    }
    tracing::info!("stopping the members");
    let _ = members_stop.send(true);
    for member in members {
        let _ = member.await;
    }
    balance.abort();
    let _ = std::fs::remove_file(&pid_file);
    tracing::info!("stopped");
    Ok(())
}

/// Stops and removes every pod sandbox on berth's containerd, as a node
/// going down takes its pods with it; `berth up` later starts them afresh.
async fn remove_sandboxes() {
    use berth_agent::runtime::{CriRuntime, Runtime};
    let address = std::path::Path::new(super::CONTAINERD_SOCKET);
    let runtime = match CriRuntime::connect(address).await {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::warn!(error = %e, "containerd: pods left running");
            return;
        }
    };
    let sandboxes = match runtime.list_pod_sandboxes().await {
        Ok(sandboxes) => sandboxes,
        Err(e) => {
            tracing::warn!(error = %e, "containerd: pods left running");
            return;
        }
    };
    tracing::info!(count = sandboxes.len(), "removing the pods' sandboxes");
    for sandbox in sandboxes {
        if let Err(e) = runtime.stop_pod_sandbox(&sandbox.id).await {
            tracing::warn!(id = %sandbox.id, error = %e, "stopping a sandbox");
        }
        if let Err(e) = runtime.remove_pod_sandbox(&sandbox.id).await {
            tracing::warn!(id = %sandbox.id, error = %e, "removing a sandbox");
        }
    }
}

/// One process kept running.
struct Supervised {
    name: String,
    exe: PathBuf,
    args: Vec<OsString>,
    log: PathBuf,
}

impl Supervised {
    async fn run(self, reporter: Reporter, mut stop: watch::Receiver<bool>) {
        let mut delay = FIRST_RESTART_DELAY;
        let mut started_before = false;
        while !*stop.borrow() {
            let started = Instant::now();
            match self.spawn() {
                Ok(mut child) => {
                    let pid = child.id();
                    reporter.update(&self.name, |p| {
                        p.pid = pid;
                        if started_before {
                            p.restarts += 1;
                        }
                    });
                    started_before = true;
                    tracing::info!(process = %self.name, ?pid, "started");
                    let exited = tokio::select! {
                        status = child.wait() => Some(status),
                        _ = stop.wait_for(|s| *s) => None,
                    };
                    let Some(status) = exited else {
                        let status = terminate(&mut child).await;
                        reporter.update(&self.name, |p| {
                            p.pid = None;
                            p.last_exit = Some(describe(&status));
                        });
                        return;
                    };
                    let exit = describe(&status);
                    tracing::warn!(process = %self.name, %exit, log = %self.log.display(), "exited");
                    reporter.update(&self.name, |p| {
                        p.pid = None;
                        p.last_exit = Some(exit);
                    });
                }
                Err(e) => {
                    tracing::error!(process = %self.name, error = %e, "cannot start");
                    reporter.update(&self.name, |p| {
                        p.pid = None;
                        p.last_exit = Some(format!("not started: {e}"));
                    });
                }
            }
            if started.elapsed() >= STABLE_AFTER {
                delay = FIRST_RESTART_DELAY;
            }
            tracing::info!(process = %self.name, ?delay, "restarting");
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            delay = (delay * 2).min(MAX_RESTART_DELAY);
        }
    }

    fn spawn(&self) -> std::io::Result<tokio::process::Child> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        Command::new(&self.exe)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
    }
}

/// SIGTERM, then SIGKILL after [`STOP_GRACE`].
async fn terminate(child: &mut tokio::process::Child) -> std::io::Result<std::process::ExitStatus> {
    if let Some(pid) = child
        .id()
        .and_then(|pid| rustix::process::Pid::from_raw(pid as i32))
    {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    }
    match tokio::time::timeout(STOP_GRACE, child.wait()).await {
        Ok(status) => status,
        Err(_) => {
            let _ = child.start_kill();
            child.wait().await
        }
    }
}

fn describe(status: &std::io::Result<std::process::ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => format!("exit status {code}"),
            (None, Some(signal)) => format!("signal {signal}"),
            _ => status.to_string(),
        },
        Err(e) => format!("unknown: {e}"),
    }
}

//! A runtime of plain host processes, for development without root.
//!
//! **No isolation of any kind**: no namespaces (every container shares the
//! host's network, PID and mount namespaces, so every pod's IP is
//! `127.0.0.1` and two pods cannot listen on the same port), no cgroups (cpu
//! and memory limits are not enforced, so nothing is ever `OOMKilled`), no
//! image filesystem (the image name is recorded and otherwise ignored; the
//! container's `command` followed by its `args` runs directly on the host, so
//! a container must name a command and that command must exist on the host)
//! and no volume mounts (mounts are recorded, not applied).
//!
//! Each container runs as the leader of its own process group, in a working
//! directory under the runtime's root directory, with the host's `PATH` unless
//! the container sets one. Its stdout and stderr go to its log file in the CRI
//! log format. Stop sends SIGTERM to the group and SIGKILL after the timeout.
//! State lives in memory: an agent restart forgets earlier containers, and
//! dropping the runtime kills every container it started.

mod log;
mod stats;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use rustix::process::{Pid, Signal};
use tokio::process::Command;
use tokio::sync::watch;

use self::log::{LogFile, Stream};
use super::{
    ContainerConfig, ContainerState, ContainerStats, ContainerStatus, ExecRequest, ExecResult,
    Image, Result, Runtime, RuntimeError, SandboxConfig, SandboxState, SandboxStatus,
};

/// The pod IP of every sandbox: the host's loopback, as pods share the host
/// network.
pub const POD_IP: &str = "127.0.0.1";

/// How long a stop waits for the process group after SIGKILL before giving
/// up; SIGKILL cannot be caught, so only an unkillable (D-state) process takes
/// longer.
const KILL_GRACE: Duration = Duration::from_secs(10);

/// Host processes as containers.
#[derive(Debug)]
pub struct ProcessRuntime {
    root_dir: PathBuf,
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    next_id: u64,
    sandboxes: HashMap<String, SandboxStatus>,
    containers: HashMap<String, Container>,
}

#[derive(Debug)]
struct Container {
    status: ContainerStatus,
    config: ContainerConfig,
    hostname: String,
    /// The container's own directory (`<root>/containers/<id>`).
    dir: PathBuf,
    /// Where its process runs: `dir`, or the image working dir under it.
    work_dir: PathBuf,
    /// A start is under way (the process is being spawned).
    starting: bool,
    /// The process group (= leader pid) once started.
    pgid: Option<u32>,
    /// Becomes true once the leader has exited and `status` says so.
    exited: Option<watch::Receiver<bool>>,
}

impl ProcessRuntime {
    /// A runtime whose containers' working directories live under `root_dir`
    /// (`<root_dir>/containers/<id>`).
    pub fn new(root_dir: impl Into<PathBuf>) -> Self {
        Self {
            root_dir: root_dir.into(),
            state: Arc::new(Mutex::new(State::default())),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    fn with_container<T>(&self, id: &str, f: impl FnOnce(&mut Container) -> T) -> Result<T> {
        let mut state = self.state();
        let container = state
            .containers
            .get_mut(id)
            .ok_or_else(|| RuntimeError::NotFound(format!("container {id}")))?;
        Ok(f(container))
    }
}

/// Every update under the lock is a single field write or map operation, so
/// the maps are consistent even after a panic elsewhere poisoned the lock.
fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn now_nanos() -> i64 {
    jiff::Timestamp::now().as_nanosecond() as i64
}

fn io_failed(what: &str, err: std::io::Error) -> RuntimeError {
    RuntimeError::Failed(format!("{what}: {err}"))
}

/// The container's exit code: its own, or 128 + the signal that ended it, as
/// a shell and the CRI report it.
fn exit_code(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|signal| 128 + signal))
        .unwrap_or(-1)
}

/// Sends `signal` to a process group; a group that is already gone is not an
/// error, since stopping is idempotent.
fn signal_group(pgid: u32, signal: Signal) -> Result<()> {
    let Some(pid) = i32::try_from(pgid).ok().and_then(Pid::from_raw) else {
        return Ok(());
    };
    match rustix::process::kill_process_group(pid, signal) {
        Ok(()) | Err(rustix::io::Errno::SRCH) => Ok(()),
        Err(err) => Err(RuntimeError::Failed(format!(
            "signal process group {pgid}: {err}"
        ))),
    }
}

/// The command a container runs: `command` then `args`, since there is no
/// image entrypoint to fall back on.
fn argv(config: &ContainerConfig) -> Result<(String, Vec<String>)> {
    let mut all = config.command.iter().chain(&config.args).cloned();
    let program = all.next().ok_or_else(|| {
        RuntimeError::Failed(format!(
            "container {}: the process runtime has no image entrypoint; set command",
            config.name
        ))
    })?;
    Ok((program, all.collect()))
}

/// A host command with the container's environment and working directory.
fn host_command(
    program: &str,
    args: &[String],
    envs: &[(String, String)],
    hostname: &str,
    work_dir: &Path,
) -> Command {
    let mut command = Command::new(program);
    command.args(args).current_dir(work_dir).env_clear();
    // The host's PATH lets commands resolve without an image filesystem; a
    // container's own PATH, set after, wins.
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    if !hostname.is_empty() {
        command.env("HOSTNAME", hostname);
    }
    command.envs(envs.iter().map(|(k, v)| (k, v)));
    command
}

#[async_trait]
impl Runtime for ProcessRuntime {
    async fn version(&self) -> Result<String> {
        Ok(format!("process://{}", env!("CARGO_PKG_VERSION")))
    }

    async fn image_status(&self, image: &str) -> Result<Option<Image>> {
        // Images are not used, so every image is "present".
        Ok(Some(Image {
            id: image.to_string(),
            names: vec![image.to_string()],
            size: 0,
        }))
    }

    async fn pull_image(&self, image: &str) -> Result<String> {
        Ok(image.to_string())
    }

    async fn list_images(&self) -> Result<Vec<Image>> {
        Ok(Vec::new())
    }

    async fn run_pod_sandbox(&self, config: &SandboxConfig) -> Result<String> {
        let mut state = self.state();
        state.next_id += 1;
        let id = format!("process-sandbox-{}", state.next_id);
        state.sandboxes.insert(
            id.clone(),
            SandboxStatus {
                id: id.clone(),
                name: config.name.clone(),
                namespace: config.namespace.clone(),
                uid: config.uid.clone(),
                attempt: config.attempt,
                state: SandboxState::Ready,
                ip: Some(POD_IP.to_string()),
                created_at: now_nanos(),
                labels: config.labels.clone(),
                annotations: config.annotations.clone(),
            },
        );
        Ok(id)
    }

    async fn stop_pod_sandbox(&self, id: &str) -> Result<()> {
        let containers: Vec<String> = {
            let mut state = self.state();
            let sandbox = state
                .sandboxes
                .get_mut(id)
                .ok_or_else(|| RuntimeError::NotFound(format!("sandbox {id}")))?;
            sandbox.state = SandboxState::NotReady;
            state
                .containers
                .iter()
                .filter(|(_, c)| c.status.sandbox_id == id)
                .map(|(cid, _)| cid.clone())
                .collect()
        };
        // The CRI's StopPodSandbox force-stops what the kubelet left running.
        for container in containers {
            self.stop_container(&container, Duration::ZERO).await?;
        }
        Ok(())
    }

    async fn remove_pod_sandbox(&self, id: &str) -> Result<()> {
        let containers: Vec<String> = self
            .state()
            .containers
            .iter()
            .filter(|(_, c)| c.status.sandbox_id == id)
            .map(|(cid, _)| cid.clone())
            .collect();
        for container in containers {
            self.remove_container(&container).await?;
        }
        self.state().sandboxes.remove(id);
        Ok(())
    }

    async fn list_pod_sandboxes(&self) -> Result<Vec<SandboxStatus>> {
        Ok(self.state().sandboxes.values().cloned().collect())
    }

    async fn create_container(
        &self,
        sandbox_id: &str,
        config: &ContainerConfig,
        sandbox: &SandboxConfig,
    ) -> Result<String> {
        argv(config)?;
        let id = {
            let mut state = self.state();
            if !state.sandboxes.contains_key(sandbox_id) {
                return Err(RuntimeError::NotFound(format!("sandbox {sandbox_id}")));
            }
            state.next_id += 1;
            format!("process-container-{}", state.next_id)
        };
        let container_dir = self.root_dir.join("containers").join(&id);
        // The container's working dir names a path in its image; with no image
        // it becomes a directory under the container's own.
        let work_dir = container_dir.join(config.working_dir.trim_start_matches('/'));
        tokio::fs::create_dir_all(&work_dir)
            .await
            .map_err(|e| io_failed(&format!("create {}", work_dir.display()), e))?;
        let log_dir = if sandbox.log_directory.as_os_str().is_empty() {
            container_dir.clone()
        } else {
            sandbox.log_directory.clone()
        };
        let status = ContainerStatus {
            id: id.clone(),
            sandbox_id: sandbox_id.to_string(),
            name: config.name.clone(),
            attempt: config.attempt,
            state: ContainerState::Created,
            created_at: now_nanos(),
            started_at: 0,
            finished_at: 0,
            exit_code: 0,
            reason: String::new(),
            message: String::new(),
            image: config.image.clone(),
            image_ref: config.image.clone(),
            labels: config.labels.clone(),
            annotations: config.annotations.clone(),
            log_path: log_dir.join(&config.log_path),
        };
        let mut state = self.state();
        if !state.sandboxes.contains_key(sandbox_id) {
            return Err(RuntimeError::NotFound(format!("sandbox {sandbox_id}")));
        }
        state.containers.insert(
            id.clone(),
            Container {
                status,
                config: config.clone(),
                hostname: sandbox.hostname.clone(),
                dir: container_dir,
                work_dir,
                starting: false,
                pgid: None,
                exited: None,
            },
        );
        Ok(id)
    }

    async fn start_container(&self, id: &str) -> Result<()> {
        let (config, hostname, work_dir, log_path) = self
            .with_container(id, |c| {
                // Claimed under the lock, so two concurrent starts cannot
                // both spawn the process.
                if c.status.state != ContainerState::Created || c.starting {
                    return Err(RuntimeError::Failed(format!(
                        "container {id} is not in created state"
                    )));
                }
                c.starting = true;
                Ok((
                    c.config.clone(),
                    c.hostname.clone(),
                    c.work_dir.clone(),
                    c.status.log_path.clone(),
                ))
            })
            .and_then(|claimed| claimed)?;
        let spawned = spawn(&config, &hostname, &work_dir, &log_path).await;
        let mut child = match spawned {
            Ok(child) => child,
            Err(err) => {
                // Left Created, as a CRI runtime leaves a container whose
                // start failed, so the kubelet can retry or remove it (a
                // container removed meanwhile has nothing to reset).
                let _ = self.with_container(id, |c| c.starting = false);
                return Err(err);
            }
        };
        let pgid = child.id();
        let (exited_tx, exited_rx) = watch::channel(false);
        let started = self.with_container(id, |c| {
            c.status.state = ContainerState::Running;
            c.status.started_at = now_nanos();
            c.starting = false;
            c.pgid = pgid;
            c.exited = Some(exited_rx);
        });
        if started.is_err() {
            // Removed while starting: nobody will stop it, so stop it here.
            if let Some(pgid) = pgid {
                signal_group(pgid, Signal::KILL)?;
            }
        }
        let state = Arc::clone(&self.state);
        let id = id.to_string();
        tokio::spawn(async move {
            let (code, message) = match child.wait().await {
                Ok(status) => (exit_code(status), String::new()),
                Err(err) => (-1, format!("waiting for the process failed: {err}")),
            };
            if let Some(container) = lock(&state).containers.get_mut(&id) {
                container.status.state = ContainerState::Exited;
                container.status.finished_at = now_nanos();
                container.status.exit_code = code;
                container.status.reason = if code == 0 { "Completed" } else { "Error" }.to_string();
                container.status.message = message;
            }
            // Only after the status says Exited, so a stop that waited on
            // this reads the final status.
            exited_tx.send_replace(true);
        });
        started
    }

    async fn stop_container(&self, id: &str, timeout: Duration) -> Result<()> {
        let started_by = tokio::time::Instant::now() + KILL_GRACE;
        let (state, pgid, exited) = loop {
            let (starting, state, pgid, exited) = self.with_container(id, |c| {
                (c.starting, c.status.state, c.pgid, c.exited.clone())
            })?;
            // A start under way ends in a moment, Running or still Created;
            // stopping before it ends would race the spawn.
            if !starting || tokio::time::Instant::now() > started_by {
                break (state, pgid, exited);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        match state {
            ContainerState::Created => {
                return self.with_container(id, |c| {
                    c.status.state = ContainerState::Exited;
                    c.status.finished_at = now_nanos();
                    c.status.reason = "Completed".to_string();
                });
            }
            ContainerState::Exited | ContainerState::Unknown => return Ok(()),
            ContainerState::Running => {}
        }
        let (Some(pgid), Some(exited)) = (pgid, exited) else {
            return Ok(());
        };
        signal_group(pgid, Signal::TERM)?;
        let wait = |mut exited: watch::Receiver<bool>, limit: Duration| async move {
            // A closed channel means the waiter ended, so the leader is gone.
            let done = tokio::time::timeout(limit, exited.wait_for(|e| *e)).await;
            matches!(done, Ok(Ok(_)) | Ok(Err(_)))
        };
        if !wait(exited.clone(), timeout).await {
            signal_group(pgid, Signal::KILL)?;
            if !wait(exited, KILL_GRACE).await {
                return Err(RuntimeError::Failed(format!(
                    "container {id} did not exit after SIGKILL"
                )));
            }
        }
        // The leader is gone; children that survived SIGTERM (a shell's
        // background jobs) go with the group.
        signal_group(pgid, Signal::KILL)
    }

    async fn remove_container(&self, id: &str) -> Result<()> {
        let running = match self.with_container(id, |c| c.status.state) {
            Ok(state) => state == ContainerState::Running,
            // Removing a removed container succeeds, as in the CRI.
            Err(RuntimeError::NotFound(_)) => return Ok(()),
            Err(err) => return Err(err),
        };
        if running {
            self.stop_container(id, Duration::ZERO).await?;
        }
        let Some(container) = self.state().containers.remove(id) else {
            return Ok(());
        };
        match tokio::fs::remove_dir_all(&container.dir).await {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(io_failed(
                &format!("remove {}", container.dir.display()),
                err,
            )),
        }
    }

    async fn list_containers(&self, sandbox_id: Option<&str>) -> Result<Vec<ContainerStatus>> {
        Ok(self
            .state()
            .containers
            .values()
            .filter(|c| sandbox_id.is_none_or(|s| c.status.sandbox_id == s))
            .map(|c| c.status.clone())
            .collect())
    }

    async fn container_status(&self, id: &str) -> Result<ContainerStatus> {
        self.with_container(id, |c| c.status.clone())
    }

    async fn exec_sync(&self, id: &str, cmd: &[String], timeout: Duration) -> Result<ExecResult> {
        let (state, envs, hostname, work_dir) = self.with_container(id, |c| {
            (
                c.status.state,
                c.config.envs.clone(),
                c.hostname.clone(),
                c.work_dir.clone(),
            )
        })?;
        if state != ContainerState::Running {
            return Err(RuntimeError::Failed(format!(
                "container {id} is not running"
            )));
        }
        let (program, args) = cmd
            .split_first()
            .ok_or_else(|| RuntimeError::Failed("exec: empty command".to_string()))?;
        let mut command = host_command(program, args, &envs, &hostname, &work_dir);
        command.stdin(Stdio::null()).kill_on_drop(true);
        let output = command.output();
        // A zero timeout means none, as in the CRI's ExecSync.
        let output = if timeout.is_zero() {
            output.await
        } else {
            tokio::time::timeout(timeout, output).await.map_err(|_| {
                RuntimeError::Failed(format!(
                    "command {cmd:?} timed out after {}s",
                    timeout.as_secs_f64()
                ))
            })?
        };
        let output = output.map_err(|e| io_failed(&format!("exec {program}"), e))?;
        Ok(ExecResult {
            stdout: output.stdout,
            stderr: output.stderr,
            exit_code: exit_code(output.status),
        })
    }

    async fn exec(&self, request: &ExecRequest) -> Result<String> {
        Err(RuntimeError::Failed(format!(
            "streaming exec into {} is not served by the process runtime",
            request.container_id
        )))
    }

    async fn container_stats(&self, id: &str) -> Result<ContainerStats> {
        let (state, pgid) = self.with_container(id, |c| (c.status.state, c.pgid))?;
        match (state, pgid) {
            (ContainerState::Running, Some(pgid)) => tokio::task::spawn_blocking(move || {
                stats::process_group_stats(Path::new("/proc"), pgid)
            })
            .await
            .map_err(|e| RuntimeError::Failed(format!("read stats: {e}")))?
            .map_err(|e| io_failed("read /proc", e)),
            _ => Ok(ContainerStats::default()),
        }
    }
}

impl Drop for ProcessRuntime {
    fn drop(&mut self) {
        // Nothing else knows these processes: leaving them would leak them
        // past the agent.
        for container in lock(&self.state).containers.values() {
            if container.status.state == ContainerState::Running {
                if let Some(pgid) = container.pgid {
                    let _ = signal_group(pgid, Signal::KILL);
                }
            }
        }
    }
}

/// Starts a container's process as the leader of its own process group,
/// with its stdout and stderr copied into its log.
async fn spawn(
    config: &ContainerConfig,
    hostname: &str,
    work_dir: &Path,
    log_path: &Path,
) -> Result<tokio::process::Child> {
    let (program, args) = argv(config)?;
    let log = LogFile::open(log_path)
        .await
        .map_err(|e| io_failed(&format!("open log {}", log_path.display()), e))?;
    let mut command = host_command(&program, &args, &config.envs, hostname, work_dir);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own group, so a stop reaches the children a shell started.
        .process_group(0);
    let mut child = command
        .spawn()
        .map_err(|e| io_failed(&format!("start {program}"), e))?;
    if let Some(stdout) = child.stdout.take() {
        spawn_pump(log.clone(), Stream::Stdout, stdout);
    }
    if let Some(stderr) = child.stderr.take() {
        spawn_pump(log, Stream::Stderr, stderr);
    }
    Ok(child)
}

/// Copies one output of a container into its log until the output closes
/// (when the last process holding it ends).
fn spawn_pump(
    log: LogFile,
    stream: Stream,
    output: impl tokio::io::AsyncRead + Unpin + Send + 'static,
) {
    tokio::spawn(async move {
        if let Err(err) = log.pump(stream, output).await {
            tracing::warn!(%err, "container log copy failed");
        }
    });
}

#[cfg(test)]
mod tests;

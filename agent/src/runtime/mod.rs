//! The container runtime as the agent sees it: pod sandboxes and the
//! containers in them, shaped after the Container Runtime Interface (CRI v1)
//! so the real implementation, [`cri`], is a thin translation.
//!
//! Three implementations, picked by `berth agent --runtime`:
//! - `cri`: containerd over its unix socket, the path a kubelet takes;
//! - `process`: host processes without isolation (no namespaces, cgroups or
//!   image filesystems), for development without root;
//! - `hollow`: starts nothing and reports every container running, so
//!   hundreds of nodes fit in one process for scale tests.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;

pub mod cri;
pub mod hollow;
pub mod process;
pub mod resources;

pub use cri::CriRuntime;
pub use hollow::HollowRuntime;
pub use process::ProcessRuntime;

/// Why a runtime call failed.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The image is not present and cannot be pulled (the kubelet's
    /// `ErrImagePull`).
    #[error("image {image} not found: {message}")]
    ImageNotFound {
        /// The image reference as the pod names it.
        image: String,
        /// The runtime's words.
        message: String,
    },
    /// No sandbox or container with this id.
    #[error("{0} not found")]
    NotFound(String),
    /// The runtime could not be reached.
    #[error("runtime unavailable: {0}")]
    Unavailable(String),
    /// The runtime refused or failed the call.
    #[error("{0}")]
    Failed(String),
}

/// Result of a runtime call.
pub type Result<T> = std::result::Result<T, RuntimeError>;

/// A DNS configuration for a sandbox (`/etc/resolv.conf`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DnsConfig {
    /// Nameservers.
    pub servers: Vec<String>,
    /// Search domains.
    pub searches: Vec<String>,
    /// resolv.conf options (`ndots:5`).
    pub options: Vec<String>,
}

/// A container port published on the host.
#[derive(Debug, Clone, PartialEq)]
pub struct PortMapping {
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: String,
    /// Port inside the pod.
    pub container_port: u16,
    /// Port on the host (0: not published).
    pub host_port: u16,
    /// Host address to bind (empty: all).
    pub host_ip: String,
}

/// What a pod sandbox is made from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SandboxConfig {
    /// Pod name.
    pub name: String,
    /// Pod namespace.
    pub namespace: String,
    /// Pod uid.
    pub uid: String,
    /// How many sandboxes this pod had before this one.
    pub attempt: u32,
    /// Hostname inside the pod.
    pub hostname: String,
    /// Directory of the pod's container logs.
    pub log_directory: PathBuf,
    /// resolv.conf.
    pub dns: DnsConfig,
    /// Ports published on the host.
    pub port_mappings: Vec<PortMapping>,
    /// Labels (the runtime filters on them).
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// The pod's cgroup parent (empty: the runtime's default).
    pub cgroup_parent: String,
}

/// A bind mount into a container.
#[derive(Debug, Clone, PartialEq)]
pub struct Mount {
    /// Path inside the container.
    pub container_path: String,
    /// Path on the host.
    pub host_path: PathBuf,
    /// Mounted read-only.
    pub readonly: bool,
}

/// Linux resources of a container, as the CRI takes them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LinuxResources {
    /// cpu.shares (relative weight; from the cpu request).
    pub cpu_shares: i64,
    /// CFS quota in microseconds per period (0: unlimited; from the cpu limit).
    pub cpu_quota: i64,
    /// CFS period in microseconds.
    pub cpu_period: i64,
    /// Memory limit in bytes (0: unlimited).
    pub memory_limit_in_bytes: i64,
}

/// What a container is made from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerConfig {
    /// The container's name in the pod spec.
    pub name: String,
    /// How many times this container was created before in this sandbox.
    pub attempt: u32,
    /// Image reference.
    pub image: String,
    /// Entrypoint override (the pod's `command`).
    pub command: Vec<String>,
    /// Arguments (the pod's `args`).
    pub args: Vec<String>,
    /// Working directory.
    pub working_dir: String,
    /// Environment, in order.
    pub envs: Vec<(String, String)>,
    /// Volume mounts.
    pub mounts: Vec<Mount>,
    /// Labels (the runtime filters on them).
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// Log file, relative to the sandbox's log directory.
    pub log_path: String,
    /// Keep stdin open.
    pub stdin: bool,
    /// Allocate a terminal.
    pub tty: bool,
    /// cgroup limits.
    pub resources: LinuxResources,
}

/// State of a sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SandboxState {
    /// Running, with its network set up.
    Ready,
    /// Stopped or failed.
    NotReady,
}

/// A sandbox as the runtime reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct SandboxStatus {
    /// Runtime id.
    pub id: String,
    /// Pod name, namespace, uid and attempt it was made for.
    pub name: String,
    /// Pod namespace.
    pub namespace: String,
    /// Pod uid.
    pub uid: String,
    /// Attempt number.
    pub attempt: u32,
    /// State.
    pub state: SandboxState,
    /// The pod's IP, once the network is set up.
    pub ip: Option<String>,
    /// Creation time, nanoseconds since the epoch.
    pub created_at: i64,
    /// Labels given at creation.
    pub labels: BTreeMap<String, String>,
    /// Annotations given at creation.
    pub annotations: BTreeMap<String, String>,
}

/// State of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerState {
    /// Created, not started.
    Created,
    /// Running.
    Running,
    /// Ended (see exit code and reason).
    Exited,
    /// The runtime does not know.
    Unknown,
}

/// A container as the runtime reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerStatus {
    /// Runtime id.
    pub id: String,
    /// Sandbox it belongs to.
    pub sandbox_id: String,
    /// The container's name in the pod spec.
    pub name: String,
    /// Attempt number.
    pub attempt: u32,
    /// State.
    pub state: ContainerState,
    /// Creation time, nanoseconds since the epoch (0: unknown).
    pub created_at: i64,
    /// Start time, nanoseconds since the epoch (0: not started).
    pub started_at: i64,
    /// End time, nanoseconds since the epoch (0: not ended).
    pub finished_at: i64,
    /// Exit code, once ended.
    pub exit_code: i32,
    /// Why it ended, in the runtime's words (`OOMKilled`, `Error`,
    /// `Completed`).
    pub reason: String,
    /// Longer explanation.
    pub message: String,
    /// Image reference as given.
    pub image: String,
    /// Resolved image id (`sha256:...`).
    pub image_ref: String,
    /// Labels given at creation.
    pub labels: BTreeMap<String, String>,
    /// Annotations given at creation.
    pub annotations: BTreeMap<String, String>,
    /// Absolute path of its log file.
    pub log_path: PathBuf,
}

/// Output of a command run to completion in a container.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExecResult {
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: Vec<u8>,
    /// Exit code.
    pub exit_code: i32,
}

/// A streaming exec the runtime serves itself (CRI's `Exec`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExecRequest {
    /// Container id.
    pub container_id: String,
    /// Command and arguments.
    pub cmd: Vec<String>,
    /// Allocate a terminal.
    pub tty: bool,
    /// Stream stdin.
    pub stdin: bool,
    /// Stream stdout.
    pub stdout: bool,
    /// Stream stderr (not with tty).
    pub stderr: bool,
}

/// An image present on the node.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// Image id (`sha256:...`).
    pub id: String,
    /// Names it is known by (`docker.io/library/x:1`, `x@sha256:...`).
    pub names: Vec<String>,
    /// Size in bytes.
    pub size: u64,
}

/// Resource usage of a container.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ContainerStats {
    /// Cumulative cpu time, nanoseconds.
    pub cpu_usage_core_nanoseconds: u64,
    /// Working set, bytes.
    pub memory_working_set_bytes: u64,
}

/// The runtime the agent drives. Every call is idempotent where the CRI's is:
/// stopping a stopped container or removing a removed one succeeds.
#[async_trait]
pub trait Runtime: Send + Sync {
    /// The runtime's name and version, for NodeStatus' nodeInfo
    /// (`containerd://1.6.20`).
    async fn version(&self) -> Result<String>;

    /// The image's id when present on the node.
    async fn image_status(&self, image: &str) -> Result<Option<Image>>;
    /// Pulls an image; [`RuntimeError::ImageNotFound`] when it cannot.
    async fn pull_image(&self, image: &str) -> Result<String>;
    /// Images on the node (NodeStatus' `images`).
    async fn list_images(&self) -> Result<Vec<Image>>;

    /// Creates and starts a sandbox (network included); returns its id.
    async fn run_pod_sandbox(&self, config: &SandboxConfig) -> Result<String>;
    /// Stops a sandbox and every container in it.
    async fn stop_pod_sandbox(&self, id: &str) -> Result<()>;
    /// Removes a stopped sandbox and its containers.
    async fn remove_pod_sandbox(&self, id: &str) -> Result<()>;
    /// Every sandbox the runtime has, including those of earlier agent runs.
    async fn list_pod_sandboxes(&self) -> Result<Vec<SandboxStatus>>;

    /// Creates a container in a sandbox; returns its id.
    async fn create_container(
        &self,
        sandbox_id: &str,
        config: &ContainerConfig,
        sandbox: &SandboxConfig,
    ) -> Result<String>;
    /// Starts a created container.
    async fn start_container(&self, id: &str) -> Result<()>;
    /// Stops a container: SIGTERM, then SIGKILL after `timeout`.
    async fn stop_container(&self, id: &str, timeout: Duration) -> Result<()>;
    /// Removes a container.
    async fn remove_container(&self, id: &str) -> Result<()>;
    /// Containers, of one sandbox or all.
    async fn list_containers(&self, sandbox_id: Option<&str>) -> Result<Vec<ContainerStatus>>;
    /// One container.
    async fn container_status(&self, id: &str) -> Result<ContainerStatus>;

    /// Runs a command in a container to completion, bounded by `timeout`.
    async fn exec_sync(&self, id: &str, cmd: &[String], timeout: Duration) -> Result<ExecResult>;
    /// Prepares a streaming exec and returns the URL that serves it.
    async fn exec(&self, request: &ExecRequest) -> Result<String>;
    /// Resource usage of a container.
    async fn container_stats(&self, id: &str) -> Result<ContainerStats>;
}

//! `berth up`, `berth down` and `berth status`: a whole cluster on this
//! host, three control-plane members and a node's agent, kept running by a
//! supervisor process with everything under one directory.

mod balancer;
mod health;
mod layout;
mod pki;
mod progress;
mod status;
mod supervisor;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;

pub use layout::RuntimeChoice;
use layout::{Cluster, Layout, Ports};

/// containerd's socket as scripts/containerd.sh starts it.
pub(crate) const CONTAINERD_SOCKET: &str = "/run/berth/containerd.sock";

/// Where the cluster lives.
#[derive(Args, Debug, Clone)]
pub struct DirArgs {
    /// The cluster's directory: data, logs, kubeconfig [default:
    /// /var/lib/berth/cluster as root, else ~/.local/share/berth/cluster].
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

impl DirArgs {
    fn dir(&self) -> Result<PathBuf> {
        if let Some(dir) = &self.data_dir {
            return std::path::absolute(dir).with_context(|| format!("{}", dir.display()));
        }
        if rustix::process::geteuid().is_root() {
            return Ok(PathBuf::from("/var/lib/berth/cluster"));
        }
        let data_home = std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
            .context("neither XDG_DATA_HOME nor HOME is set: pass --data-dir")?;
        Ok(data_home.join("berth/cluster"))
    }
}

/// Flags of `berth up`.
#[derive(Args, Debug)]
pub struct UpArgs {
    #[command(flatten)]
    dir: DirArgs,
    /// The runtime of the node's pods; `auto` takes containerd when root
    /// and containerd is running, else host processes.
    #[arg(long, value_enum, default_value = "auto")]
    runtime: RuntimeChoice,
    /// Use 14 consecutive ports from this one instead of the standard
    /// ones (API 6443, store 2379...); kept for the cluster's lifetime.
    #[arg(long)]
    port_base: Option<u16>,
    /// The node's name [default: the host name].
    #[arg(long)]
    node_name: Option<String>,
    /// Seconds to wait for a healthy cluster before giving up.
    #[arg(long, default_value_t = 180)]
    timeout: u64,
}

/// Flags of `berth down` and `berth status`.
#[derive(Args, Debug)]
pub struct ClusterArgs {
    #[command(flatten)]
    dir: DirArgs,
}

/// Flags of the supervisor `berth up` starts.
#[derive(Args, Debug)]
pub struct SuperviseArgs {
    #[arg(long)]
    data_dir: PathBuf,
    #[arg(long, value_enum)]
    runtime: RuntimeChoice,
}

/// `berth up`: creates or resumes the cluster and waits until it is
/// healthy.
pub async fn up(args: UpArgs) -> Result<()> {
    let started = Instant::now();
    let dir = args.dir.dir()?;
    let cluster = match Cluster::load(&dir)? {
        Some(cluster) => {
            if let Some(base) = args.port_base {
                if cluster.layout.ports != Ports::from_base(base)? {
                    bail!(
                        "the cluster in {} was created with other ports; drop --port-base to resume it, or use another --data-dir",
                        dir.display()
                    );
                }
            }
            println!("berth up: resuming the cluster in {}", dir.display());
            cluster
        }
        None => {
            let ports = match args.port_base {
                Some(base) => Ports::from_base(base)?,
                None => Ports::standard(),
            };
            let node_name = match &args.node_name {
                Some(name) => name.clone(),
                None => crate::agent_cmd::host_name()?,
            };
            let cluster = Cluster {
                dir: dir.clone(),
                layout: Layout {
                    ports,
                    runtime: args.runtime,
                    node_name,
                },
            };
            println!("berth up: a new cluster in {}", dir.display());
            cluster
        }
    };
    if let Some(pid) = supervisor_pid(&cluster) {
        println!("berth up: already running (supervisor pid {pid})\n");
        return status::print(&cluster, Some(pid)).await.map(|_| ());
    }
    let requested = if args.runtime == RuntimeChoice::Auto {
        cluster.layout.runtime
    } else {
        args.runtime
    };
    let (runtime, why) = resolve_runtime(requested)?;
    println!("  runtime: {why}");
    check_ports(&cluster.layout.ports)?;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    cluster.save()?;
    cluster.ensure_credentials()?;
    pki::Pki::of(&cluster).ensure()?;
    cluster.write_kubeconfig()?;
    // The last run's exits are not this run's news.
    let _ = std::fs::remove_file(cluster.run_dir().join("state.json"));
    let mut supervisor = spawn_supervisor(&cluster, runtime)?;
    println!(
        "  started: members m0 m1 m2 and the agent (logs in {})",
        cluster.log_dir().display()
    );
    let deadline = started + Duration::from_secs(args.timeout);
    match progress::wait_healthy(&cluster, &mut supervisor, started, deadline).await {
        Ok(()) => {
            print_next_steps(&cluster, started.elapsed());
            Ok(())
        }
        Err(e) => {
            println!("berth up: stopping what started, so that `berth up` can start afresh");
            stop_supervisor(&cluster, supervisor.id()).await;
            let _ = supervisor.wait();
            Err(e)
        }
    }
}

/// `berth down`: stops every process of the cluster; its data stays.
pub async fn down(args: ClusterArgs) -> Result<()> {
    let dir = args.dir.dir()?;
    let Some(cluster) = Cluster::load(&dir)? else {
        bail!("no berth cluster in {}", dir.display());
    };
    let Some(pid) = supervisor_pid(&cluster) else {
        println!("berth down: nothing is running in {}", dir.display());
        return Ok(());
    };
    let started = Instant::now();
    println!("berth down: stopping the agent, its pods, and the members (supervisor pid {pid})");
    if !stop_supervisor(&cluster, pid).await {
        bail!(
            "the supervisor (pid {pid}) did not stop within 60 s; see {}",
            cluster.log_of("supervisor").display()
        );
    }
    println!(
        "berth down: stopped in {:.1} s; the data stays in {} (`berth up --data-dir {}` resumes it)",
        started.elapsed().as_secs_f64(),
        dir.display(),
        dir.display()
    );
    Ok(())
}

/// `berth status`: members, leader, nodes; fails if nothing runs.
pub async fn status(args: ClusterArgs) -> Result<()> {
    let dir = args.dir.dir()?;
    let Some(cluster) = Cluster::load(&dir)? else {
        bail!(
            "no berth cluster in {} (berth up creates one)",
            dir.display()
        );
    };
    let pid = supervisor_pid(&cluster);
    if !status::print(&cluster, pid).await? {
        std::process::exit(1);
    }
    Ok(())
}

/// The supervisor's own entry point.
pub async fn supervise(args: SuperviseArgs) -> Result<()> {
    let Some(cluster) = Cluster::load(&args.data_dir)? else {
        bail!("no berth cluster in {}", args.data_dir.display());
    };
    supervisor::run(cluster, args.runtime).await
}

/// The runtime to use, and a line saying why.
fn resolve_runtime(requested: RuntimeChoice) -> Result<(RuntimeChoice, String)> {
    let root = rustix::process::geteuid().is_root();
    let containerd = std::os::unix::net::UnixStream::connect(CONTAINERD_SOCKET).is_ok();
    match requested {
        RuntimeChoice::Cri if !root => {
            bail!("--runtime cri needs root: containerd's pod sandboxes need it (or use --runtime process)")
        }
        RuntimeChoice::Cri if !containerd => bail!(
            "containerd is not running at {CONTAINERD_SOCKET}: start it with `scripts/containerd.sh start` (and `scripts/images.sh` for the demo images), or use --runtime process"
        ),
        RuntimeChoice::Cri | RuntimeChoice::Auto if root && containerd => Ok((
            RuntimeChoice::Cri,
            format!("containerd at {CONTAINERD_SOCKET} (real, isolated containers)"),
        )),
        RuntimeChoice::Process => Ok((
            RuntimeChoice::Process,
            "host processes, as asked (no isolation; containers must name a command)".into(),
        )),
        _ => {
            let why = if root {
                format!("containerd is not running at {CONTAINERD_SOCKET} (`scripts/containerd.sh start` starts it)")
            } else {
                "not root, and containerd's sandboxes need root".into()
            };
            Ok((
                RuntimeChoice::Process,
                format!("host processes, since {why}; they have no isolation and containers must name a command"),
            ))
        }
    }
}

/// Fails, naming the port and its use, if any port is taken.
fn check_ports(ports: &Ports) -> Result<()> {
    for (port, what) in ports.all() {
        if let Err(e) = std::net::TcpListener::bind(("127.0.0.1", port)) {
            bail!(
                "port {port} ({what}) is not free: {e}. Another program holds it (`ss -ltnp 'sport = :{port}'` shows which); stop it, or create the cluster in another --data-dir with --port-base"
            );
        }
    }
    Ok(())
}

/// Starts the supervisor in a session of its own, so that it outlives
/// `berth up` and the terminal.
fn spawn_supervisor(cluster: &Cluster, runtime: RuntimeChoice) -> Result<std::process::Child> {
    use std::os::unix::process::CommandExt;
    let log_path = cluster.log_of("supervisor");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("opening {}", log_path.display()))?;
    let exe = std::env::current_exe().context("finding the berth binary")?;
    let runtime = match runtime {
        RuntimeChoice::Cri => "cri",
        _ => "process",
    };
    let mut command = std::process::Command::new(exe);
    command
        .arg("supervise")
        .arg("--data-dir")
        .arg(&cluster.dir)
        .args(["--runtime", runtime])
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    // SAFETY: setsid is async-signal-safe and touches no memory of the
    // parent, as the pre_exec contract requires.
    unsafe {
        command.pre_exec(|| rustix::process::setsid().map(|_| ()).map_err(Into::into));
    }
    command.spawn().context("starting the supervisor")
}

/// The running supervisor's pid, if its pid file names a live `berth
/// supervise` process.
fn supervisor_pid(cluster: &Cluster) -> Option<u32> {
    let text = std::fs::read_to_string(cluster.run_dir().join("supervisor.pid")).ok()?;
    let pid: u32 = text.trim().parse().ok()?;
    // A stale pid file may name a pid since reused by another program.
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let cmdline = String::from_utf8_lossy(&cmdline);
    cmdline.contains("supervise").then_some(pid)
}

/// SIGTERM to the supervisor, then waits up to 60 s for it to be gone;
/// whether it is.
async fn stop_supervisor(cluster: &Cluster, pid: u32) -> bool {
    if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if supervisor_pid(cluster).is_none() && !alive(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Whether process `pid` exists and has not exited (a zombie has).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X')),
        Err(_) => false,
    }
}

fn print_next_steps(cluster: &Cluster, took: Duration) {
    let kubeconfig = cluster.kubeconfig();
    let dir = dir_flag(&cluster.dir);
    println!(
        "\nberth is up in {:.1} s. The kubeconfig is {}:\n\n  export KUBECONFIG={}\n  kubectl get nodes\n  kubectl apply -f ../shared/manifests/deployment.yaml\n  kubectl get pods -o wide\n\n  berth status{dir}    members, leader, nodes\n  berth down{dir}      stops it all; berth up{dir} resumes it",
        took.as_secs_f64(),
        kubeconfig.display(),
        kubeconfig.display(),
    );
}

/// ` --data-dir DIR` unless DIR is the default.
fn dir_flag(dir: &Path) -> String {
    let default = DirArgs { data_dir: None }.dir().ok();
    if default.as_deref() == Some(dir) {
        String::new()
    } else {
        format!(" --data-dir {}", dir.display())
    }
}

/// The last `lines` lines of a log file, indented, for error messages.
pub(crate) fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..]
        .iter()
        .map(|line| format!("    {line}\n"))
        .collect()
}

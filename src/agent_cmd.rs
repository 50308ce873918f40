//! `berth agent`: the node half of berth (the kubelet's role) for this host,
//! or for many hollow nodes in one process.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use berth_agent::kubelet::{self, KubeletConfig};
use berth_agent::node::NodeConfig;
use berth_agent::probe::{self, ProbeRunner};
use berth_agent::runtime::{CriRuntime, DnsConfig, HollowRuntime, ProcessRuntime, Runtime};
use berth_client::Client;
use clap::{Args, ValueEnum};

/// Which container runtime runs the pods.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum RuntimeKind {
    /// containerd through its CRI socket: real, isolated containers.
    Cri,
    /// Host processes without any isolation, for development without root.
    Process,
    /// Nothing runs; pods report Running and Ready (scale tests).
    Hollow,
}

/// Flags of `berth agent`.
#[derive(Args, Debug)]
pub struct AgentArgs {
    /// The API server (its gRPC and REST port).
    #[arg(long, default_value = "http://127.0.0.1:6443")]
    api: String,
    /// This node's name (default: the host name).
    #[arg(long)]
    node_name: Option<String>,
    /// This node's InternalIP (default: the address routing to the API).
    #[arg(long)]
    node_ip: Option<String>,
    /// The container runtime.
    #[arg(long, value_enum, default_value = "cri")]
    runtime: RuntimeKind,
    /// containerd's socket, for --runtime cri.
    #[arg(long, default_value = "/run/berth/containerd.sock")]
    containerd_address: PathBuf,
    /// Agent state: per-pod volume directories, process runtime files.
    #[arg(long, default_value = "/var/lib/berth/agent")]
    root_dir: PathBuf,
    /// Container logs, in the kubelet's /var/log/pods layout.
    #[arg(long, default_value = "/var/log/pods")]
    log_dir: PathBuf,
    /// Most pods this node runs (the kubelet's --max-pods).
    #[arg(long, default_value_t = 110)]
    max_pods: u32,
    /// The resolv.conf pods get.
    #[arg(long, default_value = "/etc/resolv.conf")]
    resolv_conf: PathBuf,
    /// Port of the agent's server (container logs), the kubelet's 10250;
    /// 0 for none. Hollow nodes serve none.
    #[arg(long, default_value_t = 10250)]
    port: u16,
    /// A file holding the bearer token to authenticate to the API with
    /// (the kubelet's kubeconfig token).
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// With --runtime hollow: run this many nodes, named <node-name>-<i>.
    #[arg(long, default_value_t = 1)]
    hollow_nodes: u32,
}

/// Runs the agent until SIGINT or SIGTERM.
pub async fn run(args: AgentArgs) -> Result<()> {
    let token = match &args.token_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading --token-file {}", path.display()))?,
        ),
        None => None,
    };
    let connect = || -> Result<Client> {
        let client = Client::new(&args.api).with_context(|| format!("--api {}", args.api))?;
        Ok(match &token {
            Some(token) => client.with_token(token).context("--token-file")?,
            None => client,
        })
    };
    let client = connect()?;
    let node_name = match &args.node_name {
        Some(name) => name.clone(),
        None => host_name()?,
    };
    let node_ip = match &args.node_ip {
        Some(ip) => ip.clone(),
        None => route_ip(&args.api).await?,
    };
    let dns = std::fs::read_to_string(&args.resolv_conf)
        .map(|text| kubelet::parse_resolv_conf(&text))
        .unwrap_or_else(|e| {
            tracing::warn!(path = %args.resolv_conf.display(), error = %e, "no resolv.conf for pods");
            DnsConfig::default()
        });
    if args.hollow_nodes != 1 && args.runtime != RuntimeKind::Hollow {
        bail!("--hollow-nodes needs --runtime hollow");
    }
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let mut agents = Vec::new();
    match args.runtime {
        RuntimeKind::Hollow => {
            for i in 0..args.hollow_nodes {
                let name = if args.hollow_nodes == 1 {
                    node_name.clone()
                } else {
                    format!("{node_name}-{i}")
                };
                // Each hollow node its own /24, as real nodes have their own
                // pod CIDRs.
                let runtime: Arc<dyn Runtime> = Arc::new(HollowRuntime::new(format!(
                    "10.{}.{}",
                    64 + i / 256,
                    i % 256
                )));
                let mut node =
                    NodeConfig::from_host(&name, &node_ip, args.max_pods, "hollow://0.1");
                node.host_pressure = false;
                let config = KubeletConfig {
                    node,
                    pods_dir: args.root_dir.join(&name).join("pods"),
                    log_dir: args.log_dir.join(&name),
                    dns: dns.clone(),
                };
                let prober: Arc<dyn ProbeRunner> = Arc::new(probe::Hollow);
                // A connection of its own, as each kubelet has: one HTTP/2
                // connection carries at most the server's stream limit
                // (hyper's 200) of watches and calls at a time.
                let own = connect()?;
                agents.push(tokio::spawn(kubelet::run(
                    own,
                    runtime,
                    prober,
                    config,
                    None,
                    stop.clone(),
                )));
            }
            tracing::info!(nodes = args.hollow_nodes, "hollow nodes started");
        }
        kind => {
            let runtime: Arc<dyn Runtime> = match kind {
                RuntimeKind::Cri => Arc::new(
                    CriRuntime::connect(&args.containerd_address)
                        .await
                        .with_context(|| {
                            format!(
                                "connecting to containerd at {} (is it running? scripts/containerd.sh start)",
                                args.containerd_address.display()
                            )
                        })?,
                ),
                _ => {
                    tracing::warn!("process runtime: containers are host processes without isolation");
                    Arc::new(ProcessRuntime::new(args.root_dir.join("process")))
                }
            };
            let version = runtime
                .version()
                .await
                .context("asking the runtime its version")?;
            let mut node = NodeConfig::from_host(&node_name, &node_ip, args.max_pods, &version);
            node.root_dir = Some(args.root_dir.clone());
            let server = if args.port == 0 {
                None
            } else {
                // Every address: the API server reaches it at the node's IP.
                let listener = tokio::net::TcpListener::bind(("0.0.0.0", args.port))
                    .await
                    .with_context(|| format!("binding --port {}", args.port))?;
                node.port = args.port;
                Some(listener)
            };
            std::fs::create_dir_all(&args.root_dir)
                .with_context(|| format!("creating {}", args.root_dir.display()))?;
            let config = KubeletConfig {
                node,
                pods_dir: args.root_dir.join("pods"),
                log_dir: args.log_dir.clone(),
                dns,
            };
            let prober = kubelet::prober(Arc::clone(&runtime));
            agents.push(tokio::spawn(kubelet::run(
                client.clone(),
                runtime,
                prober,
                config,
                server,
                stop.clone(),
            )));
            tracing::info!(node = %node_name, runtime = ?kind, "agent started");
        }
    }
    crate::store_cmd::shutdown_signal().await;
    tracing::info!("stopping");
    let _ = stop_tx.send(true);
    for agent in agents {
        let _ = agent.await;
    }
    Ok(())
}

/// The host's name, lowercased as node names are.
pub(crate) fn host_name() -> Result<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .context("reading the host name")?
        .trim()
        .to_lowercase();
    if name.is_empty() {
        bail!("the host has no name: pass --node-name");
    }
    Ok(name)
}

/// The local address the kernel picks to reach the API server: the one
/// other components can reach this node on.
async fn route_ip(api: &str) -> Result<String> {
    let authority = api
        .split("://")
        .nth(1)
        .unwrap_or(api)
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let target = tokio::net::lookup_host(&authority)
        .await
        .with_context(|| format!("resolving {authority}"))?
        .next()
        .with_context(|| format!("{authority} has no address"))?;
    let socket = std::net::UdpSocket::bind("0.0.0.0:0")?;
    socket.connect(target)?;
    Ok(socket.local_addr()?.ip().to_string())
}

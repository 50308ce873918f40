//! `berth`: the one binary of the berth orchestrator.

mod agent_cmd;
mod control_plane;
mod image_cmd;
mod server_cmd;
mod store_cmd;
mod up;
mod urls;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "berth",
    version,
    about = "A Kubernetes-compatible container orchestrator"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one member of berth's etcd-compatible store.
    Store(store_cmd::StoreArgs),
    /// Run one control-plane member: a store member and the Kubernetes API.
    Server(server_cmd::ServerArgs),
    /// Run a node's agent: its Node, its Lease, and the pods bound to it.
    Agent(agent_cmd::AgentArgs),
    /// Build OCI images from a directory or a static binary, without a registry.
    Image(image_cmd::ImageArgs),
    /// Start (or resume) a whole cluster on this host: three control-plane
    /// members and a node, kept running in the background.
    Up(up::UpArgs),
    /// Stop the cluster `berth up` started; its data stays.
    Down(up::ClusterArgs),
    /// Show the cluster's members, store leader, elected components and nodes.
    Status(up::ClusterArgs),
    /// The process `berth up` leaves running (not for direct use).
    #[command(hide = true)]
    Supervise(up::SuperviseArgs),
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,openraft=warn".into()),
        )
        .with_writer(std::io::stderr)
        // Logs of supervised processes go to files: no colour codes there.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new()?;
    match cli.command {
        Command::Store(args) => runtime.block_on(store_cmd::run(args)),
        Command::Server(args) => runtime.block_on(server_cmd::run(args)),
        Command::Agent(args) => runtime.block_on(agent_cmd::run(args)),
        Command::Image(args) => runtime.block_on(image_cmd::run(args)),
        Command::Up(args) => runtime.block_on(up::up(args)),
        Command::Down(args) => runtime.block_on(up::down(args)),
        Command::Status(args) => runtime.block_on(up::status(args)),
        Command::Supervise(args) => runtime.block_on(up::supervise(args)),
    }
}

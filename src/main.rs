//! `berth`: the one binary of the berth orchestrator.

mod agent_cmd;
mod control_plane;
mod image_cmd;
mod server_cmd;
mod store_cmd;
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
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,openraft=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new()?;
    match cli.command {
        Command::Store(args) => runtime.block_on(store_cmd::run(args)),
        Command::Server(args) => runtime.block_on(server_cmd::run(args)),
        Command::Agent(args) => runtime.block_on(agent_cmd::run(args)),
        Command::Image(args) => runtime.block_on(image_cmd::run(args)),
    }
}

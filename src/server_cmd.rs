//! `berth server`: one control-plane member, a store member and an API
//! server beside it that stores through it.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use tokio::net::TcpListener;

use crate::store_cmd::{self, StoreArgs};

/// Flags of `berth server`: the store's, and the API server's.
#[derive(Args, Debug)]
pub struct ServerArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Where the Kubernetes REST API listens.
    #[arg(long, default_value = "127.0.0.1:6443")]
    api_listen: String,
    /// Write a kubeconfig for kubectl here once the API serves.
    #[arg(long)]
    write_kubeconfig: Option<PathBuf>,
    /// Require a bearer token from this file on every request
    /// (kube-apiserver's format: `token,user,uid,"group1,group2"` lines).
    #[arg(long)]
    token_auth_file: Option<PathBuf>,
    /// Serve HTTPS with this PEM certificate (chain), beside plain HTTP on
    /// the same port; needs --tls-private-key-file.
    #[arg(long, requires = "tls_private_key_file")]
    tls_cert_file: Option<PathBuf>,
    /// The PEM private key of --tls-cert-file.
    #[arg(long, requires = "tls_cert_file")]
    tls_private_key_file: Option<PathBuf>,
    /// Seconds between BOOKMARK events of watches that allow them.
    #[arg(long, default_value_t = 60)]
    watch_bookmark_seconds: u64,
    /// Recent events the watch cache keeps per resource (kube-apiserver's
    /// flag name); watches from older versions are served by the store.
    #[arg(long, default_value_t = 4096)]
    default_watch_cache_size: usize,
    /// Controllers to run while this member leads the controller manager,
    /// by kube-controller-manager's names: `*` for all, `-name` to leave
    /// one out, empty for none.
    #[arg(long, default_value = "*")]
    controllers: String,
    /// How long a node may go silent (no Lease renewal, no status) before
    /// the node lifecycle controller marks it unreachable, e.g. `40s`.
    #[arg(long, default_value = "40s", value_parser = parse_duration)]
    node_monitor_grace_period: std::time::Duration,
    /// Run the scheduler while this member leads it (`--scheduler=false`
    /// for none).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    scheduler: bool,
}

/// Runs the member until SIGINT or SIGTERM.
pub async fn run(args: ServerArgs) -> Result<()> {
    let api_listener = TcpListener::bind(&args.api_listen)
        .await
        .with_context(|| format!("binding --api-listen {}", args.api_listen))?;
    let api_addr = api_listener.local_addr()?;
    let controllers = berth_controllers::manager::Enabled::parse(&args.controllers)
        .map_err(|e| anyhow::anyhow!("--controllers: {e}"))?;
    let member = store_cmd::start(&args.store).await?;
    let store_url = member.client_url.clone();
    // The member's own scheduler and controller manager authenticate with
    // a token made for this process alone.
    let own_token = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let authenticator = match &args.token_auth_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading --token-auth-file {}", path.display()))?;
            let mut tokens = berth_apiserver::authn::TokenAuthenticator::from_csv(&text)
                .with_context(|| format!("--token-auth-file {}", path.display()))?;
            tokens.insert(
                &own_token,
                berth_apiserver::authn::UserInfo {
                    name: format!("system:berth-member:{}", args.store.name()),
                    uid: format!("berth-member-{}", args.store.name()),
                    groups: vec!["system:masters".into()],
                },
            );
            Some(std::sync::Arc::new(tokens))
        }
        None => None,
    };
    let tls = match (&args.tls_cert_file, &args.tls_private_key_file) {
        (Some(cert), Some(key)) => {
            let read = |path: &PathBuf| {
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))
            };
            Some(
                berth_apiserver::tls::server_config(&read(cert)?, &read(key)?)
                    .context("--tls-cert-file and --tls-private-key-file")?,
            )
        }
        _ => None,
    };
    let config = berth_apiserver::Config {
        bookmark_interval: std::time::Duration::from_secs(args.watch_bookmark_seconds.max(1)),
        watch_cache_size: args.default_watch_cache_size,
        authenticator,
        tls,
    };
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let api = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop_rx.wait_for(|s| *s).await;
        };
        berth_apiserver::serve(api_listener, &store_url, config, shutdown).await
    });
    if let Some(path) = &args.write_kubeconfig {
        write_kubeconfig(path, &format!("http://{api_addr}"))?;
        tracing::info!(path = %path.display(), "kubeconfig written");
    }
    tracing::info!(%api_addr, "API server listening");
    // Components reach the API over loopback, whatever address it serves.
    let local_api = berth_client::Client::new(&format!("http://127.0.0.1:{}", api_addr.port()))?
        .with_token(&own_token)?;
    // One identity per member and data directory, kept across restarts, as
    // only one process can hold a member's data: a member restarted while
    // its Lease is current takes it back at once instead of waiting out the
    // lease duration (all members stop at once in `berth down`, so the last
    // holders cannot always release their Leases).
    let identity = format!("{}_{:x}", args.store.name(), member.id);
    let (loops_stop, loops_stopped) = tokio::sync::watch::channel(false);
    let manager = if controllers.is_empty() {
        None
    } else {
        Some(crate::control_plane::start_controller_manager(
            local_api.clone(),
            &identity,
            berth_controllers::manager::Config {
                enabled: controllers,
                node_monitor_grace_period: args.node_monitor_grace_period,
            },
            loops_stopped.clone(),
        )?)
    };
    let scheduler = if args.scheduler {
        Some(crate::control_plane::start_scheduler(
            local_api.clone(),
            &identity,
            loops_stopped.clone(),
        )?)
    } else {
        None
    };
    store_cmd::shutdown_signal().await;
    // The leaders release their Leases while the API still serves, so the
    // other members take over at once instead of after the lease duration.
    let _ = loops_stop.send(true);
    for task in [manager, scheduler].into_iter().flatten() {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), task).await;
    }
    let _ = stop_tx.send(true);
    // Graceful shutdown waits for open requests, and a client's watch never
    // ends by itself: they get a moment, then the process ends them.
    match tokio::time::timeout(std::time::Duration::from_secs(2), api).await {
        Ok(Ok(Err(e))) => tracing::warn!(error = %e, "API server"),
        Err(_) => tracing::info!("closing the API connections still open"),
        _ => {}
    }
    member.stop().await;
    Ok(())
}

/// A duration as Kubernetes flags write them (`40s`, `5m`, `1h30m`).
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let d: jiff::SignedDuration = s.parse().map_err(|e| format!("{s:?}: {e}"))?;
    std::time::Duration::try_from(d).map_err(|e| format!("{s:?}: {e}"))
}

/// A kubeconfig with one cluster, user and context, all named `berth`.
fn write_kubeconfig(path: &std::path::Path, server: &str) -> Result<()> {
    let config = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: berth\n  cluster:\n    server: {server}\nusers:\n- name: berth\n  user: {{}}\ncontexts:\n- name: berth\n  context:\n    cluster: berth\n    user: berth\n    namespace: default\ncurrent-context: berth\n"
    );
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, config).with_context(|| format!("writing {}", path.display()))
}

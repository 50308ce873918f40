//! `berth store`: one member of the etcd-compatible store, with etcd's flag
//! names and defaults.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use berth_store::server::{self, ServerConfig};
use clap::Args;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

use crate::urls::{bind_addr, split};

/// Flags of `berth store` (etcd's names).
#[derive(Args, Debug)]
pub struct StoreArgs {
    /// Human-readable name of this member; must appear in --initial-cluster.
    #[arg(long, default_value = "default")]
    name: String,
    /// Directory for the Raft log and the key-value state [default: <name>.etcd].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// URLs to serve clients (etcd v3 gRPC) on.
    #[arg(long, default_value = "http://localhost:2379")]
    listen_client_urls: String,
    /// Client URLs other members and `member list` show [default: --listen-client-urls].
    #[arg(long)]
    advertise_client_urls: Option<String>,
    /// URL to serve other members on.
    #[arg(long, default_value = "http://localhost:2380")]
    listen_peer_urls: String,
    /// Every member as name=peer-url, comma-separated [default: <name>=<listen-peer-url>].
    #[arg(long)]
    initial_cluster: Option<String>,
    /// Token mixed into member and cluster IDs.
    #[arg(long, default_value = "etcd-cluster")]
    initial_cluster_token: String,
    /// `new` or `existing`; a member with data rejoins with its data either way.
    #[arg(long, default_value = "new")]
    initial_cluster_state: String,
    /// Milliseconds between heartbeats.
    #[arg(long, default_value_t = 100)]
    heartbeat_interval: u64,
    /// Milliseconds without a heartbeat before an election.
    #[arg(long, default_value_t = 1000)]
    election_timeout: u64,
    /// Applied entries between snapshots.
    #[arg(long, default_value_t = 10_000)]
    snapshot_count: u64,
    /// Most operations in one txn.
    #[arg(long, default_value_t = server::DEFAULT_MAX_TXN_OPS)]
    max_txn_ops: usize,
    /// Largest request accepted, in bytes.
    #[arg(long, default_value_t = server::DEFAULT_MAX_REQUEST_BYTES)]
    max_request_bytes: usize,
    /// URLs to serve /livez, /readyz and /metrics on (HTTP).
    #[arg(long)]
    listen_metrics_urls: Option<String>,
}

impl StoreArgs {
    /// The member's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn config(&self) -> Result<ServerConfig> {
        let peer_urls = split(&self.listen_peer_urls);
        let Some(peer_url) = peer_urls.first() else {
            bail!("--listen-peer-urls is empty");
        };
        let initial_cluster = match &self.initial_cluster {
            Some(list) => split(list)
                .into_iter()
                .map(|entry| match entry.split_once('=') {
                    Some((name, url)) if !name.is_empty() && !url.is_empty() => {
                        Ok((name.to_string(), url.to_string()))
                    }
                    _ => bail!("--initial-cluster: {entry:?} is not name=url"),
                })
                .collect::<Result<Vec<_>>>()?,
            None => vec![(self.name.clone(), peer_url.clone())],
        };
        if !initial_cluster.iter().any(|(name, _)| *name == self.name) {
            bail!(
                "--name {:?} does not appear in --initial-cluster",
                self.name
            );
        }
        if !matches!(self.initial_cluster_state.as_str(), "new" | "existing") {
            bail!("--initial-cluster-state must be new or existing");
        }
        let data_dir = self
            .data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("{}.etcd", self.name)));
        let advertise = split(
            self.advertise_client_urls
                .as_deref()
                .unwrap_or(&self.listen_client_urls),
        );
        let mut config = ServerConfig::single(&self.name, data_dir, peer_url, "");
        config.initial_cluster = initial_cluster;
        config.initial_cluster_token = self.initial_cluster_token.clone();
        config.advertise_client_urls = advertise;
        config.heartbeat_interval = Duration::from_millis(self.heartbeat_interval);
        config.election_timeout = Duration::from_millis(self.election_timeout);
        if self.election_timeout < 5 * self.heartbeat_interval {
            bail!("--election-timeout should be at least 5 times --heartbeat-interval");
        }
        config.snapshot_count = self.snapshot_count;
        config.max_txn_ops = self.max_txn_ops;
        config.max_request_bytes = self.max_request_bytes;
        Ok(config)
    }
}

/// Runs a member until SIGINT or SIGTERM.
pub async fn run(args: StoreArgs) -> Result<()> {
    let member = start(&args).await?;
    shutdown_signal().await;
    member.stop().await;
    Ok(())
}

/// How long a stopping member lets open streams end before it cuts them.
const STREAM_DRAIN: std::time::Duration = std::time::Duration::from_secs(2);

/// A running member and the tasks serving it.
pub struct Member {
    server: std::sync::Arc<berth_store::server::EtcdServer>,
    stop_tx: tokio::sync::watch::Sender<bool>,
    tasks: tokio::task::JoinSet<Result<(), tonic::transport::Error>>,
    /// The member's first client URL, for an API server beside it.
    pub client_url: String,
    /// The member's ID, derived from its name and cluster token: the same
    /// across restarts.
    pub id: u64,
}

impl Member {
    /// Stops serving and shuts Raft down.
    pub async fn stop(mut self) {
        tracing::info!("stopping");
        let _ = self.stop_tx.send(true);
        self.server.shutdown().await;
        // Graceful shutdown waits for open streams to end; watches (the API
        // server's own among them, in `berth server`) never end by
        // themselves, so they get a moment and are then cut, as etcd does.
        let drained = tokio::time::timeout(STREAM_DRAIN, async {
            while let Some(joined) = self.tasks.join_next().await {
                if let Ok(Err(e)) = joined {
                    tracing::warn!(error = %e, "server task");
                }
            }
        })
        .await;
        if drained.is_err() {
            self.tasks.abort_all();
        }
    }
}

/// Starts a member: binds every URL first (so a taken port fails before any
/// data is touched), then opens its data and serves.
pub async fn start(args: &StoreArgs) -> Result<Member> {
    let config = args.config()?;
    let client_urls = split(&args.listen_client_urls);
    let mut client_listeners = Vec::new();
    for url in &client_urls {
        let addr = bind_addr(url)?;
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding client URL {url}"))?;
        client_listeners.push(listener);
    }
    let peer_addr = bind_addr(&split(&args.listen_peer_urls)[0])?;
    let peer_listener = TcpListener::bind(peer_addr)
        .await
        .with_context(|| format!("binding peer URL {}", args.listen_peer_urls))?;
    let mut metrics_listeners = Vec::new();
    if let Some(urls) = &args.listen_metrics_urls {
        for url in split(urls) {
            let addr = bind_addr(&url)?;
            let listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding metrics URL {url}"))?;
            metrics_listeners.push(listener);
        }
    }

    let name = config.name.clone();
    let server = server::start(config, berth_store::transport::tcp_connector())
        .await
        .context("starting the store member")?;
    tracing::info!(
        name,
        id = format!("{:x}", server.id()),
        "store member started"
    );

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(berth_store::grpc::serve_peers(
        server.clone(),
        no_delay(peer_listener),
        stopped(),
    ));
    for listener in client_listeners {
        tasks.spawn(berth_store::grpc::serve_clients(
            server.clone(),
            no_delay(listener),
            stopped(),
        ));
    }
    for listener in metrics_listeners {
        let router = berth_store::http::router(server.clone());
        let shutdown = stopped();
        tasks.spawn(async move {
            if let Err(e) = axum::serve(listener, router)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::error!(error = %e, "metrics server");
            }
            Ok(())
        });
    }
    Ok(Member {
        id: server.id(),
        server,
        stop_tx,
        tasks,
        client_url: client_urls.first().cloned().unwrap_or_default(),
    })
}

/// Accepted connections with Nagle's algorithm off. tonic sets it only on
/// listeners it binds itself; without it a small answer waits for the
/// peer's delayed ACK (about 40 ms per request).
fn no_delay(
    listener: TcpListener,
) -> impl tokio_stream::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    use tokio_stream::StreamExt;
    TcpListenerStream::new(listener).map(|accepted| {
        if let Ok(stream) = &accepted {
            let _ = stream.set_nodelay(true);
        }
        accepted
    })
}

pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

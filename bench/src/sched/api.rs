//! Through a running berth server: this benchmark creates the nodes and the
//! pods over the API, and the server's elected scheduler binds them. Run it
//! against a scratch cluster (the nodes and pods stay behind), with the
//! controllers off (`berth server --controllers=`) so no node lifecycle
//! taints the simulated nodes, which renew no Lease.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use berth_client::{Api, Client, ListParams, WatchEvent};
use futures::{stream, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{histogram, node, pod, record, Config, Report};

/// Why the API run could not complete.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A call to the API server failed.
    #[error("{what}: {source}")]
    Call {
        /// What was being done.
        what: String,
        /// The client's error.
        source: berth_client::Error,
    },
    /// Not every pod was bound in time.
    #[error("{bound} of {pods} pods bound after {waited:?}")]
    Timeout {
        /// Pods seen bound.
        bound: usize,
        /// Pods created.
        pods: usize,
        /// How long the run waited.
        waited: Duration,
    },
}

fn call(what: impl Into<String>) -> impl FnOnce(berth_client::Error) -> ApiError {
    let what = what.into();
    move |source| ApiError::Call { what, source }
}

/// Concurrent requests while creating objects.
const CREATORS: usize = 32;

/// Runs the benchmark against the API server at `url`, in namespace `ns`
/// (created when absent); gives up `timeout` after the first pod's creation.
pub async fn run(
    url: &str,
    ns: &str,
    config: &Config,
    timeout: Duration,
) -> Result<Report, ApiError> {
    let client = Client::new(url).map_err(call(format!("connecting to {url}")))?;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(ns.to_string()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    match namespaces.create(&namespace).await {
        Ok(_) => {}
        Err(e) if e.is_already_exists() => {}
        Err(e) => return Err(call(format!("creating namespace {ns}"))(e)),
    }
    create_nodes(&client, config).await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let existing = (0..config.existing).map(|i| {
        let mut p = pod(ns, "existing", i, config.pods_per_app);
        p.metadata.uid = None;
        if let Some(spec) = p.spec.as_mut() {
            spec.node_name = Some(format!("bench-node-{}", i % config.nodes.max(1)));
        }
        p
    });
    create_all(&pods, existing, "creating a bound pod").await?;

    // Watch from the current state, so only the measured pods' changes come.
    let listed = pods
        .list(&ListParams {
            limit: 1,
            ..ListParams::default()
        })
        .await
        .map_err(call("listing pods"))?;
    let version = listed.metadata.resource_version.unwrap_or_default();
    let mut events = pods
        .watch(&ListParams::default(), &version)
        .await
        .map_err(call("watching pods"))?;
    let (bound_tx, mut bound_rx) = tokio::sync::mpsc::unbounded_channel::<(String, Instant)>();
    let watcher = tokio::spawn(async move {
        while let Some(Ok(event)) = events.next().await {
            if let WatchEvent::Added(p) | WatchEvent::Modified(p) = event {
                let bound = p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some();
                if let (true, Some(name)) = (bound, p.metadata.name) {
                    if bound_tx.send((name, Instant::now())).is_err() {
                        return;
                    }
                }
            }
        }
    });

    let started = Instant::now();
    let (sent_tx, mut sent_rx) = tokio::sync::mpsc::unbounded_channel::<(String, Instant)>();
    let creator = {
        let pods = pods.clone();
        let config = config.clone();
        let ns = ns.to_string();
        tokio::spawn(async move {
            let measured = (0..config.pods).map(move |i| {
                let mut p = pod(&ns, "measured", i, config.pods_per_app);
                p.metadata.uid = None;
                p
            });
            stream::iter(measured)
                .map(|p| {
                    let pods = pods.clone();
                    let sent_tx = sent_tx.clone();
                    async move {
                        let name = p.metadata.name.clone().unwrap_or_default();
                        // Latency counts from the request, as a pod's
                        // creationTimestamp would.
                        let _ = sent_tx.send((name, Instant::now()));
                        pods.create(&p).await.map_err(call("creating a pod"))
                    }
                })
                .buffer_unordered(CREATORS)
                .try_for_each(|_| async { Ok(()) })
                .await
        })
    };

    let mut sent: HashMap<String, Instant> = HashMap::with_capacity(config.pods);
    let mut bound: HashMap<String, Instant> = HashMap::with_capacity(config.pods);
    let mut last_bound = started;
    let deadline = tokio::time::Instant::now() + timeout;
    while bound.len() < config.pods {
        tokio::select! {
            Some((name, at)) = sent_rx.recv() => { sent.insert(name, at); }
            Some((name, at)) = bound_rx.recv() => {
                if name.starts_with("measured-") && !bound.contains_key(&name) {
                    last_bound = at;
                    bound.insert(name, at);
                }
            }
            _ = tokio::time::sleep_until(deadline) => {
                watcher.abort();
                creator.abort();
                return Err(ApiError::Timeout { bound: bound.len(), pods: config.pods, waited: timeout });
            }
        }
    }
    watcher.abort();
    if let Ok(result) = creator.await {
        result?;
    }
    while let Ok((name, at)) = sent_rx.try_recv() {
        sent.insert(name, at);
    }
    let mut latency = histogram();
    for (name, at) in &bound {
        if let Some(from) = sent.get(name) {
            record(&mut latency, at.saturating_duration_since(*from));
        }
    }
    Ok(Report::new(
        "api",
        config,
        last_bound.saturating_duration_since(started),
        &latency,
    ))
}

/// Creates the nodes with their status, as kubelets register them; nodes
/// left by an earlier run are kept.
async fn create_nodes(client: &Client, config: &Config) -> Result<(), ApiError> {
    let nodes: Api<Node> = Api::all(client.clone());
    stream::iter((0..config.nodes).map(|i| node(i, config.zones)))
        .map(|n| {
            let nodes = nodes.clone();
            async move {
                let created = match nodes.create(&n).await {
                    Ok(created) => created,
                    Err(e) if e.is_already_exists() => return Ok(()),
                    Err(e) => return Err(call("creating a node")(e)),
                };
                // A create does not take the status: write it as a kubelet does.
                let mut with_status = created;
                with_status.status = n.status;
                nodes
                    .replace_status(&with_status)
                    .await
                    .map(|_| ())
                    .map_err(call("writing a node's status"))
            }
        })
        .buffer_unordered(CREATORS)
        .try_for_each(|_| async { Ok(()) })
        .await
}

async fn create_all(
    pods: &Api<Pod>,
    all: impl Iterator<Item = Pod>,
    what: &'static str,
) -> Result<(), ApiError> {
    stream::iter(all)
        .map(|p| {
            let pods = pods.clone();
            async move { pods.create(&p).await.map(|_| ()).map_err(call(what)) }
        })
        .buffer_unordered(CREATORS)
        .try_for_each(|_| async { Ok(()) })
        .await
}

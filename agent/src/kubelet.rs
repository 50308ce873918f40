//! One node's agent put together: the Node registered, its Lease renewed,
//! its status reported, and a worker per pod bound to it, until told to
//! stop. `berth agent` runs one of these, or hundreds over hollow runtimes.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use berth_client::{Api, Client, Informer, InformerConfig, ListParams, Recorder};
use k8s_openapi::api::core::v1::Pod;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::lookup::InformerLookup;
use crate::node::{self, NodeConfig};
use crate::pod::{self, PodLogs, Shared};
use crate::probe::{ProbeManager, ProbeRunner, Prober};
use crate::runtime::{DnsConfig, Runtime};

/// The longest wait between registration attempts (the kubelet's).
const REGISTER_BACKOFF_MAX: Duration = Duration::from_secs(7);

/// What one agent needs besides its API client and runtime.
#[derive(Debug, Clone)]
pub struct KubeletConfig {
    /// The node as registered.
    pub node: NodeConfig,
    /// Per-pod directories (volumes).
    pub pods_dir: PathBuf,
    /// Container logs, `/var/log/pods` layout.
    pub log_dir: PathBuf,
    /// resolv.conf of the pods.
    pub dns: DnsConfig,
}

/// Runs the agent of `config.node` until `stop` turns true. Registration is
/// retried until it succeeds (the API may not be up yet). With `server`,
/// container logs are served on it (the node's `kubeletEndpoint`).
pub async fn run(
    client: Client,
    runtime: Arc<dyn Runtime>,
    prober: Arc<dyn ProbeRunner>,
    config: KubeletConfig,
    server: Option<TcpListener>,
    stop: watch::Receiver<bool>,
) {
    let Some(registered) = register(&client, &config.node, runtime.as_ref(), stop.clone()).await
    else {
        return;
    };
    let node_config = Arc::new(config.node.clone());
    let lease = tokio::spawn(node::renew_loop(client.clone(), registered, stop.clone()));
    let status = tokio::spawn(node::status_loop(
        client.clone(),
        Arc::clone(&node_config),
        Arc::clone(&runtime),
        stop.clone(),
    ));

    let lookup = Arc::new(InformerLookup::spawn(&client));
    let pods = Informer::spawn(
        Api::<Pod>::all(client.clone()),
        InformerConfig {
            params: ListParams::fields(&format!("spec.nodeName={}", config.node.name)),
            resync: None,
        },
        vec![],
    );
    tokio::join!(lookup.wait_synced(), pods.wait_synced());
    let logs = server.map(|listener| {
        let source = Arc::new(PodLogs::new(pods.store(), Arc::clone(&runtime)));
        let mut stopped = stop.clone();
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            let exec: Arc<dyn crate::server::ExecSource> = source.clone();
            if let Err(e) = crate::server::serve(listener, source, exec, shutdown).await {
                tracing::warn!(error = %e, "the log server failed");
            }
        })
    });

    let (probes, probe_events) = ProbeManager::new(prober);
    let shared = Arc::new(Shared {
        runtime,
        client: client.clone(),
        recorder: Recorder::new(client, "kubelet"),
        probes,
        node_name: config.node.name.clone(),
        node_ip: config.node.ip.clone(),
        pods_dir: config.pods_dir,
        log_dir: config.log_dir,
        dns: config.dns,
        lookup,
        allocatable: config.node.allocatable.clone(),
    });
    pod::run(shared, pods.store(), probe_events, stop).await;
    let _ = tokio::join!(lease, status);
    if let Some(logs) = logs {
        let _ = logs.await;
    }
}

async fn register(
    client: &Client,
    config: &NodeConfig,
    runtime: &dyn Runtime,
    mut stop: watch::Receiver<bool>,
) -> Option<k8s_openapi::api::core::v1::Node> {
    let mut wait = Duration::from_millis(100);
    loop {
        match node::register(client, config, runtime).await {
            Ok(node) => {
                tracing::info!(node = %config.name, "node registered");
                return Some(node);
            }
            Err(e) => tracing::warn!(error = %e, "registering the node failed; retrying"),
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return None,
        }
        wait = (wait * 2).min(REGISTER_BACKOFF_MAX);
    }
}

/// The probe runner for real runtimes.
pub fn prober(runtime: Arc<dyn Runtime>) -> Arc<dyn ProbeRunner> {
    Arc::new(Prober::new(runtime))
}

/// The host's resolver configuration, from the text of an
/// `/etc/resolv.conf` (the kubelet's `--resolv-conf`, which pods with
/// dnsPolicy `Default` get and, without a cluster DNS, every pod).
pub fn parse_resolv_conf(text: &str) -> DnsConfig {
    let mut dns = DnsConfig::default();
    for line in text.lines() {
        let line = line.split(['#', ';']).next().unwrap_or_default();
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => dns.servers.extend(words.next().map(str::to_string)),
            Some("search") => dns.searches = words.map(str::to_string).collect(),
            Some("options") => dns.options.extend(words.map(str::to_string)),
            _ => {}
        }
    }
    dns
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_gives_servers_searches_and_options() {
        let dns = parse_resolv_conf(
            "# generated\nnameserver 10.0.0.2\nnameserver 1.1.1.1 ; second\nsearch a.example b.example\noptions ndots:2 edns0\n",
        );
        assert_eq!(dns.servers, vec!["10.0.0.2", "1.1.1.1"]);
        assert_eq!(dns.searches, vec!["a.example", "b.example"]);
        assert_eq!(dns.options, vec!["ndots:2", "edns0"]);
    }
}

//! The controller manager: shared informers and every enabled controller,
//! run together while this member holds the `kube-controller-manager`
//! Lease.

use berth_client::{index, Api, Client, Informer, InformerConfig, Resource};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Endpoints, Namespace, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;

/// Which controllers run, by their kube-controller-manager names
/// (`--controllers`: `*` for all, `-name` to turn one off).
#[derive(Clone, Debug)]
pub struct Enabled {
    names: Vec<String>,
}

/// Every controller this manager knows.
pub const ALL: &[&str] = &[
    "deployment",
    "endpoints",
    "endpointslice",
    "garbagecollector",
    "namespace",
    "nodelifecycle",
    "replicaset",
];

impl Enabled {
    /// Parses a `--controllers` value such as `*,-namespace` or
    /// `deployment,replicaset`.
    pub fn parse(flag: &str) -> Result<Self, String> {
        let items: Vec<&str> = flag
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        for item in &items {
            let name = item.trim_start_matches('-');
            if *item != "*" && !ALL.contains(&name) {
                return Err(format!(
                    "unknown controller {name:?}; known: {}",
                    ALL.join(", ")
                ));
            }
        }
        let all = items.contains(&"*");
        let names = ALL
            .iter()
            .filter(|n| {
                let on = all || items.contains(n);
                let off = items.iter().any(|i| i.strip_prefix('-') == Some(**n));
                on && !off
            })
            .map(|n| n.to_string())
            .collect();
        Ok(Enabled { names })
    }

    /// Whether the controller `name` runs.
    pub fn has(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }

    /// Whether no controller runs.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

fn informer<K: Resource>(
    client: &Client,
    indexes: Vec<(&'static str, berth_client::IndexFn<K>)>,
) -> Informer<K> {
    Informer::spawn(
        Api::<K>::all(client.clone()),
        InformerConfig::default(),
        indexes,
    )
}

/// What the controller manager runs, and how.
#[derive(Clone, Debug)]
pub struct Config {
    /// The controllers to run.
    pub enabled: Enabled,
    /// How long a node may go without renewing its Lease or posting status
    /// before it is judged unreachable (`--node-monitor-grace-period`,
    /// 40 s by default).
    pub node_monitor_grace_period: std::time::Duration,
}

/// Runs the enabled controllers until the future is dropped (leadership
/// lost or the member stopping), which stops every task they started.
pub async fn run(client: Client, config: Config) {
    let enabled = config.enabled;
    let mut health = crate::nodelifecycle::HealthConfig::default();
    if let Ok(grace) = jiff::SignedDuration::try_from(config.node_monitor_grace_period) {
        health.node_monitor_grace_period = grace;
    }
    let namespaces = informer::<Namespace>(&client, Vec::new());
    let pods = informer::<Pod>(
        &client,
        vec![
            (index::NAMESPACE, index::namespace()),
            (index::NODE_NAME, index::pod_node_name()),
        ],
    );
    let replica_sets = informer::<ReplicaSet>(&client, by_namespace());
    let deployments = informer::<Deployment>(&client, by_namespace());
    let services = informer::<Service>(&client, by_namespace());
    let endpoints = informer::<Endpoints>(&client, Vec::new());
    let slices = informer::<EndpointSlice>(&client, crate::endpointslice::controller::indexes());
    let nodes = informer::<Node>(&client, Vec::new());
    namespaces.wait_synced().await;
    pods.wait_synced().await;
    replica_sets.wait_synced().await;
    deployments.wait_synced().await;
    services.wait_synced().await;
    endpoints.wait_synced().await;
    slices.wait_synced().await;
    nodes.wait_synced().await;
    tracing::info!(controllers = ?enabled.names, "controllers starting");
    let on = |name: &str| enabled.has(name);
    // Worker counts are kube-controller-manager's defaults
    // (--concurrent-deployment-syncs 5, --concurrent-replicaset-syncs 5,
    // --concurrent-endpoint-syncs 5, --concurrent-service-endpoint-syncs 5,
    // --concurrent-namespace-syncs 10,
    // --concurrent-gc-syncs 20).
    let c = &client;
    tokio::join!(
        when(
            on("namespace"),
            crate::namespace::run(c.clone(), &namespaces, 10)
        ),
        when(
            on("replicaset"),
            crate::replicaset::controller::run(c.clone(), &replica_sets, &pods, 5)
        ),
        when(
            on("deployment"),
            crate::deployment::controller::run(c.clone(), &deployments, &replica_sets, &pods, 5)
        ),
        when(
            on("endpoints"),
            crate::endpoints::controller::run(c.clone(), &services, &pods, &endpoints, 5)
        ),
        when(
            on("endpointslice"),
            crate::endpointslice::controller::run(c.clone(), &services, &pods, &slices, &nodes, 5)
        ),
        when(
            on("garbagecollector"),
            crate::garbagecollector::controller::run(
                c.clone(),
                crate::garbagecollector::controller::Informers {
                    pods: &pods,
                    replica_sets: &replica_sets,
                    deployments: &deployments,
                    services: &services,
                    endpoints: &endpoints,
                    slices: &slices,
                },
                20,
            )
        ),
        when(
            on("nodelifecycle"),
            crate::nodelifecycle::controller::run(c.clone(), &nodes, &pods, health)
        ),
    );
}

fn by_namespace<K: Resource>() -> Vec<(&'static str, berth_client::IndexFn<K>)> {
    vec![(index::NAMESPACE, index::namespace())]
}

/// Runs `controller` if it is enabled.
async fn when(enabled: bool, controller: impl std::future::Future<Output = ()>) {
    if enabled {
        controller.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controllers_flag_follows_kubernetes_syntax() {
        let all = Enabled::parse("*").unwrap();
        assert!(ALL.iter().all(|n| all.has(n)));
        let most = Enabled::parse("*,-namespace").unwrap();
        assert!(!most.has("namespace"));
        assert!(most.has("replicaset"));
        let two = Enabled::parse("deployment, replicaset").unwrap();
        assert!(two.has("deployment") && two.has("replicaset") && !two.has("endpoints"));
        assert!(Enabled::parse("").unwrap().is_empty());
        assert!(Enabled::parse("nope")
            .unwrap_err()
            .contains("unknown controller"));
    }
}

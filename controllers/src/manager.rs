//! The controller manager: shared informers and every enabled controller,
//! run together while this member holds the `kube-controller-manager`
//! Lease.

use berth_client::{index, Api, Client, Informer, InformerConfig};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Namespace, Pod};

/// Which controllers run, by their kube-controller-manager names
/// (`--controllers`: `*` for all, `-name` to turn one off).
#[derive(Clone, Debug)]
pub struct Enabled {
    names: Vec<String>,
}

/// Every controller this manager knows.
pub const ALL: &[&str] = &["namespace", "replicaset"];

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

/// Runs the enabled controllers until the future is dropped (leadership
/// lost or the member stopping), which stops every task they started.
pub async fn run(client: Client, enabled: Enabled) {
    let namespaces = Informer::spawn(
        Api::<Namespace>::all(client.clone()),
        InformerConfig::default(),
        Vec::new(),
    );
    let pods = Informer::spawn(
        Api::<Pod>::all(client.clone()),
        InformerConfig::default(),
        vec![(index::NAMESPACE, index::namespace())],
    );
    let replica_sets = Informer::spawn(
        Api::<ReplicaSet>::all(client.clone()),
        InformerConfig::default(),
        vec![(index::NAMESPACE, index::namespace())],
    );
    namespaces.wait_synced().await;
    pods.wait_synced().await;
    replica_sets.wait_synced().await;
    tracing::info!(controllers = ?enabled.names, "controllers starting");
    // kube-controller-manager's default worker counts: 5 for replicaset
    // (--concurrent-replicaset-syncs), 10 for namespace.
    let namespace = async {
        if enabled.has("namespace") {
            crate::namespace::run(client.clone(), &namespaces, 10).await;
        }
    };
    let replicaset = async {
        if enabled.has("replicaset") {
            crate::replicaset::controller::run(client.clone(), &replica_sets, &pods, 5).await;
        }
    };
    tokio::join!(namespace, replicaset);
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
        assert!(Enabled::parse("").unwrap().is_empty());
        assert!(Enabled::parse("nope").unwrap_err().contains("unknown controller"));
    }
}

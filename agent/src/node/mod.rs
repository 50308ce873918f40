//! This node in the API: its Node object registered with capacity,
//! addresses, labels and nodeInfo; its Lease in `kube-node-lease` renewed
//! every 10 s (the node lifecycle controller's heartbeat); its status
//! (conditions, images) checked every 10 s and written when it changed or
//! at least every 5 minutes, the kubelet's `nodeStatusUpdateFrequency` and
//! `nodeStatusReportFrequency`.

pub mod conditions;
pub mod host;
mod lease;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use berth_client::{Api, Client};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    ContainerImage, DaemonEndpoint, Node, NodeAddress, NodeDaemonEndpoints, NodeSpec, NodeStatus,
    NodeSystemInfo,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use tokio::sync::watch;

pub use lease::renew_loop;

use crate::runtime::Runtime;

/// How often the status is checked.
pub const STATUS_UPDATE_FREQUENCY: Duration = Duration::from_secs(10);
/// How often an unchanged status is written anyway.
pub const STATUS_REPORT_FREQUENCY: Duration = Duration::from_secs(300);
/// The kubelet version this agent reports: the API level it serves.
pub const KUBELET_VERSION: &str = "v1.33.0-berth";
/// Most images listed in the status (the kubelet's `nodeStatusMaxImages`).
pub const MAX_IMAGES: usize = 50;

/// What the node is and reports.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Node name.
    pub name: String,
    /// InternalIP.
    pub ip: String,
    /// Capacity (cpu, memory, pods, ephemeral-storage).
    pub capacity: BTreeMap<String, Quantity>,
    /// Allocatable: capacity less the eviction reserve.
    pub allocatable: BTreeMap<String, Quantity>,
    /// nodeInfo.
    pub info: NodeSystemInfo,
    /// Extra labels.
    pub labels: BTreeMap<String, String>,
    /// Port of the agent's server (logs, exec), 0 when none.
    pub port: u16,
    /// Directory whose filesystem DiskPressure watches (None: not watched).
    pub root_dir: Option<PathBuf>,
    /// Whether to read memory pressure from the host.
    pub host_pressure: bool,
}

impl NodeConfig {
    /// A node of the host's own size, reserving the kubelet's default
    /// eviction threshold (100Mi) from allocatable memory.
    pub fn from_host(name: &str, ip: &str, max_pods: u32, runtime_version: &str) -> Self {
        let facts = host::facts();
        let capacity: BTreeMap<String, Quantity> = [
            ("cpu".to_string(), Quantity(facts.cpus.to_string())),
            (
                "memory".to_string(),
                Quantity(format!("{}Ki", facts.memory_bytes / 1024)),
            ),
            ("pods".to_string(), Quantity(max_pods.to_string())),
        ]
        .into();
        let mut allocatable = capacity.clone();
        let reserve = conditions::MEMORY_AVAILABLE_THRESHOLD;
        allocatable.insert(
            "memory".into(),
            Quantity(format!(
                "{}Ki",
                facts.memory_bytes.saturating_sub(reserve) / 1024
            )),
        );
        NodeConfig {
            name: name.to_string(),
            ip: ip.to_string(),
            capacity,
            allocatable,
            info: NodeSystemInfo {
                architecture: "amd64".into(),
                boot_id: facts.boot_id,
                container_runtime_version: runtime_version.to_string(),
                kernel_version: facts.kernel_version,
                kube_proxy_version: String::new(),
                kubelet_version: KUBELET_VERSION.into(),
                machine_id: facts.machine_id,
                operating_system: "linux".into(),
                os_image: facts.os_image,
                system_uuid: String::new(),
                swap: None,
            },
            labels: BTreeMap::new(),
            port: 0,
            root_dir: None,
            host_pressure: true,
        }
    }

    /// The Node object as registered.
    pub fn node(&self) -> Node {
        let mut labels = self.labels.clone();
        for (k, v) in [
            ("kubernetes.io/hostname", self.name.as_str()),
            ("kubernetes.io/os", "linux"),
            ("kubernetes.io/arch", "amd64"),
            ("beta.kubernetes.io/os", "linux"),
            ("beta.kubernetes.io/arch", "amd64"),
        ] {
            labels.insert(k.into(), v.into());
        }
        Node {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                labels: Some(labels),
                ..ObjectMeta::default()
            },
            spec: Some(NodeSpec::default()),
            status: Some(NodeStatus {
                capacity: Some(self.capacity.clone()),
                allocatable: Some(self.allocatable.clone()),
                addresses: Some(vec![
                    NodeAddress {
                        type_: "InternalIP".into(),
                        address: self.ip.clone(),
                    },
                    NodeAddress {
                        type_: "Hostname".into(),
                        address: self.name.clone(),
                    },
                ]),
                node_info: Some(self.info.clone()),
                daemon_endpoints: Some(NodeDaemonEndpoints {
                    kubelet_endpoint: Some(DaemonEndpoint {
                        port: i32::from(self.port),
                    }),
                }),
                ..NodeStatus::default()
            }),
        }
    }
}

/// Why registration failed.
#[derive(Debug, thiserror::Error)]
#[error("registering node {node}: {source}")]
pub struct RegisterError {
    node: String,
    source: berth_client::Error,
}

/// Registers the node (or takes over its existing object) and writes its
/// first status.
pub async fn register(
    client: &Client,
    config: &NodeConfig,
    runtime: &dyn Runtime,
) -> Result<Node, RegisterError> {
    let nodes: Api<Node> = Api::all(client.clone());
    let err = |source| RegisterError {
        node: config.name.clone(),
        source,
    };
    let wanted = config.node();
    let mut current = match nodes.create(&wanted).await {
        Ok(created) => created,
        Err(e) if e.is_already_exists() => {
            let mut existing = nodes.get(&config.name).await.map_err(err)?;
            // Labels the agent owns are brought up to date; others stay.
            let labels = existing.metadata.labels.get_or_insert_with(BTreeMap::new);
            for (k, v) in wanted.metadata.labels.clone().unwrap_or_default() {
                labels.insert(k, v);
            }
            nodes.replace(&existing).await.map_err(err)?
        }
        Err(e) => return Err(err(e)),
    };
    let mut status = wanted.status.clone().unwrap_or_default();
    status.conditions = Some(conditions::conditions(
        &[],
        &pressure(config, runtime).await,
        Timestamp::now(),
    ));
    status.images = Some(images(runtime).await);
    current.status = Some(status);
    nodes.replace_status(&current).await.map_err(err)
}

async fn pressure(config: &NodeConfig, runtime: &dyn Runtime) -> conditions::Pressure {
    conditions::Pressure {
        memory_available: if config.host_pressure {
            host::meminfo("MemAvailable")
        } else {
            None
        },
        disk: config.root_dir.as_deref().and_then(host::disk_space),
        runtime_ready: runtime.version().await.is_ok(),
    }
}

async fn images(runtime: &dyn Runtime) -> Vec<ContainerImage> {
    let mut images: Vec<ContainerImage> = runtime
        .list_images()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|i| ContainerImage {
            names: Some(i.names),
            size_bytes: i64::try_from(i.size).ok(),
        })
        .collect();
    // Largest first, as the kubelet lists them.
    images.sort_by_key(|i| std::cmp::Reverse(i.size_bytes));
    images.truncate(MAX_IMAGES);
    images
}

/// Checks the node's status every [`STATUS_UPDATE_FREQUENCY`] and writes it
/// when it changed, or every [`STATUS_REPORT_FREQUENCY`], until `stop`.
pub async fn status_loop(
    client: Client,
    config: Arc<NodeConfig>,
    runtime: Arc<dyn Runtime>,
    mut stop: watch::Receiver<bool>,
) {
    let nodes: Api<Node> = Api::all(client);
    let mut last_report = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(STATUS_UPDATE_FREQUENCY) => {}
            _ = stop.changed() => return,
        }
        let node = match nodes.get(&config.name).await {
            Ok(node) => node,
            Err(e) => {
                tracing::warn!(node = %config.name, error = %e, "reading the node failed");
                continue;
            }
        };
        let mut status = node.status.clone().unwrap_or_default();
        let old = status.conditions.clone().unwrap_or_default();
        let new = conditions::conditions(
            &old,
            &pressure(&config, runtime.as_ref()).await,
            Timestamp::now(),
        );
        let new_images = images(runtime.as_ref()).await;
        let due = last_report.elapsed() >= STATUS_REPORT_FREQUENCY;
        let images_changed = status.images.as_ref() != Some(&new_images);
        if !due && !images_changed && !conditions::changed(&old, &new) {
            continue;
        }
        status.conditions = Some(new);
        status.images = Some(new_images);
        status.capacity = Some(config.capacity.clone());
        status.allocatable = Some(config.allocatable.clone());
        let mut updated = node;
        updated.status = Some(status);
        match nodes.replace_status(&updated).await {
            Ok(_) => last_report = tokio::time::Instant::now(),
            Err(e) => tracing::warn!(node = %config.name, error = %e, "writing node status failed"),
        }
    }
}

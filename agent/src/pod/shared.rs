//! What every pod worker of the node shares.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use berth_client::{Client, Recorder};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::env::ObjectLookup;
use crate::probe::ProbeManager;
use crate::runtime::{DnsConfig, Runtime};

/// The node's runtime, API client, probes and settings, shared by the pod
/// workers.
pub struct Shared {
    /// The container runtime.
    pub runtime: Arc<dyn Runtime>,
    /// The API server.
    pub client: Client,
    /// Events, as component `kubelet`.
    pub recorder: Recorder,
    /// Liveness, readiness and startup probes.
    pub probes: ProbeManager,
    /// This node's name.
    pub node_name: String,
    /// This node's IP (`status.hostIP`).
    pub node_ip: String,
    /// Per-pod directories (`<pods_dir>/<uid>/volumes/...`).
    pub pods_dir: PathBuf,
    /// Container logs (`<log_dir>/<ns>_<name>_<uid>/<container>/<n>.log`),
    /// `/var/log/pods` as on a kubelet.
    pub log_dir: PathBuf,
    /// resolv.conf of the pods.
    pub dns: DnsConfig,
    /// ConfigMaps, Secrets and Services the pods refer to.
    pub lookup: Arc<dyn ObjectLookup + Send + Sync>,
    /// The node's allocatable resources (the downward API's default limits).
    pub allocatable: BTreeMap<String, Quantity>,
}

//! The node half of berth, as `berth agent` runs it: the kubelet's roles.
//!
//! - [`runtime`]: the container runtime behind a [`runtime::Runtime`] trait,
//!   shaped after the Container Runtime Interface, with containerd's CRI as the
//!   real implementation, host processes for development without root, and a
//!   hollow runtime for scale tests.
//! - [`image`]: OCI image archives built from a directory or a static binary
//!   and imported into containerd, so images need no registry.
//! - [`env`]: a container's environment (Service variables, `envFrom`,
//!   `env` with `$(VAR)` expansion and the downward API).
//! - [`probe`]: liveness, readiness and startup probes (HTTP, TCP, exec,
//!   gRPC) with Kubernetes' thresholds and timing.
//! - [`volume`]: a pod's emptyDir, configMap, secret and hostPath volumes
//!   on the node, and its containers' bind mounts.
//! - [`node`]: the Node object, its Lease and its status.
//! - [`pod`]: the per-pod workers that bring pods to their spec.
//! - [`kubelet`]: all of it for one node, as `berth agent` runs it.
//! - [`server`]: the HTTP server on the kubelet's port (container logs).

pub mod env;
pub mod image;
pub mod kubelet;
pub mod lookup;
pub mod node;
pub mod pod;
pub mod probe;
pub mod runtime;
pub mod server;
pub mod volume;

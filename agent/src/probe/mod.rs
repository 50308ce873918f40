//! Container probes: the kubelet's liveness, readiness and startup checks.
//!
//! - [`http`], [`tcp`], [`exec`], [`grpc`]: one-shot probers, one per
//!   handler of a Kubernetes `Probe` (`httpGet`, `tcpSocket`, `exec`,
//!   `grpc`), each returning a [`ProbeResult`];
//! - [`Prober`]: picks the handler a `Probe` names and runs it against a
//!   container, with the probe's `timeoutSeconds`;
//! - [`worker`]: the per-container probe state with Kubernetes' thresholds,
//!   periods and startup gating;
//! - [`manager`]: the [`ProbeManager`], one probe task per running container,
//!   which the pod lifecycle reads `ready` and `started` from.

pub mod exec;
pub mod grpc;
pub mod http;
pub mod manager;
pub mod tcp;
pub mod worker;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::api::core::v1::{Container, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::runtime::Runtime;

pub use manager::{LivenessFailed, ProbeEvent, ProbeManager};

/// The Kubernetes minor version probes announce themselves as
/// (`User-Agent: kube-probe/1.33`): berth serves the v1.33 API.
pub const KUBE_PROBE_USER_AGENT: &str = "kube-probe/1.33";

/// `timeoutSeconds` when a probe leaves it unset (Kubernetes' default).
pub const DEFAULT_TIMEOUT_SECONDS: i32 = 1;

/// The outcome of one probe run, as Kubernetes' probers report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeResult {
    /// The check passed.
    Success,
    /// The check passed with a remark (an HTTP redirect to another host that
    /// was not followed); counts as a success, like Kubernetes' `Warning`.
    Warning(String),
    /// The check failed, with the message the kubelet puts in the
    /// `Unhealthy` event.
    Failure(String),
    /// The probe could not be run (bad port name, runtime unreachable); the
    /// kubelet discards such a result rather than count it either way.
    Unknown(String),
}

impl ProbeResult {
    /// Whether the result counts as a success (`Success` or `Warning`).
    pub fn is_success(&self) -> bool {
        matches!(self, ProbeResult::Success | ProbeResult::Warning(_))
    }
}

/// Which of a container's three probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProbeKind {
    /// `livenessProbe`: failure restarts the container.
    Liveness,
    /// `readinessProbe`: drives the container's `ready` and so the Pod's
    /// `Ready` condition and its Service endpoints.
    Readiness,
    /// `startupProbe`: holds the other two until it succeeds once.
    Startup,
}

impl std::fmt::Display for ProbeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The words of the kubelet's events ("Liveness probe failed: ...").
        f.write_str(match self {
            ProbeKind::Liveness => "Liveness",
            ProbeKind::Readiness => "Readiness",
            ProbeKind::Startup => "Startup",
        })
    }
}

/// What a probe runs against: one running container of a pod.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeTarget {
    /// The container's spec (its named ports resolve probe ports).
    pub container: Container,
    /// The runtime's id of the running container (exec probes run in it).
    pub container_id: String,
    /// The pod's IP: the default host of HTTP and TCP probes and the only
    /// host of gRPC probes.
    pub pod_ip: String,
}

/// Runs one probe once. [`Prober`] is the real implementation; the probe
/// loop takes the trait so its timing can be tested without containers.
#[async_trait]
pub trait ProbeRunner: Send + Sync {
    /// Runs `probe` against `target` once.
    async fn run(&self, kind: ProbeKind, probe: &Probe, target: &ProbeTarget) -> ProbeResult;
}

/// Runs a `Probe`'s handler against a container.
pub struct Prober {
    runtime: Arc<dyn Runtime>,
}

impl Prober {
    /// A prober whose exec probes go through `runtime`.
    pub fn new(runtime: Arc<dyn Runtime>) -> Self {
        Self { runtime }
    }
}

#[async_trait]
impl ProbeRunner for Prober {
    async fn run(&self, _kind: ProbeKind, probe: &Probe, target: &ProbeTarget) -> ProbeResult {
        let timeout = probe_timeout(probe);
        if let Some(action) = &probe.exec {
            let command = action.command.clone().unwrap_or_default();
            return exec::probe(
                self.runtime.as_ref(),
                &target.container_id,
                &command,
                timeout,
            )
            .await;
        }
        if let Some(action) = &probe.http_get {
            let port = match resolve_port(&action.port, &target.container) {
                Ok(port) => port,
                Err(message) => return ProbeResult::Unknown(message),
            };
            let host = match action.host.as_deref() {
                Some(host) if !host.is_empty() => host.to_string(),
                _ => target.pod_ip.clone(),
            };
            let request = http::HttpProbe {
                scheme: action.scheme.clone().unwrap_or_else(|| "HTTP".to_string()),
                host,
                port,
                path: action.path.clone().unwrap_or_default(),
                headers: action
                    .http_headers
                    .iter()
                    .flatten()
                    .map(|h| (h.name.clone(), h.value.clone()))
                    .collect(),
            };
            return http::probe(&request, timeout).await;
        }
        if let Some(action) = &probe.tcp_socket {
            let port = match resolve_port(&action.port, &target.container) {
                Ok(port) => port,
                Err(message) => return ProbeResult::Unknown(message),
            };
            let host = match action.host.as_deref() {
                Some(host) if !host.is_empty() => host,
                _ => target.pod_ip.as_str(),
            };
            return tcp::probe(host, port, timeout).await;
        }
        if let Some(action) = &probe.grpc {
            let Ok(port) = u16::try_from(action.port) else {
                return ProbeResult::Unknown(format!("invalid port number: {}", action.port));
            };
            let service = action.service.clone().unwrap_or_default();
            return grpc::probe(&target.pod_ip, port, &service, timeout).await;
        }
        // Validation requires exactly one handler; a probe without one is a
        // spec the kubelet cannot act on.
        ProbeResult::Unknown("missing probe handler".to_string())
    }
}

/// The probe's `timeoutSeconds`, defaulted to 1 s and at least 1 s (the
/// API's minimum).
pub fn probe_timeout(probe: &Probe) -> Duration {
    let seconds = probe
        .timeout_seconds
        .unwrap_or(DEFAULT_TIMEOUT_SECONDS)
        .max(1);
    Duration::from_secs(u64::try_from(seconds).unwrap_or(1))
}

/// A probe's port: a number, or the name of one of the container's ports
/// (Kubernetes' `ResolveContainerPort`).
pub fn resolve_port(port: &IntOrString, container: &Container) -> Result<u16, String> {
    let number = match port {
        IntOrString::Int(number) => *number,
        IntOrString::String(name) => container
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref() == Some(name.as_str()))
            .map(|p| p.container_port)
            .ok_or_else(|| format!("couldn't find port: {name} in {}", container.name))?,
    };
    match u16::try_from(number) {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(format!("invalid port number: {number}")),
    }
}

/// `host:port` with IPv6 addresses in brackets, as URLs and dialers want it.
pub(crate) fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The prober of hollow nodes: their containers run nothing, so every probe
/// passes and pods report Ready as they would on a healthy node.
pub struct Hollow;

#[async_trait]
impl ProbeRunner for Hollow {
    async fn run(&self, _kind: ProbeKind, _probe: &Probe, _target: &ProbeTarget) -> ProbeResult {
        ProbeResult::Success
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ContainerPort;

    fn container_with_port(name: &str, number: i32) -> Container {
        Container {
            name: "app".to_string(),
            ports: Some(vec![ContainerPort {
                name: Some(name.to_string()),
                container_port: number,
                ..Default::default()
            }]),
            ..Default::default()
        }
    }

    #[test]
    fn named_port_resolves_to_the_container_port() {
        let container = container_with_port("http", 8080);
        assert_eq!(
            resolve_port(&IntOrString::String("http".into()), &container),
            Ok(8080)
        );
        assert_eq!(resolve_port(&IntOrString::Int(81), &container), Ok(81));
    }

    #[test]
    fn unknown_port_name_and_out_of_range_numbers_are_errors() {
        let container = container_with_port("http", 8080);
        let err = resolve_port(&IntOrString::String("grpc".into()), &container);
        assert_eq!(err, Err("couldn't find port: grpc in app".to_string()));
        assert!(resolve_port(&IntOrString::Int(0), &container).is_err());
        assert!(resolve_port(&IntOrString::Int(70000), &container).is_err());
    }

    #[test]
    fn timeout_defaults_to_one_second() {
        assert_eq!(probe_timeout(&Probe::default()), Duration::from_secs(1));
        let probe = Probe {
            timeout_seconds: Some(5),
            ..Default::default()
        };
        assert_eq!(probe_timeout(&probe), Duration::from_secs(5));
    }

    #[test]
    fn ipv6_hosts_are_bracketed() {
        assert_eq!(join_host_port("10.0.0.1", 80), "10.0.0.1:80");
        assert_eq!(join_host_port("fd00::1", 80), "[fd00::1]:80");
    }
}

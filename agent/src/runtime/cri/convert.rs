//! The runtime's types to and from CRI v1 messages (`runtime.v1`), field by
//! field. Pure functions: no I/O, so every rule here is unit-tested.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use k8s_cri::v1 as cri;

use crate::runtime::{
    ContainerConfig, ContainerState, ContainerStats, ContainerStatus, Image, LinuxResources,
    RuntimeError, SandboxConfig, SandboxState, SandboxStatus,
};

fn to_map(map: &BTreeMap<String, String>) -> HashMap<String, String> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn from_map(map: HashMap<String, String>) -> BTreeMap<String, String> {
    map.into_iter().collect()
}

/// A port protocol by its Kubernetes name; empty is TCP, the API's default.
fn protocol(name: &str) -> Result<cri::Protocol, RuntimeError> {
    match name {
        "" | "TCP" => Ok(cri::Protocol::Tcp),
        "UDP" => Ok(cri::Protocol::Udp),
        "SCTP" => Ok(cri::Protocol::Sctp),
        other => Err(RuntimeError::Failed(format!(
            "unsupported port protocol {other:?}"
        ))),
    }
}

/// The namespaces of a pod that uses the pod network (not the host's), as
/// the kubelet asks for a pod without `hostNetwork`, `hostPID`, `hostIPC` or
/// `shareProcessNamespace`: network and IPC shared by the pod, PID per
/// container.
fn pod_namespace_options() -> cri::NamespaceOption {
    cri::NamespaceOption {
        network: cri::NamespaceMode::Pod as i32,
        pid: cri::NamespaceMode::Container as i32,
        ipc: cri::NamespaceMode::Pod as i32,
        ..Default::default()
    }
}

/// The CRI's PodSandboxConfig for a sandbox.
pub fn sandbox_config(config: &SandboxConfig) -> Result<cri::PodSandboxConfig, RuntimeError> {
    let port_mappings = config
        .port_mappings
        .iter()
        .map(|p| {
            Ok(cri::PortMapping {
                protocol: protocol(&p.protocol)? as i32,
                container_port: i32::from(p.container_port),
                host_port: i32::from(p.host_port),
                host_ip: p.host_ip.clone(),
            })
        })
        .collect::<Result<Vec<_>, RuntimeError>>()?;
    let dns = &config.dns;
    // Without any DNS setting the runtime gives the pod the host's
    // resolv.conf, as the kubelet's `Default` dnsPolicy expects.
    let dns_config = (!dns.servers.is_empty()
        || !dns.searches.is_empty()
        || !dns.options.is_empty())
    .then(|| cri::DnsConfig {
        servers: dns.servers.clone(),
        searches: dns.searches.clone(),
        options: dns.options.clone(),
    });
    Ok(cri::PodSandboxConfig {
        metadata: Some(cri::PodSandboxMetadata {
            name: config.name.clone(),
            uid: config.uid.clone(),
            namespace: config.namespace.clone(),
            attempt: config.attempt,
        }),
        hostname: config.hostname.clone(),
        log_directory: config.log_directory.to_string_lossy().into_owned(),
        dns_config,
        port_mappings,
        labels: to_map(&config.labels),
        annotations: to_map(&config.annotations),
        linux: Some(cri::LinuxPodSandboxConfig {
            cgroup_parent: config.cgroup_parent.clone(),
            security_context: Some(cri::LinuxSandboxSecurityContext {
                namespace_options: Some(pod_namespace_options()),
                ..Default::default()
            }),
            ..Default::default()
        }),
        windows: None,
    })
}

/// The CRI's Linux container resources.
pub fn linux_resources(resources: &LinuxResources) -> cri::LinuxContainerResources {
    cri::LinuxContainerResources {
        cpu_period: resources.cpu_period,
        cpu_quota: resources.cpu_quota,
        cpu_shares: resources.cpu_shares,
        memory_limit_in_bytes: resources.memory_limit_in_bytes,
        // The kubelet's NoSwap behaviour on cgroup v1: memory+swap equal to
        // the memory limit, so a container over its limit is OOM-killed
        // instead of swapping.
        memory_swap_limit_in_bytes: resources.memory_limit_in_bytes,
        ..Default::default()
    }
}

/// The CRI's ContainerConfig for a container.
pub fn container_config(config: &ContainerConfig) -> cri::ContainerConfig {
    cri::ContainerConfig {
        metadata: Some(cri::ContainerMetadata {
            name: config.name.clone(),
            attempt: config.attempt,
        }),
        image: Some(image_spec(&config.image)),
        command: config.command.clone(),
        args: config.args.clone(),
        working_dir: config.working_dir.clone(),
        envs: config
            .envs
            .iter()
            .map(|(key, value)| cri::KeyValue {
                key: key.clone(),
                value: value.clone(),
            })
            .collect(),
        mounts: config
            .mounts
            .iter()
            .map(|m| cri::Mount {
                container_path: m.container_path.clone(),
                host_path: m.host_path.to_string_lossy().into_owned(),
                readonly: m.readonly,
                ..Default::default()
            })
            .collect(),
        labels: to_map(&config.labels),
        annotations: to_map(&config.annotations),
        log_path: config.log_path.clone(),
        stdin: config.stdin,
        tty: config.tty,
        linux: Some(cri::LinuxContainerConfig {
            resources: Some(linux_resources(&config.resources)),
            security_context: Some(cri::LinuxContainerSecurityContext {
                namespace_options: Some(pod_namespace_options()),
                ..Default::default()
            }),
        }),
        ..Default::default()
    }
}

/// An image reference as the CRI takes it.
pub fn image_spec(image: &str) -> cri::ImageSpec {
    cri::ImageSpec {
        image: image.to_string(),
        user_specified_image: image.to_string(),
        ..Default::default()
    }
}

/// A sandbox's status as the runtime reports it.
pub fn sandbox_status(status: cri::PodSandboxStatus) -> SandboxStatus {
    let metadata = status.metadata.unwrap_or_default();
    let ip = status.network.map(|n| n.ip).filter(|ip| !ip.is_empty());
    SandboxStatus {
        id: status.id,
        name: metadata.name,
        namespace: metadata.namespace,
        uid: metadata.uid,
        attempt: metadata.attempt,
        state: sandbox_state(status.state),
        ip,
        created_at: status.created_at,
        labels: from_map(status.labels),
        annotations: from_map(status.annotations),
    }
}

fn sandbox_state(state: i32) -> SandboxState {
    match cri::PodSandboxState::try_from(state) {
        Ok(cri::PodSandboxState::SandboxReady) => SandboxState::Ready,
        _ => SandboxState::NotReady,
    }
}

fn container_state(state: i32) -> ContainerState {
    match cri::ContainerState::try_from(state) {
        Ok(cri::ContainerState::ContainerCreated) => ContainerState::Created,
        Ok(cri::ContainerState::ContainerRunning) => ContainerState::Running,
        Ok(cri::ContainerState::ContainerExited) => ContainerState::Exited,
        Ok(cri::ContainerState::ContainerUnknown) | Err(_) => ContainerState::Unknown,
    }
}

/// A container's status; the CRI's ContainerStatus does not name the
/// sandbox, so the caller supplies it (from ListContainers). The reason
/// passes through unchanged: `OOMKilled` must reach the pod status as is.
pub fn container_status(status: cri::ContainerStatus, sandbox_id: String) -> ContainerStatus {
    let metadata = status.metadata.unwrap_or_default();
    ContainerStatus {
        id: status.id,
        sandbox_id,
        name: metadata.name,
        attempt: metadata.attempt,
        state: container_state(status.state),
        created_at: status.created_at,
        started_at: status.started_at,
        finished_at: status.finished_at,
        exit_code: status.exit_code,
        reason: status.reason,
        message: status.message,
        image: status.image.map(|i| i.image).unwrap_or_default(),
        image_ref: status.image_ref,
        labels: from_map(status.labels),
        annotations: from_map(status.annotations),
        log_path: PathBuf::from(status.log_path),
    }
}

/// An image on the node, known by its tags and digests.
pub fn image(image: cri::Image) -> Image {
    let mut names = image.repo_tags;
    names.extend(image.repo_digests);
    Image {
        id: image.id,
        names,
        size: image.size,
    }
}

/// A container's cpu and memory usage.
pub fn container_stats(stats: cri::ContainerStats) -> ContainerStats {
    ContainerStats {
        cpu_usage_core_nanoseconds: stats
            .cpu
            .and_then(|c| c.usage_core_nano_seconds)
            .map_or(0, |v| v.value),
        memory_working_set_bytes: stats
            .memory
            .and_then(|m| m.working_set_bytes)
            .map_or(0, |v| v.value),
    }
}

/// A duration as the CRI's whole seconds, rounded up so a sub-second
/// timeout does not become 0 (which means "none" to ExecSync and "kill at
/// once" to StopContainer).
pub fn seconds(duration: std::time::Duration) -> i64 {
    let whole = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    i64::try_from(whole).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::runtime::{DnsConfig, Mount, PortMapping};

    #[test]
    fn sandbox_config_carries_everything_the_kubelet_sets() {
        let config = SandboxConfig {
            name: "web-0".into(),
            namespace: "shop".into(),
            uid: "u-1".into(),
            attempt: 2,
            hostname: "web-0".into(),
            log_directory: "/var/log/pods/shop_web-0_u-1".into(),
            dns: DnsConfig {
                servers: vec!["10.96.0.10".into()],
                searches: vec!["shop.svc.cluster.local".into()],
                options: vec!["ndots:5".into()],
            },
            port_mappings: vec![PortMapping {
                protocol: "UDP".into(),
                container_port: 53,
                host_port: 5353,
                host_ip: "".into(),
            }],
            labels: BTreeMap::from([("app".into(), "web".into())]),
            annotations: BTreeMap::from([("a".into(), "b".into())]),
            cgroup_parent: "/kubepods/burstable/podu-1".into(),
        };
        let cri = sandbox_config(&config).unwrap();
        let metadata = cri.metadata.unwrap();
        assert_eq!(
            (
                metadata.name.as_str(),
                metadata.namespace.as_str(),
                metadata.uid.as_str()
            ),
            ("web-0", "shop", "u-1")
        );
        assert_eq!(metadata.attempt, 2);
        assert_eq!(cri.hostname, "web-0");
        assert_eq!(cri.log_directory, "/var/log/pods/shop_web-0_u-1");
        let dns = cri.dns_config.unwrap();
        assert_eq!(dns.servers, ["10.96.0.10"]);
        assert_eq!(dns.options, ["ndots:5"]);
        assert_eq!(cri.port_mappings[0].protocol, cri::Protocol::Udp as i32);
        assert_eq!(cri.port_mappings[0].host_port, 5353);
        assert_eq!(cri.labels["app"], "web");
        assert_eq!(cri.annotations["a"], "b");
        let linux = cri.linux.unwrap();
        assert_eq!(linux.cgroup_parent, "/kubepods/burstable/podu-1");
        let ns = linux.security_context.unwrap().namespace_options.unwrap();
        assert_eq!(ns.network, cri::NamespaceMode::Pod as i32);
        assert_eq!(ns.pid, cri::NamespaceMode::Container as i32);
    }

    #[test]
    fn empty_dns_lets_the_runtime_use_the_hosts() {
        let cri = sandbox_config(&SandboxConfig::default()).unwrap();
        assert!(cri.dns_config.is_none());
    }

    #[test]
    fn unknown_protocol_is_refused() {
        let config = SandboxConfig {
            port_mappings: vec![PortMapping {
                protocol: "QUIC".into(),
                container_port: 1,
                host_port: 1,
                host_ip: String::new(),
            }],
            ..Default::default()
        };
        assert!(matches!(
            sandbox_config(&config),
            Err(RuntimeError::Failed(_))
        ));
    }

    #[test]
    fn container_config_carries_resources_and_process() {
        let config = ContainerConfig {
            name: "app".into(),
            attempt: 1,
            image: "busybox:latest".into(),
            command: vec!["sh".into(), "-c".into()],
            args: vec!["echo hi".into()],
            working_dir: "/tmp".into(),
            envs: vec![("A".into(), "1".into()), ("B".into(), "2".into())],
            mounts: vec![Mount {
                container_path: "/data".into(),
                host_path: "/var/lib/berth/pods/u/volumes/data".into(),
                readonly: true,
            }],
            log_path: "app/1.log".into(),
            stdin: true,
            tty: true,
            resources: LinuxResources {
                cpu_shares: 204,
                cpu_quota: 50_000,
                cpu_period: 100_000,
                memory_limit_in_bytes: 536_870_912,
            },
            ..Default::default()
        };
        let cri = container_config(&config);
        assert_eq!(cri.metadata.unwrap().attempt, 1);
        assert_eq!(cri.image.unwrap().image, "busybox:latest");
        assert_eq!(cri.command, ["sh", "-c"]);
        assert_eq!(cri.args, ["echo hi"]);
        assert_eq!(cri.envs[1].key, "B");
        assert!(cri.mounts[0].readonly);
        assert_eq!(
            cri.mounts[0].host_path,
            "/var/lib/berth/pods/u/volumes/data"
        );
        assert_eq!(cri.log_path, "app/1.log");
        assert!(cri.stdin && cri.tty);
        let r = cri.linux.unwrap().resources.unwrap();
        assert_eq!(
            (
                r.cpu_shares,
                r.cpu_quota,
                r.cpu_period,
                r.memory_limit_in_bytes
            ),
            (204, 50_000, 100_000, 536_870_912)
        );
        assert_eq!(r.memory_swap_limit_in_bytes, 536_870_912);
    }

    #[test]
    fn oom_killed_status_passes_through() {
        let status = cri::ContainerStatus {
            id: "c1".into(),
            metadata: Some(cri::ContainerMetadata {
                name: "hog".into(),
                attempt: 0,
            }),
            state: cri::ContainerState::ContainerExited as i32,
            exit_code: 137,
            reason: "OOMKilled".into(),
            image: Some(image_spec("busybox:latest")),
            image_ref: "sha256:abc".into(),
            log_path: "/var/log/pods/x/hog/0.log".into(),
            ..Default::default()
        };
        let got = container_status(status, "s1".into());
        assert_eq!(got.state, ContainerState::Exited);
        assert_eq!((got.exit_code, got.reason.as_str()), (137, "OOMKilled"));
        assert_eq!(got.sandbox_id, "s1");
        assert_eq!(got.name, "hog");
        assert_eq!(got.image, "busybox:latest");
        assert_eq!(got.image_ref, "sha256:abc");
        assert_eq!(got.log_path, PathBuf::from("/var/log/pods/x/hog/0.log"));
    }

    #[test]
    fn states_map_and_unknown_values_are_unknown() {
        assert_eq!(container_state(1), ContainerState::Running);
        assert_eq!(container_state(42), ContainerState::Unknown);
        assert_eq!(sandbox_state(0), SandboxState::Ready);
        assert_eq!(sandbox_state(7), SandboxState::NotReady);
    }

    #[test]
    fn sandbox_without_network_has_no_ip() {
        let status = cri::PodSandboxStatus {
            id: "s".into(),
            network: Some(cri::PodSandboxNetworkStatus::default()),
            ..Default::default()
        };
        assert_eq!(sandbox_status(status).ip, None);
    }

    #[test]
    fn timeouts_round_up_to_whole_seconds() {
        assert_eq!(seconds(Duration::ZERO), 0);
        assert_eq!(seconds(Duration::from_millis(200)), 1);
        assert_eq!(seconds(Duration::from_secs(30)), 30);
        assert_eq!(seconds(Duration::from_millis(30_001)), 31);
    }
}

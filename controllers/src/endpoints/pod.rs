//! What the endpoints and EndpointSlice controllers read from a Pod: whether
//! it belongs in a Service's endpoints, whether it is ready, which of its IPs
//! serves the Service's IP family, and which container port a Service port
//! targets.

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{ObjectReference, Pod, Service, ServicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// The `clusterIP` value that makes a Service headless.
pub const CLUSTER_IP_NONE: &str = "None";

/// The label both controllers set on the objects of a headless Service.
pub const HEADLESS_SERVICE_LABEL: &str = "service.kubernetes.io/headless";

/// An IP family, as `Service.spec.ipFamilies` and EndpointSlice `addressType` name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum IpFamily {
    /// `IPv4`.
    V4,
    /// `IPv6`.
    V6,
}

impl IpFamily {
    /// The API spelling (`IPv4` / `IPv6`), also the EndpointSlice `addressType`.
    pub fn as_str(self) -> &'static str {
        match self {
            IpFamily::V4 => "IPv4",
            IpFamily::V6 => "IPv6",
        }
    }

    /// Parses the API spelling; anything else is not a family this controller serves.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "IPv4" => Some(IpFamily::V4),
            "IPv6" => Some(IpFamily::V6),
            _ => None,
        }
    }

    /// The family of a textual IP; an unparsable string counts as IPv6 when it
    /// holds a colon, as Kubernetes' `IsIPv6String` would never call it IPv4.
    pub fn of_ip(ip: &str) -> Self {
        match ip.parse::<IpAddr>() {
            Ok(IpAddr::V6(_)) => IpFamily::V6,
            Ok(IpAddr::V4(_)) => IpFamily::V4,
            Err(_) if ip.contains(':') => IpFamily::V6,
            Err(_) => IpFamily::V4,
        }
    }
}

/// The Service's selector when it selects pods. An absent or empty selector
/// means the Service's endpoints are managed out of band: Kubernetes stores an
/// empty map as absent, and its controllers leave such Services alone.
pub fn service_selector(service: &Service) -> Option<&BTreeMap<String, String>> {
    service
        .spec
        .as_ref()
        .and_then(|spec| spec.selector.as_ref())
        .filter(|selector| !selector.is_empty())
}

/// Whether `labels` carry every key/value of an equality-based selector.
pub fn selector_matches(
    selector: &BTreeMap<String, String>,
    labels: Option<&BTreeMap<String, String>>,
) -> bool {
    selector
        .iter()
        .all(|(key, value)| labels.and_then(|labels| labels.get(key)) == Some(value))
}

/// Whether `pod` is in `service`'s namespace and matched by its selector.
pub fn pod_selected_by(service: &Service, pod: &Pod) -> bool {
    let Some(selector) = service_selector(service) else {
        return false;
    };
    pod.metadata.namespace == service.metadata.namespace
        && selector_matches(selector, pod.metadata.labels.as_ref())
}

/// Whether the Service is of type ExternalName, which receives no endpoints.
pub fn is_external_name(service: &Service) -> bool {
    service.spec.as_ref().and_then(|spec| spec.type_.as_deref()) == Some("ExternalName")
}

/// Whether the Service has a cluster IP (Kubernetes' `IsServiceIPSet`): not
/// headless and already allocated.
pub fn is_service_ip_set(service: &Service) -> bool {
    matches!(
        service.spec.as_ref().and_then(|spec| spec.cluster_ip.as_deref()),
        Some(ip) if !ip.is_empty() && ip != CLUSTER_IP_NONE
    )
}

/// Whether the Service is headless (`clusterIP: None`).
pub fn is_headless(service: &Service) -> bool {
    service
        .spec
        .as_ref()
        .and_then(|spec| spec.cluster_ip.as_deref())
        == Some(CLUSTER_IP_NONE)
}

/// `spec.publishNotReadyAddresses`.
pub fn publish_not_ready_addresses(service: &Service) -> bool {
    service
        .spec
        .as_ref()
        .and_then(|spec| spec.publish_not_ready_addresses)
        .unwrap_or(false)
}

/// The Service's ports, empty when it has none.
pub fn service_ports(service: &Service) -> &[ServicePort] {
    service
        .spec
        .as_ref()
        .and_then(|spec| spec.ports.as_deref())
        .unwrap_or(&[])
}

/// Whether the pod's `Ready` condition is `True` (Kubernetes' `IsPodReady`).
pub fn is_pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|status| status.conditions.as_ref())
        .and_then(|conditions| conditions.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|condition| condition.status == "True")
}

/// Whether the pod has finished for good: phase `Succeeded` or `Failed`.
pub fn is_pod_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status
            .as_ref()
            .and_then(|status| status.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

/// Whether the pod is being deleted (`metadata.deletionTimestamp` set).
pub fn is_pod_terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

/// The pod's IPs, primary first: `status.podIPs`, or `status.podIP` alone
/// when the list is empty (objects written before dual-stack defaulting).
pub fn pod_ips(pod: &Pod) -> Vec<&str> {
    let Some(status) = pod.status.as_ref() else {
        return Vec::new();
    };
    let listed: Vec<&str> = status
        .pod_ips
        .iter()
        .flatten()
        .map(|ip| ip.ip.as_str())
        .filter(|ip| !ip.is_empty())
        .collect();
    if !listed.is_empty() {
        return listed;
    }
    status
        .pod_ip
        .as_deref()
        .filter(|ip| !ip.is_empty())
        .into_iter()
        .collect()
}

/// Kubernetes' `ShouldPodBeInEndpoints`: a pod is an endpoint candidate when it
/// is not terminal (Succeeded/Failed), has an IP, and, unless terminating pods
/// are included, is not being deleted.
pub fn should_pod_be_in_endpoints(pod: &Pod, include_terminating: bool) -> bool {
    if is_pod_terminal(pod) || pod_ips(pod).is_empty() {
        return false;
    }
    include_terminating || !is_pod_terminating(pod)
}

/// Kubernetes' `ShouldSetHostname`: the pod's hostname is published when its
/// `subdomain` names this Service in the same namespace (the DNS A/AAAA records
/// of a headless Service's pods).
pub fn should_set_hostname(pod: &Pod, service: &Service) -> bool {
    let Some(spec) = pod.spec.as_ref() else {
        return false;
    };
    let hostname_set = spec.hostname.as_deref().is_some_and(|h| !h.is_empty());
    hostname_set
        && spec.subdomain.is_some()
        && spec.subdomain == service.metadata.name
        && pod.metadata.namespace == service.metadata.namespace
}

/// The protocol of a port, defaulted to TCP as the API server does.
fn protocol_or_tcp(protocol: Option<&str>) -> &str {
    protocol.unwrap_or("TCP")
}

/// Kubernetes' `FindPort`: the container port a Service port sends traffic to.
/// A numeric `targetPort` is used as is; a named one must match a container
/// port of the same name and protocol, in the regular containers or in
/// restartable init containers (sidecars). `None` when the name resolves
/// nowhere, in which case the pod is left out for that port.
pub fn find_port(pod: &Pod, service_port: &ServicePort) -> Option<i32> {
    match service_port.target_port.as_ref() {
        // The API server defaults targetPort to port; treat a missing one the same.
        None => Some(service_port.port),
        Some(IntOrString::Int(number)) => Some(*number),
        Some(IntOrString::String(name)) => {
            let protocol = protocol_or_tcp(service_port.protocol.as_deref());
            let spec = pod.spec.as_ref()?;
            let sidecars = spec
                .init_containers
                .iter()
                .flatten()
                .filter(|c| c.restart_policy.as_deref() == Some("Always"));
            spec.containers
                .iter()
                .chain(sidecars)
                .flat_map(|c| c.ports.iter().flatten())
                .find(|port| {
                    port.name.as_deref() == Some(name.as_str())
                        && protocol_or_tcp(port.protocol.as_deref()) == protocol
                })
                .map(|port| port.container_port)
        }
    }
}

/// The reference an endpoint carries to its pod (kind, namespace, name, uid;
/// no resourceVersion, so pod status churn does not rewrite endpoints).
pub fn pod_reference(pod: &Pod) -> ObjectReference {
    ObjectReference {
        kind: Some("Pod".to_owned()),
        namespace: pod.metadata.namespace.clone(),
        name: pod.metadata.name.clone(),
        uid: pod.metadata.uid.clone(),
        ..ObjectReference::default()
    }
}

/// The pod's node, when it is scheduled.
pub fn pod_node_name(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()
        .and_then(|spec| spec.node_name.as_deref())
        .filter(|name| !name.is_empty())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        Container, ContainerPort, PodCondition, PodIP, PodSpec, PodStatus, ServiceSpec,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    /// A running pod in `default` with the given IP, labels `app=web`, one
    /// container port named `http` (8080), readiness as given.
    pub(crate) fn pod(name: &str, ip: &str, ready: bool) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                namespace: Some("default".to_owned()),
                uid: Some(format!("uid-{name}")),
                labels: Some(BTreeMap::from([("app".to_owned(), "web".to_owned())])),
                ..ObjectMeta::default()
            },
            spec: Some(PodSpec {
                node_name: Some("node-a".to_owned()),
                containers: vec![Container {
                    name: "web".to_owned(),
                    ports: Some(vec![ContainerPort {
                        name: Some("http".to_owned()),
                        container_port: 8080,
                        protocol: Some("TCP".to_owned()),
                        ..ContainerPort::default()
                    }]),
                    ..Container::default()
                }],
                ..PodSpec::default()
            }),
            status: Some(PodStatus {
                phase: Some("Running".to_owned()),
                pod_ip: Some(ip.to_owned()),
                pod_ips: Some(vec![PodIP { ip: ip.to_owned() }]),
                conditions: Some(vec![PodCondition {
                    type_: "Ready".to_owned(),
                    status: if ready { "True" } else { "False" }.to_owned(),
                    ..PodCondition::default()
                }]),
                ..PodStatus::default()
            }),
        }
    }

    /// A ClusterIP Service `web` in `default` selecting `app=web` with the given ports.
    pub(crate) fn service(ports: Vec<ServicePort>) -> Service {
        Service {
            metadata: ObjectMeta {
                name: Some("web".to_owned()),
                namespace: Some("default".to_owned()),
                uid: Some("uid-svc-web".to_owned()),
                labels: Some(BTreeMap::from([("tier".to_owned(), "front".to_owned())])),
                ..ObjectMeta::default()
            },
            spec: Some(ServiceSpec {
                cluster_ip: Some("10.96.0.10".to_owned()),
                selector: Some(BTreeMap::from([("app".to_owned(), "web".to_owned())])),
                ports: Some(ports),
                ..ServiceSpec::default()
            }),
            status: None,
        }
    }

    pub(crate) fn port(name: &str, port: i32, target: IntOrString) -> ServicePort {
        ServicePort {
            name: Some(name.to_owned()),
            port,
            protocol: Some("TCP".to_owned()),
            target_port: Some(target),
            ..ServicePort::default()
        }
    }

    #[test]
    fn named_target_port_resolves_through_the_containers() {
        let p = pod("a", "10.0.0.1", true);
        let named = port("web", 80, IntOrString::String("http".to_owned()));
        assert_eq!(find_port(&p, &named), Some(8080));
    }

    #[test]
    fn named_target_port_needs_the_same_protocol() {
        let p = pod("a", "10.0.0.1", true);
        let mut udp = port("dns", 53, IntOrString::String("http".to_owned()));
        udp.protocol = Some("UDP".to_owned());
        assert_eq!(find_port(&p, &udp), None);
    }

    #[test]
    fn unknown_named_port_does_not_resolve() {
        let p = pod("a", "10.0.0.1", true);
        let missing = port("metrics", 9090, IntOrString::String("metrics".to_owned()));
        assert_eq!(find_port(&p, &missing), None);
    }

    #[test]
    fn numeric_target_port_is_taken_as_is() {
        let p = pod("a", "10.0.0.1", true);
        assert_eq!(
            find_port(&p, &port("x", 80, IntOrString::Int(9000))),
            Some(9000)
        );
    }

    #[test]
    fn terminal_and_ipless_pods_are_not_endpoints() {
        let mut done = pod("a", "10.0.0.1", false);
        if let Some(status) = done.status.as_mut() {
            status.phase = Some("Succeeded".to_owned());
        }
        assert!(!should_pod_be_in_endpoints(&done, true));

        let mut pending = pod("b", "10.0.0.2", false);
        if let Some(status) = pending.status.as_mut() {
            status.pod_ip = None;
            status.pod_ips = None;
        }
        assert!(!should_pod_be_in_endpoints(&pending, true));
    }

    #[test]
    fn empty_selector_selects_nothing() {
        let mut svc = service(vec![]);
        if let Some(spec) = svc.spec.as_mut() {
            spec.selector = Some(BTreeMap::new());
        }
        assert!(!pod_selected_by(&svc, &pod("a", "10.0.0.1", true)));
    }
}

//! What one EndpointSlice should contain: the endpoint a pod contributes, the
//! ports it serves, and the metadata every managed slice carries.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use crate::endpoints::pod::{
    find_port, is_pod_ready, is_pod_terminating, is_service_ip_set, pod_ips, pod_node_name,
    pod_reference, publish_not_ready_addresses, service_ports, should_set_hostname, IpFamily,
    HEADLESS_SERVICE_LABEL,
};

use super::SliceError;

/// Label naming the Service a slice belongs to.
pub const LABEL_SERVICE_NAME: &str = "kubernetes.io/service-name";
/// Label naming the controller that manages a slice; slices managed by others
/// (mirroring, custom controllers) are never touched.
pub const LABEL_MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
/// This controller's value of [`LABEL_MANAGED_BY`].
pub const CONTROLLER_NAME: &str = "endpointslice-controller.k8s.io";
/// Node label whose value becomes an endpoint's `zone`.
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
/// Kubernetes' default `--max-endpoints-per-slice`.
pub const MAX_ENDPOINTS_PER_SLICE: usize = 100;

/// What the controller needs of the cluster's nodes: node name → its zone
/// label, if any. A pod whose node is missing from the map is treated as on
/// a node that does not exist.
pub type NodeZones = BTreeMap<String, Option<String>>;

/// Builds [`NodeZones`] from the node informer's objects.
pub fn node_zones<'a>(nodes: impl IntoIterator<Item = &'a Node>) -> NodeZones {
    nodes
        .into_iter()
        .filter_map(|node| {
            let name = node.metadata.name.clone()?;
            let zone = node
                .metadata
                .labels
                .as_ref()
                .and_then(|labels| labels.get(ZONE_LABEL))
                .filter(|zone| !zone.is_empty())
                .cloned();
            Some((name, zone))
        })
        .collect()
}

/// The ports a pod serves for the Service (Kubernetes' `getEndpointPorts`):
/// one per Service port whose targetPort resolves on this pod. Names are
/// always present (empty for an unnamed port) and protocol defaults to TCP.
pub fn endpoint_ports(service: &Service, pod: &Pod) -> Vec<EndpointPort> {
    service_ports(service)
        .iter()
        .filter_map(|service_port| {
            let number = find_port(pod, service_port)?;
            Some(EndpointPort {
                name: Some(service_port.name.clone().unwrap_or_default()),
                port: Some(number),
                protocol: Some(
                    service_port
                        .protocol
                        .clone()
                        .unwrap_or_else(|| "TCP".to_owned()),
                ),
                app_protocol: service_port.app_protocol.clone(),
            })
        })
        .collect()
}

/// The endpoint a pod contributes to slices of `family` (Kubernetes'
/// `podToEndpoint`). Conditions: `serving` is the pod's readiness;
/// `terminating` is whether it is being deleted; `ready` is serving and not
/// terminating, or always true under `publishNotReadyAddresses`, for
/// compatibility with consumers that only read `ready`.
pub fn pod_endpoint(
    service: &Service,
    pod: &Pod,
    zone: Option<&str>,
    family: IpFamily,
) -> Endpoint {
    let serving = is_pod_ready(pod);
    let terminating = is_pod_terminating(pod);
    let ready = publish_not_ready_addresses(service) || (serving && !terminating);
    let hostname = should_set_hostname(pod, service)
        .then(|| pod.spec.as_ref().and_then(|spec| spec.hostname.clone()))
        .flatten();
    Endpoint {
        addresses: pod_ips(pod)
            .into_iter()
            .filter(|ip| IpFamily::of_ip(ip) == family)
            .map(str::to_owned)
            .collect(),
        conditions: Some(EndpointConditions {
            ready: Some(ready),
            serving: Some(serving),
            terminating: Some(terminating),
        }),
        hostname,
        node_name: pod_node_name(pod).map(str::to_owned),
        target_ref: Some(pod_reference(pod)),
        zone: zone.map(str::to_owned),
        ..Endpoint::default()
    }
}

/// The address families the Service's slices use: `spec.ipFamilies`, else
/// the family of its cluster IP, else IPv4.
pub fn service_address_types(service: &Service) -> Vec<IpFamily> {
    let spec = service.spec.as_ref();
    let mut families: Vec<IpFamily> = spec
        .and_then(|spec| spec.ip_families.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|family| IpFamily::parse(family))
        .collect();
    families.dedup();
    if !families.is_empty() {
        return families;
    }
    if is_service_ip_set(service) {
        let ip = spec
            .and_then(|s| s.cluster_ip.as_deref())
            .unwrap_or_default();
        return vec![IpFamily::of_ip(ip)];
    }
    vec![IpFamily::V4]
}

/// Labels every managed slice of the Service carries: the Service's own
/// labels (except the reserved keys), the headless marker when the Service
/// has no cluster IP, the service name and the managed-by label.
pub fn slice_labels(service: &Service) -> BTreeMap<String, String> {
    let reserved = [LABEL_SERVICE_NAME, LABEL_MANAGED_BY, HEADLESS_SERVICE_LABEL];
    let mut labels: BTreeMap<String, String> = service
        .metadata
        .labels
        .iter()
        .flatten()
        .filter(|(key, _)| !reserved.contains(&key.as_str()))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    if !is_service_ip_set(service) {
        labels.insert(HEADLESS_SERVICE_LABEL.to_owned(), String::new());
    }
    let name = service.metadata.name.clone().unwrap_or_default();
    labels.insert(LABEL_SERVICE_NAME.to_owned(), name);
    labels.insert(LABEL_MANAGED_BY.to_owned(), CONTROLLER_NAME.to_owned());
    labels
}

/// The controller reference of a slice to its Service (`NewControllerRef`).
pub fn service_owner_reference(service: &Service) -> Result<OwnerReference, SliceError> {
    Ok(OwnerReference {
        api_version: "v1".to_owned(),
        kind: "Service".to_owned(),
        name: service
            .metadata
            .name
            .clone()
            .ok_or(SliceError::MissingName)?,
        uid: service.metadata.uid.clone().ok_or(SliceError::MissingUid)?,
        controller: Some(true),
        block_owner_deletion: Some(true),
    })
}

/// Whether the slice is owned by this very Service (same uid); slices left by
/// an earlier Service of the same name are not, and get deleted.
pub fn owned_by(slice: &EndpointSlice, service: &Service) -> bool {
    let Some(uid) = service.metadata.uid.as_deref() else {
        return false;
    };
    slice
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|owner| owner.uid == uid && owner.kind == "Service" && owner.api_version == "v1")
}

/// Whether this controller manages the slice.
pub fn managed_by_controller(slice: &EndpointSlice) -> bool {
    slice
        .metadata
        .labels
        .as_ref()
        .and_then(|labels| labels.get(LABEL_MANAGED_BY))
        .is_some_and(|value| value == CONTROLLER_NAME)
}

/// A new, unnamed slice for the Service (`generateName: <service>-`) with
/// the given ports (an empty list is omitted, as Kubernetes' storage does).
pub fn new_slice(
    service: &Service,
    family: IpFamily,
    ports: Vec<EndpointPort>,
) -> Result<EndpointSlice, SliceError> {
    let name = service
        .metadata
        .name
        .as_deref()
        .ok_or(SliceError::MissingName)?;
    Ok(EndpointSlice {
        metadata: ObjectMeta {
            generate_name: Some(format!("{name}-")),
            namespace: service.metadata.namespace.clone(),
            labels: Some(slice_labels(service)),
            owner_references: Some(vec![service_owner_reference(service)?]),
            ..ObjectMeta::default()
        },
        address_type: family.as_str().to_owned(),
        endpoints: Vec::new(),
        ports: (!ports.is_empty()).then_some(ports),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints::pod::tests::{pod, port, service};
    use jiff::Timestamp;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

    fn conditions(endpoint: &Endpoint) -> (Option<bool>, Option<bool>, Option<bool>) {
        let c = endpoint.conditions.clone().unwrap_or_default();
        (c.ready, c.serving, c.terminating)
    }

    #[test]
    fn ready_pod_is_ready_and_serving() {
        let svc = service(vec![]);
        let ep = pod_endpoint(&svc, &pod("a", "10.0.0.1", true), Some("z1"), IpFamily::V4);
        assert_eq!(conditions(&ep), (Some(true), Some(true), Some(false)));
        assert_eq!(ep.addresses, ["10.0.0.1"]);
        assert_eq!(ep.zone.as_deref(), Some("z1"));
        assert_eq!(ep.node_name.as_deref(), Some("node-a"));
    }

    #[test]
    fn terminating_ready_pod_is_serving_but_not_ready() {
        let svc = service(vec![]);
        let mut p = pod("a", "10.0.0.1", true);
        p.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        let ep = pod_endpoint(&svc, &p, None, IpFamily::V4);
        assert_eq!(conditions(&ep), (Some(false), Some(true), Some(true)));
    }

    #[test]
    fn publish_not_ready_makes_every_endpoint_ready() {
        let mut svc = service(vec![]);
        if let Some(spec) = svc.spec.as_mut() {
            spec.publish_not_ready_addresses = Some(true);
        }
        let ep = pod_endpoint(&svc, &pod("a", "10.0.0.1", false), None, IpFamily::V4);
        assert_eq!(conditions(&ep), (Some(true), Some(false), Some(false)));
    }

    #[test]
    fn unnamed_ports_get_an_empty_name() {
        let mut unnamed = port("", 80, IntOrString::Int(8080));
        unnamed.name = None;
        let svc = service(vec![unnamed]);
        let ports = endpoint_ports(&svc, &pod("a", "10.0.0.1", true));
        assert_eq!(ports.len(), 1);
        assert_eq!(ports[0].name.as_deref(), Some(""));
        assert_eq!(ports[0].port, Some(8080));
    }

    #[test]
    fn slices_are_labeled_and_owned_by_the_service() {
        let svc = service(vec![]);
        let Ok(slice) = new_slice(&svc, IpFamily::V4, Vec::new()) else {
            panic!("service has name and uid");
        };
        let labels = slice.metadata.labels.clone().unwrap_or_default();
        assert_eq!(
            labels.get(LABEL_SERVICE_NAME).map(String::as_str),
            Some("web")
        );
        assert_eq!(
            labels.get(LABEL_MANAGED_BY).map(String::as_str),
            Some(CONTROLLER_NAME)
        );
        assert_eq!(labels.get("tier").map(String::as_str), Some("front"));
        assert_eq!(slice.metadata.generate_name.as_deref(), Some("web-"));
        assert_eq!(slice.address_type, "IPv4");
        let owner = slice.metadata.owner_references.clone().unwrap_or_default();
        assert_eq!(owner.len(), 1);
        assert_eq!(owner[0].controller, Some(true));
        assert_eq!(owner[0].block_owner_deletion, Some(true));
        assert!(owned_by(&slice, &svc));
    }
}

//! The endpoints controller's sync of one Service: the desired `Endpoints`
//! object (same name and namespace as the Service) and whether the stored one
//! must be created or rewritten.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Pod, Service, ServicePort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::pod::{
    find_port, is_external_name, is_headless, is_pod_ready, is_service_ip_set, pod_ips,
    pod_node_name, pod_reference, pod_selected_by, publish_not_ready_addresses, service_ports,
    service_selector, should_pod_be_in_endpoints, should_set_hostname, IpFamily,
    HEADLESS_SERVICE_LABEL,
};
use super::repack::repack_subsets;

/// Annotation carrying the time of the newest pod or Service change reflected
/// in the object (feeds the network programming latency SLI).
pub const LAST_CHANGE_TRIGGER_TIME_ANNOTATION: &str =
    "endpoints.kubernetes.io/last-change-trigger-time";

/// Annotation set to `truncated` when more than [`MAX_ENDPOINTS_CAPACITY`]
/// addresses were selected and some were dropped.
pub const OVER_CAPACITY_ANNOTATION: &str = "endpoints.kubernetes.io/over-capacity";

/// Kubernetes caps an Endpoints object at 1000 addresses (ready and not ready
/// together); EndpointSlices carry the full set.
pub const MAX_ENDPOINTS_CAPACITY: usize = 1000;

/// What the wiring does with the Endpoints of one Service.
#[derive(Clone, Debug, PartialEq)]
pub enum EndpointsAction {
    /// The Service has no selector or is ExternalName: its Endpoints are
    /// managed by someone else; do not touch them.
    LeaveAlone,
    /// The stored object already matches; no write.
    Unchanged,
    /// No Endpoints exist yet: create this object.
    Create(Endpoints),
    /// Replace the stored object with this one (it keeps the stored
    /// resourceVersion, so the update is conditional).
    Update(Endpoints),
}

/// The IP family whose pod IPs this Service's endpoints use (Kubernetes'
/// `podToEndpointAddressForService`): the first of `spec.ipFamilies`, else the
/// family of the cluster IP, else (headless, old objects) the pod's primary IP.
fn endpoint_family(service: &Service, pod: &Pod) -> IpFamily {
    let spec = service.spec.as_ref();
    if let Some(family) = spec
        .and_then(|spec| spec.ip_families.as_ref())
        .and_then(|families| families.first())
    {
        return IpFamily::parse(family).unwrap_or(IpFamily::V4);
    }
    if is_service_ip_set(service) {
        let ip = spec
            .and_then(|s| s.cluster_ip.as_deref())
            .unwrap_or_default();
        return IpFamily::of_ip(ip);
    }
    pod_ips(pod)
        .first()
        .map_or(IpFamily::V4, |ip| IpFamily::of_ip(ip))
}

/// The address a pod contributes, or `None` when it has no IP of the Service's
/// family (a single-stack pod behind a Service of the other family).
fn endpoint_address(service: &Service, pod: &Pod) -> Option<EndpointAddress> {
    let family = endpoint_family(service, pod);
    let ip = pod_ips(pod)
        .into_iter()
        .find(|ip| IpFamily::of_ip(ip) == family)?;
    let hostname = should_set_hostname(pod, service)
        .then(|| pod.spec.as_ref().and_then(|spec| spec.hostname.clone()))
        .flatten();
    Some(EndpointAddress {
        ip: ip.to_owned(),
        hostname,
        node_name: pod_node_name(pod).map(str::to_owned),
        target_ref: Some(pod_reference(pod)),
    })
}

fn endpoint_port(service_port: &ServicePort, number: i32) -> EndpointPort {
    EndpointPort {
        name: service_port.name.clone(),
        port: number,
        protocol: service_port.protocol.clone(),
        app_protocol: service_port.app_protocol.clone(),
    }
}

/// One single-address subset, in `addresses` when the pod is ready or the
/// Service publishes not-ready addresses, otherwise in `notReadyAddresses`.
fn single_subset(
    address: EndpointAddress,
    port: Option<EndpointPort>,
    ready: bool,
) -> EndpointSubset {
    let addresses = Some(vec![address]);
    EndpointSubset {
        addresses: if ready { addresses.clone() } else { None },
        not_ready_addresses: if ready { None } else { addresses },
        ports: port.map(|p| vec![p]),
    }
}

/// The subsets the Service should have, repacked and sorted.
///
/// Pods are those in the Service's namespace matched by its selector (any
/// others in `pods` are ignored), with an IP, not terminal, and not being
/// deleted unless `publishNotReadyAddresses` is set (then terminating pods stay
/// published, as Kubernetes does). Each Service port resolves its targetPort
/// per pod; a pod whose named port does not resolve is skipped for that port
/// only. A headless Service without ports lists the addresses with no ports.
pub fn desired_subsets(service: &Service, pods: &[Pod]) -> Vec<EndpointSubset> {
    let publish_not_ready = publish_not_ready_addresses(service);
    let ports = service_ports(service);
    let mut subsets = Vec::new();
    for pod in pods {
        if !pod_selected_by(service, pod) || !should_pod_be_in_endpoints(pod, publish_not_ready) {
            continue;
        }
        let Some(address) = endpoint_address(service, pod) else {
            continue;
        };
        let ready = publish_not_ready || is_pod_ready(pod);
        if ports.is_empty() {
            // A Service without ports only makes sense headless (DNS records).
            if is_headless(service) {
                subsets.push(single_subset(address, None, ready));
            }
            continue;
        }
        for service_port in ports {
            if let Some(number) = find_port(pod, service_port) {
                let port = endpoint_port(service_port, number);
                subsets.push(single_subset(address.clone(), Some(port), ready));
            }
        }
    }
    repack_subsets(&subsets)
}

/// Kubernetes' `truncateEndpoints`: keeps at most [`MAX_ENDPOINTS_CAPACITY`]
/// addresses, ready ones first, spreading the cut over the subsets in
/// proportion to their size (rounded up, so the last subsets give up the
/// rest). Returns whether anything was dropped.
fn truncate(subsets: &mut [EndpointSubset]) -> bool {
    let count = |list: &Option<Vec<EndpointAddress>>| list.as_ref().map_or(0, Vec::len);
    let total_ready: usize = subsets.iter().map(|s| count(&s.addresses)).sum();
    let total_not_ready: usize = subsets.iter().map(|s| count(&s.not_ready_addresses)).sum();
    if total_ready + total_not_ready <= MAX_ENDPOINTS_CAPACITY {
        return false;
    }
    let truncate_ready = total_ready > MAX_ENDPOINTS_CAPACITY;
    let (budget, total) = if truncate_ready {
        (MAX_ENDPOINTS_CAPACITY, total_ready)
    } else {
        (MAX_ENDPOINTS_CAPACITY - total_ready, total_not_ready)
    };
    let mut left = budget;
    for subset in subsets.iter_mut() {
        let in_subset = if truncate_ready {
            count(&subset.addresses)
        } else {
            count(&subset.not_ready_addresses)
        };
        // ceil(in_subset / total * budget) in integers; total > 0 here.
        let share = (in_subset * budget).div_ceil(total.max(1)).min(left);
        let list = if truncate_ready {
            subset.not_ready_addresses = None;
            &mut subset.addresses
        } else {
            &mut subset.not_ready_addresses
        };
        if let Some(addresses) = list.as_mut() {
            addresses.truncate(share);
            left -= addresses.len();
        }
    }
    true
}

/// Labels of the Endpoints: the Service's, plus the headless marker when the
/// Service has no cluster IP.
fn desired_labels(service: &Service) -> BTreeMap<String, String> {
    let mut labels = service.metadata.labels.clone().unwrap_or_default();
    if is_service_ip_set(service) {
        labels.remove(HEADLESS_SERVICE_LABEL);
    } else {
        labels.insert(HEADLESS_SERVICE_LABEL.to_owned(), String::new());
    }
    labels
}

/// The Endpoints object the Service should have, or `None` when the
/// controller leaves this Service's Endpoints alone (no selector, or type
/// ExternalName). `trigger_time` is the newest pod/Service change the wiring
/// observed; it becomes the `last-change-trigger-time` annotation.
pub fn desired_endpoints(
    service: &Service,
    pods: &[Pod],
    trigger_time: Option<Timestamp>,
) -> Option<Endpoints> {
    if is_external_name(service) || service_selector(service).is_none() {
        return None;
    }
    let mut subsets = desired_subsets(service, pods);
    let mut annotations = BTreeMap::new();
    if truncate(&mut subsets) {
        annotations.insert(OVER_CAPACITY_ANNOTATION.to_owned(), "truncated".to_owned());
    }
    if let Some(time) = trigger_time {
        annotations.insert(
            LAST_CHANGE_TRIGGER_TIME_ANNOTATION.to_owned(),
            time.to_string(),
        );
    }
    Some(Endpoints {
        metadata: ObjectMeta {
            name: service.metadata.name.clone(),
            namespace: service.metadata.namespace.clone(),
            labels: Some(desired_labels(service)),
            annotations: (!annotations.is_empty()).then_some(annotations),
            ..ObjectMeta::default()
        },
        subsets: (!subsets.is_empty()).then_some(subsets),
    })
}

/// Subsets compared as Kubernetes does, ignoring the pods' resourceVersion in
/// `targetRef` (so pod updates that change nothing here cause no write).
fn subsets_equal(a: Option<&Vec<EndpointSubset>>, b: Option<&Vec<EndpointSubset>>) -> bool {
    fn normalized(subsets: Option<&Vec<EndpointSubset>>) -> Vec<EndpointSubset> {
        let mut subsets = subsets.cloned().unwrap_or_default();
        for subset in &mut subsets {
            let lists = [&mut subset.addresses, &mut subset.not_ready_addresses];
            for address in lists.into_iter().flatten().flatten() {
                if let Some(target) = address.target_ref.as_mut() {
                    target.resource_version = None;
                }
            }
        }
        subsets
    }
    normalized(a) == normalized(b)
}

fn annotation<'a>(endpoints: &'a Endpoints, key: &str) -> Option<&'a String> {
    endpoints.metadata.annotations.as_ref()?.get(key)
}

/// Whether `current` already says what `desired` says: same subsets (pod
/// resourceVersions aside), same labels, same over-capacity marker. The
/// trigger-time annotation alone never causes a write, as in Kubernetes.
pub fn endpoints_up_to_date(current: &Endpoints, desired: &Endpoints) -> bool {
    subsets_equal(current.subsets.as_ref(), desired.subsets.as_ref())
        && current.metadata.labels.clone().unwrap_or_default()
            == desired.metadata.labels.clone().unwrap_or_default()
        && annotation(current, OVER_CAPACITY_ANNOTATION)
            == annotation(desired, OVER_CAPACITY_ANNOTATION)
}

/// The controller's decision for one Service given the stored Endpoints of
/// the same name. An update starts from the stored object (keeping its
/// resourceVersion, ownerless metadata and foreign annotations) and replaces
/// subsets, labels and the two controller annotations.
pub fn sync_endpoints(
    service: &Service,
    pods: &[Pod],
    current: Option<&Endpoints>,
    trigger_time: Option<Timestamp>,
) -> EndpointsAction {
    let Some(desired) = desired_endpoints(service, pods, trigger_time) else {
        return EndpointsAction::LeaveAlone;
    };
    let Some(current) = current else {
        return EndpointsAction::Create(desired);
    };
    if endpoints_up_to_date(current, &desired) {
        return EndpointsAction::Unchanged;
    }
    let mut updated = current.clone();
    let mut annotations = updated.metadata.annotations.take().unwrap_or_default();
    for key in [
        OVER_CAPACITY_ANNOTATION,
        LAST_CHANGE_TRIGGER_TIME_ANNOTATION,
    ] {
        match annotation(&desired, key) {
            Some(value) => annotations.insert(key.to_owned(), value.clone()),
            None => annotations.remove(key),
        };
    }
    updated.subsets = desired.subsets;
    updated.metadata.labels = desired.metadata.labels;
    updated.metadata.annotations = (!annotations.is_empty()).then_some(annotations);
    EndpointsAction::Update(updated)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints::pod::tests::{pod, port, service};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

    fn named_http() -> ServicePort {
        port("web", 80, IntOrString::String("http".to_owned()))
    }

    fn ips(list: &Option<Vec<EndpointAddress>>) -> Vec<&str> {
        list.iter().flatten().map(|a| a.ip.as_str()).collect()
    }

    fn only_subset(endpoints: &Endpoints) -> &EndpointSubset {
        let subsets = endpoints.subsets.as_deref().unwrap_or_default();
        assert_eq!(subsets.len(), 1, "{subsets:?}");
        &subsets[0]
    }

    #[test]
    fn ready_pods_are_addresses_and_unready_pods_not_ready_addresses() {
        let svc = service(vec![named_http()]);
        let pods = [pod("a", "10.0.0.1", true), pod("b", "10.0.0.2", false)];
        let Some(ep) = desired_endpoints(&svc, &pods, None) else {
            panic!("selector service has endpoints");
        };
        let subset = only_subset(&ep);
        assert_eq!(ips(&subset.addresses), ["10.0.0.1"]);
        assert_eq!(ips(&subset.not_ready_addresses), ["10.0.0.2"]);
        assert_eq!(subset.ports.as_ref().map(|p| p[0].port), Some(8080));
        let address = &subset.addresses.as_ref().map(|a| a[0].clone());
        let target = address.as_ref().and_then(|a| a.target_ref.clone());
        assert_eq!(target.and_then(|t| t.name), Some("a".to_owned()));
        assert_eq!(ep.metadata.name.as_deref(), Some("web"));
        assert_eq!(
            ep.metadata.labels.as_ref().and_then(|l| l.get("tier")),
            Some(&"front".to_owned())
        );
    }

    #[test]
    fn publish_not_ready_addresses_lists_every_pod_as_ready() {
        let mut svc = service(vec![named_http()]);
        if let Some(spec) = svc.spec.as_mut() {
            spec.publish_not_ready_addresses = Some(true);
        }
        let mut terminating = pod("c", "10.0.0.3", false);
        terminating.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        let pods = [pod("b", "10.0.0.2", false), terminating];
        let Some(ep) = desired_endpoints(&svc, &pods, None) else {
            panic!("selector service has endpoints");
        };
        let subset = only_subset(&ep);
        assert_eq!(ips(&subset.addresses), ["10.0.0.2", "10.0.0.3"]);
        assert_eq!(subset.not_ready_addresses, None);
    }

    #[test]
    fn terminating_pods_leave_unless_published() {
        let svc = service(vec![named_http()]);
        let mut terminating = pod("a", "10.0.0.1", true);
        terminating.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        let ep = desired_endpoints(&svc, &[terminating], None);
        assert_eq!(ep.and_then(|e| e.subsets), None);
    }

    #[test]
    fn pod_without_the_named_port_is_skipped_for_that_port_only() {
        let metrics = port("metrics", 9100, IntOrString::String("metrics".to_owned()));
        let svc = service(vec![named_http(), metrics]);
        let mut exporter = pod("b", "10.0.0.2", true);
        if let Some(spec) = exporter.spec.as_mut() {
            if let Some(ports) = spec.containers[0].ports.as_mut() {
                ports.push(k8s_openapi::api::core::v1::ContainerPort {
                    name: Some("metrics".to_owned()),
                    container_port: 9100,
                    ..Default::default()
                });
            }
        }
        let pods = [pod("a", "10.0.0.1", true), exporter];
        let subsets = desired_subsets(&svc, &pods);
        // Both serve http; only 10.0.0.2 serves metrics: two address sets.
        assert_eq!(subsets.len(), 2);
        let port_of = |s: &EndpointSubset| s.ports.as_ref().map(|p| p[0].port);
        let http = subsets.iter().find(|s| port_of(s) == Some(8080));
        let metrics = subsets.iter().find(|s| port_of(s) == Some(9100));
        assert_eq!(
            http.map(|s| ips(&s.addresses)),
            Some(vec!["10.0.0.1", "10.0.0.2"])
        );
        assert_eq!(metrics.map(|s| ips(&s.addresses)), Some(vec!["10.0.0.2"]));
    }

    #[test]
    fn pods_outside_the_selector_are_ignored() {
        let svc = service(vec![named_http()]);
        let mut other = pod("x", "10.0.0.9", true);
        other.metadata.labels = None;
        assert!(desired_subsets(&svc, &[other]).is_empty());
    }

    #[test]
    fn service_without_selector_is_left_alone() {
        let mut svc = service(vec![named_http()]);
        if let Some(spec) = svc.spec.as_mut() {
            spec.selector = None;
        }
        let action = sync_endpoints(&svc, &[pod("a", "10.0.0.1", true)], None, None);
        assert_eq!(action, EndpointsAction::LeaveAlone);
    }

    #[test]
    fn headless_service_without_ports_lists_addresses_and_is_labeled() {
        let mut svc = service(vec![]);
        if let Some(spec) = svc.spec.as_mut() {
            spec.cluster_ip = Some("None".to_owned());
        }
        let Some(ep) = desired_endpoints(&svc, &[pod("a", "10.0.0.1", true)], None) else {
            panic!("selector service has endpoints");
        };
        let subset = only_subset(&ep);
        assert_eq!(ips(&subset.addresses), ["10.0.0.1"]);
        assert_eq!(subset.ports, None);
        let labels = ep.metadata.labels.unwrap_or_default();
        assert_eq!(labels.get(HEADLESS_SERVICE_LABEL), Some(&String::new()));
    }

    #[test]
    fn output_is_independent_of_pod_order() {
        let svc = service(vec![named_http()]);
        let a = pod("a", "10.0.0.1", true);
        let b = pod("b", "10.0.0.2", false);
        let c = pod("c", "10.0.0.3", true);
        let one = desired_endpoints(&svc, &[a.clone(), b.clone(), c.clone()], None);
        let two = desired_endpoints(&svc, &[c, b, a], None);
        assert_eq!(one, two);
    }

    #[test]
    fn unchanged_endpoints_are_not_rewritten() {
        let svc = service(vec![named_http()]);
        let pods = [pod("a", "10.0.0.1", true)];
        let Some(mut stored) = desired_endpoints(&svc, &pods, None) else {
            panic!("selector service has endpoints");
        };
        stored.metadata.resource_version = Some("7".to_owned());
        let now = Some(Timestamp::UNIX_EPOCH);
        assert_eq!(
            sync_endpoints(&svc, &pods, Some(&stored), now),
            EndpointsAction::Unchanged
        );
        let more = [pod("a", "10.0.0.1", true), pod("b", "10.0.0.2", true)];
        let EndpointsAction::Update(updated) = sync_endpoints(&svc, &more, Some(&stored), now)
        else {
            panic!("a new pod changes the endpoints");
        };
        assert_eq!(updated.metadata.resource_version.as_deref(), Some("7"));
        assert!(annotation(&updated, LAST_CHANGE_TRIGGER_TIME_ANNOTATION).is_some());
    }

    #[test]
    fn more_than_a_thousand_addresses_are_truncated_and_annotated() {
        let svc = service(vec![port("p", 80, IntOrString::Int(80))]);
        let pods: Vec<Pod> = (0..1005)
            .map(|i| {
                pod(
                    &format!("p{i}"),
                    &format!("10.1.{}.{}", i / 250, i % 250),
                    true,
                )
            })
            .collect();
        let Some(ep) = desired_endpoints(&svc, &pods, None) else {
            panic!("selector service has endpoints");
        };
        assert_eq!(
            only_subset(&ep).addresses.as_ref().map(Vec::len),
            Some(1000)
        );
        assert_eq!(
            annotation(&ep, OVER_CAPACITY_ANNOTATION).map(String::as_str),
            Some("truncated")
        );
    }
}

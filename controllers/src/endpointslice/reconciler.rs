//! Kubernetes' EndpointSlice reconciler: compares the endpoints the Service's
//! pods should have with those in its existing slices and plans the fewest
//! slice writes that make them agree.
//!
//! Per address type and per distinct port set:
//! 1. every existing slice keeps the desired endpoints it already holds
//!    (updated in place when they changed); slices left empty are deleted,
//!    slices with nothing to change are kept untouched;
//! 2. remaining endpoints first fill the slices already being updated,
//!    fullest first (the write is happening anyway);
//! 3. what is still left goes into new slices of up to 100 endpoints, except
//!    that a last partial batch goes into the untouched slice it fills most
//!    closely, when one has room;
//! 4. a planned create becomes an update of a slice planned for deletion when
//!    one exists, trading a delete + create for one update;
//! 5. a Service with no endpoints at all keeps one empty placeholder slice.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointPort, EndpointSlice};

use crate::endpoints::pod::{
    is_external_name, pod_node_name, pod_selected_by, publish_not_ready_addresses,
    service_selector, should_pod_be_in_endpoints, IpFamily,
};
use crate::endpoints::LAST_CHANGE_TRIGGER_TIME_ANNOTATION;

use super::desired::{
    endpoint_ports, managed_by_controller, new_slice, owned_by, pod_endpoint,
    service_address_types, slice_labels, NodeZones, MAX_ENDPOINTS_PER_SLICE,
};
use super::SliceError;

/// The slice writes for one Service. The wiring creates, then updates, then
/// deletes (Kubernetes' order, so endpoints never vanish between two writes).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SlicePlan {
    /// New slices; they carry `generateName`, not a name.
    pub create: Vec<EndpointSlice>,
    /// Existing slices with new content; they keep their resourceVersion.
    pub update: Vec<EndpointSlice>,
    /// Slices to delete.
    pub delete: Vec<EndpointSlice>,
    /// Pods left out because their node is not in the node map. Kubernetes
    /// reports this as an error so the Service is synced again later; the
    /// wiring should requeue with backoff when this is not empty.
    pub pods_on_unknown_nodes: Vec<String>,
}

impl SlicePlan {
    /// Whether nothing needs writing.
    pub fn is_empty(&self) -> bool {
        self.create.is_empty() && self.update.is_empty() && self.delete.is_empty()
    }
}

/// The reconciler's one setting, Kubernetes' `--max-endpoints-per-slice`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SliceReconciler {
    /// At most this many endpoints per slice (default 100).
    pub max_endpoints_per_slice: usize,
}

impl Default for SliceReconciler {
    fn default() -> Self {
        SliceReconciler {
            max_endpoints_per_slice: MAX_ENDPOINTS_PER_SLICE,
        }
    }
}

/// A port set's identity, independent of the order the ports are listed in.
type PortMapKey = Vec<(String, i32, String, Option<String>)>;

fn port_map_key(ports: &[EndpointPort]) -> PortMapKey {
    let mut key: PortMapKey = ports
        .iter()
        .map(|port| {
            (
                port.name.clone().unwrap_or_default(),
                port.port.unwrap_or_default(),
                port.protocol.clone().unwrap_or_else(|| "TCP".to_owned()),
                port.app_protocol.clone(),
            )
        })
        .collect();
    key.sort();
    key
}

/// An endpoint's identity across syncs (Kubernetes' endpoint hash): its
/// addresses, hostname and pod; conditions, zone and node may change in place.
type EndpointKey = (Vec<String>, Option<String>, Option<String>, Option<String>);

fn endpoint_key(endpoint: &Endpoint) -> EndpointKey {
    let mut addresses = endpoint.addresses.clone();
    addresses.sort();
    let target = endpoint.target_ref.as_ref();
    (
        addresses,
        endpoint.hostname.clone(),
        target.and_then(|t| t.namespace.clone()),
        target.and_then(|t| t.name.clone()),
    )
}

/// Endpoint equality ignoring the pod's resourceVersion in `targetRef`.
fn endpoints_equal(a: &Endpoint, b: &Endpoint) -> bool {
    let strip = |endpoint: &Endpoint| {
        let mut endpoint = endpoint.clone();
        if let Some(target) = endpoint.target_ref.as_mut() {
            target.resource_version = None;
        }
        endpoint
    };
    strip(a) == strip(b)
}

/// The endpoints wanted in slices of one port set, with that set's ports.
struct DesiredGroup {
    ports: Vec<EndpointPort>,
    endpoints: BTreeMap<EndpointKey, Endpoint>,
}

/// Plans the slice writes for `service` with the default settings.
/// See [`SliceReconciler::reconcile`].
pub fn reconcile_slices(
    service: &Service,
    pods: &[Pod],
    existing: &[EndpointSlice],
    nodes: &NodeZones,
    trigger_time: Option<Timestamp>,
) -> Result<Option<SlicePlan>, SliceError> {
    SliceReconciler::default().reconcile(service, pods, existing, nodes, trigger_time)
}

impl SliceReconciler {
    /// Plans the slice writes for `service`. `pods` are the pods of its
    /// namespace (the selector is applied here), `existing` the slices
    /// labeled with its name (slices another controller manages are
    /// ignored), `nodes` the known nodes and their zones, `trigger_time` the
    /// newest change the wiring observed (the `last-change-trigger-time`
    /// annotation of written slices).
    ///
    /// `Ok(None)` means the Service gets no slices from this controller (no
    /// selector, or type ExternalName) and its slices are left alone.
    pub fn reconcile(
        &self,
        service: &Service,
        pods: &[Pod],
        existing: &[EndpointSlice],
        nodes: &NodeZones,
        trigger_time: Option<Timestamp>,
    ) -> Result<Option<SlicePlan>, SliceError> {
        if is_external_name(service) || service_selector(service).is_none() {
            return Ok(None);
        }
        let families = service_address_types(service);
        let mut plan = SlicePlan::default();
        let managed = existing.iter().filter(|slice| managed_by_controller(slice));
        let mut by_family: BTreeMap<IpFamily, Vec<&EndpointSlice>> = BTreeMap::new();
        for slice in managed {
            match IpFamily::parse(&slice.address_type) {
                Some(family) if families.contains(&family) => {
                    by_family.entry(family).or_default().push(slice);
                }
                // An address type the Service no longer has (or FQDN, which
                // this controller never writes).
                _ => plan.delete.push(slice.clone()),
            }
        }
        for family in families {
            let slices = by_family.remove(&family).unwrap_or_default();
            self.reconcile_family(service, pods, &slices, nodes, family, &mut plan)?;
        }
        finalize(service, &mut plan, trigger_time);
        Ok(Some(plan))
    }

    fn reconcile_family(
        &self,
        service: &Service,
        pods: &[Pod],
        existing: &[&EndpointSlice],
        nodes: &NodeZones,
        family: IpFamily,
        plan: &mut SlicePlan,
    ) -> Result<(), SliceError> {
        let mut create = Vec::new();
        let mut update = Vec::new();
        let mut delete = Vec::new();

        let mut existing_by_ports: BTreeMap<PortMapKey, Vec<&EndpointSlice>> = BTreeMap::new();
        for slice in existing {
            if owned_by(slice, service) {
                let key = port_map_key(slice.ports.as_deref().unwrap_or_default());
                existing_by_ports.entry(key).or_default().push(slice);
            } else {
                // Left by an earlier Service of the same name: its garbage.
                delete.push((*slice).clone());
            }
        }

        let mut desired: BTreeMap<PortMapKey, DesiredGroup> = BTreeMap::new();
        for pod in pods {
            // Slices carry terminating pods too, flagged by their conditions.
            if !pod_selected_by(service, pod) || !should_pod_be_in_endpoints(pod, true) {
                continue;
            }
            let zone = match pod_node_name(pod).map(|node| nodes.get(node)) {
                Some(Some(zone)) => zone.as_deref(),
                // The node is gone (or the pod unscheduled): leave the pod out
                // rather than keep a stale endpoint, unless the user asked for
                // every address to be published.
                _ if publish_not_ready_addresses(service) => None,
                _ => {
                    let name = pod.metadata.name.clone().unwrap_or_default();
                    if !plan.pods_on_unknown_nodes.contains(&name) {
                        plan.pods_on_unknown_nodes.push(name);
                    }
                    continue;
                }
            };
            let ports = endpoint_ports(service, pod);
            let endpoint = pod_endpoint(service, pod, zone, family);
            if endpoint.addresses.is_empty() {
                continue;
            }
            let group = desired
                .entry(port_map_key(&ports))
                .or_insert_with(|| DesiredGroup {
                    ports,
                    endpoints: BTreeMap::new(),
                });
            group.endpoints.insert(endpoint_key(&endpoint), endpoint);
        }

        for (key, group) in desired.iter_mut() {
            let slices = existing_by_ports
                .get(key)
                .map(Vec::as_slice)
                .unwrap_or_default();
            self.reconcile_port_mapping(
                service,
                family,
                slices,
                group,
                (&mut create, &mut update, &mut delete),
            )?;
        }
        // Port sets no pod serves any more.
        for (key, slices) in &existing_by_ports {
            if !desired.contains_key(key) {
                delete.extend(slices.iter().map(|slice| (*slice).clone()));
            }
        }

        // A Service with no endpoints keeps one empty placeholder slice, so
        // consumers can tell "no endpoints" from "not processed yet".
        if existing.len() == delete.len() && create.is_empty() {
            let placeholder = new_slice(service, family, Vec::new())?;
            if delete.len() == 1 && is_placeholder_like(&delete[0], &placeholder) {
                delete.clear();
            } else {
                create.push(placeholder);
            }
        }

        plan.create.extend(create);
        plan.update.extend(update);
        plan.delete.extend(delete);
        Ok(())
    }

    /// Steps 1-3 of the module documentation for one port set.
    fn reconcile_port_mapping(
        &self,
        service: &Service,
        family: IpFamily,
        existing: &[&EndpointSlice],
        group: &mut DesiredGroup,
        (create, update, delete): (
            &mut Vec<EndpointSlice>,
            &mut Vec<EndpointSlice>,
            &mut Vec<EndpointSlice>,
        ),
    ) -> Result<(), SliceError> {
        let max = self.max_endpoints_per_slice.max(1);
        let labels = slice_labels(service);
        let mut to_update: Vec<EndpointSlice> = Vec::new();
        let mut unchanged: Vec<&EndpointSlice> = Vec::new();

        // 1. Keep what existing slices already hold.
        for slice in existing {
            let mut kept = Vec::new();
            let mut changed = false;
            for endpoint in &slice.endpoints {
                if let Some(wanted) = group.endpoints.remove(&endpoint_key(endpoint)) {
                    changed |= !endpoints_equal(&wanted, endpoint);
                    kept.push(wanted);
                }
            }
            let removed = kept.len() != slice.endpoints.len();
            let labels_changed = slice.metadata.labels.as_ref() != Some(&labels);
            if kept.is_empty() && removed {
                delete.push((*slice).clone());
            } else if changed || removed || labels_changed {
                let mut slice = (*slice).clone();
                slice.endpoints = kept;
                slice.metadata.labels = Some(labels.clone());
                to_update.push(slice);
            } else {
                unchanged.push(slice);
            }
        }

        // 2. Fill slices that are being written anyway, fullest first.
        to_update.sort_by(|a, b| {
            b.endpoints
                .len()
                .cmp(&a.endpoints.len())
                .then_with(|| a.metadata.name.cmp(&b.metadata.name))
        });
        for slice in &mut to_update {
            fill(slice, &mut group.endpoints, max);
        }

        // 3. New slices, or one untouched slice for a last partial batch.
        while !group.endpoints.is_empty() {
            let remaining = group.endpoints.len();
            let target = (remaining < max)
                .then(|| slice_to_fill(&unchanged, remaining, max))
                .flatten();
            match target {
                Some(index) => {
                    let mut slice = unchanged.remove(index).clone();
                    fill(&mut slice, &mut group.endpoints, max);
                    to_update.push(slice);
                }
                None => {
                    let mut slice = new_slice(service, family, group.ports.clone())?;
                    fill(&mut slice, &mut group.endpoints, max);
                    create.push(slice);
                }
            }
        }
        update.extend(to_update);
        Ok(())
    }
}

/// Moves desired endpoints into `slice` until it holds `max`.
fn fill(slice: &mut EndpointSlice, desired: &mut BTreeMap<EndpointKey, Endpoint>, max: usize) {
    while slice.endpoints.len() < max {
        let Some((_, endpoint)) = desired.pop_first() else {
            break;
        };
        slice.endpoints.push(endpoint);
    }
}

/// The untouched slice that `count` more endpoints would bring closest to
/// full without overflowing it (Kubernetes' `getSliceToFill`).
fn slice_to_fill(slices: &[&EndpointSlice], count: usize, max: usize) -> Option<usize> {
    slices
        .iter()
        .enumerate()
        .filter(|(_, slice)| slice.endpoints.len() + count <= max)
        .min_by_key(|(_, slice)| max - (slice.endpoints.len() + count))
        .map(|(index, _)| index)
}

/// Whether an existing slice is, for every field that matters, the
/// placeholder this controller would create (so it is kept, not recreated).
fn is_placeholder_like(slice: &EndpointSlice, placeholder: &EndpointSlice) -> bool {
    slice.endpoints.is_empty()
        && slice.ports.as_ref().is_none_or(Vec::is_empty)
        && slice.address_type == placeholder.address_type
        && slice.metadata.namespace == placeholder.metadata.namespace
        && slice.metadata.labels == placeholder.metadata.labels
        && slice.metadata.owner_references == placeholder.metadata.owner_references
}

/// Step 4 of the module documentation, then the Service-deletion rule and the
/// trigger-time annotation.
fn finalize(service: &Service, plan: &mut SlicePlan, trigger_time: Option<Timestamp>) {
    let mut index = 0;
    while index < plan.delete.len() {
        let Some(candidate) = plan.create.last() else {
            break;
        };
        let reusable = &plan.delete[index];
        // Never take over a slice of an earlier Service of the same name: the
        // garbage collector is deleting it.
        if reusable.address_type == candidate.address_type && owned_by(reusable, service) {
            let reusable = plan.delete.remove(index);
            if let Some(mut slice) = plan.create.pop() {
                slice.metadata.name = reusable.metadata.name;
                slice.metadata.resource_version = reusable.metadata.resource_version;
                plan.update.push(slice);
            }
        } else {
            index += 1;
        }
    }
    // Creating slices for a Service being deleted would race the garbage
    // collector that is deleting them.
    if service.metadata.deletion_timestamp.is_some() {
        plan.create.clear();
    }
    for slice in plan.create.iter_mut().chain(plan.update.iter_mut()) {
        let annotations = slice.metadata.annotations.get_or_insert_with(BTreeMap::new);
        match trigger_time {
            Some(time) => {
                annotations.insert(
                    LAST_CHANGE_TRIGGER_TIME_ANNOTATION.to_owned(),
                    time.to_string(),
                );
            }
            None => {
                annotations.remove(LAST_CHANGE_TRIGGER_TIME_ANNOTATION);
            }
        }
        if annotations.is_empty() {
            slice.metadata.annotations = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints::pod::tests::{pod, port, service};
    use crate::endpointslice::desired::{LABEL_MANAGED_BY, LABEL_SERVICE_NAME};
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

    fn nodes() -> NodeZones {
        NodeZones::from([("node-a".to_owned(), Some("zone-1".to_owned()))])
    }

    fn pods(count: usize) -> Vec<Pod> {
        (0..count)
            .map(|i| {
                pod(
                    &format!("p{i:03}"),
                    &format!("10.0.{}.{}", i / 200, i % 200 + 1),
                    true,
                )
            })
            .collect()
    }

    fn svc() -> Service {
        service(vec![port(
            "http",
            80,
            IntOrString::String("http".to_owned()),
        )])
    }

    fn plan(pods: &[Pod], existing: &[EndpointSlice]) -> SlicePlan {
        match reconcile_slices(&svc(), pods, existing, &nodes(), None) {
            Ok(Some(plan)) => plan,
            other => panic!("selector service is reconciled: {other:?}"),
        }
    }

    /// What the API server would store after applying a plan's creates.
    fn stored(mut plan: SlicePlan) -> Vec<EndpointSlice> {
        for (i, slice) in plan.create.iter_mut().enumerate() {
            slice.metadata.name = Some(format!("web-{i}"));
            slice.metadata.resource_version = Some("1".to_owned());
        }
        plan.create.into_iter().chain(plan.update).collect()
    }

    #[test]
    fn two_hundred_fifty_pods_make_three_labeled_slices() {
        let result = plan(&pods(250), &[]);
        let sizes: Vec<usize> = result.create.iter().map(|s| s.endpoints.len()).collect();
        assert_eq!(sizes, [100, 100, 50]);
        for slice in &result.create {
            let labels = slice.metadata.labels.clone().unwrap_or_default();
            assert_eq!(
                labels.get(LABEL_SERVICE_NAME).map(String::as_str),
                Some("web")
            );
            assert_eq!(
                labels.get(LABEL_MANAGED_BY).map(String::as_str),
                Some("endpointslice-controller.k8s.io")
            );
            let ports = slice.ports.clone().unwrap_or_default();
            assert_eq!(ports[0].name.as_deref(), Some("http"));
            assert_eq!(ports[0].port, Some(8080));
            assert_eq!(slice.endpoints[0].zone.as_deref(), Some("zone-1"));
        }
    }

    #[test]
    fn unchanged_slices_are_not_rewritten() {
        let first = stored(plan(&pods(150), &[]));
        assert!(plan(&pods(150), &first).is_empty());
    }

    #[test]
    fn a_removed_pod_updates_only_its_slice() {
        let all = pods(150);
        let existing = stored(plan(&all, &[]));
        let result = plan(&all[1..], &existing);
        assert!(result.create.is_empty() && result.delete.is_empty());
        assert_eq!(result.update.len(), 1);
        assert_eq!(result.update[0].endpoints.len(), 99);
    }

    #[test]
    fn a_new_pod_joins_an_existing_slice_with_room() {
        let all = pods(151);
        let existing = stored(plan(&all[..150], &[]));
        let result = plan(&all, &existing);
        assert!(result.create.is_empty() && result.delete.is_empty());
        assert_eq!(result.update.len(), 1);
        assert_eq!(result.update[0].endpoints.len(), 51);
    }

    #[test]
    fn readiness_change_updates_the_endpoint_in_place() {
        let mut all = pods(3);
        let existing = stored(plan(&all, &[]));
        all[1] = pod("p001", "10.0.0.2", false);
        let result = plan(&all, &existing);
        assert_eq!(result.update.len(), 1);
        let conditions = result.update[0].endpoints[1].conditions.clone();
        assert_eq!(conditions.and_then(|c| c.ready), Some(false));
    }

    #[test]
    fn no_pods_leave_one_placeholder_slice() {
        let result = plan(&[], &[]);
        assert_eq!(result.create.len(), 1);
        assert!(result.create[0].endpoints.is_empty());
        let existing = stored(result);
        assert!(plan(&[], &existing).is_empty());
    }

    #[test]
    fn emptied_slice_is_reused_for_the_new_port_set() {
        let existing = stored(plan(&pods(2), &[]));
        let renamed = service(vec![port("web", 80, IntOrString::Int(9000))]);
        let result = match reconcile_slices(&renamed, &pods(2), &existing, &nodes(), None) {
            Ok(Some(plan)) => plan,
            other => panic!("selector service is reconciled: {other:?}"),
        };
        assert!(result.create.is_empty() && result.delete.is_empty());
        assert_eq!(result.update.len(), 1);
        assert_eq!(result.update[0].metadata.name.as_deref(), Some("web-0"));
        let ports = result.update[0].ports.clone().unwrap_or_default();
        assert_eq!(ports[0].port, Some(9000));
    }

    #[test]
    fn slices_of_a_previous_service_are_deleted() {
        let mut existing = stored(plan(&pods(2), &[]));
        for owner in existing[0].metadata.owner_references.iter_mut().flatten() {
            owner.uid = "old-uid".to_owned();
        }
        let result = plan(&pods(2), &existing);
        assert_eq!(result.delete.len(), 1);
        assert_eq!(result.create.len(), 1);
    }

    #[test]
    fn pods_on_unknown_nodes_are_left_out_and_reported() {
        let mut stray = pod("stray", "10.9.0.1", true);
        if let Some(spec) = stray.spec.as_mut() {
            spec.node_name = Some("gone".to_owned());
        }
        let result = plan(&[stray], &[]);
        assert_eq!(result.pods_on_unknown_nodes, ["stray"]);
        assert!(result.create.iter().all(|s| s.endpoints.is_empty()));
    }

    #[test]
    fn service_without_selector_is_left_alone() {
        let mut s = svc();
        if let Some(spec) = s.spec.as_mut() {
            spec.selector = None;
        }
        let result = reconcile_slices(&s, &pods(1), &[], &nodes(), None);
        assert!(matches!(result, Ok(None)));
    }
}

//! The EndpointSlice controller: keeps the EndpointSlices of every
//! selector-based Service, at most 100 endpoints each, as
//! kube-controller-manager's EndpointSlice controller does.
//!
//! The wiring calls [`reconcile_slices`] for a Service key whenever the
//! Service, one of its pods, one of its slices, or a node changes, passing the
//! pods of the Service's namespace, the slices labeled
//! `kubernetes.io/service-name=<service>` and the node zones ([`node_zones`]).
//! It then executes the [`SlicePlan`]: creates, updates, deletes. A deleted
//! Service needs nothing here: its slices are owned by it and the garbage
//! collector removes them.

pub mod controller;
mod desired;
mod reconciler;

pub use desired::{
    endpoint_ports, managed_by_controller, new_slice, node_zones, owned_by, pod_endpoint,
    service_address_types, service_owner_reference, slice_labels, NodeZones, CONTROLLER_NAME,
    LABEL_MANAGED_BY, LABEL_SERVICE_NAME, MAX_ENDPOINTS_PER_SLICE, ZONE_LABEL,
};
pub use reconciler::{reconcile_slices, SlicePlan, SliceReconciler};

/// Why slices cannot be planned for a Service.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SliceError {
    /// The Service has no `metadata.name`, so slices can neither be named
    /// after it nor labeled with it.
    #[error("service has no metadata.name")]
    MissingName,
    /// The Service has no `metadata.uid`, so slices cannot reference it as
    /// their owner.
    #[error("service has no metadata.uid")]
    MissingUid,
}

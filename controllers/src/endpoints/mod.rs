//! The endpoints controller: keeps one `Endpoints` object per selector-based
//! Service listing the pods that back it, as kube-controller-manager's
//! endpoints controller does.
//!
//! The wiring calls [`sync_endpoints`] for a Service key whenever the Service,
//! one of its pods, or its Endpoints changes, passing the pods of the Service's
//! namespace (the function applies the selector itself) and the stored
//! Endpoints of the same name. When the Service no longer exists, the wiring
//! deletes the Endpoints of that name.
//!
//! [`pod`] also holds the pod rules the EndpointSlice controller shares.

pub mod controller;
pub mod pod;
mod repack;
mod sync;

pub use repack::{repack_subsets, sort_subsets};
pub use sync::{
    desired_endpoints, desired_subsets, endpoints_up_to_date, sync_endpoints, EndpointsAction,
    LAST_CHANGE_TRIGGER_TIME_ANNOTATION, MAX_ENDPOINTS_CAPACITY, OVER_CAPACITY_ANNOTATION,
};

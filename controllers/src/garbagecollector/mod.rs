//! The garbage collector's graph logic (Kubernetes' garbage collector):
//! objects whose owners are all gone are deleted, owners deleted with
//! `propagationPolicy: Orphan` first release their dependents, and owners
//! deleted with `Foreground` wait until their blocking dependents are gone.
//!
//! The wiring keeps one [`Graph`] fed from informers over every resource
//! kind: [`Graph::observe`] on add/update, [`Graph::remove`] on delete. Each
//! returns uids to process; the wiring queues them (deduplicated, with
//! backoff on failure) and runs [`Graph::process`] for each, performing the
//! returned [`Action`]s in order.
//!
//! The wiring should start processing only after every informer has listed
//! once (Kubernetes' graph builder waits for its monitors to sync), so that
//! owners are not looked up one by one at startup.
//!
//! Simplified compared with Kubernetes: owners present in the graph are
//! trusted without a live lookup (Kubernetes GETs every owner before
//! deleting; the graph lagging behind can only delay a deletion here, never
//! cause a wrong one, since an owner's absence is only believed when its
//! deletion was observed or a lookup confirmed it); and a reference to a kind
//! the API server does not serve is left to the wiring's lookup (Kubernetes
//! treats it as an error and keeps the dependent, which is also what the
//! wiring gets by not calling [`Graph::mark_owner_absent`]).

pub mod controller;
mod graph;
mod process;

pub use graph::{
    Graph, GraphObject, ObjectIdentity, OwnerState, FINALIZER_FOREGROUND, FINALIZER_ORPHAN,
};
pub use process::{Action, Propagation};

/// Why an object cannot enter the graph.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// The object has no `metadata.name`.
    #[error("object has no metadata.name")]
    MissingName,
    /// The object has no `metadata.uid` (it was never stored).
    #[error("object {0} has no metadata.uid")]
    MissingUid(String),
}

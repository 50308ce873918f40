//! berth-controllers: the control loops of the controller manager.

pub mod controller_ref;
pub mod deployment;
pub mod endpoints;
pub mod endpointslice;
pub mod garbagecollector;
pub mod manager;
pub mod namespace;
pub mod nodelifecycle;
pub mod pod_util;
pub mod replicaset;

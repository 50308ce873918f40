//! berth-scheduler: picks a node for every new Pod, as kube-scheduler does.
//!
//! The crate is the scheduling core, free of networking; the wiring feeds it
//! informer events and writes the bindings it decides.
//!
//! - [`quantity`], [`resources`]: resource quantities and what pods request.
//! - [`framework`]: node and pod records, the [`Cache`] (with assumed pods),
//!   and the per-cycle [`Snapshot`].
//! - [`plugins`]: the default profile's filters (NodeUnschedulable, NodeName,
//!   TaintToleration, NodeAffinity, NodePorts, NodeResourcesFit,
//!   PodTopologySpread, InterPodAffinity) and scores (TaintToleration,
//!   NodeAffinity, NodeResourcesFit LeastAllocated, PodTopologySpread,
//!   InterPodAffinity, NodeResourcesBalancedAllocation) with Kubernetes'
//!   weights, reasons and formulas.
//! - [`schedule`]: one decision ([`schedule_one`]) and its [`FitError`], whose
//!   text is Kubernetes' FailedScheduling message.
//! - [`queue`]: the [`SchedulingQueue`] (activeQ, backoffQ, unschedulable pods).
//! - [`Scheduler`]: all of it behind the calls the wiring makes.

pub mod framework;
pub mod labels;
pub mod plugins;
pub mod quantity;
pub mod queue;
pub mod resources;
pub mod run;
pub mod schedule;
mod scheduler;

#[cfg(test)]
mod testutil;

pub use framework::cache::{Cache, CacheError};
pub use framework::node_info::NodeInfo;
pub use framework::snapshot::Snapshot;
pub use queue::{ClusterEvent, QueueConfig, QueueCounts, SchedulingQueue};
pub use resources::Resource;
pub use schedule::{schedule_one, schedule_one_with, FitError, ScheduleOptions, ScheduleResult};
pub use scheduler::{Scheduler, SchedulerConfig, DEFAULT_SCHEDULER_NAME};

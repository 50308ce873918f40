//! berth-bench: measures a store through the etcd v3 API, so the same
//! workloads drive berth or any etcd cluster, and the two can be compared
//! side by side on one machine; and the scheduler's throughput at scale
//! ([`sched`]), the figure kube-scheduler publishes.
//!
//! Closed loop: each client sends its next request when the last one is
//! answered. Latencies go into HdrHistograms (microseconds); a run reports
//! throughput, p50/p90/p99/max and errors by kind.

pub mod apply_ready;
pub mod compare;
pub mod connect;
pub mod pod_startup;
pub mod report;
pub mod sched;
pub mod workload;

pub use report::Report;
pub use workload::{run, Config, Workload};

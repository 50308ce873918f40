//! The workload: clients issuing etcd requests against the members, and
//! watchers following every change, each recording what it saw with
//! simulated times. Every random choice comes from the run's seed.

mod client;
mod watcher;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

pub use client::run_client;
pub use watcher::run_watcher;

use crate::history::{Operation, WatchRecord};

/// Where clients and watchers record what they did. Turmoil runs every
/// simulated host on one thread, so a plain `Rc<RefCell<_>>` is shared by all.
#[derive(Clone, Default)]
pub struct Recorder {
    ops: Rc<RefCell<Vec<Operation>>>,
    watches: Rc<RefCell<Vec<WatchRecord>>>,
}

impl Recorder {
    /// Records a finished (or abandoned) operation.
    pub fn op(&self, op: Operation) {
        self.ops.borrow_mut().push(op);
    }

    /// Records a watch observation.
    pub fn watch(&self, record: WatchRecord) {
        self.watches.borrow_mut().push(record);
    }

    /// Every operation so far.
    pub fn ops(&self) -> Vec<Operation> {
        self.ops.borrow().clone()
    }

    /// Every watch record so far.
    pub fn watches(&self) -> Vec<WatchRecord> {
        self.watches.borrow().clone()
    }
}

/// Simulated time since the simulation began, the clock of every record.
pub fn now() -> Duration {
    turmoil::sim_elapsed().unwrap_or_default()
}

/// The shape of a run's workload.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Members in the cluster.
    pub members: usize,
    /// When clients and watchers start.
    pub start: Duration,
    /// When they stop issuing requests.
    pub stop: Duration,
    /// Distinct keys the KV operations share.
    pub keys: usize,
    /// How long a client waits for an answer before calling the outcome
    /// unknown.
    pub timeout: Duration,
    /// TTL of the leases clients grant, in seconds.
    pub lease_ttl: i64,
}

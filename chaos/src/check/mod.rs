//! The checkers. Each reads the recorded history and returns what it found
//! wrong; none of them trusts the store under test for its reference.

pub mod lease;
pub mod linearizability;
pub mod serializable;
pub mod watch;

use std::fmt;

use crate::history::{Operation, WatchRecord};

/// Which guarantee a violation breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Checker {
    Linearizability,
    Serializable,
    Watch,
    Lease,
    Durability,
    Liveness,
}

impl Checker {
    /// Every checker, in report order.
    pub const ALL: [Checker; 6] = [
        Checker::Linearizability,
        Checker::Serializable,
        Checker::Watch,
        Checker::Lease,
        Checker::Durability,
        Checker::Liveness,
    ];

    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Checker::Linearizability => "linearizability",
            Checker::Serializable => "serializable",
            Checker::Watch => "watch",
            Checker::Lease => "lease",
            Checker::Durability => "durability",
            Checker::Liveness => "liveness",
        }
    }
}

/// One broken guarantee, with the evidence.
#[derive(Clone, Debug, PartialEq)]
pub struct Violation {
    pub checker: Checker,
    pub detail: String,
}

impl Violation {
    /// A violation of `checker`'s guarantee.
    pub fn new(checker: Checker, detail: impl Into<String>) -> Violation {
        Violation {
            checker,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.checker.name(), self.detail)
    }
}

/// Runs every history checker (durability and liveness need the live
/// cluster and run inside the simulation).
pub fn all(ops: &[Operation], watches: &[WatchRecord]) -> Vec<Violation> {
    let mut out = Vec::new();
    // Keys written with leases vanish when their lease does; the lease
    // checker owns them.
    let kv_ops: Vec<Operation> = ops
        .iter()
        .filter(|op| op.key().is_some_and(|k| !k.starts_with(lease::KEY_PREFIX)))
        .cloned()
        .collect();
    if let Err(v) = linearizability::check(&kv_ops) {
        out.push(Violation::new(Checker::Linearizability, v.to_string()));
    }
    out.extend(serializable::check(ops));
    out.extend(watch::check(ops, watches));
    out.extend(lease::check(ops));
    out
}

/// Formats simulated time as seconds with milliseconds.
pub(crate) fn secs(d: std::time::Duration) -> String {
    format!("{:.3}s", d.as_secs_f64())
}

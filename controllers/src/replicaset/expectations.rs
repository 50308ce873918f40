//! Expectations: a controller does not act on a ReplicaSet again until its informer has
//! observed the creations and deletions it already issued (Kubernetes'
//! `ControllerExpectations`, with deletions tracked per pod key as in
//! `UIDTrackingControllerExpectations`).
//!
//! Without them a sync that runs before the cache shows the new pods would count too
//! few pods and create duplicates. Expectations expire after five minutes so that a
//! lost watch event cannot wedge a ReplicaSet forever.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use tokio::time::Instant;

/// How long recorded expectations hold before a sync proceeds anyway (Kubernetes'
/// `ExpectationsTimeout`).
pub const EXPECTATIONS_TIMEOUT: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, Clone)]
struct Expectation {
    adds: i64,
    deletes: i64,
    /// Pod keys whose deletion is awaited, so an unrelated deletion is not counted.
    pending_deletes: HashSet<String>,
    set_at: Instant,
}

impl Expectation {
    fn fulfilled(&self) -> bool {
        self.adds <= 0 && self.deletes <= 0
    }
}

/// Outstanding creations and deletions per controller key (`namespace/name`).
#[derive(Debug, Default, Clone)]
pub struct ControllerExpectations {
    entries: HashMap<String, Expectation>,
}

impl ControllerExpectations {
    /// No expectations recorded.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the controller `key` may sync: nothing is outstanding, nothing was ever
    /// recorded (a new or restarted controller), or the record is older than
    /// [`EXPECTATIONS_TIMEOUT`].
    pub fn satisfied(&self, key: &str, now: Instant) -> bool {
        match self.entries.get(key) {
            None => true,
            Some(e) => {
                e.fulfilled() || now.saturating_duration_since(e.set_at) > EXPECTATIONS_TIMEOUT
            }
        }
    }

    /// Records that `count` pods are about to be created, replacing any earlier record.
    pub fn expect_creations(&mut self, key: &str, count: usize, now: Instant) {
        self.entries.insert(
            key.to_string(),
            Expectation {
                adds: i64::try_from(count).unwrap_or(i64::MAX),
                deletes: 0,
                pending_deletes: HashSet::new(),
                set_at: now,
            },
        );
    }

    /// Records that the pods with these `namespace/name` keys are about to be deleted,
    /// replacing any earlier record.
    pub fn expect_deletions(&mut self, key: &str, pod_keys: &[String], now: Instant) {
        self.entries.insert(
            key.to_string(),
            Expectation {
                adds: 0,
                deletes: i64::try_from(pod_keys.len()).unwrap_or(i64::MAX),
                pending_deletes: pod_keys.iter().cloned().collect(),
                set_at: now,
            },
        );
    }

    /// A pod of controller `key` was seen created, or a creation was abandoned (failed
    /// or skipped by slow start) and will never be seen.
    pub fn creation_observed(&mut self, key: &str) {
        if let Some(e) = self.entries.get_mut(key) {
            e.adds -= 1;
        }
    }

    /// A pod of controller `key` was seen deleted (or seen with a deletionTimestamp),
    /// or its deletion failed. Only pods we asked to delete lower the count, and each
    /// only once.
    pub fn deletion_observed(&mut self, key: &str, pod_key: &str) {
        if let Some(e) = self.entries.get_mut(key) {
            if e.pending_deletes.remove(pod_key) {
                e.deletes -= 1;
            }
        }
    }

    /// Forgets the controller (it was deleted).
    pub fn delete(&mut self, key: &str) {
        self.entries.remove(key);
    }

    /// Outstanding (creations, deletions) for `key`, for logs and tests.
    pub fn pending(&self, key: &str) -> Option<(i64, i64)> {
        self.entries.get(key).map(|e| (e.adds, e.deletes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_controller_may_sync() {
        let exp = ControllerExpectations::new();
        assert!(exp.satisfied("ns/rs", Instant::now()));
    }

    #[test]
    fn sync_waits_until_every_creation_is_observed() {
        let now = Instant::now();
        let mut exp = ControllerExpectations::new();
        exp.expect_creations("ns/rs", 2, now);
        assert!(!exp.satisfied("ns/rs", now));
        exp.creation_observed("ns/rs");
        assert!(!exp.satisfied("ns/rs", now));
        exp.creation_observed("ns/rs");
        assert!(exp.satisfied("ns/rs", now));
    }

    #[test]
    fn only_expected_pod_deletions_count_and_each_once() {
        let now = Instant::now();
        let mut exp = ControllerExpectations::new();
        exp.expect_deletions("ns/rs", &["ns/a".into(), "ns/b".into()], now);
        exp.deletion_observed("ns/rs", "ns/other");
        exp.deletion_observed("ns/rs", "ns/a");
        exp.deletion_observed("ns/rs", "ns/a");
        assert_eq!(exp.pending("ns/rs"), Some((0, 1)));
        assert!(!exp.satisfied("ns/rs", now));
        exp.deletion_observed("ns/rs", "ns/b");
        assert!(exp.satisfied("ns/rs", now));
    }

    #[test]
    fn expectations_expire_after_five_minutes() {
        let now = Instant::now();
        let mut exp = ControllerExpectations::new();
        exp.expect_creations("ns/rs", 3, now);
        assert!(!exp.satisfied("ns/rs", now + EXPECTATIONS_TIMEOUT));
        assert!(exp.satisfied("ns/rs", now + EXPECTATIONS_TIMEOUT + Duration::from_secs(1)));
    }
}

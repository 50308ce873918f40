//! The in-memory lease table with expiry deadlines.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::apply::{Applied, ApplyObserver, LeaseChange};
use crate::mvcc::KvStore;

/// etcd's largest TTL a lease may be granted (`MaxLeaseTTL`, 9,000,000,000 s).
pub const MAX_LEASE_TTL: i64 = 9_000_000_000;

#[derive(Debug, Clone, Copy)]
struct LeaseState {
    ttl: i64,
    expiry: Instant,
}

/// Tracks every lease this member knows of and its expiry deadline.
///
/// Every member keeps the table (fed by applied grants and revokes) so a new
/// leader knows every lease at once; only the leader's deadlines are acted on.
pub struct Lessor {
    leases: Mutex<HashMap<i64, LeaseState>>,
    /// Added to every deadline when this member becomes leader: the time an
    /// election may have taken, during which nobody could keep a lease alive.
    promotion_extension: Duration,
    /// Where leases are stored, to reload after a snapshot replaced the state.
    kv: Option<KvStore>,
}

/// A lease's remaining life as the leader sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remaining {
    /// Whole seconds left, truncated, as etcd reports it.
    pub ttl: i64,
    /// The TTL the lease was granted with.
    pub granted_ttl: i64,
}

impl Lessor {
    /// An empty table; `promotion_extension` is the election timeout.
    pub fn new(promotion_extension: Duration) -> Lessor {
        Lessor {
            leases: Mutex::new(HashMap::new()),
            promotion_extension,
            kv: None,
        }
    }

    /// A table loaded from the state machine's leases, reloaded from it
    /// whenever a snapshot replaces the state.
    pub fn open(promotion_extension: Duration, kv: KvStore) -> crate::Result<Lessor> {
        let lessor = Lessor {
            kv: Some(kv),
            ..Lessor::new(promotion_extension)
        };
        if let Some(kv) = &lessor.kv {
            lessor.reload(&kv.leases()?);
        }
        Ok(lessor)
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<i64, LeaseState>> {
        // A panic while holding this lock cannot leave the map half-updated
        // (every update is a single insert or remove), so poisoning is ignored.
        self.leases.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces the table with the leases stored in the state machine, each
    /// given its full TTL from now (used at start-up and after a snapshot).
    pub fn reload(&self, leases: &[(i64, i64)]) {
        let now = Instant::now();
        let mut table = self.table();
        table.clear();
        for &(id, ttl) in leases {
            table.insert(
                id,
                LeaseState {
                    ttl,
                    expiry: deadline(now, ttl),
                },
            );
        }
    }

    /// Called when this member becomes leader: every lease gets its full TTL
    /// plus the election time from now (etcd's `Promote`).
    pub fn promote(&self) {
        let now = Instant::now() + self.promotion_extension;
        let planted = crate::faults::active(crate::faults::Fault::EarlyLeaseExpiry);
        for lease in self.table().values_mut() {
            lease.expiry = if planted {
                Instant::now()
            } else {
                deadline(now, lease.ttl)
            };
        }
    }

    /// Renews a lease on a keep-alive; returns its TTL, or `None` if it does
    /// not exist or has already expired. An expired lease is as good as
    /// revoked: its revoke may be on its way through Raft, and renewing it
    /// would promise the client a TTL the revoke is about to break (etcd's
    /// `Renew` likewise refuses an expired lease).
    pub fn renew(&self, id: i64) -> Option<i64> {
        let now = Instant::now();
        self.table()
            .get_mut(&id)
            .filter(|lease| lease.expiry > now)
            .map(|lease| {
                lease.expiry = deadline(now, lease.ttl);
                lease.ttl
            })
    }

    /// The remaining life of a lease, or `None` if it does not exist.
    pub fn remaining(&self, id: i64) -> Option<Remaining> {
        let now = Instant::now();
        self.table().get(&id).map(|lease| {
            let left = lease.expiry.saturating_duration_since(now);
            // etcd truncates the remaining time to whole seconds.
            let secs = left.as_secs();
            Remaining {
                ttl: i64::try_from(secs).unwrap_or(i64::MAX),
                granted_ttl: lease.ttl,
            }
        })
    }

    /// Leases whose deadline has passed, oldest deadline first, at most `max`
    /// (etcd revokes expired leases in bounded batches so a storm of expiries
    /// does not flood the log).
    pub fn expired(&self, max: usize) -> Vec<i64> {
        let now = Instant::now();
        let mut expired: Vec<(Instant, i64)> = self
            .table()
            .iter()
            .filter(|(_, lease)| lease.expiry <= now)
            .map(|(&id, lease)| (lease.expiry, id))
            .collect();
        expired.sort_unstable();
        expired.into_iter().take(max).map(|(_, id)| id).collect()
    }

    /// Whether a lease exists.
    pub fn contains(&self, id: i64) -> bool {
        self.table().contains_key(&id)
    }
}

fn deadline(now: Instant, ttl: i64) -> Instant {
    let secs = u64::try_from(ttl.max(0)).unwrap_or(0);
    // Saturate far-future deadlines rather than overflow Instant.
    now.checked_add(Duration::from_secs(secs))
        .unwrap_or_else(|| now + Duration::from_secs(u64::from(u32::MAX)))
}

impl ApplyObserver for Lessor {
    fn applied(&self, applied: &Applied) {
        if applied.lease_changes.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut table = self.table();
        for change in &applied.lease_changes {
            match *change {
                LeaseChange::Granted { id, ttl } => {
                    table.insert(
                        id,
                        LeaseState {
                            ttl,
                            expiry: deadline(now, ttl),
                        },
                    );
                }
                LeaseChange::Revoked { id } => {
                    table.remove(&id);
                }
            }
        }
    }

    fn restored(&self, _revision: i64) {
        let Some(kv) = &self.kv else { return };
        match kv.leases() {
            Ok(leases) => self.reload(&leases),
            Err(e) => tracing::error!(error = %e, "reloading leases after snapshot"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn granted(id: i64, ttl: i64) -> Applied {
        Applied {
            lease_changes: vec![LeaseChange::Granted { id, ttl }],
            ..Applied::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn lease_expires_after_its_ttl_without_keepalive() {
        let lessor = Lessor::new(Duration::from_secs(1));
        lessor.applied(&granted(7, 5));
        tokio::time::advance(Duration::from_millis(4900)).await;
        assert!(lessor.expired(10).is_empty());
        tokio::time::advance(Duration::from_millis(200)).await;
        assert_eq!(lessor.expired(10), vec![7]);
    }

    #[tokio::test(start_paused = true)]
    async fn keepalive_pushes_the_deadline_back() {
        let lessor = Lessor::new(Duration::from_secs(1));
        lessor.applied(&granted(7, 5));
        tokio::time::advance(Duration::from_secs(4)).await;
        assert_eq!(lessor.renew(7), Some(5));
        tokio::time::advance(Duration::from_secs(4)).await;
        assert!(lessor.expired(10).is_empty());
        assert_eq!(
            lessor.remaining(7),
            Some(Remaining {
                ttl: 1,
                granted_ttl: 5
            })
        );
        assert_eq!(lessor.renew(8), None);
    }

    #[tokio::test(start_paused = true)]
    async fn an_expired_lease_is_not_renewed() {
        let lessor = Lessor::new(Duration::from_secs(1));
        lessor.applied(&granted(7, 5));
        tokio::time::advance(Duration::from_millis(5100)).await;
        assert_eq!(lessor.renew(7), None);
        assert_eq!(lessor.expired(10), vec![7], "still due for its revoke");
    }

    #[tokio::test(start_paused = true)]
    async fn promotion_extends_every_lease_by_the_election_time() {
        let lessor = Lessor::new(Duration::from_secs(1));
        lessor.applied(&granted(1, 2));
        tokio::time::advance(Duration::from_millis(1900)).await;
        lessor.promote();
        tokio::time::advance(Duration::from_millis(2500)).await;
        assert!(
            lessor.expired(10).is_empty(),
            "promoted lease expired early"
        );
        tokio::time::advance(Duration::from_millis(600)).await;
        assert_eq!(lessor.expired(10), vec![1]);
    }

    #[tokio::test(start_paused = true)]
    async fn revoke_removes_the_lease() {
        let lessor = Lessor::new(Duration::from_secs(1));
        lessor.applied(&granted(3, 10));
        lessor.applied(&Applied {
            lease_changes: vec![LeaseChange::Revoked { id: 3 }],
            ..Applied::default()
        });
        assert!(!lessor.contains(3));
        assert_eq!(lessor.remaining(3), None);
    }
}

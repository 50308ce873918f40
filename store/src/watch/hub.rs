//! The hub: recent events in memory, fed by the state machine, read by every
//! watcher.
//!
//! The apply loop only appends to a bounded ring and bumps a revision
//! channel; it never waits for a watcher. A watcher reads from the ring when
//! everything it needs is still there, and from the store's history on disk
//! otherwise, so a slow watcher costs itself time and nobody else anything.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use berth_proto::mvccpb::Event;
use tokio::sync::watch;

use crate::apply::{Applied, ApplyObserver};
use crate::mvcc::in_range;
use crate::mvcc::KvStore;
use crate::Result;

/// Revisions with events kept in memory.
pub const DEFAULT_RING_REVISIONS: usize = 4096;

/// Recent history and the latest applied revision.
pub struct WatchHub {
    kv: KvStore,
    ring: Mutex<Ring>,
    latest: watch::Sender<i64>,
    /// Watchers open on every stream (`etcd_debugging_mvcc_watcher_total`).
    watchers: std::sync::atomic::AtomicI64,
}

struct Ring {
    capacity: usize,
    entries: VecDeque<(i64, Arc<[Event]>)>,
    /// Every event at or after this revision is in `entries`.
    complete_from: i64,
}

/// Events a watcher read, and the revision it has now seen everything up to.
pub struct Batch {
    /// Matching events, whole revisions only.
    pub events: Vec<Event>,
    /// The last revision covered (events or none).
    pub through: i64,
}

impl WatchHub {
    /// A hub over `kv`, starting at its current revision.
    pub fn new(kv: KvStore) -> Arc<WatchHub> {
        WatchHub::with_capacity(kv, DEFAULT_RING_REVISIONS)
    }

    /// A hub keeping `capacity` revisions in memory.
    pub fn with_capacity(kv: KvStore, capacity: usize) -> Arc<WatchHub> {
        let current = kv.current_revision();
        let (latest, _) = watch::channel(current);
        Arc::new(WatchHub {
            kv,
            ring: Mutex::new(Ring {
                capacity: capacity.max(1),
                entries: VecDeque::new(),
                complete_from: current + 1,
            }),
            latest,
            watchers: std::sync::atomic::AtomicI64::new(0),
        })
    }

    /// How many watchers are open.
    pub fn watchers(&self) -> i64 {
        self.watchers.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Counts `delta` watchers opened (or closed, when negative).
    pub(super) fn count_watchers(&self, delta: i64) {
        self.watchers
            .fetch_add(delta, std::sync::atomic::Ordering::Relaxed);
    }

    fn ring(&self) -> MutexGuard<'_, Ring> {
        match self.ring.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The latest revision whose events the hub has.
    pub fn current_revision(&self) -> i64 {
        *self.latest.borrow()
    }

    /// Tells of every new revision.
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.latest.subscribe()
    }

    /// The store's compacted revision.
    pub fn compact_revision(&self) -> i64 {
        self.kv.compact_revision()
    }

    /// Events on `[key, range_end)` from revision `from` through at most
    /// `to`, up to about `limit` events without splitting a revision.
    pub fn read(
        &self,
        from: i64,
        to: i64,
        key: &[u8],
        range_end: &[u8],
        limit: usize,
    ) -> Result<Batch> {
        if from > to {
            return Ok(Batch {
                events: Vec::new(),
                through: to,
            });
        }
        let recent: Option<Vec<(i64, Arc<[Event]>)>> = {
            let ring = self.ring();
            if from >= ring.complete_from {
                let start = ring.entries.partition_point(|(rev, _)| *rev < from);
                Some(
                    ring.entries
                        .iter()
                        .skip(start)
                        .take_while(|(rev, _)| *rev <= to)
                        .cloned()
                        .collect(),
                )
            } else {
                None
            }
        };
        match recent {
            Some(revisions) => {
                let mut events = Vec::new();
                for (rev, batch) in revisions {
                    let before = events.len();
                    events.extend(
                        batch
                            .iter()
                            .filter(|e| {
                                e.kv.as_ref()
                                    .is_some_and(|kv| in_range(&kv.key, key, range_end))
                            })
                            .cloned(),
                    );
                    if events.len() > before && events.len() >= limit {
                        return Ok(Batch {
                            events,
                            through: rev,
                        });
                    }
                }
                Ok(Batch {
                    events,
                    through: to,
                })
            }
            None => {
                let events = self.kv.events(from, to, key, range_end, limit)?;
                let through = match events.last() {
                    Some(last) if events.len() >= limit => {
                        last.kv.as_ref().map_or(to, |kv| kv.mod_revision)
                    }
                    _ => to,
                };
                Ok(Batch { events, through })
            }
        }
    }
}

impl ApplyObserver for WatchHub {
    fn applied(&self, applied: &Applied) {
        if applied.events.is_empty() {
            return;
        }
        {
            let mut ring = self.ring();
            ring.entries
                .push_back((applied.revision, applied.events.clone().into()));
            while ring.entries.len() > ring.capacity {
                if let Some((rev, _)) = ring.entries.pop_front() {
                    ring.complete_from = rev + 1;
                }
            }
        }
        self.latest.send_replace(applied.revision);
    }

    fn restored(&self, revision: i64) {
        {
            let mut ring = self.ring();
            ring.entries.clear();
            ring.complete_from = revision + 1;
        }
        self.latest.send_replace(revision);
    }
}

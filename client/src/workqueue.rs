//! A work queue of keys, as client-go's rate-limited work queue: a key is
//! queued at most once however often it is added, is never handed to two
//! workers at once, and a key that keeps failing comes back after an
//! exponentially growing delay.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// client-go's per-item exponential limiter: 5 ms doubling to 1000 s.
const RETRY_BASE: Duration = Duration::from_millis(5);
const RETRY_MAX: Duration = Duration::from_secs(1000);

struct State<T> {
    queue: VecDeque<T>,
    /// Keys waiting to be processed (queued, or re-added while processing).
    dirty: HashSet<T>,
    processing: HashSet<T>,
    failures: HashMap<T, u32>,
    /// Keys added with a delay, and when they are due.
    waiting: HashMap<T, Instant>,
    shut_down: bool,
}

/// A de-duplicating queue of keys with delayed and rate-limited adds.
pub struct WorkQueue<T> {
    state: Arc<Mutex<State<T>>>,
    ready: Arc<Notify>,
}

impl<T> Clone for WorkQueue<T> {
    fn clone(&self) -> Self {
        WorkQueue {
            state: self.state.clone(),
            ready: self.ready.clone(),
        }
    }
}

impl<T: Clone + Eq + Hash + Send + 'static> Default for WorkQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone + Eq + Hash + Send + 'static> WorkQueue<T> {
    /// An empty queue.
    pub fn new() -> Self {
        WorkQueue {
            state: Arc::new(Mutex::new(State {
                queue: VecDeque::new(),
                dirty: HashSet::new(),
                processing: HashSet::new(),
                failures: HashMap::new(),
                waiting: HashMap::new(),
                shut_down: false,
            })),
            ready: Arc::new(Notify::new()),
        }
    }

    // Every critical section is a few map operations that cannot leave the
    // state inconsistent, so a poisoned lock is entered anyway.
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `item` unless it is already waiting; an item being processed
    /// is queued again when its worker calls [`WorkQueue::done`].
    pub fn add(&self, item: T) {
        let mut state = self.lock();
        if state.shut_down || state.dirty.contains(&item) {
            return;
        }
        state.dirty.insert(item.clone());
        if !state.processing.contains(&item) {
            state.queue.push_back(item);
            drop(state);
            self.ready.notify_one();
        }
    }

    /// Queues `item` after `delay`; an earlier pending delay for the same
    /// item wins.
    pub fn add_after(&self, item: T, delay: Duration) {
        if delay.is_zero() {
            return self.add(item);
        }
        let due = Instant::now() + delay;
        {
            let mut state = self.lock();
            if state.shut_down {
                return;
            }
            match state.waiting.get(&item) {
                Some(existing) if *existing <= due => return,
                _ => {
                    state.waiting.insert(item.clone(), due);
                }
            }
        }
        let queue = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(due).await;
            let fire = {
                let mut state = queue.lock();
                // Only the timer of the earliest due time adds the item.
                if state.waiting.get(&item) == Some(&due) {
                    state.waiting.remove(&item);
                    true
                } else {
                    false
                }
            };
            if fire {
                queue.add(item);
            }
        });
    }

    /// Queues `item` after its next backoff: 5 ms doubling per failure up
    /// to 1000 s, until [`WorkQueue::forget`].
    pub fn add_rate_limited(&self, item: T) {
        let failures = {
            let mut state = self.lock();
            let n = state.failures.entry(item.clone()).or_insert(0);
            *n += 1;
            *n
        };
        self.add_after(item, backoff(failures));
    }

    /// Clears `item`'s failure count: it succeeded.
    pub fn forget(&self, item: &T) {
        self.lock().failures.remove(item);
    }

    /// How many times `item` failed since it last succeeded.
    pub fn failures(&self, item: &T) -> u32 {
        self.lock().failures.get(item).copied().unwrap_or(0)
    }

    /// The next item to process, waiting for one; None once shut down.
    /// The caller must call [`WorkQueue::done`] with it.
    pub async fn get(&self) -> Option<T> {
        loop {
            let notified = self.ready.notified();
            {
                let mut state = self.lock();
                if let Some(item) = state.queue.pop_front() {
                    state.dirty.remove(&item);
                    state.processing.insert(item.clone());
                    // Another item may be waiting for another worker.
                    if !state.queue.is_empty() {
                        self.ready.notify_one();
                    }
                    return Some(item);
                }
                if state.shut_down {
                    return None;
                }
            }
            notified.await;
        }
    }

    /// Marks `item` processed; if it was added meanwhile it is queued again.
    pub fn done(&self, item: &T) {
        let mut state = self.lock();
        state.processing.remove(item);
        if state.dirty.contains(item) {
            state.queue.push_back(item.clone());
            drop(state);
            self.ready.notify_one();
        }
    }

    /// How many items are queued (not counting those being processed or
    /// delayed).
    pub fn len(&self) -> usize {
        self.lock().queue.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stops the queue: adds are ignored, and workers get None once the
    /// queue is drained.
    pub fn shut_down(&self) {
        self.lock().shut_down = true;
        self.ready.notify_waiters();
    }
}

fn backoff(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(30);
    RETRY_BASE.saturating_mul(1u32 << exp).min(RETRY_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_item_is_queued_once() {
        let q = WorkQueue::new();
        q.add("a");
        q.add("a");
        q.add("b");
        assert_eq!(q.len(), 2);
        assert_eq!(q.get().await, Some("a"));
        assert_eq!(q.get().await, Some("b"));
    }

    #[tokio::test]
    async fn an_item_added_while_processing_comes_back_after_done() {
        let q = WorkQueue::new();
        q.add("a");
        let item = q.get().await;
        assert_eq!(item, Some("a"));
        q.add("a");
        assert!(q.is_empty(), "not handed to a second worker");
        q.done(&"a");
        assert_eq!(q.len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn failures_back_off_exponentially_until_forgotten() {
        let q = WorkQueue::new();
        q.add_rate_limited("a");
        q.add_rate_limited("a");
        q.add_rate_limited("a");
        assert_eq!(q.failures(&"a"), 3);
        assert_eq!(backoff(1), Duration::from_millis(5));
        assert_eq!(backoff(3), Duration::from_millis(20));
        assert_eq!(backoff(40), RETRY_MAX);
        // The earliest delay (5 ms) wins.
        tokio::time::sleep(Duration::from_millis(6)).await;
        assert_eq!(q.len(), 1);
        q.forget(&"a");
        assert_eq!(q.failures(&"a"), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn delayed_items_arrive_when_due() {
        let q = WorkQueue::new();
        q.add_after("a", Duration::from_secs(10));
        tokio::time::sleep(Duration::from_secs(9)).await;
        assert!(q.is_empty());
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(q.len(), 1);
    }

    #[tokio::test]
    async fn shut_down_releases_waiting_workers() {
        let q: WorkQueue<&str> = WorkQueue::new();
        let worker = {
            let q = q.clone();
            tokio::spawn(async move { q.get().await })
        };
        tokio::task::yield_now().await;
        q.shut_down();
        assert_eq!(worker.await.ok().flatten(), None);
    }
}

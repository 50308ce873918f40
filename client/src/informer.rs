//! Informers: list, then watch from the list's resourceVersion, keeping a
//! [`Store`] current and telling subscribers what changed (client-go's
//! reflector and shared informer in one).
//!
//! A watch that ends is resumed from the last resourceVersion seen (events
//! or bookmarks); one that fails with 410 Gone lists again, and the store
//! is replaced with the difference notified, so no deletion is missed.

use std::time::Duration;

use futures::StreamExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::api::{Api, ListParams, Resource, WatchEvent};
use crate::store::{IndexFn, Store};

/// First and largest wait between failed lists or watches (client-go's
/// reflector backs off from 800 ms to 30 s).
const BACKOFF_MIN: Duration = Duration::from_millis(800);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// How an informer lists and watches.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// Label and field selectors of the list and watch.
    pub params: ListParams,
    /// Every this often every object is notified again as an unchanged
    /// update; None for never.
    pub resync: Option<Duration>,
}

/// A running informer; dropping it stops its task.
pub struct Informer<K> {
    store: Store<K>,
    synced: watch::Receiver<bool>,
    task: JoinHandle<()>,
}

impl<K> Drop for Informer<K> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl<K: Resource> Informer<K> {
    /// Starts listing and watching `api` into a new store indexed by
    /// `indexes` (name, function).
    pub fn spawn(api: Api<K>, config: Config, indexes: Vec<(&str, IndexFn<K>)>) -> Self {
        let store = Store::new();
        for (name, f) in indexes {
            store.add_index(name, f);
        }
        let (synced_tx, synced) = watch::channel(false);
        let task = tokio::spawn(run(api, config, store.clone(), synced_tx));
        Informer {
            store,
            synced,
            task,
        }
    }

    /// The store this informer keeps current.
    pub fn store(&self) -> Store<K> {
        self.store.clone()
    }

    /// Waits until the first list is in the store (client-go's
    /// WaitForCacheSync). Returns at once if it already is.
    pub async fn wait_synced(&self) {
        let mut synced = self.synced.clone();
        let _ = synced.wait_for(|s| *s).await;
    }
}

async fn run<K: Resource>(
    api: Api<K>,
    config: Config,
    store: Store<K>,
    synced: watch::Sender<bool>,
) {
    let mut backoff = Backoff::new();
    loop {
        let version = match api.list_all(&config.params).await {
            Ok((items, version)) => {
                store.replace(items);
                synced.send_replace(true);
                backoff.reset();
                version
            }
            Err(e) => {
                tracing::warn!(kind = K::KIND, error = %e, "list failed");
                backoff.wait().await;
                continue;
            }
        };
        match watch_from(&api, &config, &store, version, &mut backoff).await {
            Relist::Gone => tracing::debug!(kind = K::KIND, "watch expired; listing again"),
        }
    }
}

enum Relist {
    Gone,
}

/// Watches from `version` until the server says the version is gone,
/// resuming after every other failure.
async fn watch_from<K: Resource>(
    api: &Api<K>,
    config: &Config,
    store: &Store<K>,
    mut version: String,
    backoff: &mut Backoff,
) -> Relist {
    let mut resync = config.resync.map(|period| {
        let mut t = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    });
    loop {
        let mut events = match api.watch(&config.params, &version).await {
            Ok(events) => Box::pin(events),
            Err(e) if e.is_gone() => return Relist::Gone,
            Err(e) => {
                tracing::debug!(kind = K::KIND, error = %e, "watch failed");
                backoff.wait().await;
                continue;
            }
        };
        loop {
            let event = tokio::select! {
                event = events.next() => event,
                _ = tick(&mut resync) => {
                    store.resync();
                    continue;
                }
            };
            match event {
                None => break,
                Some(Err(e)) if e.is_gone() => return Relist::Gone,
                Some(Err(e)) => {
                    tracing::debug!(kind = K::KIND, error = %e, "watch ended");
                    backoff.wait().await;
                    break;
                }
                Some(Ok(event)) => {
                    backoff.reset();
                    match event {
                        WatchEvent::Added(k) | WatchEvent::Modified(k) => {
                            version = object_version(&k, version);
                            store.apply(k);
                        }
                        WatchEvent::Deleted(k) => {
                            version = object_version(&k, version);
                            store.delete(k);
                        }
                        WatchEvent::Bookmark(v) if !v.is_empty() => version = v,
                        WatchEvent::Bookmark(_) => {}
                        WatchEvent::Error(status) if status.code == Some(410) => {
                            return Relist::Gone
                        }
                        WatchEvent::Error(status) => {
                            tracing::debug!(kind = K::KIND, ?status, "watch error event");
                            backoff.wait().await;
                            break;
                        }
                    }
                }
            }
        }
    }
}

fn object_version<K: Resource>(k: &K, current: String) -> String {
    k.metadata().resource_version.clone().unwrap_or(current)
}

async fn tick(t: &mut Option<tokio::time::Interval>) {
    match t {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Exponential backoff with jitter between failed calls.
pub(crate) struct Backoff {
    next: Duration,
}

impl Backoff {
    pub(crate) fn new() -> Self {
        Backoff { next: BACKOFF_MIN }
    }

    pub(crate) fn reset(&mut self) {
        self.next = BACKOFF_MIN;
    }

    pub(crate) async fn wait(&mut self) {
        // Up to 100% jitter so many clients that lost the same server do
        // not come back in step.
        let jitter = rand::random::<f64>();
        tokio::time::sleep(self.next.mul_f64(1.0 + jitter)).await;
        self.next = (self.next * 2).min(BACKOFF_MAX);
    }
}

//! The watch cache: one store watch per resource feeds an in-memory copy of
//! its objects and a window of recent events, and every API watch of that
//! resource is served from it, as kube-apiserver's cacher does. N watchers
//! cost one store watch. A watch from a version older than the window is
//! served by a store watch of its own (410 Gone only once the store has
//! compacted it); a watcher that falls too far behind gets 410 and relists.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{Stream, StreamExt};
use serde_json::Value;
use tokio::sync::{broadcast, watch};

use crate::error::{ApiError, Result};
use crate::object;
use crate::registry::Resource;
use crate::storage::{Storage, WatchEvent, WatchEventKind};

/// Events a watcher may lag behind before it is cut off with 410.
const BACKLOG: usize = 8192;

/// One change as watchers see it.
#[derive(Debug)]
pub struct Event {
    pub kind: WatchEventKind,
    /// The object's key (for namespace filtering).
    pub key: Vec<u8>,
    /// The object with its resourceVersion; for a bookmark, empty.
    pub object: Value,
    pub revision: i64,
}

/// What a new watch gets: the objects to send as ADDED first (when it gave
/// no version), then the events after.
pub struct Subscription {
    pub initial: Vec<Arc<Event>>,
    pub events: std::pin::Pin<Box<dyn Stream<Item = Result<Arc<Event>>> + Send>>,
}

struct State {
    objects: BTreeMap<Vec<u8>, Arc<Event>>,
    revision: i64,
    /// Watches from a version below this cannot be served from the window.
    floor: i64,
    window: VecDeque<Arc<Event>>,
    tx: broadcast::Sender<Arc<Event>>,
}

struct ResourceCache {
    state: Mutex<State>,
    ready: watch::Receiver<bool>,
}

impl ResourceCache {
    fn lock(&self) -> Result<std::sync::MutexGuard<'_, State>> {
        self.state
            .lock()
            .map_err(|_| ApiError::Store("the watch cache is poisoned".into()))
    }
}

/// Caches of every resource watched so far.
pub struct WatchCache {
    storage: Storage,
    progress_every: Duration,
    /// Events kept per resource for watchers resuming from a recent version.
    window: usize,
    caches: Mutex<HashMap<(&'static str, &'static str), Arc<ResourceCache>>>,
}

impl WatchCache {
    /// A cache reading through `storage`, asking the store for progress
    /// (so bookmarks advance) every `progress_every`, keeping `window`
    /// recent events per resource.
    pub fn new(storage: Storage, progress_every: Duration, window: usize) -> WatchCache {
        WatchCache {
            storage,
            progress_every,
            window: window.max(1),
            caches: Mutex::new(HashMap::new()),
        }
    }

    /// Subscribes to `resource`'s changes after `from` (or, without it, to
    /// its current objects and then every change).
    pub async fn watch(
        &self,
        resource: &'static Resource,
        from: Option<i64>,
    ) -> Result<Subscription> {
        let cache = self.ready_cache(resource).await?;
        // Decided under the lock, acted on after it (a guard may not be
        // held across an await).
        let taken = {
            let state = cache.lock()?;
            match from {
                None => Some((
                    state.tx.subscribe(),
                    state.objects.values().cloned().collect::<Vec<_>>(),
                    Vec::new(),
                    state.revision,
                )),
                // Older than the window: the store still has the history
                // unless it was compacted (then the store's watch says 410).
                Some(rv) if rv < state.floor => None,
                Some(rv) => {
                    let replay: Vec<Arc<Event>> = state
                        .window
                        .iter()
                        .filter(|e| e.revision > rv)
                        .cloned()
                        .collect();
                    let after = replay.last().map(|e| e.revision).unwrap_or(rv).max(rv);
                    Some((state.tx.subscribe(), Vec::new(), replay, after))
                }
            }
        };
        let Some((rx, initial, replay, after)) = taken else {
            return self.watch_store(resource, from.unwrap_or(0)).await;
        };
        let live = futures::stream::unfold((rx, after), |(mut rx, after)| async move {
            loop {
                match rx.recv().await {
                    Ok(e)
                        if e.revision < after
                            || (e.revision == after && e.kind != WatchEventKind::Bookmark) =>
                    {
                        continue
                    }
                    Ok(e) => {
                        let next = e.revision.max(after);
                        return Some((Ok(e), (rx, next)));
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        return Some((
                            Err(ApiError::Gone(
                                "the watch fell too far behind; relist and watch again".into(),
                            )),
                            (rx, i64::MAX),
                        ))
                    }
                    // The cache restarted (its store watch failed): the
                    // client re-watches from the last version it saw.
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        let events = futures::stream::iter(replay.into_iter().map(Ok)).chain(live);
        Ok(Subscription {
            initial,
            events: Box::pin(events),
        })
    }

    /// The cached objects of `resource` in key order, and the revision they
    /// are current at: what a list with resourceVersion "0" (any version)
    /// is served from.
    pub async fn snapshot(&self, resource: &'static Resource) -> Result<(i64, Vec<Arc<Event>>)> {
        let cache = self.ready_cache(resource).await?;
        let state = cache.lock()?;
        Ok((state.revision, state.objects.values().cloned().collect()))
    }

    /// A watch straight from the store, for versions the window lacks.
    async fn watch_store(&self, resource: &'static Resource, rv: i64) -> Result<Subscription> {
        let prefix = object::prefix(resource, None);
        let changes = self
            .storage
            .watch(&prefix, rv, Some(self.progress_every))
            .await?;
        let events = changes.map(|change| {
            let WatchEvent { kind, item } = change?;
            let object = if kind == WatchEventKind::Bookmark {
                Value::Null
            } else {
                object::decode(&item)?
            };
            Ok(Arc::new(Event {
                kind,
                key: item.key,
                object,
                revision: item.mod_revision,
            }))
        });
        Ok(Subscription {
            initial: Vec::new(),
            events: Box::pin(events),
        })
    }

    /// Starts the caches of every served resource, so their windows cover
    /// the changes since the server started.
    pub fn start_all(&self) {
        for resource in crate::registry::RESOURCES {
            self.cache_of(resource);
        }
    }

    /// The cache of `resource`, once it has its first list.
    async fn ready_cache(&self, resource: &'static Resource) -> Result<Arc<ResourceCache>> {
        let cache = self.cache_of(resource);
        let mut ready = cache.ready.clone();
        ready
            .wait_for(|r| *r)
            .await
            .map_err(|_| ApiError::Store("the watch cache stopped".into()))?;
        Ok(cache)
    }

    fn cache_of(&self, resource: &'static Resource) -> Arc<ResourceCache> {
        let mut caches = match self.caches.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        caches
            .entry((resource.group, resource.plural))
            .or_insert_with(|| {
                let (ready_tx, ready) = watch::channel(false);
                let (tx, _) = broadcast::channel(BACKLOG);
                let cache = Arc::new(ResourceCache {
                    state: Mutex::new(State {
                        objects: BTreeMap::new(),
                        revision: 0,
                        floor: 0,
                        window: VecDeque::new(),
                        tx,
                    }),
                    ready,
                });
                tokio::spawn(feed(
                    self.storage.clone(),
                    resource,
                    cache.clone(),
                    ready_tx,
                    (self.progress_every, self.window),
                ));
                cache
            })
            .clone()
    }
}

/// Keeps one resource's cache: list, then watch from the list's revision;
/// on any failure, start over with a fresh list (ending current watches).
async fn feed(
    storage: Storage,
    resource: &'static Resource,
    cache: Arc<ResourceCache>,
    ready: watch::Sender<bool>,
    (progress_every, window): (Duration, usize),
) {
    let prefix = object::prefix(resource, None);
    loop {
        if let Err(e) = run(&storage, &prefix, &cache, &ready, (progress_every, window)).await {
            tracing::debug!(resource = resource.plural, error = %e, "watch cache restarts");
        }
        if ready.is_closed() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn run(
    storage: &Storage,
    prefix: &[u8],
    cache: &ResourceCache,
    ready: &watch::Sender<bool>,
    (progress_every, window): (Duration, usize),
) -> Result<()> {
    let page = storage.list(prefix, None, 0, 0).await?;
    {
        let mut state = cache.lock()?;
        // A new channel ends the watches of the previous run.
        state.tx = broadcast::channel(BACKLOG).0;
        state.objects.clear();
        for item in &page.items {
            let object = object::decode(item)?;
            state.objects.insert(
                item.key.clone(),
                Arc::new(Event {
                    kind: WatchEventKind::Added,
                    key: item.key.clone(),
                    object,
                    revision: item.mod_revision,
                }),
            );
        }
        state.revision = page.revision;
        state.floor = page.revision;
        state.window.clear();
    }
    let _ = ready.send(true);
    let mut changes = Box::pin(
        storage
            .watch(prefix, page.revision, Some(progress_every))
            .await?,
    );
    while let Some(change) = changes.next().await {
        let WatchEvent { kind, item } = change?;
        let event = Arc::new(Event {
            kind,
            key: item.key.clone(),
            object: if kind == WatchEventKind::Bookmark {
                Value::Null
            } else {
                object::decode(&item)?
            },
            revision: item.mod_revision,
        });
        let mut state = cache.lock()?;
        state.revision = state.revision.max(event.revision);
        match kind {
            WatchEventKind::Bookmark => {}
            WatchEventKind::Deleted => {
                state.objects.remove(&item.key);
            }
            _ => {
                state.objects.insert(item.key.clone(), event.clone());
            }
        }
        if kind != WatchEventKind::Bookmark {
            state.window.push_back(event.clone());
            if state.window.len() > window {
                if let Some(old) = state.window.pop_front() {
                    state.floor = old.revision;
                }
            }
        }
        // No receivers is fine: nobody is watching right now.
        let _ = state.tx.send(event);
    }
    Err(ApiError::Store("the store watch ended".into()))
}

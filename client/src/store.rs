//! The cache an informer fills: every object of one watch, by key, with
//! secondary indexes, and the subscribers its changes go to.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use tokio::sync::mpsc;

use crate::api::Resource;

/// The key of an object: `namespace/name`, or `name` when cluster-scoped
/// (client-go's MetaNamespaceKeyFunc).
pub fn key_of<K: Resource>(object: &K) -> String {
    let meta = object.metadata();
    let name = meta.name.as_deref().unwrap_or_default();
    match meta.namespace.as_deref() {
        Some(ns) if !ns.is_empty() => format!("{ns}/{name}"),
        _ => name.to_string(),
    }
}

/// A change the informer saw, as handlers receive it.
#[derive(Debug)]
pub enum Notification<K> {
    /// A new object (also every object present when a handler subscribes).
    Added(Arc<K>),
    /// A changed object; at each resync, every object with `old == new`.
    Updated {
        /// The object as the cache held it before.
        old: Arc<K>,
        /// The object now.
        new: Arc<K>,
    },
    /// An object that is gone, in its last known state.
    Deleted(Arc<K>),
}

impl<K> Clone for Notification<K> {
    fn clone(&self) -> Self {
        match self {
            Notification::Added(k) => Notification::Added(k.clone()),
            Notification::Updated { old, new } => Notification::Updated {
                old: old.clone(),
                new: new.clone(),
            },
            Notification::Deleted(k) => Notification::Deleted(k.clone()),
        }
    }
}

impl<K> Notification<K> {
    /// The object the notification is about (the new state for updates).
    pub fn object(&self) -> &Arc<K> {
        match self {
            Notification::Added(k) | Notification::Deleted(k) => k,
            Notification::Updated { new, .. } => new,
        }
    }
}

/// Computes the values an object is indexed under.
pub type IndexFn<K> = Arc<dyn Fn(&K) -> Vec<String> + Send + Sync>;

struct Index<K> {
    compute: IndexFn<K>,
    entries: HashMap<String, BTreeSet<String>>,
}

struct State<K> {
    objects: HashMap<String, Arc<K>>,
    indexes: HashMap<String, Index<K>>,
    subscribers: Vec<mpsc::UnboundedSender<Notification<K>>>,
}

/// A shared, read-mostly cache of objects of type `K`.
pub struct Store<K> {
    state: Arc<RwLock<State<K>>>,
}

impl<K> Clone for Store<K> {
    fn clone(&self) -> Self {
        Store {
            state: self.state.clone(),
        }
    }
}

impl<K: Resource> Default for Store<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Resource> Store<K> {
    /// An empty store without indexes.
    pub fn new() -> Self {
        Store {
            state: Arc::new(RwLock::new(State {
                objects: HashMap::new(),
                indexes: HashMap::new(),
                subscribers: Vec::new(),
            })),
        }
    }

    // A panic while holding the lock cannot leave the maps half-updated in
    // a way readers could misuse (each update is a few inserts), so a
    // poisoned lock is entered anyway rather than failing every reader.
    fn read(&self) -> RwLockReadGuard<'_, State<K>> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, State<K>> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds an index named `name`; objects already present are indexed.
    pub fn add_index(&self, name: &str, compute: IndexFn<K>) {
        let mut state = self.write();
        let mut index = Index {
            compute,
            entries: HashMap::new(),
        };
        for (key, object) in &state.objects {
            for value in (index.compute)(object) {
                index.entries.entry(value).or_default().insert(key.clone());
            }
        }
        state.indexes.insert(name.to_string(), index);
    }

    /// The object with `key` (`namespace/name` or `name`).
    pub fn get(&self, key: &str) -> Option<Arc<K>> {
        self.read().objects.get(key).cloned()
    }

    /// Every object, in no particular order.
    pub fn list(&self) -> Vec<Arc<K>> {
        self.read().objects.values().cloned().collect()
    }

    /// Every key.
    pub fn keys(&self) -> Vec<String> {
        self.read().objects.keys().cloned().collect()
    }

    /// How many objects the store holds.
    pub fn len(&self) -> usize {
        self.read().objects.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The objects indexed under `value` in the index `name` (empty when
    /// there is no such index), in key order.
    pub fn by_index(&self, name: &str, value: &str) -> Vec<Arc<K>> {
        let state = self.read();
        let Some(keys) = state.indexes.get(name).and_then(|i| i.entries.get(value)) else {
            return Vec::new();
        };
        keys.iter()
            .filter_map(|k| state.objects.get(k).cloned())
            .collect()
    }

    /// Registers a handler. It first receives an `Added` for every object
    /// present, then every change, with nothing lost in between: both
    /// happen under the store's lock.
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<Notification<K>> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut state = self.write();
        for object in state.objects.values() {
            let _ = tx.send(Notification::Added(object.clone()));
        }
        state.subscribers.push(tx);
        rx
    }

    /// Inserts or replaces an object.
    pub(crate) fn apply(&self, object: K) {
        let object = Arc::new(object);
        let key = key_of(object.as_ref());
        let mut state = self.write();
        let old = state.objects.insert(key.clone(), object.clone());
        reindex(&mut state, &key, old.as_deref(), Some(&object));
        let note = match old {
            Some(old) => Notification::Updated { old, new: object },
            None => Notification::Added(object),
        };
        notify(&mut state, note);
    }

    /// Removes an object; `last` is its final state as the watch gave it.
    pub(crate) fn delete(&self, last: K) {
        let key = key_of(&last);
        let mut state = self.write();
        let old = state.objects.remove(&key);
        reindex(&mut state, &key, old.as_deref(), None);
        notify(&mut state, Notification::Deleted(Arc::new(last)));
    }

    /// Replaces everything with a fresh list, notifying the difference:
    /// what a relist after a lost watch (410 Gone) must do so handlers miss
    /// no deletion.
    pub(crate) fn replace(&self, objects: Vec<K>) {
        let mut state = self.write();
        let mut fresh: HashMap<String, Arc<K>> = HashMap::with_capacity(objects.len());
        for object in objects {
            fresh.insert(key_of(&object), Arc::new(object));
        }
        let gone: Vec<String> = state
            .objects
            .keys()
            .filter(|k| !fresh.contains_key(*k))
            .cloned()
            .collect();
        for key in gone {
            if let Some(old) = state.objects.remove(&key) {
                reindex(&mut state, &key, Some(&old), None);
                notify(&mut state, Notification::Deleted(old));
            }
        }
        for (key, object) in fresh {
            let old = state.objects.insert(key.clone(), object.clone());
            let unchanged = old.as_ref().is_some_and(|o| {
                o.metadata().resource_version == object.metadata().resource_version
            });
            reindex(&mut state, &key, old.as_deref(), Some(&object));
            if unchanged {
                continue;
            }
            let note = match old {
                Some(old) => Notification::Updated { old, new: object },
                None => Notification::Added(object),
            };
            notify(&mut state, note);
        }
    }

    /// Sends every object as an unchanged update (client-go's resync), so
    /// handlers that missed acting on something get another chance.
    pub(crate) fn resync(&self) {
        let mut state = self.write();
        let all: Vec<Arc<K>> = state.objects.values().cloned().collect();
        for object in all {
            notify(
                &mut state,
                Notification::Updated {
                    old: object.clone(),
                    new: object,
                },
            );
        }
    }
}

fn reindex<K>(state: &mut State<K>, key: &str, old: Option<&K>, new: Option<&K>) {
    for index in state.indexes.values_mut() {
        if let Some(old) = old {
            for value in (index.compute)(old) {
                if let Some(keys) = index.entries.get_mut(&value) {
                    keys.remove(key);
                    if keys.is_empty() {
                        index.entries.remove(&value);
                    }
                }
            }
        }
        if let Some(new) = new {
            for value in (index.compute)(new) {
                index
                    .entries
                    .entry(value)
                    .or_default()
                    .insert(key.to_string());
            }
        }
    }
}

fn notify<K>(state: &mut State<K>, note: Notification<K>) {
    // A handler that went away (its receiver dropped) is forgotten.
    state.subscribers.retain(|s| s.send(note.clone()).is_ok());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index;
    use k8s_openapi::api::core::v1::Pod;

    fn pod(ns: &str, name: &str, rv: &str, node: &str) -> Pod {
        let mut p = Pod::default();
        p.metadata.namespace = Some(ns.into());
        p.metadata.name = Some(name.into());
        p.metadata.resource_version = Some(rv.into());
        p.spec = Some(k8s_openapi::api::core::v1::PodSpec {
            node_name: (!node.is_empty()).then(|| node.to_string()),
            ..Default::default()
        });
        p
    }

    #[test]
    fn indexes_follow_updates() {
        let store = Store::new();
        store.add_index(index::NODE_NAME, index::pod_node_name());
        store.apply(pod("a", "p1", "1", "n1"));
        store.apply(pod("a", "p2", "2", "n1"));
        assert_eq!(store.by_index(index::NODE_NAME, "n1").len(), 2);
        store.apply(pod("a", "p1", "3", "n2"));
        assert_eq!(store.by_index(index::NODE_NAME, "n1").len(), 1);
        assert_eq!(store.by_index(index::NODE_NAME, "n2").len(), 1);
        store.delete(pod("a", "p2", "4", "n1"));
        assert!(store.by_index(index::NODE_NAME, "n1").is_empty());
        assert!(store.get("a/p1").is_some());
    }

    #[test]
    fn subscribers_see_existing_objects_then_changes() {
        let store = Store::new();
        store.apply(pod("a", "p1", "1", ""));
        let mut rx = store.subscribe();
        store.apply(pod("a", "p1", "2", ""));
        assert!(matches!(rx.try_recv(), Ok(Notification::Added(_))));
        assert!(matches!(rx.try_recv(), Ok(Notification::Updated { .. })));
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn replace_notifies_only_the_difference() {
        let store = Store::new();
        store.apply(pod("a", "keep", "1", ""));
        store.apply(pod("a", "gone", "2", ""));
        store.apply(pod("a", "changed", "3", ""));
        let mut rx = store.subscribe();
        while rx.try_recv().is_ok() {}
        store.replace(vec![
            pod("a", "keep", "1", ""),
            pod("a", "changed", "9", ""),
            pod("a", "new", "10", ""),
        ]);
        let mut seen = Vec::new();
        while let Ok(n) = rx.try_recv() {
            let kind = match &n {
                Notification::Added(_) => "added",
                Notification::Updated { .. } => "updated",
                Notification::Deleted(_) => "deleted",
            };
            seen.push(format!("{kind} {}", key_of(n.object().as_ref())));
        }
        seen.sort();
        assert_eq!(seen, ["added a/new", "deleted a/gone", "updated a/changed"]);
        assert_eq!(store.len(), 3);
    }
}

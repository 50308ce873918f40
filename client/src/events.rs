//! An event recorder writing core/v1 Events, aggregated as Kubernetes'
//! event correlator does: the same event again (same object, type, reason,
//! message and source) bumps the count and last timestamp of the existing
//! Event instead of writing a new one, which `kubectl describe` shows as
//! `(x4 over 2m)`.

use std::collections::{HashMap, VecDeque};

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use serde_json::json;
use tokio::sync::mpsc;

use crate::api::{Api, Patch, Resource};
use crate::Client;

/// Events waiting to be written; beyond this, new ones are dropped rather
/// than slowing the controller that records them (client-go drops too).
const QUEUE: usize = 1000;
/// Distinct events remembered for aggregation (client-go's LRU size).
const REMEMBERED: usize = 4096;

/// `Normal` or `Warning`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// Something expected happened.
    Normal,
    /// Something the user may need to act on.
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

struct Record {
    object: ObjectReference,
    type_: EventType,
    reason: String,
    message: String,
}

/// Records events for one component (`deployment-controller`,
/// `default-scheduler`...); cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Record>,
}

impl Recorder {
    /// A recorder whose events name `component` as their source, written by
    /// a background task through `client`.
    pub fn new(client: Client, component: &str) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(write_events(Api::all(client), component.to_string(), rx));
        Recorder { tx }
    }

    /// Records an event about `object`.
    pub fn event(&self, object: &ObjectReference, type_: EventType, reason: &str, message: &str) {
        let record = Record {
            object: object.clone(),
            type_,
            reason: reason.to_string(),
            message: message.to_string(),
        };
        if self.tx.try_send(record).is_err() {
            tracing::debug!(reason, "event dropped: queue full");
        }
    }

    /// Records a `Normal` event about `object`.
    pub fn normal<K: Resource>(&self, object: &K, reason: &str, message: &str) {
        self.event(&reference(object), EventType::Normal, reason, message);
    }

    /// Records a `Warning` event about `object`.
    pub fn warning<K: Resource>(&self, object: &K, reason: &str, message: &str) {
        self.event(&reference(object), EventType::Warning, reason, message);
    }
}

/// A reference to `object` as events and owners name it.
pub fn reference<K: Resource>(object: &K) -> ObjectReference {
    let meta = object.metadata();
    ObjectReference {
        api_version: Some(K::API_VERSION.to_string()),
        kind: Some(K::KIND.to_string()),
        namespace: meta.namespace.clone(),
        name: meta.name.clone(),
        uid: meta.uid.clone(),
        resource_version: meta.resource_version.clone(),
        field_path: None,
    }
}

/// The aggregation key: everything that makes two events "the same".
fn key(r: &Record, component: &str) -> String {
    let o = &r.object;
    [
        component,
        o.kind.as_deref().unwrap_or_default(),
        o.namespace.as_deref().unwrap_or_default(),
        o.name.as_deref().unwrap_or_default(),
        o.uid.as_deref().unwrap_or_default(),
        r.type_.as_str(),
        &r.reason,
        &r.message,
    ]
    .join("\u{0}")
}

struct Seen {
    namespace: String,
    name: String,
    count: i32,
}

async fn write_events(api: Api<Event>, component: String, mut rx: mpsc::Receiver<Record>) {
    let mut seen: HashMap<String, Seen> = HashMap::new();
    let mut order: VecDeque<String> = VecDeque::new();
    while let Some(record) = rx.recv().await {
        let key = key(&record, &component);
        let now = Time(jiff::Timestamp::now());
        if let Some(s) = seen.get_mut(&key) {
            let patch = Patch::Merge(json!({
                "count": s.count + 1,
                "lastTimestamp": now,
            }));
            match api.patch_in(&s.namespace, &s.name, &patch).await {
                Ok(_) => {
                    s.count += 1;
                    continue;
                }
                // Expired (events have a TTL) or never written: start over.
                Err(e) => tracing::debug!(error = %e, "event patch failed; creating"),
            }
        }
        let namespace = record
            .object
            .namespace
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "default".to_string());
        let nanos = now.0.as_nanosecond();
        let name = format!(
            "{}.{:x}",
            record.object.name.as_deref().unwrap_or("event"),
            nanos
        );
        let event = Event {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(namespace.clone()),
                ..ObjectMeta::default()
            },
            involved_object: record.object,
            reason: Some(record.reason),
            message: Some(record.message),
            type_: Some(record.type_.as_str().to_string()),
            count: Some(1),
            first_timestamp: Some(now.clone()),
            last_timestamp: Some(now),
            source: Some(EventSource {
                component: Some(component.clone()),
                host: None,
            }),
            reporting_component: Some(component.clone()),
            ..Event::default()
        };
        match api.create(&event).await {
            Ok(_) => {
                if seen.len() >= REMEMBERED {
                    if let Some(oldest) = order.pop_front() {
                        seen.remove(&oldest);
                    }
                }
                order.retain(|k| k != &key);
                order.push_back(key.clone());
                seen.insert(
                    key,
                    Seen {
                        namespace,
                        name,
                        count: 1,
                    },
                );
            }
            Err(e) => tracing::debug!(error = %e, "event create failed"),
        }
    }
}

//! One watcher: what it watches and how far it has been told.

use berth_proto::etcdserverpb::watch_create_request::FilterType;
use berth_proto::etcdserverpb::WatchCreateRequest;
use berth_proto::mvccpb::event::EventType;
use berth_proto::mvccpb::Event;

/// A watcher on a stream.
#[derive(Debug, Clone)]
pub struct Watcher {
    /// Its ID on the stream.
    pub id: i64,
    /// First key.
    pub key: Vec<u8>,
    /// Range end, etcd's rules.
    pub range_end: Vec<u8>,
    /// The next revision it has not been told about.
    pub next: i64,
    /// Send the previous version with each event.
    pub prev_kv: bool,
    no_put: bool,
    no_delete: bool,
    /// Wants periodic progress notifications.
    pub progress_notify: bool,
    /// Whether the planted [`crate::faults::Fault::DropWatchEvent`] has
    /// struck this watcher.
    dropped: bool,
}

impl Watcher {
    /// A watcher for a create request; `current` is the store's revision,
    /// where a request without a start revision begins (after it).
    pub fn new(id: i64, req: &WatchCreateRequest, current: i64) -> Watcher {
        let filters = |f: FilterType| req.filters.contains(&(f as i32));
        Watcher {
            id,
            key: req.key.clone(),
            range_end: req.range_end.clone(),
            next: if req.start_revision > 0 {
                req.start_revision
            } else {
                current + 1
            },
            prev_kv: req.prev_kv,
            no_put: filters(FilterType::Noput),
            no_delete: filters(FilterType::Nodelete),
            progress_notify: req.progress_notify,
            dropped: false,
        }
    }

    /// The planted [`crate::faults::Fault::DropWatchEvent`]: removes the
    /// first event past revision 20, once per watcher.
    pub fn plant_dropped_event(&mut self, events: &mut Vec<Event>) {
        if self.dropped || !crate::faults::active(crate::faults::Fault::DropWatchEvent) {
            return;
        }
        let revision = |e: &Event| e.kv.as_ref().map(|kv| kv.mod_revision).unwrap_or(0);
        if let Some(i) = events.iter().position(|e| revision(e) > 20) {
            events.remove(i);
            self.dropped = true;
        }
    }

    /// Whether it has been told everything through `revision`.
    pub fn synced(&self, revision: i64) -> bool {
        self.next > revision
    }

    /// Applies the watcher's filters and its prev_kv choice.
    pub fn select(&self, events: Vec<Event>) -> Vec<Event> {
        events
            .into_iter()
            .filter(|e| {
                let put = e.r#type == EventType::Put as i32;
                !(put && self.no_put || !put && self.no_delete)
            })
            .map(|mut e| {
                if !self.prev_kv {
                    e.prev_kv = None;
                }
                e
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_proto::mvccpb::KeyValue;

    fn event(kind: EventType) -> Event {
        Event {
            r#type: kind as i32,
            kv: Some(KeyValue {
                key: b"k".to_vec(),
                ..Default::default()
            }),
            prev_kv: Some(KeyValue::default()),
        }
    }

    #[test]
    fn a_watch_without_start_revision_begins_after_the_current_one() {
        let w = Watcher::new(0, &WatchCreateRequest::default(), 7);
        assert_eq!(w.next, 8);
        assert!(w.synced(7));
    }

    #[test]
    fn filters_drop_kinds_and_prev_kv_is_sent_only_when_asked() {
        let req = WatchCreateRequest {
            filters: vec![FilterType::Noput as i32],
            ..Default::default()
        };
        let w = Watcher::new(0, &req, 1);
        let out = w.select(vec![event(EventType::Put), event(EventType::Delete)]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].r#type, EventType::Delete as i32);
        assert!(out[0].prev_kv.is_none());
        let req = WatchCreateRequest {
            prev_kv: true,
            filters: vec![FilterType::Nodelete as i32],
            ..Default::default()
        };
        let out =
            Watcher::new(0, &req, 1).select(vec![event(EventType::Put), event(EventType::Delete)]);
        assert_eq!(out.len(), 1);
        assert!(out[0].prev_kv.is_some());
    }
}

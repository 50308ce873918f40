//! Replaying history for watchers that are behind the live stream.

use berth_proto::mvccpb::event::EventType;
use berth_proto::mvccpb::Event;
use prost::Message;

use super::keys::{
    history_key, in_range, parse_history_key, parse_revision_key, revision_key, Revision,
};
use super::store::{cf, corrupt, KvStore, CF_HIST, CF_REV};
use crate::{Result, StoreError};

impl KvStore {
    /// The events with `from <= revision <= to` on keys in `[key,
    /// range_end)`, in revision order, each with the key's previous version
    /// as `prev_kv` when it has one. Stops once `limit` events are collected
    /// and the revision is complete: a revision is never split.
    ///
    /// `Compacted` if `from` is below the compacted revision.
    pub fn events(
        &self,
        from: i64,
        to: i64,
        key: &[u8],
        range_end: &[u8],
        limit: usize,
    ) -> Result<Vec<Event>> {
        let db = self.db();
        // The snapshot keeps a concurrent compaction from removing what
        // this replay is reading.
        let snapshot = db.snapshot();
        if from < self.compact_revision() {
            return Err(StoreError::Compacted);
        }
        let rev_cf = cf(&db, CF_REV)?;
        let hist_cf = cf(&db, CF_HIST)?;
        let mut options = rocksdb::ReadOptions::default();
        options.set_snapshot(&snapshot);
        let mut revs = db.raw_iterator_cf_opt(rev_cf, options);
        let mut options = rocksdb::ReadOptions::default();
        options.set_snapshot(&snapshot);
        let mut hist = db.raw_iterator_cf_opt(hist_cf, options);

        let mut out: Vec<Event> = Vec::new();
        let mut last_main = 0;
        revs.seek(revision_key(Revision {
            main: from.max(0),
            sub: 0,
        }));
        while revs.valid() {
            let (Some(raw), Some(event_key)) = (revs.key(), revs.value()) else {
                break;
            };
            let rev = parse_revision_key(raw).ok_or_else(|| corrupt("revision key"))?;
            if rev.main > to || (out.len() >= limit && rev.main != last_main) {
                break;
            }
            if in_range(event_key, key, range_end) {
                let at = history_key(event_key, rev);
                hist.seek(&at);
                let found = match (hist.key(), hist.value()) {
                    (Some(k), Some(v)) if k == at.as_slice() => {
                        Some(Event::decode(v).map_err(corrupt)?)
                    }
                    _ => None,
                };
                // A missing entry was purged by compaction: nothing to replay.
                if let Some(mut event) = found {
                    hist.next();
                    if let (Some(k), Some(v)) = (hist.key(), hist.value()) {
                        let same_key = parse_history_key(k).is_some_and(|(k, _)| k == event_key);
                        if same_key {
                            let prev = Event::decode(v).map_err(corrupt)?;
                            if prev.r#type == EventType::Put as i32 {
                                event.prev_kv = prev.kv;
                            }
                        }
                    }
                    out.push(event);
                    last_main = rev.main;
                }
            }
            revs.next();
        }
        revs.status()?;
        hist.status()?;
        Ok(out)
    }
}

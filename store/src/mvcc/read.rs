//! Range: etcd's read of a key range at a revision, with its limit, count,
//! sort and revision filters.

use std::cmp::Ordering as CmpOrdering;

use berth_proto::etcdserverpb::range_request::{SortOrder, SortTarget};
use berth_proto::etcdserverpb::{RangeRequest, RangeResponse, ResponseHeader};
use berth_proto::mvccpb::event::EventType;
use berth_proto::mvccpb::{Event, KeyValue};
use prost::Message;
use rocksdb::{DBRawIteratorWithThreadMode, ReadOptions, DB};

use super::keys::{after_key, escaped_key, history_seek, in_range, parse_history_key};
use super::store::{
    cf, corrupt, read_i64, KvStore, CF_HIST, CF_KV, CF_META, META_COMPACT, META_REVISION,
};
use super::INITIAL_REVISION;
use crate::{Result, StoreError};

/// Keys of a range, up to a fetch limit, and how many the range holds.
pub(super) struct Scan {
    pub kvs: Vec<KeyValue>,
    pub count: usize,
}

/// What a range is read from: the committed state, or a transaction's view
/// of it with its own earlier writes.
pub(super) trait Reader {
    /// The revision reads see as current.
    fn revision(&self) -> i64;
    /// The compacted revision.
    fn compacted(&self) -> i64;
    /// Live keys in `[start, end)`; at most `limit` kept, all counted.
    fn scan_live(&self, start: &[u8], end: &[u8], limit: usize, keep: bool) -> Result<Scan>;
    /// Keys as they were at revision `rev`.
    fn scan_history(
        &self,
        start: &[u8],
        end: &[u8],
        rev: i64,
        limit: usize,
        keep: bool,
    ) -> Result<Scan>;
}

/// Serves a Range against `reader`. The header carries only the revision.
pub(super) fn range(reader: &impl Reader, req: &RangeRequest) -> Result<RangeResponse> {
    let current = reader.revision();
    let rev = if req.revision <= 0 {
        current
    } else {
        req.revision
    };
    if rev > current {
        return Err(StoreError::FutureRevision);
    }
    if rev < reader.compacted() {
        return Err(StoreError::Compacted);
    }
    let order = SortOrder::try_from(req.sort_order).map_err(|_| StoreError::InvalidSortOption)?;
    let target =
        SortTarget::try_from(req.sort_target).map_err(|_| StoreError::InvalidSortOption)?;
    let filtered = req.min_mod_revision != 0
        || req.max_mod_revision != 0
        || req.min_create_revision != 0
        || req.max_create_revision != 0;
    // Sorting and filtering need every key; otherwise one past the limit
    // tells whether there is more.
    let fetch = if order != SortOrder::None || filtered || req.limit <= 0 {
        usize::MAX
    } else {
        usize::try_from(req.limit)
            .unwrap_or(usize::MAX)
            .saturating_add(1)
    };
    let keep = !req.count_only;
    let scan = if rev == current {
        reader.scan_live(&req.key, &req.range_end, fetch, keep)?
    } else {
        reader.scan_history(&req.key, &req.range_end, rev, fetch, keep)?
    };
    let mut kvs = scan.kvs;
    if filtered {
        kvs.retain(|kv| {
            (req.min_mod_revision == 0 || kv.mod_revision >= req.min_mod_revision)
                && (req.max_mod_revision == 0 || kv.mod_revision <= req.max_mod_revision)
                && (req.min_create_revision == 0 || kv.create_revision >= req.min_create_revision)
                && (req.max_create_revision == 0 || kv.create_revision <= req.max_create_revision)
        });
    }
    let order = if target != SortTarget::Key && order == SortOrder::None {
        SortOrder::Ascend
    } else {
        order
    };
    if order != SortOrder::None && !(target == SortTarget::Key && order == SortOrder::Ascend) {
        kvs.sort_by(|a, b| {
            let o = compare_by(target, a, b);
            if order == SortOrder::Descend {
                o.reverse()
            } else {
                o
            }
        });
    }
    let mut more = false;
    if req.limit > 0 {
        let limit = usize::try_from(req.limit).unwrap_or(usize::MAX);
        if kvs.len() > limit {
            kvs.truncate(limit);
            more = true;
        }
    }
    if req.keys_only {
        for kv in &mut kvs {
            kv.value.clear();
        }
    }
    if req.count_only {
        kvs.clear();
    }
    Ok(RangeResponse {
        header: Some(ResponseHeader {
            revision: current,
            ..Default::default()
        }),
        kvs,
        more,
        count: i64::try_from(scan.count).unwrap_or(i64::MAX),
    })
}

fn compare_by(target: SortTarget, a: &KeyValue, b: &KeyValue) -> CmpOrdering {
    match target {
        SortTarget::Key => a.key.cmp(&b.key),
        SortTarget::Version => a.version.cmp(&b.version),
        SortTarget::Create => a.create_revision.cmp(&b.create_revision),
        SortTarget::Mod => a.mod_revision.cmp(&b.mod_revision),
        SortTarget::Value => a.value.cmp(&b.value),
    }
}

/// The committed state as of one RocksDB snapshot: the revision and the
/// keys always agree, whatever is applied meanwhile.
pub(super) struct SnapshotReader<'a> {
    db: &'a DB,
    snapshot: rocksdb::SnapshotWithThreadMode<'a, DB>,
    revision: i64,
    compacted: i64,
}

impl<'a> SnapshotReader<'a> {
    pub(super) fn new(db: &'a DB) -> Result<SnapshotReader<'a>> {
        let snapshot = db.snapshot();
        let meta = cf(db, CF_META)?;
        let revision = read_i64(snapshot.get_cf(meta, META_REVISION)?)?.unwrap_or(INITIAL_REVISION);
        let compacted = read_i64(snapshot.get_cf(meta, META_COMPACT)?)?.unwrap_or(0);
        Ok(SnapshotReader {
            db,
            snapshot,
            revision,
            compacted,
        })
    }

    fn read_options(&self) -> ReadOptions {
        let mut options = ReadOptions::default();
        options.set_snapshot(&self.snapshot);
        options
    }
}

impl Reader for SnapshotReader<'_> {
    fn revision(&self) -> i64 {
        self.revision
    }

    fn compacted(&self) -> i64 {
        self.compacted
    }

    fn scan_live(&self, start: &[u8], end: &[u8], limit: usize, keep: bool) -> Result<Scan> {
        if end.is_empty() {
            // One key: a point lookup, which the bloom filters serve, costs
            // far less than building an iterator to seek it.
            let found =
                self.db
                    .get_pinned_cf_opt(cf(self.db, CF_KV)?, start, &self.read_options())?;
            let mut scan = Scan {
                kvs: Vec::new(),
                count: 0,
            };
            if let Some(value) = found {
                scan.count = 1;
                if keep && limit > 0 {
                    scan.kvs.push(KeyValue::decode(&*value).map_err(corrupt)?);
                }
            }
            return Ok(scan);
        }
        let mut iter = self
            .db
            .raw_iterator_cf_opt(cf(self.db, CF_KV)?, self.read_options());
        scan_live_iter(&mut iter, start, end, limit, keep)
    }

    fn scan_history(
        &self,
        start: &[u8],
        end: &[u8],
        rev: i64,
        limit: usize,
        keep: bool,
    ) -> Result<Scan> {
        let mut iter = self
            .db
            .raw_iterator_cf_opt(cf(self.db, CF_HIST)?, self.read_options());
        scan_history_iter(&mut iter, start, end, rev, limit, keep)
    }
}

pub(super) fn scan_live_iter(
    iter: &mut DBRawIteratorWithThreadMode<'_, DB>,
    start: &[u8],
    end: &[u8],
    limit: usize,
    keep: bool,
) -> Result<Scan> {
    let mut scan = Scan {
        kvs: Vec::new(),
        count: 0,
    };
    iter.seek(start);
    while iter.valid() {
        let (Some(key), Some(value)) = (iter.key(), iter.value()) else {
            break;
        };
        if !in_range(key, start, end) {
            break;
        }
        scan.count += 1;
        if keep && scan.kvs.len() < limit {
            scan.kvs.push(KeyValue::decode(value).map_err(corrupt)?);
        }
        if end.is_empty() {
            break;
        }
        iter.next();
    }
    iter.status()?;
    Ok(scan)
}

/// Walks one key at a time: a seek to the key's newest version at or
/// before `rev`, then a seek past the key's older versions.
pub(super) fn scan_history_iter(
    iter: &mut DBRawIteratorWithThreadMode<'_, DB>,
    start: &[u8],
    end: &[u8],
    rev: i64,
    limit: usize,
    keep: bool,
) -> Result<Scan> {
    let mut scan = Scan {
        kvs: Vec::new(),
        count: 0,
    };
    iter.seek(escaped_key(start));
    while iter.valid() {
        let Some(raw) = iter.key() else { break };
        let (key, _) = parse_history_key(raw).ok_or_else(|| corrupt("history key"))?;
        if !in_range(&key, start, end) {
            break;
        }
        iter.seek(history_seek(&key, rev));
        if iter.valid() {
            if let (Some(raw), Some(value)) = (iter.key(), iter.value()) {
                let (found, _) = parse_history_key(raw).ok_or_else(|| corrupt("history key"))?;
                if found == key {
                    let event = Event::decode(value).map_err(corrupt)?;
                    if event.r#type == EventType::Put as i32 {
                        scan.count += 1;
                        if keep && scan.kvs.len() < limit {
                            scan.kvs.push(event.kv.unwrap_or_default());
                        }
                    }
                }
            }
        }
        if end.is_empty() {
            break;
        }
        iter.seek(after_key(&key));
    }
    iter.status()?;
    Ok(scan)
}

impl KvStore {
    /// Serves a Range from the local state (a serializable read). The
    /// header carries only the revision.
    pub fn range(&self, req: &RangeRequest) -> Result<RangeResponse> {
        let db = self.db();
        let reader = SnapshotReader::new(&db)?;
        range(&reader, req)
    }
}

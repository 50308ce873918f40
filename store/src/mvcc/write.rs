//! One command's writes: a transaction over the committed state.
//!
//! Writes go to one RocksDB batch and to an in-memory overlay, so reads later
//! in the same Txn see them (etcd's rule), and a refusal anywhere discards
//! the whole batch: nothing is ever half-applied.

use std::collections::BTreeMap;

use berth_proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use berth_proto::etcdserverpb::request_op::Request as Op;
use berth_proto::etcdserverpb::response_op::Response as OpResponse;
use berth_proto::etcdserverpb::{
    Compare, DeleteRangeRequest, DeleteRangeResponse, PutRequest, PutResponse, ResponseHeader,
    ResponseOp, TxnRequest, TxnResponse,
};
use berth_proto::mvccpb::event::EventType;
use berth_proto::mvccpb::{Event, KeyValue};
use prost::Message;
use rocksdb::{WriteBatch, DB};

use super::keys::{history_key, in_range, lease_key, revision_key, Revision};
use super::read::{range, scan_history_iter, scan_live_iter, Reader, Scan};
use super::store::{cf, corrupt, read_i64, CF_HIST, CF_KV, CF_LEASE, CF_LEASE_KEYS, CF_REV};
use crate::apply::LeaseChange;
use crate::{Result, StoreError};

/// The writes of one command, not yet committed to RocksDB.
pub(super) struct Writer<'a> {
    pub(super) db: &'a DB,
    pub(super) batch: WriteBatch,
    /// The revision before this command.
    pub(super) begin: i64,
    pub(super) compacted: i64,
    /// Keys written so far: `None` for deleted.
    overlay: BTreeMap<Vec<u8>, Option<KeyValue>>,
    /// Leases granted (`Some`) or revoked (`None`) so far.
    leases: BTreeMap<i64, Option<i64>>,
    /// Writes so far, the next sub-revision.
    sub: i64,
    pub(super) events: Vec<Event>,
    pub(super) lease_changes: Vec<LeaseChange>,
}

impl<'a> Writer<'a> {
    pub(super) fn new(db: &'a DB, begin: i64, compacted: i64) -> Writer<'a> {
        Writer {
            db,
            batch: WriteBatch::default(),
            begin,
            compacted,
            overlay: BTreeMap::new(),
            leases: BTreeMap::new(),
            sub: 0,
            events: Vec::new(),
            lease_changes: Vec::new(),
        }
    }

    /// Whether anything was written, so the revision advances.
    pub(super) fn wrote(&self) -> bool {
        self.sub > 0
    }

    /// Ends one command of a group sharing this writer: the next command
    /// writes at the following revision and sees this one's writes.
    pub(super) fn next_command(&mut self) {
        if self.wrote() {
            self.begin += 1;
            self.sub = 0;
        }
    }

    fn write_revision(&self) -> i64 {
        self.begin + 1
    }

    fn next_revision(&mut self) -> Revision {
        let rev = Revision {
            main: self.write_revision(),
            sub: self.sub,
        };
        self.sub += 1;
        rev
    }

    fn header(&self) -> Option<ResponseHeader> {
        Some(ResponseHeader {
            revision: self.revision(),
            ..Default::default()
        })
    }

    /// The live value of a key as this command sees it.
    pub(super) fn get(&self, key: &[u8]) -> Result<Option<KeyValue>> {
        if let Some(written) = self.overlay.get(key) {
            return Ok(written.clone());
        }
        match self.db.get_pinned_cf(cf(self.db, CF_KV)?, key)? {
            Some(bytes) => Ok(Some(KeyValue::decode(&*bytes).map_err(corrupt)?)),
            None => Ok(None),
        }
    }

    pub(super) fn lease_exists(&self, id: i64) -> Result<bool> {
        if let Some(state) = self.leases.get(&id) {
            return Ok(state.is_some());
        }
        Ok(read_i64(self.db.get_cf(cf(self.db, CF_LEASE)?, id.to_be_bytes())?)?.is_some())
    }

    fn record(&mut self, rev: Revision, event: &Event, key: &[u8]) -> Result<()> {
        self.batch.put_cf(
            cf(self.db, CF_HIST)?,
            history_key(key, rev),
            event.encode_to_vec(),
        );
        self.batch
            .put_cf(cf(self.db, CF_REV)?, revision_key(rev), key);
        Ok(())
    }

    /// etcd's Put.
    pub(super) fn put(&mut self, req: &PutRequest) -> Result<PutResponse> {
        let prev = self.get(&req.key)?;
        if (req.ignore_value || req.ignore_lease) && prev.is_none() {
            return Err(StoreError::KeyNotFound);
        }
        let lease = match (&prev, req.ignore_lease) {
            (Some(p), true) => p.lease,
            _ => req.lease,
        };
        if lease != 0 && !self.lease_exists(lease)? {
            return Err(StoreError::LeaseNotFound);
        }
        let value = match (&prev, req.ignore_value) {
            (Some(p), true) => p.value.clone(),
            _ => req.value.clone(),
        };
        let rev = self.next_revision();
        let kv = KeyValue {
            key: req.key.clone(),
            create_revision: prev.as_ref().map_or(rev.main, |p| p.create_revision),
            mod_revision: rev.main,
            version: prev.as_ref().map_or(1, |p| p.version + 1),
            value,
            lease,
        };
        self.batch
            .put_cf(cf(self.db, CF_KV)?, &kv.key, kv.encode_to_vec());
        let lease_keys = cf(self.db, CF_LEASE_KEYS)?;
        if let Some(old) = prev
            .as_ref()
            .map(|p| p.lease)
            .filter(|&l| l != 0 && l != lease)
        {
            self.batch.delete_cf(lease_keys, lease_key(old, &kv.key));
        }
        if lease != 0 {
            self.batch
                .put_cf(lease_keys, lease_key(lease, &kv.key), b"");
        }
        let event = Event {
            r#type: EventType::Put as i32,
            kv: Some(kv.clone()),
            prev_kv: None,
        };
        self.record(rev, &event, &kv.key)?;
        self.events.push(Event {
            prev_kv: prev.clone(),
            ..event
        });
        self.overlay.insert(kv.key.clone(), Some(kv));
        Ok(PutResponse {
            header: self.header(),
            prev_kv: if req.prev_kv { prev } else { None },
        })
    }

    /// Deletes one live key, recording a tombstone.
    fn delete_key(&mut self, kv: KeyValue) -> Result<()> {
        let rev = self.next_revision();
        self.batch.delete_cf(cf(self.db, CF_KV)?, &kv.key);
        if kv.lease != 0 {
            self.batch
                .delete_cf(cf(self.db, CF_LEASE_KEYS)?, lease_key(kv.lease, &kv.key));
        }
        let tombstone = KeyValue {
            key: kv.key.clone(),
            mod_revision: rev.main,
            ..Default::default()
        };
        let event = Event {
            r#type: EventType::Delete as i32,
            kv: Some(tombstone),
            prev_kv: None,
        };
        self.record(rev, &event, &kv.key)?;
        self.overlay.insert(kv.key.clone(), None);
        self.events.push(Event {
            prev_kv: Some(kv),
            ..event
        });
        Ok(())
    }

    /// etcd's DeleteRange.
    pub(super) fn delete_range(&mut self, req: &DeleteRangeRequest) -> Result<DeleteRangeResponse> {
        let live = self.scan_live(&req.key, &req.range_end, usize::MAX, true)?;
        let deleted = live.kvs.len();
        let mut prev_kvs = Vec::new();
        for kv in live.kvs {
            if req.prev_kv {
                prev_kvs.push(kv.clone());
            }
            self.delete_key(kv)?;
        }
        Ok(DeleteRangeResponse {
            header: self.header(),
            deleted: i64::try_from(deleted).unwrap_or(i64::MAX),
            prev_kvs,
        })
    }

    /// etcd's Txn: compares, then one branch, nested txns included.
    pub(super) fn txn(&mut self, req: &TxnRequest) -> Result<TxnResponse> {
        let mut succeeded = true;
        for compare in &req.compare {
            if !self.compare(compare)? {
                succeeded = false;
                break;
            }
        }
        let ops = if succeeded {
            &req.success
        } else {
            &req.failure
        };
        let mut responses = Vec::with_capacity(ops.len());
        for op in ops {
            let response = match &op.request {
                Some(Op::RequestRange(r)) => OpResponse::ResponseRange(range(self, r)?),
                Some(Op::RequestPut(r)) => OpResponse::ResponsePut(self.put(r)?),
                Some(Op::RequestDeleteRange(r)) => {
                    OpResponse::ResponseDeleteRange(self.delete_range(r)?)
                }
                Some(Op::RequestTxn(r)) => OpResponse::ResponseTxn(self.txn(r)?),
                None => continue,
            };
            responses.push(ResponseOp {
                response: Some(response),
            });
        }
        Ok(TxnResponse {
            header: self.header(),
            succeeded,
            responses,
        })
    }

    /// etcd's compare: every key in the range must satisfy it; a missing key
    /// compares as zeroes, except that a value compare on it is false.
    fn compare(&self, c: &Compare) -> Result<bool> {
        let target = CompareTarget::try_from(c.target).unwrap_or(CompareTarget::Version);
        let kvs = self.scan_live(&c.key, &c.range_end, usize::MAX, true)?.kvs;
        if kvs.is_empty() {
            if target == CompareTarget::Value {
                return Ok(false);
            }
            return Ok(compare_kv(c, target, &KeyValue::default()));
        }
        Ok(kvs.iter().all(|kv| compare_kv(c, target, kv)))
    }

    /// Grants a lease (the ID was chosen by the proposer).
    pub(super) fn lease_grant(&mut self, id: i64, ttl: i64) -> Result<()> {
        if id == 0 || self.lease_exists(id)? {
            return Err(StoreError::LeaseExists);
        }
        self.batch
            .put_cf(cf(self.db, CF_LEASE)?, id.to_be_bytes(), ttl.to_be_bytes());
        self.leases.insert(id, Some(ttl));
        self.lease_changes.push(LeaseChange::Granted { id, ttl });
        Ok(())
    }

    /// Revokes a lease, deleting its keys in this command's one revision.
    pub(super) fn lease_revoke(&mut self, id: i64) -> Result<()> {
        if !self.lease_exists(id)? {
            return Err(StoreError::LeaseNotFound);
        }
        for key in super::store::lease_keys_of(self.db, id)? {
            match self.get(&key)? {
                // Deleting the key also detaches it.
                Some(kv) if kv.lease == id => self.delete_key(kv)?,
                // A stale attachment: only the record goes.
                _ => self
                    .batch
                    .delete_cf(cf(self.db, CF_LEASE_KEYS)?, lease_key(id, &key)),
            }
        }
        self.batch
            .delete_cf(cf(self.db, CF_LEASE)?, id.to_be_bytes());
        self.leases.insert(id, None);
        self.lease_changes.push(LeaseChange::Revoked { id });
        Ok(())
    }
}

fn compare_kv(c: &Compare, target: CompareTarget, kv: &KeyValue) -> bool {
    let result = CompareResult::try_from(c.result).unwrap_or(CompareResult::Equal);
    let ordering = match (target, &c.target_union) {
        (CompareTarget::Value, Some(TargetUnion::Value(v))) => {
            kv.value.as_slice().cmp(v.as_slice())
        }
        (CompareTarget::Version, Some(TargetUnion::Version(v))) => kv.version.cmp(v),
        (CompareTarget::Create, Some(TargetUnion::CreateRevision(v))) => kv.create_revision.cmp(v),
        (CompareTarget::Mod, Some(TargetUnion::ModRevision(v))) => kv.mod_revision.cmp(v),
        (CompareTarget::Lease, Some(TargetUnion::Lease(v))) => kv.lease.cmp(v),
        // A target without its value (or of another kind) compares with
        // the zero value, as etcd's protobuf getters do.
        (CompareTarget::Value, _) => kv.value.as_slice().cmp(&[][..]),
        (CompareTarget::Version, _) => kv.version.cmp(&0),
        (CompareTarget::Create, _) => kv.create_revision.cmp(&0),
        (CompareTarget::Mod, _) => kv.mod_revision.cmp(&0),
        (CompareTarget::Lease, _) => kv.lease.cmp(&0),
    };
    use std::cmp::Ordering::*;
    match result {
        CompareResult::Equal => ordering == Equal,
        CompareResult::Greater => ordering == Greater,
        CompareResult::Less => ordering == Less,
        CompareResult::NotEqual => ordering != Equal,
    }
}

impl Reader for Writer<'_> {
    fn revision(&self) -> i64 {
        if self.wrote() {
            self.write_revision()
        } else {
            self.begin
        }
    }

    fn compacted(&self) -> i64 {
        self.compacted
    }

    fn scan_live(&self, start: &[u8], end: &[u8], limit: usize, keep: bool) -> Result<Scan> {
        let mut iter = self.db.raw_iterator_cf(cf(self.db, CF_KV)?);
        let touched: Vec<(&Vec<u8>, &Option<KeyValue>)> = self
            .overlay
            .range(start.to_vec()..)
            .take_while(|(k, _)| in_range(k, start, end))
            .collect();
        if touched.is_empty() {
            return scan_live_iter(&mut iter, start, end, limit, keep);
        }
        // This command wrote in the range: merge its writes over the
        // committed keys.
        let committed = scan_live_iter(&mut iter, start, end, usize::MAX, true)?;
        let mut merged: BTreeMap<Vec<u8>, KeyValue> = committed
            .kvs
            .into_iter()
            .map(|kv| (kv.key.clone(), kv))
            .collect();
        for (key, written) in touched {
            match written {
                Some(kv) => merged.insert(key.clone(), kv.clone()),
                None => merged.remove(key),
            };
        }
        let count = merged.len();
        let kvs = if keep {
            merged.into_values().take(limit).collect()
        } else {
            Vec::new()
        };
        Ok(Scan { kvs, count })
    }

    fn scan_history(
        &self,
        start: &[u8],
        end: &[u8],
        rev: i64,
        limit: usize,
        keep: bool,
    ) -> Result<Scan> {
        // Older than this command's revision, so untouched by its writes.
        let mut iter = self.db.raw_iterator_cf(cf(self.db, CF_HIST)?);
        scan_history_iter(&mut iter, start, end, rev, limit, keep)
    }
}

//! Applying one committed command: the only way the store changes.

use std::sync::atomic::Ordering;

use berth_proto::etcdserverpb::{
    CompactionResponse, LeaseGrantResponse, LeaseRevokeResponse, PutRequest, ResponseHeader,
};
use berth_proto::mvccpb::event::EventType;
use berth_proto::mvccpb::Event;
use berth_proto::raft::internal_request::Request;
use berth_proto::raft::internal_response::Response;
use berth_proto::raft::{ApplyError, InternalRequest, InternalResponse};
use prost::Message;
use rocksdb::{WriteBatch, DB};

use super::keys::{after_key, parse_history_key, revision_key, Revision};
use super::store::{
    cf, corrupt, member_key, unsynced, KvStore, CF_HIST, CF_META, CF_REV, META_COMPACT,
    META_REVISION,
};
use super::write::Writer;
use crate::apply::Applied;
use crate::{Result, StoreError};

impl KvStore {
    /// Applies one committed command, writing `meta` (the Raft state
    /// machine's records) in the same atomic batch, so the command is
    /// applied exactly once across restarts.
    ///
    /// A refusal decided by the data (a missing lease, a compacted
    /// revision...) is the same on every member: it is the response, as an
    /// `ApplyError`, and changes nothing but `meta`. `Err` means storage
    /// failed.
    pub fn apply(&self, req: &InternalRequest, meta: &[(&str, Vec<u8>)]) -> Result<Applied> {
        let db = self.db();
        let begin = self.current_revision();
        let mut writer = Writer::new(&db, begin, self.compact_revision());
        let outcome = execute(&mut writer, req.request.as_ref());
        let (mut batch, response, events, lease_changes, compact_to) = match outcome {
            Ok((response, compact_to)) => {
                let events = std::mem::take(&mut writer.events);
                let changes = std::mem::take(&mut writer.lease_changes);
                let wrote = writer.wrote();
                let mut batch = std::mem::take(&mut writer.batch);
                if wrote {
                    batch.put_cf(cf(&db, CF_META)?, META_REVISION, (begin + 1).to_be_bytes());
                }
                (batch, response, events, changes, compact_to)
            }
            Err(StoreError::Storage(message)) => return Err(StoreError::Storage(message)),
            Err(refused) => {
                let response = Response::Error(ApplyError {
                    code: refused.code() as i32,
                    message: refused.to_string(),
                });
                (
                    WriteBatch::default(),
                    response,
                    Vec::new(),
                    Vec::new(),
                    None,
                )
            }
        };
        let revision = if events.is_empty() { begin } else { begin + 1 };
        let meta_cf = cf(&db, CF_META)?;
        for (key, value) in meta {
            batch.put_cf(meta_cf, key.as_bytes(), value);
        }
        if let Some(compact) = compact_to {
            batch.put_cf(meta_cf, META_COMPACT, compact.to_be_bytes());
            purge_history(&db, &mut batch, compact)?;
        }
        db.write_opt(batch, &unsynced())?;
        self.inner.revision.store(revision, Ordering::Release);
        if let Some(compact) = compact_to {
            self.inner.compacted.store(compact, Ordering::Release);
        }
        Ok(Applied {
            response: InternalResponse {
                response: Some(with_revision(response, revision)),
                log_index: 0,
            },
            revision,
            events,
            lease_changes,
        })
    }
}

impl KvStore {
    /// Applies consecutive Puts of one entry in one atomic RocksDB write,
    /// with `meta`: each Put is still its own revision, with its own events
    /// and response, and sees the Puts before it. A Put refused (a missing
    /// lease, `ignore_value` on a missing key) changes nothing, since a Put
    /// decides before it writes. One write instead of one per command is
    /// most of what applying a batch of Puts costs.
    pub fn apply_puts(
        &self,
        puts: &[&PutRequest],
        meta: &[(&str, Vec<u8>)],
    ) -> Result<Vec<Applied>> {
        let db = self.db();
        let begin = self.current_revision();
        let mut writer = Writer::new(&db, begin, self.compact_revision());
        let mut applied = Vec::with_capacity(puts.len());
        for put in puts {
            let (response, revision, events) = match writer.put(put) {
                Ok(response) => {
                    let events = std::mem::take(&mut writer.events);
                    writer.next_command();
                    (Response::Put(response), writer.begin, events)
                }
                Err(StoreError::Storage(message)) => return Err(StoreError::Storage(message)),
                Err(refused) => {
                    let response = Response::Error(ApplyError {
                        code: refused.code() as i32,
                        message: refused.to_string(),
                    });
                    (response, writer.begin, Vec::new())
                }
            };
            applied.push(Applied {
                response: InternalResponse {
                    response: Some(with_revision(response, revision)),
                    log_index: 0,
                },
                revision,
                events,
                lease_changes: Vec::new(),
            });
        }
        let revision = writer.begin;
        let mut batch = std::mem::take(&mut writer.batch);
        let meta_cf = cf(&db, CF_META)?;
        if revision != begin {
            batch.put_cf(meta_cf, META_REVISION, revision.to_be_bytes());
        }
        for (key, value) in meta {
            batch.put_cf(meta_cf, key.as_bytes(), value);
        }
        db.write_opt(batch, &unsynced())?;
        self.inner.revision.store(revision, Ordering::Release);
        Ok(applied)
    }
}

/// Runs the command against the writer; a compaction also names its
/// revision, purged after the command's checks pass.
fn execute(writer: &mut Writer<'_>, req: Option<&Request>) -> Result<(Response, Option<i64>)> {
    let header = || Some(ResponseHeader::default());
    Ok(match req {
        Some(Request::Put(r)) => (Response::Put(writer.put(r)?), None),
        Some(Request::DeleteRange(r)) => (Response::DeleteRange(writer.delete_range(r)?), None),
        Some(Request::Txn(r)) => (Response::Txn(writer.txn(r)?), None),
        Some(Request::Compaction(r)) => {
            if r.revision <= writer.compacted {
                return Err(StoreError::Compacted);
            }
            if r.revision > writer.begin {
                return Err(StoreError::FutureRevision);
            }
            (
                Response::Compaction(CompactionResponse { header: header() }),
                Some(r.revision),
            )
        }
        Some(Request::LeaseGrant(r)) => {
            writer.lease_grant(r.id, r.ttl)?;
            let grant = LeaseGrantResponse {
                header: header(),
                id: r.id,
                ttl: r.ttl,
                error: String::new(),
            };
            (Response::LeaseGrant(grant), None)
        }
        Some(Request::LeaseRevoke(r)) => {
            writer.lease_revoke(r.id)?;
            (
                Response::LeaseRevoke(LeaseRevokeResponse { header: header() }),
                None,
            )
        }
        Some(Request::MemberAttributes(m)) => {
            writer
                .batch
                .put_cf(cf(writer.db, CF_META)?, member_key(m.id), m.encode_to_vec());
            (Response::MemberAttributes(m.clone()), None)
        }
        // The state machine unpacks batches; one inside a batch is refused.
        Some(Request::Batch(_)) => {
            return Err(StoreError::Other(
                tonic::Code::InvalidArgument as i32,
                "a batch of commands may not hold a batch".to_string(),
            ))
        }
        None => (
            Response::Error(ApplyError {
                code: 3,
                message: "empty request".to_string(),
            }),
            None,
        ),
    })
}

/// Sets the top-level response header's revision to the store's revision
/// after the command.
fn with_revision(mut response: Response, revision: i64) -> Response {
    let header = Some(ResponseHeader {
        revision,
        ..Default::default()
    });
    match &mut response {
        Response::Put(r) => r.header = header,
        Response::DeleteRange(r) => r.header = header,
        Response::Txn(r) => r.header = header,
        Response::Compaction(r) => r.header = header,
        Response::LeaseGrant(r) => r.header = header,
        Response::LeaseRevoke(r) => r.header = header,
        Response::MemberAttributes(_) | Response::Error(_) | Response::Batch(_) => {}
    }
    response
}

/// Drops history no read can reach after compacting at `compact`: for each
/// key, every version older than its newest one at or before `compact`, and
/// that one too if it is a deletion. Revisions below `compact` leave the
/// replay log.
fn purge_history(db: &DB, batch: &mut WriteBatch, compact: i64) -> Result<()> {
    let hist = cf(db, CF_HIST)?;
    let mut iter = db.raw_iterator_cf(hist);
    iter.seek_to_first();
    while iter.valid() {
        let Some(raw) = iter.key() else { break };
        let (key, _) = parse_history_key(raw).ok_or_else(|| corrupt("history key"))?;
        iter.seek(super::keys::history_seek(&key, compact));
        let mut newest_at_compact = true;
        while iter.valid() {
            let (Some(raw), Some(value)) = (iter.key(), iter.value()) else {
                break;
            };
            let (found, _) = parse_history_key(raw).ok_or_else(|| corrupt("history key"))?;
            if found != key {
                break;
            }
            let delete = if newest_at_compact {
                newest_at_compact = false;
                let event = Event::decode(value).map_err(corrupt)?;
                event.r#type == EventType::Delete as i32
            } else {
                true
            };
            if delete {
                batch.delete_cf(hist, raw);
            }
            iter.next();
        }
        iter.status()?;
        iter.seek(after_key(&key));
    }
    iter.status()?;
    batch.delete_range_cf(
        cf(db, CF_REV)?,
        revision_key(Revision { main: 0, sub: 0 }),
        revision_key(Revision {
            main: compact,
            sub: 0,
        }),
    );
    Ok(())
}

//! What the workload did, as the checkers read it: every operation with the
//! simulated times it was invoked and answered, and what it answered.

use std::time::Duration;

/// One client operation.
#[derive(Clone, Debug, PartialEq)]
pub struct Operation {
    /// Which client issued it (clients run one operation at a time).
    pub client: usize,
    /// Which member the client sent it to.
    pub member: usize,
    /// Simulated time the request was sent.
    pub invoke: Duration,
    /// Simulated time the answer arrived; `None` when no answer came (the
    /// outcome is then [`Outcome::Unknown`]).
    pub complete: Option<Duration>,
    /// What was asked.
    pub request: Request,
    /// What came back.
    pub outcome: Outcome,
}

/// A request of the workload. Keys and values are strings; every value a
/// workload writes is unique, so a read names the write it observed.
#[derive(Clone, Debug, PartialEq)]
pub enum Request {
    /// `Put(key, value)`, attached to `lease` unless it is 0.
    Put {
        key: String,
        value: String,
        lease: i64,
    },
    /// `Range(key)`, linearizable or serializable.
    Get { key: String, serializable: bool },
    /// `DeleteRange(key)`.
    Delete { key: String },
    /// `Txn(if mod_revision(key) == expected then put(key, value) else get(key))`.
    /// `expected` 0 means "the key does not exist".
    Cas {
        key: String,
        expected: i64,
        value: String,
    },
    /// `LeaseGrant(ttl)`.
    LeaseGrant { ttl: i64 },
    /// `LeaseKeepAlive(id)`, one round.
    LeaseKeepAlive { id: i64 },
    /// `LeaseRevoke(id)`.
    LeaseRevoke { id: i64 },
    /// `Compact(revision)`: history before `revision` is discarded.
    Compact { revision: i64 },
}

/// How an operation ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Answered successfully.
    Ok(Response),
    /// Refused: definitely not applied.
    Failed(String),
    /// Timed out or the connection broke after sending: it may or may not
    /// have been applied.
    Unknown,
}

/// A key's value as a read or a failed CAS returned it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KeyValue {
    pub value: String,
    pub mod_revision: i64,
    /// 0 when not attached to a lease.
    pub lease: i64,
}

/// A successful answer. `revision` is the response header's revision.
#[derive(Clone, Debug, PartialEq)]
pub enum Response {
    Put {
        revision: i64,
    },
    Get {
        revision: i64,
        kv: Option<KeyValue>,
    },
    Delete {
        revision: i64,
        deleted: i64,
        /// What was deleted (requests ask for `prev_kv`).
        prev: Option<KeyValue>,
    },
    Cas {
        revision: i64,
        succeeded: bool,
        /// On failure, what the else branch's get returned.
        kv: Option<KeyValue>,
    },
    LeaseGrant {
        id: i64,
        ttl: i64,
    },
    LeaseKeepAlive {
        ttl: i64,
    },
    LeaseRevoke {
        revision: i64,
    },
    Compact {
        revision: i64,
    },
}

/// A change a client saw acknowledged: `value` is `None` for a delete.
#[derive(Clone, Debug, PartialEq)]
pub struct AckedWrite {
    pub key: String,
    pub value: Option<String>,
    pub revision: i64,
}

/// Every acknowledged change: puts, successful CASes, deletes that removed
/// something.
pub fn acknowledged_writes(ops: &[Operation]) -> Vec<AckedWrite> {
    ops.iter()
        .filter_map(|op| {
            let (key, value, revision) = match (&op.request, op.response()?) {
                (Request::Put { key, value, .. }, Response::Put { revision }) => {
                    (key, Some(value), revision)
                }
                (
                    Request::Cas { key, value, .. },
                    Response::Cas {
                        succeeded: true,
                        revision,
                        ..
                    },
                ) => (key, Some(value), revision),
                (
                    Request::Delete { key },
                    Response::Delete {
                        revision, deleted, ..
                    },
                ) if *deleted > 0 => (key, None, revision),
                _ => return None,
            };
            Some(AckedWrite {
                key: key.clone(),
                value: value.cloned(),
                revision: *revision,
            })
        })
        .collect()
}

impl Operation {
    /// The key this operation reads or writes, if it touches one.
    pub fn key(&self) -> Option<&str> {
        match &self.request {
            Request::Put { key, .. }
            | Request::Get { key, .. }
            | Request::Delete { key }
            | Request::Cas { key, .. } => Some(key),
            _ => None,
        }
    }

    /// The successful response, if any.
    pub fn response(&self) -> Option<&Response> {
        match &self.outcome {
            Outcome::Ok(r) => Some(r),
            _ => None,
        }
    }
}

/// One thing a watcher saw, at simulated time `at`.
#[derive(Clone, Debug, PartialEq)]
pub struct WatchRecord {
    /// Which watcher (one logical watch, resumed across streams).
    pub watcher: usize,
    /// The member its current stream goes to.
    pub member: usize,
    /// Simulated time of the record.
    pub at: Duration,
    /// What happened.
    pub kind: WatchRecordKind,
}

/// What a watcher saw.
#[derive(Clone, Debug, PartialEq)]
pub enum WatchRecordKind {
    /// A stream was opened asking for events from `start_revision`.
    Started { start_revision: i64 },
    /// The member confirmed the watch; `revision` is the header's.
    Created { revision: i64 },
    /// One response with events (never empty).
    Events {
        revision: i64,
        events: Vec<WatchEvent>,
    },
    /// A progress notification: every event up to `revision` was sent.
    Progress { revision: i64 },
    /// The member canceled the watch.
    Canceled {
        compact_revision: i64,
        reason: String,
    },
    /// The stream failed or was dropped by the watcher; it resumes later.
    Broken { reason: String },
}

/// One event as a watcher received it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WatchEvent {
    /// The revision of the change (the key's mod_revision).
    pub revision: i64,
    pub key: String,
    /// A put (else a delete).
    pub put: bool,
    /// The value put (empty for a delete).
    pub value: String,
}

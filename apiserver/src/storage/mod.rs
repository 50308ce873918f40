//! Objects in berth's store, through its etcd v3 API: one key per object,
//! its mod revision the object's resourceVersion, every write a transaction
//! guarded by the revision it was read at.

mod watch;

pub use watch::{WatchEvent, WatchEventKind};

use berth_proto::etcdserverpb::kv_client::KvClient;
use berth_proto::etcdserverpb::watch_client::WatchClient;
use berth_proto::etcdserverpb::{
    compare, request_op, Compare, DeleteRangeRequest, PutRequest, RangeRequest, RequestOp,
    TxnRequest,
};
use tonic::transport::{Channel, Endpoint};

use crate::allocator::Claims;
use crate::error::{ApiError, Result};

/// Where every object is stored, as in Kubernetes.
pub const PREFIX: &str = "/registry/";

/// One stored object: its key, JSON bytes and mod revision.
#[derive(Debug, Clone)]
pub struct Item {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    pub mod_revision: i64,
}

/// A page of a list.
#[derive(Debug)]
pub struct Page {
    pub items: Vec<Item>,
    /// The store revision the page was read at.
    pub revision: i64,
    /// Whether more keys follow the last item.
    pub more: bool,
}

/// One object write, guarded: create if absent, update or delete if still
/// at the given mod revision.
#[derive(Debug)]
pub enum Write {
    Create(Vec<u8>),
    Update(Vec<u8>, i64),
    Delete(i64),
}

/// How a [`Storage::write`] ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Written at this revision.
    Done(i64),
    /// The object exists (create) or moved on (update, delete).
    ObjectChanged,
    /// A key the write claims is held by another object.
    ClaimTaken,
}

/// The API server's handle on the store.
#[derive(Clone)]
pub struct Storage {
    kv: KvClient<Channel>,
    watch: WatchClient<Channel>,
}

impl Storage {
    /// A lazily connecting client of the store member at `url`.
    pub fn connect(url: &str) -> Result<Storage> {
        let endpoint = Endpoint::from_shared(url.to_string())
            .map_err(|e| ApiError::Store(format!("store URL {url}: {e}")))?;
        let channel = endpoint.connect_lazy();
        Ok(Storage {
            kv: KvClient::new(channel.clone()),
            watch: WatchClient::new(channel),
        })
    }

    /// Reads one key linearizably.
    pub async fn get(&self, key: &[u8]) -> Result<Option<Item>> {
        let resp = self
            .kv
            .clone()
            .range(RangeRequest {
                key: key.to_vec(),
                ..Default::default()
            })
            .await
            .map_err(store_error)?
            .into_inner();
        Ok(resp.kvs.into_iter().next().map(|kv| Item {
            key: kv.key,
            value: kv.value,
            mod_revision: kv.mod_revision,
        }))
    }

    /// Lists keys under `prefix` from `start` (inclusive) at `revision` (0:
    /// the latest, linearizably; otherwise that revision, as an exact read).
    pub async fn list(
        &self,
        prefix: &[u8],
        start: Option<&[u8]>,
        revision: i64,
        limit: i64,
    ) -> Result<Page> {
        let resp = self
            .kv
            .clone()
            .range(RangeRequest {
                key: start.unwrap_or(prefix).to_vec(),
                range_end: prefix_end(prefix),
                revision,
                limit,
                ..Default::default()
            })
            .await
            .map_err(store_error)?
            .into_inner();
        Ok(Page {
            items: resp
                .kvs
                .into_iter()
                .map(|kv| Item {
                    key: kv.key,
                    value: kv.value,
                    mod_revision: kv.mod_revision,
                })
                .collect(),
            revision: resp.header.map(|h| h.revision).unwrap_or(0),
            more: resp.more,
        })
    }

    /// Creates `key` if it does not exist; the new revision, or `None` if it
    /// exists.
    pub async fn create(&self, key: &[u8], value: Vec<u8>) -> Result<Option<i64>> {
        Ok(
            match self
                .write(key, Write::Create(value), &Claims::default(), b"")
                .await?
            {
                Outcome::Done(revision) => Some(revision),
                Outcome::ObjectChanged | Outcome::ClaimTaken => None,
            },
        )
    }

    /// Writes one object together with `claims`: the keys it takes must
    /// not exist (they are created holding `owner`), the keys it releases
    /// are deleted, all in one transaction guarded by the object's own revision.
    pub async fn write(
        &self,
        key: &[u8],
        write: Write,
        claims: &Claims,
        owner: &[u8],
    ) -> Result<Outcome> {
        let absent = |k: &[u8]| Compare {
            result: compare::CompareResult::Equal as i32,
            target: compare::CompareTarget::Create as i32,
            key: k.to_vec(),
            target_union: Some(compare::TargetUnion::CreateRevision(0)),
            ..Default::default()
        };
        let at = |revision: i64| Compare {
            result: compare::CompareResult::Equal as i32,
            target: compare::CompareTarget::Mod as i32,
            key: key.to_vec(),
            target_union: Some(compare::TargetUnion::ModRevision(revision)),
            ..Default::default()
        };
        let put = |k: &[u8], v: Vec<u8>| RequestOp {
            request: Some(request_op::Request::RequestPut(PutRequest {
                key: k.to_vec(),
                value: v,
                ..Default::default()
            })),
        };
        let delete = |k: &[u8]| RequestOp {
            request: Some(request_op::Request::RequestDeleteRange(
                DeleteRangeRequest {
                    key: k.to_vec(),
                    ..Default::default()
                },
            )),
        };
        let (guard, op, expected) = match write {
            Write::Create(value) => (absent(key), put(key, value), 0),
            Write::Update(value, revision) => (at(revision), put(key, value), revision),
            Write::Delete(revision) => (at(revision), delete(key), revision),
        };
        let mut compare = vec![guard];
        compare.extend(claims.take.iter().map(|k| absent(k)));
        let mut success = vec![op];
        success.extend(claims.take.iter().map(|k| put(k, owner.to_vec())));
        success.extend(claims.release.iter().map(|k| delete(k)));
        // On failure, read the object back to tell which guard failed.
        let failure = vec![RequestOp {
            request: Some(request_op::Request::RequestRange(RangeRequest {
                key: key.to_vec(),
                ..Default::default()
            })),
        }];
        let resp = self
            .kv
            .clone()
            .txn(TxnRequest {
                compare,
                success,
                failure,
            })
            .await
            .map_err(store_error)?
            .into_inner();
        if resp.succeeded {
            return Ok(Outcome::Done(resp.header.map(|h| h.revision).unwrap_or(0)));
        }
        let current = resp
            .responses
            .into_iter()
            .find_map(|r| match r.response {
                Some(berth_proto::etcdserverpb::response_op::Response::ResponseRange(range)) => {
                    Some(range.kvs.first().map(|kv| kv.mod_revision).unwrap_or(0))
                }
                _ => None,
            })
            .unwrap_or(-1);
        Ok(if current == expected {
            Outcome::ClaimTaken
        } else {
            Outcome::ObjectChanged
        })
    }

    pub(crate) fn watch_client(&self) -> WatchClient<Channel> {
        self.watch.clone()
    }
}

/// The end of the key range holding every key that starts with `prefix`.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

pub(crate) fn store_error(status: tonic::Status) -> ApiError {
    if status
        .message()
        .contains("required revision has been compacted")
    {
        return ApiError::Gone(status.message().to_string());
    }
    match status.code() {
        tonic::Code::DeadlineExceeded => ApiError::Timeout(status.message().to_string()),
        tonic::Code::Unavailable if status.message().contains("timed out") => {
            ApiError::Timeout(status.message().to_string())
        }
        _ => ApiError::Store(format!("store: {}", status.message())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_covers_exactly_the_prefix() {
        assert_eq!(prefix_end(b"/registry/pods/"), b"/registry/pods0".to_vec());
        assert_eq!(prefix_end(b"a\xff"), b"b".to_vec());
        assert_eq!(prefix_end(b"\xff"), vec![0]);
    }
}

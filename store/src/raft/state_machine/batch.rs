//! Applying an entry that carries a batch of commands.
//!
//! Each command is applied as if it were its own entry: its own revision,
//! events and response. Consecutive Puts share one atomic RocksDB write
//! (they are most of what batches carry); any other command gets a write
//! of its own. Only the last write records the entry as applied, so a
//! crash can leave an entry half applied. Every write therefore also
//! records how many of the entry's commands are done, and after a restart
//! the entry's replay skips those: each command is still applied exactly
//! once.

use berth_proto::etcdserverpb::PutRequest;
use berth_proto::raft::internal_request::Request as Command;
use berth_proto::raft::internal_response::Response as Answer;
use berth_proto::raft::{InternalBatchResponse, InternalRequest, InternalResponse};

use super::{StateMachine, META_LAST_APPLIED};
use crate::mvcc::KvStore;
use crate::raft::types::{LogId, Response};
use crate::raft::{decode, encode};
use crate::Result;

/// Meta key of the progress through the last batch entry applied in part:
/// bincode `(log index, commands applied)`.
pub(crate) const META_BATCH_PROGRESS: &str = "raft/batch_progress";

impl StateMachine {
    pub(super) fn apply_batch(
        &mut self,
        log_id: LogId,
        requests: &[InternalRequest],
    ) -> Result<Response> {
        let done = match self.resume.take() {
            Some((index, done)) if index == log_id.index => done,
            _ => 0,
        };
        if done > 0 {
            tracing::info!(
                index = log_id.index,
                done,
                total = requests.len(),
                "resuming a batch entry applied in part before a restart"
            );
        }
        let last_applied = encode(&Some(log_id))?;
        let mut responses = Vec::with_capacity(requests.len());
        // Answered before the restart; nobody waits for them now.
        responses.resize(done.min(requests.len()), InternalResponse::default());
        let mut i = done;
        while i < requests.len() {
            // A run of Puts goes to RocksDB as one write; anything else as
            // its own. Either way the write records how far the entry got.
            let puts: Vec<&PutRequest> = requests[i..]
                .iter()
                .map_while(|r| match &r.request {
                    Some(Command::Put(put)) => Some(put),
                    _ => None,
                })
                .collect();
            let end = i + puts.len().max(1);
            let progress = (META_BATCH_PROGRESS, encode(&(log_id.index, end as u64))?);
            let mut meta = vec![progress];
            if end == requests.len() {
                meta.push((META_LAST_APPLIED, last_applied.clone()));
            }
            let applied = if puts.is_empty() {
                vec![self.kv.apply(&requests[i], &meta)?]
            } else {
                self.kv.apply_puts(&puts, &meta)?
            };
            for applied in applied {
                for observer in &self.observers {
                    observer.applied(&applied);
                }
                responses.push(applied.response);
            }
            i = end;
        }
        if done >= requests.len() {
            self.kv.put_meta(&[(META_LAST_APPLIED, last_applied)])?;
        }
        Ok(Response {
            response: InternalResponse {
                response: Some(Answer::Batch(InternalBatchResponse { responses })),
                log_index: 0,
            },
            revision: self.kv.current_revision(),
        })
    }
}

/// The progress a previous run recorded through its last batch entry: the
/// entry's index and how many of its commands are done. Read once at open;
/// every entry applied since is finished before the next begins.
pub(super) fn progress(kv: &KvStore) -> Result<Option<(u64, usize)>> {
    let Some(bytes) = kv.get_meta(META_BATCH_PROGRESS)? else {
        return Ok(None);
    };
    let (index, done): (u64, u64) = decode(&bytes)?;
    Ok(Some((index, usize::try_from(done).unwrap_or(usize::MAX))))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use berth_proto::etcdserverpb::{PutRequest, RangeRequest, TxnRequest};
    use berth_proto::raft::{internal_request, InternalBatch};
    use openraft::storage::RaftStateMachine;
    use openraft::{CommittedLeaderId, EntryPayload};

    use super::*;
    use crate::raft::cluster_tests::Revisions;
    use crate::raft::types::Request;

    fn put(key: &str, value: &str) -> InternalRequest {
        InternalRequest {
            request: Some(internal_request::Request::Put(PutRequest {
                key: key.as_bytes().to_vec(),
                value: value.as_bytes().to_vec(),
                ..Default::default()
            })),
        }
    }

    fn batch_entry(index: u64, requests: Vec<InternalRequest>) -> super::super::Entry {
        openraft::Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
            payload: EntryPayload::Normal(Request(InternalRequest {
                request: Some(internal_request::Request::Batch(InternalBatch { requests })),
            })),
        }
    }

    async fn open(dir: &std::path::Path, observer: Arc<Revisions>) -> StateMachine {
        let kv = KvStore::open(&dir.join("kv")).unwrap();
        StateMachine::open(kv, &dir.join("snapshots"), vec![observer])
            .await
            .unwrap()
    }

    fn answers(response: &Response) -> Vec<InternalResponse> {
        match &response.response.response {
            Some(Answer::Batch(b)) => b.responses.clone(),
            other => panic!("not a batch answer: {other:?}"),
        }
    }

    fn versions(kv: &KvStore, key: &str) -> Vec<(i64, i64, Vec<u8>)> {
        let req = RangeRequest {
            key: key.as_bytes().to_vec(),
            ..Default::default()
        };
        kv.range(&req)
            .unwrap()
            .kvs
            .into_iter()
            .map(|kv| (kv.mod_revision, kv.version, kv.value))
            .collect()
    }

    #[tokio::test]
    async fn each_command_of_a_batch_is_its_own_revision_with_its_own_answer() {
        let dir = tempfile::tempdir().unwrap();
        let observer = Arc::new(Revisions::default());
        let mut sm = open(dir.path(), observer.clone()).await;
        let nested = InternalRequest {
            request: Some(internal_request::Request::Batch(InternalBatch {
                requests: vec![put("x", "1")],
            })),
        };
        let entry = batch_entry(1, vec![put("a", "1"), put("a", "2"), nested, put("b", "1")]);
        let responses = sm.apply([entry]).await.unwrap();
        let answers = answers(&responses[0]);
        assert_eq!(answers.len(), 4);
        let revision_of = |a: &InternalResponse| match &a.response {
            Some(Answer::Put(p)) => p.header.as_ref().unwrap().revision,
            other => panic!("not a put answer: {other:?}"),
        };
        assert_eq!(revision_of(&answers[0]), 2);
        assert_eq!(revision_of(&answers[1]), 3);
        // A batch inside a batch is refused on its own; the rest applies.
        assert!(
            matches!(&answers[2].response, Some(Answer::Error(e)) if e.message.contains("batch"))
        );
        assert_eq!(revision_of(&answers[3]), 4);
        assert_eq!(responses[0].revision, 4);
        // Observers hear of every command, the refused one at an unchanged
        // revision, as for commands in entries of their own.
        assert_eq!(*observer.0.lock().unwrap(), vec![2, 3, 3, 4]);
        assert_eq!(versions(sm.kv(), "a"), vec![(3, 2, b"2".to_vec())]);
        assert!(versions(sm.kv(), "x").is_empty());
        let (applied, _) = sm.applied_state().await.unwrap();
        assert_eq!(applied.map(|l| l.index), Some(1));
    }

    #[tokio::test]
    async fn a_refused_put_in_a_run_of_puts_changes_nothing_and_the_rest_apply() {
        let dir = tempfile::tempdir().unwrap();
        let observer = Arc::new(Revisions::default());
        let mut sm = open(dir.path(), observer.clone()).await;
        let with_lease = InternalRequest {
            request: Some(internal_request::Request::Put(PutRequest {
                key: b"a".to_vec(),
                value: b"leased".to_vec(),
                lease: 77,
                ..Default::default()
            })),
        };
        let entry = batch_entry(
            1,
            vec![put("a", "1"), with_lease, put("a", "2"), put("c", "1")],
        );
        let responses = sm.apply([entry]).await.unwrap();
        let answers = answers(&responses[0]);
        assert_eq!(answers.len(), 4);
        assert!(
            matches!(&answers[1].response, Some(Answer::Error(e)) if e.message.contains("lease"))
        );
        // The later Put of the same key saw the first: version 2.
        assert_eq!(versions(sm.kv(), "a"), vec![(3, 2, b"2".to_vec())]);
        assert_eq!(versions(sm.kv(), "c"), vec![(4, 1, b"1".to_vec())]);
        assert_eq!(*observer.0.lock().unwrap(), vec![2, 2, 3, 4]);
        assert_eq!(sm.kv().current_revision(), 4);
        // History holds each revision: the first Put is still readable.
        let at_two = RangeRequest {
            key: b"a".to_vec(),
            revision: 2,
            ..Default::default()
        };
        assert_eq!(sm.kv().range(&at_two).unwrap().kvs[0].value, b"1".to_vec());
        let (applied, _) = sm.applied_state().await.unwrap();
        assert_eq!(applied.map(|l| l.index), Some(1));
    }

    #[tokio::test]
    async fn a_batch_applied_in_part_before_a_crash_resumes_where_it_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let observer = Arc::new(Revisions::default());
        {
            let mut sm = open(dir.path(), observer.clone()).await;
            sm.apply([batch_entry(1, vec![put("a", "1")])])
                .await
                .unwrap();
            // The crash: the first two commands of entry 2 reached RocksDB,
            // the entry was not recorded as applied.
            sm.kv()
                .apply(
                    &put("b", "1"),
                    &[(META_BATCH_PROGRESS, encode(&(2u64, 1u64)).unwrap())],
                )
                .unwrap();
            sm.kv()
                .apply(
                    &put("b", "2"),
                    &[(META_BATCH_PROGRESS, encode(&(2u64, 2u64)).unwrap())],
                )
                .unwrap();
        }
        let mut sm = open(dir.path(), observer.clone()).await;
        let (applied, _) = sm.applied_state().await.unwrap();
        assert_eq!(applied.map(|l| l.index), Some(1));
        let txn = InternalRequest {
            request: Some(internal_request::Request::Txn(TxnRequest::default())),
        };
        let entry = batch_entry(2, vec![put("b", "1"), put("b", "2"), put("c", "1"), txn]);
        sm.apply([entry]).await.unwrap();
        // b was written twice, not four times; c once.
        assert_eq!(versions(sm.kv(), "b"), vec![(4, 2, b"2".to_vec())]);
        assert_eq!(versions(sm.kv(), "c"), vec![(5, 1, b"1".to_vec())]);
        let (applied, _) = sm.applied_state().await.unwrap();
        assert_eq!(applied.map(|l| l.index), Some(2));
        // A later batch entry is not mistaken for the resumed one.
        sm.apply([batch_entry(3, vec![put("d", "1"), put("d", "2")])])
            .await
            .unwrap();
        assert_eq!(versions(sm.kv(), "d"), vec![(7, 2, b"2".to_vec())]);
    }
}

//! Proposal batching: writes that arrive while earlier ones are being
//! committed go into one Raft entry together.
//!
//! One entry costs one log append, one replication message per follower and
//! one trip through Raft's core whatever it carries, and on a follower one
//! forward to the leader. So a member keeps only a few batches of its own
//! proposals in flight; what arrives meanwhile waits and is proposed as one
//! [`InternalBatch`] when a slot frees. Under light load every write goes
//! alone and at once; under heavy load the cost is shared by many. etcd gets
//! the same effect from raft's proposal queue, drained once per `Ready`.
//!
//! The leader keeps one entry in flight ([`LEADING_IN_FLIGHT`]), so an entry
//! carries everything that arrived during the last commit. A follower's
//! batch is only a message: the leader splits it into its own queue, and it
//! waits there up to two commits. Holding a follower to one batch at a time
//! would add those commits again to every write queued behind it, so a
//! follower keeps several in flight ([`FORWARDING_IN_FLIGHT`]).
//!
//! Commands in a batch are applied in order, each as its own revision with
//! its own response (see the state machine), so batching changes nothing a
//! client can observe but the cost.

use std::sync::{Arc, Weak};

use berth_proto::raft::internal_request::Request as Command;
use berth_proto::raft::internal_response::Response as Answer;
use berth_proto::raft::{InternalBatch, InternalBatchResponse, InternalRequest, InternalResponse};
use prost::Message;
use tokio::sync::{mpsc, oneshot, Semaphore};

use super::EtcdServer;
use crate::{Result, StoreError};

/// Entries the leader commits at once of the writes it batches.
const LEADING_IN_FLIGHT: usize = 1;

/// Batches a follower has forwarded to the leader and not yet had answered.
const FORWARDING_IN_FLIGHT: usize = 8;

/// Commands per entry at most.
const MAX_COMMANDS: usize = 1024;

/// A write waiting to be proposed, and who waits for its answer.
pub(super) struct Proposal {
    req: InternalRequest,
    answer: oneshot::Sender<Result<InternalResponse>>,
}

/// Where writes queue for proposal.
pub(super) type Queue = mpsc::UnboundedSender<Proposal>;

/// A queue and the receiving end that [`run`] drains.
pub(super) fn queue() -> (Queue, mpsc::UnboundedReceiver<Proposal>) {
    mpsc::unbounded_channel()
}

impl EtcdServer {
    /// Queues a write for the next entry and waits for its answer.
    pub(super) async fn propose_batched(&self, req: InternalRequest) -> Result<InternalResponse> {
        let (answer, answered) = oneshot::channel();
        self.proposals
            .send(Proposal { req, answer })
            .map_err(|_| StoreError::Stopped)?;
        answered.await.map_err(|_| StoreError::Stopped)?
    }

    /// A follower's forwarded writes (the peer service's `Propose`): queued
    /// with this member's own, so that one entry carries them all. A member
    /// that does not lead answers `not leader`, so the follower may send
    /// them to the leader it finds next without applying them twice.
    pub async fn propose_forwarded(&self, req: InternalRequest) -> Result<InternalResponse> {
        if self.too_large(&req) {
            return Err(StoreError::RequestTooLarge);
        }
        if !self.is_leader() {
            return Err(StoreError::NotLeader);
        }
        let Some(Command::Batch(batch)) = req.request else {
            return self.propose_batched(req).await;
        };
        let answers =
            futures::future::join_all(batch.requests.into_iter().map(|r| self.propose_batched(r)))
                .await;
        let responses = answers.into_iter().collect::<Result<Vec<_>>>()?;
        // The commands may have gone into different entries; the follower
        // waits for the last of them.
        let log_index = responses.iter().map(|r| r.log_index).max().unwrap_or(0);
        Ok(InternalResponse {
            response: Some(Answer::Batch(InternalBatchResponse { responses })),
            log_index,
        })
    }
}

/// Drains the queue into batches, as many at a time as the member's role
/// allows, until the server is gone.
pub(super) async fn run(mut queue: mpsc::UnboundedReceiver<Proposal>, server: Weak<EtcdServer>) {
    let leading = Arc::new(Semaphore::new(LEADING_IN_FLIGHT));
    let forwarding = Arc::new(Semaphore::new(FORWARDING_IN_FLIGHT));
    let mut next: Option<Proposal> = None;
    loop {
        let first = match next.take() {
            Some(p) => p,
            None => match queue.recv().await {
                Some(p) => p,
                None => return,
            },
        };
        let slots = match server.upgrade() {
            Some(server) if server.is_leader() => Arc::clone(&leading),
            Some(_) => Arc::clone(&forwarding),
            None => {
                let _ = first.answer.send(Err(StoreError::Stopped));
                return;
            }
        };
        // Wait for a slot before gathering, so the batch takes everything
        // that arrived while the earlier entries were being committed.
        let Ok(slot) = slots.acquire_owned().await else {
            return;
        };
        let Some(server) = server.upgrade() else {
            let _ = first.answer.send(Err(StoreError::Stopped));
            return;
        };
        let limit = server.config.max_request_bytes;
        let mut bytes = batched_len(&first.req);
        let mut batch = vec![first];
        while batch.len() < MAX_COMMANDS {
            let Ok(p) = queue.try_recv() else { break };
            let len = batched_len(&p.req);
            if bytes + len > limit {
                next = Some(p);
                break;
            }
            bytes += len;
            batch.push(p);
        }
        tokio::spawn(async move {
            commit(&server, batch).await;
            drop(slot);
        });
    }
}

/// A command's share of a batch's encoded size.
fn batched_len(req: &InternalRequest) -> usize {
    let len = req.encoded_len();
    1 + prost::encoding::encoded_len_varint(len as u64) + len
}

/// Proposes the batch as one entry and hands each waiter its answer.
async fn commit(server: &EtcdServer, mut batch: Vec<Proposal>) {
    if batch.len() == 1 {
        if let Some(p) = batch.pop() {
            let answer = server.propose_within_timeout(p.req).await;
            let _ = p.answer.send(answer);
        }
        return;
    }
    let (requests, waiters): (Vec<_>, Vec<_>) =
        batch.into_iter().map(|p| (p.req, p.answer)).unzip();
    let count = requests.len();
    let entry = InternalRequest {
        request: Some(Command::Batch(InternalBatch { requests })),
    };
    let answers = match server.propose_within_timeout(entry).await {
        Ok(InternalResponse {
            response: Some(Answer::Batch(answers)),
            log_index,
        }) if answers.responses.len() == count => Ok(answers
            .responses
            .into_iter()
            .map(|mut answer| {
                // A forwarded batch's answers carry their own entries' indexes.
                answer.log_index = answer.log_index.max(log_index);
                answer
            })
            .collect::<Vec<_>>()),
        Ok(other) => Err(StoreError::Storage(format!(
            "a batch of {count} commands was answered with {:?}",
            other.response
        ))),
        Err(e) => Err(e),
    };
    match answers {
        Ok(answers) => {
            for (waiter, answer) in waiters.into_iter().zip(answers) {
                let _ = waiter.send(Ok(answer));
            }
        }
        Err(e) => {
            for waiter in waiters {
                let _ = waiter.send(Err(e.clone()));
            }
        }
    }
}

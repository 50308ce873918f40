//! Writes: every change is one Raft log entry, proposed on the leader.
//!
//! A follower hands its writes to the leader over the peer service. It does
//! not retry a write once the leader may have received it: a write whose
//! outcome is unknown is reported as such (`request timed out`), never
//! applied twice.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use berth_proto::raft::{internal_request, internal_response, InternalRequest, InternalResponse};
use openraft::error::{ClientWriteError, RaftError};
use prost::Message;

use super::EtcdServer;
use crate::raft::Request;
use crate::{Result, StoreError};

/// How long to wait between attempts while no leader is known.
const LEADER_POLL: Duration = Duration::from_millis(50);

impl EtcdServer {
    /// Proposes a command and returns what applying it answered; refusals
    /// decided while applying come back as their `StoreError`.
    pub async fn propose(&self, req: InternalRequest) -> Result<InternalResponse> {
        if req.encoded_len() > self.config.max_request_bytes {
            return Err(StoreError::RequestTooLarge);
        }
        let started = tokio::time::Instant::now();
        let planted =
            crate::faults::active(crate::faults::Fault::AckUncommitted).then(|| req.clone());
        let response = tokio::time::timeout(self.config.request_timeout, self.propose_batched(req))
            .await
            .map_err(|_| StoreError::Timeout)
            .and_then(|r| r)
            .inspect_err(|_| {
                self.metrics.proposals_failed.inc();
            });
        let response = match (response, planted) {
            (Err(StoreError::Timeout), Some(req)) => {
                crate::faults::acknowledge(&req, self.kv.current_revision())
                    .ok_or(StoreError::Timeout)?
            }
            (response, _) => response?,
        };
        self.metrics
            .proposal_duration
            .observe(started.elapsed().as_secs_f64());
        match response.response {
            Some(internal_response::Response::Error(e)) => {
                Err(StoreError::from_code_message(e.code, &e.message))
            }
            _ => Ok(response),
        }
    }

    /// Proposes one entry through whichever member leads, giving up after
    /// the request timeout.
    pub(super) async fn propose_within_timeout(
        &self,
        req: InternalRequest,
    ) -> Result<InternalResponse> {
        tokio::time::timeout(self.config.request_timeout, self.propose_any(req))
            .await
            .map_err(|_| StoreError::Timeout)?
    }

    async fn propose_any(&self, req: InternalRequest) -> Result<InternalResponse> {
        loop {
            // A follower that knows its leader sends the write there at once,
            // rather than through its own Raft core only to be told to. If
            // that member no longer leads it answers `not leader` without
            // taking the write, and Raft's answer below names the next one.
            let tried = self
                .leader()
                .filter(|l| *l != self.id)
                .and_then(|l| self.peer_url(l));
            if let Some(url) = &tried {
                match self.forward(url, req.clone()).await {
                    Err(StoreError::NotLeader) => {}
                    other => return other,
                }
            }
            match self.raft.client_write(Request(req.clone())).await {
                Ok(written) => return Ok(carried_at(written.data.response, written.log_id.index)),
                Err(RaftError::APIError(ClientWriteError::ForwardToLeader(fwd))) => {
                    match fwd.leader_node {
                        // The member just asked is not asked again at once.
                        Some(leader)
                            if fwd.leader_id != Some(self.id)
                                && tried.as_deref() != Some(leader.peer_url.as_str()) =>
                        {
                            match self.forward(&leader.peer_url, req.clone()).await {
                                Err(StoreError::NotLeader) => {}
                                other => return other,
                            }
                        }
                        _ => {}
                    }
                    // No leader yet, or the one we knew stepped down before the
                    // write reached it: wait for the next one.
                    tokio::time::sleep(LEADER_POLL).await;
                }
                Err(RaftError::APIError(ClientWriteError::ChangeMembershipError(e))) => {
                    return Err(StoreError::Other(
                        tonic::Code::Internal as i32,
                        e.to_string(),
                    ))
                }
                Err(RaftError::Fatal(_)) => return Err(StoreError::Stopped),
            }
        }
    }

    /// Hands a write to the member at `peer_url` and, once it has answered,
    /// waits until this member has applied the entry too. An etcd operation
    /// is complete when the member that took it has executed it, so a client
    /// then reads its write here even serializably, and this member's
    /// watchers have its events no later than the client has its answer.
    async fn forward(&self, peer_url: &str, req: InternalRequest) -> Result<InternalResponse> {
        let mut client = self.peers.client(peer_url)?;
        match client.propose(req).await {
            Ok(resp) => {
                let resp = resp.into_inner();
                self.wait_applied(resp.log_index).await?;
                Ok(resp)
            }
            Err(status) if status.code() == tonic::Code::FailedPrecondition => {
                Err(StoreError::NotLeader)
            }
            // Never connected: the write was not sent, so finding the next
            // leader and sending it there cannot apply it twice.
            Err(status) if super::peers::never_connected(&status) => Err(StoreError::NotLeader),
            // Sent, and then the connection failed: the leader may or may not
            // have taken the write.
            Err(status) if status.code() == tonic::Code::Unavailable => Err(StoreError::Timeout),
            Err(status) => Err(status.into()),
        }
    }

    /// Proposes on this member only, as its own entry, for what only the
    /// leader may propose (lease expiry): a member that does not lead
    /// answers `not leader` rather than hand the command on.
    pub async fn propose_local(&self, req: InternalRequest) -> Result<InternalResponse> {
        if req.encoded_len() > self.config.max_request_bytes {
            return Err(StoreError::RequestTooLarge);
        }
        match self.raft.client_write(Request(req)).await {
            Ok(written) => Ok(carried_at(written.data.response, written.log_id.index)),
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_))) => {
                Err(StoreError::NotLeader)
            }
            Err(RaftError::APIError(e)) => Err(StoreError::Other(
                tonic::Code::Internal as i32,
                e.to_string(),
            )),
            Err(RaftError::Fatal(_)) => Err(StoreError::Stopped),
        }
    }

    /// Whether a proposal from a peer exceeds the request limit: a batch
    /// may carry commands up to the limit each and twice the limit in all
    /// (the peer service's message limit).
    pub(super) fn too_large(&self, req: &InternalRequest) -> bool {
        let limit = self.config.max_request_bytes;
        match &req.request {
            Some(internal_request::Request::Batch(batch)) => {
                req.encoded_len() > limit.saturating_mul(2)
                    || batch.requests.iter().any(|r| r.encoded_len() > limit)
            }
            _ => req.encoded_len() > limit,
        }
    }

    /// A fresh lease ID (used when a grant asks for ID 0).
    pub fn next_lease_id(&self) -> i64 {
        self.lease_ids.next()
    }
}

/// `response`, marked as carried by the log entry at `index`.
fn carried_at(mut response: InternalResponse, index: u64) -> InternalResponse {
    response.log_index = index;
    response
}

/// Lease IDs unique across the cluster without coordination, as etcd's
/// `idutil`: the member ID's low bits, then a counter seeded from the start
/// time so a restarted member does not reuse its earlier IDs.
pub(crate) struct LeaseIdGenerator {
    prefix: u64,
    counter: AtomicU64,
}

impl LeaseIdGenerator {
    pub(crate) fn new(member_id: u64, start_millis: u64) -> LeaseIdGenerator {
        LeaseIdGenerator {
            // 15 bits of member ID keep the result a positive i64.
            prefix: (member_id & 0x7fff) << 48,
            counter: AtomicU64::new((start_millis & 0xff_ffff_ffff) << 8),
        }
    }

    pub(crate) fn next(&self) -> i64 {
        let suffix = self.counter.fetch_add(1, Ordering::Relaxed) & 0xffff_ffff_ffff;
        i64::try_from(self.prefix | suffix).unwrap_or(1).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_ids_are_positive_and_distinct() {
        let ids = LeaseIdGenerator::new(u64::MAX, 1_700_000_000_000);
        let a = ids.next();
        let b = ids.next();
        assert!(a > 0 && b > 0);
        assert_ne!(a, b);
        let other = LeaseIdGenerator::new(3, 1_700_000_000_000);
        assert_ne!(other.next(), a);
    }
}

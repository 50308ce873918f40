//! Lease requests and the leader's expiry loop.

use std::sync::Weak;
use std::time::Duration;

use berth_proto::etcdserverpb::{
    LeaseGrantRequest, LeaseGrantResponse, LeaseKeepAliveRequest, LeaseKeepAliveResponse,
    LeaseRevokeRequest, LeaseRevokeResponse, LeaseTimeToLiveRequest, LeaseTimeToLiveResponse,
};
use berth_proto::raft::{internal_request, internal_response, InternalRequest};

use super::EtcdServer;
use crate::lease::MAX_LEASE_TTL;
use crate::{Result, StoreError};

/// How often the leader looks for expired leases.
const EXPIRY_CHECK: Duration = Duration::from_millis(500);
/// At most this many revokes per check (etcd's lease revoke rate is 1000/s).
const REVOKES_PER_CHECK: usize = 500;

impl EtcdServer {
    /// The smallest TTL granted: 1.5 election timeouts, rounded up to whole
    /// seconds (etcd's `minTTL`), so a lease survives a leader election.
    pub fn min_lease_ttl(&self) -> i64 {
        let millis = self.config.election_timeout.as_millis() * 3 / 2;
        i64::try_from(millis.div_ceil(1000)).unwrap_or(i64::MAX)
    }

    /// Grants a lease: picks an ID if none was asked for, raises the TTL to
    /// the minimum, and replicates the grant.
    pub async fn lease_grant(&self, req: LeaseGrantRequest) -> Result<LeaseGrantResponse> {
        if req.ttl > MAX_LEASE_TTL {
            return Err(StoreError::LeaseTtlTooLarge);
        }
        let grant = LeaseGrantRequest {
            id: if req.id == 0 {
                self.next_lease_id()
            } else {
                req.id
            },
            ttl: req.ttl.max(self.min_lease_ttl()),
        };
        let resp = self
            .propose(InternalRequest {
                request: Some(internal_request::Request::LeaseGrant(grant)),
            })
            .await?;
        match resp.response {
            Some(internal_response::Response::LeaseGrant(r)) => Ok(r),
            _ => Err(unexpected()),
        }
    }

    /// Revokes a lease and deletes its keys, in one revision.
    pub async fn lease_revoke(&self, req: LeaseRevokeRequest) -> Result<LeaseRevokeResponse> {
        let resp = self
            .propose(InternalRequest {
                request: Some(internal_request::Request::LeaseRevoke(req)),
            })
            .await?;
        match resp.response {
            Some(internal_response::Response::LeaseRevoke(r)) => Ok(r),
            _ => Err(unexpected()),
        }
    }

    /// Renews a lease on the leader (forwarded there by followers). An
    /// unknown lease answers TTL 0, as etcd does, which clients read as
    /// "expired".
    pub async fn lease_keep_alive(&self, id: i64) -> Result<LeaseKeepAliveResponse> {
        if self.is_leader() {
            // A leader cut off from the others may already be deposed: a
            // renewal it granted would promise a TTL the real leader never
            // heard of. Confirm leadership with a quorum first (as etcd's
            // `ensureLeadership` does).
            self.confirm_leadership().await?;
            let ttl = self.lessor.renew(id).unwrap_or(0);
            return Ok(LeaseKeepAliveResponse {
                header: Some(self.header()),
                id,
                ttl,
            });
        }
        let leader = self.leader_peer_url().ok_or(StoreError::NoLeader)?;
        let mut client = self.peers.client(&leader)?;
        let resp = client
            .lease_keep_alive(LeaseKeepAliveRequest { id })
            .await?;
        Ok(resp.into_inner())
    }

    /// A lease's remaining TTL as the leader sees it; TTL -1 if it does not
    /// exist (etcd's answer).
    pub async fn lease_time_to_live(
        &self,
        req: LeaseTimeToLiveRequest,
    ) -> Result<LeaseTimeToLiveResponse> {
        if !self.is_leader() {
            let leader = self.leader_peer_url().ok_or(StoreError::NoLeader)?;
            let mut client = self.peers.client(&leader)?;
            return Ok(client.lease_time_to_live(req).await?.into_inner());
        }
        // The lease table must include every grant committed before this call.
        self.linearizable_read().await?;
        let Some(remaining) = self.lessor.remaining(req.id) else {
            return Ok(LeaseTimeToLiveResponse {
                header: Some(self.header()),
                id: req.id,
                ttl: -1,
                ..Default::default()
            });
        };
        let keys = if req.keys {
            self.kv.lease_keys(req.id)?
        } else {
            Vec::new()
        };
        Ok(LeaseTimeToLiveResponse {
            header: Some(self.header()),
            id: req.id,
            ttl: remaining.ttl,
            granted_ttl: remaining.granted_ttl,
            keys,
        })
    }

    fn leader_peer_url(&self) -> Option<String> {
        self.peer_url(self.leader()?)
    }
}

fn unexpected() -> StoreError {
    StoreError::Other(
        tonic::Code::Internal as i32,
        "unexpected apply response".into(),
    )
}

/// The leader's loop: extend every lease on becoming leader, then revoke
/// leases whose deadline passes. Ends when the server is dropped.
impl EtcdServer {
    /// Returns once a quorum has confirmed that this member still leads.
    async fn confirm_leadership(&self) -> Result<()> {
        tokio::time::timeout(self.config.request_timeout, self.read_index_local())
            .await
            .map_err(|_| StoreError::Timeout)?
            .map(|_| ())
    }

    /// Revokes an expired lease through this member's own log only. A
    /// deposed leader's expiry must never be forwarded to the new leader,
    /// whose deadlines (extended on promotion, renewed by keep-alives the old
    /// one never saw) are the ones that count; proposed locally, it can only
    /// commit while this member still leads.
    async fn revoke_expired(&self, id: i64) -> Result<()> {
        let req = InternalRequest {
            request: Some(internal_request::Request::LeaseRevoke(LeaseRevokeRequest {
                id,
            })),
        };
        let resp = tokio::time::timeout(self.config.request_timeout, self.propose_local(req))
            .await
            .map_err(|_| StoreError::Timeout)??;
        match resp.response {
            Some(internal_response::Response::LeaseRevoke(_)) => Ok(()),
            Some(internal_response::Response::Error(e)) => {
                match StoreError::from_code_message(e.code, &e.message) {
                    StoreError::LeaseNotFound => Ok(()),
                    other => Err(other),
                }
            }
            _ => Err(unexpected()),
        }
    }
}

pub(crate) async fn run_expiry(server: Weak<EtcdServer>) {
    let mut was_leader = false;
    let mut tick = tokio::time::interval(EXPIRY_CHECK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(server) = server.upgrade() else {
            return;
        };
        let leader = server.is_leader();
        if leader && !was_leader {
            server.lessor.promote();
        }
        was_leader = leader;
        if !leader {
            continue;
        }
        let expired = server.lessor.expired(REVOKES_PER_CHECK);
        if expired.is_empty() {
            continue;
        }
        if let Err(e) = server.confirm_leadership().await {
            tracing::debug!(error = %e, "not expiring leases: leadership not confirmed");
            continue;
        }
        for id in expired {
            if let Err(e) = server.revoke_expired(id).await {
                tracing::warn!(lease = id, error = %e, "revoking expired lease");
                break;
            }
        }
    }
}

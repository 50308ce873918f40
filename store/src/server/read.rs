//! Linearizable reads by read index (Raft §6.4): the leader confirms with a
//! quorum that it still leads and names its commit index; the reading member
//! waits until it has applied that far, then reads locally.

use std::time::Duration;

use openraft::error::{CheckIsLeaderError, RaftError};

use super::EtcdServer;
use crate::{Result, StoreError};

const RETRY: Duration = Duration::from_millis(50);

impl EtcdServer {
    /// Returns once a read of the local state machine is linearizable.
    pub async fn linearizable_read(&self) -> Result<()> {
        if crate::faults::active(crate::faults::Fault::StaleRead) {
            return Ok(());
        }
        tokio::time::timeout(self.config.request_timeout, self.read_index_any())
            .await
            .map_err(|_| StoreError::Timeout)?
    }

    async fn read_index_any(&self) -> Result<()> {
        loop {
            match self.raft.ensure_linearizable().await {
                Ok(_) => return Ok(()),
                Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(fwd))) => {
                    if let Some(leader) = fwd.leader_node.filter(|_| fwd.leader_id != Some(self.id))
                    {
                        let mut client = self.peers.client(&leader.peer_url)?;
                        match client
                            .read_index(berth_proto::raft::ReadIndexRequest {})
                            .await
                        {
                            Ok(resp) => return self.wait_applied(resp.into_inner().index).await,
                            Err(status) => {
                                tracing::debug!(%status, "read index from leader failed");
                            }
                        }
                    }
                }
                Err(RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(_))) => {}
                Err(RaftError::Fatal(_)) => return Err(StoreError::Stopped),
            }
            tokio::time::sleep(RETRY).await;
        }
    }

    /// The leader's half of a follower's read index: the index a read must
    /// wait for, after confirming leadership with a quorum.
    pub async fn read_index_local(&self) -> Result<u64> {
        match self.raft.get_read_log_id().await {
            Ok((read_log_id, _)) => Ok(read_log_id.map(|l| l.index).unwrap_or(0)),
            Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(_))) => {
                Err(StoreError::NotLeader)
            }
            Err(RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(_))) => {
                Err(StoreError::NoLeader)
            }
            Err(RaftError::Fatal(_)) => Err(StoreError::Stopped),
        }
    }

    async fn wait_applied(&self, index: u64) -> Result<()> {
        self.raft
            .wait(None)
            .applied_index_at_least(Some(index), "read index")
            .await
            .map(|_| ())
            .map_err(|_| StoreError::Stopped)
    }
}

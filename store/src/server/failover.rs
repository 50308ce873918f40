//! Failover when the leader's process is gone: its followers campaign at
//! once instead of waiting out the leader lease and an election timeout.
//!
//! openraft elects on silence alone: a follower that stops hearing from the
//! leader refuses other candidates for the leader lease (one election
//! timeout, etcd's check-quorum lease) and campaigns after the lease plus its
//! own randomized timeout (see `crate::raft::config`). That wait is right
//! while the leader may still be alive behind a slow or cut link. When the
//! leader's peer port refuses connections its process is gone, and the wait
//! buys nothing.
//!
//! So a follower that has not heard from its leader for
//! [`SILENT_HEARTBEATS`] asks whether it is gone, and if so campaigns. The
//! other followers' leases stand in the way (they refuse its vote requests)
//! unless they have campaigned themselves: a candidate's vote is its own, no
//! longer the leader's. Hence every follower that finds the leader gone
//! campaigns, and campaigns again while no leader has come of the last
//! campaign it started or voted for within a heartbeat interval (a winner's
//! first append arrives well within that); the second round meets no lease.
//!
//! A member stops pushing when a member whose log is ahead of its own
//! refuses its vote (`crate::raft::RefusedForLog`): it cannot win, and
//! campaigning at heartbeat pace would keep raising the term over the head
//! of the one that can. It stops, too, one election timeout after it found
//! the leader gone, leaving the election to openraft's own timer, so that a
//! member cut off from the others does not raise its term at heartbeat pace
//! for long.
//!
//! Safety does not rest on any of this. A candidate wins only with the votes
//! of a quorum and with every committed entry in its log (Raft §5.4.1, the
//! election restriction), and linearizable reads confirm leadership with a
//! quorum each time (read index, `super::read`), never by a lease. A leader
//! wrongly found gone costs one election.

use std::sync::Weak;
use std::time::Duration;

use openraft::error::Fatal;
use openraft::AsyncRuntime;
use rand::Rng;
use tokio::time::Instant;

use super::EtcdServer;
use crate::raft::Runtime;

/// Heartbeat intervals without a word from the leader before a follower
/// asks whether it is still there. openraft's leader sends on its tick,
/// every one and a half intervals, so this is two heartbeats missed.
const SILENT_HEARTBEATS: u32 = 3;

/// A leader this member found gone.
struct Gone {
    peer_url: String,
    since: Instant,
    /// The count of this member's votes refused for a longer log when it
    /// last campaigned.
    refused_for_log: u64,
}

/// Looks at the leader about once a heartbeat interval, until the server is
/// dropped or its Raft stops.
pub(crate) async fn run_failover(server: Weak<EtcdServer>) {
    let mut gone = None;
    loop {
        let Some(heartbeat) = server.upgrade().map(|s| s.config.heartbeat_interval) else {
            return;
        };
        tokio::time::sleep(jittered(heartbeat)).await;
        let Some(member) = server.upgrade() else {
            return;
        };
        if member.check_leader(&mut gone).await.is_err() {
            return;
        }
    }
}

/// One heartbeat interval, give or take half: followers that found the
/// leader gone at the same time campaign at different moments, not in step
/// (which would split the vote round after round). The draw comes from
/// Raft's generator, so that a seeded simulation replays it.
fn jittered(heartbeat: Duration) -> Duration {
    heartbeat.mul_f64(Runtime::thread_rng().gen_range(0.5..1.5))
}

impl EtcdServer {
    async fn check_leader(&self, gone: &mut Option<Gone>) -> Result<(), Fatal<u64>> {
        let (leader, voter) = {
            let metrics = self.raft.metrics();
            let m = metrics.borrow();
            let voter = m
                .membership_config
                .membership()
                .voter_ids()
                .any(|id| id == self.id);
            (m.current_leader, voter)
        };
        if !voter {
            *gone = None;
            return Ok(());
        }
        let patience = self.config.heartbeat_interval;
        match leader {
            Some(leader) if leader == self.id => *gone = None,
            Some(leader) => {
                *gone = None;
                let heard = self
                    .raft
                    .with_raft_state(|st| st.vote_last_modified())
                    .await?;
                let silence = self.config.heartbeat_interval * SILENT_HEARTBEATS;
                if heard.is_some_and(|at| at.elapsed() < silence) {
                    return Ok(());
                }
                let Some(peer_url) = self.peer_url(leader) else {
                    return Ok(());
                };
                if self.peers.gone(&peer_url, patience).await {
                    tracing::info!(
                        leader = format!("{leader:x}"),
                        "the leader's process is gone: campaigning"
                    );
                    *gone = Some(Gone {
                        peer_url,
                        since: Instant::now(),
                        refused_for_log: self.refused_for_log.count(),
                    });
                    self.raft.trigger().elect().await?;
                }
            }
            None => {
                let Some(found) = gone.as_mut() else {
                    return Ok(());
                };
                if found.since.elapsed() >= self.config.election_timeout
                    || found.refused_for_log != self.refused_for_log.count()
                {
                    *gone = None;
                    return Ok(());
                }
                // The campaign this member started or voted for last may
                // still be winning: not before its winner could be heard.
                let voted = self
                    .raft
                    .with_raft_state(|st| st.vote_last_modified())
                    .await?;
                if voted.is_some_and(|at| at.elapsed() < self.config.heartbeat_interval) {
                    return Ok(());
                }
                if !self.peers.gone(&found.peer_url, patience).await {
                    *gone = None;
                    return Ok(());
                }
                tracing::debug!("no leader yet and the old one still gone: campaigning again");
                found.refused_for_log = self.refused_for_log.count();
                self.raft.trigger().elect().await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::net::TcpListener;
    use tokio::task::JoinHandle;
    use tokio_stream::wrappers::TcpListenerStream;

    use super::*;
    use crate::server::{start, ServerConfig};
    use crate::transport::tcp_connector;

    const HEARTBEAT: Duration = Duration::from_millis(50);
    const ELECTION_TIMEOUT: Duration = Duration::from_millis(500);

    struct Member {
        server: Arc<EtcdServer>,
        serving: JoinHandle<()>,
    }

    /// Three members serving their peer service on loopback.
    async fn three_members(dir: &std::path::Path) -> Vec<Member> {
        let mut listeners = Vec::new();
        for _ in 0..3 {
            listeners.push(TcpListener::bind("127.0.0.1:0").await.unwrap());
        }
        let initial: Vec<(String, String)> = listeners
            .iter()
            .enumerate()
            .map(|(i, l)| {
                (
                    format!("m{i}"),
                    format!("http://{}", l.local_addr().unwrap()),
                )
            })
            .collect();
        let mut members = Vec::new();
        for (listener, (name, url)) in listeners.into_iter().zip(&initial) {
            let mut config = ServerConfig::single(name, dir.join(name), url, "");
            config.initial_cluster = initial.clone();
            config.heartbeat_interval = HEARTBEAT;
            config.election_timeout = ELECTION_TIMEOUT;
            let server = start(config, tcp_connector()).await.unwrap();
            let peers = crate::grpc::serve_peers(
                server.clone(),
                TcpListenerStream::new(listener),
                std::future::pending(),
            );
            let serving = tokio::spawn(async move {
                let _ = peers.await;
            });
            members.push(Member { server, serving });
        }
        members
    }

    /// The leader all of `members` follow, once they agree on one other
    /// than `not`.
    async fn agreed_leader(members: &[&Arc<EtcdServer>], not: Option<u64>) -> u64 {
        loop {
            let seen: Vec<Option<u64>> = members.iter().map(|m| m.leader()).collect();
            let agreed = seen[0].filter(|l| Some(*l) != not && seen.iter().all(|s| *s == seen[0]));
            if let Some(leader) = agreed {
                return leader;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_stopped_leader_is_replaced_within_one_election_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let members = three_members(dir.path()).await;
        let all: Vec<_> = members.iter().map(|m| &m.server).collect();
        let old = tokio::time::timeout(Duration::from_secs(10), agreed_leader(&all, None))
            .await
            .expect("no first leader");
        let (stopped, survivors): (Vec<_>, Vec<_>) =
            members.iter().partition(|m| m.server.id() == old);
        // As a killed process: the peer port closes, heartbeats end.
        let stopped_at = Instant::now();
        stopped[0].serving.abort();
        stopped[0].server.shutdown().await;

        let survivors: Vec<_> = survivors.iter().map(|m| &m.server).collect();
        tokio::time::timeout(
            Duration::from_secs(10),
            agreed_leader(&survivors, Some(old)),
        )
        .await
        .expect("no new leader");
        let took = stopped_at.elapsed();
        // openraft alone waits out the leader lease (an election timeout)
        // and then a timeout of its own.
        assert!(took < ELECTION_TIMEOUT, "a new leader after {took:?}");
        for m in &members {
            m.serving.abort();
            m.server.shutdown().await;
        }
    }
}

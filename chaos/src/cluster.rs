//! Store members as turmoil hosts: the real server, its RocksDB data in a
//! per-member directory that outlives crashes, served on turmoil's sockets.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_store::grpc::{serve_clients, serve_peers};
use berth_store::raft::{Raft, ServerState};
use berth_store::server::{self, ServerConfig};
use turmoil::net::TcpListener;
use turmoil::Sim;

use crate::net;

/// Port of the etcd client services on every member.
pub const CLIENT_PORT: u16 = 2379;
/// Port of the peer service on every member.
pub const PEER_PORT: u16 = 2380;

/// Raft timing of the simulated members: etcd's defaults.
pub const HEARTBEAT: Duration = Duration::from_millis(100);
/// See [`HEARTBEAT`].
pub const ELECTION_TIMEOUT: Duration = Duration::from_millis(1000);
/// How long a member waits for a proposal or read index before answering
/// `request timed out`; shorter than a client's patience, so that clients
/// see the store's own timeouts.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

/// The host name of member `i` (0-based).
pub fn member_name(i: usize) -> String {
    format!("m{}", i + 1)
}

/// Member `i`'s client URL.
pub fn client_url(i: usize) -> String {
    format!("http://{}:{CLIENT_PORT}", member_name(i))
}

/// What the driver of the simulation knows about each running member's
/// Raft role, published by the members themselves.
#[derive(Clone, Default)]
pub struct Roles {
    inner: Arc<Mutex<BTreeMap<usize, Role>>>,
}

/// A member's view of itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Role {
    /// Its current term.
    pub term: u64,
    /// Whether it leads in that term.
    pub leader: bool,
}

impl Roles {
    fn set(&self, member: usize, role: Role) {
        self.lock().insert(member, role);
    }

    /// Forgets a member (it crashed; it republishes when it restarts).
    pub fn forget(&self, member: usize) {
        self.lock().remove(&member);
    }

    /// The leader of the highest term any running member knows of.
    pub fn leader(&self) -> Option<usize> {
        self.lock()
            .iter()
            .filter(|(_, r)| r.leader)
            .max_by_key(|(_, r)| r.term)
            .map(|(m, _)| *m)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<usize, Role>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The configuration of member `i` of an `n`-member cluster.
pub fn config(i: usize, n: usize, data_dir: PathBuf) -> ServerConfig {
    let initial_cluster = (0..n)
        .map(|j| {
            (
                member_name(j),
                format!("http://{}:{PEER_PORT}", member_name(j)),
            )
        })
        .collect();
    let mut config = ServerConfig::single(&member_name(i), data_dir, "", &client_url(i));
    config.initial_cluster = initial_cluster;
    config.heartbeat_interval = HEARTBEAT;
    config.election_timeout = ELECTION_TIMEOUT;
    config.request_timeout = REQUEST_TIMEOUT;
    // Small enough that restarted members catch up by snapshot in longer runs.
    config.snapshot_count = 500;
    config
}

/// Adds `n` members to the simulation, member `i`'s data under `dir/m<i+1>`.
/// Crashing a member drops its tasks and open handles; bouncing it starts
/// the server again on the same data, as a restarted process would.
pub fn add_members(sim: &mut Sim<'_>, n: usize, dir: &Path, roles: &Roles) {
    for i in 0..n {
        let config = config(i, n, dir.join(member_name(i)));
        let roles = roles.clone();
        sim.host(member_name(i), move || {
            let mut config = config.clone();
            let roles = roles.clone();
            async move {
                // The simulation's clock, not the host's: a seed replays the
                // same lease IDs, and a restart still starts past earlier ones.
                let clock = turmoil::since_epoch().ok_or("not in a simulation")?;
                config.lease_id_clock = Some(clock.as_millis() as u64);
                let peers = TcpListener::bind(("0.0.0.0", PEER_PORT)).await?;
                let clients = TcpListener::bind(("0.0.0.0", CLIENT_PORT)).await?;
                let server = server::start(config, net::connector()).await?;
                tokio::spawn(publish_role(server.raft().clone(), i, roles));
                let peer_server = server.clone();
                tokio::spawn(async move {
                    let served =
                        serve_peers(peer_server, net::incoming(peers), std::future::pending())
                            .await;
                    if let Err(e) = served {
                        tracing::warn!(error = %e, "peer service stopped");
                    }
                });
                serve_clients(server, net::incoming(clients), std::future::pending()).await?;
                Ok(())
            }
        });
    }
}

async fn publish_role(raft: Raft, member: usize, roles: Roles) {
    let mut metrics = raft.metrics();
    loop {
        let role = {
            let m = metrics.borrow();
            Role {
                term: m.current_term,
                leader: m.state == ServerState::Leader,
            }
        };
        roles.set(member, role);
        if metrics.changed().await.is_err() {
            return;
        }
    }
}

//! The cluster's API address: a TCP balancer in front of the three
//! members' APIs, the part a load balancer or virtual IP plays in a highly
//! available Kubernetes control plane. Each connection goes to the next
//! member in turn that accepts it, so kubectl and the agent keep working
//! while a member is down.
//!
//! Written here rather than taken from a crate: it is a connect with a
//! fallback and `copy_bidirectional`; the proxies on crates.io are whole
//! programs, not libraries.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::layout::Cluster;

/// How long a member gets to accept a connection before the next is tried.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// A bound balancer.
pub struct Balancer {
    listener: TcpListener,
    members: Arc<Vec<SocketAddr>>,
}

impl Balancer {
    /// Binds the cluster's API address.
    pub async fn bind(cluster: &Cluster) -> Result<Balancer> {
        let address = SocketAddr::from(([127, 0, 0, 1], cluster.layout.ports.api));
        let listener = TcpListener::bind(address)
            .await
            .with_context(|| format!("binding the cluster's API address {address}"))?;
        let members = cluster
            .layout
            .ports
            .member_api
            .iter()
            .map(|port| SocketAddr::from(([127, 0, 0, 1], *port)))
            .collect();
        Ok(Balancer {
            listener,
            members: Arc::new(members),
        })
    }

    /// Accepts connections until `stop` turns true.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let next = Arc::new(AtomicUsize::new(0));
        loop {
            let accepted = tokio::select! {
                accepted = self.listener.accept() => accepted,
                _ = stop.wait_for(|s| *s) => return,
            };
            let (client, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait, not spin.
                    tracing::warn!(error = %e, "balancer accept");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let members = Arc::clone(&self.members);
            let first = next.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(async move {
                let Some(mut upstream) = connect_any(&members, first).await else {
                    tracing::warn!(%peer, "no member accepted the connection");
                    return;
                };
                let mut client = client;
                let _ = client.set_nodelay(true);
                let _ = upstream.set_nodelay(true);
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
    }
}

/// The first member, from `first` on in turn, that accepts a connection.
async fn connect_any(members: &[SocketAddr], first: usize) -> Option<TcpStream> {
    for i in 0..members.len() {
        let address = members[(first + i) % members.len()];
        if let Ok(Ok(stream)) =
            tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address)).await
        {
            return Some(stream);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn connections_go_to_a_member_that_is_up() {
        // Two "members": one listening, one not (its port bound then freed).
        let up = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let down = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let down_addr = down.local_addr().unwrap();
        drop(down);
        let members = vec![down_addr, up.local_addr().unwrap()];
        tokio::spawn(async move {
            loop {
                let (mut s, _) = up.accept().await.unwrap();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4];
                    s.read_exact(&mut buf).await.unwrap();
                    s.write_all(b"pong").await.unwrap();
                });
            }
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let balancer = Balancer {
            listener,
            members: Arc::new(members),
        };
        let (_stop, stopped) = watch::channel(false);
        tokio::spawn(balancer.run(stopped));
        for _ in 0..4 {
            let mut s = TcpStream::connect(address).await.unwrap();
            s.write_all(b"ping").await.unwrap();
            let mut buf = [0u8; 4];
            s.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"pong");
        }
    }
}

//! A three-member store cluster in one process over loopback TCP, for the
//! integration tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use berth_proto::etcdserverpb::{
    kv_client::KvClient, lease_client::LeaseClient, watch_client::WatchClient, PutRequest,
    RangeRequest, RangeResponse,
};
use berth_store::server::{self, EtcdServer, ServerConfig};
use berth_store::transport::tcp_connector;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::Channel;

/// One running member and how to stop it.
pub struct Node {
    pub server: Arc<EtcdServer>,
    pub client_url: String,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Addresses and data directories of a cluster, kept across restarts.
pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub configs: Vec<ServerConfig>,
    pub client_addrs: Vec<std::net::SocketAddr>,
    pub peer_addrs: Vec<std::net::SocketAddr>,
    pub nodes: Vec<Option<Node>>,
}

impl Cluster {
    /// Starts `n` members and waits for a leader.
    pub async fn start(n: usize) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        // Every listener is held until all are picked, so no two members
        // (or a member's client and peer ports) share an address.
        let mut held = Vec::new();
        for _ in 0..2 * n {
            held.push(TcpListener::bind("127.0.0.1:0").await.unwrap());
        }
        let addrs: Vec<std::net::SocketAddr> =
            held.iter().map(|l| l.local_addr().unwrap()).collect();
        drop(held);
        let client_addrs: Vec<_> = (0..n).map(|i| addrs[2 * i]).collect();
        let peer_addrs: Vec<_> = (0..n).map(|i| addrs[2 * i + 1]).collect();
        let initial: Vec<(String, String)> = (0..n)
            .map(|i| (format!("n{i}"), format!("http://{}", peer_addrs[i])))
            .collect();
        let configs = (0..n)
            .map(|i| {
                let mut c = ServerConfig::single(
                    &format!("n{i}"),
                    data_dir(dir.path(), i),
                    &initial[i].1,
                    &format!("http://{}", client_addrs[i]),
                );
                c.initial_cluster = initial.clone();
                c.heartbeat_interval = Duration::from_millis(50);
                c.election_timeout = Duration::from_millis(500);
                c.request_timeout = Duration::from_secs(5);
                c.snapshot_count = 200;
                c
            })
            .collect();
        let mut cluster = Cluster {
            dir,
            configs,
            client_addrs,
            peer_addrs,
            nodes: (0..n).map(|_| None).collect(),
        };
        for i in 0..n {
            cluster.start_node(i).await;
        }
        cluster.wait_leader().await;
        cluster
    }

    /// Starts (or restarts) member `i` on its addresses and data.
    pub async fn start_node(&mut self, i: usize) {
        let server = server::start(self.configs[i].clone(), tcp_connector())
            .await
            .expect("start member");
        let (stop, stop_rx) = watch::channel(false);
        let stopped = move || {
            let mut rx = stop_rx.clone();
            async move {
                let _ = rx.wait_for(|s| *s).await;
            }
        };
        let mut tasks = Vec::new();
        let peer = bind_retry(self.peer_addrs[i]).await;
        let client = bind_retry(self.client_addrs[i]).await;
        let s = server.clone();
        let f = stopped();
        tasks.push(tokio::spawn(async move {
            let _ = berth_store::grpc::serve_peers(s, TcpListenerStream::new(peer), f).await;
        }));
        let s = server.clone();
        let f = stopped();
        tasks.push(tokio::spawn(async move {
            let _ = berth_store::grpc::serve_clients(s, TcpListenerStream::new(client), f).await;
        }));
        self.nodes[i] = Some(Node {
            server,
            client_url: format!("http://{}", self.client_addrs[i]),
            stop,
            tasks,
        });
    }

    /// Stops member `i` as a crash would: servers and Raft end, data stays.
    pub async fn stop_node(&mut self, i: usize) {
        if let Some(node) = self.nodes[i].take() {
            let _ = node.stop.send(true);
            for t in &node.tasks {
                t.abort();
            }
            for t in node.tasks {
                let _ = t.await;
            }
            node.server.shutdown().await;
            let weak = Arc::downgrade(&node.server);
            drop(node.server);
            // Background tasks (watch streams, the expiry loop) let go of the
            // member shortly after its servers stop.
            for _ in 0..100 {
                if weak.strong_count() == 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    pub fn node(&self, i: usize) -> &Node {
        self.nodes[i].as_ref().expect("node running")
    }

    /// The index of the current leader, once all running members agree.
    pub async fn wait_leader(&self) -> usize {
        for _ in 0..200 {
            let leaders: Vec<u64> = self
                .nodes
                .iter()
                .flatten()
                .filter_map(|n| n.server.leader())
                .collect();
            if let Some(&first) = leaders.first() {
                let running = self.nodes.iter().flatten().count();
                if leaders.len() == running && leaders.iter().all(|&l| l == first) {
                    if let Some(i) = self
                        .nodes
                        .iter()
                        .position(|n| n.as_ref().map(|n| n.server.id()) == Some(first))
                    {
                        return i;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no leader elected");
    }

    pub async fn kv(&self, i: usize) -> KvClient<Channel> {
        KvClient::new(channel(&self.node(i).client_url).await)
    }

    pub async fn watch(&self, i: usize) -> WatchClient<Channel> {
        WatchClient::new(channel(&self.node(i).client_url).await)
    }

    pub async fn lease(&self, i: usize) -> LeaseClient<Channel> {
        LeaseClient::new(channel(&self.node(i).client_url).await)
    }

    pub async fn stop_all(&mut self) {
        for i in 0..self.nodes.len() {
            self.stop_node(i).await;
        }
    }
}

fn data_dir(root: &Path, i: usize) -> PathBuf {
    root.join(format!("n{i}"))
}

async fn bind_retry(addr: std::net::SocketAddr) -> TcpListener {
    for _ in 0..100 {
        if let Ok(l) = TcpListener::bind(addr).await {
            return l;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("cannot bind {addr}");
}

pub async fn channel(url: &str) -> Channel {
    tonic::transport::Endpoint::from_shared(url.to_string())
        .unwrap()
        .connect_lazy()
}

pub async fn put(kv: &mut KvClient<Channel>, key: &str, value: &str) -> i64 {
    kv.put(PutRequest {
        key: key.into(),
        value: value.into(),
        ..Default::default()
    })
    .await
    .expect("put")
    .into_inner()
    .header
    .expect("header")
    .revision
}

pub async fn get(kv: &mut KvClient<Channel>, key: &str) -> RangeResponse {
    kv.range(RangeRequest {
        key: key.into(),
        ..Default::default()
    })
    .await
    .expect("range")
    .into_inner()
}

/// The value of `key`, read linearizably, or None.
pub async fn value(kv: &mut KvClient<Channel>, key: &str) -> Option<String> {
    get(kv, key)
        .await
        .kvs
        .first()
        .map(|kv| String::from_utf8_lossy(&kv.value).into_owned())
}

pub fn prefix_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

//! Connections to the endpoints under test, shared round-robin by clients.

use berth_proto::etcdserverpb::kv_client::KvClient;
use berth_proto::etcdserverpb::watch_client::WatchClient;
use tonic::transport::{Channel, Endpoint};

/// Why the endpoints could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("endpoint {0:?}: {1}")]
    Endpoint(String, String),
    #[error("no endpoints given")]
    NoEndpoints,
}

/// An endpoint as a URL: `host:port` means plain HTTP.
pub fn url(endpoint: &str) -> String {
    if endpoint.contains("://") {
        endpoint.to_string()
    } else {
        format!("http://{endpoint}")
    }
}

/// `conns` channels spread over `endpoints` (`host:port` or URLs).
#[derive(Clone)]
pub struct Pool {
    channels: Vec<Channel>,
}

impl Pool {
    /// Connects `conns` channels, spread over the endpoints in turn.
    pub async fn connect(endpoints: &[String], conns: usize) -> Result<Pool, ConnectError> {
        if endpoints.is_empty() {
            return Err(ConnectError::NoEndpoints);
        }
        let mut channels = Vec::new();
        for i in 0..conns.max(1) {
            let url = url(&endpoints[i % endpoints.len()]);
            let channel = Endpoint::from_shared(url.clone())
                .map_err(|e| ConnectError::Endpoint(url.clone(), e.to_string()))?
                .connect()
                .await
                .map_err(|e| ConnectError::Endpoint(url.clone(), e.to_string()))?;
            channels.push(channel);
        }
        Ok(Pool { channels })
    }

    /// The KV client of client number `i`.
    pub fn kv(&self, i: usize) -> KvClient<Channel> {
        KvClient::new(self.channels[i % self.channels.len()].clone())
    }

    /// The Watch client of client number `i`.
    pub fn watch(&self, i: usize) -> WatchClient<Channel> {
        WatchClient::new(self.channels[i % self.channels.len()].clone())
    }
}

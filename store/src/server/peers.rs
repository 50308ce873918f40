//! Clients of other members' peer service, one lazily connected channel per
//! peer URL, reused for every forwarded request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use berth_proto::raft::raft_transport_client::RaftTransportClient;
use berth_proto::raft::ReadIndexRequest;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

use crate::transport::Connector;
use crate::{Result, StoreError};

/// Channels to other members.
pub(crate) struct Peers {
    connector: Connector,
    clients: Mutex<HashMap<String, RaftTransportClient<Channel>>>,
    max_message_bytes: usize,
}

impl Peers {
    pub(crate) fn new(connector: Connector, max_message_bytes: usize) -> Peers {
        Peers {
            connector,
            clients: Mutex::new(HashMap::new()),
            max_message_bytes,
        }
    }

    /// A client of the member at `peer_url`.
    pub(crate) fn client(&self, peer_url: &str) -> Result<RaftTransportClient<Channel>> {
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(client) = clients.get(peer_url) {
            return Ok(client.clone());
        }
        let client = self.dial(peer_url)?;
        clients.insert(peer_url.to_string(), client.clone());
        Ok(client)
    }

    /// Whether no process serves `peer_url`: a new connection to it fails
    /// (refused, or no route to its host) within `patience`. A new one,
    /// because a connection opened earlier can outlive the process that
    /// accepted it. No answer within `patience` is not taken for gone: a
    /// slow member or a cut link looks the same, and those are left to the
    /// election timeout.
    pub(crate) async fn gone(&self, peer_url: &str, patience: Duration) -> bool {
        let Ok(mut client) = self.dial(peer_url) else {
            return false;
        };
        // Any request would do; a read index is one that changes nothing.
        let asked = tokio::time::timeout(patience, client.read_index(ReadIndexRequest {})).await;
        matches!(asked, Ok(Err(status)) if never_connected(&status))
    }

    fn dial(&self, peer_url: &str) -> Result<RaftTransportClient<Channel>> {
        let endpoint = Endpoint::from_shared(peer_url.to_string())
            .map_err(|e| StoreError::Other(tonic::Code::InvalidArgument as i32, e.to_string()))?
            .tcp_nodelay(true);
        Ok(RaftTransportClient::new((self.connector)(endpoint))
            .max_decoding_message_size(self.max_message_bytes)
            .max_encoding_message_size(self.max_message_bytes))
    }
}

/// Whether a request failed because no connection to the member could be
/// made, so it never left this member: tonic reports the dialer's failure as
/// `Unavailable` with the connect error as its message.
pub(crate) fn never_connected(status: &Status) -> bool {
    status.code() == Code::Unavailable && status.message().contains("connect")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::tcp_connector;

    const PATIENCE: Duration = Duration::from_millis(500);

    fn peers() -> Peers {
        Peers::new(tcp_connector(), 4 << 20)
    }

    #[tokio::test]
    async fn a_member_nobody_listens_for_is_gone() {
        // Bind then drop a listener: its port is (almost surely) closed.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        assert!(
            peers()
                .gone(&format!("http://127.0.0.1:{port}"), PATIENCE)
                .await
        );
    }

    #[tokio::test]
    async fn a_member_that_accepts_but_does_not_answer_is_not_gone() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let _accepting = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                held.push(stream);
            }
        });
        assert!(!peers().gone(&url, PATIENCE).await);
    }

    #[tokio::test]
    async fn an_unusable_peer_url_is_not_gone() {
        assert!(!peers().gone("not a url", PATIENCE).await);
    }
}

//! Clients of other members' peer service, one lazily connected channel per
//! peer URL, reused for every forwarded request.

use std::collections::HashMap;
use std::sync::Mutex;

use berth_proto::raft::raft_transport_client::RaftTransportClient;
use tonic::transport::{Channel, Endpoint};

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
        let endpoint = Endpoint::from_shared(peer_url.to_string())
            .map_err(|e| StoreError::Other(tonic::Code::InvalidArgument as i32, e.to_string()))?
            .tcp_nodelay(true);
        let client = RaftTransportClient::new((self.connector)(endpoint))
            .max_decoding_message_size(self.max_message_bytes)
            .max_encoding_message_size(self.max_message_bytes);
        clients.insert(peer_url.to_string(), client.clone());
        Ok(client)
    }
}

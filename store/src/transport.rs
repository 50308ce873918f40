//! How members and clients reach each other, injectable so that the same code
//! runs over real TCP and inside turmoil's simulated network.

use std::sync::Arc;
use tonic::transport::{Channel, Endpoint};

/// Makes a lazily connecting gRPC channel for an endpoint. The real one dials
/// TCP; a simulation supplies one that dials its own network.
pub type Connector = Arc<dyn Fn(Endpoint) -> Channel + Send + Sync>;

/// The connector over the host's TCP stack.
pub fn tcp_connector() -> Connector {
    Arc::new(|endpoint: Endpoint| endpoint.connect_lazy())
}

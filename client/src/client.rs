//! The connection to an API server's `berth.api.v1.Resources` service.

use std::time::Duration;

use berth_proto::berth::api::v1::resources_client::ResourcesClient;
use tonic::metadata::AsciiMetadataValue;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use crate::Error;

/// Largest message the client accepts: the API server's body limit
/// (3 MiB) with room for a list of many objects.
const MAX_MESSAGE_BYTES: usize = 256 * 1024 * 1024;

/// A cheap-to-clone handle on one API server; every [`crate::Api`] made from
/// it shares its HTTP/2 connection.
#[derive(Clone, Debug)]
pub struct Client {
    channel: Channel,
    inner: ResourcesClient<InterceptedService<Channel, Credentials>>,
}

/// The credentials sent with every call: a bearer token, as kubectl sends
/// a kubeconfig's `token`, or none.
#[derive(Clone, Debug, Default)]
pub struct Credentials {
    authorization: Option<AsciiMetadataValue>,
}

impl tonic::service::Interceptor for Credentials {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.authorization {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

impl Client {
    /// A client of the API server at `url` (`http://host:port`). It connects
    /// on first use and reconnects by itself after a failure, so a component
    /// can start before its API server does.
    pub fn new(url: &str) -> Result<Self, Error> {
        let endpoint = Endpoint::from_shared(url.to_string())
            .map_err(|e| Error::Transport(format!("{url}: {e}")))?
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_timeout(Duration::from_secs(10));
        Ok(Self::from_channel(endpoint.connect_lazy()))
    }

    /// A client over an existing channel (tests and simulations bring their
    /// own connector).
    pub fn from_channel(channel: Channel) -> Self {
        Self::with_credentials(channel, Credentials::default())
    }

    fn with_credentials(channel: Channel, credentials: Credentials) -> Self {
        Client {
            channel: channel.clone(),
            inner: ResourcesClient::with_interceptor(channel, credentials)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        }
    }

    /// The same connection, authenticating every call with the bearer
    /// `token` (a line of the API server's `--token-auth-file`).
    pub fn with_token(&self, token: &str) -> Result<Self, Error> {
        let value = AsciiMetadataValue::try_from(format!("Bearer {}", token.trim()))
            .map_err(|_| Error::Transport("the token is not printable ASCII".into()))?;
        Ok(Self::with_credentials(
            self.channel.clone(),
            Credentials {
                authorization: Some(value),
            },
        ))
    }

    pub(crate) fn grpc(&self) -> ResourcesClient<InterceptedService<Channel, Credentials>> {
        self.inner.clone()
    }
}

//! The `tcpSocket` probe: success when a TCP connection opens within the
//! timeout. The connection is closed at once; nothing is sent.

use std::time::Duration;

use tokio::net::TcpStream;

use super::{join_host_port, ProbeResult};

/// Opens a TCP connection to `host:port` within `timeout`.
///
/// Failure messages follow the kubelet's (Go's dialer): `dial tcp
/// 10.0.0.5:80: connect: connection refused`, or `... i/o timeout`.
pub async fn probe(host: &str, port: u16, timeout: Duration) -> ProbeResult {
    let address = join_host_port(host, port);
    match tokio::time::timeout(timeout, TcpStream::connect((host, port))).await {
        Ok(Ok(_stream)) => ProbeResult::Success,
        Ok(Err(error)) => ProbeResult::Failure(format!("dial tcp {address}: connect: {error}")),
        Err(_) => ProbeResult::Failure(format!("dial tcp {address}: i/o timeout")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    #[tokio::test]
    async fn listening_port_succeeds() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        assert_eq!(
            probe("127.0.0.1", port, Duration::from_secs(1)).await,
            ProbeResult::Success
        );
    }

    #[tokio::test]
    async fn closed_port_fails_with_the_dial_error() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        match probe("127.0.0.1", port, Duration::from_secs(1)).await {
            ProbeResult::Failure(message) => {
                assert!(
                    message.starts_with(&format!("dial tcp 127.0.0.1:{port}: connect: ")),
                    "{message}"
                );
                assert!(message.to_lowercase().contains("refused"), "{message}");
            }
            other => panic!("expected a failure, got {other:?}"),
        }
    }
}

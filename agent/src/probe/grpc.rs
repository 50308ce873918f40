//! The `grpc` probe: `grpc.health.v1.Health/Check` with the probe's service
//! name, over plaintext HTTP/2 to the pod IP; `SERVING` is success.
//!
//! Messages are the kubelet's, so events read the same as on Kubernetes.

use std::time::Duration;

use tokio::time::Instant;
use tonic::transport::Endpoint;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

use super::{join_host_port, ProbeResult, KUBE_PROBE_USER_AGENT};

/// Checks `service` (empty: the server as a whole) at `host:port`, connection
/// and call together bounded by `timeout`.
pub async fn probe(host: &str, port: u16, service: &str, timeout: Duration) -> ProbeResult {
    let address = join_host_port(host, port);
    let deadline = Instant::now() + timeout;
    let within = go_duration(timeout);

    let endpoint = match Endpoint::from_shared(format!("http://{address}"))
        .and_then(|e| e.user_agent(KUBE_PROBE_USER_AGENT))
    {
        Ok(endpoint) => endpoint,
        Err(error) => {
            return ProbeResult::Failure(format!(
                "error: failed to connect service at {address:?}: {error}"
            ))
        }
    };
    let channel = match tokio::time::timeout_at(deadline, endpoint.connect()).await {
        Ok(Ok(channel)) => channel,
        Ok(Err(error)) => {
            return ProbeResult::Failure(format!(
                "error: failed to connect service at {address:?}: {error}"
            ))
        }
        Err(_) => {
            return ProbeResult::Failure(format!(
                "timeout: failed to connect service {address:?} within {within}: context deadline exceeded"
            ))
        }
    };

    let mut client = HealthClient::new(channel);
    let request = HealthCheckRequest {
        service: service.to_string(),
    };
    let response = match tokio::time::timeout_at(deadline, client.check(request)).await {
        Ok(Ok(response)) => response.into_inner(),
        Ok(Err(status)) => {
            return ProbeResult::Failure(match status.code() {
                Code::Unimplemented => format!(
                    "error: this server does not implement the grpc health protocol (grpc.health.v1.Health): {}",
                    status.message()
                ),
                Code::DeadlineExceeded => {
                    format!("timeout: health rpc did not complete within {within}")
                }
                _ => format!("error: health rpc probe failed: {status}"),
            })
        }
        Err(_) => {
            return ProbeResult::Failure(format!(
                "timeout: health rpc did not complete within {within}"
            ))
        }
    };
    match ServingStatus::try_from(response.status) {
        Ok(ServingStatus::Serving) => ProbeResult::Success,
        Ok(status) => ProbeResult::Failure(format!(
            "service unhealthy (responded with {:?})",
            status.as_str_name()
        )),
        Err(_) => ProbeResult::Failure(format!(
            "service unhealthy (responded with \"{}\")",
            response.status
        )),
    }
}

/// A duration as Go prints it for whole seconds (`1s`), the unit probe
/// timeouts come in.
fn go_duration(duration: Duration) -> String {
    if duration.subsec_nanos() == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}s", duration.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;
    use tokio_stream::wrappers::TcpListenerStream;

    async fn health_server() -> (u16, tonic_health::server::HealthReporter) {
        let (reporter, service) = tonic_health::server::health_reporter();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(TcpListenerStream::new(listener)),
        );
        (port, reporter)
    }

    #[tokio::test]
    async fn serving_service_succeeds_and_others_fail() {
        let (port, reporter) = health_server().await;
        reporter
            .set_service_status("ready", tonic_health::ServingStatus::Serving)
            .await;
        reporter
            .set_service_status("draining", tonic_health::ServingStatus::NotServing)
            .await;
        let timeout = Duration::from_secs(2);
        assert_eq!(
            probe("127.0.0.1", port, "ready", timeout).await,
            ProbeResult::Success
        );
        assert_eq!(
            probe("127.0.0.1", port, "draining", timeout).await,
            ProbeResult::Failure("service unhealthy (responded with \"NOT_SERVING\")".into())
        );
        match probe("127.0.0.1", port, "absent", timeout).await {
            ProbeResult::Failure(message) => {
                assert!(
                    message.starts_with("error: health rpc probe failed:"),
                    "{message}"
                )
            }
            other => panic!("expected failure, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn closed_port_fails_to_connect() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        match probe("127.0.0.1", port, "", Duration::from_secs(1)).await {
            ProbeResult::Failure(message) => assert!(
                message.starts_with(&format!(
                    "error: failed to connect service at \"127.0.0.1:{port}\""
                )),
                "{message}"
            ),
            other => panic!("expected failure, got {other:?}"),
        }
    }

    #[test]
    fn durations_print_like_go() {
        assert_eq!(go_duration(Duration::from_secs(1)), "1s");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
    }
}

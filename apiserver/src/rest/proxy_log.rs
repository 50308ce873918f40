//! `pods/log`, what `kubectl logs` reads: the API server picks the
//! container, finds the agent of the pod's node, and streams that agent's
//! `GET /containerLogs/{namespace}/{pod}/{container}` back unchanged, as
//! kube-apiserver does with the kubelet.

use std::net::Ipv6Addr;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use http_body_util::{BodyExt, BodyStream, Empty, Limited};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpStream;

use super::handlers::read;
use super::{json_response, Api, Params};
use crate::error::{ApiError, Result};
use crate::registry;

/// The kubelet's port, when a Node does not name its own.
pub const DEFAULT_AGENT_PORT: u16 = 10250;

/// The annotation naming the container `kubectl logs` and `exec` default to.
pub const DEFAULT_CONTAINER_ANNOTATION: &str = "kubectl.kubernetes.io/default-container";

/// The query parameters of `PodLogOptions` passed on to the agent; the
/// container travels in the path.
const FORWARDED: [&str; 7] = [
    "follow",
    "previous",
    "tailLines",
    "timestamps",
    "sinceSeconds",
    "sinceTime",
    "limitBytes",
];

/// How long connecting to an agent and waiting for its answer's head may
/// take: an unreachable node must fail the request, not hang it.
const AGENT_TIMEOUT: Duration = Duration::from_secs(10);

/// The most of an agent's error body put into the Status message.
const MAX_ERROR_BYTES: usize = 16 * 1024;

/// `GET /api/v1/namespaces/{ns}/pods/{name}/log`.
pub async fn serve(api: &Api, ns: &str, name: &str, params: &Params) -> Result<Response> {
    let pods = resource("pods")?;
    let (pod, _) = read(api, pods, Some(ns), name).await?;
    let container = choose_container(&pod, name, params.get("container"))?;
    let (node_name, host, port) = agent_of(api, &pod, name).await?;
    let node_name = node_name.as_str();
    let path = agent_path(ns, name, &container, params);
    tracing::debug!(
        ns,
        name,
        container,
        node = node_name,
        host,
        port,
        path,
        "proxying logs"
    );
    proxy(node_name, &host, port, &path).await
}

/// The node a pod is bound to and where that node's agent listens.
pub(super) async fn agent_of(api: &Api, pod: &Value, name: &str) -> Result<(String, String, u16)> {
    let node_name = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::BadRequest(format!("pod {name} does not have a host assigned")))?;
    let (node, _) = read(api, resource("nodes")?, None, node_name).await?;
    let (host, port) = agent_endpoint(&node).ok_or_else(|| {
        ApiError::Store(format!(
            "node \"{node_name}\" has no InternalIP or Hostname address to reach its agent at"
        ))
    })?;
    Ok((node_name.to_string(), host, port))
}

pub(super) fn resource(plural: &str) -> Result<&'static registry::Resource> {
    registry::find("", "v1", plural)
        .ok_or_else(|| ApiError::Store(format!("the core resource {plural} is not registered")))
}

/// The container whose log is asked for: the one named, else the one the
/// default-container annotation names, else the pod's only container.
pub fn choose_container(pod: &Value, name: &str, asked: Option<&str>) -> Result<String> {
    let names = |field: &str| -> Vec<&str> {
        pod.pointer(&format!("/spec/{field}"))
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|c| c.get("name").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default()
    };
    let containers = names("containers");
    let init = names("initContainers");
    let ephemeral = names("ephemeralContainers");
    let valid = |c: &str| containers.contains(&c) || init.contains(&c) || ephemeral.contains(&c);
    if let Some(asked) = asked.filter(|c| !c.is_empty()) {
        if !valid(asked) {
            return Err(ApiError::BadRequest(format!(
                "container {asked} is not valid for pod {name}"
            )));
        }
        return Ok(asked.to_string());
    }
    let annotated = pod
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(DEFAULT_CONTAINER_ANNOTATION))
        .and_then(Value::as_str)
        .filter(|c| valid(c));
    if let Some(container) = annotated {
        return Ok(container.to_string());
    }
    if let [only] = containers.as_slice() {
        return Ok(only.to_string());
    }
    // The lists print as Go prints a slice of strings, as Kubernetes' message.
    let mut message = format!(
        "a container name must be specified for pod {name}, choose one of: [{}]",
        containers.join(" ")
    );
    if !init.is_empty() {
        message.push_str(&format!(
            " or one of the init containers: [{}]",
            init.join(" ")
        ));
    }
    if !ephemeral.is_empty() {
        message.push_str(&format!(
            " or one of the ephemeral containers: [{}]",
            ephemeral.join(" ")
        ));
    }
    Err(ApiError::BadRequest(message))
}

/// Where a Node's agent listens: its InternalIP (else its Hostname) and
/// its kubelet endpoint port.
pub fn agent_endpoint(node: &Value) -> Option<(String, u16)> {
    let addresses = node.pointer("/status/addresses")?.as_array()?;
    let address = |kind: &str| {
        addresses
            .iter()
            .filter(|a| a.get("type").and_then(Value::as_str) == Some(kind))
            .find_map(|a| a.get("address").and_then(Value::as_str))
            .filter(|a| !a.is_empty())
    };
    let host = address("InternalIP").or_else(|| address("Hostname"))?;
    let port = node
        .pointer("/status/daemonEndpoints/kubeletEndpoint/Port")
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p != 0)
        .unwrap_or(DEFAULT_AGENT_PORT);
    Some((host.to_string(), port))
}

/// The agent's path and query for a container's log, with the options of
/// the request.
pub fn agent_path(ns: &str, pod: &str, container: &str, params: &Params) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for name in FORWARDED {
        if let Some(value) = params.get(name) {
            query.append_pair(name, value);
        }
    }
    let query = query.finish();
    let path = format!("/containerLogs/{ns}/{pod}/{container}");
    if query.is_empty() {
        path
    } else {
        format!("{path}?{query}")
    }
}

/// `host:port` as a URL authority, with an IPv6 address in brackets.
pub fn authority(host: &str, port: u16) -> String {
    if host.parse::<Ipv6Addr>().is_ok() {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// GETs `path` from the agent at `host:port` and answers with its body.
async fn proxy(node: &str, host: &str, port: u16, path: &str) -> Result<Response> {
    let authority = authority(host, port);
    let unreachable = |e: String| {
        ApiError::Store(format!(
            "the agent of node \"{node}\" could not be reached at {authority}: {e}"
        ))
    };
    let stream = tokio::time::timeout(AGENT_TIMEOUT, TcpStream::connect((host, port)))
        .await
        .map_err(|_| unreachable("connection timed out".into()))?
        .map_err(|e| unreachable(e.to_string()))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    let connection = AbortOnDrop(tokio::spawn(connection));
    let request = Request::get(path)
        .header(header::HOST, &authority)
        .body(Empty::<Bytes>::new())
        .map_err(|e| ApiError::BadRequest(format!("cannot request {path}: {e}")))?;
    let response = tokio::time::timeout(AGENT_TIMEOUT, sender.send_request(request))
        .await
        .map_err(|_| unreachable("no answer in time".into()))?
        .map_err(|e| unreachable(e.to_string()))?;
    let status = response.status();
    if status != StatusCode::OK {
        let body = Limited::new(response.into_body(), MAX_ERROR_BYTES).collect();
        let message = match tokio::time::timeout(AGENT_TIMEOUT, body).await {
            Ok(Ok(body)) => String::from_utf8_lossy(&body.to_bytes()).trim().to_string(),
            _ => String::new(),
        };
        return Ok(json_response(
            status.as_u16(),
            &agent_error(status, &message),
        ));
    }
    // The connection task lives as long as the body, so the agent learns
    // that the client has gone when it goes.
    let chunks = BodyStream::new(response.into_body())
        .try_filter_map(|frame| futures::future::ready(Ok(frame.into_data().ok())))
        .map(move |chunk| {
            let _connection = &connection;
            chunk
        });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from_stream(chunks))
        .map_err(|e| ApiError::Store(e.to_string()))
}

/// The Status an agent's refusal becomes: its code and its message.
pub fn agent_error(status: StatusCode, message: &str) -> Value {
    let reason = match status.as_u16() {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "InternalError",
    };
    let message = if message.is_empty() {
        format!("the node's agent answered {status}")
    } else {
        message.to_string()
    };
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": status.as_u16(),
    })
}

/// Ends a spawned task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<std::result::Result<(), hyper::Error>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
#[path = "proxy_log_tests.rs"]
mod tests;

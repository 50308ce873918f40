//! `pods/exec`, what `kubectl exec` opens: the API server picks the
//! container as for logs, finds the agent of the pod's node, and proxies
//! the client's protocol upgrade (SPDY, or WebSocket when kubectl offers
//! it) to the agent's `/exec/{namespace}/{pod}/{container}`, which proxies
//! it on to the runtime, as kube-apiserver does through the kubelet.

use std::time::Duration;

use axum::body::Body;
use axum::http::Uri;
use axum::response::Response;
use serde_json::Value;

use super::handlers::read;
use super::proxy_log::{agent_of, authority, choose_container, resource};
use super::{Api, Params};
use crate::error::{ApiError, Result};

/// How long the agent may take to answer the upgrade.
const AGENT_TIMEOUT: Duration = Duration::from_secs(10);

/// `GET` or `POST /api/v1/namespaces/{ns}/pods/{name}/exec`.
pub async fn serve(
    api: &Api,
    ns: &str,
    name: &str,
    params: &Params,
    request: axum::extract::Request,
) -> Result<Response> {
    let (pod, _) = read(api, resource("pods")?, Some(ns), name).await?;
    let container = choose_container(&pod, name, params.get("container"))?;
    let phase = pod.pointer("/status/phase").and_then(Value::as_str);
    if let Some(phase @ ("Succeeded" | "Failed")) = phase {
        // kube-apiserver's words for a pod that ended.
        return Err(ApiError::BadRequest(format!(
            "cannot exec into a container in a completed pod; current phase is {phase}"
        )));
    }
    let (node_name, host, port) = agent_of(api, &pod, name).await?;
    let query = request.uri().query().unwrap_or_default().to_string();
    let target: Uri = agent_url(&authority(&host, port), ns, name, &container, &query)
        .parse()
        .map_err(|e| ApiError::Store(format!("the agent's exec URL: {e}")))?;
    tracing::debug!(ns, name, container, node = node_name, %target, "proxying exec");
    let answer = berth_client::upgrade::proxy(request, &target, AGENT_TIMEOUT)
        .await
        .map_err(|e| {
            ApiError::Store(format!(
                "the agent of node \"{node_name}\" could not be reached: {e}"
            ))
        })?;
    Ok(answer.map(Body::new))
}

/// The agent's exec URL: the pod and container in the path, the client's
/// query (command, streams, tty) passed on.
pub fn agent_url(authority: &str, ns: &str, pod: &str, container: &str, query: &str) -> String {
    let escape = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "http://{authority}/exec/{}/{}/{}?{query}",
        escape(ns),
        escape(pod),
        escape(container)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_agent_url_carries_the_pod_container_and_query() {
        assert_eq!(
            agent_url(
                "10.0.0.5:10250",
                "default",
                "web-1",
                "api",
                "command=sh&stdin=true&stdout=true&tty=true"
            ),
            "http://10.0.0.5:10250/exec/default/web-1/api?command=sh&stdin=true&stdout=true&tty=true"
        );
    }
}

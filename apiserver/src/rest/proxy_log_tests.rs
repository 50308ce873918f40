use super::*;

fn pod(containers: &[&str], init: &[&str], annotation: Option<&str>) -> Value {
    let list = |names: &[&str]| -> Vec<Value> {
        names
            .iter()
            .map(|n| json!({"name": n, "image": "x"}))
            .collect()
    };
    let mut pod = json!({
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"containers": list(containers), "initContainers": list(init)},
    });
    if let Some(container) = annotation {
        pod["metadata"]["annotations"] = json!({DEFAULT_CONTAINER_ANNOTATION: container});
    }
    pod
}

fn message(result: Result<String>) -> String {
    match result {
        Err(e @ ApiError::BadRequest(_)) => e.to_string(),
        other => panic!("expected a BadRequest, got {other:?}"),
    }
}

#[test]
fn the_only_container_is_the_default() {
    let p = pod(&["app"], &[], None);
    assert_eq!(choose_container(&p, "web", None).unwrap(), "app");
    assert_eq!(choose_container(&p, "web", Some("")).unwrap(), "app");
}

#[test]
fn a_named_container_may_be_any_of_the_pod() {
    let p = pod(&["app", "sidecar"], &["setup"], None);
    assert_eq!(
        choose_container(&p, "web", Some("sidecar")).unwrap(),
        "sidecar"
    );
    assert_eq!(choose_container(&p, "web", Some("setup")).unwrap(), "setup");
}

#[test]
fn the_default_container_annotation_picks_among_several() {
    let p = pod(&["app", "sidecar"], &[], Some("sidecar"));
    assert_eq!(choose_container(&p, "web", None).unwrap(), "sidecar");
    // The name asked for wins over the annotation.
    assert_eq!(choose_container(&p, "web", Some("app")).unwrap(), "app");
}

#[test]
fn several_containers_and_none_named_is_refused() {
    let p = pod(&["a", "b"], &[], None);
    assert_eq!(
        message(choose_container(&p, "web", None)),
        "a container name must be specified for pod web, choose one of: [a b]"
    );
    let p = pod(&["a", "b"], &["init"], Some("gone"));
    assert_eq!(
        message(choose_container(&p, "web", None)),
        "a container name must be specified for pod web, choose one of: [a b] or one of the init containers: [init]"
    );
}

#[test]
fn an_unknown_container_is_refused() {
    let p = pod(&["app"], &[], None);
    assert_eq!(
        message(choose_container(&p, "web", Some("db"))),
        "container db is not valid for pod web"
    );
}

#[test]
fn the_agent_is_found_at_the_internal_ip_and_kubelet_port() {
    let node = json!({"status": {
        "addresses": [
            {"type": "Hostname", "address": "node-1"},
            {"type": "InternalIP", "address": "10.0.0.7"},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10555}},
    }});
    assert_eq!(agent_endpoint(&node), Some(("10.0.0.7".into(), 10555)));
}

#[test]
fn the_hostname_and_port_10250_are_the_fallbacks() {
    let node = json!({"status": {
        "addresses": [{"type": "Hostname", "address": "node-1"}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 0}},
    }});
    assert_eq!(agent_endpoint(&node), Some(("node-1".into(), 10250)));
    let node = json!({"status": {"addresses": [{"type": "ExternalIP", "address": "1.2.3.4"}]}});
    assert_eq!(agent_endpoint(&node), None);
    assert_eq!(agent_endpoint(&json!({})), None);
}

#[test]
fn the_agent_url_carries_the_log_options() {
    let params = Params::parse(
        "container=app&follow=true&tailLines=10&sinceTime=2026-01-02T03%3A04%3A05Z&pretty=true&timestamps=1",
    );
    assert_eq!(
        agent_path("default", "web", "app", &params),
        "/containerLogs/default/web/app?follow=true&tailLines=10&timestamps=1&sinceTime=2026-01-02T03%3A04%3A05Z"
    );
    assert_eq!(
        agent_path("ns", "p", "c", &Params::parse("container=c")),
        "/containerLogs/ns/p/c"
    );
    assert_eq!(authority("10.0.0.7", 10250), "10.0.0.7:10250");
    assert_eq!(authority("fd00::7", 10250), "[fd00::7]:10250");
}

#[test]
fn an_agent_refusal_becomes_a_status_with_its_code() {
    let status = agent_error(
        StatusCode::BAD_REQUEST,
        "previous terminated container \"app\" in pod \"web\" not found",
    );
    assert_eq!(status["code"], 400);
    assert_eq!(status["reason"], "BadRequest");
    assert_eq!(
        status["message"],
        "previous terminated container \"app\" in pod \"web\" not found"
    );
}

/// An agent on a loopback port answering every request with `status` and
/// `body`.
async fn agent(status: StatusCode, body: &'static str) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let router = axum::Router::new().fallback(move |req: axum::extract::Request| async move {
        let echo = format!("{body} {}", req.uri());
        (status, echo)
    });
    tokio::spawn(async move { axum::serve(listener, router).await });
    port
}

async fn text(response: Response) -> String {
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    String::from_utf8(body.to_vec()).unwrap()
}

#[tokio::test]
async fn the_agent_body_is_streamed_back_as_text() {
    let port = agent(StatusCode::OK, "log lines").await;
    let response = proxy("n1", "127.0.0.1", port, "/containerLogs/a/b/c?follow=true")
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "text/plain");
    assert_eq!(
        text(response).await,
        "log lines /containerLogs/a/b/c?follow=true"
    );
}

#[tokio::test]
async fn an_agent_error_keeps_its_code_and_message() {
    let port = agent(StatusCode::NOT_FOUND, "no such pod").await;
    let response = proxy("n1", "127.0.0.1", port, "/containerLogs/a/b/c")
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let status: Value = serde_json::from_str(&text(response).await).unwrap();
    assert_eq!(status["message"], "no such pod /containerLogs/a/b/c");
    assert_eq!(status["reason"], "NotFound");
}

#[tokio::test]
async fn an_unreachable_agent_is_an_internal_error() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let e = proxy("n1", "127.0.0.1", port, "/containerLogs/a/b/c")
        .await
        .unwrap_err();
    assert_eq!(e.code(), 500);
    assert_eq!(e.reason(), "InternalError");
    assert!(
        e.to_string().starts_with(&format!(
            "the agent of node \"n1\" could not be reached at 127.0.0.1:{port}"
        )),
        "{e}"
    );
}

#[test]
fn discovery_lists_pods_log_with_the_get_verb() {
    let core = super::super::discovery::resource_list("", "v1").unwrap();
    let log = core["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "pods/log")
        .unwrap()
        .clone();
    assert_eq!(
        log,
        json!({"name": "pods/log", "singularName": "", "namespaced": true, "kind": "Pod", "verbs": ["get"]})
    );
    assert!(matches!(
        super::super::path::parse("/api/v1/namespaces/default/pods/web/log"),
        Some(super::super::path::Target::Subresource { subresource, .. }) if subresource == "log"
    ));
}

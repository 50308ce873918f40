//! `berth.api.v1.Resources`, the gRPC front end for components, against
//! `berth server`: every call, and the REST API's semantics and errors
//! carried over (the Kubernetes `Status` in the gRPC status details).

mod common;

use std::time::{Duration, Instant};

use berth_proto::berth::api::v1::resources_client::ResourcesClient;
use berth_proto::berth::api::v1::{
    BindRequest, CreateRequest, DeleteRequest, GetRequest, ListRequest, PatchRequest, ResourceRef,
    UpdateRequest, WatchRequest,
};
use serde_json::{json, Value};
use tonic::transport::Channel;
use tonic::Code;

use common::berth_server;

fn pods() -> Option<ResourceRef> {
    Some(ResourceRef {
        group: String::new(),
        version: "v1".into(),
        resource: "pods".into(),
    })
}

fn create_pod(object: &Value) -> CreateRequest {
    CreateRequest {
        resource: pods(),
        namespace: "default".into(),
        object: serde_json::to_vec(object).unwrap(),
        field_validation: String::new(),
    }
}

fn update_pod(object: &Value) -> UpdateRequest {
    UpdateRequest {
        resource: pods(),
        namespace: "default".into(),
        name: "p".into(),
        object: serde_json::to_vec(object).unwrap(),
        subresource: String::new(),
    }
}

fn pod_p() -> GetRequest {
    GetRequest {
        resource: pods(),
        namespace: "default".into(),
        name: "p".into(),
    }
}

fn bind_p(node: &str) -> BindRequest {
    BindRequest {
        namespace: "default".into(),
        name: "p".into(),
        node_name: node.into(),
    }
}

fn delete_p(options: &[u8]) -> DeleteRequest {
    DeleteRequest {
        resource: pods(),
        namespace: "default".into(),
        name: "p".into(),
        options: options.to_vec(),
    }
}

fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

/// The Kubernetes `Status` a failed call carries.
fn status_of(e: &tonic::Status) -> Value {
    serde_json::from_slice(e.details()).unwrap()
}

async fn connect(url: &str) -> ResourcesClient<Channel> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let namespaces = ResourceRef {
        group: String::new(),
        version: "v1".into(),
        resource: "namespaces".into(),
    };
    loop {
        let last = match Channel::from_shared(url.to_string())
            .unwrap()
            .connect()
            .await
        {
            Ok(channel) => {
                let mut client = ResourcesClient::new(channel);
                let default = client
                    .get(GetRequest {
                        resource: Some(namespaces.clone()),
                        namespace: String::new(),
                        name: "default".into(),
                    })
                    .await;
                match default {
                    Ok(_) => return client,
                    Err(e) => e.to_string(),
                }
            }
            Err(e) => e.to_string(),
        };
        assert!(Instant::now() < deadline, "the API never served: {last}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn every_call_with_the_rest_apis_semantics() {
    let server = berth_server();
    let mut client = connect(&server.url).await;

    let list = client
        .list(ListRequest {
            resource: pods(),
            namespace: "default".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let list = json_of(&list.json);
    assert_eq!(list["kind"], "PodList");
    let from = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    let mut watch = client
        .watch(WatchRequest {
            resource: pods(),
            namespace: "default".into(),
            resource_version: from,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();

    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"app": "a"}},
        "spec": {"containers": [{"name": "c", "image": "c:1"}]}});
    let created = client.create(create_pod(&pod)).await.unwrap().into_inner();
    let created = json_of(&created.json);
    assert_eq!(
        created["spec"]["restartPolicy"], "Always",
        "defaults applied"
    );
    assert_eq!(created["status"]["phase"], "Pending");

    let event = tokio::time::timeout(Duration::from_secs(10), watch.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(event.r#type, "ADDED");
    assert_eq!(json_of(&event.object)["metadata"]["name"], "p");

    // Same errors as REST: AlreadyExists, and Strict field validation.
    let again = client.create(create_pod(&pod)).await.unwrap_err();
    assert_eq!(again.code(), Code::AlreadyExists);
    assert_eq!(status_of(&again)["reason"], "AlreadyExists");
    let mut typo = pod.clone();
    typo["metadata"]["name"] = json!("q");
    typo["spec"]["nodeNme"] = json!("x");
    let strict = client.create(create_pod(&typo)).await.unwrap_err();
    assert_eq!(strict.code(), Code::InvalidArgument);
    assert!(
        strict.message().contains("unknown field \"spec.nodeNme\""),
        "{}",
        strict.message()
    );

    // Update with a stale version conflicts; status goes through UpdateStatus.
    let mut stale = created.clone();
    stale["metadata"]["labels"]["app"] = json!("b");
    let updated = client
        .update(update_pod(&stale))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(json_of(&updated.json)["metadata"]["labels"]["app"], "b");
    let conflict = client.update(update_pod(&stale)).await.unwrap_err();
    assert_eq!(conflict.code(), Code::Aborted);
    assert_eq!(status_of(&conflict)["reason"], "Conflict");
    let mut with_status = json_of(&updated.json);
    with_status["status"]["phase"] = json!("Running");
    let status = client
        .update_status(update_pod(&with_status))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(json_of(&status.json)["status"]["phase"], "Running");

    let patched = client
        .patch(PatchRequest {
            resource: pods(),
            namespace: "default".into(),
            name: "p".into(),
            patch_type: "application/strategic-merge-patch+json".into(),
            patch: br#"{"metadata":{"annotations":{"x":"y"}}}"#.to_vec(),
            subresource: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(json_of(&patched.json)["metadata"]["annotations"]["x"], "y");

    // Bind once; a second bind conflicts.
    client.bind(bind_p("n1")).await.unwrap();
    let got = client.get(pod_p()).await.unwrap().into_inner();
    assert_eq!(json_of(&got.json)["spec"]["nodeName"], "n1");
    let rebind = client.bind(bind_p("n2")).await.unwrap_err();
    assert_eq!(rebind.code(), Code::Aborted);

    // A bound pod is deleted gracefully, then for good with grace 0.
    let marked = client.delete(delete_p(b"")).await.unwrap().into_inner();
    assert!(json_of(&marked.json)["metadata"]["deletionTimestamp"].is_string());
    client
        .delete(delete_p(br#"{"gracePeriodSeconds":0}"#))
        .await
        .unwrap();
    let gone = client.get(pod_p()).await.unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
    assert_eq!(status_of(&gone)["message"], "pods \"p\" not found");

    // The watch saw every change, in order.
    let mut kinds = Vec::new();
    while kinds.len() < 6 {
        let event = tokio::time::timeout(Duration::from_secs(10), watch.message())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        kinds.push(event.r#type);
    }
    assert_eq!(
        kinds,
        ["MODIFIED", "MODIFIED", "MODIFIED", "MODIFIED", "MODIFIED", "DELETED"]
    );
}

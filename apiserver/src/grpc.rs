//! `berth.api.v1.Resources`: the gRPC front end for berth's components.
//!
//! Each call is translated into the REST request it stands for and served
//! by the same router in-process, so both front ends share one registry
//! (defaults, validation, concurrency, subresources) and fail the same way;
//! a failure becomes a gRPC status whose details carry the Kubernetes
//! `Status` JSON.

use std::pin::Pin;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use berth_proto::berth::api::v1::resources_server::{Resources, ResourcesServer};
use berth_proto::berth::api::v1::{
    BindRequest, CreateRequest, DeleteRequest, GetRequest, ListRequest, Object, ObjectList,
    PatchRequest, ResourceRef, UpdateRequest, WatchEvent, WatchRequest,
};
use futures::{Stream, StreamExt};
use serde_json::Value;
use tonic::{Code, Status};
use tower::ServiceExt;

/// The gRPC service over the REST `router`.
pub fn service(router: Router) -> ResourcesServer<Grpc> {
    ResourcesServer::new(Grpc { router }).max_decoding_message_size(crate::rest::MAX_BODY_BYTES)
}

/// Serves `berth.api.v1.Resources` through the REST router.
#[derive(Clone)]
pub struct Grpc {
    router: Router,
}

/// The path of a collection or object, and the subresource after it.
fn path(r: Option<&ResourceRef>, namespace: &str, name: &str, sub: &str) -> Result<String, Status> {
    let r = r.ok_or_else(|| Status::invalid_argument("resource is required"))?;
    if r.resource.is_empty() || r.version.is_empty() {
        return Err(Status::invalid_argument(
            "resource.version and resource.resource are required",
        ));
    }
    let mut p = if r.group.is_empty() {
        format!("/api/{}", r.version)
    } else {
        format!("/apis/{}/{}", r.group, r.version)
    };
    if !namespace.is_empty() {
        p.push_str(&format!("/namespaces/{namespace}"));
    }
    p.push('/');
    p.push_str(&r.resource);
    if !name.is_empty() {
        p.push('/');
        p.push_str(name);
    }
    if !sub.is_empty() {
        p.push('/');
        p.push_str(sub);
    }
    Ok(p)
}

fn query(pairs: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        q.append_pair(k, v);
    }
    q.finish()
}

impl Grpc {
    /// Runs one REST request; its body if it succeeded.
    async fn call(
        &self,
        method: Method,
        uri: String,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<axum::response::Response, Status> {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .map_err(|e| Status::internal(e.to_string()))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let code = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .map_err(|e| Status::internal(e.to_string()))?;
        Err(status_of(code, bytes.to_vec()))
    }

    async fn object(
        &self,
        method: Method,
        uri: String,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<tonic::Response<Object>, Status> {
        let response = self.call(method, uri, content_type, body).await?;
        let json = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .map_err(|e| Status::internal(e.to_string()))?;
        Ok(tonic::Response::new(Object {
            json: json.to_vec(),
        }))
    }
}

/// A REST failure as a gRPC status: the code by Kubernetes reason, the
/// `Status` JSON in the details.
fn status_of(code: StatusCode, body: Vec<u8>) -> Status {
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let message = parsed
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("request failed")
        .to_string();
    let grpc = match code.as_u16() {
        400 | 413 | 415 | 422 => Code::InvalidArgument,
        404 => Code::NotFound,
        405 => Code::Unimplemented,
        409 if parsed.get("reason").and_then(Value::as_str) == Some("AlreadyExists") => {
            Code::AlreadyExists
        }
        409 => Code::Aborted,
        410 => Code::OutOfRange,
        504 => Code::DeadlineExceeded,
        503 => Code::Unavailable,
        _ => Code::Internal,
    };
    Status::with_details(grpc, message, body.into())
}

type EventStream = Pin<Box<dyn Stream<Item = Result<WatchEvent, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl Resources for Grpc {
    async fn get(
        &self,
        request: tonic::Request<GetRequest>,
    ) -> Result<tonic::Response<Object>, Status> {
        let r = request.into_inner();
        let uri = path(r.resource.as_ref(), &r.namespace, &r.name, "")?;
        self.object(Method::GET, uri, "", Vec::new()).await
    }

    async fn list(
        &self,
        request: tonic::Request<ListRequest>,
    ) -> Result<tonic::Response<ObjectList>, Status> {
        let r = request.into_inner();
        let limit = if r.limit > 0 {
            r.limit.to_string()
        } else {
            String::new()
        };
        let uri = format!(
            "{}?{}",
            path(r.resource.as_ref(), &r.namespace, "", "")?,
            query(&[
                ("labelSelector", &r.label_selector),
                ("fieldSelector", &r.field_selector),
                ("limit", &limit),
                ("continue", &r.r#continue),
                ("resourceVersion", &r.resource_version),
            ])
        );
        let object = self.object(Method::GET, uri, "", Vec::new()).await?;
        Ok(tonic::Response::new(ObjectList {
            json: object.into_inner().json,
        }))
    }

    type WatchStream = EventStream;

    async fn watch(
        &self,
        request: tonic::Request<WatchRequest>,
    ) -> Result<tonic::Response<Self::WatchStream>, Status> {
        let r = request.into_inner();
        let uri = format!(
            "{}?{}",
            path(r.resource.as_ref(), &r.namespace, "", "")?,
            query(&[
                ("watch", "true"),
                ("labelSelector", &r.label_selector),
                ("fieldSelector", &r.field_selector),
                ("resourceVersion", &r.resource_version),
                (
                    "allowWatchBookmarks",
                    if r.allow_bookmarks { "true" } else { "" }
                ),
            ])
        );
        let response = self.call(Method::GET, uri, "", Vec::new()).await?;
        // The REST watch is newline-delimited JSON; each line one event.
        let events = crate::rest::body_lines(response.into_body()).map(|line| match line {
            Ok(line) => event_of(&line),
            Err(e) => Err(Status::unavailable(e.to_string())),
        });
        Ok(tonic::Response::new(Box::pin(events)))
    }

    async fn create(
        &self,
        request: tonic::Request<CreateRequest>,
    ) -> Result<tonic::Response<Object>, Status> {
        let r = request.into_inner();
        let validation = if r.field_validation.is_empty() {
            "Strict"
        } else {
            r.field_validation.as_str()
        };
        let uri = format!(
            "{}?{}",
            path(r.resource.as_ref(), &r.namespace, "", "")?,
            query(&[("fieldValidation", validation)])
        );
        self.object(Method::POST, uri, "application/json", r.object)
            .await
    }

    async fn update(
        &self,
        request: tonic::Request<UpdateRequest>,
    ) -> Result<tonic::Response<Object>, Status> {
        let r = request.into_inner();
        let uri = path(r.resource.as_ref(), &r.namespace, &r.name, &r.subresource)?;
        self.object(Method::PUT, uri, "application/json", r.object)
            .await
    }

    async fn update_status(
        &self,
        request: tonic::Request<UpdateRequest>,
    ) -> Result<tonic::Response<Object>, Status> {
        let r = request.into_inner();
        let uri = path(r.resource.as_ref(), &r.namespace, &r.name, "status")?;
        self.object(Method::PUT, uri, "application/json", r.object)
            .await
    }

    async fn patch(
        &self,
        request: tonic::Request<PatchRequest>,
    ) -> Result<tonic::Response<Object>, Status> {
        let r = request.into_inner();
        let uri = path(r.resource.as_ref(), &r.namespace, &r.name, &r.subresource)?;
        self.object(Method::PATCH, uri, &r.patch_type, r.patch)
            .await
    }

    async fn delete(
        &self,
        request: tonic::Request<DeleteRequest>,
    ) -> Result<tonic::Response<Object>, Status> {
        let r = request.into_inner();
        let uri = path(r.resource.as_ref(), &r.namespace, &r.name, "")?;
        self.object(Method::DELETE, uri, "application/json", r.options)
            .await
    }

    async fn bind(
        &self,
        request: tonic::Request<BindRequest>,
    ) -> Result<tonic::Response<Object>, Status> {
        let r = request.into_inner();
        let pods = ResourceRef {
            group: String::new(),
            version: "v1".into(),
            resource: "pods".into(),
        };
        let uri = path(Some(&pods), &r.namespace, &r.name, "binding")?;
        let binding = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": r.name, "namespace": r.namespace},
            "target": {"apiVersion": "v1", "kind": "Node", "name": r.node_name},
        });
        let body = serde_json::to_vec(&binding).map_err(|e| Status::internal(e.to_string()))?;
        self.object(Method::POST, uri, "application/json", body)
            .await
    }
}

fn event_of(line: &[u8]) -> Result<WatchEvent, Status> {
    let value: Value =
        serde_json::from_slice(line).map_err(|e| Status::internal(format!("watch event: {e}")))?;
    let kind = value
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let object = serde_json::to_vec(value.get("object").unwrap_or(&Value::Null))
        .map_err(|e| Status::internal(e.to_string()))?;
    Ok(WatchEvent {
        r#type: kind,
        object,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_name_the_rest_paths() {
        let pods = ResourceRef {
            group: "".into(),
            version: "v1".into(),
            resource: "pods".into(),
        };
        assert_eq!(
            path(Some(&pods), "ns", "p", "status").unwrap(),
            "/api/v1/namespaces/ns/pods/p/status"
        );
        let deployments = ResourceRef {
            group: "apps".into(),
            version: "v1".into(),
            resource: "deployments".into(),
        };
        assert_eq!(
            path(Some(&deployments), "", "", "").unwrap(),
            "/apis/apps/v1/deployments"
        );
        assert!(path(None, "", "", "").is_err());
        assert_eq!(query(&[("a", "1"), ("b", ""), ("c", "x y")]), "a=1&c=x+y");
    }

    #[test]
    fn failures_keep_the_kubernetes_status() {
        let body = br#"{"kind":"Status","reason":"AlreadyExists","message":"pods \"p\" already exists","code":409}"#;
        let status = status_of(StatusCode::CONFLICT, body.to_vec());
        assert_eq!(status.code(), Code::AlreadyExists);
        assert_eq!(status.message(), "pods \"p\" already exists");
        assert_eq!(status.details(), body);
        assert_eq!(
            status_of(StatusCode::CONFLICT, b"{}".to_vec()).code(),
            Code::Aborted
        );
    }
}

//! Typed calls on one resource: get, list, watch, create, update, patch,
//! delete, and the subresources components use (status, binding).

use std::marker::PhantomData;

use berth_proto::berth::api::v1 as pb;
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, ObjectMeta, Status};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{Client, Error};

/// What [`Api`] needs of an object type: every k8s-openapi resource with
/// `ObjectMeta` qualifies.
pub trait Resource:
    k8s_openapi::Resource
    + k8s_openapi::Metadata<Ty = ObjectMeta>
    + Serialize
    + DeserializeOwned
    + Clone
    + Send
    + Sync
    + 'static
{
    /// Whether objects of this type live in a namespace.
    const NAMESPACED: bool;
}

impl<K> Resource for K
where
    K: k8s_openapi::Resource
        + k8s_openapi::Metadata<Ty = ObjectMeta>
        + Serialize
        + DeserializeOwned
        + Clone
        + Send
        + Sync
        + 'static,
    K::Scope: Scope,
{
    const NAMESPACED: bool = <K::Scope as Scope>::NAMESPACED;
}

/// The scope markers of k8s-openapi, as a value.
pub trait Scope {
    /// True for `NamespaceResourceScope`.
    const NAMESPACED: bool;
}

impl Scope for k8s_openapi::NamespaceResourceScope {
    const NAMESPACED: bool = true;
}

impl Scope for k8s_openapi::ClusterResourceScope {
    const NAMESPACED: bool = false;
}

/// The filters and paging of a list, as the REST API's query parameters.
#[derive(Clone, Debug, Default)]
pub struct ListParams {
    /// `labelSelector`, e.g. `app=web,tier!=db`.
    pub label_selector: String,
    /// `fieldSelector`, e.g. `spec.nodeName=node-1`.
    pub field_selector: String,
    /// Page size; 0 for everything at once.
    pub limit: i64,
    /// The `continue` token of the previous page.
    pub continue_token: String,
    /// "" for the newest (a quorum read), "0" for any cached version.
    pub resource_version: String,
}

impl ListParams {
    /// Only objects whose labels match `selector`.
    pub fn labels(selector: &str) -> Self {
        ListParams {
            label_selector: selector.to_string(),
            ..Self::default()
        }
    }

    /// Only objects whose fields match `selector`.
    pub fn fields(selector: &str) -> Self {
        ListParams {
            field_selector: selector.to_string(),
            ..Self::default()
        }
    }
}

/// One page of a list.
#[derive(Clone, Debug, Deserialize)]
#[serde(bound = "K: DeserializeOwned")]
pub struct ObjectList<K> {
    /// resourceVersion and continue token.
    #[serde(default)]
    pub metadata: ListMeta,
    /// The objects, in key order.
    #[serde(default)]
    pub items: Vec<K>,
}

/// One event of a watch.
#[derive(Clone, Debug)]
pub enum WatchEvent<K> {
    /// The object was created (or existed when the watch began).
    Added(K),
    /// The object changed.
    Modified(K),
    /// The object is gone; its last state.
    Deleted(K),
    /// Everything up to this resourceVersion has been sent.
    Bookmark(String),
    /// The server ended the watch with this `Status` (410 Expired when
    /// the version asked for was compacted).
    Error(Box<Status>),
}

/// A patch body and its type.
#[derive(Clone, Debug)]
pub enum Patch {
    /// RFC 6902 JSON patch.
    Json(serde_json::Value),
    /// RFC 7386 JSON merge patch.
    Merge(serde_json::Value),
    /// Kubernetes' strategic merge patch.
    Strategic(serde_json::Value),
}

impl Patch {
    fn content_type(&self) -> &'static str {
        match self {
            Patch::Json(_) => "application/json-patch+json",
            Patch::Merge(_) => "application/merge-patch+json",
            Patch::Strategic(_) => "application/strategic-merge-patch+json",
        }
    }

    fn body(&self) -> &serde_json::Value {
        match self {
            Patch::Json(v) | Patch::Merge(v) | Patch::Strategic(v) => v,
        }
    }
}

/// Calls on the objects of type `K`, in one namespace or across all.
#[derive(Clone, Debug)]
pub struct Api<K> {
    client: Client,
    namespace: String,
    kind: PhantomData<fn() -> K>,
}

impl<K: Resource> Api<K> {
    /// Objects in `namespace` (namespaced types).
    pub fn namespaced(client: Client, namespace: &str) -> Self {
        Api {
            client,
            namespace: namespace.to_string(),
            kind: PhantomData,
        }
    }

    /// Every object: across all namespaces for namespaced types (list and
    /// watch), or the cluster-scoped objects.
    pub fn all(client: Client) -> Self {
        Self::namespaced(client, "")
    }

    /// The namespace of the object's calls: its own for namespaced types.
    fn namespace_of(&self, object_namespace: Option<&str>) -> String {
        if !K::NAMESPACED {
            return String::new();
        }
        match object_namespace {
            Some(ns) if self.namespace.is_empty() => ns.to_string(),
            _ => self.namespace.clone(),
        }
    }

    fn resource() -> Option<pb::ResourceRef> {
        Some(pb::ResourceRef {
            group: K::GROUP.to_string(),
            version: K::VERSION.to_string(),
            resource: K::URL_PATH_SEGMENT.to_string(),
        })
    }

    /// The object named `name`.
    pub async fn get(&self, name: &str) -> Result<K, Error> {
        let request = pb::GetRequest {
            resource: Self::resource(),
            namespace: self.namespace_of(None),
            name: name.to_string(),
        };
        let object = self
            .client
            .grpc()
            .get(request)
            .await
            .map_err(Error::from_grpc)?;
        Ok(serde_json::from_slice(&object.get_ref().json)?)
    }

    /// The object named `name`, or None if there is none.
    pub async fn get_opt(&self, name: &str) -> Result<Option<K>, Error> {
        match self.get(name).await {
            Ok(k) => Ok(Some(k)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// One page of objects.
    pub async fn list(&self, params: &ListParams) -> Result<ObjectList<K>, Error> {
        let request = pb::ListRequest {
            resource: Self::resource(),
            namespace: self.namespace_of(None),
            label_selector: params.label_selector.clone(),
            field_selector: params.field_selector.clone(),
            limit: params.limit,
            r#continue: params.continue_token.clone(),
            resource_version: params.resource_version.clone(),
        };
        let list = self
            .client
            .grpc()
            .list(request)
            .await
            .map_err(Error::from_grpc)?;
        Ok(serde_json::from_slice(&list.get_ref().json)?)
    }

    /// Every object, page after page of 500 (client-go's informer page
    /// size), and the resourceVersion of the first page: the whole list is
    /// one consistent snapshot.
    pub async fn list_all(&self, params: &ListParams) -> Result<(Vec<K>, String), Error> {
        let mut params = ListParams {
            limit: if params.limit > 0 { params.limit } else { 500 },
            ..params.clone()
        };
        let mut items = Vec::new();
        let mut version = None;
        loop {
            let page = self.list(&params).await?;
            items.extend(page.items);
            if version.is_none() {
                version = Some(page.metadata.resource_version.unwrap_or_default());
            }
            match page.metadata.continue_ {
                Some(token) if !token.is_empty() => {
                    params.continue_token = token;
                    // Later pages read at the first page's version, which
                    // the token carries.
                    params.resource_version.clear();
                }
                _ => break,
            }
        }
        Ok((items, version.unwrap_or_default()))
    }

    /// Changes after `resource_version` ("" or "0": the current objects as
    /// ADDED first), with BOOKMARKs.
    pub async fn watch(
        &self,
        params: &ListParams,
        resource_version: &str,
    ) -> Result<impl Stream<Item = Result<WatchEvent<K>, Error>> + Send + 'static, Error> {
        let request = pb::WatchRequest {
            resource: Self::resource(),
            namespace: self.namespace_of(None),
            label_selector: params.label_selector.clone(),
            field_selector: params.field_selector.clone(),
            resource_version: resource_version.to_string(),
            allow_bookmarks: true,
        };
        let stream = self
            .client
            .grpc()
            .watch(request)
            .await
            .map_err(Error::from_grpc)?
            .into_inner();
        Ok(stream.map(|event| match event {
            Ok(event) => watch_event(&event),
            Err(status) => Err(Error::from_grpc(status)),
        }))
    }

    /// Creates `object` (in its own namespace when this Api spans all).
    pub async fn create(&self, object: &K) -> Result<K, Error> {
        let request = pb::CreateRequest {
            resource: Self::resource(),
            namespace: self.namespace_of(object.metadata().namespace.as_deref()),
            object: serde_json::to_vec(object)?,
            field_validation: String::new(),
        };
        let created = self
            .client
            .grpc()
            .create(request)
            .await
            .map_err(Error::from_grpc)?;
        Ok(serde_json::from_slice(&created.get_ref().json)?)
    }

    fn update_request(&self, object: &K) -> Result<pb::UpdateRequest, Error> {
        Ok(pb::UpdateRequest {
            resource: Self::resource(),
            namespace: self.namespace_of(object.metadata().namespace.as_deref()),
            name: object.metadata().name.clone().unwrap_or_default(),
            object: serde_json::to_vec(object)?,
            subresource: String::new(),
        })
    }

    /// Replaces the object; its resourceVersion, if set, must be current
    /// (409 Conflict otherwise).
    pub async fn replace(&self, object: &K) -> Result<K, Error> {
        let request = self.update_request(object)?;
        let updated = self
            .client
            .grpc()
            .update(request)
            .await
            .map_err(Error::from_grpc)?;
        Ok(serde_json::from_slice(&updated.get_ref().json)?)
    }

    /// Writes `object` to the subresource `sub` with PUT (`finalize` of a
    /// namespace).
    pub async fn replace_subresource(&self, sub: &str, object: &K) -> Result<K, Error> {
        let mut request = self.update_request(object)?;
        request.subresource = sub.to_string();
        let updated = self
            .client
            .grpc()
            .update(request)
            .await
            .map_err(Error::from_grpc)?;
        Ok(serde_json::from_slice(&updated.get_ref().json)?)
    }

    /// Replaces only the object's `.status` (the status subresource).
    pub async fn replace_status(&self, object: &K) -> Result<K, Error> {
        let request = self.update_request(object)?;
        let updated = self
            .client
            .grpc()
            .update_status(request)
            .await
            .map_err(Error::from_grpc)?;
        Ok(serde_json::from_slice(&updated.get_ref().json)?)
    }

    async fn patch_sub(
        &self,
        namespace: Option<&str>,
        name: &str,
        patch: &Patch,
        subresource: &str,
    ) -> Result<K, Error> {
        let request = pb::PatchRequest {
            resource: Self::resource(),
            namespace: self.namespace_of(namespace),
            name: name.to_string(),
            patch_type: patch.content_type().to_string(),
            patch: serde_json::to_vec(patch.body())?,
            subresource: subresource.to_string(),
        };
        let patched = self
            .client
            .grpc()
            .patch(request)
            .await
            .map_err(Error::from_grpc)?;
        Ok(serde_json::from_slice(&patched.get_ref().json)?)
    }

    /// Patches the object named `name` (in this Api's namespace).
    pub async fn patch(&self, name: &str, patch: &Patch) -> Result<K, Error> {
        self.patch_sub(None, name, patch, "").await
    }

    /// Patches the object `name` in `namespace` (for an Api over all
    /// namespaces).
    pub async fn patch_in(&self, namespace: &str, name: &str, patch: &Patch) -> Result<K, Error> {
        self.patch_sub(Some(namespace), name, patch, "").await
    }

    /// Patches the status subresource of `name` in `namespace` ("" for
    /// this Api's namespace or a cluster-scoped object).
    pub async fn patch_status(
        &self,
        namespace: &str,
        name: &str,
        patch: &Patch,
    ) -> Result<K, Error> {
        let ns = (!namespace.is_empty()).then_some(namespace);
        self.patch_sub(ns, name, patch, "status").await
    }

    /// Deletes `name` in `namespace` ("" for this Api's namespace) with
    /// `options` (DeleteOptions JSON; Null for the defaults). Returns the
    /// object while it is still being deleted (finalizers, graceful pod
    /// deletion), None once it is gone.
    pub async fn delete_in(
        &self,
        namespace: &str,
        name: &str,
        options: &serde_json::Value,
    ) -> Result<Option<K>, Error> {
        let ns = (!namespace.is_empty()).then_some(namespace);
        let request = pb::DeleteRequest {
            resource: Self::resource(),
            namespace: self.namespace_of(ns),
            name: name.to_string(),
            options: if options.is_null() {
                Vec::new()
            } else {
                serde_json::to_vec(options)?
            },
        };
        let answer = self
            .client
            .grpc()
            .delete(request)
            .await
            .map_err(Error::from_grpc)?;
        let value: serde_json::Value = serde_json::from_slice(&answer.get_ref().json)?;
        let still_there = value
            .pointer("/metadata/deletionTimestamp")
            .is_some_and(|t| !t.is_null());
        if value.get("kind").and_then(|k| k.as_str()) == Some(K::KIND) && still_there {
            Ok(Some(serde_json::from_value(value)?))
        } else {
            Ok(None)
        }
    }

    /// Deletes `name` in this Api's namespace with the default options.
    pub async fn delete(&self, name: &str) -> Result<Option<K>, Error> {
        self.delete_in("", name, &serde_json::Value::Null).await
    }
}

impl Api<Pod> {
    /// Assigns the pod `namespace/name` to `node` (pods/binding): the
    /// scheduler's one write. Fails with 409 if it already has a node.
    pub async fn bind(&self, namespace: &str, name: &str, node: &str) -> Result<(), Error> {
        let request = pb::BindRequest {
            namespace: namespace.to_string(),
            name: name.to_string(),
            node_name: node.to_string(),
        };
        self.client
            .grpc()
            .bind(request)
            .await
            .map_err(Error::from_grpc)?;
        Ok(())
    }
}

fn watch_event<K: DeserializeOwned>(event: &pb::WatchEvent) -> Result<WatchEvent<K>, Error> {
    Ok(match event.r#type.as_str() {
        "ADDED" => WatchEvent::Added(serde_json::from_slice(&event.object)?),
        "MODIFIED" => WatchEvent::Modified(serde_json::from_slice(&event.object)?),
        "DELETED" => WatchEvent::Deleted(serde_json::from_slice(&event.object)?),
        "BOOKMARK" => {
            let v: serde_json::Value = serde_json::from_slice(&event.object)?;
            let rv = v
                .pointer("/metadata/resourceVersion")
                .and_then(|r| r.as_str())
                .unwrap_or_default();
            WatchEvent::Bookmark(rv.to_string())
        }
        _ => WatchEvent::Error(Box::new(serde_json::from_slice(&event.object)?)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Namespace, Node};

    #[test]
    fn scopes_follow_the_types() {
        let scopes = [
            <Pod as Resource>::NAMESPACED,
            <Node as Resource>::NAMESPACED,
            <Namespace as Resource>::NAMESPACED,
        ];
        assert_eq!(scopes, [true, false, false]);
    }

    #[test]
    fn watch_events_decode_by_type() {
        let added = pb::WatchEvent {
            r#type: "ADDED".into(),
            object: br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"}}"#.to_vec(),
        };
        match watch_event::<Pod>(&added) {
            Ok(WatchEvent::Added(p)) => assert_eq!(p.metadata.name.as_deref(), Some("a")),
            other => panic!("unexpected {other:?}"),
        }
        let bookmark = pb::WatchEvent {
            r#type: "BOOKMARK".into(),
            object: br#"{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"42"}}"#
                .to_vec(),
        };
        assert!(matches!(
            watch_event::<Pod>(&bookmark),
            Ok(WatchEvent::Bookmark(rv)) if rv == "42"
        ));
        let error = pb::WatchEvent {
            r#type: "ERROR".into(),
            object: br#"{"kind":"Status","apiVersion":"v1","code":410,"reason":"Expired"}"#
                .to_vec(),
        };
        assert!(matches!(
            watch_event::<Pod>(&error),
            Ok(WatchEvent::Error(s)) if s.code == Some(410)
        ));
    }

    #[tokio::test]
    async fn an_all_namespaces_api_writes_into_the_objects_namespace() {
        let client = match Client::new("http://127.0.0.1:1") {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        let all: Api<Pod> = Api::all(client.clone());
        assert_eq!(all.namespace_of(Some("team")), "team");
        let ns: Api<Pod> = Api::namespaced(client.clone(), "default");
        assert_eq!(ns.namespace_of(Some("team")), "default");
        let nodes: Api<Node> = Api::all(client);
        assert_eq!(nodes.namespace_of(Some("x")), "");
    }
}

//! Deleting everything in a namespace, kind by kind (Kubernetes'
//! namespaced resources deleter).

use berth_client::{Api, Client, Error, ListParams, Resource};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{
    ConfigMap, Endpoints, Event, PersistentVolumeClaim, Pod, Secret, Service,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;

/// What is left in a namespace after one round of deletions.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Remaining {
    /// Plural resource name and how many objects of it remain, for the
    /// `NamespaceContentRemaining` condition.
    pub resources: Vec<(&'static str, usize)>,
    /// Finalizers that hold remaining objects, and how many objects each.
    pub finalizers: Vec<(String, usize)>,
}

impl Remaining {
    /// Nothing is left.
    pub fn is_empty(&self) -> bool {
        self.resources.is_empty()
    }
}

/// Deletes every object in `namespace` of every namespaced kind the API
/// serves, and reports what is still there (objects held by finalizers,
/// pods terminating gracefully).
pub async fn delete_content(client: &Client, namespace: &str) -> Result<Remaining, Error> {
    let mut remaining = Remaining::default();
    // Workloads first, so their controllers do not recreate pods while the
    // pods are being deleted.
    delete_all::<Deployment>(client, namespace, &mut remaining).await?;
    delete_all::<ReplicaSet>(client, namespace, &mut remaining).await?;
    delete_all::<HorizontalPodAutoscaler>(client, namespace, &mut remaining).await?;
    delete_all::<Pod>(client, namespace, &mut remaining).await?;
    delete_all::<Service>(client, namespace, &mut remaining).await?;
    delete_all::<Endpoints>(client, namespace, &mut remaining).await?;
    delete_all::<EndpointSlice>(client, namespace, &mut remaining).await?;
    delete_all::<Ingress>(client, namespace, &mut remaining).await?;
    delete_all::<ConfigMap>(client, namespace, &mut remaining).await?;
    delete_all::<Secret>(client, namespace, &mut remaining).await?;
    delete_all::<PersistentVolumeClaim>(client, namespace, &mut remaining).await?;
    delete_all::<Lease>(client, namespace, &mut remaining).await?;
    delete_all::<Event>(client, namespace, &mut remaining).await?;
    Ok(remaining)
}

async fn delete_all<K: Resource>(
    client: &Client,
    namespace: &str,
    remaining: &mut Remaining,
) -> Result<(), Error> {
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let (items, _) = api.list_all(&ListParams::default()).await?;
    let mut left = 0;
    for item in items {
        let meta = item.metadata();
        let name = meta.name.clone().unwrap_or_default();
        let held = if meta.deletion_timestamp.is_some() {
            Some(item)
        } else {
            match api.delete(&name).await {
                Ok(still) => still,
                Err(e) if e.is_not_found() => None,
                Err(e) => return Err(e),
            }
        };
        if let Some(held) = held {
            left += 1;
            for f in held.metadata().finalizers.iter().flatten() {
                match remaining.finalizers.iter_mut().find(|(n, _)| n == f) {
                    Some((_, count)) => *count += 1,
                    None => remaining.finalizers.push((f.clone(), 1)),
                }
            }
        }
    }
    if left > 0 {
        remaining.resources.push((K::URL_PATH_SEGMENT, left));
    }
    Ok(())
}

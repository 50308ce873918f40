//! The namespace controller: once a namespace is deleted (Terminating,
//! with the `kubernetes` finalizer in its spec), delete everything in it,
//! report progress in its status conditions, and finalize it so the API
//! server removes it.

mod deleter;

pub use deleter::{delete_content, Remaining};

use std::time::Duration;

use berth_client::controller::{self, Requeue};
use berth_client::{Api, Client, Error, Informer, Notification, WorkQueue};
use k8s_openapi::api::core::v1::{Namespace, NamespaceCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// The spec finalizer the namespace controller owns.
pub const FINALIZER: &str = "kubernetes";

/// How soon to look again while content remains (pods terminating).
const RECHECK: Duration = Duration::from_secs(2);

/// Runs the controller until the task is dropped.
pub async fn run(client: Client, namespaces: &Informer<Namespace>, workers: usize) {
    let queue = WorkQueue::new();
    let store = namespaces.store();
    let mut events = store.subscribe();
    let feeder = {
        let queue = queue.clone();
        async move {
            while let Some(note) = events.recv().await {
                if let Notification::Deleted(_) = note {
                    continue;
                }
                if note.object().metadata.deletion_timestamp.is_some() {
                    if let Some(name) = note.object().metadata.name.clone() {
                        queue.add(name);
                    }
                }
            }
        }
    };
    let sync = move |name: String| {
        let client = client.clone();
        let store = store.clone();
        async move {
            match store.get(&name) {
                Some(ns) => sync(&client, &ns).await,
                None => Ok(Requeue::No),
            }
        }
    };
    tokio::join!(feeder, controller::run("namespace", queue, workers, sync));
}

async fn sync(client: &Client, namespace: &Namespace) -> Result<Requeue, Error> {
    let name = namespace.metadata.name.clone().unwrap_or_default();
    let finalizers = namespace
        .spec
        .as_ref()
        .and_then(|s| s.finalizers.clone())
        .unwrap_or_default();
    if namespace.metadata.deletion_timestamp.is_none() || !finalizers.iter().any(|f| f == FINALIZER)
    {
        return Ok(Requeue::No);
    }
    let remaining = delete_content(client, &name).await?;
    let api: Api<Namespace> = Api::all(client.clone());
    if !remaining.is_empty() {
        let mut updated = namespace.clone();
        set_conditions(&mut updated, &remaining);
        if updated.status != namespace.status {
            match api.replace_status(&updated).await {
                Ok(_) => {}
                Err(e) if e.is_conflict() || e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        return Ok(Requeue::After(RECHECK));
    }
    let mut finalized = namespace.clone();
    if let Some(spec) = finalized.spec.as_mut() {
        spec.finalizers = Some(finalizers.into_iter().filter(|f| f != FINALIZER).collect());
    }
    match api.replace_subresource("finalize", &finalized).await {
        Ok(_) => {
            tracing::info!(namespace = %name, "namespace emptied and finalized");
            Ok(Requeue::No)
        }
        Err(e) if e.is_not_found() => Ok(Requeue::No),
        Err(e) => Err(e),
    }
}

/// Kubernetes' deletion conditions: what remains and which finalizers
/// hold it, worded as kube-controller-manager words them.
fn set_conditions(namespace: &mut Namespace, remaining: &Remaining) {
    let content = remaining
        .resources
        .iter()
        .map(|(resource, n)| format!("{resource} has {n} resource instances"))
        .collect::<Vec<_>>()
        .join(", ");
    let held = remaining
        .finalizers
        .iter()
        .map(|(f, n)| format!("{f} in {n} resource instances"))
        .collect::<Vec<_>>()
        .join(", ");
    let status = namespace.status.get_or_insert_with(Default::default);
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    let mut set = |type_: &str, on: bool, reason: &str, message: String| {
        let value = if on { "True" } else { "False" };
        match conditions.iter_mut().find(|c| c.type_ == type_) {
            Some(c) if c.status == value && c.message.as_deref() == Some(message.as_str()) => {}
            Some(c) => {
                if c.status != value {
                    c.last_transition_time = Some(Time(jiff::Timestamp::now()));
                }
                c.status = value.to_string();
                c.reason = Some(reason.to_string());
                c.message = Some(message);
            }
            None => conditions.push(NamespaceCondition {
                type_: type_.to_string(),
                status: value.to_string(),
                reason: Some(reason.to_string()),
                message: Some(message),
                last_transition_time: Some(Time(jiff::Timestamp::now())),
            }),
        }
    };
    set(
        "NamespaceContentRemaining",
        true,
        "SomeResourcesRemain",
        format!("Some resources are remaining: {content}"),
    );
    if held.is_empty() {
        set(
            "NamespaceFinalizersRemaining",
            false,
            "ContentHasNoFinalizers",
            "All content-preserving finalizers finished".to_string(),
        );
    } else {
        set(
            "NamespaceFinalizersRemaining",
            true,
            "SomeFinalizersRemain",
            format!("Some content in the namespace has finalizers remaining: {held}"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_name_what_remains() {
        let mut ns = Namespace::default();
        let remaining = Remaining {
            resources: vec![("pods", 2), ("configmaps", 1)],
            finalizers: vec![("example.com/hold".to_string(), 1)],
        };
        set_conditions(&mut ns, &remaining);
        let conditions = ns.status.unwrap().conditions.unwrap();
        let content = conditions
            .iter()
            .find(|c| c.type_ == "NamespaceContentRemaining")
            .unwrap();
        assert_eq!(
            content.message.as_deref(),
            Some("Some resources are remaining: pods has 2 resource instances, configmaps has 1 resource instances")
        );
        let held = conditions
            .iter()
            .find(|c| c.type_ == "NamespaceFinalizersRemaining")
            .unwrap();
        assert_eq!(held.status, "True");
        assert_eq!(
            held.message.as_deref(),
            Some("Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances")
        );
    }
}

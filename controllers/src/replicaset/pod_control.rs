//! Creating and deleting a ReplicaSet's pods: the pod built from the template, the
//! slow-start batches creations go out in, and the events the wiring records for each
//! result (Kubernetes' `RealPodControl` and `slowStartBatch`).

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::SyncError;
use crate::controller_ref::new_controller_ref;

/// The most pods one sync creates or deletes (Kubernetes' `BurstReplicas`); the rest
/// wait for the next sync, so a large scale-up cannot flood the apiserver.
pub const BURST_REPLICAS: usize = 500;

/// Size of the first creation batch (Kubernetes' `SlowStartInitialBatchSize`).
pub const SLOW_START_INITIAL_BATCH_SIZE: usize = 1;

/// Longest generated-name prefix the apiserver accepts: a DNS subdomain is at most 253
/// characters, and the apiserver appends a random suffix to `generateName`.
const MAX_NAME_LENGTH: usize = 253;

/// Batch sizes for creating `count` pods: 1, 2, 4, … doubling, the last batch holding
/// what remains. The wiring runs each batch concurrently and stops after the first
/// batch with a failure, so a template that cannot be created (quota, admission)
/// costs one failed call instead of hundreds (Kubernetes' `slowStartBatch`).
pub fn slow_start_batches(count: usize) -> Vec<usize> {
    let mut batches = Vec::new();
    let mut remaining = count;
    let mut size = SLOW_START_INITIAL_BATCH_SIZE.min(remaining);
    while size > 0 {
        batches.push(size);
        remaining -= size;
        size = (size * 2).min(remaining);
    }
    batches
}

/// The pod the ReplicaSet creates: the template's labels, annotations, finalizers and
/// spec, `generateName` `<rs-name>-`, the ReplicaSet's namespace, and a controller
/// reference to the ReplicaSet (Kubernetes' `GetPodFromTemplate`).
pub fn pod_from_template(rs: &ReplicaSet) -> Result<Pod, SyncError> {
    let template = rs
        .spec
        .as_ref()
        .and_then(|s| s.template.as_ref())
        .ok_or(SyncError::MissingTemplate)?;
    let name = rs.metadata.name.clone().unwrap_or_default();
    // Kubernetes drops the dash when the prefix would not validate, leaving the
    // apiserver to reject an over-long name with a clear error.
    let generate_name = if name.len() < MAX_NAME_LENGTH {
        format!("{name}-")
    } else {
        name
    };
    let template_meta = template.metadata.clone().unwrap_or_default();
    Ok(Pod {
        metadata: ObjectMeta {
            generate_name: Some(generate_name),
            namespace: rs.metadata.namespace.clone(),
            labels: template_meta.labels,
            annotations: template_meta.annotations,
            finalizers: template_meta.finalizers,
            owner_references: Some(vec![new_controller_ref::<ReplicaSet>(&rs.metadata)]),
            ..Default::default()
        },
        spec: template.spec.clone(),
        status: None,
    })
}

/// Kind of an event, as the Events API spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// Routine progress.
    Normal,
    /// Something the user should look at.
    Warning,
}

impl EventType {
    /// `"Normal"` or `"Warning"`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// An event to record on the controller's object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Normal or Warning.
    pub type_: EventType,
    /// Kubernetes' machine-readable reason, e.g. `SuccessfulCreate`.
    pub reason: &'static str,
    /// Kubernetes' human-readable message.
    pub message: String,
}

impl Event {
    /// A Normal event.
    pub fn normal(reason: &'static str, message: String) -> Self {
        Self {
            type_: EventType::Normal,
            reason,
            message,
        }
    }

    /// A Warning event.
    pub fn warning(reason: &'static str, message: String) -> Self {
        Self {
            type_: EventType::Warning,
            reason,
            message,
        }
    }
}

/// Reason of the event for a created pod.
pub const SUCCESSFUL_CREATE_REASON: &str = "SuccessfulCreate";
/// Reason of the event for a failed pod creation, and of the ReplicaFailure condition.
pub const FAILED_CREATE_REASON: &str = "FailedCreate";
/// Reason of the event for a deleted pod.
pub const SUCCESSFUL_DELETE_REASON: &str = "SuccessfulDelete";
/// Reason of the event for a failed pod deletion, and of the ReplicaFailure condition.
pub const FAILED_DELETE_REASON: &str = "FailedDelete";

/// `SuccessfulCreate` "Created pod: NAME".
pub fn created_pod_event(pod_name: &str) -> Event {
    Event::normal(SUCCESSFUL_CREATE_REASON, format!("Created pod: {pod_name}"))
}

/// `FailedCreate` "Error creating: ERROR" (Warning).
pub fn failed_create_event(error: &str) -> Event {
    Event::warning(FAILED_CREATE_REASON, format!("Error creating: {error}"))
}

/// `SuccessfulDelete` "Deleted pod: NAME".
pub fn deleted_pod_event(pod_name: &str) -> Event {
    Event::normal(SUCCESSFUL_DELETE_REASON, format!("Deleted pod: {pod_name}"))
}

/// `FailedDelete` "Error deleting: ERROR" (Warning).
pub fn failed_delete_event(error: &str) -> Event {
    Event::warning(FAILED_DELETE_REASON, format!("Error deleting: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::ReplicaSetSpec;
    use k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec};
    use std::collections::BTreeMap;

    #[test]
    fn slow_start_doubles_from_one_up_to_the_remainder() {
        assert_eq!(slow_start_batches(0), Vec::<usize>::new());
        assert_eq!(slow_start_batches(1), vec![1]);
        assert_eq!(slow_start_batches(10), vec![1, 2, 4, 3]);
        assert_eq!(slow_start_batches(500).iter().sum::<usize>(), 500);
    }

    #[test]
    fn pod_copies_template_and_points_at_its_replicaset() {
        let labels = BTreeMap::from([("app".to_string(), "web".to_string())]);
        let rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some("web-5d8f".into()),
                namespace: Some("prod".into()),
                uid: Some("rs-uid".into()),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                template: Some(PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(labels.clone()),
                        ..Default::default()
                    }),
                    spec: Some(PodSpec::default()),
                }),
                ..Default::default()
            }),
            status: None,
        };
        let pod = pod_from_template(&rs).expect("template present");
        assert_eq!(pod.metadata.generate_name.as_deref(), Some("web-5d8f-"));
        assert_eq!(pod.metadata.namespace.as_deref(), Some("prod"));
        assert_eq!(pod.metadata.labels, Some(labels));
        let owner = &pod.metadata.owner_references.expect("owner")[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str()),
            ("ReplicaSet", "rs-uid")
        );
        assert_eq!(owner.block_owner_deletion, Some(true));
        assert_eq!(
            created_pod_event("web-5d8f-x").message,
            "Created pod: web-5d8f-x"
        );
    }
}

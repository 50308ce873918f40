//! The table of served kinds. Adding a kind is one entry here.

use k8s_openapi::api::{
    apps::v1 as apps, autoscaling::v2 as autoscaling, coordination::v1 as coordination,
    core::v1 as core, discovery::v1 as discovery, networking::v1 as networking,
    storage::v1 as storage,
};
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;

use super::Resource;

fn decode<T: DeserializeOwned + Serialize>(value: &Value) -> Result<Value, String> {
    let typed = T::deserialize(value).map_err(|e| e.to_string())?;
    serde_json::to_value(&typed).map_err(|e| e.to_string())
}

macro_rules! resource {
    ($group:expr, $version:expr, $kind:expr, $plural:expr, $singular:expr, $namespaced:expr,
     [$($short:expr),*], [$($category:expr),*], $ty:ty) => {
        Resource {
            group: $group,
            version: $version,
            kind: $kind,
            plural: $plural,
            singular: $singular,
            namespaced: $namespaced,
            short_names: &[$($short),*],
            categories: &[$($category),*],
            decode: decode::<$ty>,
        }
    };
}

/// Every served resource.
pub static RESOURCES: &[Resource] = &[
    resource!(
        "",
        "v1",
        "Namespace",
        "namespaces",
        "namespace",
        false,
        ["ns"],
        [],
        core::Namespace
    ),
    resource!(
        "",
        "v1",
        "Pod",
        "pods",
        "pod",
        true,
        ["po"],
        ["all"],
        core::Pod
    ),
    resource!(
        "",
        "v1",
        "Node",
        "nodes",
        "node",
        false,
        ["no"],
        [],
        core::Node
    ),
    resource!(
        "",
        "v1",
        "Service",
        "services",
        "service",
        true,
        ["svc"],
        ["all"],
        core::Service
    ),
    resource!(
        "",
        "v1",
        "Endpoints",
        "endpoints",
        "endpoints",
        true,
        ["ep"],
        [],
        core::Endpoints
    ),
    resource!(
        "",
        "v1",
        "ConfigMap",
        "configmaps",
        "configmap",
        true,
        ["cm"],
        [],
        core::ConfigMap
    ),
    resource!(
        "",
        "v1",
        "Secret",
        "secrets",
        "secret",
        true,
        [],
        [],
        core::Secret
    ),
    resource!(
        "",
        "v1",
        "Event",
        "events",
        "event",
        true,
        ["ev"],
        [],
        core::Event
    ),
    resource!(
        "",
        "v1",
        "PersistentVolume",
        "persistentvolumes",
        "persistentvolume",
        false,
        ["pv"],
        [],
        core::PersistentVolume
    ),
    resource!(
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        "persistentvolumeclaim",
        true,
        ["pvc"],
        [],
        core::PersistentVolumeClaim
    ),
    resource!(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        "deployment",
        true,
        ["deploy"],
        ["all"],
        apps::Deployment
    ),
    resource!(
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        "replicaset",
        true,
        ["rs"],
        ["all"],
        apps::ReplicaSet
    ),
    resource!(
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        "horizontalpodautoscaler",
        true,
        ["hpa"],
        ["all"],
        autoscaling::HorizontalPodAutoscaler
    ),
    // Served for `kubectl autoscale` of older clients; stored as v2.
    resource!(
        "autoscaling",
        "v1",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        "horizontalpodautoscaler",
        true,
        ["hpa"],
        ["all"],
        k8s_openapi::api::autoscaling::v1::HorizontalPodAutoscaler
    ),
    resource!(
        "coordination.k8s.io",
        "v1",
        "Lease",
        "leases",
        "lease",
        true,
        [],
        [],
        coordination::Lease
    ),
    resource!(
        "discovery.k8s.io",
        "v1",
        "EndpointSlice",
        "endpointslices",
        "endpointslice",
        true,
        [],
        [],
        discovery::EndpointSlice
    ),
    resource!(
        "networking.k8s.io",
        "v1",
        "Ingress",
        "ingresses",
        "ingress",
        true,
        ["ing"],
        [],
        networking::Ingress
    ),
    resource!(
        "networking.k8s.io",
        "v1",
        "IngressClass",
        "ingressclasses",
        "ingressclass",
        false,
        [],
        [],
        networking::IngressClass
    ),
    resource!(
        "storage.k8s.io",
        "v1",
        "StorageClass",
        "storageclasses",
        "storageclass",
        false,
        ["sc"],
        [],
        storage::StorageClass
    ),
];

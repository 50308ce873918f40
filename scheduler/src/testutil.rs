//! Small constructors of nodes and pods for the unit tests.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Container, ContainerPort, Node, NodeSpec, NodeStatus, Pod, PodSpec, ResourceRequirements,
    Taint, Toleration,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};

use crate::framework::cache::Cache;
use crate::framework::snapshot::Snapshot;

pub fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub fn quantities(pairs: &[(&str, &str)]) -> BTreeMap<String, Quantity> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
        .collect()
}

/// A container requesting `cpu` and `memory` (both named, even when "0").
pub fn container(cpu: &str, memory: &str) -> Container {
    Container {
        name: "c".into(),
        resources: Some(ResourceRequirements {
            requests: Some(quantities(&[("cpu", cpu), ("memory", memory)])),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A pending pod in namespace `default` with one container without requests.
pub fn pod(name: &str) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            uid: Some(format!("uid-{name}")),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "c".into(),
                ..Default::default()
            }],
            scheduler_name: Some("default-scheduler".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A pending pod with one container requesting `cpu` and `memory`.
pub fn pod_req(name: &str, cpu: &str, memory: &str) -> Pod {
    let mut p = pod(name);
    spec(&mut p).containers = vec![container(cpu, memory)];
    p
}

pub fn spec(p: &mut Pod) -> &mut PodSpec {
    p.spec.get_or_insert_with(Default::default)
}

pub fn with_labels(mut p: Pod, pairs: &[(&str, &str)]) -> Pod {
    p.metadata.labels = Some(labels(pairs));
    p
}

pub fn on_node(mut p: Pod, node: &str) -> Pod {
    spec(&mut p).node_name = Some(node.into());
    p
}

pub fn with_tolerations(mut p: Pod, tolerations: Vec<Toleration>) -> Pod {
    spec(&mut p).tolerations = Some(tolerations);
    p
}

pub fn with_host_port(mut p: Pod, host_ip: &str, protocol: &str, port: i32) -> Pod {
    if let Some(c) = spec(&mut p).containers.first_mut() {
        c.ports.get_or_insert_with(Vec::new).push(ContainerPort {
            container_port: port,
            host_port: Some(port),
            host_ip: (!host_ip.is_empty()).then(|| host_ip.to_string()),
            protocol: (!protocol.is_empty()).then(|| protocol.to_string()),
            ..Default::default()
        });
    }
    p
}

/// Marks the pod as made by ReplicaSet `rs`.
pub fn owned_by_replica_set(mut p: Pod, rs: &str) -> Pod {
    p.metadata.owner_references = Some(vec![OwnerReference {
        api_version: "apps/v1".into(),
        kind: "ReplicaSet".into(),
        name: rs.into(),
        uid: format!("uid-{rs}"),
        controller: Some(true),
        ..Default::default()
    }]);
    p
}

pub fn toleration(key: &str, operator: &str, value: &str, effect: &str) -> Toleration {
    let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
    Toleration {
        key: some(key),
        operator: some(operator),
        value: some(value),
        effect: some(effect),
        ..Default::default()
    }
}

pub fn taint(key: &str, value: &str, effect: &str) -> Taint {
    Taint {
        key: key.into(),
        value: (!value.is_empty()).then(|| value.to_string()),
        effect: effect.into(),
        ..Default::default()
    }
}

pub fn selector(pairs: &[(&str, &str)]) -> LabelSelector {
    LabelSelector {
        match_labels: Some(labels(pairs)),
        ..Default::default()
    }
}

/// A ready node offering `cpu`, `memory` and `pods`, labelled with its hostname.
pub fn node(name: &str, cpu: &str, memory: &str, pods: &str) -> Node {
    Node {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(labels(&[("kubernetes.io/hostname", name)])),
            ..Default::default()
        },
        spec: Some(NodeSpec::default()),
        status: Some(NodeStatus {
            allocatable: Some(quantities(&[
                ("cpu", cpu),
                ("memory", memory),
                ("pods", pods),
            ])),
            ..Default::default()
        }),
    }
}

pub fn with_node_labels(mut n: Node, pairs: &[(&str, &str)]) -> Node {
    let l = n.metadata.labels.get_or_insert_with(BTreeMap::new);
    for (k, v) in pairs {
        l.insert(k.to_string(), v.to_string());
    }
    n
}

pub fn with_taints(mut n: Node, taints: Vec<Taint>) -> Node {
    n.spec.get_or_insert_with(Default::default).taints = Some(taints);
    n
}

/// A snapshot of the given nodes and assigned pods.
pub fn snapshot(nodes: Vec<Node>, pods: Vec<Pod>) -> Snapshot {
    let mut cache = Cache::new();
    for n in nodes {
        cache.add_node(n);
    }
    for p in pods {
        cache.add_pod(&p);
    }
    cache.snapshot()
}

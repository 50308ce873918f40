//! Nodes simulated the way a kubelet would drive the API: a Node object
//! with capacity and a Ready condition, its Lease in kube-node-lease
//! renewed every few seconds, the pods bound to it reported Running and
//! Ready with a pod IP, and pods being deleted confirmed gone.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use berth_client::{Api, Client, Informer, InformerConfig, ListParams, Notification, Patch};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{Node, NodeCondition, NodeStatus, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use serde_json::json;

/// A simulated node; dropping it stops its kubelet (the node goes silent).
pub struct FakeNode {
    pub name: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeNode {
    fn drop(&mut self) {
        self.task.abort();
    }
}

static NEXT_IP: AtomicU32 = AtomicU32::new(1);

/// Registers node `name` with `cpu` (e.g. "2") and `memory` (e.g. "4Gi")
/// and runs its kubelet until dropped.
pub async fn start(client: &Client, name: &str, cpu: &str, memory: &str) -> FakeNode {
    let quantities: BTreeMap<String, Quantity> = [
        ("cpu".to_string(), Quantity(cpu.into())),
        ("memory".to_string(), Quantity(memory.into())),
        ("pods".to_string(), Quantity("110".into())),
    ]
    .into();
    let node = Node {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(
                [
                    ("kubernetes.io/hostname".to_string(), name.to_string()),
                    ("kubernetes.io/os".to_string(), "linux".to_string()),
                ]
                .into(),
            ),
            ..ObjectMeta::default()
        },
        status: Some(NodeStatus {
            capacity: Some(quantities.clone()),
            allocatable: Some(quantities),
            conditions: Some(vec![ready_condition()]),
            ..NodeStatus::default()
        }),
        ..Node::default()
    };
    let nodes: Api<Node> = Api::all(client.clone());
    let created = nodes.create(&node).await.unwrap();
    // Status is not taken from a create: write it as a kubelet does.
    let mut with_status = created.clone();
    with_status.status = node.status.clone();
    nodes.replace_status(&with_status).await.unwrap();
    let task = tokio::spawn(kubelet(client.clone(), name.to_string()));
    FakeNode {
        name: name.to_string(),
        task,
    }
}

fn ready_condition() -> NodeCondition {
    let now = Time(jiff::Timestamp::now());
    NodeCondition {
        type_: "Ready".into(),
        status: "True".into(),
        reason: Some("KubeletReady".into()),
        message: Some("kubelet is posting ready status".into()),
        last_heartbeat_time: Some(now.clone()),
        last_transition_time: Some(now),
    }
}

async fn kubelet(client: Client, node: String) {
    let pods = Informer::spawn(
        Api::<Pod>::all(client.clone()),
        InformerConfig {
            params: ListParams::fields(&format!("spec.nodeName={node}")),
            ..InformerConfig::default()
        },
        Vec::new(),
    );
    let mut events = pods.store().subscribe();
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let pods_api: Api<Pod> = Api::all(client.clone());
    let renew = async {
        loop {
            renew_lease(&leases, &node).await;
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    };
    let run_pods = async {
        while let Some(note) = events.recv().await {
            let pod = match note {
                Notification::Added(p) | Notification::Updated { new: p, .. } => p,
                Notification::Deleted(_) => continue,
            };
            let ns = pod.metadata.namespace.clone().unwrap_or_default();
            let name = pod.metadata.name.clone().unwrap_or_default();
            if pod.metadata.deletion_timestamp.is_some() {
                let _ = pods_api
                    .delete_in(&ns, &name, &json!({"gracePeriodSeconds": 0}))
                    .await;
                continue;
            }
            let running = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
            if running {
                continue;
            }
            let n = NEXT_IP.fetch_add(1, Ordering::Relaxed);
            let now = jiff::Timestamp::now().to_string();
            let containers: Vec<_> = pod
                .spec
                .iter()
                .flat_map(|s| s.containers.iter())
                .map(|c| {
                    json!({
                        "name": c.name, "image": c.image, "imageID": "",
                        "ready": true, "restartCount": 0, "started": true,
                        "state": {"running": {"startedAt": now}}
                    })
                })
                .collect();
            let patch = Patch::Strategic(json!({"status": {
                "phase": "Running",
                "podIP": format!("10.244.{}.{}", n / 250, n % 250 + 1),
                "hostIP": "192.0.2.1",
                "startTime": now,
                "conditions": [
                    {"type": "Initialized", "status": "True", "lastTransitionTime": now},
                    {"type": "ContainersReady", "status": "True", "lastTransitionTime": now},
                    {"type": "Ready", "status": "True", "lastTransitionTime": now},
                ],
                "containerStatuses": containers,
            }}));
            let _ = pods_api.patch_status(&ns, &name, &patch).await;
        }
    };
    tokio::join!(renew, run_pods);
}

async fn renew_lease(leases: &Api<Lease>, node: &str) {
    let now = MicroTime(jiff::Timestamp::now());
    match leases.get_opt(node).await {
        Ok(Some(mut lease)) => {
            if let Some(spec) = lease.spec.as_mut() {
                spec.renew_time = Some(now);
            }
            let _ = leases.replace(&lease).await;
        }
        Ok(None) => {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(node.into()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(node.into()),
                    lease_duration_seconds: Some(40),
                    renew_time: Some(now),
                    ..LeaseSpec::default()
                }),
            };
            let _ = leases.create(&lease).await;
        }
        Err(_) => {}
    }
}

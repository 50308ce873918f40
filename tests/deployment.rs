//! The guide's Deployment through stock kubectl against `berth server`
//! with its scheduler and controllers, on three simulated nodes: applied,
//! spread, scaled, healed, rolled out within maxSurge and maxUnavailable,
//! and rolled back; and a Service's Endpoints and EndpointSlices listing
//! its ready pods.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_client::{Api, Client, Informer, InformerConfig, ListParams, Notification};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Endpoints, Event, Pod};
use k8s_openapi::api::discovery::v1::EndpointSlice;

use common::kubelet;

struct Cluster {
    _server: common::Server,
    dir: tempfile::TempDir,
    client: Client,
    _nodes: Vec<kubelet::FakeNode>,
}

impl Cluster {
    async fn start() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let (server, client) = common::agent::serving_server(dir.path()).await;
        let mut nodes = Vec::new();
        for i in 0..3 {
            nodes.push(kubelet::start(&client, &format!("node-{i}"), "2", "4Gi").await);
        }
        Cluster {
            _server: server,
            dir,
            client,
            _nodes: nodes,
        }
    }

    async fn kubectl(&self, args: &[&str]) -> String {
        let out = tokio::process::Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(self.dir.path().join("kubeconfig"))
            .args(args)
            .output()
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// `kubectl rollout status`, which waits for the rollout to finish.
    async fn rollout_status(&self) -> String {
        let status = self
            .kubectl(&[
                "rollout",
                "status",
                "deployment/api-server",
                "--timeout=60s",
            ])
            .await;
        assert!(status.contains("successfully rolled out"), "{status}");
        status
    }

    /// The active pods of the Deployment once there are exactly `n`, all
    /// bound and running `image`.
    async fn pods(&self, n: usize, image: &str) -> Vec<Pod> {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), "default");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (all, _) = pods
                .list_all(&ListParams::labels("app=api-server"))
                .await
                .unwrap();
            let active: Vec<Pod> = all
                .into_iter()
                .filter(|p| p.metadata.deletion_timestamp.is_none())
                .collect();
            let settled = active.iter().all(|p| {
                let spec = p.spec.as_ref().unwrap();
                spec.node_name.is_some() && spec.containers[0].image.as_deref() == Some(image)
            });
            if active.len() == n && settled {
                return active;
            }
            assert!(
                Instant::now() < deadline,
                "never {n} pods of {image}; now {} pods",
                active.len()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The revision numbers `kubectl rollout history` lists.
fn revisions(history: &str) -> Vec<&str> {
    history
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.chars().all(|c| c.is_ascii_digit()))
        .collect()
}

fn node_of(pod: &Pod) -> String {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .unwrap_or_default()
}

fn ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

#[tokio::test]
async fn the_guides_deployment_spreads_scales_heals_rolls_out_and_back() {
    let cluster = Cluster::start().await;
    let manifest = format!(
        "{}/../shared/manifests/deployment.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    cluster.kubectl(&["apply", "-f", &manifest]).await;
    let placed = cluster.pods(3, "api-server:1.2.0").await;
    let mut spread: Vec<String> = placed.iter().map(node_of).collect();
    spread.sort();
    assert_eq!(spread, ["node-0", "node-1", "node-2"], "one pod per node");
    let status = cluster.rollout_status().await;
    assert!(status.contains("successfully rolled out"), "{status}");

    // Scaled 3 → 5 → 2, and a pod deleted by hand is replaced.
    cluster
        .kubectl(&["scale", "deployment/api-server", "--replicas=5"])
        .await;
    cluster.pods(5, "api-server:1.2.0").await;
    cluster
        .kubectl(&["scale", "deployment/api-server", "--replicas=2"])
        .await;
    let two = cluster.pods(2, "api-server:1.2.0").await;
    let victim = two[0].metadata.name.clone().unwrap();
    cluster
        .kubectl(&["delete", "pod", &victim, "--wait=false"])
        .await;
    let healed = cluster.pods(2, "api-server:1.2.0").await;
    assert!(healed
        .iter()
        .all(|p| p.metadata.name.as_deref() != Some(&victim)));
    cluster
        .kubectl(&["scale", "deployment/api-server", "--replicas=3"])
        .await;
    cluster.pods(3, "api-server:1.2.0").await;
    cluster.rollout_status().await;

    // Every state of the pods seen during the rollout: with 3 replicas,
    // 25% surge rounds up to 1 and 25% unavailable rounds down to 0.
    let informer = Informer::spawn(
        Api::<Pod>::namespaced(cluster.client.clone(), "default"),
        InformerConfig::default(),
        Vec::new(),
    );
    informer.wait_synced().await;
    let store = informer.store();
    let mut changes = store.subscribe();
    let seen = Arc::new(Mutex::new(Vec::<(usize, usize)>::new()));
    let observer = {
        let seen = seen.clone();
        tokio::spawn(async move {
            while let Some(note) = changes.recv().await {
                if let Notification::Updated { old, new } = &note {
                    if Arc::ptr_eq(old, new) {
                        continue;
                    }
                }
                let active: Vec<_> = store
                    .list()
                    .into_iter()
                    .filter(|p| p.metadata.deletion_timestamp.is_none())
                    .collect();
                let ready_count = active.iter().filter(|p| ready(p)).count();
                seen.lock().unwrap().push((active.len(), ready_count));
            }
        })
    };
    cluster
        .kubectl(&[
            "set",
            "image",
            "deployment/api-server",
            "api=api-server:1.3.0",
        ])
        .await;
    let status = cluster.rollout_status().await;
    assert!(status.contains("successfully rolled out"), "{status}");
    cluster.pods(3, "api-server:1.3.0").await;
    observer.abort();
    let steps = seen.lock().unwrap().clone();
    assert!(steps.len() >= 4, "the rollout was observed: {steps:?}");
    for (active, ready) in &steps {
        assert!(*active <= 4, "more than replicas + maxSurge: {steps:?}");
        assert!(
            *ready >= 3,
            "fewer than replicas - maxUnavailable ready: {steps:?}"
        );
    }

    let history = cluster
        .kubectl(&["rollout", "history", "deployment/api-server"])
        .await;
    let listed = revisions(&history);
    assert_eq!(listed, ["1", "2"], "{history}");

    cluster
        .kubectl(&["rollout", "undo", "deployment/api-server"])
        .await;
    cluster.rollout_status().await;
    cluster.pods(3, "api-server:1.2.0").await;
    let history = cluster
        .kubectl(&["rollout", "history", "deployment/api-server"])
        .await;
    let listed = revisions(&history);
    assert_eq!(
        listed,
        ["2", "3"],
        "undo makes revision 1 the newest: {history}"
    );

    let deployments: Api<Deployment> = Api::namespaced(cluster.client.clone(), "default");
    let d = deployments.get("api-server").await.unwrap();
    let s = d.status.unwrap();
    assert_eq!(
        (
            s.replicas,
            s.updated_replicas,
            s.ready_replicas,
            s.available_replicas
        ),
        (Some(3), Some(3), Some(3), Some(3))
    );
    assert_eq!(
        d.metadata.annotations.unwrap()["deployment.kubernetes.io/revision"],
        "3"
    );
    let events: Api<Event> = Api::namespaced(cluster.client.clone(), "default");
    let (all, _) = events.list_all(&ListParams::default()).await.unwrap();
    let scaling: Vec<&str> = all
        .iter()
        .filter(|e| e.reason.as_deref() == Some("ScalingReplicaSet"))
        .filter_map(|e| e.message.as_deref())
        .collect();
    assert!(
        scaling
            .iter()
            .any(|m| m.starts_with("Scaled up replica set api-server-")
                && m.ends_with("from 0 to 3")),
        "{scaling:?}"
    );
    let describe = cluster
        .kubectl(&["describe", "deployment", "api-server"])
        .await;
    assert!(describe.contains("ScalingReplicaSet"), "{describe}");
}

#[tokio::test]
async fn a_services_endpoints_and_slices_list_its_ready_pods() {
    let cluster = Cluster::start().await;
    let manifest = format!(
        "{}/../shared/manifests/deployment.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    cluster.kubectl(&["apply", "-f", &manifest]).await;
    cluster
        .kubectl(&[
            "expose",
            "deployment",
            "api-server",
            "--port=80",
            "--target-port=8080",
        ])
        .await;
    let endpoints: Api<Endpoints> = Api::namespaced(cluster.client.clone(), "default");
    let deadline = Instant::now() + Duration::from_secs(30);
    let listed = loop {
        if let Ok(Some(e)) = endpoints.get_opt("api-server").await {
            let mut listed: Vec<String> = e
                .subsets
                .iter()
                .flatten()
                .flat_map(|s| s.addresses.iter().flatten())
                .map(|a| a.ip.clone())
                .collect();
            listed.sort();
            if listed.len() == 3 {
                let port = &e.subsets.as_ref().unwrap()[0].ports.as_ref().unwrap()[0];
                assert_eq!(port.port, 8080);
                break listed;
            }
        }
        if Instant::now() >= deadline {
            // What the controller had to go on, to tell a slow pod from a
            // missed update.
            let state = cluster
                .kubectl(&["get", "endpoints,pods,services", "-o", "wide"])
                .await;
            panic!("Endpoints never listed 3 pods:\n{state}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Read the pods only now: a pod is scheduled before its node reports an IP.
    let pods = cluster.pods(3, "api-server:1.2.0").await;
    let mut ips: Vec<String> = pods
        .iter()
        .filter_map(|p| p.status.as_ref()?.pod_ip.clone())
        .collect();
    ips.sort();
    assert_eq!(listed, ips);
    let slices: Api<EndpointSlice> = Api::namespaced(cluster.client.clone(), "default");
    // The EndpointSlice controller runs beside the Endpoints one, so it may lag it.
    let sliced = loop {
        let (all, _) = slices
            .list_all(&ListParams::labels("kubernetes.io/service-name=api-server"))
            .await
            .unwrap();
        assert!(all.len() <= 1, "{all:?}");
        let mut sliced: Vec<String> = all
            .iter()
            .flat_map(|s| s.endpoints.iter())
            .filter(|e| e.conditions.as_ref().and_then(|c| c.ready) == Some(true))
            .flat_map(|e| e.addresses.clone())
            .collect();
        sliced.sort();
        if sliced.len() == 3 {
            break sliced;
        }
        assert!(Instant::now() < deadline, "the slice never listed 3 pods");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(sliced, ips);
    let get = cluster.kubectl(&["get", "endpoints", "api-server"]).await;
    assert!(get.contains(":8080"), "{get}");
}

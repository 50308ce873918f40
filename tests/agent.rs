//! `berth agent` over the hollow runtime against `berth server` with its
//! scheduler and controllers: nodes register and keep their Leases, the
//! guide's Deployment runs Running and Ready on them, a deleted pod is
//! ended by its agent and replaced. (The real containers of the CRI
//! runtime are tests/agent_cri.rs.)

mod common;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use berth_client::{Api, ListParams};
use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Event, Node, Pod};

use common::agent::{manifest, running_ready, Cluster};

fn node_of(pod: &Pod) -> String {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn hollow_nodes_run_the_guides_deployment_and_end_deleted_pods() {
    let mut cluster = Cluster::start().await;
    cluster.start_hollow_agent("hollow", 3);
    for i in 0..3 {
        let node = cluster
            .node_ready(&format!("hollow-{i}"), Duration::from_secs(30))
            .await;
        let labels = node.metadata.labels.unwrap_or_default();
        assert_eq!(labels["kubernetes.io/hostname"], format!("hollow-{i}"));
        assert_eq!(labels["kubernetes.io/os"], "linux");
        let status = node.status.unwrap();
        let allocatable = status.allocatable.unwrap();
        assert_eq!(allocatable["pods"].0, "110");
        assert!(allocatable.contains_key("cpu") && allocatable.contains_key("memory"));
        let conditions: BTreeSet<String> = status
            .conditions
            .unwrap()
            .into_iter()
            .map(|c| format!("{}={}", c.type_, c.status))
            .collect();
        assert_eq!(
            conditions,
            BTreeSet::from([
                "DiskPressure=False".to_string(),
                "MemoryPressure=False".to_string(),
                "PIDPressure=False".to_string(),
                "Ready=True".to_string(),
            ])
        );
    }

    cluster
        .kubectl(&["apply", "-f", &manifest("deployment.yaml")])
        .await;
    let pods = cluster
        .pods_until(
            "default",
            "app=api-server",
            Duration::from_secs(60),
            "3 pods Running and Ready",
            |pods| pods.len() == 3 && pods.iter().all(running_ready),
        )
        .await;
    let nodes: BTreeSet<String> = pods.iter().map(node_of).collect();
    assert_eq!(nodes.len(), 3, "spread over the three nodes: {nodes:?}");
    for pod in &pods {
        let status = pod.status.as_ref().unwrap();
        assert_eq!(status.host_ip.as_deref(), Some("127.0.0.1"));
        let containers = status.container_statuses.as_ref().unwrap();
        assert_eq!(containers.len(), 1);
        let c = &containers[0];
        assert!(c.ready && c.started == Some(true), "{c:?}");
        assert_eq!(c.restart_count, 0);
        assert!(c.state.as_ref().unwrap().running.is_some(), "{c:?}");
        assert!(c
            .container_id
            .as_deref()
            .unwrap_or_default()
            .contains("://"));
        let types: BTreeSet<&str> = status
            .conditions
            .iter()
            .flatten()
            .filter(|c| c.status == "True")
            .map(|c| c.type_.as_str())
            .collect();
        for t in ["PodScheduled", "Initialized", "ContainersReady", "Ready"] {
            assert!(types.contains(t), "{t} not True: {types:?}");
        }
    }

    // `kubectl get pods -o wide` shows the node and IP columns filled.
    let wide = cluster.kubectl(&["get", "pods", "-o", "wide"]).await;
    for pod in &pods {
        let ip = pod.status.as_ref().unwrap().pod_ip.clone().unwrap();
        let line = wide
            .lines()
            .find(|l| l.starts_with(pod.metadata.name.as_deref().unwrap()))
            .unwrap_or_else(|| panic!("{wide}"));
        assert!(line.contains("Running") && line.contains("1/1"), "{line}");
        assert!(line.contains(&ip) && line.contains(&node_of(pod)), "{line}");
    }

    // The kubelet's events, as `kubectl describe pod` lists them.
    let first = pods[0].metadata.name.clone().unwrap();
    let events: Api<Event> = Api::namespaced(cluster.client.clone(), "default");
    let (listed, _) = events.list_all(&ListParams::default()).await.unwrap();
    let reasons: BTreeSet<String> = listed
        .iter()
        .filter(|e| e.involved_object.name.as_deref() == Some(first.as_str()))
        .filter_map(|e| e.reason.clone())
        .collect();
    for reason in ["Scheduled", "Pulled", "Created", "Started"] {
        assert!(
            reasons.contains(reason),
            "{reason} missing from {reasons:?}"
        );
    }
    let describe = cluster.kubectl(&["describe", "pod", &first]).await;
    assert!(describe.contains("Started container api"), "{describe}");

    // A deleted pod: its agent ends it (the pod object goes once its
    // containers stopped) and the ReplicaSet replaces it.
    cluster
        .kubectl(&["delete", "pod", &first, "--wait=true", "--timeout=60s"])
        .await;
    let after = cluster
        .pods_until(
            "default",
            "app=api-server",
            Duration::from_secs(60),
            "a replacement Running and Ready",
            |pods| {
                pods.len() == 3
                    && pods.iter().all(running_ready)
                    && pods
                        .iter()
                        .all(|p| p.metadata.name.as_deref() != Some(first.as_str()))
            },
        )
        .await;
    assert_eq!(after.len(), 3);
    let killing = events
        .list_all(&ListParams::default())
        .await
        .unwrap()
        .0
        .into_iter()
        .any(|e| {
            e.involved_object.name.as_deref() == Some(first.as_str())
                && e.reason.as_deref() == Some("Killing")
        });
    assert!(killing, "no Killing event for {first}");
}

#[tokio::test]
async fn two_hundred_hollow_nodes_register_and_keep_their_leases() {
    const NODES: usize = 200;
    let mut cluster = Cluster::start().await;
    cluster.start_hollow_agent("many", NODES);
    let nodes: Api<Node> = Api::all(cluster.client.clone());
    let leases: Api<Lease> = Api::namespaced(cluster.client.clone(), "kube-node-lease");
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let renewals = |list: Vec<Lease>| -> HashMap<String, Timestamp> {
        list.into_iter()
            .filter_map(|l| {
                let renewed = l.spec?.renew_time?.0;
                Some((l.metadata.name?, renewed))
            })
            .collect()
    };
    let first = loop {
        let (registered, _) = nodes.list_all(&ListParams::default()).await.unwrap();
        let ready = registered
            .iter()
            .filter(|n| {
                common::agent::condition(
                    &n.status.as_ref().and_then(|s| s.conditions.clone()),
                    "Ready",
                )
            })
            .count();
        let (listed, _) = leases.list_all(&ListParams::default()).await.unwrap();
        if ready == NODES && listed.len() == NODES {
            break renewals(listed);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{ready} of {NODES} nodes Ready, {} leases",
            listed.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    // Every lease is renewed again within its 10 s interval (and some slack
    // for 200 renewals on two cores).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (listed, _) = leases.list_all(&ListParams::default()).await.unwrap();
        let now = renewals(listed);
        let renewed = first
            .iter()
            .filter(|(name, at)| now.get(*name).is_some_and(|t| t > *at))
            .count();
        if renewed == NODES {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{renewed} of {NODES} leases renewed"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    // Still Ready: the node lifecycle controller saw every heartbeat.
    let (registered, _) = nodes.list_all(&ListParams::default()).await.unwrap();
    assert_eq!(registered.len(), NODES);
    assert!(registered.iter().all(|n| common::agent::condition(
        &n.status.as_ref().and_then(|s| s.conditions.clone()),
        "Ready"
    )));
}

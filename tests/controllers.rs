//! The controller manager inside `berth server`: each controller driven
//! through the API as a user would, and its result read back.

mod common;

use std::time::{Duration, Instant};

use berth_client::{Api, Client, ListParams};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Namespace, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::json;

use common::{berth_server_with, kubelet, Server};

async fn client(server: &Server) -> Client {
    let client = Client::new(&server.url).unwrap();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let deadline = Instant::now() + Duration::from_secs(30);
    while namespaces.get_opt("default").await.ok().flatten().is_none() {
        assert!(Instant::now() < deadline, "the API never served");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    client
}

/// Polls `check` every 100 ms until it returns Some, for at most `secs`.
async fn eventually<T, F, Fut>(secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn named<K: Default + berth_client::Resource>(name: &str) -> K {
    let mut k = K::default();
    *k.metadata_mut() = ObjectMeta {
        name: Some(name.into()),
        ..ObjectMeta::default()
    };
    k
}

#[tokio::test]
async fn deleting_a_namespace_deletes_its_content_then_the_namespace() {
    let server = berth_server_with(&[]);
    let client = client(&server).await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces.create(&named("doomed")).await.unwrap();
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "doomed");
    for i in 0..3 {
        maps.create(&named(&format!("cm-{i}"))).await.unwrap();
    }
    // One object held by a finalizer keeps the namespace until released.
    let mut held: ConfigMap = named("held");
    held.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    maps.create(&held).await.unwrap();

    namespaces.delete("doomed").await.unwrap();
    let condition = eventually(20, "NamespaceFinalizersRemaining", || async {
        let ns = namespaces.get("doomed").await.ok()?;
        ns.status?
            .conditions?
            .into_iter()
            .find(|c| c.type_ == "NamespaceFinalizersRemaining" && c.status == "True")
    })
    .await;
    assert_eq!(
        condition.message.as_deref(),
        Some("Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances")
    );
    let (left, _) = maps.list_all(&ListParams::default()).await.unwrap();
    let names: Vec<_> = left
        .iter()
        .filter_map(|m| m.metadata.name.as_deref())
        .collect();
    assert_eq!(names, ["held"], "everything else is deleted");

    maps.patch(
        "held",
        &berth_client::Patch::Merge(serde_json::json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    eventually(20, "the namespace to be gone", || async {
        namespaces
            .get_opt("doomed")
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;
}

fn replica_set(name: &str, replicas: i32, cpu: &str) -> ReplicaSet {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{
                    "name": "c", "image": "api-server:1.2.0",
                    "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}}
                }]}
            }
        }
    }))
    .unwrap()
}

/// The pods of `app`, once there are exactly `n` active ones, all bound.
async fn bound_pods(pods: &Api<Pod>, app: &str, n: usize) -> Vec<Pod> {
    eventually(30, &format!("{n} bound pods of {app}"), || async {
        let (all, _) = pods
            .list_all(&ListParams::labels(&format!("app={app}")))
            .await
            .ok()?;
        let active: Vec<Pod> = all
            .into_iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .collect();
        let bound = active
            .iter()
            .all(|p| p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some());
        (active.len() == n && bound).then_some(active)
    })
    .await
}

fn node_of(pod: &Pod) -> String {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_replica_set_keeps_its_pods_spread_scheduled_and_replaced() {
    let server = berth_server_with(&[]);
    let client = client(&server).await;
    let mut nodes = Vec::new();
    for i in 0..3 {
        nodes.push(kubelet::start(&client, &format!("node-{i}"), "2", "4Gi").await);
    }
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    sets.create(&replica_set("web", 3, "100m")).await.unwrap();

    let placed = bound_pods(&pods, "web", 3).await;
    let mut spread: Vec<String> = placed.iter().map(node_of).collect();
    spread.sort();
    assert_eq!(spread, ["node-0", "node-1", "node-2"], "one pod per node");
    for pod in &placed {
        let owner = &pod.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.name.as_str()),
            ("ReplicaSet", "web")
        );
        assert_eq!(owner.controller, Some(true));
    }
    let status = eventually(30, "readyReplicas 3", || async {
        let s = sets.get("web").await.ok()?.status?;
        (s.ready_replicas == Some(3) && s.available_replicas == Some(3)).then_some(s)
    })
    .await;
    assert_eq!(status.replicas, 3);
    assert_eq!(status.fully_labeled_replicas, Some(3));

    // A pod deleted by hand is replaced.
    let victim = placed[0].metadata.name.clone().unwrap();
    pods.delete_in("", &victim, &json!({"gracePeriodSeconds": 0}))
        .await
        .unwrap();
    let after = bound_pods(&pods, "web", 3).await;
    assert!(after
        .iter()
        .all(|p| p.metadata.name.as_deref() != Some(victim.as_str())));

    // Scaled up, then down.
    let scale = |n: i32| berth_client::Patch::Merge(json!({"spec": {"replicas": n}}));
    sets.patch("web", &scale(5)).await.unwrap();
    bound_pods(&pods, "web", 5).await;
    sets.patch("web", &scale(2)).await.unwrap();
    bound_pods(&pods, "web", 2).await;

    // The events kubectl describe shows.
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let reasons = eventually(
        10,
        "SuccessfulCreate, SuccessfulDelete and Scheduled events",
        || async {
            let (all, _) = events.list_all(&ListParams::default()).await.ok()?;
            let has = |reason: &str| all.iter().any(|e| e.reason.as_deref() == Some(reason));
            (has("SuccessfulCreate") && has("SuccessfulDelete") && has("Scheduled")).then_some(all)
        },
    )
    .await;
    let scheduled = reasons
        .iter()
        .find(|e| e.reason.as_deref() == Some("Scheduled"))
        .unwrap();
    let message = scheduled.message.as_deref().unwrap();
    assert!(
        message.starts_with("Successfully assigned default/web-") && message.contains(" to node-"),
        "{message}"
    );
}

#[tokio::test]
async fn a_pod_too_big_for_every_node_waits_for_one_that_fits() {
    let server = berth_server_with(&[]);
    let client = client(&server).await;
    let mut nodes = Vec::new();
    for i in 0..3 {
        nodes.push(kubelet::start(&client, &format!("small-{i}"), "1", "2Gi").await);
    }
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    sets.create(&replica_set("big", 1, "2")).await.unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let failed = eventually(30, "a FailedScheduling event", || async {
        let (all, _) = events.list_all(&ListParams::default()).await.ok()?;
        all.into_iter()
            .find(|e| e.reason.as_deref() == Some("FailedScheduling"))
    })
    .await;
    assert_eq!(failed.type_.as_deref(), Some("Warning"));
    assert_eq!(
        failed.message.as_deref(),
        Some("0/3 nodes are available: 3 Insufficient cpu.")
    );
    let (pending, _) = pods.list_all(&ListParams::labels("app=big")).await.unwrap();
    assert_eq!(pending.len(), 1);
    let condition = eventually(10, "PodScheduled=False", || async {
        let pod = pods.get(pending[0].metadata.name.as_deref()?).await.ok()?;
        pod.status?
            .conditions?
            .into_iter()
            .find(|c| c.type_ == "PodScheduled" && c.status == "False")
    })
    .await;
    assert_eq!(condition.reason.as_deref(), Some("Unschedulable"));

    // A node with room arrives: the pod is scheduled there.
    nodes.push(kubelet::start(&client, "large", "4", "8Gi").await);
    let placed = bound_pods(&pods, "big", 1).await;
    assert_eq!(node_of(&placed[0]), "large");
}

fn with_unreachable_toleration(mut rs: ReplicaSet, seconds: i64) -> ReplicaSet {
    let spec = rs.spec.as_mut().unwrap().template.as_mut().unwrap();
    spec.spec.as_mut().unwrap().tolerations = Some(vec![serde_json::from_value(json!({
        "key": "node.kubernetes.io/unreachable", "operator": "Exists",
        "effect": "NoExecute", "tolerationSeconds": seconds
    }))
    .unwrap()]);
    rs
}

#[tokio::test]
async fn a_silent_node_goes_unknown_and_its_pods_move_elsewhere() {
    // A short grace period, as kube-controller-manager's flag allows, so
    // the test does not wait the default 40 s.
    let server = berth_server_with(&["--node-monitor-grace-period", "4s"]);
    let client = client(&server).await;
    let mut nodes = Vec::new();
    for i in 0..3 {
        nodes.push(kubelet::start(&client, &format!("node-{i}"), "2", "4Gi").await);
    }
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    sets.create(&with_unreachable_toleration(
        replica_set("web", 3, "100m"),
        1,
    ))
    .await
    .unwrap();
    let placed = bound_pods(&pods, "web", 3).await;
    let on_silent: Vec<String> = placed
        .iter()
        .filter(|p| node_of(p) == "node-0")
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    assert_eq!(on_silent.len(), 1);

    // node-0's kubelet stops: no more Lease renewals.
    drop(nodes.remove(0));
    let node_api: Api<k8s_openapi::api::core::v1::Node> = Api::all(client.clone());
    let node =
        eventually(
            30,
            "node-0 Ready=Unknown with the unreachable taint",
            || async {
                let n = node_api.get("node-0").await.ok()?;
                let unknown = n.status.as_ref()?.conditions.as_ref()?.iter().any(|c| {
                    c.type_ == "Ready"
                        && c.status == "Unknown"
                        && c.reason.as_deref() == Some("NodeStatusUnknown")
                });
                let tainted =
                    n.spec.as_ref()?.taints.as_ref()?.iter().any(|t| {
                        t.key == "node.kubernetes.io/unreachable" && t.effect == "NoExecute"
                    });
                (unknown && tainted).then_some(n)
            },
        )
        .await;
    assert!(node
        .spec
        .unwrap()
        .taints
        .unwrap()
        .iter()
        .any(|t| { t.key == "node.kubernetes.io/unreachable" && t.effect == "NoSchedule" }));

    // Its pod is evicted after its 1 s toleration and replaced on a live node.
    let moved = eventually(30, "3 pods on the live nodes", || async {
        let (all, _) = pods.list_all(&ListParams::labels("app=web")).await.ok()?;
        let active: Vec<Pod> = all
            .into_iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .collect();
        let placed = active.len() == 3
            && active
                .iter()
                .all(|p| ["node-1", "node-2"].contains(&node_of(p).as_str()));
        placed.then_some(active)
    })
    .await;
    assert!(moved
        .iter()
        .all(|p| !on_silent.contains(p.metadata.name.as_ref().unwrap())));
    let evicted = pods.get(&on_silent[0]).await.unwrap();
    let target = evicted
        .status
        .unwrap()
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "DisruptionTarget")
        .expect("the evicted pod says why");
    assert_eq!(target.reason.as_deref(), Some("DeletionByTaintManager"));
}

#[tokio::test]
async fn owners_take_their_dependents_with_them_unless_orphaning() {
    let server = berth_server_with(&[]);
    let client = client(&server).await;
    let mut nodes = Vec::new();
    for i in 0..2 {
        nodes.push(kubelet::start(&client, &format!("node-{i}"), "2", "4Gi").await);
    }
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");

    // Orphan: the pods stay, without their owner reference.
    sets.create(&replica_set("kept", 2, "100m")).await.unwrap();
    bound_pods(&pods, "kept", 2).await;
    sets.delete_in("", "kept", &json!({"propagationPolicy": "Orphan"}))
        .await
        .unwrap();
    eventually(30, "the orphaning owner gone", || async {
        sets.get_opt("kept").await.ok()?.is_none().then_some(())
    })
    .await;
    let orphans = bound_pods(&pods, "kept", 2).await;
    assert!(orphans.iter().all(|p| p
        .metadata
        .owner_references
        .as_ref()
        .is_none_or(|o| o.is_empty())));

    // Background (the default): the pods follow their owner.
    sets.create(&replica_set("gone", 2, "100m")).await.unwrap();
    bound_pods(&pods, "gone", 2).await;
    sets.delete("gone").await.unwrap();
    eventually(30, "the dependents collected", || async {
        let (all, _) = pods.list_all(&ListParams::labels("app=gone")).await.ok()?;
        all.is_empty().then_some(())
    })
    .await;

    // Foreground: the owner waits, with its finalizer, until they are gone.
    sets.create(&replica_set("last", 2, "100m")).await.unwrap();
    bound_pods(&pods, "last", 2).await;
    let waiting = sets
        .delete_in("", "last", &json!({"propagationPolicy": "Foreground"}))
        .await
        .unwrap()
        .expect("a foreground delete keeps the owner first");
    assert!(waiting
        .metadata
        .finalizers
        .unwrap()
        .contains(&"foregroundDeletion".to_string()));
    eventually(30, "the owner gone after its dependents", || async {
        let (left, _) = pods.list_all(&ListParams::labels("app=last")).await.ok()?;
        (left.is_empty() && sets.get_opt("last").await.ok()?.is_none()).then_some(())
    })
    .await;
}

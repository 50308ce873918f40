//! berth-client against a real `berth server`: typed calls and their
//! errors, an informer that follows creates, updates and deletes with its
//! indexes, leader election handing over on release, and events aggregated
//! into one object with a count.

mod common;

use std::time::{Duration, Instant};

use berth_client::{
    index, Api, Client, EventType, Informer, InformerConfig, LeaderElector, LeaseConfig,
    ListParams, Notification, Recorder,
};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Namespace, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use common::{berth_server, Server};

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

fn pod(name: &str, node: Option<&str>) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            node_name: node.map(String::from),
            containers: vec![k8s_openapi::api::core::v1::Container {
                name: "c".into(),
                image: Some("busybox:1.36".into()),
                ..Default::default()
            }],
            ..PodSpec::default()
        }),
        ..Pod::default()
    }
}

fn config_map(name: &str, value: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        data: Some([("k".to_string(), value.to_string())].into()),
        ..ConfigMap::default()
    }
}

async fn next<K>(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Notification<K>>,
) -> Notification<K> {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("no notification within 10 s")
        .expect("informer stopped")
}

#[tokio::test]
async fn typed_calls_and_their_errors() {
    let server = berth_server();
    let client = client(&server).await;
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let created = maps.create(&config_map("a", "1")).await.unwrap();
    assert!(created.metadata.uid.is_some());
    assert!(maps
        .create(&config_map("a", "1"))
        .await
        .unwrap_err()
        .is_already_exists());
    assert!(maps.get("missing").await.unwrap_err().is_not_found());

    // A stale resourceVersion is a conflict.
    let mut stale = created.clone();
    let mut fresh = created.clone();
    fresh.data = Some([("k".to_string(), "2".to_string())].into());
    maps.replace(&fresh).await.unwrap();
    stale.data = Some([("k".to_string(), "3".to_string())].into());
    assert!(maps.replace(&stale).await.unwrap_err().is_conflict());

    // Invalid input carries the Kubernetes Status with its reason.
    let bad = maps
        .create(&config_map("Not_A_Name", "1"))
        .await
        .unwrap_err();
    assert_eq!(bad.reason(), Some("Invalid"), "{bad}");
    assert_eq!(bad.code(), Some(422));

    let patched = maps
        .patch(
            "a",
            &berth_client::Patch::Merge(serde_json::json!({"data": {"k": "4"}})),
        )
        .await
        .unwrap();
    assert_eq!(patched.data.unwrap()["k"], "4");
    let (all, version) = maps.list_all(&ListParams::default()).await.unwrap();
    assert_eq!(all.len(), 1);
    assert!(!version.is_empty());
    assert_eq!(
        maps.delete("a").await.unwrap().map(|m| m.metadata.name),
        None
    );
    assert!(maps.get_opt("a").await.unwrap().is_none());

    // Binding: once only.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(&pod("p", None)).await.unwrap();
    pods.bind("default", "p", "node-1").await.unwrap();
    let bound = pods.get("p").await.unwrap();
    assert_eq!(bound.spec.unwrap().node_name.as_deref(), Some("node-1"));
    assert_eq!(
        pods.bind("default", "p", "node-2")
            .await
            .unwrap_err()
            .code(),
        Some(409)
    );
}

#[tokio::test]
async fn informer_follows_changes_and_indexes_them() {
    let server = berth_server();
    let client = client(&server).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(&pod("before", Some("n1"))).await.unwrap();

    let informer = Informer::spawn(
        Api::<Pod>::all(client.clone()),
        InformerConfig::default(),
        vec![(index::NODE_NAME, index::pod_node_name())],
    );
    informer.wait_synced().await;
    let store = informer.store();
    assert!(store.get("default/before").is_some());
    let mut rx = store.subscribe();
    assert!(matches!(next(&mut rx).await, Notification::Added(_)));

    pods.create(&pod("after", None)).await.unwrap();
    match next(&mut rx).await {
        Notification::Added(p) => assert_eq!(p.metadata.name.as_deref(), Some("after")),
        other => panic!("expected Added, got {other:?}"),
    }
    pods.bind("default", "after", "n1").await.unwrap();
    assert!(matches!(next(&mut rx).await, Notification::Updated { .. }));
    assert_eq!(store.by_index(index::NODE_NAME, "n1").len(), 2);

    pods.delete_in("", "before", &serde_json::json!({"gracePeriodSeconds": 0}))
        .await
        .unwrap();
    match next(&mut rx).await {
        Notification::Deleted(p) => assert_eq!(p.metadata.name.as_deref(), Some("before")),
        other => panic!("expected Deleted, got {other:?}"),
    }
    assert_eq!(store.by_index(index::NODE_NAME, "n1").len(), 1);
    assert!(store.get("default/before").is_none());
}

#[tokio::test]
async fn informer_resyncs_every_object() {
    let server = berth_server();
    let client = client(&server).await;
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    maps.create(&config_map("r", "1")).await.unwrap();
    let informer = Informer::spawn(
        maps.clone(),
        InformerConfig {
            resync: Some(Duration::from_millis(300)),
            ..InformerConfig::default()
        },
        Vec::new(),
    );
    informer.wait_synced().await;
    let mut rx = informer.store().subscribe();
    assert!(matches!(next(&mut rx).await, Notification::Added(_)));
    match next(&mut rx).await {
        Notification::Updated { old, new } => assert!(std::sync::Arc::ptr_eq(&old, &new)),
        other => panic!("expected a resync, got {other:?}"),
    }
}

#[tokio::test]
async fn leadership_moves_to_the_next_candidate_on_release() {
    let server = berth_server();
    let client = client(&server).await;
    let config = LeaseConfig {
        lease_duration: Duration::from_secs(15),
        renew_deadline: Duration::from_secs(10),
        retry_period: Duration::from_millis(200),
    };
    let (stop_a, stop_rx_a) = tokio::sync::watch::channel(false);
    let (led_a_tx, mut led_a) = tokio::sync::mpsc::unbounded_channel();
    let mut a = LeaderElector::new(
        client.clone(),
        "kube-system",
        "test-lock",
        "a",
        config.clone(),
    );
    let task_a = tokio::spawn(async move {
        a.run(stop_rx_a, || {
            let tx = led_a_tx.clone();
            async move {
                let _ = tx.send(());
                std::future::pending::<()>().await
            }
        })
        .await
    });
    tokio::time::timeout(Duration::from_secs(10), led_a.recv())
        .await
        .expect("a never led");

    // b cannot take a lease a keeps renewing.
    let mut b = LeaderElector::new(client.clone(), "kube-system", "test-lock", "b", config);
    assert!(!b.try_acquire_or_renew().await.unwrap());
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-system");
    let held = leases.get("test-lock").await.unwrap().spec.unwrap();
    assert_eq!(held.holder_identity.as_deref(), Some("a"));
    assert_eq!(held.lease_duration_seconds, Some(15));

    // a stops and releases: b takes over at once, not after 15 s.
    stop_a.send(true).unwrap();
    assert_eq!(
        task_a.await.unwrap(),
        berth_client::leaderelection::Ended::Stopped
    );
    assert!(b.try_acquire_or_renew().await.unwrap());
    let taken = leases.get("test-lock").await.unwrap().spec.unwrap();
    assert_eq!(taken.holder_identity.as_deref(), Some("b"));
    assert_eq!(taken.lease_transitions, Some(1));
}

#[tokio::test]
async fn repeated_events_are_aggregated() {
    let server = berth_server();
    let client = client(&server).await;
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let object = maps.create(&config_map("ev", "1")).await.unwrap();
    let recorder = Recorder::new(client.clone(), "test-controller");
    for _ in 0..3 {
        recorder.normal(&object, "Synced", "synced it");
    }
    recorder.event(
        &berth_client::events::reference(&object),
        EventType::Warning,
        "Failed",
        "it failed",
    );
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (all, _) = events.list_all(&ListParams::default()).await.unwrap();
        let synced: Vec<&Event> = all
            .iter()
            .filter(|e| e.reason.as_deref() == Some("Synced"))
            .collect();
        let failed = all.iter().any(|e| {
            e.reason.as_deref() == Some("Failed") && e.type_.as_deref() == Some("Warning")
        });
        if synced.len() == 1 && synced[0].count == Some(3) && failed {
            let e = synced[0];
            assert_eq!(e.involved_object.name.as_deref(), Some("ev"));
            assert_eq!(e.involved_object.kind.as_deref(), Some("ConfigMap"));
            assert_eq!(
                e.source.as_ref().and_then(|s| s.component.as_deref()),
                Some("test-controller")
            );
            assert!(e.first_timestamp <= e.last_timestamp);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "events never aggregated: {all:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

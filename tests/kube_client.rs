//! The `kube` crate (kube-rs) as a second real client of `berth server`:
//! typed create, list, conflicts on a stale resourceVersion, the three
//! patch types, a watch resumed after a disconnect, the scale, status and
//! binding subresources, and graceful deletion of a pod.

mod common;

use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Binding, ConfigMap, Namespace, Pod, Service};
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::Client;
use serde_json::json;

use common::{berth_server as start, Server};

async fn client(server: &Server) -> Client {
    let config = kube::Config::new(server.url.parse().unwrap());
    let client = Client::try_from(config).unwrap();
    // Ready once the default namespace exists.
    let deadline = Instant::now() + Duration::from_secs(30);
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    while namespaces.get_opt("default").await.ok().flatten().is_none() {
        assert!(Instant::now() < deadline, "the API never served");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    client
}

fn configmap(name: &str, value: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"k": value}})).unwrap()
}

fn api_error(e: kube::Error) -> (u16, String) {
    match e {
        kube::Error::Api(status) => {
            eprintln!("API error: {}", status.message);
            (status.code, status.reason)
        }
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn kube_rs_create_list_conflict_patch_and_resumed_watch() {
    let server = start();
    let client = client(&server).await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());

    let created = cms
        .create(&PostParams::default(), &configmap("a", "1"))
        .await
        .unwrap();
    let uid = created.metadata.uid.clone().unwrap();
    assert!(created.metadata.resource_version.is_some());
    let again = cms
        .create(&PostParams::default(), &configmap("a", "1"))
        .await;
    assert_eq!(api_error(again.unwrap_err()), (409, "AlreadyExists".into()));

    let list = cms.list(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 1);
    let list_rv = list.metadata.resource_version.clone().unwrap();

    // A replace carrying the version read succeeds once; the second, now
    // stale, is a conflict.
    let mut replaced = created.clone();
    replaced.data = Some([("k".to_string(), "2".to_string())].into());
    cms.replace("a", &PostParams::default(), &replaced)
        .await
        .unwrap();
    let stale = cms.replace("a", &PostParams::default(), &replaced).await;
    assert_eq!(api_error(stale.unwrap_err()), (409, "Conflict".into()));

    // The three patch types.
    let pp = PatchParams::default();
    cms.patch("a", &pp, &Patch::Merge(json!({"data": {"m": "merge"}})))
        .await
        .unwrap();
    let json_patch: json_patch::Patch =
        serde_json::from_value(json!([{"op": "add", "path": "/data/j", "value": "json"}])).unwrap();
    cms.patch("a", &pp, &Patch::<()>::Json(json_patch))
        .await
        .unwrap();
    let patched = cms
        .patch(
            "a",
            &pp,
            &Patch::Strategic(json!({"data": {"s": "strategic"}})),
        )
        .await
        .unwrap();
    let data = patched.data.unwrap();
    assert_eq!(
        (
            data["k"].as_str(),
            data["m"].as_str(),
            data["j"].as_str(),
            data["s"].as_str()
        ),
        ("2", "merge", "json", "strategic")
    );
    assert_eq!(patched.metadata.uid.as_deref(), Some(uid.as_str()));

    // A watch from the list's version sees the changes in order; after a
    // disconnect it resumes from the last version it saw, missing nothing.
    let mut seen = Vec::new();
    let mut last_rv = list_rv.clone();
    {
        let stream = cms.watch(&WatchParams::default(), &list_rv).await.unwrap();
        let mut stream = stream.boxed();
        while seen.len() < 4 {
            let event = tokio::time::timeout(Duration::from_secs(10), stream.try_next())
                .await
                .expect("watch event in time")
                .unwrap()
                .unwrap();
            match event {
                WatchEvent::Modified(cm) => {
                    last_rv = cm.metadata.resource_version.clone().unwrap();
                    seen.push(format!("MODIFIED {}", cm.metadata.name.unwrap()));
                }
                WatchEvent::Bookmark(_) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert_eq!(seen, ["MODIFIED a"; 4]);
    cms.create(&PostParams::default(), &configmap("b", "1"))
        .await
        .unwrap();
    cms.delete("a", &DeleteParams::default()).await.unwrap();
    let mut stream = cms
        .watch(&WatchParams::default(), &last_rv)
        .await
        .unwrap()
        .boxed();
    let mut resumed = Vec::new();
    while resumed.len() < 2 {
        let event = tokio::time::timeout(Duration::from_secs(10), stream.try_next())
            .await
            .expect("watch event in time")
            .unwrap()
            .unwrap();
        resumed.push(match event {
            WatchEvent::Added(cm) => format!("ADDED {}", cm.metadata.name.unwrap()),
            WatchEvent::Deleted(cm) => format!("DELETED {}", cm.metadata.name.unwrap()),
            WatchEvent::Bookmark(_) => continue,
            other => panic!("unexpected {other:?}"),
        });
    }
    assert_eq!(resumed, ["ADDED b", "DELETED a"]);

    // With nothing changing, a bookmark brings the watch up to the latest
    // version, so a resume after it need not replay anything.
    let latest = cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let bookmark = loop {
        let event = tokio::time::timeout(Duration::from_secs(10), stream.try_next())
            .await
            .expect("a bookmark in time")
            .unwrap()
            .unwrap();
        if let WatchEvent::Bookmark(b) = event {
            break b;
        }
    };
    let at: i64 = bookmark.metadata.resource_version.parse().unwrap();
    assert!(at >= latest.parse::<i64>().unwrap(), "{at} >= {latest}");

    // What was just done shows in the API server's metrics, the open watch
    // included.
    let metrics = client
        .request_text(http::Request::get("/metrics").body(Vec::new()).unwrap())
        .await
        .unwrap();
    for line in [
        r#"apiserver_request_total{verb="POST",group="",resource="configmaps",subresource="",code="201"} 2"#,
        r#"apiserver_request_total{verb="POST",group="",resource="configmaps",subresource="",code="409"} 1"#,
        r#"apiserver_request_total{verb="PATCH",group="",resource="configmaps",subresource="",code="200"} 3"#,
        r#"apiserver_registered_watchers{group="",resource="configmaps"} 1"#,
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in {metrics}");
    }
    assert!(metrics.contains(r#"apiserver_request_duration_seconds_count{verb="LIST",group="",resource="configmaps",subresource=""} 2"#), "{metrics}");
}

#[tokio::test]
async fn kube_rs_scale_status_binding_and_graceful_delete() {
    let server = start();
    let client = client(&server).await;

    let deployments: Api<Deployment> = Api::default_namespaced(client.clone());
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "web:1"}]}}
        }
    }))
    .unwrap();
    let created = deployments
        .create(&PostParams::default(), &deployment)
        .await
        .unwrap();
    // Kubernetes' defaults were filled in.
    let spec = created.spec.unwrap();
    assert_eq!(spec.replicas, Some(1));
    assert_eq!(spec.revision_history_limit, Some(10));
    let strategy = spec.strategy.unwrap();
    assert_eq!(strategy.type_.as_deref(), Some("RollingUpdate"));

    let scale = deployments
        .patch_scale(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 4}})),
        )
        .await
        .unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(4));
    let read = deployments.get_scale("web").await.unwrap();
    assert_eq!(read.status.unwrap().selector.as_deref(), Some("app=web"));

    // Status goes through its subresource only.
    deployments
        .patch_status(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"replicas": 4, "readyReplicas": 2}})),
        )
        .await
        .unwrap();
    let after_spec_patch = deployments
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}, "status": {"replicas": 0}})),
        )
        .await
        .unwrap();
    let status = after_spec_patch.status.unwrap();
    assert_eq!((status.replicas, status.ready_replicas), (Some(4), Some(2)));
    assert_eq!(
        after_spec_patch.metadata.generation,
        Some(2),
        "scale changed the spec once"
    );

    // Binding assigns a node once.
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let pod: Pod = serde_json::from_value(
        json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "c:1"}]}}),
    )
    .unwrap();
    let created = pods.create(&PostParams::default(), &pod).await.unwrap();
    assert_eq!(created.status.unwrap().phase.as_deref(), Some("Pending"));
    let binding: Binding = serde_json::from_value(
        json!({"metadata": {"name": "p"}, "target": {"kind": "Node", "name": "node-1"}}),
    )
    .unwrap();
    let bind = |b: Binding| {
        let pods = pods.clone();
        async move {
            pods.create_subresource::<Binding, serde_json::Value>(
                "binding",
                "p",
                &PostParams::default(),
                &b,
            )
            .await
        }
    };
    bind(binding.clone()).await.unwrap();
    let bound = pods.get("p").await.unwrap();
    assert_eq!(bound.spec.unwrap().node_name.as_deref(), Some("node-1"));
    let conditions = bound.status.unwrap().conditions.unwrap();
    assert!(conditions
        .iter()
        .any(|c| c.type_ == "PodScheduled" && c.status == "True"));
    let rebind = bind(binding).await;
    assert_eq!(api_error(rebind.unwrap_err()).0, 409);

    // A bound pod is deleted gracefully: marked, then gone on grace 0.
    let marked = pods.delete("p", &DeleteParams::default()).await.unwrap();
    let marked = marked.left().expect("a bound pod is marked, not removed");
    assert_eq!(marked.metadata.deletion_grace_period_seconds, Some(30));
    assert!(marked.metadata.deletion_timestamp.is_some());
    assert!(pods.get_opt("p").await.unwrap().is_some());
    pods.delete("p", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    assert!(pods.get_opt("p").await.unwrap().is_none());
}

#[tokio::test]
async fn kube_rs_services_get_unique_cluster_ips_and_node_ports() {
    let server = start();
    let client = client(&server).await;
    let services: Api<Service> = Api::default_namespaced(client.clone());
    let service = |name: &str, node_port: Option<i32>| -> Service {
        let mut port = json!({"port": 80, "targetPort": 8080});
        if let Some(p) = node_port {
            port["nodePort"] = json!(p);
        }
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"type": "NodePort", "selector": {"app": name}, "ports": [port]}
        }))
        .unwrap()
    };
    let mut ips = std::collections::HashSet::new();
    let mut node_ports = std::collections::HashSet::new();
    for i in 0..5 {
        let created = services
            .create(&PostParams::default(), &service(&format!("s{i}"), None))
            .await
            .unwrap();
        let spec = created.spec.unwrap();
        let ip: std::net::Ipv4Addr = spec.cluster_ip.unwrap().parse().unwrap();
        assert_eq!(ip.octets()[0], 10);
        assert!((96..112).contains(&ip.octets()[1]), "{ip} in 10.96.0.0/12");
        let port = &spec.ports.unwrap()[0];
        assert_eq!(port.protocol.as_deref(), Some("TCP"));
        let node_port = port.node_port.unwrap();
        assert!((30000..=32767).contains(&node_port));
        assert!(ips.insert(ip) && node_ports.insert(node_port), "unique");
    }

    // A node port in use is refused; freed by a delete, it can be taken.
    let taken = services
        .get("s0")
        .await
        .unwrap()
        .spec
        .unwrap()
        .ports
        .unwrap()[0]
        .node_port
        .unwrap();
    let clash = services
        .create(&PostParams::default(), &service("clash", Some(taken)))
        .await;
    assert_eq!(api_error(clash.unwrap_err()), (422, "Invalid".into()));
    services
        .delete("s0", &DeleteParams::default())
        .await
        .unwrap();
    let reused = services
        .create(&PostParams::default(), &service("clash", Some(taken)))
        .await
        .unwrap();
    assert_eq!(
        reused.spec.unwrap().ports.unwrap()[0].node_port,
        Some(taken)
    );

    // clusterIP is kept by updates that leave it out and may not change.
    let before = services.get("s1").await.unwrap();
    let patched = services
        .patch(
            "s1",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}})),
        )
        .await
        .unwrap();
    assert_eq!(
        patched.spec.unwrap().cluster_ip,
        before.spec.unwrap().cluster_ip
    );
    let moved = services
        .patch(
            "s1",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"clusterIP": "10.96.77.77"}})),
        )
        .await;
    assert_eq!(api_error(moved.unwrap_err()), (422, "Invalid".into()));
}

/// A metric's value in a Prometheus text page.
fn metric(page: &str, name: &str) -> i64 {
    page.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} in {page}"))
}

async fn store_watchers(server: &Server) -> i64 {
    let client =
        Client::try_from(kube::Config::new(server.store_metrics.parse().unwrap())).unwrap();
    let page = client
        .request_text(http::Request::get("/metrics").body(Vec::new()).unwrap())
        .await
        .unwrap();
    metric(&page, "etcd_debugging_mvcc_watcher_total")
}

#[tokio::test]
async fn many_api_watches_cost_no_more_store_watches() {
    let server = start();
    let client = client(&server).await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    // One store watch per stored resource (versions share one), opened by
    // the watch cache.
    let served = berth_apiserver::registry::RESOURCES
        .iter()
        .map(|r| (r.group, r.plural))
        .collect::<std::collections::HashSet<_>>()
        .len() as i64;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut before = store_watchers(&server).await;
    while before != served {
        assert!(
            Instant::now() < deadline,
            "{before} store watches, {served} resources"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        before = store_watchers(&server).await;
    }
    let mut streams = Vec::new();
    for _ in 0..50 {
        let stream = cms
            .watch(&WatchParams::default(), "0")
            .await
            .unwrap()
            .boxed();
        streams.push(stream);
    }
    cms.create(&PostParams::default(), &configmap("fan-out", "1"))
        .await
        .unwrap();
    for stream in &mut streams {
        let event = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match stream.try_next().await.unwrap().unwrap() {
                    WatchEvent::Bookmark(_) => continue,
                    other => return other,
                }
            }
        })
        .await
        .expect("every watcher sees the change");
        assert!(
            matches!(event, WatchEvent::Added(cm) if cm.metadata.name.as_deref() == Some("fan-out"))
        );
    }
    assert_eq!(
        store_watchers(&server).await,
        before,
        "50 API watches, no new store watch"
    );

    // A list at resourceVersion "0" (any) comes from the same cache, and
    // is at least as new as what the watchers saw.
    let any = ListParams {
        resource_version: Some("0".into()),
        ..Default::default()
    };
    let listed = cms.list(&any).await.unwrap();
    assert!(listed
        .items
        .iter()
        .any(|c| c.metadata.name.as_deref() == Some("fan-out")));
    let consistent = cms.list(&ListParams::default()).await.unwrap();
    assert_eq!(listed.items.len(), consistent.items.len());
}

#[tokio::test]
async fn bad_bodies_get_kubernetes_errors_and_change_nothing() {
    let server = start();
    let client = client(&server).await;
    let post = |body: Vec<u8>| {
        http::Request::post("/api/v1/namespaces/default/configmaps")
            .header("Content-Type", "application/json")
            .body(body)
            .unwrap()
    };
    let malformed = client
        .request_text(post(br#"{"metadata": {"name": "x",}}"#.to_vec()))
        .await
        .unwrap_err();
    let kube::Error::Api(status) = malformed else {
        panic!("{malformed:?}")
    };
    assert_eq!((status.code, status.reason.as_str()), (400, "BadRequest"));
    assert!(
        status.message.contains("line 1 column"),
        "{}",
        status.message
    );

    let huge = format!(
        r#"{{"metadata": {{"name": "huge"}}, "data": {{"a": "{}"}}}}"#,
        "x".repeat(4 << 20)
    );
    let too_large = client
        .request_text(post(huge.into_bytes()))
        .await
        .unwrap_err();
    let kube::Error::Api(status) = too_large else {
        panic!("{too_large:?}")
    };
    assert_eq!(
        (status.code, status.reason.as_str()),
        (413, "RequestEntityTooLarge")
    );

    let wrong_kind = client
        .request_text(post(
            br#"{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}"#.to_vec(),
        ))
        .await
        .unwrap_err();
    let kube::Error::Api(status) = wrong_kind else {
        panic!("{wrong_kind:?}")
    };
    assert_eq!(status.code, 400);

    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    assert!(cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .is_empty());
}

#[tokio::test]
async fn namespaces_terminate_and_refuse_new_content_until_finalized() {
    let server = start();
    let client = client(&server).await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "ending"}})).unwrap();
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "ending");
    cms.create(&PostParams::default(), &configmap("before", "1"))
        .await
        .unwrap();

    let terminating = namespaces
        .delete("ending", &DeleteParams::default())
        .await
        .unwrap()
        .left()
        .expect("a namespace with finalizers terminates first");
    assert_eq!(
        terminating.status.unwrap().phase.as_deref(),
        Some("Terminating")
    );
    let refused = cms
        .create(&PostParams::default(), &configmap("after", "1"))
        .await
        .unwrap_err();
    assert_eq!(api_error(refused), (403, "Forbidden".into()));
    let system = namespaces
        .delete("kube-system", &DeleteParams::default())
        .await
        .unwrap_err();
    assert_eq!(api_error(system), (403, "Forbidden".into()));

    // What the namespace controller does: empty it, then finalize.
    cms.delete("before", &DeleteParams::default())
        .await
        .unwrap();
    let mut finalized = namespaces.get("ending").await.unwrap();
    finalized.spec = Some(Default::default());
    namespaces
        .replace_subresource("finalize", "ending", &PostParams::default(), &finalized)
        .await
        .unwrap();
    assert!(namespaces.get_opt("ending").await.unwrap().is_none());
}

#[tokio::test]
async fn a_watch_from_a_compacted_version_is_gone_and_a_recent_one_is_served() {
    let server = start();
    let client = client(&server).await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let first = cms
        .create(&PostParams::default(), &configmap("c0", "0"))
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    // More changes than the watch cache keeps.
    for i in 1..40 {
        cms.create(&PostParams::default(), &configmap(&format!("c{i}"), "0"))
            .await
            .unwrap();
    }
    let latest: i64 = cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap()
        .parse()
        .unwrap();

    // Past the window, the store serves the watch while it has the history.
    let mut old = cms
        .watch(&WatchParams::default(), &first)
        .await
        .unwrap()
        .boxed();
    let event = tokio::time::timeout(Duration::from_secs(10), old.try_next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(matches!(event, WatchEvent::Added(cm) if cm.metadata.name.as_deref() == Some("c1")));
    drop(old);

    let mut kv = berth_proto::etcdserverpb::kv_client::KvClient::connect(server.store_url.clone())
        .await
        .unwrap();
    kv.compact(berth_proto::etcdserverpb::CompactionRequest {
        revision: latest,
        physical: true,
    })
    .await
    .unwrap();
    let gone = cms.watch(&WatchParams::default(), &first).await;
    let expired = match gone {
        Err(e) => api_error(e),
        Ok(stream) => {
            let mut stream = stream.boxed();
            match tokio::time::timeout(Duration::from_secs(10), stream.try_next())
                .await
                .unwrap()
            {
                Ok(Some(WatchEvent::Error(e))) => (e.code, e.reason),
                other => panic!("expected 410, got {other:?}"),
            }
        }
    };
    assert_eq!(expired, (410, "Expired".into()));

    // Within the window the cache serves it, compaction or not.
    let recent = (latest - 3).to_string();
    let mut stream = cms
        .watch(&WatchParams::default(), &recent)
        .await
        .unwrap()
        .boxed();
    let event = tokio::time::timeout(Duration::from_secs(10), stream.try_next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let WatchEvent::Added(cm) = event else {
        panic!("{event:?}")
    };
    assert_eq!(cm.metadata.resource_version, Some((latest - 2).to_string()));
}

#[tokio::test]
async fn horizontal_pod_autoscalers_are_served_as_v1_and_v2() {
    use k8s_openapi::api::autoscaling::{v1 as hpa_v1, v2 as hpa_v2};
    let server = start();
    let client = client(&server).await;
    let v1: Api<hpa_v1::HorizontalPodAutoscaler> = Api::default_namespaced(client.clone());
    let v2: Api<hpa_v2::HorizontalPodAutoscaler> = Api::default_namespaced(client.clone());
    // What `kubectl autoscale` of kubectl <= 1.30 posts.
    let old_style: hpa_v1::HorizontalPodAutoscaler = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 2, "maxReplicas": 5, "targetCPUUtilizationPercentage": 80}
    }))
    .unwrap();
    v1.create(&PostParams::default(), &old_style).await.unwrap();
    let stored = v2.get("web").await.unwrap();
    let metric = &stored.spec.unwrap().metrics.unwrap()[0];
    assert_eq!(
        metric.resource.as_ref().unwrap().target.average_utilization,
        Some(80)
    );

    // A v2 object with a metric v1 cannot express keeps it through v1.
    let patched = v2
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"metrics": [
                {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}},
                {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "500Mi"}}}
            ]}})),
        )
        .await
        .unwrap();
    assert_eq!(patched.spec.unwrap().metrics.unwrap().len(), 2);
    let seen = v1.get("web").await.unwrap();
    assert_eq!(
        seen.spec
            .as_ref()
            .unwrap()
            .target_cpu_utilization_percentage,
        Some(70)
    );
    v1.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"maxReplicas": 9}})),
    )
    .await
    .unwrap();
    let after = v2.get("web").await.unwrap().spec.unwrap();
    assert_eq!(after.max_replicas, 9);
    assert_eq!(after.metrics.unwrap().len(), 2, "memory kept through v1");
    let listed = v1.list(&ListParams::default()).await.unwrap();
    assert_eq!(listed.items[0].spec.as_ref().unwrap().max_replicas, 9);
}

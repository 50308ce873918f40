//! The control loops on three `berth server` members: one member holds
//! the kube-controller-manager and kube-scheduler Leases; when it is
//! SIGKILLed, another takes them over within the lease duration and the
//! cluster keeps converging.

mod common;

use std::time::{Duration, Instant};

use berth_client::{Api, Client, ListParams};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use serde_json::json;

use common::{kubelet, plane::ControlPlane};

/// The member index (`m{i}_...`) holding the Lease `name`, once held.
async fn holder(client: &Client, name: &str) -> usize {
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-system");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let held = leases
            .get_opt(name)
            .await
            .ok()
            .flatten()
            .and_then(|l| l.spec?.holder_identity)
            .and_then(|h| h.strip_prefix('m')?.split('_').next()?.parse().ok());
        if let Some(member) = held {
            return member;
        }
        assert!(Instant::now() < deadline, "nobody took {name}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn bound(pods: &Api<Pod>, n: usize) -> Vec<Pod> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok((all, _)) = pods.list_all(&ListParams::labels("app=web")).await {
            let active: Vec<Pod> = all
                .into_iter()
                .filter(|p| p.metadata.deletion_timestamp.is_none())
                .collect();
            if active.len() == n
                && active
                    .iter()
                    .all(|p| p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some())
            {
                return active;
            }
        }
        assert!(Instant::now() < deadline, "never {n} bound pods");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_loops_move_to_another_member_when_their_leader_dies() {
    let mut plane = tokio::task::spawn_blocking(|| ControlPlane::start_with(&[]))
        .await
        .unwrap();
    let any = Client::new(&plane.urls[0]).unwrap();
    let victim = holder(&any, "kube-controller-manager").await;
    let survivor = (victim + 1) % 3;
    let client = Client::new(&plane.urls[survivor]).unwrap();
    let mut nodes = Vec::new();
    for i in 0..3 {
        nodes.push(kubelet::start(&client, &format!("node-{i}"), "2", "4Gi").await);
    }
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let rs: ReplicaSet = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "api-server:1.2.0"}]}
            }
        }
    }))
    .unwrap();
    sets.create(&rs).await.unwrap();
    let before = bound(&pods, 3).await;

    let killed_at = Instant::now();
    plane.kill(victim);
    let manager = holder_other_than(&client, "kube-controller-manager", victim).await;
    let took = killed_at.elapsed();
    let scheduler = holder_other_than(&client, "kube-scheduler", victim).await;
    assert_ne!(manager, victim);
    assert_ne!(scheduler, victim);
    // Lease 15 s, then a retry period of 2 s with jitter; margin for the
    // store's own election after losing a member.
    assert!(took < Duration::from_secs(30), "takeover took {took:?}");

    // The new leaders converge: a deleted pod is replaced, a scale-up is
    // created and scheduled.
    let gone = before[0].metadata.name.clone().unwrap();
    pods.delete_in("", &gone, &json!({"gracePeriodSeconds": 0}))
        .await
        .unwrap();
    let healed = bound(&pods, 3).await;
    assert!(healed
        .iter()
        .all(|p| p.metadata.name.as_deref() != Some(&gone)));
    sets.patch(
        "web",
        &berth_client::Patch::Merge(json!({"spec": {"replicas": 4}})),
    )
    .await
    .unwrap();
    bound(&pods, 4).await;
}

/// The member holding `name` once it is not `old`.
async fn holder_other_than(client: &Client, name: &str, old: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let member = holder(client, name).await;
        if member != old {
            return member;
        }
        assert!(
            Instant::now() < deadline,
            "{name} stayed with the dead member {old}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

//! The node lifecycle controller's wiring: every monitor period, each node
//! is judged from its Lease and Ready heartbeat; the resulting conditions,
//! taints, pod readiness and taint-based evictions are written.

use std::collections::HashMap;
use std::time::Duration;

use berth_client::{index, Api, Client, Error, Informer, Patch, Recorder};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::json;

use super::{
    plan_node, HealthConfig, NodeHealth, NodeInput, NodePlan, NODE_LEASE_NAMESPACE,
    NODE_MONITOR_PERIOD,
};

/// Runs the controller until dropped. `pods` must be indexed by
/// [`index::NODE_NAME`].
pub async fn run(
    client: Client,
    nodes: &Informer<Node>,
    pods: &Informer<Pod>,
    config: HealthConfig,
) {
    let leases = Informer::spawn(
        Api::<Lease>::namespaced(client.clone(), NODE_LEASE_NAMESPACE),
        Default::default(),
        Vec::new(),
    );
    leases.wait_synced().await;
    let recorder = Recorder::new(client.clone(), "node-controller");
    let (nodes, pods, leases) = (nodes.store(), pods.store(), leases.store());
    let period = Duration::try_from(NODE_MONITOR_PERIOD).unwrap_or(Duration::from_secs(5));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut health: HashMap<String, NodeHealth> = HashMap::new();
    loop {
        tick.tick().await;
        let all = nodes.list();
        health.retain(|name, _| all.iter().any(|n| n.metadata.name.as_deref() == Some(name)));
        for node in all {
            let name = node.metadata.name.clone().unwrap_or_default();
            let on_node: Vec<Pod> = pods
                .by_index(index::NODE_NAME, &name)
                .iter()
                .map(|p| Pod::clone(p))
                .collect();
            let lease = leases.get(&format!("{NODE_LEASE_NAMESPACE}/{name}"));
            let plan = plan_node(
                NodeInput {
                    node: &node,
                    lease: lease.as_deref(),
                    pods: &on_node,
                    previous: health.get(&name),
                    now: jiff::Timestamp::now(),
                },
                &config,
            );
            health.insert(name.clone(), plan.health.clone());
            if let Err(e) = apply(&client, &recorder, &node, &plan).await {
                tracing::debug!(node = %name, error = %e, "node lifecycle write failed; next period retries");
            }
        }
    }
}

async fn apply(
    client: &Client,
    recorder: &Recorder,
    node: &Node,
    plan: &NodePlan,
) -> Result<(), Error> {
    let nodes: Api<Node> = Api::all(client.clone());
    let name = node.metadata.name.as_deref().unwrap_or_default();
    if let Some(conditions) = &plan.status_conditions {
        let mut updated = node.clone();
        updated
            .status
            .get_or_insert_with(Default::default)
            .conditions = Some(conditions.clone());
        nodes.replace_status(&updated).await?;
        if conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status != "True")
        {
            recorder.normal(
                node,
                "NodeNotReady",
                &format!("Node {name} status is now: NodeNotReady"),
            );
        }
    }
    if let Some(taints) = &plan.taints {
        nodes
            .patch(name, &Patch::Merge(json!({"spec": {"taints": taints}})))
            .await?;
    }
    let pods: Api<Pod> = Api::all(client.clone());
    for pod in &plan.pods_not_ready {
        match pods.replace_status(pod).await {
            Ok(_) => {}
            Err(e) if e.is_not_found() || e.is_conflict() => {}
            Err(e) => return Err(e),
        }
    }
    for eviction in &plan.evictions.evict {
        let condition = Patch::Strategic(json!({"status": {"conditions": [eviction.condition]}}));
        match pods
            .patch_status(&eviction.namespace, &eviction.name, &condition)
            .await
        {
            Ok(pod) => recorder.normal(
                &pod,
                "TaintManagerEviction",
                &format!(
                    "Marking for deletion Pod {}/{}",
                    eviction.namespace, eviction.name
                ),
            ),
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(e),
        }
        let options = json!({"preconditions": {"uid": eviction.uid}});
        match pods
            .delete_in(&eviction.namespace, &eviction.name, &options)
            .await
        {
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

//! The node's heartbeat: its Lease in `kube-node-lease`, renewed every 10 s
//! with a 40 s duration (the kubelet's defaults), owned by the Node so it
//! goes when the Node does.

use std::time::Duration;

use berth_client::{Api, Client};
use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, OwnerReference};
use tokio::sync::watch;

/// Renewal interval.
pub const RENEW_INTERVAL: Duration = Duration::from_secs(10);
/// The Lease's duration.
pub const LEASE_DURATION_SECONDS: i32 = 40;
/// Namespace of node Leases.
pub const NAMESPACE: &str = "kube-node-lease";

async fn renew(leases: &Api<Lease>, node: &Node) -> Result<(), berth_client::Error> {
    let name = node.metadata.name.clone().unwrap_or_default();
    let now = MicroTime(Timestamp::now());
    match leases.get_opt(&name).await? {
        Some(mut lease) => {
            let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
            spec.renew_time = Some(now);
            spec.holder_identity = Some(name.clone());
            spec.lease_duration_seconds = Some(LEASE_DURATION_SECONDS);
            leases.replace(&lease).await?;
        }
        None => {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    namespace: Some(NAMESPACE.into()),
                    owner_references: node.metadata.uid.clone().map(|uid| {
                        vec![OwnerReference {
                            api_version: "v1".into(),
                            kind: "Node".into(),
                            name: name.clone(),
                            uid,
                            ..OwnerReference::default()
                        }]
                    }),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(name.clone()),
                    lease_duration_seconds: Some(LEASE_DURATION_SECONDS),
                    renew_time: Some(now),
                    ..LeaseSpec::default()
                }),
            };
            leases.create(&lease).await?;
        }
    }
    Ok(())
}

/// Renews `node`'s Lease every [`RENEW_INTERVAL`] until `stop` (retrying
/// sooner after a failure, as the kubelet's lease controller backs off
/// from 200 ms).
pub async fn renew_loop(client: Client, node: Node, mut stop: watch::Receiver<bool>) {
    let leases: Api<Lease> = Api::namespaced(client, NAMESPACE);
    let mut retry = Duration::from_millis(200);
    loop {
        let wait = match renew(&leases, &node).await {
            Ok(()) => {
                retry = Duration::from_millis(200);
                RENEW_INTERVAL
            }
            Err(e) => {
                tracing::warn!(error = %e, "renewing the node lease failed");
                retry = (retry * 2).min(RENEW_INTERVAL);
                retry
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
    }
}

//! What a running cluster looks like from outside: each member's store
//! (etcd's Maintenance.Status) and API, who holds the scheduler's and the
//! controller manager's Leases, and the nodes. `berth up` waits on these
//! and `berth status` prints them.

use std::time::Duration;

use berth_client::{Api, Client, ListParams};
use berth_proto::etcdserverpb::maintenance_client::MaintenanceClient;
use berth_proto::etcdserverpb::StatusRequest;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Namespace, Node};
use tonic::transport::Endpoint;

use super::layout::{Cluster, MEMBERS};

/// How long one probe may take: a member that does not answer within it is
/// reported as down.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// One member's store, as its Status call reports it.
#[derive(Clone, Debug)]
pub struct StoreStatus {
    pub member_id: u64,
    pub leader: u64,
    pub raft_term: u64,
    pub raft_index: u64,
    pub revision: i64,
    pub db_size: i64,
}

impl StoreStatus {
    pub fn is_leader(&self) -> bool {
        self.leader != 0 && self.leader == self.member_id
    }
}

/// A member's store status, or None if it does not answer.
pub async fn store_status(url: &str) -> Option<StoreStatus> {
    let probe = async {
        let channel = Endpoint::from_shared(url.to_string())
            .ok()?
            .connect_timeout(PROBE_TIMEOUT)
            .connect()
            .await
            .ok()?;
        let response = MaintenanceClient::new(channel)
            .status(StatusRequest {})
            .await
            .ok()?
            .into_inner();
        let header = response.header.unwrap_or_default();
        Some(StoreStatus {
            member_id: header.member_id,
            leader: response.leader,
            raft_term: response.raft_term,
            raft_index: response.raft_index,
            revision: header.revision,
            db_size: response.db_size,
        })
    };
    tokio::time::timeout(PROBE_TIMEOUT, probe).await.ok()?
}

/// A client of the API at `url` with the cluster's administrator token.
pub fn client_of(url: &str, token: Option<&str>) -> Option<Client> {
    let client = Client::new(url).ok()?;
    match token {
        Some(token) => client.with_token(token).ok(),
        None => Some(client),
    }
}

/// Whether the API `client` reaches serves reads (the `default` namespace
/// exists).
pub async fn api_serving(client: Option<Client>) -> bool {
    let Some(client) = client else {
        return false;
    };
    let namespaces: Api<Namespace> = Api::all(client);
    matches!(
        tokio::time::timeout(PROBE_TIMEOUT, namespaces.get_opt("default")).await,
        Ok(Ok(Some(_)))
    )
}

/// The member holding a kube-system Lease (`kube-scheduler`,
/// `kube-controller-manager`); members campaign as `<member>_<uuid>`.
pub async fn lease_holder(client: &Client, lease: &str) -> Option<String> {
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-system");
    let lease = tokio::time::timeout(PROBE_TIMEOUT, leases.get_opt(lease))
        .await
        .ok()?
        .ok()??;
    let spec = lease.spec?;
    let holder = spec.holder_identity.filter(|h| !h.is_empty())?;
    // An expired Lease has no active holder.
    let renewed = spec.renew_time?.0;
    let duration = i64::from(spec.lease_duration_seconds.unwrap_or(15));
    let age = jiff::Timestamp::now().duration_since(renewed);
    if age.as_secs() > duration {
        return None;
    }
    Some(holder.split('_').next().unwrap_or(&holder).to_string())
}

/// Each node's name and whether its Ready condition is True.
pub async fn nodes(client: &Client) -> Option<Vec<(String, bool)>> {
    let nodes: Api<Node> = Api::all(client.clone());
    let list = tokio::time::timeout(PROBE_TIMEOUT, nodes.list(&ListParams::default()))
        .await
        .ok()?
        .ok()?;
    Some(
        list.items
            .into_iter()
            .map(|node| {
                let ready = node
                    .status
                    .and_then(|s| s.conditions)
                    .unwrap_or_default()
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True");
                (node.metadata.name.unwrap_or_default(), ready)
            })
            .collect(),
    )
}

/// Whether the node's agent renewed its Lease (kube-node-lease) after
/// `since`: a Ready condition alone may be left from before a restart.
pub async fn node_renewed_since(client: &Client, node: &str, since: jiff::Timestamp) -> bool {
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let Ok(Ok(Some(lease))) = tokio::time::timeout(PROBE_TIMEOUT, leases.get_opt(node)).await
    else {
        return false;
    };
    lease
        .spec
        .and_then(|spec| spec.renew_time)
        .is_some_and(|renewed| renewed.0 >= since)
}

/// Everything at once, for one look at the cluster.
pub struct Health {
    /// Per member, in [`MEMBERS`] order.
    pub stores: Vec<Option<StoreStatus>>,
    pub apis: Vec<bool>,
    pub scheduler: Option<String>,
    pub controller_manager: Option<String>,
    pub nodes: Option<Vec<(String, bool)>>,
}

impl Health {
    pub async fn probe(cluster: &Cluster) -> Health {
        let token = cluster.admin_token().ok();
        let stores = futures::future::join_all(
            (0..MEMBERS.len()).map(|i| store_status_owned(cluster.member_client_url(i))),
        )
        .await;
        let apis = futures::future::join_all(
            (0..MEMBERS.len())
                .map(|i| api_serving(client_of(&cluster.member_api_url(i), token.as_deref()))),
        )
        .await;
        let (scheduler, controller_manager, nodes) =
            match client_of(&cluster.api_url(), token.as_deref()) {
                Some(client) => tokio::join!(
                    lease_holder(&client, "kube-scheduler"),
                    lease_holder(&client, "kube-controller-manager"),
                    nodes(&client)
                ),
                None => (None, None, None),
            };
        Health {
            stores,
            apis,
            scheduler,
            controller_manager,
            nodes,
        }
    }

    /// The leading member's name, if a member reports itself leader.
    pub fn store_leader(&self) -> Option<&'static str> {
        self.stores
            .iter()
            .position(|s| s.as_ref().is_some_and(StoreStatus::is_leader))
            .map(|i| MEMBERS[i])
    }
}

async fn store_status_owned(url: String) -> Option<StoreStatus> {
    store_status(&url).await
}

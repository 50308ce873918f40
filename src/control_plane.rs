//! The control loops of a member: the controller manager and the
//! scheduler, each active only while this member holds its Lease in
//! kube-system, as kube-controller-manager and kube-scheduler run with
//! --leader-elect.

use berth_client::{Client, LeaderElector, LeaseConfig};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Starts campaigning for the controller manager's Lease through the API
/// server at `api_url`; the task ends, releasing the Lease, once `stop`
/// turns true.
pub fn start_controller_manager(
    client: Client,
    identity: &str,
    config: berth_controllers::manager::Config,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<JoinHandle<()>> {
    let mut elector = LeaderElector::new(
        client.clone(),
        "kube-system",
        "kube-controller-manager",
        identity,
        LeaseConfig::default(),
    );
    Ok(tokio::spawn(async move {
        elector
            .run(stop, || {
                berth_controllers::manager::run(client.clone(), config.clone())
            })
            .await;
    }))
}

/// Starts campaigning for the scheduler's Lease; as
/// [`start_controller_manager`].
pub fn start_scheduler(
    client: Client,
    identity: &str,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<JoinHandle<()>> {
    let mut elector = LeaderElector::new(
        client.clone(),
        "kube-system",
        "kube-scheduler",
        identity,
        LeaseConfig::default(),
    );
    Ok(tokio::spawn(async move {
        elector
            .run(stop, || {
                berth_scheduler::run::run(client.clone(), Default::default())
            })
            .await;
    }))
}

//! `berth server` and `berth agent` stop cleanly on SIGTERM, as a service
//! manager (or `berth down`) stops them: exit status 0, within seconds,
//! even with watches open on the server.

mod common;

use std::time::Duration;

use common::agent::Cluster;

#[tokio::test]
async fn server_and_agent_exit_zero_on_sigterm() {
    let mut cluster = Cluster::start().await;
    cluster.start_hollow_agent("quit", 1);
    // Once the node shows, the agent has its watches open.
    cluster.node_ready("quit", Duration::from_secs(60)).await;
    let agent = cluster.stop_agent();
    assert!(
        agent.is_some_and(|s| s.success()),
        "berth agent after SIGTERM: {agent:?}"
    );
    let server = cluster.server.terminate(Duration::from_secs(15));
    assert!(
        server.is_some_and(|s| s.success()),
        "berth server after SIGTERM: {server:?}"
    );
}

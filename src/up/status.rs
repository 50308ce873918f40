//! `berth status`'s report: the supervisor, each member's process, store
//! and API, the elected scheduler and controller manager, and the nodes.

use std::fmt::Write as _;
use std::io::Write as _;

use anyhow::Result;

use super::health::Health;
use super::layout::{Cluster, MEMBERS};
use super::supervisor::State;

/// Prints the cluster's state; whether it is running.
pub async fn print(cluster: &Cluster, supervisor: Option<u32>) -> Result<bool> {
    let Some(pid) = supervisor else {
        println!(
            "berth is not running in {} (`berth up` starts it)",
            cluster.dir.display()
        );
        return Ok(false);
    };
    let state = State::read(cluster).unwrap_or_default();
    // Written at once, and a closed pipe (`berth status | head`) is not an
    // error worth a panic.
    let mut out = String::new();
    let runtime = match state.runtime {
        Some(runtime) => format!("{runtime:?}").to_lowercase(),
        None => "?".into(),
    };
    writeln!(
        out,
        "cluster     {} (supervisor pid {pid}, runtime {runtime})",
        cluster.dir.display()
    )?;
    writeln!(
        out,
        "API         {} (kubeconfig {})\n",
        cluster.kube_url(cluster.layout.ports.api),
        cluster.kubeconfig().display()
    )?;
    let health = Health::probe(cluster).await;
    writeln!(
        out,
        "{:<8}{:<9}{:<10}{:<10}{:<6}{:<12}{:<10}{:<8}API",
        "MEMBER", "PID", "RESTARTS", "STORE", "TERM", "RAFT INDEX", "REVISION", "DB"
    )?;
    for (i, name) in MEMBERS.iter().enumerate() {
        let process = state.processes.get(*name).cloned().unwrap_or_default();
        let pid = process.pid.map_or("-".to_string(), |p| p.to_string());
        let (role, term, index, revision, db) = match &health.stores[i] {
            Some(s) => (
                if s.is_leader() { "leader" } else { "follower" }.to_string(),
                s.raft_term.to_string(),
                s.raft_index.to_string(),
                s.revision.to_string(),
                format!("{} kB", s.db_size / 1024),
            ),
            None => (
                "down".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ),
        };
        let mut api = if health.apis[i] { "serving" } else { "down" }.to_string();
        if process.pid.is_none() {
            if let Some(exit) = &process.last_exit {
                api += &format!(" (exited: {exit})");
            }
        }
        writeln!(
            out,
            "{name:<8}{pid:<9}{:<10}{role:<10}{term:<6}{index:<12}{revision:<10}{db:<8}{api}",
            process.restarts
        )?;
    }
    let holder = |h: &Option<String>| h.clone().unwrap_or_else(|| "none".into());
    writeln!(
        out,
        "\nscheduler: {}    controller manager: {}\n",
        holder(&health.scheduler),
        holder(&health.controller_manager)
    )?;
    let agent = state.processes.get("agent").cloned().unwrap_or_default();
    writeln!(
        out,
        "agent pid {} (restarts {})",
        agent.pid.map_or("-".into(), |p| p.to_string()),
        agent.restarts
    )?;
    match &health.nodes {
        Some(nodes) => {
            writeln!(out, "{:<24}STATUS", "NODE")?;
            for (name, ready) in nodes {
                writeln!(
                    out,
                    "{name:<24}{}",
                    if *ready { "Ready" } else { "NotReady" }
                )?;
            }
        }
        None => writeln!(out, "nodes: the API does not answer")?,
    }
    let _ = std::io::stdout().write_all(out.as_bytes());
    Ok(true)
}

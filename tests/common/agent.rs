//! A `berth server` with its scheduler and controllers and a `berth agent`
//! beside it, as the agent tests drive them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use berth_client::{Api, Client, ListParams};
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};

use super::{berth_server_with, Server};

/// A control plane of one member and one agent process (or none yet).
pub struct Cluster {
    pub server: Server,
    pub dir: tempfile::TempDir,
    pub client: Client,
    pub agent: Option<Child>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.stop_agent();
    }
}

/// Starts `berth server` with its scheduler and controllers, its
/// kubeconfig at `dir/kubeconfig`, and returns it with a client once it
/// serves the API.
pub async fn serving_server(dir: &Path) -> (Server, Client) {
    let kubeconfig = dir.join("kubeconfig");
    let server = berth_server_with(&["--write-kubeconfig", kubeconfig.to_str().unwrap()]);
    let client = Client::new(&server.url).unwrap();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let deadline = Instant::now() + Duration::from_secs(30);
    while namespaces.get_opt("default").await.ok().flatten().is_none() {
        assert!(Instant::now() < deadline, "the API never served");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    (server, client)
}

impl Cluster {
    /// Starts the server and waits until it serves the API.
    pub async fn start() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let (server, client) = serving_server(dir.path()).await;
        Cluster {
            server,
            dir,
            client,
            agent: None,
        }
    }

    /// Starts `berth agent` with `args` after `--api`; it logs to
    /// `agent.log` in the cluster's folder (appended across restarts).
    pub fn start_agent(&mut self, args: &[&str]) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("agent.log"))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_berth"))
            .args(["agent", "--api", &self.server.url])
            .args(args)
            .env("RUST_LOG", "info,berth_agent=debug")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.agent = Some(child);
    }

    /// Starts `berth agent` with `nodes` hollow nodes named `<name>-<i>`
    /// (one is named `<name>`), its files in the cluster's folder.
    pub fn start_hollow_agent(&mut self, name: &str, nodes: usize) {
        let root = self.dir.path().join("agent");
        let logs = self.dir.path().join("logs");
        self.start_agent(&[
            "--runtime",
            "hollow",
            "--node-name",
            name,
            "--hollow-nodes",
            &nodes.to_string(),
            "--node-ip",
            "127.0.0.1",
            "--root-dir",
            root.to_str().unwrap(),
            "--log-dir",
            logs.to_str().unwrap(),
        ]);
    }

    /// Stops the agent with SIGTERM, as a service manager would, and waits
    /// up to 15 s; its exit status, or None if it had to be killed.
    pub fn stop_agent(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.agent.take()?;
        super::terminate(&mut child, Duration::from_secs(15))
    }

    /// The agent's log so far.
    pub fn agent_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("agent.log")).unwrap_or_default()
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    /// Runs stock kubectl against the cluster; its output, or a panic
    /// with its error.
    pub async fn kubectl(&self, args: &[&str]) -> String {
        let out = self.kubectl_output(args).await;
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}{}\nagent log tail:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            tail(&self.agent_log(), 40)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    pub async fn kubectl_output(&self, args: &[&str]) -> std::process::Output {
        tokio::process::Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .args(args)
            .output()
            .await
            .unwrap()
    }

    /// Waits until node `name` is registered and Ready.
    pub async fn node_ready(&self, name: &str, within: Duration) -> Node {
        let nodes: Api<Node> = Api::all(self.client.clone());
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(node)) = nodes.get_opt(name).await {
                if condition(
                    &node.status.as_ref().and_then(|s| s.conditions.clone()),
                    "Ready",
                ) {
                    return node;
                }
            }
            assert!(
                Instant::now() < deadline,
                "node {name} never Ready; agent log:\n{}",
                tail(&self.agent_log(), 40)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Polls the pods of `namespace` matching `selector` until `done` holds
    /// for the list; the list then.
    pub async fn pods_until(
        &self,
        namespace: &str,
        selector: &str,
        within: Duration,
        what: &str,
        done: impl Fn(&[Pod]) -> bool,
    ) -> Vec<Pod> {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let deadline = Instant::now() + within;
        loop {
            let (list, _) = pods.list_all(&ListParams::labels(selector)).await.unwrap();
            if done(&list) {
                return list;
            }
            if Instant::now() > deadline {
                panic!(
                    "{what}: not within {within:?}; pods:\n{}\nagent log tail:\n{}",
                    list.iter()
                        .map(|p| serde_json::to_string(&p.status).unwrap())
                        .collect::<Vec<_>>()
                        .join("\n"),
                    tail(&self.agent_log(), 60)
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// Whether condition `type_` is True.
pub fn condition(
    conditions: &Option<Vec<k8s_openapi::api::core::v1::NodeCondition>>,
    type_: &str,
) -> bool {
    conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == type_ && c.status == "True")
}

/// Whether the pod is Running with Ready=True and an IP.
pub fn running_ready(pod: &Pod) -> bool {
    let Some(status) = pod.status.as_ref() else {
        return false;
    };
    status.phase.as_deref() == Some("Running")
        && status.pod_ip.as_deref().is_some_and(|ip| !ip.is_empty())
        && status
            .conditions
            .iter()
            .flatten()
            .any(|c| c.type_ == "Ready" && c.status == "True")
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The guide's manifest `name`, from ../shared/manifests.
pub fn manifest(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/manifests")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

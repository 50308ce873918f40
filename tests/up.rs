//! The guide end to end on `berth up`'s cluster: three control-plane
//! members and a node on containerd, started by `berth up` and driven by
//! stock kubectl through the kubeconfig it writes. Deploy, inspect, logs,
//! exec, scale, self-healing, a rolling update and its undo, the failure
//! states a user must recognise, the loss of the store's leader, and
//! `berth down` / `berth up` resuming the cluster with its data.
//!
//! It needs containerd (scripts/test.sh starts it, with the images of
//! scripts/images.sh); without it the test says so and skips, unless
//! BERTH_REQUIRE_CONTAINERD is set.

mod common;

use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

use berth_client::{Api, Client, ListParams};
use k8s_openapi::api::core::v1::Pod;

use common::agent::{manifest, running_ready, tail};
use common::guide::{containerd_present, exec_it_runs_a_shell, http, logs_follow_shows_a_new_line};

/// A cluster started by `berth up` in a temporary directory; brought down
/// (or, failing that, its supervisor killed) when dropped.
struct Up {
    dir: tempfile::TempDir,
    port_base: u16,
}

impl Drop for Up {
    fn drop(&mut self) {
        let down = self.berth(&["down"]);
        if !down.status.success() {
            if let Ok(pid) = std::fs::read_to_string(self.dir.path().join("run/supervisor.pid")) {
                let _ = std::process::Command::new("kill")
                    .args(["-9", pid.trim()])
                    .status();
            }
        }
    }
}

impl Up {
    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("cluster")
    }

    /// `berth <command> --data-dir DIR <args>`.
    fn berth(&self, args: &[&str]) -> Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_berth"))
            .arg(args[0])
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(&args[1..])
            .output()
            .unwrap()
    }

    fn berth_ok(&self, args: &[&str]) -> String {
        let out = self.berth(args);
        assert!(
            out.status.success(),
            "berth {args:?} failed: {}{}\nsupervisor log:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log("supervisor")
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn log(&self, process: &str) -> String {
        let text = std::fs::read_to_string(self.data_dir().join(format!("logs/{process}.log")))
            .unwrap_or_default();
        tail(&text, 40)
    }

    fn kubeconfig(&self) -> String {
        self.data_dir()
            .join("kubeconfig")
            .to_string_lossy()
            .into_owned()
    }

    /// kubectl with the cluster's kubeconfig, on its current context (the
    /// cluster's API address) or on one member's.
    fn kubectl_cmd(&self, context: Option<&str>) -> Vec<String> {
        let mut cmd = vec!["kubectl".into(), "--kubeconfig".into(), self.kubeconfig()];
        if let Some(context) = context {
            cmd.extend(["--context".into(), context.into()]);
        }
        cmd
    }

    async fn kubectl_on(&self, context: Option<&str>, args: &[&str]) -> Output {
        let cmd = self.kubectl_cmd(context);
        tokio::process::Command::new(&cmd[0])
            .args(&cmd[1..])
            .args(args)
            .output()
            .await
            .unwrap()
    }

    async fn kubectl(&self, args: &[&str]) -> String {
        let out = self.kubectl_on(None, args).await;
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}{}\nagent log:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log("agent")
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The administrator's token, as the kubeconfig carries it.
    fn token(&self) -> String {
        let kubeconfig = std::fs::read_to_string(self.kubeconfig()).unwrap();
        kubeconfig
            .lines()
            .find_map(|l| l.trim().strip_prefix("token: "))
            .expect("the kubeconfig has a token")
            .to_string()
    }

    /// `kubectl rollout status` waits for the rollout and reports it done.
    async fn rollout_finished(&self) {
        let rollout = self
            .kubectl(&[
                "rollout",
                "status",
                "deployment/api-server",
                "--timeout=120s",
            ])
            .await;
        assert!(rollout.contains("successfully rolled out"), "{rollout}");
    }

    fn client(&self) -> Client {
        Client::new(&format!("http://127.0.0.1:{}", self.port_base))
            .unwrap()
            .with_token(&self.token())
            .unwrap()
    }

    /// Polls the api-server pods until `done` holds; the list then.
    async fn pods_until(&self, what: &str, done: impl Fn(&[Pod]) -> bool) -> Vec<Pod> {
        self.pods_matching_until("app=api-server", what, done).await
    }

    async fn pods_matching_until(
        &self,
        selector: &str,
        what: &str,
        done: impl Fn(&[Pod]) -> bool,
    ) -> Vec<Pod> {
        let pods: Api<Pod> = Api::namespaced(self.client(), "default");
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            // The cluster's address may answer with an error while a member
            // is down: that is retried like an empty answer.
            let list = pods
                .list_all(&ListParams::labels(selector))
                .await
                .map(|(list, _)| list)
                .unwrap_or_default();
            let live: Vec<Pod> = list
                .into_iter()
                .filter(|p| p.metadata.deletion_timestamp.is_none())
                .collect();
            if done(&live) {
                return live;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not within 120 s; pods:\n{}\nagent log:\n{}",
                live.iter()
                    .map(|p| serde_json::to_string(&p.status).unwrap())
                    .collect::<Vec<_>>()
                    .join("\n"),
                self.log("agent")
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// `berth status`'s row of the store's leader: its name and pid.
    fn leader(&self) -> (String, u32) {
        let status = self.berth_ok(&["status"]);
        status
            .lines()
            .find_map(|line| {
                let cols: Vec<&str> = line.split_whitespace().collect();
                (cols.len() > 3 && cols[3] == "leader")
                    .then(|| (cols[0].to_string(), cols[1].parse().ok()))
                    .and_then(|(name, pid)| Some((name, pid?)))
            })
            .unwrap_or_else(|| panic!("no leader in berth status:\n{status}"))
    }
}

fn names(pods: &[Pod]) -> Vec<String> {
    pods.iter()
        .map(|p| p.metadata.name.clone().unwrap_or_default())
        .collect()
}

fn image(pod: &Pod) -> String {
    pod.spec
        .as_ref()
        .map(|s| s.containers[0].image.clone().unwrap_or_default())
        .unwrap_or_default()
}

fn ip(pod: &Pod) -> String {
    pod.status
        .as_ref()
        .and_then(|s| s.pod_ip.clone())
        .unwrap_or_default()
}

fn all_running(pods: &[Pod], n: usize, image_tag: &str) -> bool {
    pods.len() == n
        && pods
            .iter()
            .all(|p| running_ready(p) && image(p) == format!("api-server:{image_tag}"))
}

/// The pod of `get pods` named `name`: its STATUS column.
fn status_column(get_pods: &str, name: &str) -> Option<String> {
    get_pods.lines().find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        (cols.first() == Some(&name)).then(|| cols.get(2).unwrap_or(&"").to_string())
    })
}

const TROUBLE: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: missing-image
  labels: {trouble: "yes"}
spec:
  containers:
  - name: app
    image: api-server:9.9.9
---
apiVersion: v1
kind: Pod
metadata:
  name: crasher
  labels: {trouble: "yes"}
spec:
  containers:
  - name: app
    image: api-server:1.2.0
    command: ["sh", "-c", "echo starting; exit 1"]
---
apiVersion: v1
kind: Pod
metadata:
  name: too-big
  labels: {trouble: "yes"}
spec:
  containers:
  - name: app
    image: api-server:1.2.0
    resources:
      requests: {cpu: "1000"}
"#;

#[tokio::test(flavor = "multi_thread")]
async fn the_guide_runs_on_berth_up() {
    if !containerd_present() {
        return;
    }
    let up = Up {
        dir: tempfile::tempdir().unwrap(),
        port_base: common::free_block(14),
    };
    let base = up.port_base.to_string();

    // berth up: three members and a node on containerd, healthy.
    let started = Instant::now();
    let out = up.berth_ok(&["up", "--port-base", &base]);
    eprintln!("berth up took {:?}:\n{out}", started.elapsed());
    assert!(out.contains("runtime: containerd"), "{out}");
    assert!(out.contains("store: 3 of 3 members"), "{out}");
    assert!(
        out.contains(": Ready") && out.contains("berth is up in"),
        "{out}"
    );
    assert!(out.contains(&up.kubeconfig()), "{out}");
    let status = up.berth_ok(&["status"]);
    assert_eq!(status.matches("serving").count(), 3, "{status}");
    assert_eq!(status.matches(" leader ").count(), 1, "{status}");
    assert!(status.contains("Ready"), "{status}");
    // The API wants the kubeconfig's credentials: kubectl with another
    // token, and a component without one, are refused.
    let refused = up
        .kubectl_on(None, &["get", "pods", "--token=not-a-token"])
        .await;
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && stderr.contains("You must be logged in to the server"),
        "{stderr}"
    );
    let anonymous = Client::new(&format!("http://127.0.0.1:{}", up.port_base)).unwrap();
    let listed = Api::<Pod>::namespaced(anonymous, "default")
        .list(&ListParams::default())
        .await;
    assert!(listed.is_err(), "served without a token: {listed:?}");
    // A second `berth up` sees the running cluster and changes nothing.
    let again = up.berth_ok(&["up"]);
    assert!(again.contains("already running"), "{again}");

    // kubectl apply -f deployment.yaml: 3 pods Running.
    let applied = up
        .kubectl(&["apply", "-f", &manifest("deployment.yaml")])
        .await;
    assert!(
        applied.contains("deployment.apps/api-server created"),
        "{applied}"
    );
    let pods = up
        .pods_until("3 pods Running", |p| all_running(p, 3, "1.2.0"))
        .await;
    let get = up.kubectl(&["get", "pods"]).await;
    assert_eq!(get.matches("Running").count(), 3, "{get}");
    assert!(get.starts_with("NAME") && get.contains("READY"), "{get}");
    let wide = up.kubectl(&["get", "pods", "-o", "wide"]).await;
    assert!(wide.contains("NODE") && wide.contains("IP"), "{wide}");
    for pod in &pods {
        assert!(wide.contains(&ip(pod)), "{wide}");
    }
    let first = names(&pods)[0].clone();
    let describe = up.kubectl(&["describe", "pod", &first]).await;
    for expected in ["Events:", "Scheduled", "Started", "api-server:1.2.0"] {
        assert!(describe.contains(expected), "{expected}: {describe}");
    }
    let (code, body) = tokio::task::spawn_blocking({
        let ip = ip(&pods[0]);
        move || http(&ip, "GET", "/")
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(code, 200);
    assert!(body.contains("1.2.0"), "{body}");
    let logs = up.kubectl(&["logs", &first]).await;
    assert!(logs.contains("GET / 200"), "{logs}");
    let kubectl = up.kubectl_cmd(None);
    logs_follow_shows_a_new_line(&kubectl, &first, &ip(&pods[0])).await;
    exec_it_runs_a_shell(&kubectl, &first).await;

    // Scale to 5; a pod deleted by hand is replaced.
    up.kubectl(&["scale", "deployment", "api-server", "--replicas=5"])
        .await;
    let pods = up
        .pods_until("5 pods Running", |p| all_running(p, 5, "1.2.0"))
        .await;
    let victim = names(&pods)[0].clone();
    up.kubectl(&["delete", "pod", &victim]).await;
    up.pods_until("the deleted pod replaced", |p| {
        all_running(p, 5, "1.2.0") && !names(p).contains(&victim)
    })
    .await;

    // A rolling update to 1.3.0, then undone.
    up.kubectl(&[
        "set",
        "image",
        "deployment/api-server",
        "api=api-server:1.3.0",
    ])
    .await;
    up.rollout_finished().await;
    up.pods_until("5 pods on 1.3.0", |p| all_running(p, 5, "1.3.0"))
        .await;
    up.kubectl(&["rollout", "undo", "deployment/api-server"])
        .await;
    up.rollout_finished().await;
    let pods = up
        .pods_until("5 pods back on 1.2.0", |p| all_running(p, 5, "1.2.0"))
        .await;
    let (_, body) = tokio::task::spawn_blocking({
        let ip = ip(&pods[0]);
        move || http(&ip, "GET", "/")
    })
    .await
    .unwrap()
    .unwrap();
    assert!(body.contains("1.2.0"), "{body}");

    // The states a user must recognise, as get pods and describe show them.
    let trouble = up.dir.path().join("trouble.yaml");
    std::fs::write(&trouble, TROUBLE).unwrap();
    up.kubectl(&["apply", "-f", trouble.to_str().unwrap()])
        .await;
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = (false, false, false);
    while seen != (true, true, true) {
        let get = up.kubectl(&["get", "pods", "-l", "trouble=yes"]).await;
        seen.0 |= status_column(&get, "missing-image").as_deref() == Some("ImagePullBackOff");
        seen.1 |= status_column(&get, "crasher").as_deref() == Some("CrashLoopBackOff");
        seen.2 |= status_column(&get, "too-big").as_deref() == Some("Pending");
        assert!(
            Instant::now() < deadline,
            "(ImagePullBackOff, CrashLoopBackOff, Pending) seen: {seen:?}\n{get}\nagent log:\n{}",
            up.log("agent")
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let describe = up.kubectl(&["describe", "pod", "too-big"]).await;
    assert!(
        describe.contains("FailedScheduling") && describe.contains("Insufficient cpu"),
        "{describe}"
    );
    let describe = up.kubectl(&["describe", "pod", "missing-image"]).await;
    assert!(describe.contains("ImagePullBackOff"), "{describe}");
    let describe = up.kubectl(&["describe", "pod", "crasher"]).await;
    assert!(
        describe.contains("Back-off restarting failed container"),
        "{describe}"
    );
    up.kubectl(&["delete", "-f", trouble.to_str().unwrap(), "--wait=false"])
        .await;

    // The store's leader killed: kubectl works through another member, the
    // deployment heals, the member is restarted and rejoins.
    let (leader, pid) = up.leader();
    let other = ["m0", "m1", "m2"]
        .into_iter()
        .find(|m| *m != leader)
        .unwrap();
    let context = format!("berth-{other}");
    std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = up.kubectl_on(Some(&context), &["get", "pods"]).await;
        if out.status.success() && String::from_utf8_lossy(&out.stdout).contains("api-server-") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "kubectl through {other} after {leader} was killed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let pods = up
        .pods_until("5 pods Running", |p| all_running(p, 5, "1.2.0"))
        .await;
    let victim = names(&pods)[0].clone();
    let out = up
        .kubectl_on(Some(&context), &["delete", "pod", &victim])
        .await;
    assert!(out.status.success(), "{out:?}");
    up.pods_until("healed with a member killed", |p| {
        all_running(p, 5, "1.2.0") && !names(p).contains(&victim)
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = up.berth_ok(&["status"]);
        let row = status
            .lines()
            .find(|l| l.starts_with(&leader))
            .unwrap_or_default()
            .to_string();
        let cols: Vec<&str> = row.split_whitespace().collect();
        // A new pid, one restart, a store role again and its API serving.
        let rejoined = cols.len() > 8
            && cols[1] != pid.to_string()
            && cols[2] == "1"
            && (cols[3] == "follower" || cols[3] == "leader")
            && row.ends_with("serving");
        if rejoined && status.matches("serving").count() == 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{leader} did not rejoin:\n{status}\n{leader}'s log:\n{}",
            up.log(&leader)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let out = up
        .kubectl_on(
            Some(&format!("berth-{leader}")),
            &["get", "deployment", "api-server"],
        )
        .await;
    assert!(out.status.success(), "{out:?}");

    // berth down stops everything; berth up resumes the same cluster.
    let supervisor = std::fs::read_to_string(up.data_dir().join("run/supervisor.pid")).unwrap();
    let down = up.berth_ok(&["down"]);
    assert!(down.contains("stopped"), "{down}");
    // Gone, or a zombie waiting for init to reap it.
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", supervisor.trim()));
    assert!(
        stat.as_ref().map_or(true, |s| s
            .rsplit_once(") ")
            .is_some_and(|(_, r)| r.starts_with('Z'))),
        "the supervisor outlived berth down: {stat:?}"
    );
    let status = up.berth(&["status"]);
    assert!(!status.status.success());
    assert!(String::from_utf8_lossy(&status.stdout).contains("not running"));
    let out = up.berth_ok(&["up"]);
    assert!(
        out.contains("resuming") && out.contains("berth is up"),
        "{out}"
    );
    // Their sandboxes went with berth down: the pods run again only once
    // the agent has started them anew, answering on their IPs.
    up.pods_until("5 pods serving again after berth up", |p| {
        all_running(p, 5, "1.2.0")
            && p.iter()
                .all(|pod| matches!(http(&ip(pod), "GET", "/"), Ok((200, _))))
    })
    .await;
    up.kubectl(&["delete", "deployment", "api-server"]).await;
    up.pods_matching_until("app=api-server", "every pod gone", |p| p.is_empty())
        .await;
}

/// Without containerd (or root) pods run as host processes: `berth up
/// --runtime process` says so, and a pod that names its command runs.
#[tokio::test(flavor = "multi_thread")]
async fn berth_up_on_host_processes() {
    let up = Up {
        dir: tempfile::tempdir().unwrap(),
        port_base: common::free_block(14),
    };
    let base = up.port_base.to_string();
    let out = up.berth_ok(&["up", "--port-base", &base, "--runtime", "process"]);
    assert!(out.contains("runtime: host processes, as asked"), "{out}");
    assert!(out.contains("berth is up in"), "{out}");
    let status = up.berth_ok(&["status"]);
    assert!(status.contains("runtime process"), "{status}");
    let pod = up.dir.path().join("pod.yaml");
    std::fs::write(
        &pod,
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: hello\n  labels: {app: hello}\nspec:\n  containers:\n  - name: sh\n    image: busybox:1.36\n    command: [sh, -c, 'echo hello from the host; sleep 600']\n",
    )
    .unwrap();
    up.kubectl(&["apply", "-f", pod.to_str().unwrap()]).await;
    up.pods_matching_until("app=hello", "the pod Running", |p| {
        p.len() == 1 && running_ready(&p[0])
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let logs = up.kubectl(&["logs", "hello"]).await;
        if logs.contains("hello from the host") {
            break;
        }
        assert!(Instant::now() < deadline, "{logs}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    up.kubectl(&["delete", "pod", "hello", "--wait=false"])
        .await;
    let down = up.berth_ok(&["down"]);
    assert!(down.contains("stopped"), "{down}");
}

/// A port already taken stops `berth up` before anything starts, naming
/// the port and what it was for.
#[test]
fn berth_up_names_a_port_that_is_taken() {
    let up = Up {
        dir: tempfile::tempdir().unwrap(),
        port_base: common::free_block(14),
    };
    let taken = std::net::TcpListener::bind(("127.0.0.1", up.port_base + 1)).unwrap();
    let out = up.berth(&["up", "--port-base", &up.port_base.to_string()]);
    drop(taken);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("port {} (m0's API) is not free", up.port_base + 1)),
        "{stderr}"
    );
    assert!(
        !up.data_dir().join("run/supervisor.pid").exists(),
        "nothing may start"
    );
}

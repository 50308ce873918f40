//! `berth agent --runtime cri` on the containerd that scripts/test.sh starts
//! (with the images of scripts/images.sh), against `berth server` with its
//! scheduler and controllers, driven by stock kubectl: the guide's
//! Deployment with probes and resources goes Running and Ready on real
//! containers that answer on their pod IPs; readiness and liveness
//! failures, a crash loop, a missing image, a memory hog, ConfigMap and
//! Secret values, and an agent restart behave as on a kubelet.
//!
//! One agent owns containerd's pod sandboxes (it removes those it does not
//! know when it starts), so the scenarios run in order in one test.
//! Without containerd the test says so and skips, unless
//! BERTH_REQUIRE_CONTAINERD is set (scripts/test.sh sets it), when it fails.

mod common;

use std::collections::BTreeSet;
use std::str::FromStr;
use std::time::Duration;

use berth_client::Api;
use k8s_openapi::api::core::v1::{ContainerStatus, Endpoints, Pod};

use common::agent::{manifest, running_ready, Cluster};
use common::guide::{containerd_present, exec_it_runs_a_shell, http, logs_follow_shows_a_new_line};

/// kubectl with the cluster's kubeconfig.
fn kubectl_of(cluster: &Cluster) -> Vec<String> {
    vec![
        "kubectl".into(),
        "--kubeconfig".into(),
        cluster.kubeconfig().to_string_lossy().into_owned(),
    ]
}

fn ip_of(pod: &Pod) -> String {
    pod.status
        .as_ref()
        .and_then(|s| s.pod_ip.clone())
        .unwrap_or_default()
}

fn name_of(pod: &Pod) -> String {
    pod.metadata.name.clone().unwrap_or_default()
}

fn ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The status of the pod's first container.
fn first_container(pod: &Pod) -> Option<&ContainerStatus> {
    pod.status.as_ref()?.container_statuses.as_ref()?.first()
}

fn restarts(pod: &Pod) -> i32 {
    first_container(pod).map_or(0, |c| c.restart_count)
}

fn container_id(pod: &Pod) -> String {
    first_container(pod)
        .and_then(|c| c.container_id.clone())
        .unwrap_or_default()
}

/// The waiting reason of the pod's first container, if it waits.
fn waiting(pod: &Pod) -> Option<(String, String)> {
    let w = first_container(pod)?.state.as_ref()?.waiting.clone()?;
    Some((w.reason.unwrap_or_default(), w.message.unwrap_or_default()))
}

/// The terminated reason of the first container's last state.
fn last_terminated(pod: &Pod) -> Option<(String, i32)> {
    let t = first_container(pod)?
        .last_state
        .as_ref()?
        .terminated
        .clone()?;
    Some((t.reason.unwrap_or_default(), t.exit_code))
}

async fn endpoint_ips(cluster: &Cluster) -> (BTreeSet<String>, BTreeSet<String>) {
    let endpoints: Api<Endpoints> = Api::namespaced(cluster.client.clone(), "default");
    let Ok(Some(e)) = endpoints.get_opt("api-server").await else {
        return Default::default();
    };
    let mut ready = BTreeSet::new();
    let mut not_ready = BTreeSet::new();
    for subset in e.subsets.unwrap_or_default() {
        ready.extend(
            subset
                .addresses
                .unwrap_or_default()
                .into_iter()
                .map(|a| a.ip),
        );
        not_ready.extend(
            subset
                .not_ready_addresses
                .unwrap_or_default()
                .into_iter()
                .map(|a| a.ip),
        );
    }
    (ready, not_ready)
}

async fn endpoints_until(
    cluster: &Cluster,
    what: &str,
    done: impl Fn(&BTreeSet<String>, &BTreeSet<String>) -> bool,
) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (ready, not_ready) = endpoint_ips(cluster).await;
        if done(&ready, &not_ready) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: endpoints ready {ready:?}, not ready {not_ready:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// `kubectl logs` of a running pod: all of it, its tail, with timestamps,
/// and followed while the pod writes a new line.
async fn logs_through_kubectl(cluster: &Cluster, pod: &Pod) {
    let name = name_of(pod);
    let all = cluster.kubectl(&["logs", &name]).await;
    assert!(
        all.contains("listening on") && all.contains("GET / 200"),
        "{all}"
    );
    let tail = cluster.kubectl(&["logs", &name, "--tail=1"]).await;
    assert_eq!(tail.lines().count(), 1, "{tail}");
    let stamped = cluster
        .kubectl(&["logs", &name, "--timestamps", "--tail=1"])
        .await;
    let (time, rest) = stamped.split_once(' ').unwrap_or_default();
    assert!(
        jiff::Timestamp::from_str(time).is_ok() && rest.contains("GET / 200"),
        "{stamped}"
    );
    logs_follow_shows_a_new_line(&kubectl_of(cluster), &name, &ip_of(pod)).await;
}

/// `kubectl exec` into a running pod: a command's output and exit code,
/// and an interactive shell on a terminal (`-it`, driven through `script`,
/// which gives kubectl a pseudo-terminal).
async fn exec_through_kubectl(cluster: &Cluster, pod: &str) {
    let hostname = cluster
        .kubectl(&["exec", pod, "--", "cat", "/etc/hostname"])
        .await;
    assert_eq!(hostname.trim(), pod);
    let failed = cluster
        .kubectl_output(&[
            "exec",
            pod,
            "--",
            "sh",
            "-c",
            "echo out; echo err >&2; exit 3",
        ])
        .await;
    assert_eq!(failed.status.code(), Some(3), "{failed:?}");
    assert_eq!(String::from_utf8_lossy(&failed.stdout), "out\n");
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.contains("err") && stderr.contains("command terminated with exit code 3"),
        "{stderr}"
    );
    exec_it_runs_a_shell(&kubectl_of(cluster), pod).await;
}

const SERVICE: &str = r#"
apiVersion: v1
kind: Service
metadata:
  name: api-server
spec:
  selector:
    app: api-server
  ports:
    - port: 80
      targetPort: 8080
"#;

async fn apply_text(cluster: &Cluster, name: &str, text: &str) {
    let path = cluster.dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    cluster
        .kubectl(&["apply", "-f", path.to_str().unwrap()])
        .await;
}

#[tokio::test]
async fn pods_run_on_containerd_as_on_a_kubelet() {
    if !containerd_present() {
        return;
    }
    let mut cluster = Cluster::start().await;
    let root = cluster.dir.path().join("agent");
    let logs = cluster.dir.path().join("logs");
    let port = common::free_ports(1)[0].to_string();
    let agent_args: Vec<String> = [
        "--port",
        &port,
        "--runtime",
        "cri",
        "--node-name",
        "cri-node",
        "--root-dir",
        root.to_str().unwrap(),
        "--log-dir",
        logs.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let args: Vec<&str> = agent_args.iter().map(String::as_str).collect();
    cluster.start_agent(&args);
    cluster
        .node_ready("cri-node", Duration::from_secs(60))
        .await;

    // The guide's Deployment with probes and resources, unchanged.
    cluster
        .kubectl(&["apply", "-f", &manifest("deployment-probes-resources.yaml")])
        .await;
    apply_text(&cluster, "service.yaml", SERVICE).await;
    let pods = cluster
        .pods_until(
            "default",
            "app=api-server",
            Duration::from_secs(90),
            "3 pods Running and Ready on containerd",
            |pods| pods.len() == 3 && pods.iter().all(running_ready),
        )
        .await;
    let ips: BTreeSet<String> = pods.iter().map(ip_of).collect();
    assert_eq!(ips.len(), 3, "three pod IPs: {ips:?}");
    for pod in &pods {
        let (code, body) = http(&ip_of(pod), "GET", "/").unwrap();
        assert_eq!(code, 200, "{body}");
        assert!(body.contains("1.2.0"), "{body}");
        assert!(container_id(pod).starts_with("containerd://"));
    }
    logs_through_kubectl(&cluster, &pods[0]).await;
    exec_through_kubectl(&cluster, &name_of(&pods[0])).await;
    endpoints_until(
        &cluster,
        "the Service lists the 3 ready pods",
        |ready, not_ready| *ready == ips && not_ready.is_empty(),
    )
    .await;

    // Readiness failing: not Ready, out of the endpoints; back when healed.
    let sick = pods[0].clone();
    let sick_ip = ip_of(&sick);
    let (code, _) = http(&sick_ip, "POST", "/admin/readiness?fail=true").unwrap();
    assert_eq!(code, 200);
    cluster
        .pods_until(
            "default",
            "app=api-server",
            Duration::from_secs(60),
            "readiness failing",
            |pods| {
                pods.iter()
                    .any(|p| name_of(p) == name_of(&sick) && !ready(p))
            },
        )
        .await;
    endpoints_until(
        &cluster,
        "the unready pod moves to notReadyAddresses",
        |ready, not_ready| {
            !ready.contains(&sick_ip) && ready.len() == 2 && not_ready.contains(&sick_ip)
        },
    )
    .await;
    http(&sick_ip, "POST", "/admin/readiness?fail=false").unwrap();
    endpoints_until(&cluster, "the healed pod is back", |ready, _| *ready == ips).await;

    // Liveness failing: the container is restarted, the count grows.
    let dying = pods[1].clone();
    let old_id = container_id(&dying);
    http(&ip_of(&dying), "POST", "/admin/liveness?fail=true").unwrap();
    let restarted = cluster
        .pods_until(
            "default",
            "app=api-server",
            Duration::from_secs(90),
            "liveness restart",
            |pods| {
                pods.iter()
                    .any(|p| name_of(p) == name_of(&dying) && restarts(p) >= 1 && running_ready(p))
            },
        )
        .await;
    let now = restarted
        .iter()
        .find(|p| name_of(p) == name_of(&dying))
        .unwrap();
    assert_ne!(container_id(now), old_id, "a new container");
    let previous = cluster
        .kubectl(&["logs", &name_of(&dying), "--previous"])
        .await;
    assert!(
        previous.contains("POST /admin/liveness?fail=true 200"),
        "{previous}"
    );
    let describe = cluster
        .kubectl(&["describe", "pod", &name_of(&dying)])
        .await;
    assert!(describe.contains("Liveness probe failed"), "{describe}");

    // The agent restarted: running pods are adopted, not restarted; a pod
    // deleted (forced) while it was down has its containers removed.
    let before: Vec<(String, String, i32)> = cluster
        .pods_until(
            "default",
            "app=api-server",
            Duration::from_secs(30),
            "settled",
            |pods| pods.len() == 3 && pods.iter().all(running_ready),
        )
        .await
        .iter()
        .map(|p| (name_of(p), container_id(p), restarts(p)))
        .collect();
    cluster.stop_agent();
    let (gone_name, gone_id, _) = before[2].clone();
    cluster
        .kubectl(&["delete", "pod", &gone_name, "--force", "--grace-period=0"])
        .await;
    cluster.start_agent(&args);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after = cluster
        .pods_until(
            "default",
            "app=api-server",
            Duration::from_secs(60),
            "adopted, and the deleted pod replaced",
            |pods| pods.len() == 3 && pods.iter().all(running_ready),
        )
        .await;
    for (name, id, count) in &before[..2] {
        let now = after.iter().find(|p| &name_of(p) == name).unwrap();
        assert_eq!(
            (container_id(now), restarts(now)),
            (id.clone(), *count),
            "{name}: same container, same restart count"
        );
    }
    let gone_id = gone_id.trim_start_matches("containerd://").to_string();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let listed = std::process::Command::new("ctr")
            .args([
                "--address",
                common::guide::SOCKET,
                "-n",
                "k8s.io",
                "containers",
                "ls",
                "-q",
            ])
            .output()
            .unwrap();
        if !String::from_utf8_lossy(&listed.stdout).contains(&gone_id) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the container of {gone_name}, deleted while the agent was down, is still there"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let pods = after;
    for pod in &pods {
        assert_eq!(http(&ip_of(pod), "GET", "/").unwrap().0, 200);
    }

    // A crashing container: CrashLoopBackOff, with the delay doubling.
    apply_text(
        &cluster,
        "crash.yaml",
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: crash
  labels: {test: crash}
spec:
  containers:
    - name: app
      image: api-server:1.2.0
      env:
        - {name: CRASH_AFTER_MS, value: "200"}
"#,
    )
    .await;
    let crashed = cluster
        .pods_until(
            "default",
            "test=crash",
            Duration::from_secs(60),
            "CrashLoopBackOff",
            |pods| {
                pods.iter().any(|p| {
                    restarts(p) >= 2
                        && waiting(p).is_some_and(|(r, m)| {
                            r == "CrashLoopBackOff" && m.contains("back-off 20s")
                        })
                })
            },
        )
        .await;
    assert_eq!(
        last_terminated(&crashed[0]).map(|t| t.0),
        Some("Error".to_string())
    );
    let get = cluster.kubectl(&["get", "pod", "crash"]).await;
    assert!(get.contains("CrashLoopBackOff"), "{get}");

    // A missing image: ErrImagePull, then ImagePullBackOff.
    apply_text(
        &cluster,
        "missing.yaml",
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: missing
  labels: {test: missing}
spec:
  containers:
    - name: app
      image: example.invalid/no-such-image:1.0
"#,
    )
    .await;
    let seen = std::sync::Mutex::new(BTreeSet::new());
    cluster
        .pods_until(
            "default",
            "test=missing",
            Duration::from_secs(60),
            "ErrImagePull then ImagePullBackOff",
            |pods| {
                let mut seen = seen.lock().unwrap();
                seen.extend(pods.iter().filter_map(waiting).map(|w| w.0));
                seen.contains("ImagePullBackOff")
            },
        )
        .await;
    // The status shows ErrImagePull for one sync only (about a second); the
    // kubelet's events record both, as `kubectl describe` lists them.
    let described = cluster.kubectl(&["describe", "pod", "missing"]).await;
    for wanted in [
        "Error: ErrImagePull",
        "Error: ImagePullBackOff",
        "Back-off pulling image \"example.invalid/no-such-image:1.0\"",
    ] {
        assert!(described.contains(wanted), "{wanted} not in {described}");
    }

    // A memory hog over its limit: OOMKilled.
    apply_text(
        &cluster,
        "hog.yaml",
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: hog
  labels: {test: hog}
spec:
  restartPolicy: Never
  containers:
    - name: app
      image: busybox:latest
      # :latest is pulled Always by default; there is no registry.
      imagePullPolicy: IfNotPresent
      command: ["sh", "-c", "sleep 1; head -c 200m /dev/zero | tail > /dev/null"]
      resources:
        limits: {memory: 32Mi}
"#,
    )
    .await;
    let hog = cluster
        .pods_until(
            "default",
            "test=hog",
            Duration::from_secs(60),
            "OOMKilled",
            |pods| {
                pods.iter()
                    .any(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Failed"))
            },
        )
        .await;
    let terminated = hog[0]
        .status
        .as_ref()
        .unwrap()
        .container_statuses
        .as_ref()
        .unwrap()[0]
        .state
        .as_ref()
        .unwrap()
        .terminated
        .clone()
        .unwrap();
    assert_eq!(
        terminated.reason.as_deref(),
        Some("OOMKilled"),
        "{terminated:?}"
    );
    assert_eq!(terminated.exit_code, 137);

    // ConfigMap and Secret values, in the environment and in files.
    apply_text(
        &cluster,
        "config.yaml",
        r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {greeting: hello-from-configmap, mode: fast}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {password: s3cret-value}
---
apiVersion: v1
kind: Pod
metadata:
  name: config
  labels: {test: config}
spec:
  restartPolicy: Never
  containers:
    - name: app
      image: busybox:latest
      # :latest is pulled Always by default; there is no registry.
      imagePullPolicy: IfNotPresent
      command: ["sh", "-c", "echo env=$GREETING/$PASSWORD/$mode; echo file=$(cat /etc/settings/greeting)/$(cat /etc/creds/password)"]
      env:
        - name: GREETING
          valueFrom: {configMapKeyRef: {name: settings, key: greeting}}
        - name: PASSWORD
          valueFrom: {secretKeyRef: {name: creds, key: password}}
      envFrom:
        - configMapRef: {name: settings}
      volumeMounts:
        - {name: settings, mountPath: /etc/settings}
        - {name: creds, mountPath: /etc/creds}
  volumes:
    - name: settings
      configMap: {name: settings}
    - name: creds
      secret: {secretName: creds}
"#,
    )
    .await;
    let done = cluster
        .pods_until(
            "default",
            "test=config",
            Duration::from_secs(60),
            "config pod Succeeded",
            |pods| {
                pods.iter().any(|p| {
                    p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Succeeded")
                })
            },
        )
        .await;
    // A pod that ended stays ended: its container ran once.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let logged = cluster.kubectl(&["logs", "config"]).await;
    assert_eq!(
        logged
            .matches("env=hello-from-configmap/s3cret-value/fast")
            .count(),
        1,
        "{logged}"
    );
    let uid = done[0].metadata.uid.clone().unwrap();
    let log =
        std::fs::read_to_string(logs.join(format!("default_config_{uid}/app/0.log"))).unwrap();
    assert!(
        log.contains("env=hello-from-configmap/s3cret-value/fast"),
        "{log}"
    );
    assert!(
        log.contains("file=hello-from-configmap/s3cret-value"),
        "{log}"
    );

    // Everything deleted: the agent ends every pod and containerd is left
    // with no sandbox of them.
    cluster
        .kubectl(&["delete", "deployment", "api-server"])
        .await;
    cluster
        .kubectl(&[
            "delete",
            "pod",
            "crash",
            "missing",
            "hog",
            "config",
            "--grace-period=1",
        ])
        .await;
    cluster
        .pods_until(
            "default",
            "",
            Duration::from_secs(90),
            "every pod gone",
            |pods| pods.is_empty(),
        )
        .await;
    for ip in &ips {
        assert!(http(ip, "GET", "/").is_err(), "{ip} still answers");
    }
}

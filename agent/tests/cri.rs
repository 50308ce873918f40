//! The CRI runtime against a real containerd.
//!
//! Needs root and containerd listening at `/run/berth/containerd.sock` (or
//! `$BERTH_CRI_SOCKET`) with the images `localhost/pause:latest` and
//! `busybox:latest` imported (`scripts/containerd.sh start`). Each test is
//! skipped, saying so, only when that socket does not exist and
//! BERTH_REQUIRE_CONTAINERD (set by scripts/test.sh) is not set.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use berth_agent::runtime::resources::linux_resources;
use berth_agent::runtime::{
    ContainerConfig, ContainerState, CriRuntime, ExecRequest, Runtime, RuntimeError, SandboxConfig,
    SandboxState,
};
use futures::FutureExt;
use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

const DEFAULT_SOCKET: &str = "/run/berth/containerd.sock";
const BUSYBOX: &str = "busybox:latest";

fn socket() -> PathBuf {
    std::env::var_os("BERTH_CRI_SOCKET")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET))
}

async fn runtime() -> Option<CriRuntime> {
    let socket = socket();
    if !socket.exists() {
        assert!(
            std::env::var_os("BERTH_REQUIRE_CONTAINERD").is_none(),
            "BERTH_REQUIRE_CONTAINERD is set but there is no CRI socket at {}",
            socket.display()
        );
        eprintln!(
            "skipped: no CRI socket at {} (start containerd with scripts/containerd.sh start)",
            socket.display()
        );
        return None;
    }
    Some(CriRuntime::connect(&socket).await.unwrap())
}

/// A sandbox config no other test run shares.
fn sandbox_config(test: &str, log_directory: &Path) -> SandboxConfig {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let uid = format!("{test}-{}-{n}", std::process::id());
    SandboxConfig {
        name: test.to_string(),
        namespace: "berth-test".to_string(),
        uid: uid.clone(),
        attempt: 0,
        hostname: format!("{test}-{n}"),
        log_directory: log_directory.to_path_buf(),
        labels: BTreeMap::from([("berth.test".to_string(), test.to_string())]),
        ..Default::default()
    }
}

fn busybox(name: &str, script: &str) -> ContainerConfig {
    ContainerConfig {
        name: name.to_string(),
        image: BUSYBOX.to_string(),
        command: vec!["sh".to_string(), "-c".to_string()],
        args: vec![script.to_string()],
        log_path: format!("{name}/0.log"),
        labels: BTreeMap::from([("container".to_string(), name.to_string())]),
        ..Default::default()
    }
}

/// Runs `body` with a fresh sandbox, then stops and removes the sandbox
/// whatever happened, then re-raises any failure of `body`.
async fn with_sandbox<F, Fut>(runtime: &CriRuntime, test: &str, body: F)
where
    F: FnOnce(String, SandboxConfig) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let logs = tempfile::tempdir().unwrap();
    let config = sandbox_config(test, logs.path());
    let id = runtime.run_pod_sandbox(&config).await.unwrap();
    let outcome = AssertUnwindSafe(body(id.clone(), config))
        .catch_unwind()
        .await;
    let stopped = runtime.stop_pod_sandbox(&id).await;
    let removed = runtime.remove_pod_sandbox(&id).await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
    stopped.unwrap();
    removed.unwrap();
    let left = runtime.list_pod_sandboxes().await.unwrap();
    assert!(left.iter().all(|s| s.id != id), "sandbox {id} not removed");
}

async fn wait_until_exited(runtime: &CriRuntime, id: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    while runtime.container_status(id).await.unwrap().state != ContainerState::Exited {
        assert!(Instant::now() < deadline, "container {id} still running");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn requirements(requests: &[(&str, &str)], limits: &[(&str, &str)]) -> ResourceRequirements {
    let map = |pairs: &[(&str, &str)]| {
        Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
                .collect(),
        )
    };
    ResourceRequirements {
        requests: map(requests),
        limits: map(limits),
        ..Default::default()
    }
}

#[tokio::test]
async fn version_names_the_runtime() {
    let Some(runtime) = runtime().await else {
        return;
    };
    let version = runtime.version().await.unwrap();
    assert!(version.starts_with("containerd://"), "{version}");
}

#[tokio::test]
async fn pod_runs_logs_execs_reports_stats_and_stops() {
    let Some(runtime) = runtime().await else {
        return;
    };
    let rt = &runtime;
    with_sandbox(rt, "lifecycle", |sandbox, config| async move {
        let status = rt
            .list_pod_sandboxes()
            .await
            .unwrap()
            .into_iter()
            .find(|s| s.id == sandbox)
            .unwrap();
        assert_eq!(status.state, SandboxState::Ready);
        assert_eq!(status.uid, config.uid);
        let ip = status.ip.unwrap();
        assert!(ip.parse::<std::net::Ipv4Addr>().is_ok(), "{ip}");

        let mut container = busybox("app", "echo hello; sleep 1000");
        container.resources = linux_resources(Some(&requirements(
            &[("cpu", "200m"), ("memory", "256Mi")],
            &[("cpu", "500m"), ("memory", "512Mi")],
        )))
        .unwrap();
        let id = rt
            .create_container(&sandbox, &container, &config)
            .await
            .unwrap();
        let created = rt.container_status(&id).await.unwrap();
        assert_eq!(created.state, ContainerState::Created);
        assert_eq!(created.sandbox_id, sandbox);
        rt.start_container(&id).await.unwrap();

        let status = rt.container_status(&id).await.unwrap();
        assert_eq!(status.state, ContainerState::Running);
        assert_eq!(status.name, "app");
        assert!(status.image_ref.starts_with("sha256:"), "{}", status.image_ref);
        assert_eq!(status.log_path, config.log_directory.join("app/0.log"));
        assert_eq!(status.labels["container"], "app");

        let deadline = Instant::now() + Duration::from_secs(10);
        let log = loop {
            let text = std::fs::read_to_string(&status.log_path).unwrap_or_default();
            if text.contains(" stdout F hello") || Instant::now() > deadline {
                break text;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let line = log
            .lines()
            .find(|l| l.ends_with(" stdout F hello"))
            .unwrap_or_else(|| panic!("no CRI log record of hello in {log:?}"));
        let time = line.split(' ').next().unwrap();
        time.parse::<jiff::Timestamp>().unwrap();

        let cat = |path: &str| vec!["cat".to_string(), path.to_string()];
        let hostname = rt
            .exec_sync(&id, &cat("/etc/hostname"), Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(hostname.exit_code, 0);
        assert_eq!(String::from_utf8_lossy(&hostname.stdout).trim(), config.hostname);
        let missing = rt
            .exec_sync(&id, &cat("/nonexistent"), Duration::from_secs(10))
            .await
            .unwrap();
        assert_ne!(missing.exit_code, 0);
        assert!(!missing.stderr.is_empty());

        // The kubelet's cgroup values reached the container's cgroup (v1
        // files, or their v2 equivalents; runc converts shares 204 to weight 8).
        let sh = |script: &str| vec!["sh".to_string(), "-c".to_string(), script.to_string()];
        for (script, expected) in [
            (
                "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cut -d' ' -f1 /sys/fs/cgroup/cpu.max",
                &["50000"][..],
            ),
            (
                "cat /sys/fs/cgroup/cpu/cpu.cfs_period_us 2>/dev/null || cut -d' ' -f2 /sys/fs/cgroup/cpu.max",
                &["100000"][..],
            ),
            (
                "cat /sys/fs/cgroup/cpu/cpu.shares 2>/dev/null || cat /sys/fs/cgroup/cpu.weight",
                &["204", "8"][..],
            ),
            (
                "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max",
                &["536870912"][..],
            ),
        ] {
            let read = rt
                .exec_sync(&id, &sh(script), Duration::from_secs(10))
                .await
                .unwrap();
            let value = String::from_utf8_lossy(&read.stdout).trim().to_string();
            assert!(expected.contains(&value.as_str()), "{script}: {value:?}");
        }

        // Streaming exec is served by the runtime's own streaming server.
        let url = rt
            .exec(&ExecRequest {
                container_id: id.clone(),
                cmd: vec!["sh".to_string()],
                stdin: true,
                stdout: true,
                stderr: true,
                tty: false,
            })
            .await
            .unwrap();
        assert!(url.starts_with("http://") && url.contains("/exec/"), "{url}");

        let stats = rt.container_stats(&id).await.unwrap();
        assert!(stats.memory_working_set_bytes > 0, "{stats:?}");

        let listed = rt.list_containers(Some(&sandbox)).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].id, id);

        // busybox sh as PID 1 ignores SIGTERM, so it ends by SIGKILL.
        rt.stop_container(&id, Duration::from_secs(2)).await.unwrap();
        let stopped = rt.container_status(&id).await.unwrap();
        assert_eq!(stopped.state, ContainerState::Exited);
        assert!(
            [137, 143].contains(&stopped.exit_code),
            "exit code {}",
            stopped.exit_code
        );
        assert!(stopped.finished_at >= stopped.started_at && stopped.started_at > 0);

        // Stopping again and removing twice succeed.
        rt.stop_container(&id, Duration::from_secs(2)).await.unwrap();
        rt.remove_container(&id).await.unwrap();
        rt.remove_container(&id).await.unwrap();
        assert!(matches!(
            rt.container_status(&id).await,
            Err(RuntimeError::NotFound(_))
        ));
    })
    .await;
}

#[tokio::test]
async fn memory_over_the_limit_is_oom_killed() {
    let Some(runtime) = runtime().await else {
        return;
    };
    let rt = &runtime;
    with_sandbox(rt, "oom", |sandbox, config| async move {
        let mut hog = busybox(
            "hog",
            r#"x=$(head -c 100000000 /dev/zero | tr "\0" a); sleep 5"#,
        );
        hog.resources = linux_resources(Some(&requirements(&[], &[("memory", "32Mi")]))).unwrap();
        let id = rt.create_container(&sandbox, &hog, &config).await.unwrap();
        rt.start_container(&id).await.unwrap();
        wait_until_exited(rt, &id, Duration::from_secs(60)).await;
        let status = rt.container_status(&id).await.unwrap();
        assert_eq!(status.reason, "OOMKilled", "{status:?}");
        assert_eq!(status.exit_code, 137);
    })
    .await;
}

#[tokio::test]
async fn absent_image_is_image_not_found() {
    let Some(runtime) = runtime().await else {
        return;
    };
    let rt = &runtime;
    assert_eq!(rt.image_status("nosuch:1").await.unwrap(), None);
    let pulled = rt.pull_image("nosuch:1").await;
    assert!(
        matches!(&pulled, Err(RuntimeError::ImageNotFound { image, .. }) if image == "nosuch:1"),
        "{pulled:?}"
    );
    let present = rt.image_status(BUSYBOX).await.unwrap().unwrap();
    assert!(present.id.starts_with("sha256:"));
    assert!(rt
        .list_images()
        .await
        .unwrap()
        .iter()
        .any(|i| i.id == present.id));

    with_sandbox(rt, "noimage", |sandbox, config| async move {
        let mut container = busybox("app", "true");
        container.image = "nosuch:1".to_string();
        let created = rt.create_container(&sandbox, &container, &config).await;
        assert!(
            matches!(&created, Err(RuntimeError::ImageNotFound { .. })),
            "{created:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn unknown_ids_are_not_found() {
    let Some(runtime) = runtime().await else {
        return;
    };
    let status = runtime.container_status("0123456789abcdef").await;
    assert!(
        matches!(status, Err(RuntimeError::NotFound(_))),
        "{status:?}"
    );
    let stats = runtime.container_stats("0123456789abcdef").await;
    assert!(matches!(stats, Err(RuntimeError::NotFound(_))), "{stats:?}");
}

use std::time::Instant;

use super::*;

fn sandbox(log_directory: &Path) -> SandboxConfig {
    SandboxConfig {
        name: "web".to_string(),
        namespace: "default".to_string(),
        uid: "uid-1".to_string(),
        hostname: "web".to_string(),
        log_directory: log_directory.to_path_buf(),
        ..Default::default()
    }
}

fn shell(name: &str, script: &str) -> ContainerConfig {
    ContainerConfig {
        name: name.to_string(),
        image: "ignored:1".to_string(),
        command: vec!["sh".to_string(), "-c".to_string()],
        args: vec![script.to_string()],
        log_path: format!("{name}/0.log"),
        ..Default::default()
    }
}

async fn wait_for_state(
    runtime: &ProcessRuntime,
    id: &str,
    state: ContainerState,
) -> ContainerStatus {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = runtime.container_status(id).await.unwrap();
        if status.state == state || Instant::now() > deadline {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn wait_for_log(path: &Path, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = tokio::fs::read_to_string(path).await.unwrap_or_default();
        if text.contains(needle) || Instant::now() > deadline {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A running container of `script` in a fresh sandbox.
async fn started(
    runtime: &ProcessRuntime,
    logs: &Path,
    name: &str,
    script: &str,
) -> (String, String) {
    let config = sandbox(logs);
    let pod = runtime.run_pod_sandbox(&config).await.unwrap();
    let id = runtime
        .create_container(&pod, &shell(name, script), &config)
        .await
        .unwrap();
    runtime.start_container(&id).await.unwrap();
    (pod, id)
}

#[tokio::test]
async fn output_is_logged_in_cri_format_and_stop_terminates() {
    let root = tempfile::tempdir().unwrap();
    let runtime = ProcessRuntime::new(root.path().join("root"));
    let logs = root.path().join("logs");
    let (pod, id) = started(&runtime, &logs, "app", "echo hi; echo err >&2; sleep 30").await;

    let status = runtime.container_status(&id).await.unwrap();
    assert_eq!(status.state, ContainerState::Running);
    assert_eq!(status.log_path, logs.join("app/0.log"));
    let sandboxes = runtime.list_pod_sandboxes().await.unwrap();
    assert_eq!(sandboxes[0].ip.as_deref(), Some("127.0.0.1"));

    let text = wait_for_log(&status.log_path, "stderr F err").await;
    let line = text
        .lines()
        .find(|l| l.ends_with(" stdout F hi"))
        .unwrap_or_else(|| panic!("no stdout record in {text:?}"));
    let time = line.split(' ').next().unwrap();
    time.parse::<jiff::Timestamp>().unwrap();

    let began = Instant::now();
    runtime
        .stop_container(&id, Duration::from_secs(5))
        .await
        .unwrap();
    // sh and its sleep die of SIGTERM at once, well before the timeout.
    assert!(began.elapsed() < Duration::from_secs(4));
    let status = runtime.container_status(&id).await.unwrap();
    assert_eq!(status.state, ContainerState::Exited);
    assert_eq!(status.exit_code, 143);
    assert_eq!(status.reason, "Error");
    assert!(status.finished_at >= status.started_at);

    runtime.remove_pod_sandbox(&pod).await.unwrap();
    assert!(runtime.list_containers(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn sigterm_ignored_is_killed_after_the_timeout() {
    let root = tempfile::tempdir().unwrap();
    let runtime = ProcessRuntime::new(root.path());
    let (_, id) = started(
        &runtime,
        &root.path().join("logs"),
        "stubborn",
        "trap '' TERM; echo ready; while :; do sleep 0.1; done",
    )
    .await;
    let log = runtime.container_status(&id).await.unwrap().log_path;
    wait_for_log(&log, "ready").await;

    let began = Instant::now();
    runtime
        .stop_container(&id, Duration::from_millis(500))
        .await
        .unwrap();
    assert!(began.elapsed() >= Duration::from_millis(500));
    let status = runtime.container_status(&id).await.unwrap();
    assert_eq!(
        (status.state, status.exit_code),
        (ContainerState::Exited, 137)
    );
}

#[tokio::test]
async fn exit_code_is_collected() {
    let root = tempfile::tempdir().unwrap();
    let runtime = ProcessRuntime::new(root.path());
    let (_, failing) = started(&runtime, &root.path().join("logs"), "fail", "exit 3").await;
    let (_, ok) = started(&runtime, &root.path().join("logs"), "ok", "true").await;
    let status = wait_for_state(&runtime, &failing, ContainerState::Exited).await;
    assert_eq!(
        (status.state, status.exit_code),
        (ContainerState::Exited, 3)
    );
    assert_eq!(status.reason, "Error");
    let status = wait_for_state(&runtime, &ok, ContainerState::Exited).await;
    assert_eq!((status.exit_code, status.reason.as_str()), (0, "Completed"));
    // Stopping an exited container is a no-op that keeps its exit code.
    runtime
        .stop_container(&failing, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(
        runtime.container_status(&failing).await.unwrap().exit_code,
        3
    );
}

#[tokio::test]
async fn exec_sync_runs_on_the_host_with_the_container_env() {
    let root = tempfile::tempdir().unwrap();
    let runtime = ProcessRuntime::new(root.path());
    let config = sandbox(&root.path().join("logs"));
    let pod = runtime.run_pod_sandbox(&config).await.unwrap();
    let mut container = shell("app", "sleep 30");
    container.envs = vec![("GREETING".to_string(), "hello".to_string())];
    let id = runtime
        .create_container(&pod, &container, &config)
        .await
        .unwrap();
    runtime.start_container(&id).await.unwrap();

    let cmd = |s: &str| vec!["sh".to_string(), "-c".to_string(), s.to_string()];
    let result = runtime
        .exec_sync(
            &id,
            &cmd("echo $GREETING; echo no >&2; exit 4"),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    assert_eq!(result.stdout, b"hello\n");
    assert_eq!(result.stderr, b"no\n");
    assert_eq!(result.exit_code, 4);

    let timed_out = runtime
        .exec_sync(&id, &cmd("sleep 5"), Duration::from_millis(200))
        .await;
    assert!(
        matches!(timed_out, Err(RuntimeError::Failed(_))),
        "{timed_out:?}"
    );

    let stats = runtime.container_stats(&id).await.unwrap();
    assert!(stats.memory_working_set_bytes > 0);

    runtime.remove_container(&id).await.unwrap();
    assert!(matches!(
        runtime.container_status(&id).await,
        Err(RuntimeError::NotFound(_))
    ));
    // The work directory goes with the container.
    assert!(!root.path().join("containers").join(&id).exists());
}

#[tokio::test]
async fn a_container_without_command_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let runtime = ProcessRuntime::new(root.path());
    let config = sandbox(root.path());
    let pod = runtime.run_pod_sandbox(&config).await.unwrap();
    let container = ContainerConfig {
        name: "c".to_string(),
        image: "busybox:latest".to_string(),
        ..Default::default()
    };
    assert!(matches!(
        runtime.create_container(&pod, &container, &config).await,
        Err(RuntimeError::Failed(_))
    ));
}

#[tokio::test]
async fn a_missing_program_fails_to_start() {
    let root = tempfile::tempdir().unwrap();
    let runtime = ProcessRuntime::new(root.path());
    let config = sandbox(root.path());
    let pod = runtime.run_pod_sandbox(&config).await.unwrap();
    let mut container = shell("c", "");
    container.command = vec!["/nonexistent/berth-test-program".to_string()];
    container.args.clear();
    let id = runtime
        .create_container(&pod, &container, &config)
        .await
        .unwrap();
    assert!(matches!(
        runtime.start_container(&id).await,
        Err(RuntimeError::Failed(_))
    ));
    assert_eq!(
        runtime.container_status(&id).await.unwrap().state,
        ContainerState::Created
    );
}

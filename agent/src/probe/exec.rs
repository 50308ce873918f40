//! The `exec` probe: a command run to completion in the container through
//! the runtime's `ExecSync`; exit code 0 is success.

use std::time::Duration;

use crate::runtime::{Runtime, RuntimeError};

use super::ProbeResult;

/// Runs `command` in container `container_id`, bounded by `timeout`.
///
/// - exit 0: success; any other exit code: failure whose message is the
///   command's combined output, as the kubelet reports it;
/// - past the timeout: failure `command "..." timed out` (Kubernetes'
///   `ExecProbeTimeout` behaviour, on by default since 1.20);
/// - the runtime refusing or failing the call: failure with its words, so a
///   command that cannot start counts against the container;
/// - the runtime unreachable or the container gone: unknown, discarded by the
///   probe loop (the container is being restarted or the runtime is down,
///   neither of which says anything about the container's health).
pub async fn probe(
    runtime: &dyn Runtime,
    container_id: &str,
    command: &[String],
    timeout: Duration,
) -> ProbeResult {
    let timed_out = || format!("command {:?} timed out", command.join(" "));
    // The runtime is given the timeout too; ours is the backstop for a
    // runtime that does not honour it.
    match tokio::time::timeout(timeout, runtime.exec_sync(container_id, command, timeout)).await {
        Err(_) => ProbeResult::Failure(timed_out()),
        Ok(Ok(result)) if result.exit_code == 0 => ProbeResult::Success,
        Ok(Ok(result)) => {
            let mut output = result.stdout;
            output.extend_from_slice(&result.stderr);
            let output = String::from_utf8_lossy(&output).into_owned();
            if output.is_empty() {
                ProbeResult::Failure(format!(
                    "command {:?} exited with {}",
                    command.join(" "),
                    result.exit_code
                ))
            } else {
                ProbeResult::Failure(output)
            }
        }
        Ok(Err(RuntimeError::Failed(message))) => ProbeResult::Failure(message),
        Ok(Err(error)) => ProbeResult::Unknown(error.to_string()),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::runtime::{
        ContainerConfig, ContainerStats, ContainerStatus, ExecRequest, ExecResult, Image, Result,
        SandboxConfig, SandboxStatus,
    };
    use async_trait::async_trait;

    /// A runtime whose only working call is `exec_sync`, answering from a
    /// closure.
    pub(crate) struct ExecOnly<F>(pub F);

    #[async_trait]
    impl<F> Runtime for ExecOnly<F>
    where
        F: Fn(&str, &[String]) -> Option<Result<ExecResult>> + Send + Sync,
    {
        async fn version(&self) -> Result<String> {
            Err(RuntimeError::Failed("unused".into()))
        }
        async fn image_status(&self, _: &str) -> Result<Option<Image>> {
            Err(RuntimeError::Failed("unused".into()))
        }
        async fn pull_image(&self, _: &str) -> Result<String> {
            Err(RuntimeError::Failed("unused".into()))
        }
        async fn list_images(&self) -> Result<Vec<Image>> {
            Err(RuntimeError::Failed("unused".into()))
        }
        async fn run_pod_sandbox(&self, _: &SandboxConfig) -> Result<String> {
            Err(RuntimeError::Failed("unused".into()))
        }
        async fn stop_pod_sandbox(&self, _: &str) -> Result<()> {
            Err(RuntimeError::Failed("unused".into()))
        }
        async fn remove_pod_sandbox(&self, _: &str) -> Result<()> {
            Err(RuntimeError::Failed("unused".into()))
        }
        async fn list_pod_sandboxes(&self) -> Result<Vec<SandboxStatus>> {
            Err(RuntimeError::Failed("unused".into()))
        }
        async fn create_container(
            &self,
            _: &str,
            _: &ContainerConfig,
            _: &SandboxConfig,
        ) -> Result<String> {
            Err(RuntimeError::Failed("unused".into()))
        }
        async fn start_container(&self, _: &str) -> Result<()> {
            Err(RuntimeError::Failed("unused".into()))
        }
        async fn stop_container(&self, _: &str, _: Duration) -> Result<()> {
            Err(RuntimeError::Failed("unused".into()))
        }
        async fn remove_container(&self, _: &str) -> Result<()> {
            Err(RuntimeError::Failed("unused".into()))
        }
        async fn list_containers(&self, _: Option<&str>) -> Result<Vec<ContainerStatus>> {
            Err(RuntimeError::Failed("unused".into()))
        }
        async fn container_status(&self, _: &str) -> Result<ContainerStatus> {
            Err(RuntimeError::Failed("unused".into()))
        }
        async fn exec_sync(&self, id: &str, cmd: &[String], _: Duration) -> Result<ExecResult> {
            match (self.0)(id, cmd) {
                Some(result) => result,
                // None: the command hangs.
                None => std::future::pending().await,
            }
        }
        async fn exec(&self, _: &ExecRequest) -> Result<String> {
            Err(RuntimeError::Failed("unused".into()))
        }
        async fn container_stats(&self, _: &str) -> Result<ContainerStats> {
            Err(RuntimeError::Failed("unused".into()))
        }
    }

    fn cmd(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    fn exit(code: i32, stdout: &str) -> Option<Result<ExecResult>> {
        Some(Ok(ExecResult {
            stdout: stdout.as_bytes().to_vec(),
            stderr: Vec::new(),
            exit_code: code,
        }))
    }

    #[tokio::test]
    async fn exit_zero_is_success_in_the_named_container() {
        let runtime = ExecOnly(|id: &str, cmd: &[String]| {
            if id == "c1" && cmd == ["cat", "/tmp/healthy"] {
                exit(0, "")
            } else {
                exit(1, "")
            }
        });
        let result = probe(
            &runtime,
            "c1",
            &cmd(&["cat", "/tmp/healthy"]),
            Duration::from_secs(1),
        )
        .await;
        assert_eq!(result, ProbeResult::Success);
    }

    #[tokio::test]
    async fn nonzero_exit_fails_with_the_output() {
        let runtime = ExecOnly(|_: &str, _: &[String]| exit(1, "cat: can't open '/tmp/healthy'\n"));
        let result = probe(
            &runtime,
            "c1",
            &cmd(&["cat", "/tmp/healthy"]),
            Duration::from_secs(1),
        )
        .await;
        assert_eq!(
            result,
            ProbeResult::Failure("cat: can't open '/tmp/healthy'\n".into())
        );
    }

    #[tokio::test(start_paused = true)]
    async fn hanging_command_times_out() {
        let runtime = ExecOnly(|_: &str, _: &[String]| None);
        let result = probe(
            &runtime,
            "c1",
            &cmd(&["sleep", "60"]),
            Duration::from_secs(2),
        )
        .await;
        assert_eq!(
            result,
            ProbeResult::Failure("command \"sleep 60\" timed out".into())
        );
    }

    #[tokio::test]
    async fn unreachable_runtime_is_unknown() {
        let runtime = ExecOnly(|_: &str, _: &[String]| {
            Some(Err(RuntimeError::Unavailable("connection refused".into())))
        });
        let result = probe(&runtime, "c1", &cmd(&["true"]), Duration::from_secs(1)).await;
        assert!(matches!(result, ProbeResult::Unknown(_)), "{result:?}");
    }
}

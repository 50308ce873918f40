//! containerd (or any CRI v1 runtime) over its unix socket: every
//! [`Runtime`] call is one or a few CRI calls, translated by [`convert`].

mod convert;
mod error;

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use futures::future::join_all;
use hyper_util::rt::TokioIo;
use k8s_cri::v1 as cri;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint, Uri};

use self::error::{from_create_status, from_pull_status, from_status};
use super::{
    ContainerConfig, ContainerStats, ContainerStatus, ExecRequest, ExecResult, Image, Result,
    Runtime, RuntimeError, SandboxConfig, SandboxStatus,
};

/// How long a CRI call may take, beyond any timeout of its own (the
/// kubelet's `--runtime-request-timeout` default).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// The largest CRI message accepted (the kubelet's limit), so long
/// container lists and exec outputs are not refused by tonic's 4 MiB default.
const MAX_MESSAGE_SIZE: usize = 16 * 1024 * 1024;

/// A CRI v1 runtime reached over a unix socket.
#[derive(Debug, Clone)]
pub struct CriRuntime {
    socket: PathBuf,
    runtime: RuntimeServiceClient<Channel>,
    images: ImageServiceClient<Channel>,
}

impl CriRuntime {
    /// Connects to the runtime listening on `socket`
    /// (`/run/containerd/containerd.sock`). Fails with
    /// [`RuntimeError::Unavailable`] when nothing answers there.
    pub async fn connect(socket: &Path) -> Result<Self> {
        let path = socket.to_path_buf();
        // The URI is required by tonic but unused: every connection goes to
        // the socket.
        let channel =
            Endpoint::from_static("http://[::]:50051")
                .connect_with_connector(tower::service_fn(move |_: Uri| {
                    let path = path.clone();
                    async move {
                        Ok::<_, std::io::Error>(TokioIo::new(UnixStream::connect(path).await?))
                    }
                }))
                .await
                .map_err(|e| {
                    RuntimeError::Unavailable(format!("connect to {}: {e}", socket.display()))
                })?;
        Ok(Self {
            socket: socket.to_path_buf(),
            runtime: RuntimeServiceClient::new(channel.clone())
                .max_decoding_message_size(MAX_MESSAGE_SIZE)
                .max_encoding_message_size(MAX_MESSAGE_SIZE),
            images: ImageServiceClient::new(channel)
                .max_decoding_message_size(MAX_MESSAGE_SIZE)
                .max_encoding_message_size(MAX_MESSAGE_SIZE),
        })
    }

    /// The socket this runtime was reached at.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    fn runtime(&self) -> RuntimeServiceClient<Channel> {
        self.runtime.clone()
    }

    fn images(&self) -> ImageServiceClient<Channel> {
        self.images.clone()
    }

    /// The id of the sandbox a container belongs to; ContainerStatus does not
    /// carry it, ListContainers does.
    async fn sandbox_of(&self, id: &str) -> Result<String> {
        let filter = cri::ContainerFilter {
            id: id.to_string(),
            ..Default::default()
        };
        let containers = self.list(Some(filter)).await?;
        containers
            .into_iter()
            .find(|c| c.id == id)
            .map(|c| c.pod_sandbox_id)
            .ok_or_else(|| RuntimeError::NotFound(format!("container {id}")))
    }

    async fn list(&self, filter: Option<cri::ContainerFilter>) -> Result<Vec<cri::Container>> {
        let response = self
            .runtime()
            .list_containers(request(
                cri::ListContainersRequest { filter },
                Duration::ZERO,
            ))
            .await
            .map_err(|s| from_status("ListContainers", s))?;
        Ok(response.into_inner().containers)
    }

    async fn status_of(&self, id: &str) -> Result<cri::ContainerStatus> {
        let response = self
            .runtime()
            .container_status(request(
                cri::ContainerStatusRequest {
                    container_id: id.to_string(),
                    verbose: false,
                },
                Duration::ZERO,
            ))
            .await
            .map_err(|s| from_status("ContainerStatus", s))?;
        response
            .into_inner()
            .status
            .ok_or_else(|| RuntimeError::Failed(format!("ContainerStatus of {id}: no status")))
    }

    async fn sandbox_status(&self, id: &str) -> Result<SandboxStatus> {
        let response = self
            .runtime()
            .pod_sandbox_status(request(
                cri::PodSandboxStatusRequest {
                    pod_sandbox_id: id.to_string(),
                    verbose: false,
                },
                Duration::ZERO,
            ))
            .await
            .map_err(|s| from_status("PodSandboxStatus", s))?;
        let status = response
            .into_inner()
            .status
            .ok_or_else(|| RuntimeError::Failed(format!("PodSandboxStatus of {id}: no status")))?;
        Ok(convert::sandbox_status(status))
    }
}

/// A request whose deadline is the call's own time (`extra`) plus the
/// runtime request timeout.
fn request<T>(message: T, extra: Duration) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(REQUEST_TIMEOUT.saturating_add(extra));
    request
}

/// Keeps the successes of calls made per item of a list, dropping items that
/// vanished between the list and the call (NotFound).
fn drop_vanished<T>(results: Vec<Result<T>>) -> Result<Vec<T>> {
    let mut kept = Vec::with_capacity(results.len());
    for result in results {
        match result {
            Ok(item) => kept.push(item),
            Err(RuntimeError::NotFound(_)) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(kept)
}

#[async_trait]
impl Runtime for CriRuntime {
    async fn version(&self) -> Result<String> {
        let response = self
            .runtime()
            .version(request(
                cri::VersionRequest {
                    version: "v1".to_string(),
                },
                Duration::ZERO,
            ))
            .await
            .map_err(|s| from_status("Version", s))?
            .into_inner();
        Ok(format!(
            "{}://{}",
            response.runtime_name, response.runtime_version
        ))
    }

    async fn image_status(&self, image: &str) -> Result<Option<Image>> {
        let response = self
            .images()
            .image_status(request(
                cri::ImageStatusRequest {
                    image: Some(convert::image_spec(image)),
                    verbose: false,
                },
                Duration::ZERO,
            ))
            .await
            .map_err(|s| from_status("ImageStatus", s))?;
        // An absent image is an empty answer, not an error, in the CRI.
        Ok(response.into_inner().image.map(convert::image))
    }

    async fn pull_image(&self, image: &str) -> Result<String> {
        let response = self
            .images()
            .pull_image(request(
                cri::PullImageRequest {
                    image: Some(convert::image_spec(image)),
                    ..Default::default()
                },
                Duration::ZERO,
            ))
            .await
            .map_err(|s| from_pull_status(image, s))?;
        Ok(response.into_inner().image_ref)
    }

    async fn list_images(&self) -> Result<Vec<Image>> {
        let response = self
            .images()
            .list_images(request(
                cri::ListImagesRequest { filter: None },
                Duration::ZERO,
            ))
            .await
            .map_err(|s| from_status("ListImages", s))?;
        Ok(response
            .into_inner()
            .images
            .into_iter()
            .map(convert::image)
            .collect())
    }

    async fn run_pod_sandbox(&self, config: &SandboxConfig) -> Result<String> {
        let response = self
            .runtime()
            .run_pod_sandbox(request(
                cri::RunPodSandboxRequest {
                    config: Some(convert::sandbox_config(config)?),
                    runtime_handler: String::new(),
                },
                Duration::ZERO,
            ))
            .await
            .map_err(|s| from_status("RunPodSandbox", s))?;
        Ok(response.into_inner().pod_sandbox_id)
    }

    async fn stop_pod_sandbox(&self, id: &str) -> Result<()> {
        self.runtime()
            .stop_pod_sandbox(request(
                cri::StopPodSandboxRequest {
                    pod_sandbox_id: id.to_string(),
                },
                Duration::ZERO,
            ))
            .await
            .map_err(|s| from_status("StopPodSandbox", s))?;
        Ok(())
    }

    async fn remove_pod_sandbox(&self, id: &str) -> Result<()> {
        self.runtime()
            .remove_pod_sandbox(request(
                cri::RemovePodSandboxRequest {
                    pod_sandbox_id: id.to_string(),
                },
                Duration::ZERO,
            ))
            .await
            .map_err(|s| from_status("RemovePodSandbox", s))?;
        Ok(())
    }

    async fn list_pod_sandboxes(&self) -> Result<Vec<SandboxStatus>> {
        let response = self
            .runtime()
            .list_pod_sandbox(request(
                cri::ListPodSandboxRequest { filter: None },
                Duration::ZERO,
            ))
            .await
            .map_err(|s| from_status("ListPodSandbox", s))?;
        // The list leaves out the IP; the status has it.
        let statuses = join_all(
            response
                .into_inner()
                .items
                .iter()
                .map(|item| self.sandbox_status(&item.id)),
        )
        .await;
        drop_vanished(statuses)
    }

    async fn create_container(
        &self,
        sandbox_id: &str,
        config: &ContainerConfig,
        sandbox: &SandboxConfig,
    ) -> Result<String> {
        let response = self
            .runtime()
            .create_container(request(
                cri::CreateContainerRequest {
                    pod_sandbox_id: sandbox_id.to_string(),
                    config: Some(convert::container_config(config)),
                    sandbox_config: Some(convert::sandbox_config(sandbox)?),
                },
                Duration::ZERO,
            ))
            .await
            .map_err(|s| from_create_status(&config.image, s))?;
        Ok(response.into_inner().container_id)
    }

    async fn start_container(&self, id: &str) -> Result<()> {
        self.runtime()
            .start_container(request(
                cri::StartContainerRequest {
                    container_id: id.to_string(),
                },
                Duration::ZERO,
            ))
            .await
            .map_err(|s| from_status("StartContainer", s))?;
        Ok(())
    }

    async fn stop_container(&self, id: &str, timeout: Duration) -> Result<()> {
        self.runtime()
            .stop_container(request(
                cri::StopContainerRequest {
                    container_id: id.to_string(),
                    timeout: convert::seconds(timeout),
                },
                timeout,
            ))
            .await
            .map_err(|s| from_status("StopContainer", s))?;
        Ok(())
    }

    async fn remove_container(&self, id: &str) -> Result<()> {
        self.runtime()
            .remove_container(request(
                cri::RemoveContainerRequest {
                    container_id: id.to_string(),
                },
                Duration::ZERO,
            ))
            .await
            .map_err(|s| from_status("RemoveContainer", s))?;
        Ok(())
    }

    async fn list_containers(&self, sandbox_id: Option<&str>) -> Result<Vec<ContainerStatus>> {
        let filter = sandbox_id.map(|s| cri::ContainerFilter {
            pod_sandbox_id: s.to_string(),
            ..Default::default()
        });
        let containers = self.list(filter).await?;
        // The list leaves out exit codes, reasons and times; the status has
        // them, as the kubelet reads a pod's containers.
        let statuses = join_all(containers.into_iter().map(|c| async move {
            let status = self.status_of(&c.id).await?;
            Ok(convert::container_status(status, c.pod_sandbox_id))
        }))
        .await;
        drop_vanished(statuses)
    }

    async fn container_status(&self, id: &str) -> Result<ContainerStatus> {
        let (status, sandbox_id) = tokio::try_join!(self.status_of(id), self.sandbox_of(id))?;
        Ok(convert::container_status(status, sandbox_id))
    }

    async fn exec_sync(&self, id: &str, cmd: &[String], timeout: Duration) -> Result<ExecResult> {
        let response = self
            .runtime()
            .exec_sync(request(
                cri::ExecSyncRequest {
                    container_id: id.to_string(),
                    cmd: cmd.to_vec(),
                    timeout: convert::seconds(timeout),
                },
                timeout,
            ))
            .await
            .map_err(|s| from_status("ExecSync", s))?
            .into_inner();
        Ok(ExecResult {
            stdout: response.stdout,
            stderr: response.stderr,
            exit_code: response.exit_code,
        })
    }

    async fn exec(&self, exec: &ExecRequest) -> Result<String> {
        let response = self
            .runtime()
            .exec(request(
                cri::ExecRequest {
                    container_id: exec.container_id.clone(),
                    cmd: exec.cmd.clone(),
                    tty: exec.tty,
                    stdin: exec.stdin,
                    stdout: exec.stdout,
                    // A terminal merges stderr into stdout; the CRI refuses
                    // both at once.
                    stderr: exec.stderr && !exec.tty,
                },
                Duration::ZERO,
            ))
            .await
            .map_err(|s| from_status("Exec", s))?;
        Ok(response.into_inner().url)
    }

    async fn container_stats(&self, id: &str) -> Result<ContainerStats> {
        let response = self
            .runtime()
            .container_stats(request(
                cri::ContainerStatsRequest {
                    container_id: id.to_string(),
                },
                Duration::ZERO,
            ))
            .await
            .map_err(|s| from_status("ContainerStats", s))?;
        let stats = response
            .into_inner()
            .stats
            .ok_or_else(|| RuntimeError::Failed(format!("ContainerStats of {id}: no stats")))?;
        Ok(convert::container_stats(stats))
    }
}

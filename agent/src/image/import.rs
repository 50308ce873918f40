//! Importing an archive into containerd with `ctr`, the client containerd
//! ships, into the namespace its CRI plugin serves.

use std::io;
use std::path::Path;

use tokio::process::Command;

use super::ImageError;

/// containerd namespace of everything its CRI plugin manages: an image
/// imported elsewhere is invisible to the kubelet.
pub const CONTAINERD_NAMESPACE: &str = "k8s.io";

/// Socket of the containerd that `scripts/containerd.sh` starts.
pub const DEFAULT_CONTAINERD_ADDRESS: &str = "/run/berth/containerd.sock";

/// Imports the OCI archive at `archive` into containerd at `address` (a unix
/// socket path). ctr also unpacks the layers into the default snapshotter,
/// so a pod can start from the image without further work.
pub async fn import(address: &Path, archive: &Path) -> Result<(), ImageError> {
    // ctr waits out a 10 s dial timeout on a missing socket and then says
    // only "context deadline exceeded"; naming the cause at once is kinder.
    if !address.exists() {
        return Err(ImageError::ContainerdUnreachable(address.to_path_buf()));
    }
    let output = Command::new("ctr")
        .arg("--address")
        .arg(address)
        .args(["-n", CONTAINERD_NAMESPACE, "images", "import"])
        .arg(archive)
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|error| match error.kind() {
            io::ErrorKind::NotFound => ImageError::CtrMissing,
            _ => ImageError::io(Path::new("ctr"), error),
        })?;
    if output.status.success() {
        return Ok(());
    }
    Err(ImageError::ImportFailed {
        archive: archive.to_path_buf(),
        status: output.status.to_string(),
        stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_missing_socket_is_reported_without_waiting_for_ctr() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("containerd.sock");
        let started = std::time::Instant::now();
        let error = import(&socket, &dir.path().join("image.tar"))
            .await
            .unwrap_err();
        assert!(matches!(error, ImageError::ContainerdUnreachable(ref p) if *p == socket));
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }

    /// Needs a running containerd (scripts/containerd.sh start).
    #[tokio::test]
    async fn ctr_refusing_an_archive_is_an_import_error_with_its_words() {
        let address = Path::new(DEFAULT_CONTAINERD_ADDRESS);
        if !address.exists() {
            eprintln!("skipped: containerd is not running at {DEFAULT_CONTAINERD_ADDRESS}");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("not-an-image.tar");
        std::fs::write(&archive, b"definitely not a tar archive").unwrap();
        match import(address, &archive).await {
            Err(ImageError::ImportFailed { stderr, .. }) => assert!(!stderr.is_empty()),
            other => panic!("expected ImportFailed, got {other:?}"),
        }
    }
}

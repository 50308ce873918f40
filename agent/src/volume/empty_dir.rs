//! emptyDir volumes: a directory that lives as long as the pod.
//!
//! `medium: Memory` is also a plain directory on disk here (the kubelet
//! mounts a tmpfs), so its contents count against the node's disk and not
//! the container's memory, and `sizeLimit` is not enforced.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::{io_error, VolumeError};

/// Creates the volume's directory if missing. It is world-writable (`0777`)
/// as the kubelet makes it, so containers running as any user can write.
pub fn set_up(dir: &Path) -> Result<(), VolumeError> {
    fs::create_dir_all(dir).map_err(io_error("create", dir))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o777)).map_err(io_error("chmod", dir))
}

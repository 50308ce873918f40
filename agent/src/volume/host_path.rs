//! hostPath volumes: a path of the node, checked against the volume's
//! `type` before the container starts.

use std::fs::{self, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, OpenOptionsExt};
use std::path::Path;

use super::{io_error, VolumeError};

/// Checks (and for the `...OrCreate` types, makes) `path` per `type_`:
///
/// - empty or unset: no check;
/// - `DirectoryOrCreate`: created with mode 0755 (parents too) if nothing is
///   there; `Directory`: must exist and be one;
/// - `FileOrCreate`: an empty file with mode 0644 if nothing is there (its
///   parent directory is not created, as in Kubernetes); `File`: must exist;
/// - `Socket`, `CharDevice`, `BlockDevice`: must exist and be one.
pub fn set_up(path: &Path, type_: Option<&str>) -> Result<(), VolumeError> {
    let check = |expected: &'static str, ok: fn(&fs::Metadata) -> bool| match fs::metadata(path) {
        Ok(meta) if ok(&meta) => Ok(()),
        _ => Err(VolumeError::HostPathType {
            path: path.display().to_string(),
            expected,
        }),
    };
    match type_.unwrap_or_default() {
        "" => Ok(()),
        "DirectoryOrCreate" => {
            if fs::symlink_metadata(path).is_err() {
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o755)
                    .create(path)
                    .map_err(io_error("create", path))?;
            }
            check("directory", |m| m.is_dir())
        }
        "Directory" => check("directory", |m| m.is_dir()),
        "FileOrCreate" => {
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o644)
                .open(path)
            {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_error("create", path)(e)),
            }
            check("file", |m| m.is_file())
        }
        "File" => check("file", |m| m.is_file()),
        "Socket" => check("socket file", |m| m.file_type().is_socket()),
        "CharDevice" => check("character device", |m| m.file_type().is_char_device()),
        "BlockDevice" => check("block device", |m| m.file_type().is_block_device()),
        other => Err(VolumeError::Unsupported(format!("hostPath type {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_or_create_creates_and_directory_requires() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        assert!(matches!(
            set_up(&dir, Some("Directory")),
            Err(VolumeError::HostPathType { .. })
        ));
        set_up(&dir, Some("DirectoryOrCreate")).unwrap();
        assert!(dir.is_dir());
        set_up(&dir, Some("Directory")).unwrap();
        assert_eq!(
            set_up(&dir, Some("File")).unwrap_err().to_string(),
            format!(
                "hostPath type check failed: {} is not a file",
                dir.display()
            )
        );
    }

    #[test]
    fn file_or_create_makes_an_empty_file_but_not_its_parent() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("state.db");
        set_up(&file, Some("FileOrCreate")).unwrap();
        assert_eq!(fs::read(&file).unwrap(), Vec::<u8>::new());
        set_up(&file, Some("File")).unwrap();
        assert!(set_up(&root.path().join("missing/x"), Some("FileOrCreate")).is_err());
        assert!(matches!(
            set_up(root.path(), Some("FileOrCreate")),
            Err(VolumeError::HostPathType { .. })
        ));
    }

    #[test]
    fn untyped_paths_are_not_checked_and_devices_are() {
        let root = tempfile::tempdir().unwrap();
        set_up(&root.path().join("nothing"), None).unwrap();
        set_up(Path::new("/dev/null"), Some("CharDevice")).unwrap();
        assert!(set_up(Path::new("/dev/null"), Some("BlockDevice")).is_err());
        assert!(set_up(root.path(), Some("Socket")).is_err());
        assert!(matches!(
            set_up(root.path(), Some("Bogus")),
            Err(VolumeError::Unsupported(_))
        ));
    }
}

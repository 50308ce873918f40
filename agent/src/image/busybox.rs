//! A base layer of Debian's static busybox, so an image has `/bin/sh` and
//! the usual tools: `kubectl exec ... -- sh` and exec probes need them.

use std::path::Path;
use std::process::Command;

use super::layer::LayerTree;
use super::ImageError;

/// Where Debian's `busybox-static` package installs the binary.
pub const DEFAULT_BUSYBOX: &str = "/bin/busybox";

/// Where the binary sits in the image; every applet links to it.
const IMAGE_PATH: &str = "/bin/busybox";

/// The applets `busybox` provides, as image paths (`bin/sh`,
/// `usr/bin/wget`, ...), from its own `--list-full`.
pub fn applets(busybox: &Path) -> Result<Vec<String>, ImageError> {
    let output = Command::new(busybox)
        .arg("--list-full")
        .output()
        .map_err(|e| ImageError::io(busybox, e))?;
    if !output.status.success() {
        return Err(ImageError::Busybox {
            path: busybox.to_path_buf(),
            message: format!(
                "--list-full exited with {}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        });
    }
    let list = String::from_utf8(output.stdout).map_err(|_| ImageError::Busybox {
        path: busybox.to_path_buf(),
        message: "--list-full printed non-UTF-8 text".to_owned(),
    })?;
    let applets: Vec<String> = list
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect();
    if applets.is_empty() {
        return Err(ImageError::Busybox {
            path: busybox.to_path_buf(),
            message: "--list-full listed no applets".to_owned(),
        });
    }
    Ok(applets)
}

/// The base tree: the binary at `/bin/busybox`, a symbolic link for each of
/// `applets`, the directories a shell expects (`/tmp` world-writable and
/// sticky), and an `/etc/passwd` and `/etc/group` naming root so `id` and
/// `whoami` answer.
pub fn base_tree(busybox: &Path, applets: &[String]) -> Result<LayerTree, ImageError> {
    let mut tree = LayerTree::new();
    for dir in ["bin", "sbin", "usr/bin", "usr/sbin", "etc", "var", "home"] {
        tree.add_directory(dir, 0o755)?;
    }
    tree.add_directory("root", 0o700)?;
    tree.add_directory("tmp", 0o1777)?;
    tree.add_bytes(
        "etc/passwd",
        0o644,
        b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
            .to_vec(),
    )?;
    tree.add_bytes(
        "etc/group",
        0o644,
        b"root:x:0:\nnogroup:x:65534:\n".to_vec(),
    )?;
    tree.add_host_file(IMAGE_PATH, 0o755, busybox)?;
    for applet in applets {
        let path = applet.trim_start_matches('/');
        if path == IMAGE_PATH.trim_start_matches('/') {
            continue;
        }
        tree.add_symlink(path, IMAGE_PATH)?;
    }
    Ok(tree)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::GzDecoder;

    fn paths(tree: &LayerTree) -> Vec<(String, Option<String>)> {
        let layer = tree.write().unwrap();
        let mut archive = tar::Archive::new(GzDecoder::new(layer.blob.as_slice()));
        archive
            .entries()
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                let link = entry
                    .link_name()
                    .unwrap()
                    .map(|l| l.to_string_lossy().into_owned());
                (entry.path().unwrap().to_string_lossy().into_owned(), link)
            })
            .collect()
    }

    #[test]
    fn applets_link_to_the_binary_and_the_binary_is_not_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("busybox");
        std::fs::write(&fake, b"ELF").unwrap();
        let applets = ["bin/sh", "bin/busybox", "usr/bin/wget"].map(String::from);
        let listed = paths(&base_tree(&fake, &applets).unwrap());
        let link = |p: &str| listed.iter().find(|(path, _)| path == p).unwrap().1.clone();
        assert_eq!(link("bin/sh").as_deref(), Some("/bin/busybox"));
        assert_eq!(link("usr/bin/wget").as_deref(), Some("/bin/busybox"));
        assert_eq!(link("bin/busybox"), None);
        assert!(listed.iter().any(|(p, _)| p == "tmp"));
        assert!(listed.iter().any(|(p, _)| p == "etc/passwd"));
    }

    #[test]
    fn the_installed_busybox_lists_a_shell() {
        let busybox = Path::new(DEFAULT_BUSYBOX);
        if !busybox.exists() {
            eprintln!("skipped: {DEFAULT_BUSYBOX} is absent (apt-get install busybox-static)");
            return;
        }
        let applets = applets(busybox).unwrap();
        assert!(applets.iter().any(|a| a == "bin/sh"), "{applets:?}");
    }

    #[test]
    fn a_program_that_fails_is_reported_as_such() {
        assert!(matches!(
            applets(Path::new("/bin/false")),
            Err(ImageError::Busybox { .. })
        ));
    }
}

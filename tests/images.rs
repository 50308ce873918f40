//! `berth image build` against the containerd that scripts/containerd.sh
//! starts (scripts/test.sh leaves it running): an image built from a
//! directory over busybox imports, containerd lists it under its normalized
//! name, and a container started from it sees the directory's files.
//! The containerd tests skip, saying so, when containerd is not running.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The socket scripts/containerd.sh serves, unless the environment names
/// another.
fn containerd_address() -> PathBuf {
    std::env::var_os("BERTH_CONTAINERD_ADDRESS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/run/berth/containerd.sock"))
}

/// Whether containerd, ctr and busybox are here; says why not otherwise.
fn containerd_ready(address: &Path) -> bool {
    let required = std::env::var_os("BERTH_REQUIRE_CONTAINERD").is_some();
    if !address.exists() {
        assert!(
            !required,
            "BERTH_REQUIRE_CONTAINERD is set but containerd is not at {}",
            address.display()
        );
        eprintln!(
            "skipped: no containerd at {} (scripts/containerd.sh start)",
            address.display()
        );
        return false;
    }
    if !Path::new("/bin/busybox").exists() {
        assert!(
            !required,
            "BERTH_REQUIRE_CONTAINERD is set but /bin/busybox is absent"
        );
        eprintln!("skipped: /bin/busybox is absent (apt-get install busybox-static)");
        return false;
    }
    true
}

fn ctr(address: &Path, args: &[&str]) -> Output {
    Command::new("ctr")
        .arg("--address")
        .arg(address)
        .args(["-n", "k8s.io"])
        .args(args)
        .output()
        .expect("run ctr")
}

fn berth_image_build(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["image", "build"])
        .args(args)
        .output()
        .expect("run berth")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Removes the image however the test ends.
struct RemoveImage<'a> {
    address: &'a Path,
    name: String,
}

impl Drop for RemoveImage<'_> {
    fn drop(&mut self) {
        ctr(self.address, &["images", "rm", &self.name]);
    }
}

#[test]
fn built_image_is_listed_by_containerd_and_runs() {
    let address = containerd_address();
    if !containerd_ready(&address) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("srv")).unwrap();
    std::fs::write(root.join("srv/hello.txt"), "hello from berth\n").unwrap();
    let tag = format!("berth-test/images-{}:v1", std::process::id());
    let normalized = format!("docker.io/{tag}");
    let _cleanup = RemoveImage {
        address: &address,
        name: normalized.clone(),
    };

    let output = berth_image_build(&[
        "--tag",
        &tag,
        "--dir",
        root.to_str().unwrap(),
        "--busybox",
        "--entrypoint",
        "/bin/cat",
        "--cmd",
        "/srv/hello.txt",
        "--import",
        "--containerd-address",
        address.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "berth: {}", text(&output.stderr));
    assert_eq!(text(&output.stdout).trim(), normalized);

    let listed = ctr(&address, &["images", "ls", "-q"]);
    assert!(listed.status.success(), "ctr: {}", text(&listed.stderr));
    assert!(
        text(&listed.stdout).lines().any(|line| line == normalized),
        "{normalized} not in:\n{}",
        text(&listed.stdout)
    );

    // The image's own entrypoint and cmd, over the unpacked layers.
    let container = format!("berth-images-test-{}", std::process::id());
    let run = ctr(&address, &["run", "--rm", &normalized, &container]);
    assert!(run.status.success(), "ctr run: {}", text(&run.stderr));
    assert_eq!(text(&run.stdout), "hello from berth\n");

    // Busybox's shell is there for exec probes.
    let shell = ctr(
        &address,
        &[
            "run",
            "--rm",
            &normalized,
            &container,
            "sh",
            "-c",
            "echo $((6*7))",
        ],
    );
    assert!(
        shell.status.success(),
        "ctr run sh: {}",
        text(&shell.stderr)
    );
    assert_eq!(text(&shell.stdout), "42\n");
}

#[test]
fn the_same_inputs_build_the_same_archive() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("a.txt"), "a").unwrap();
    let mut archives = Vec::new();
    for name in ["first.tar", "second.tar"] {
        let out = dir.path().join(name);
        let output = berth_image_build(&[
            "--tag",
            "same:1",
            "--dir",
            root.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ]);
        assert!(output.status.success(), "berth: {}", text(&output.stderr));
        archives.push(std::fs::read(&out).unwrap());
    }
    assert_eq!(archives[0], archives[1]);
}

#[test]
fn import_without_containerd_fails_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let binary = dir.path().join("app");
    std::fs::write(&binary, "not really a binary").unwrap();
    let socket = dir.path().join("no-containerd.sock");
    let output = berth_image_build(&[
        "--tag",
        "app:1",
        "--binary",
        binary.to_str().unwrap(),
        "--import",
        "--containerd-address",
        socket.to_str().unwrap(),
    ]);
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("no containerd socket"), "{stderr}");
}

#[test]
fn build_needs_something_to_put_in_the_image() {
    let output = berth_image_build(&["--tag", "empty:1"]);
    assert!(!output.status.success());
}

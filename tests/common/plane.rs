//! A three-member berth control plane of real processes, and stock
//! kubectl against it.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// A child process killed when dropped.
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Three `berth server` processes forming one cluster, each with its
/// kubeconfig, in a temporary folder; all killed when dropped.
pub struct ControlPlane {
    pub dir: tempfile::TempDir,
    pub members: Vec<Process>,
    /// Each member's API URL.
    pub urls: Vec<String>,
}

impl ControlPlane {
    /// The API alone on every member: tests that read back exactly what
    /// they wrote, with no controller or scheduler acting on it.
    pub fn start() -> ControlPlane {
        Self::start_with(&["--controllers=", "--scheduler=false"])
    }

    /// Three members with `extra` flags each.
    pub fn start_with(extra: &[&str]) -> ControlPlane {
        let dir = tempfile::tempdir().unwrap();
        let ports = super::free_ports(9);
        let initial = (0..3)
            .map(|i| format!("m{i}=http://127.0.0.1:{}", ports[3 * i + 1]))
            .collect::<Vec<_>>()
            .join(",");
        let members = (0..3)
            .map(|i| {
                let (client, peer, api) = (ports[3 * i], ports[3 * i + 1], ports[3 * i + 2]);
                let log = std::fs::File::create(dir.path().join(format!("m{i}.log"))).unwrap();
                let child = Command::new(env!("CARGO_BIN_EXE_berth"))
                    .args(["server", "--name", &format!("m{i}")])
                    .arg("--data-dir")
                    .arg(dir.path().join(format!("m{i}")))
                    .args([
                        "--listen-client-urls",
                        &format!("http://127.0.0.1:{client}"),
                    ])
                    .args(["--listen-peer-urls", &format!("http://127.0.0.1:{peer}")])
                    .args(["--initial-cluster", &initial])
                    .args(["--api-listen", &format!("127.0.0.1:{api}")])
                    .arg("--write-kubeconfig")
                    .arg(dir.path().join(format!("kubeconfig{i}")))
                    .args(extra)
                    .stdout(Stdio::null())
                    .stderr(log)
                    .spawn()
                    .unwrap();
                Process(child)
            })
            .collect();
        let urls = (0..3)
            .map(|i| format!("http://127.0.0.1:{}", ports[3 * i + 2]))
            .collect();
        let plane = ControlPlane { dir, members, urls };
        plane.wait_ready();
        plane
    }

    /// SIGKILLs one member's process.
    pub fn kill(&mut self, member: usize) {
        let process = &mut self.members[member].0;
        process.kill().unwrap();
        process.wait().unwrap();
    }

    pub fn kubeconfig(&self, member: usize) -> PathBuf {
        self.dir.path().join(format!("kubeconfig{member}"))
    }

    /// Until every member's API lists the system namespaces.
    pub fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        for m in 0..3 {
            loop {
                let out = self.kubectl(m, &["get", "namespaces", "-o", "name"]);
                let text = String::from_utf8_lossy(&out.stdout).to_string();
                if out.status.success() && text.contains("namespace/kube-node-lease") {
                    break;
                }
                assert!(Instant::now() < deadline, "member {m} not ready: {text}");
                sleep(Duration::from_millis(200));
            }
        }
    }

    pub fn kubectl(&self, member: usize, args: &[&str]) -> Output {
        Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(self.kubeconfig(member))
            .args(args)
            .output()
            .unwrap()
    }

    pub fn ok(&self, member: usize, args: &[&str]) -> String {
        let out = self.kubectl(member, args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    pub fn err(&self, member: usize, args: &[&str]) -> String {
        let out = self.kubectl(member, args);
        assert!(!out.status.success(), "kubectl {args:?} should fail");
        String::from_utf8_lossy(&out.stderr).to_string()
    }

    pub fn apply(&self, member: usize, manifest: &str) -> String {
        let mut command = Command::new("kubectl");
        command
            .arg("--kubeconfig")
            .arg(self.kubeconfig(member))
            .args(["apply", "-f", "-"]);
        let out = super::run_with_input(command, manifest);
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }
}

//! What the process-level tests share.

#[allow(dead_code)] // only the agent tests run berth agent
pub mod agent;
#[allow(dead_code)] // only the tests on containerd use it
pub mod guide;
#[allow(dead_code)] // only the control-plane tests simulate nodes
pub mod kubelet;
#[allow(dead_code)] // only the three-member tests start one
pub mod plane;

use std::net::TcpListener;

/// Where test servers listen: below the kernel's ephemeral range
/// (32768-60999 by default), so no outgoing connection of a parallel test
/// can take a port between its pick and the server's bind.
const TEST_PORTS: std::ops::Range<u16> = 20000..32000;

/// `n` distinct free ports from [`TEST_PORTS`]: every one is held until
/// all are picked, and a process-wide cursor keeps parallel tests of one
/// binary from picking the same ones.
pub fn free_ports(n: usize) -> Vec<u16> {
    let mut held = Vec::new();
    while held.len() < n {
        if let Ok(listener) = TcpListener::bind(("127.0.0.1", next_port(1))) {
            held.push(listener);
        }
    }
    held.iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// The first of `n` consecutive free ports from [`TEST_PORTS`], for a
/// program that lays its ports out from a base (`berth up --port-base`).
#[allow(dead_code)] // only the berth up tests lay ports out from a base
pub fn free_block(n: u16) -> u16 {
    for _ in 0..1000 {
        let base = next_port(n);
        if base + n <= TEST_PORTS.end
            && (base..base + n).all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok())
        {
            return base;
        }
    }
    panic!("no {n} consecutive free ports in {TEST_PORTS:?}");
}

/// Takes `n` ports from a cursor shared by the test binary's threads.
fn next_port(n: u16) -> u16 {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static CURSOR: AtomicUsize = AtomicUsize::new(usize::MAX);
    let span = usize::from(TEST_PORTS.end - TEST_PORTS.start);
    // Each test binary starts somewhere else in the range.
    let _ = CURSOR.compare_exchange(
        usize::MAX,
        std::process::id() as usize * 7919 % span,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    let offset = CURSOR.fetch_add(usize::from(n), Ordering::SeqCst) % span;
    TEST_PORTS.start + offset as u16
}

/// Runs `command` with `input` on its standard input; its output.
#[allow(dead_code)] // not every test binary pipes input
pub fn run_with_input(mut command: std::process::Command, input: &str) -> std::process::Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// One `berth server` process: a single-member store and the API beside
/// it, with data in a temporary folder; killed when dropped.
#[allow(dead_code)] // not every test binary starts one
pub struct Server {
    child: std::process::Child,
    _dir: tempfile::TempDir,
    /// The API's URL (REST and gRPC).
    pub url: String,
    /// Where the store member serves `/metrics`.
    pub store_metrics: String,
    /// The store member's etcd API.
    pub store_url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Stops the server as [`terminate`] does.
    #[allow(dead_code)] // not every test binary stops one by signal
    pub fn terminate(&mut self, within: std::time::Duration) -> Option<std::process::ExitStatus> {
        terminate(&mut self.child, within)
    }
}

/// Sends SIGTERM to `child` and waits up to `within`; its exit status, or
/// None when it was still running (it is then killed).
#[allow(dead_code)] // not every test binary stops processes by signal
pub fn terminate(
    child: &mut std::process::Child,
    within: std::time::Duration,
) -> Option<std::process::ExitStatus> {
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = std::time::Instant::now() + within;
    while std::time::Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// Starts a [`Server`] with BOOKMARKs every second and a watch cache of 16
/// events per resource, serving the API alone (no controllers, no
/// scheduler), as API tests need; it logs to `server.log` in its folder.
#[allow(dead_code)] // not every test binary starts one
pub fn berth_server() -> Server {
    berth_server_with(&["--controllers=", "--scheduler=false"])
}

/// Starts a [`Server`] as [`berth_server`] does, with `extra` flags.
#[allow(dead_code)] // not every test binary starts one
pub fn berth_server_with(extra: &[&str]) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let ports = free_ports(4);
    let url = |port: u16| format!("http://127.0.0.1:{port}");
    let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["server", "--name", "m0"])
        .arg("--data-dir")
        .arg(dir.path().join("m0"))
        .args(["--listen-client-urls", &url(ports[0])])
        .args(["--listen-peer-urls", &url(ports[1])])
        .args(["--api-listen", &format!("127.0.0.1:{}", ports[2])])
        .args(["--listen-metrics-urls", &url(ports[3])])
        .args(["--watch-bookmark-seconds", "1"])
        // A small watch cache, so tests reach past its window.
        .args(["--default-watch-cache-size", "16"])
        .args(extra)
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    Server {
        child,
        _dir: dir,
        url: url(ports[2]),
        store_metrics: url(ports[3]),
        store_url: url(ports[0]),
    }
}

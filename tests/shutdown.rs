//! `berth server` and `berth agent` stop cleanly on SIGTERM, as a service
//! manager (or `berth down`) stops them: exit status 0, within seconds,
//! even with watches open on the server.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::free_ports;

fn term_and_wait(child: &mut Child, what: &str) {
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{what} exited with {status}");
            return;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what} still running 15 s after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn server_and_agent_exit_zero_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let ports = free_ports(4);
    let url = |port: u16| format!("http://127.0.0.1:{port}");
    let api = url(ports[2]);
    let mut server = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["server", "--name", "m0"])
        .arg("--data-dir")
        .arg(dir.path().join("m0"))
        .args(["--listen-client-urls", &url(ports[0])])
        .args(["--listen-peer-urls", &url(ports[1])])
        .args(["--api-listen", &format!("127.0.0.1:{}", ports[2])])
        .args(["--listen-metrics-urls", &url(ports[3])])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut agent = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["agent", "--api", &api, "--runtime", "hollow"])
        .args(["--node-name", "quit", "--node-ip", "127.0.0.1"])
        .arg("--root-dir")
        .arg(dir.path().join("agent"))
        .arg("--log-dir")
        .arg(dir.path().join("logs"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Until the agent's node shows: by then it has its watches open.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = Command::new("kubectl")
            .args(["--server", &api, "get", "node", "quit", "-o", "name"])
            .output()
            .unwrap();
        if out.status.success() {
            break;
        }
        assert!(Instant::now() < deadline, "the agent never registered");
        std::thread::sleep(Duration::from_millis(300));
    }
    term_and_wait(&mut agent, "berth agent");
    term_and_wait(&mut server, "berth server");
}

//! The guide's commands against real containers on containerd, shared by
//! the agent's CRI test and the `berth up` end-to-end test: a request to a
//! pod's IP, `kubectl logs -f`, and `kubectl exec -it` on a terminal.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

/// containerd's socket as scripts/containerd.sh starts it.
pub const SOCKET: &str = "/run/berth/containerd.sock";

/// Whether containerd is there; without it a test says so and skips,
/// unless BERTH_REQUIRE_CONTAINERD is set (scripts/test.sh sets it).
pub fn containerd_present() -> bool {
    if Path::new(SOCKET).exists() {
        return true;
    }
    assert!(
        std::env::var_os("BERTH_REQUIRE_CONTAINERD").is_none(),
        "BERTH_REQUIRE_CONTAINERD is set but containerd is not listening at {SOCKET}"
    );
    eprintln!("skipped: no containerd at {SOCKET} (scripts/containerd.sh start)");
    false
}

/// One HTTP/1.0 request to `ip:8080`; the status code and body.
pub fn http(ip: &str, method: &str, path: &str) -> std::io::Result<(u16, String)> {
    let address = format!("{ip}:8080")
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(3))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: {ip}\r\nContent-Length: 0\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let code = response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = response
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    Ok((code, body))
}

/// `kubectl logs -f` on the pod named `name` at `ip` (an api-server) shows
/// a request made once following has begun.
pub async fn logs_follow_shows_a_new_line(kubectl: &[String], name: &str, ip: &str) {
    use tokio::io::AsyncBufReadExt;
    let mut follower = tokio::process::Command::new(&kubectl[0])
        .args(&kubectl[1..])
        .args(["logs", "-f", name])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(follower.stdout.take().unwrap()).lines();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let target = ip.to_string();
    tokio::task::spawn_blocking(move || http(&target, "GET", "/?followed=1"))
        .await
        .unwrap()
        .unwrap();
    let seen = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("GET /?followed=1 200") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(seen, Ok(true), "kubectl logs -f never showed the new line");
    let _ = follower.kill().await;
}

/// `kubectl exec -it POD -- sh` on a pseudo-terminal (through `script`):
/// a command's output comes back, and the shell has a terminal.
pub async fn exec_it_runs_a_shell(kubectl: &[String], pod: &str) {
    let command = format!("{} exec -it {pod} -- sh", kubectl.join(" "));
    let mut session = tokio::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut input = session.stdin.take().unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    use tokio::io::AsyncWriteExt;
    input
        .write_all(b"echo $((6*7)); tty; exit\n")
        .await
        .unwrap();
    let out = tokio::time::timeout(Duration::from_secs(30), session.wait_with_output())
        .await
        .expect("kubectl exec -it did not end")
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    assert!(text.lines().any(|l| l == "42"), "{text}");
    assert!(text.contains("/dev/pts/"), "no terminal: {text}");
}

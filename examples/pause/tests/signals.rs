//! The pause binary ends at once, with status 0, on SIGTERM and SIGINT, and
//! otherwise stays up.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn wait_with_deadline(child: &mut Child, deadline: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

fn exits_zero_on(name: &str) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pause")).spawn().unwrap();
    // Still running: it sleeps until signalled.
    assert!(wait_with_deadline(&mut child, Duration::from_millis(200)).is_none());
    signal(&child, name);
    let status = wait_with_deadline(&mut child, Duration::from_secs(5));
    if status.is_none() {
        let _ = child.kill();
    }
    assert_eq!(status.and_then(|s| s.code()), Some(0), "after SIG{name}");
}

#[test]
fn sigterm_exits_zero() {
    exits_zero_on("TERM");
}

#[test]
fn sigint_exits_zero() {
    exits_zero_on("INT");
}

#[test]
fn sigchld_does_not_end_it() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pause")).spawn().unwrap();
    signal(&child, "CHLD");
    assert!(wait_with_deadline(&mut child, Duration::from_millis(300)).is_none());
    signal(&child, "TERM");
    assert!(wait_with_deadline(&mut child, Duration::from_secs(5)).is_some());
}

//! The api-server binary as a container runs it: listening on `PORT`,
//! exiting 0 on SIGTERM, exiting 1 when `CRASH_AFTER_MS` says so.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// A port free at the time of asking.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_with_deadline(child: &mut Child, deadline: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    None
}

/// `GET path` over HTTP/1.0, retried until the server listens.
fn get(port: u16, path: &str) -> String {
    let start = Instant::now();
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(mut stream) => {
                write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
                let mut response = String::new();
                stream.read_to_string(&mut response).unwrap();
                return response;
            }
            Err(_) if start.elapsed() < Duration::from_secs(10) => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(error) => panic!("api-server never listened on {port}: {error}"),
        }
    }
}

#[test]
fn serves_on_port_and_exits_zero_on_sigterm() {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_api-server"))
        .env("PORT", port.to_string())
        .env("APP_VERSION", "9.9.9")
        .spawn()
        .unwrap();
    let response = get(port, "/");
    assert!(response.starts_with("HTTP/1.0 200"), "{response}");
    assert!(response.contains("api-server 9.9.9 on "), "{response}");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = wait_with_deadline(&mut child, Duration::from_secs(5));
    assert_eq!(exit.and_then(|s| s.code()), Some(0));
}

#[test]
fn crash_after_ms_exits_one() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_api-server"))
        .env("PORT", free_port().to_string())
        .env("CRASH_AFTER_MS", "100")
        .spawn()
        .unwrap();
    let exit = wait_with_deadline(&mut child, Duration::from_secs(5));
    assert_eq!(exit.and_then(|s| s.code()), Some(1));
}

#[test]
fn a_bad_port_is_refused() {
    let output = Command::new(env!("CARGO_BIN_EXE_api-server"))
        .env("PORT", "http")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("PORT"));
}

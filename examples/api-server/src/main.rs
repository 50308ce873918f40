//! berth's demo app, packaged as the image `api-server:1.2.0` (and `1.3.0`
//! for rollouts): a small HTTP server whose health can be switched off from
//! outside, so tests can drive a pod's readiness and liveness probes through
//! its IP, and whose load endpoints make it burn CPU or outgrow its memory
//! limit.
//!
//! Environment: `PORT` (default 8080), `APP_VERSION` (set in the image
//! config), `CRASH_AFTER_MS` (exit 1 after that long, for CrashLoopBackOff).

mod load;
mod routes;

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};

/// The port a Pod manifest's `containerPort` names by default.
const DEFAULT_PORT: u16 = 8080;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("api-server: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let port = match std::env::var("PORT") {
        Ok(value) => value
            .parse::<u16>()
            .map_err(|error| format!("PORT={value:?}: {error}"))?,
        Err(_) => DEFAULT_PORT,
    };
    let version = std::env::var("APP_VERSION").unwrap_or_else(|_| "dev".to_owned());
    if let Ok(value) = std::env::var("CRASH_AFTER_MS") {
        let ms = value
            .parse::<u64>()
            .map_err(|error| format!("CRASH_AFTER_MS={value:?}: {error}"))?;
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            eprintln!("api-server: exiting 1 after {ms} ms as CRASH_AFTER_MS asks");
            std::process::exit(1);
        });
    }

    // Installed before serving: the app is PID 1 of its container, and the
    // kernel drops signals to a namespace's init that has no handler, so
    // without these the kubelet's SIGTERM would wait out the grace period.
    let mut terminate = signal(SignalKind::terminate()).map_err(|e| format!("SIGTERM: {e}"))?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(|e| format!("SIGINT: {e}"))?;

    let state = routes::AppState::new(version.clone(), hostname());
    let address = SocketAddr::from((Ipv4Addr::UNSPECIFIED, port));
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|error| format!("listen on {address}: {error}"))?;
    eprintln!("api-server {version} listening on {address}");
    axum::serve(listener, routes::router(state))
        .with_graceful_shutdown(async move {
            tokio::select! {
                _ = terminate.recv() => eprintln!("api-server: SIGTERM, shutting down"),
                _ = interrupt.recv() => eprintln!("api-server: SIGINT, shutting down"),
            }
        })
        .await
        .map_err(|error| format!("serve: {error}"))
}

/// The pod's hostname (the pod name unless `spec.hostname` says otherwise),
/// read from the UTS namespace the container runs in.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown".to_owned())
}

//! A short run of every `berth-bench store` workload against a three-member
//! `berth store` cluster: each completes, answers requests and reports no
//! errors. Timing belongs to the benchmark, never to this test.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use berth_bench::{run, Config, Workload};

struct Cluster(Vec<Child>, #[allow(dead_code)] tempfile::TempDir);

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn cluster() -> (Cluster, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let ports = common::free_ports(6);
    let initial = (0..3)
        .map(|i| format!("s{i}=http://127.0.0.1:{}", ports[2 * i + 1]))
        .collect::<Vec<_>>()
        .join(",");
    let children = (0..3)
        .map(|i| {
            Command::new(env!("CARGO_BIN_EXE_berth"))
                .args(["store", "--name", &format!("s{i}")])
                .arg("--data-dir")
                .arg(dir.path().join(format!("s{i}")))
                .args([
                    "--listen-client-urls",
                    &format!("http://127.0.0.1:{}", ports[2 * i]),
                ])
                .args([
                    "--listen-peer-urls",
                    &format!("http://127.0.0.1:{}", ports[2 * i + 1]),
                ])
                .args(["--initial-cluster", &initial])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let endpoints = (0..3)
        .map(|i| format!("127.0.0.1:{}", ports[2 * i]))
        .collect();
    (Cluster(children, dir), endpoints)
}

#[tokio::test]
async fn every_workload_runs_without_errors() {
    let (_cluster, endpoints) = cluster();
    let config = Config {
        endpoints,
        clients: 8,
        conns: 3,
        duration: Duration::from_secs(5),
        keys: 200,
        watchers: 20,
        rate: 50,
        range_keys: 50,
        ..Config::default()
    };
    // Until a leader is elected, the first writes fail: wait for one.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let probe = Config {
            duration: Duration::from_millis(200),
            clients: 1,
            ..config.clone()
        };
        if let Ok(report) = run(Workload::Put, &probe).await {
            if report.errors.is_empty() && report.ops > 0 {
                break;
            }
        }
        assert!(Instant::now() < deadline, "no leader");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for workload in [
        Workload::Put,
        Workload::Get,
        Workload::Txn,
        Workload::Range,
        Workload::Watch,
        Workload::Mixed,
    ] {
        let report = run(workload, &config).await.unwrap();
        assert!(report.ops > 0, "{}", report.row());
        assert!(report.errors.is_empty(), "{}", report.row());
        assert!(report.p50_ms <= report.p99_ms && report.p99_ms <= report.max_ms);
    }
    // An operation budget ends the run at exactly that many operations.
    let budgeted = Config {
        ops: 300,
        duration: Duration::from_secs(60),
        ..config.clone()
    };
    let report = run(Workload::Put, &budgeted).await.unwrap();
    assert_eq!(report.ops, 300, "{}", report.row());
    assert!(report.errors.is_empty(), "{}", report.row());
    let serializable = Config {
        serializable: true,
        ..config
    };
    let report = run(Workload::Get, &serializable).await.unwrap();
    assert!(
        report.ops > 0 && report.errors.is_empty(),
        "{}",
        report.row()
    );
}

//! Stock `etcdctl` (Debian's etcd-client, v3.4) against a three-member
//! `berth store` cluster started as processes. Expected outputs are what
//! etcd 3.4.23 prints for the same commands (recorded side by side).

mod common;

use std::io::Write;
use std::process::{Child, Command, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

struct Member {
    child: Child,
}

impl Drop for Member {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Cluster {
    _dir: tempfile::TempDir,
    metrics: Vec<u16>,
    members: Vec<Member>,
    endpoints: Vec<String>,
    args: Vec<Vec<String>>,
}

/// A plain HTTP/1.1 GET: status code and body.
fn http_get(port: u16, path: &str) -> (u16, String) {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

impl Cluster {
    fn start() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let picked = common::free_ports(9);
        let ports: Vec<(u16, u16)> = (0..3).map(|i| (picked[2 * i], picked[2 * i + 1])).collect();
        let initial = ports
            .iter()
            .enumerate()
            .map(|(i, (_, p))| format!("m{i}=http://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",");
        let args: Vec<Vec<String>> = ports
            .iter()
            .enumerate()
            .map(|(i, (c, p))| {
                vec![
                    "store".into(),
                    "--name".into(),
                    format!("m{i}"),
                    "--data-dir".into(),
                    dir.path().join(format!("m{i}")).display().to_string(),
                    "--listen-client-urls".into(),
                    format!("http://127.0.0.1:{c}"),
                    "--listen-peer-urls".into(),
                    format!("http://127.0.0.1:{p}"),
                    "--initial-cluster".into(),
                    initial.clone(),
                    "--listen-metrics-urls".into(),
                    format!("http://127.0.0.1:{}", picked[6 + i]),
                ]
            })
            .collect();
        let mut cluster = Cluster {
            _dir: dir,
            metrics: picked[6..9].to_vec(),
            members: Vec::new(),
            endpoints: ports
                .iter()
                .map(|(c, _)| format!("127.0.0.1:{c}"))
                .collect(),
            args,
        };
        for i in 0..3 {
            let m = cluster.spawn(i);
            cluster.members.push(m);
        }
        cluster.wait_healthy();
        cluster
    }

    fn spawn(&self, i: usize) -> Member {
        let child = Command::new(env!("CARGO_BIN_EXE_berth"))
            .args(&self.args[i])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn berth store");
        Member { child }
    }

    fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let out = self.etcdctl_at(&self.endpoints.join(","), &["put", "health", "ok"]);
            if out.status.success() {
                return;
            }
            sleep(Duration::from_millis(200));
        }
        panic!("cluster did not become healthy");
    }

    fn etcdctl_at(&self, endpoints: &str, args: &[&str]) -> Output {
        Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .arg(format!("--endpoints={endpoints}"))
            .args(args)
            .output()
            .expect("etcdctl is installed (Debian package etcd-client)")
    }

    /// Runs etcdctl against member `i`; returns stdout, asserting success.
    fn ok(&self, i: usize, args: &[&str]) -> String {
        let out = self.etcdctl_at(&self.endpoints[i], args);
        assert!(
            out.status.success(),
            "etcdctl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs etcdctl expecting failure; returns the `Error:` line of stderr.
    fn err(&self, i: usize, args: &[&str]) -> String {
        let out = self.etcdctl_at(&self.endpoints[i], args);
        assert!(
            !out.status.success(),
            "etcdctl {args:?} unexpectedly succeeded"
        );
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .find(|l| l.starts_with("Error:"))
            .unwrap_or_default()
            .to_string()
    }

    fn txn(&self, i: usize, script: &str) -> String {
        let mut command = Command::new("etcdctl");
        command
            .env("ETCDCTL_API", "3")
            .arg(format!("--endpoints={}", self.endpoints[i]))
            .arg("txn");
        let out = common::run_with_input(command, script);
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    }
}

#[test]
fn etcdctl_against_a_three_member_berth_store() {
    let c = Cluster::start();

    // put / get --prefix / get --rev, through different members.
    assert_eq!(c.ok(0, &["put", "foo", "bar"]), "OK\n");
    let rev_bar = revision_of(&c, "foo");
    assert_eq!(c.ok(1, &["put", "foo/a", "1"]), "OK\n");
    assert_eq!(c.ok(2, &["put", "foo/b", "2"]), "OK\n");
    assert_eq!(
        c.ok(1, &["get", "--prefix", "foo"]),
        "foo\nbar\nfoo/a\n1\nfoo/b\n2\n"
    );

    // A watch from an old revision, in the background.
    let watch = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={}", c.endpoints[2]))
        .args([
            "watch",
            "--prefix",
            "foo",
            &format!("--rev={}", rev_bar + 1),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    // del --prev-kv
    assert_eq!(c.ok(0, &["del", "--prev-kv", "foo/a"]), "1\nfoo/a\n1\n");
    assert_eq!(c.ok(0, &["del", "nothing"]), "0\n");

    // txn fed on stdin: a compare that holds, then one that does not.
    assert_eq!(
        c.txn(
            1,
            "value(\"foo\") = \"bar\"\n\nput foo baz\n\nput nope x\n\n"
        ),
        "SUCCESS\n\nOK\n"
    );
    assert_eq!(
        c.txn(
            2,
            "value(\"foo\") = \"bar\"\n\nput foo qux\n\nput nope x\n\n"
        ),
        "FAILURE\n\nOK\n"
    );
    assert_eq!(
        c.ok(0, &["get", "foo", &format!("--rev={rev_bar}")]),
        "foo\nbar\n"
    );
    assert_eq!(c.ok(0, &["get", "foo"]), "foo\nbaz\n");

    // The watch saw exactly the events after rev_bar, in order.
    sleep(Duration::from_secs(1));
    let mut watch = watch;
    let _ = watch.kill();
    let watched = String::from_utf8(watch.wait_with_output().unwrap().stdout).unwrap();
    assert_eq!(
        watched,
        "PUT\nfoo/a\n1\nPUT\nfoo/b\n2\nDELETE\nfoo/a\n\nPUT\nfoo\nbaz\n"
    );

    // Leases: grant, put --lease, timetolive, keep-alive, list, revoke.
    let granted = c.ok(1, &["lease", "grant", "60"]);
    let id = granted.split_whitespace().nth(1).unwrap().to_string();
    assert_eq!(granted, format!("lease {id} granted with TTL(60s)\n"));
    assert_eq!(c.ok(2, &["put", "--lease", &id, "lk", "lv"]), "OK\n");
    let ttl = c.ok(0, &["lease", "timetolive", "--keys", &id]);
    assert!(
        ttl == format!("lease {id} granted with TTL(60s), remaining(60s), attached keys([lk])\n")
            || ttl
                == format!(
                    "lease {id} granted with TTL(60s), remaining(59s), attached keys([lk])\n"
                ),
        "{ttl}"
    );
    let keepalive = Command::new("timeout")
        .args(["2", "etcdctl", &format!("--endpoints={}", c.endpoints[2])])
        .args(["lease", "keep-alive", &id])
        .env("ETCDCTL_API", "3")
        .output()
        .unwrap();
    let first = String::from_utf8_lossy(&keepalive.stdout);
    assert_eq!(
        first.lines().next(),
        Some(format!("lease {id} keepalived with TTL(60)").as_str())
    );
    let list = c.ok(0, &["lease", "list"]);
    assert_eq!(list, format!("found 1 leases\n{id}\n"));
    assert_eq!(
        c.ok(1, &["lease", "revoke", &id]),
        format!("lease {id} revoked\n")
    );
    assert_eq!(
        c.ok(1, &["lease", "timetolive", &id]),
        format!("lease {id} already expired\n")
    );
    assert_eq!(c.ok(0, &["get", "lk"]), "");
    assert_eq!(
        c.err(0, &["put", "k", "v", "--lease=1234"]),
        "Error: etcdserver: requested lease not found"
    );

    // Compaction, and reads below it.
    let current = revision_of(&c, "foo");
    assert_eq!(
        c.ok(2, &["compaction", &current.to_string()]),
        format!("compacted revision {current}\n")
    );
    assert_eq!(
        c.err(0, &["get", "foo", &format!("--rev={rev_bar}")]),
        "Error: etcdserver: mvcc: required revision has been compacted"
    );
    assert_eq!(
        c.err(0, &["put", "", "x"]),
        "Error: etcdserver: key is not provided"
    );

    // The operability port: liveness, readiness and etcd's metric names.
    for &port in &c.metrics {
        let (status, _) = http_get(port, "/livez");
        assert_eq!(status, 200);
        let (status, body) = http_get(port, "/readyz");
        assert_eq!(status, 200, "{body}");
        let (status, body) = http_get(port, "/metrics");
        assert_eq!(status, 200);
        assert!(body.contains("etcd_server_has_leader 1"), "{body}");
        assert!(
            body.contains("etcd_disk_wal_fsync_duration_seconds_count"),
            "{body}"
        );
    }

    // endpoint status and member list, in etcdctl's formats.
    // Every member named explicitly: with `--cluster`, etcdctl 3.4 dials the
    // advertised URLs with the scheme left in the HTTP/2 :authority, which
    // h2 (under tonic) refuses as malformed.
    let all = c.endpoints.join(",");
    let out = c.etcdctl_at(&all, &["endpoint", "status"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = status.lines().collect();
    assert_eq!(lines.len(), 3, "{status}");
    let leaders = lines
        .iter()
        .filter(|l| l.split(", ").nth(4) == Some("true"))
        .count();
    assert_eq!(leaders, 1, "exactly one leader: {status}");
    for line in &lines {
        let fields: Vec<&str> = line.split(", ").collect();
        assert_eq!(fields.len(), 10, "{line}");
        assert!(fields[0].starts_with("127.0.0.1:"), "{line}");
        assert!(u64::from_str_radix(fields[1], 16).is_ok(), "{line}");
        assert_eq!(fields[2], "3.5.0");
        assert_eq!(fields[5], "false");
    }
    let members = c.ok(1, &["member", "list"]);
    let mut names: Vec<&str> = members
        .lines()
        .map(|l| l.split(", ").nth(2).unwrap())
        .collect();
    names.sort();
    assert_eq!(names, vec!["m0", "m1", "m2"]);
    for line in members.lines() {
        let fields: Vec<&str> = line.split(", ").collect();
        assert_eq!(fields[1], "started", "{line}");
        assert!(
            fields[3].starts_with("http://127.0.0.1:")
                && fields[4].starts_with("http://127.0.0.1:")
        );
        assert_eq!(fields[5], "false");
    }
}

/// The mod revision of `key`, from etcdctl's JSON output.
fn revision_of(c: &Cluster, key: &str) -> i64 {
    let json = c.ok(0, &["get", key, "-w", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["header"]["revision"].as_i64().unwrap()
}

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use futures::StreamExt;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

use super::*;

const T: &str = "2026-01-02T03:04:05.123456789Z";

/// One pod `default/web` with a container `app`.
struct Fake {
    path: Mutex<PathBuf>,
    running: AtomicBool,
    previous: Option<PathBuf>,
    /// Where exec requests are sent (the runtime's streaming server).
    exec_target: Mutex<Option<String>>,
}

#[async_trait::async_trait]
impl ExecSource for Fake {
    async fn exec_url(
        &self,
        _namespace: &str,
        _pod: &str,
        container: &str,
        _options: &exec::ExecOptions,
    ) -> Result<String, LogError> {
        self.exec_target
            .lock()
            .ok()
            .and_then(|t| t.clone())
            .ok_or_else(|| LogError::ContainerNotFound {
                pod: "web".into(),
                container: container.into(),
            })
    }
}

impl Fake {
    fn new(path: PathBuf) -> Arc<Fake> {
        Arc::new(Fake {
            path: Mutex::new(path),
            running: AtomicBool::new(true),
            previous: None,
            exec_target: Mutex::new(None),
        })
    }
}

#[async_trait::async_trait]
impl LogSource for Fake {
    async fn container_log(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        previous: bool,
    ) -> Result<ContainerLog, LogError> {
        if (namespace, pod) != ("default", "web") {
            return Err(LogError::PodNotFound {
                namespace: namespace.into(),
                pod: pod.into(),
            });
        }
        if container != "app" {
            return Err(LogError::ContainerNotFound {
                pod: pod.into(),
                container: container.into(),
            });
        }
        if previous {
            return match &self.previous {
                Some(path) => Ok(ContainerLog {
                    path: path.clone(),
                    running: false,
                }),
                None => Err(LogError::NoPrevious {
                    pod: pod.into(),
                    container: container.into(),
                }),
            };
        }
        Ok(ContainerLog {
            path: self.path.lock().map(|p| p.clone()).unwrap_or_default(),
            running: self.running.load(Ordering::SeqCst),
        })
    }
}

fn append(path: &std::path::Path, lines: &[&str]) {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for line in lines {
        writeln!(file, "{T} stdout F {line}").unwrap();
    }
}

fn target(source: Arc<Fake>) -> follow::Container {
    follow::Container {
        source,
        namespace: "default".into(),
        pod: "web".into(),
        container: "app".into(),
        running: true,
    }
}

fn following() -> LogOptions {
    LogOptions {
        follow: true,
        ..LogOptions::default()
    }
}

/// Reads the stream's chunks until `want` has been seen.
async fn read_until(
    chunks: &mut (impl futures::Stream<Item = std::io::Result<Vec<u8>>> + Unpin),
    want: &str,
) -> String {
    let mut text = String::new();
    while !text.contains(want) {
        let chunk = tokio::time::timeout(Duration::from_secs(10), chunks.next())
            .await
            .expect("no output in time")
            .expect("stream ended")
            .unwrap();
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    text
}

#[tokio::test]
async fn follow_streams_appended_lines_until_the_container_stops() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("0.log");
    append(&path, &["one"]);
    let source = Fake::new(path.clone());
    let (_stop, stopping) = watch::channel(false);
    let chunks = follow::stream(path.clone(), following(), target(source.clone()), stopping);
    let mut chunks = Box::pin(chunks.await.unwrap());
    assert_eq!(read_until(&mut chunks, "one\n").await, "one\n");

    let writer = tokio::spawn({
        let path = path.clone();
        async move {
            for line in ["two", "three"] {
                tokio::time::sleep(Duration::from_millis(50)).await;
                append(&path, &[line]);
            }
        }
    });
    assert_eq!(read_until(&mut chunks, "three\n").await, "two\nthree\n");
    writer.await.unwrap();

    // The last words of a container are read before the stream ends.
    append(&path, &["last"]);
    source.running.store(false, Ordering::SeqCst);
    let rest: Vec<_> = tokio::time::timeout(Duration::from_secs(10), chunks.collect::<Vec<_>>())
        .await
        .expect("the stream did not end");
    let rest: Vec<u8> = rest.into_iter().flat_map(|c| c.unwrap()).collect();
    assert_eq!(rest, b"last\n");
}

#[tokio::test]
async fn follow_ends_when_a_restart_replaces_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("0.log");
    append(&path, &["first instance"]);
    let source = Fake::new(path.clone());
    let (_stop, stopping) = watch::channel(false);
    let chunks = follow::stream(path.clone(), following(), target(source.clone()), stopping);
    let mut chunks = Box::pin(chunks.await.unwrap());
    read_until(&mut chunks, "first instance\n").await;
    *source.path.lock().unwrap() = dir.path().join("1.log");
    append(&dir.path().join("1.log"), &["second instance"]);
    let rest = tokio::time::timeout(Duration::from_secs(10), chunks.collect::<Vec<_>>()).await;
    assert!(rest.expect("the stream did not end").is_empty());
}

#[tokio::test]
async fn follow_ends_when_the_file_is_rotated_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("0.log");
    append(&path, &["old"]);
    let source = Fake::new(path.clone());
    let (_stop, stopping) = watch::channel(false);
    let chunks = follow::stream(path.clone(), following(), target(source), stopping);
    let mut chunks = Box::pin(chunks.await.unwrap());
    read_until(&mut chunks, "old\n").await;
    std::fs::rename(&path, dir.path().join("0.log.rotated")).unwrap();
    append(&path, &["new"]);
    let rest = tokio::time::timeout(Duration::from_secs(10), chunks.collect::<Vec<_>>()).await;
    assert!(rest.expect("the stream did not end").is_empty());
}

#[tokio::test]
async fn follow_with_tail_starts_at_the_last_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("0.log");
    append(&path, &["a", "b", "c"]);
    let source = Fake::new(path.clone());
    let (_stop, stopping) = watch::channel(false);
    let options = LogOptions {
        tail_lines: Some(1),
        ..following()
    };
    let chunks = follow::stream(path.clone(), options, target(source), stopping);
    let mut chunks = Box::pin(chunks.await.unwrap());
    assert_eq!(read_until(&mut chunks, "c\n").await, "c\n");
    append(&path, &["d"]);
    assert_eq!(read_until(&mut chunks, "d\n").await, "d\n");
}

/// A GET to the server at `address`: status and body.
async fn get(address: std::net::SocketAddr, path: &str) -> (StatusCode, String) {
    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let request = http::Request::get(path)
        .header(header::HOST, "agent")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

/// Serves `source` on a loopback port until the returned sender is dropped
/// or sent to.
async fn start(
    source: Arc<Fake>,
) -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, source.clone(), source, async move {
        let _ = stopped.await;
    }));
    (address, stop, server)
}

#[tokio::test]
async fn the_server_answers_kubelet_log_requests() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("0.log");
    append(&path, &["one", "two", "three"]);
    let (address, _stop, _server) = start(Fake::new(path)).await;

    let (status, body) = get(address, "/containerLogs/default/web/app").await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "one\ntwo\nthree\n")
    );
    let (_, body) = get(
        address,
        "/containerLogs/default/web/app?tailLines=1&timestamps=true",
    )
    .await;
    assert_eq!(body, format!("{T} three\n"));
    let (_, body) = get(address, "/containerLogs/default/web/app?limitBytes=5").await;
    assert_eq!(body, "one\nt");
}

#[tokio::test]
async fn the_server_refuses_what_it_cannot_serve() {
    let dir = tempfile::tempdir().unwrap();
    let (address, _stop, _server) = start(Fake::new(dir.path().join("0.log"))).await;

    let (status, body) = get(address, "/containerLogs/default/other/app").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, "pod \"default/other\" not found\n");
    let (status, _) = get(address, "/containerLogs/default/web/sidecar").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = get(address, "/containerLogs/default/web/app?previous=true").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        "previous terminated container \"app\" in pod \"web\" not found\n"
    );
    let (status, _) = get(address, "/containerLogs/default/web/app?tailLines=x").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = get(address, "/nothing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_server_serves_the_previous_instance() {
    let dir = tempfile::tempdir().unwrap();
    let previous = dir.path().join("0.log");
    append(&previous, &["before the crash"]);
    let source = Arc::new(Fake {
        path: Mutex::new(dir.path().join("1.log")),
        running: AtomicBool::new(true),
        previous: Some(previous),
        exec_target: Mutex::new(None),
    });
    let (address, _stop, _server) = start(source).await;
    // A terminated instance is read to its end even when following.
    let (status, body) = get(
        address,
        "/containerLogs/default/web/app?previous=true&follow=true",
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "before the crash\n")
    );
}

#[tokio::test]
async fn shutting_down_ends_open_follows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("0.log");
    append(&path, &["running"]);
    let (address, stop, server) = start(Fake::new(path)).await;
    let follower =
        tokio::spawn(
            async move { get(address, "/containerLogs/default/web/app?follow=true").await },
        );
    // Give the follower time to reach the end of the file.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.send(()).unwrap();
    let (status, body) = tokio::time::timeout(Duration::from_secs(10), follower)
        .await
        .expect("the follow did not end")
        .unwrap();
    assert_eq!((status, body.as_str()), (StatusCode::OK, "running\n"));
    let served = tokio::time::timeout(Duration::from_secs(10), server).await;
    served.expect("the server did not stop").unwrap().unwrap();
}

/// Reads an HTTP head (through the blank line) from `stream`.
async fn read_head(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await.unwrap() == 0 {
            break;
        }
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

#[tokio::test]
async fn exec_upgrades_are_proxied_to_the_runtimes_stream_server() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // The runtime's streaming server: switches to SPDY, then echoes.
    let upstream = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream_address = upstream.local_addr().unwrap();
    let runtime_side = tokio::spawn(async move {
        let (mut conn, _) = upstream.accept().await.unwrap();
        let head = read_head(&mut conn).await;
        conn.write_all(
            b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\r\n",
        )
        .await
        .unwrap();
        let mut buf = [0u8; 4];
        conn.read_exact(&mut buf).await.unwrap();
        conn.write_all(&buf).await.unwrap();
        head
    });
    let dir = tempfile::tempdir().unwrap();
    let fake = Fake::new(dir.path().join("0.log"));
    *fake.exec_target.lock().unwrap() = Some(format!("http://{upstream_address}/exec/token123"));
    let (address, _stop, _server) = start(fake).await;

    let mut client = tokio::net::TcpStream::connect(address).await.unwrap();
    client
        .write_all(b"POST /exec/default/web/app?command=sh&stdin=true&stdout=true&tty=true HTTP/1.1\r\nHost: agent\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n")
        .await
        .unwrap();
    let answer = read_head(&mut client).await;
    assert!(answer.starts_with("HTTP/1.1 101"), "{answer}");
    client.write_all(b"ping").await.unwrap();
    let mut echoed = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(5), client.read_exact(&mut echoed))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&echoed, b"ping");
    let seen = runtime_side.await.unwrap();
    assert!(seen.starts_with("POST /exec/token123 HTTP/1.1"), "{seen}");
    assert!(
        seen.to_lowercase()
            .contains("x-stream-protocol-version: v4.channel.k8s.io"),
        "{seen}"
    );
    assert!(seen.to_lowercase().contains("upgrade: spdy/3.1"), "{seen}");
}

#[tokio::test]
async fn exec_without_a_command_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (address, _stop, _server) = start(Fake::new(dir.path().join("0.log"))).await;
    let mut client = tokio::net::TcpStream::connect(address).await.unwrap();
    use tokio::io::AsyncWriteExt;
    client
        .write_all(b"POST /exec/default/web/app?stdout=true HTTP/1.1\r\nHost: agent\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = read_head(&mut client).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
}

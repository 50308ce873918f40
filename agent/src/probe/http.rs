//! The `httpGet` probe: one GET over a fresh connection; a status in
//! `[200, 400)` is success.
//!
//! Kubernetes' rules, kept here:
//! - headers from `httpHeaders`, then `User-Agent: kube-probe/<major>.<minor>`
//!   and `Accept: */*` unless given; a `Host` header replaces the request's
//!   host; connections are not reused (`Connection: close`);
//! - redirects are followed (up to 10) only while they stay on the original
//!   host name; a redirect elsewhere is not followed and the probe counts as
//!   a success with a warning (`Probe terminated redirects`);
//! - at most 10 KiB of the body is read;
//! - the whole exchange, redirects included, is bounded by `timeoutSeconds`;
//!   a probe that runs out of time fails with the kubelet's words `context
//!   deadline exceeded`.
//!
//! Only the HTTP scheme is served: an HTTPS probe fails with a message
//! saying so.

use std::time::Duration;

use http::header::{HeaderName, HeaderValue, ACCEPT, CONNECTION, HOST, LOCATION, USER_AGENT};
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::{join_host_port, ProbeResult, KUBE_PROBE_USER_AGENT};

/// How much of a response body the kubelet reads (`maxRespBodyLength`).
const MAX_BODY_BYTES: usize = 10 * 1024;
/// How many redirects are followed before the probe fails (Go's client
/// default, which the kubelet keeps).
const MAX_REDIRECTS: usize = 10;

/// One `httpGet` probe, its port already resolved and its host defaulted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpProbe {
    /// `HTTP` or `HTTPS`.
    pub scheme: String,
    /// Host name or IP to connect to (the pod IP unless the probe names one).
    pub host: String,
    /// Port to connect to.
    pub port: u16,
    /// Path, possibly with a query (`/healthz?verbose`).
    pub path: String,
    /// Request headers, in order.
    pub headers: Vec<(String, String)>,
}

impl HttpProbe {
    /// The URL the probe requests: `http://host:port/path`.
    pub fn url(&self) -> String {
        let scheme = self.scheme.to_ascii_lowercase();
        let path = if self.path.starts_with('/') {
            self.path.clone()
        } else {
            format!("/{}", self.path)
        };
        format!("{scheme}://{}{path}", join_host_port(&self.host, self.port))
    }
}

/// Runs the probe, bounded by `timeout`.
pub async fn probe(request: &HttpProbe, timeout: Duration) -> ProbeResult {
    let url = request.url();
    if !request.scheme.eq_ignore_ascii_case("HTTP") {
        return ProbeResult::Failure(format!(
            "Get {url:?}: scheme {} is not supported by this node's prober",
            request.scheme
        ));
    }
    match tokio::time::timeout(timeout, follow(request, &url)).await {
        Ok(Ok(result)) => result,
        Ok(Err(message)) => ProbeResult::Failure(format!("Get {url:?}: {message}")),
        Err(_) => ProbeResult::Failure(format!(
            "Get {url:?}: context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
        )),
    }
}

/// GETs `url`, following same-host redirects; `Err` carries a transport
/// error's words.
async fn follow(request: &HttpProbe, url: &str) -> Result<ProbeResult, String> {
    let mut uri: Uri = url.parse().map_err(|e| format!("invalid URL: {e}"))?;
    let original_host = uri.host().unwrap_or_default().to_ascii_lowercase();
    let custom_host = request
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("host"))
        .map(|(_, value)| value.clone());
    let mut host_header = custom_host;
    let mut redirects = 0;
    loop {
        let (status, location, body) = get(&uri, &request.headers, host_header.as_deref()).await?;
        let is_redirect = matches!(
            status,
            StatusCode::MOVED_PERMANENTLY
                | StatusCode::FOUND
                | StatusCode::SEE_OTHER
                | StatusCode::TEMPORARY_REDIRECT
                | StatusCode::PERMANENT_REDIRECT
        );
        if let (true, Some(location)) = (is_redirect, location) {
            let (next, relative) = resolve_location(&uri, &location)?;
            if next.host().unwrap_or_default().to_ascii_lowercase() == original_host {
                if redirects >= MAX_REDIRECTS {
                    return Err(format!("stopped after {MAX_REDIRECTS} redirects"));
                }
                redirects += 1;
                // Like Go's client, a custom Host survives only a relative
                // redirect.
                if !relative {
                    host_header = None;
                }
                uri = next;
                continue;
            }
        }
        return Ok(classify(status, &body));
    }
}

/// Kubernetes' reading of the final response.
fn classify(status: StatusCode, body: &str) -> ProbeResult {
    let code = status.as_u16();
    if (200..400).contains(&code) {
        if code >= 300 {
            ProbeResult::Warning(format!("Probe terminated redirects, Response body: {body}"))
        } else {
            ProbeResult::Success
        }
    } else {
        // Kubernetes keeps the body out of this message on purpose (it
        // lands in events that anyone reading the namespace can see).
        ProbeResult::Failure(format!("HTTP probe failed with statuscode: {code}"))
    }
}

/// One GET over a new connection: status, `Location`, and up to 10 KiB of
/// the body.
async fn get(
    uri: &Uri,
    headers: &[(String, String)],
    host_header: Option<&str>,
) -> Result<(StatusCode, Option<String>, String), String> {
    let host = uri.host().ok_or("URL has no host")?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = uri.port_u16().unwrap_or(80);
    let address = join_host_port(host, port);
    let stream = TcpStream::connect((host, port))
        .await
        .map_err(|e| format!("dial tcp {address}: connect: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    let _connection = AbortOnDrop(tokio::spawn(connection));

    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut builder = Request::get(path);
    let mut has_user_agent = false;
    let mut has_accept = false;
    for (name, value) in headers {
        let name =
            HeaderName::from_bytes(name.as_bytes()).map_err(|e| format!("header {name:?}: {e}"))?;
        if name == HOST {
            continue;
        }
        has_user_agent |= name == USER_AGENT;
        has_accept |= name == ACCEPT;
        let value = HeaderValue::from_str(value).map_err(|e| format!("header {name}: {e}"))?;
        builder = builder.header(name, value);
    }
    if !has_user_agent {
        builder = builder.header(USER_AGENT, KUBE_PROBE_USER_AGENT);
    }
    if !has_accept {
        builder = builder.header(ACCEPT, "*/*");
    }
    let authority = uri
        .authority()
        .map(|a| a.as_str())
        .unwrap_or(address.as_str());
    let request = builder
        .header(HOST, host_header.unwrap_or(authority))
        .header(CONNECTION, "close")
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;

    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut body = response.into_body();
    let mut bytes = Vec::new();
    while bytes.len() < MAX_BODY_BYTES {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    bytes.extend_from_slice(data);
                }
            }
            // A body cut short after the status is not the probe's concern:
            // the status decides.
            Some(Err(_)) | None => break,
        }
    }
    bytes.truncate(MAX_BODY_BYTES);
    Ok((
        status,
        location,
        String::from_utf8_lossy(&bytes).into_owned(),
    ))
}

/// The absolute URI a `Location` header points at, and whether it was
/// relative (had no host of its own).
///
/// Hand-written because `http::Uri` does not resolve references; the rules
/// are RFC 3986 §5.2 for the forms servers send (absolute, `//host/...`,
/// `/path`, `path`).
fn resolve_location(base: &Uri, location: &str) -> Result<(Uri, bool), String> {
    let scheme = base.scheme_str().unwrap_or("http");
    let authority = base.authority().map(|a| a.as_str()).unwrap_or_default();
    let (absolute, relative) = if location.contains("://") {
        (location.to_string(), false)
    } else if let Some(rest) = location.strip_prefix("//") {
        (format!("{scheme}://{rest}"), false)
    } else if location.starts_with('/') {
        (format!("{scheme}://{authority}{location}"), true)
    } else {
        let path = base.path();
        let directory = &path[..path.rfind('/').map(|i| i + 1).unwrap_or(0)];
        let directory = if directory.is_empty() { "/" } else { directory };
        (format!("{scheme}://{authority}{directory}{location}"), true)
    };
    let uri: Uri = absolute
        .parse()
        .map_err(|e| format!("failed to follow redirect to {location:?}: {e}"))?;
    Ok((uri, relative))
}

/// Ends the connection task when the probe is done or cancelled by its
/// timeout, so no probe leaves a socket behind.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A raw HTTP/1.1 server: answers each request by its path with the
    /// response `respond` gives (None: never answers), and keeps every
    /// request head.
    async fn serve(
        respond: impl Fn(&str, u16) -> Option<String> + Send + Sync + 'static,
    ) -> (u16, Arc<Mutex<Vec<String>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let seen = heads.clone();
        let respond = Arc::new(respond);
        tokio::spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                let seen = seen.clone();
                let respond = respond.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.ends_with(b"\r\n\r\n") {
                        let n = stream.read(&mut buf).await.unwrap();
                        if n == 0 {
                            return;
                        }
                        head.extend_from_slice(&buf[..n]);
                    }
                    let head = String::from_utf8(head).unwrap();
                    let path = head.split(' ').nth(1).unwrap().to_string();
                    seen.lock().unwrap().push(head);
                    match respond(&path, port) {
                        Some(response) => stream.write_all(response.as_bytes()).await.unwrap(),
                        None => std::future::pending::<()>().await,
                    }
                });
            }
        });
        (port, heads)
    }

    fn response(status: &str, extra: &str, body: &str) -> String {
        format!(
            "HTTP/1.1 {status}\r\n{extra}Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
    }

    fn request(port: u16, path: &str) -> HttpProbe {
        HttpProbe {
            scheme: "HTTP".into(),
            host: "127.0.0.1".into(),
            port,
            path: path.into(),
            headers: vec![],
        }
    }

    #[tokio::test]
    async fn ok_status_succeeds_and_sends_kubernetes_headers() {
        let (port, heads) = serve(|_, _| Some(response("200 OK", "", "ok"))).await;
        let mut probe_request = request(port, "healthz?full=1");
        probe_request.headers = vec![("X-Custom".into(), "yes".into())];
        assert_eq!(
            probe(&probe_request, Duration::from_secs(1)).await,
            ProbeResult::Success
        );
        let head = heads.lock().unwrap()[0].to_ascii_lowercase();
        assert!(
            head.starts_with("get /healthz?full=1 http/1.1\r\n"),
            "{head}"
        );
        assert!(head.contains("user-agent: kube-probe/1.33\r\n"), "{head}");
        assert!(head.contains("accept: */*\r\n"), "{head}");
        assert!(head.contains("x-custom: yes\r\n"), "{head}");
        assert!(
            head.contains(&format!("host: 127.0.0.1:{port}\r\n")),
            "{head}"
        );
    }

    #[tokio::test]
    async fn custom_user_agent_and_host_replace_the_defaults() {
        let (port, heads) = serve(|_, _| Some(response("204 No Content", "", ""))).await;
        let mut probe_request = request(port, "/");
        probe_request.headers = vec![
            ("User-Agent".into(), "mine".into()),
            ("Host".into(), "app.example".into()),
        ];
        assert_eq!(
            probe(&probe_request, Duration::from_secs(1)).await,
            ProbeResult::Success
        );
        let head = heads.lock().unwrap()[0].to_ascii_lowercase();
        assert!(
            head.contains("user-agent: mine\r\n") && !head.contains("kube-probe"),
            "{head}"
        );
        assert!(head.contains("host: app.example\r\n"), "{head}");
    }

    #[tokio::test]
    async fn server_error_fails_without_the_body() {
        let (port, _) = serve(|_, _| Some(response("503 Service Unavailable", "", "secret"))).await;
        let result = probe(&request(port, "/"), Duration::from_secs(1)).await;
        assert_eq!(
            result,
            ProbeResult::Failure("HTTP probe failed with statuscode: 503".into())
        );
    }

    #[tokio::test]
    async fn same_host_redirect_is_followed() {
        let (port, heads) = serve(|path, _| {
            Some(if path == "/old" {
                response("302 Found", "Location: /new\r\n", "")
            } else {
                response("500 Internal Server Error", "", "")
            })
        })
        .await;
        let result = probe(&request(port, "/old"), Duration::from_secs(1)).await;
        assert_eq!(
            result,
            ProbeResult::Failure("HTTP probe failed with statuscode: 500".into())
        );
        assert_eq!(heads.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn redirect_to_another_host_is_a_warning() {
        let (port, heads) = serve(|_, port| {
            Some(response(
                "301 Moved Permanently",
                &format!("Location: http://localhost:{port}/\r\n"),
                "moved",
            ))
        })
        .await;
        let result = probe(&request(port, "/"), Duration::from_secs(1)).await;
        assert_eq!(
            result,
            ProbeResult::Warning("Probe terminated redirects, Response body: moved".into())
        );
        assert!(result.is_success());
        assert_eq!(
            heads.lock().unwrap().len(),
            1,
            "the other host is not contacted"
        );
    }

    #[tokio::test]
    async fn endless_same_host_redirects_stop_after_ten() {
        let (port, heads) = serve(|_, _| {
            Some(response(
                "307 Temporary Redirect",
                "Location: /again\r\n",
                "",
            ))
        })
        .await;
        match probe(&request(port, "/"), Duration::from_secs(2)).await {
            ProbeResult::Failure(message) => {
                assert!(message.ends_with("stopped after 10 redirects"), "{message}")
            }
            other => panic!("expected failure, got {other:?}"),
        }
        assert_eq!(heads.lock().unwrap().len(), 11);
    }

    #[tokio::test]
    async fn silent_server_times_out() {
        let (port, _) = serve(|_, _| None).await;
        match probe(&request(port, "/"), Duration::from_secs(1)).await {
            ProbeResult::Failure(message) => {
                assert!(message.contains("context deadline exceeded"), "{message}");
                assert!(
                    message.starts_with(&format!("Get \"http://127.0.0.1:{port}/\"")),
                    "{message}"
                );
            }
            other => panic!("expected failure, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn refused_connection_fails() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        match probe(&request(port, "/"), Duration::from_secs(1)).await {
            ProbeResult::Failure(message) => assert!(message.contains("connect:"), "{message}"),
            other => panic!("expected failure, got {other:?}"),
        }
    }

    #[test]
    fn relative_locations_resolve_against_the_request() {
        let base: Uri = "http://10.0.0.1:8080/a/b?x".parse().unwrap();
        let (uri, relative) = resolve_location(&base, "c").unwrap();
        assert_eq!(
            (uri.to_string().as_str(), relative),
            ("http://10.0.0.1:8080/a/c", true)
        );
        let (uri, relative) = resolve_location(&base, "//other:1/z").unwrap();
        assert_eq!(
            (uri.to_string().as_str(), relative),
            ("http://other:1/z", false)
        );
    }
}

//! `?watch=true`: a stream of `{"type": ..., "object": ...}` lines, as
//! client-go and `kubectl get -w` read them.

use std::time::Duration;

use axum::body::Body;
use axum::http::header;
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use serde_json::{json, Value};

use super::{Api, Params};
use crate::error::{ApiError, Result};
use crate::metrics::{WatchGuard, WatchLabels};
use crate::object;
use crate::registry::Resource;
use crate::selector;
use crate::storage::WatchEventKind;
use crate::table;

/// Serves a watch from the watch cache. Without a resourceVersion (or with
/// "0") it first sends the current objects as ADDED, as Kubernetes does;
/// with one, exactly the changes after it, or 410 Gone when that version is
/// older than the cache's window.
pub async fn serve(
    api: &Api,
    resource: &'static Resource,
    ns: Option<&str>,
    params: &Params,
    as_table: bool,
) -> Result<Response> {
    let include = params.get("includeObject").map(String::from);
    let line = move |kind: &str, value: &Value| -> Bytes {
        if as_table && kind != "ERROR" && kind != "BOOKMARK" {
            let rv = object::resource_version(value).unwrap_or("").to_string();
            let t = table::table(
                resource,
                std::slice::from_ref(value),
                json!({"resourceVersion": rv}),
                include.as_deref(),
            );
            line(kind, &t)
        } else {
            line(kind, value)
        }
    };
    let (labels, fields) = selector::from_params(params, resource)?;
    let keep = move |v: &Value| labels.matches_labels(v) && fields.matches_fields(v);
    let prefix = object::prefix(resource, ns);
    let in_scope = move |key: &[u8]| key.starts_with(&prefix);
    let rv = params.get("resourceVersion").unwrap_or("");
    let from = if rv.is_empty() || rv == "0" {
        None
    } else {
        Some(
            rv.parse::<i64>()
                .map_err(|_| ApiError::BadRequest(format!("invalid resource version {rv:?}")))?,
        )
    };
    let subscription = api.cache.watch(resource, from).await?;
    let initial: Vec<Bytes> = subscription
        .initial
        .iter()
        .filter(|e| in_scope(&e.key) && keep(&e.object))
        .map(|e| line("ADDED", &e.object))
        .collect();
    let timeout = params
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map(Duration::from_secs);
    let bookmarks = matches!(params.get("allowWatchBookmarks"), Some("true" | "1"));
    let changes = subscription.events;
    let bookmark_kind = resource.kind;
    let bookmark_version = resource.api_version();
    let gauge = api
        .metrics
        .watchers
        .get_or_create(&WatchLabels {
            group: resource.group.to_string(),
            resource: resource.plural.to_string(),
        })
        .clone();
    gauge.inc();
    let guard = WatchGuard(gauge);
    let changes = changes
        .map(move |event| -> Option<Bytes> {
            // Open as long as the stream is.
            let _open = &guard;
            match event {
                Ok(e) => Some(match e.kind {
                    WatchEventKind::Bookmark if bookmarks => line(
                        "BOOKMARK",
                        &json!({
                            "kind": bookmark_kind,
                            "apiVersion": bookmark_version,
                            "metadata": {"resourceVersion": e.revision.to_string()},
                        }),
                    ),
                    WatchEventKind::Bookmark => Bytes::new(),
                    _ if !in_scope(&e.key) || !keep(&e.object) => Bytes::new(),
                    WatchEventKind::Added => line("ADDED", &e.object),
                    WatchEventKind::Modified => line("MODIFIED", &e.object),
                    WatchEventKind::Deleted => line("DELETED", &e.object),
                }),
                Err(e) => Some(line("ERROR", &e.status())),
            }
        })
        // An ERROR event ends the watch after it is sent.
        .scan(false, |ended, line| {
            if *ended {
                return futures::future::ready(None);
            }
            if let Some(l) = &line {
                *ended = l.starts_with(b"{\"type\":\"ERROR\"");
            }
            futures::future::ready(line)
        })
        .filter(|l| futures::future::ready(!l.is_empty()));
    let initial = futures::stream::iter(initial);
    let body = initial.chain(changes).map(Ok::<_, std::io::Error>);
    // `timeoutSeconds` bounds the whole watch; the client then re-watches
    // from the last resourceVersion it saw.
    let body = match timeout {
        Some(t) => Body::from_stream(body.take_until(tokio::time::sleep(t))),
        None => Body::from_stream(body),
    };
    Ok(Response::builder()
        .status(200)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .unwrap_or_default())
}

fn line(kind: &str, object: &Value) -> Bytes {
    let mut bytes =
        serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
    bytes.push(b'\n');
    Bytes::from(bytes)
}

/// The events of a watch response body, one newline-delimited JSON line
/// each (however the body's chunks fall), for front ends that re-encode
/// them.
pub fn body_lines(body: Body) -> impl futures::Stream<Item = std::io::Result<Vec<u8>>> + Send {
    body.into_data_stream()
        .scan(Vec::<u8>::new(), |pending, chunk| {
            let out: Vec<std::io::Result<Vec<u8>>> = match chunk {
                Ok(bytes) => {
                    pending.extend_from_slice(&bytes);
                    let mut lines = Vec::new();
                    while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                        lines.push(Ok(pending.drain(..=end).collect()));
                    }
                    lines
                }
                Err(e) => vec![Err(std::io::Error::other(e))],
            };
            futures::future::ready(Some(futures::stream::iter(out)))
        })
        .flatten()
}

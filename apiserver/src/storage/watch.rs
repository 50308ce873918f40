//! Watching a key prefix from a revision, as a stream of Kubernetes-shaped
//! events.

use berth_proto::etcdserverpb::{
    watch_request, WatchCreateRequest, WatchProgressRequest, WatchRequest,
};
use berth_proto::mvccpb::event::EventType;
use futures::{Stream, StreamExt};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::{prefix_end, store_error, Item, Storage};
use crate::error::{ApiError, Result};

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchEventKind {
    Added,
    Modified,
    Deleted,
    /// No change: every change up to `item.mod_revision` was delivered
    /// (from the store's progress notification).
    Bookmark,
}

/// One change; for a deletion, `item` is the object as it was, at the
/// deletion's revision.
#[derive(Debug, Clone)]
pub struct WatchEvent {
    pub kind: WatchEventKind,
    pub item: Item,
}

impl Storage {
    /// Every change under `prefix` after `revision`, in order; ends with
    /// [`ApiError::Gone`] when `revision` is compacted. With
    /// `progress_every`, a [`WatchEventKind::Bookmark`] follows each of the
    /// store's answers to a progress request sent that often.
    pub async fn watch(
        &self,
        prefix: &[u8],
        revision: i64,
        progress_every: Option<std::time::Duration>,
    ) -> Result<impl Stream<Item = Result<WatchEvent>> + Send + 'static> {
        let (tx, rx) = mpsc::channel(1);
        let create = WatchRequest {
            request_union: Some(watch_request::RequestUnion::CreateRequest(
                WatchCreateRequest {
                    key: prefix.to_vec(),
                    range_end: prefix_end(prefix),
                    start_revision: revision + 1,
                    prev_kv: true,
                    ..Default::default()
                },
            )),
        };
        tx.send(create)
            .await
            .map_err(|_| ApiError::Store("watch request not sent".into()))?;
        let stream = self
            .watch_client()
            .watch(ReceiverStream::new(rx))
            .await
            .map_err(store_error)?
            .into_inner();
        if let Some(every) = progress_every {
            let progress = tx.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let request = WatchRequest {
                        request_union: Some(watch_request::RequestUnion::ProgressRequest(
                            WatchProgressRequest {},
                        )),
                    };
                    // Fails once the watch is gone.
                    if progress.send(request).await.is_err() {
                        break;
                    }
                }
            });
        }
        // The request sender lives as long as the stream, or the store would
        // see the watch's request side close.
        let events = stream
            .map(move |resp| {
                let _keep = &tx;
                let resp = resp.map_err(store_error)?;
                if resp.canceled {
                    return Err(ApiError::Gone(format!(
                        "the requested resourceVersion is compacted (oldest available {})",
                        resp.compact_revision
                    )));
                }
                if resp.events.is_empty() && !resp.created {
                    let revision = resp.header.map(|h| h.revision).unwrap_or(0);
                    return Ok(vec![WatchEvent {
                        kind: WatchEventKind::Bookmark,
                        item: Item {
                            key: Vec::new(),
                            value: Vec::new(),
                            mod_revision: revision,
                        },
                    }]);
                }
                Ok(resp
                    .events
                    .into_iter()
                    .filter_map(|e| {
                        let kv = e.kv?;
                        let deleted = e.r#type == EventType::Delete as i32;
                        if deleted {
                            let prev = e.prev_kv?;
                            return Some(WatchEvent {
                                kind: WatchEventKind::Deleted,
                                item: Item {
                                    key: kv.key,
                                    value: prev.value,
                                    mod_revision: kv.mod_revision,
                                },
                            });
                        }
                        let kind = if kv.create_revision == kv.mod_revision {
                            WatchEventKind::Added
                        } else {
                            WatchEventKind::Modified
                        };
                        Some(WatchEvent {
                            kind,
                            item: Item {
                                key: kv.key,
                                value: kv.value,
                                mod_revision: kv.mod_revision,
                            },
                        })
                    })
                    .collect::<Vec<_>>())
            })
            .flat_map(|batch: Result<Vec<WatchEvent>>| {
                let items: Vec<Result<WatchEvent>> = match batch {
                    Ok(events) => events.into_iter().map(Ok).collect(),
                    Err(e) => vec![Err(e)],
                };
                futures::stream::iter(items)
            });
        Ok(events)
    }
}

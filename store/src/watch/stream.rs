//! One client's watch stream: serves all of its watchers in order, so
//! responses on a stream never interleave out of order.
//!
//! The stream is driven by whoever sends its responses (the gRPC response
//! body): each time the client can take a response, the stream hands out
//! one it has ready, or waits for a request, a new revision or a progress
//! tick to make some. No task or channel sits between the hub and the
//! connection, so a new revision costs each stream one wake-up, which is
//! what bounds event latency when thousands of watchers share a member.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use berth_proto::etcdserverpb::watch_request::RequestUnion;
use berth_proto::etcdserverpb::{ResponseHeader, WatchCreateRequest, WatchRequest, WatchResponse};
use futures::{FutureExt, Stream, StreamExt};
use tokio::sync::watch;
use tokio::time::{Interval, MissedTickBehavior};
use tonic::Status;

use super::hub::WatchHub;
use super::watcher::Watcher;
use crate::StoreError;

/// Makes response headers (cluster, member, term); the revision is set here.
pub type HeaderFn = Arc<dyn Fn() -> ResponseHeader + Send + Sync>;

/// Events per response at most (more only to finish a revision): bounds
/// memory per send and lets other watchers on the stream take turns.
const BATCH_EVENTS: usize = 1000;

/// The watch ID etcd answers stream-wide progress requests with.
const STREAM_WIDE_ID: i64 = -1;

/// etcd's message for a client-chosen ID already in use on the stream.
const DUPLICATE_ID: &str = "mvcc: duplicate watch ID provided on the WatchStream";

/// Responses of one stream, until the client goes away.
pub type ResponseStream =
    std::pin::Pin<Box<dyn Stream<Item = Result<WatchResponse, Status>> + Send + 'static>>;

/// Serves one stream until the client goes away.
pub(super) struct WatchStream {
    hub: Arc<WatchHub>,
    header: HeaderFn,
    /// Responses made and not yet handed out, in order.
    outbox: VecDeque<Result<WatchResponse, Status>>,
    /// Set once the stream has nothing more to say (after `outbox`).
    finished: bool,
    watchers: BTreeMap<i64, Watcher>,
    /// How many of `watchers` the hub has counted.
    counted: i64,
    next_id: i64,
    progress_pending: bool,
}

impl Drop for WatchStream {
    fn drop(&mut self) {
        self.hub.count_watchers(-self.counted);
    }
}

impl WatchStream {
    pub(super) fn new(hub: Arc<WatchHub>, header: HeaderFn) -> WatchStream {
        WatchStream {
            hub,
            header,
            outbox: VecDeque::new(),
            finished: false,
            watchers: BTreeMap::new(),
            counted: 0,
            next_id: 0,
            progress_pending: false,
        }
    }

    fn header(&self, revision: i64) -> Option<ResponseHeader> {
        let mut header = (self.header)();
        header.revision = revision;
        Some(header)
    }

    fn send(&mut self, response: WatchResponse) {
        self.outbox.push_back(Ok(response));
    }

    /// The stream of responses for requests from `inbound`.
    pub(super) fn serve<S>(self, inbound: S, progress_interval: Duration) -> ResponseStream
    where
        S: Stream<Item = Result<WatchRequest, Status>> + Unpin + Send + 'static,
    {
        let revisions = self.hub.subscribe();
        let mut ticker = tokio::time::interval_at(
            tokio::time::Instant::now() + progress_interval,
            progress_interval,
        );
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let state = (self, inbound, revisions, ticker);
        Box::pin(futures::stream::unfold(
            state,
            |(mut stream, mut inbound, mut revisions, mut ticker)| async move {
                loop {
                    if let Some(response) = stream.outbox.pop_front() {
                        return Some((response, (stream, inbound, revisions, ticker)));
                    }
                    if stream.finished {
                        return None;
                    }
                    stream.step(&mut inbound, &mut revisions, &mut ticker).await;
                }
            },
        ))
    }

    /// Waits for something to do and does it: a request, watchers behind
    /// the latest revision, or a progress tick. Responses go to the outbox.
    async fn step<S>(
        &mut self,
        inbound: &mut S,
        revisions: &mut watch::Receiver<i64>,
        ticker: &mut Interval,
    ) where
        S: Stream<Item = Result<WatchRequest, Status>> + Unpin,
    {
        let latest = self.hub.current_revision();
        if self.watchers.values().any(|w| !w.synced(latest)) {
            // Catching up: still take a request that is already here (a
            // cancel, say) before the next batch.
            match inbound.next().now_or_never() {
                Some(Some(Ok(request))) => self.handle(request),
                Some(_) => self.finished = true,
                None => self.deliver(latest),
            }
        } else {
            let wants_progress = self.watchers.values().any(|w| w.progress_notify);
            tokio::select! {
                biased;
                request = inbound.next() => match request {
                    Some(Ok(request)) => self.handle(request),
                    // The client closed its side or the stream broke.
                    _ => self.finished = true,
                },
                changed = revisions.changed() => match changed {
                    Ok(()) => {
                        let latest = self.hub.current_revision();
                        self.deliver(latest);
                    }
                    Err(_) => self.finished = true,
                },
                _ = ticker.tick(), if wants_progress => {
                    self.notify_progress(self.hub.current_revision());
                }
            }
        }
        if self.progress_pending {
            let latest = self.hub.current_revision();
            if self.watchers.values().all(|w| w.synced(latest)) {
                self.progress_pending = false;
                let response = WatchResponse {
                    header: self.header(latest),
                    watch_id: STREAM_WIDE_ID,
                    ..Default::default()
                };
                self.send(response);
            }
        }
    }

    /// Brings the hub's watcher count up to date with this stream's.
    fn sync_count(&mut self) {
        let now = self.watchers.len() as i64;
        self.hub.count_watchers(now - self.counted);
        self.counted = now;
    }

    fn handle(&mut self, request: WatchRequest) {
        self.handle_request(request);
        self.sync_count();
    }

    fn handle_request(&mut self, request: WatchRequest) {
        match request.request_union {
            Some(RequestUnion::CreateRequest(create)) => self.create(create),
            Some(RequestUnion::CancelRequest(cancel))
                if self.watchers.remove(&cancel.watch_id).is_some() =>
            {
                let response = WatchResponse {
                    header: self.header(self.hub.current_revision()),
                    watch_id: cancel.watch_id,
                    canceled: true,
                    ..Default::default()
                };
                self.send(response);
            }
            Some(RequestUnion::CancelRequest(_)) => {}
            Some(RequestUnion::ProgressRequest(_)) => self.progress_pending = true,
            None => {}
        }
    }

    fn create(&mut self, create: WatchCreateRequest) {
        let current = self.hub.current_revision();
        let id = if create.watch_id != 0 {
            create.watch_id
        } else {
            while self.watchers.contains_key(&self.next_id) {
                self.next_id += 1;
            }
            self.next_id
        };
        if (create.watch_id != 0 && self.watchers.contains_key(&id)) || id < 0 {
            let response = WatchResponse {
                header: self.header(current),
                watch_id: -1,
                created: true,
                canceled: true,
                cancel_reason: DUPLICATE_ID.to_string(),
                ..Default::default()
            };
            return self.send(response);
        }
        let watcher = Watcher::new(id, &create, current);
        let created = WatchResponse {
            header: self.header(current),
            watch_id: id,
            created: true,
            ..Default::default()
        };
        self.send(created);
        let compacted = self.hub.compact_revision();
        if watcher.next < compacted {
            return self.send_compacted(id, compacted);
        }
        self.watchers.insert(id, watcher);
    }

    fn send_compacted(&mut self, id: i64, compacted: i64) {
        let response = WatchResponse {
            header: self.header(self.hub.current_revision()),
            watch_id: id,
            canceled: true,
            compact_revision: compacted,
            cancel_reason: StoreError::Compacted
                .to_string()
                .replace("etcdserver: ", ""),
            ..Default::default()
        };
        self.send(response);
    }

    /// Gives every watcher that is behind one batch, in ID order.
    fn deliver(&mut self, latest: i64) {
        let ids: Vec<i64> = self.watchers.keys().copied().collect();
        for id in ids {
            let Some(watcher) = self.watchers.get(&id) else {
                continue;
            };
            if watcher.synced(latest) {
                continue;
            }
            match self.hub.read(
                watcher.next,
                latest,
                &watcher.key,
                &watcher.range_end,
                BATCH_EVENTS,
            ) {
                Ok(batch) => {
                    let mut events = watcher.select(batch.events);
                    if let Some(w) = self.watchers.get_mut(&id) {
                        w.next = batch.through + 1;
                        w.plant_dropped_event(&mut events);
                    }
                    if !events.is_empty() {
                        let response = WatchResponse {
                            header: self.header(latest),
                            watch_id: id,
                            events,
                            ..Default::default()
                        };
                        self.send(response);
                    }
                }
                Err(StoreError::Compacted) => {
                    self.watchers.remove(&id);
                    self.sync_count();
                    self.send_compacted(id, self.hub.compact_revision());
                }
                Err(e) => {
                    tracing::warn!(error = %e, watch_id = id, "watch history read failed");
                    self.outbox.push_back(Err(Status::from(e)));
                    self.finished = true;
                    return;
                }
            }
        }
    }

    /// Progress notifications for synced watchers that asked for them.
    fn notify_progress(&mut self, latest: i64) {
        let ids: Vec<i64> = self
            .watchers
            .values()
            .filter(|w| w.progress_notify && w.synced(latest))
            .map(|w| w.id)
            .collect();
        for id in ids {
            let response = WatchResponse {
                header: self.header(latest),
                watch_id: id,
                ..Default::default()
            };
            self.send(response);
        }
    }
}

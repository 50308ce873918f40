//! One client's watch stream: a task that serves all of its watchers in
//! order, so responses on a stream never interleave out of order.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use berth_proto::etcdserverpb::watch_request::RequestUnion;
use berth_proto::etcdserverpb::{ResponseHeader, WatchCreateRequest, WatchRequest, WatchResponse};
use futures::{Stream, StreamExt};
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;
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

type Outbound = mpsc::Sender<Result<WatchResponse, Status>>;

/// Serves one stream until the client goes away.
pub(super) struct WatchStream {
    hub: Arc<WatchHub>,
    header: HeaderFn,
    out: Outbound,
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
    pub(super) fn new(hub: Arc<WatchHub>, header: HeaderFn, out: Outbound) -> WatchStream {
        WatchStream {
            hub,
            header,
            out,
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

    async fn send(&self, response: WatchResponse) -> Result<(), ()> {
        self.out.send(Ok(response)).await.map_err(|_| ())
    }

    pub(super) async fn run<S>(mut self, mut inbound: S, progress_interval: Duration)
    where
        S: Stream<Item = Result<WatchRequest, Status>> + Unpin,
    {
        let mut revisions = self.hub.subscribe();
        let mut ticker = tokio::time::interval_at(
            tokio::time::Instant::now() + progress_interval,
            progress_interval,
        );
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let latest = self.hub.current_revision();
            let behind = self.watchers.values().any(|w| !w.synced(latest));
            tokio::select! {
                biased;
                request = inbound.next() => match request {
                    Some(Ok(request)) => {
                        if self.handle(request).await.is_err() {
                            return;
                        }
                    }
                    // The client closed its side or the stream broke.
                    _ => return,
                },
                _ = std::future::ready(()), if behind => {
                    if self.deliver(latest).await.is_err() {
                        return;
                    }
                }
                changed = revisions.changed() => if changed.is_err() { return },
                _ = ticker.tick() => {
                    if self.notify_progress(latest).await.is_err() {
                        return;
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
                    if self.send(response).await.is_err() {
                        return;
                    }
                }
            }
        }
    }

    /// Brings the hub's watcher count up to date with this stream's.
    fn sync_count(&mut self) {
        let now = self.watchers.len() as i64;
        self.hub.count_watchers(now - self.counted);
        self.counted = now;
    }

    async fn handle(&mut self, request: WatchRequest) -> Result<(), ()> {
        let result = self.handle_request(request).await;
        self.sync_count();
        result
    }

    async fn handle_request(&mut self, request: WatchRequest) -> Result<(), ()> {
        match request.request_union {
            Some(RequestUnion::CreateRequest(create)) => self.create(create).await,
            Some(RequestUnion::CancelRequest(cancel)) => {
                if self.watchers.remove(&cancel.watch_id).is_some() {
                    let response = WatchResponse {
                        header: self.header(self.hub.current_revision()),
                        watch_id: cancel.watch_id,
                        canceled: true,
                        ..Default::default()
                    };
                    self.send(response).await?;
                }
                Ok(())
            }
            Some(RequestUnion::ProgressRequest(_)) => {
                self.progress_pending = true;
                Ok(())
            }
            None => Ok(()),
        }
    }

    async fn create(&mut self, create: WatchCreateRequest) -> Result<(), ()> {
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
            return self.send(response).await;
        }
        let watcher = Watcher::new(id, &create, current);
        let created = WatchResponse {
            header: self.header(current),
            watch_id: id,
            created: true,
            ..Default::default()
        };
        self.send(created).await?;
        let compacted = self.hub.compact_revision();
        if watcher.next < compacted {
            return self.send_compacted(id, compacted).await;
        }
        self.watchers.insert(id, watcher);
        Ok(())
    }

    async fn send_compacted(&self, id: i64, compacted: i64) -> Result<(), ()> {
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
        self.send(response).await
    }

    /// Gives every watcher that is behind one batch, in ID order.
    async fn deliver(&mut self, latest: i64) -> Result<(), ()> {
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
                        self.send(response).await?;
                    }
                }
                Err(StoreError::Compacted) => {
                    self.watchers.remove(&id);
                    self.sync_count();
                    self.send_compacted(id, self.hub.compact_revision()).await?;
                }
                Err(e) => {
                    tracing::warn!(error = %e, watch_id = id, "watch history read failed");
                    let _ = self.out.send(Err(Status::from(e))).await;
                    return Err(());
                }
            }
        }
        Ok(())
    }

    /// Progress notifications for synced watchers that asked for them.
    async fn notify_progress(&self, latest: i64) -> Result<(), ()> {
        for watcher in self.watchers.values() {
            if watcher.progress_notify && watcher.synced(latest) {
                let response = WatchResponse {
                    header: self.header(latest),
                    watch_id: watcher.id,
                    ..Default::default()
                };
                self.send(response).await?;
            }
        }
        Ok(())
    }
}

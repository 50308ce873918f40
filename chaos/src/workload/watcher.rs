//! One watcher: a watch on every key, resumed from the next revision it has
//! not seen whenever its stream breaks (and, now and then, on purpose).

use std::time::Duration;

use berth_proto::etcdserverpb::watch_client::WatchClient;
use berth_proto::etcdserverpb::{
    watch_request, WatchCreateRequest, WatchProgressRequest, WatchRequest, WatchResponse,
};
use berth_proto::mvccpb::event::EventType;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::{now, Plan, Recorder};
use crate::cluster::client_url;
use crate::history::{WatchEvent, WatchRecord, WatchRecordKind};

/// How often a watcher asks for a progress notification.
const PROGRESS_EVERY: Duration = Duration::from_millis(700);
/// A stream silent this long (progress requests unanswered) is given up.
const STALL: Duration = Duration::from_secs(4);

/// Runs watcher `id` against member `id % members` until the plan's stop
/// time. Even watchers start from revision 1, odd ones from "now".
pub async fn run_watcher(id: usize, seed: u64, plan: Plan, recorder: Recorder) -> turmoil::Result {
    let member = id % plan.members;
    let channel = crate::net::channel(&client_url(member))?;
    let mut rng = StdRng::seed_from_u64(seed);
    tokio::time::sleep(plan.start).await;
    let record = |kind| {
        recorder.watch(WatchRecord {
            watcher: id,
            member,
            at: now(),
            kind,
        })
    };
    // The next revision to ask for; 0 until the first stream says where "now" is.
    let mut next: i64 = if id.is_multiple_of(2) { 1 } else { 0 };
    while now() < plan.stop {
        let (tx, rx) = mpsc::channel(4);
        let create = WatchRequest {
            request_union: Some(watch_request::RequestUnion::CreateRequest(
                WatchCreateRequest {
                    key: vec![0],
                    range_end: vec![0],
                    start_revision: next,
                    progress_notify: true,
                    ..Default::default()
                },
            )),
        };
        let _ = tx.send(create).await;
        record(WatchRecordKind::Started {
            start_revision: next,
        });
        let mut client = WatchClient::new(channel.clone());
        let opened = tokio::time::timeout(STALL, client.watch(ReceiverStream::new(rx))).await;
        let mut stream = match opened {
            Ok(Ok(s)) => s.into_inner(),
            Ok(Err(status)) => {
                record(WatchRecordKind::Broken {
                    reason: status.message().to_string(),
                });
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            Err(_) => {
                record(WatchRecordKind::Broken {
                    reason: "watch did not open".to_string(),
                });
                continue;
            }
        };
        // Streams are dropped on purpose after a random while, to exercise
        // resuming from a revision.
        let lifetime = Duration::from_millis(rng.gen_range(1_000..6_000));
        let opened_at = now();
        let mut last_heard = now();
        let reason = loop {
            if now() >= plan.stop || now() - opened_at >= lifetime {
                break "dropped by the watcher".to_string();
            }
            if now() - last_heard >= STALL {
                break "stalled".to_string();
            }
            match tokio::time::timeout(PROGRESS_EVERY, stream.message()).await {
                Err(_) => {
                    let progress = WatchRequest {
                        request_union: Some(watch_request::RequestUnion::ProgressRequest(
                            WatchProgressRequest {},
                        )),
                    };
                    let _ = tx.try_send(progress);
                }
                Ok(Err(status)) => break status.message().to_string(),
                Ok(Ok(None)) => break "stream ended".to_string(),
                Ok(Ok(Some(resp))) => {
                    last_heard = now();
                    match observe(&resp, &mut next) {
                        Some(kind @ WatchRecordKind::Canceled { .. }) => {
                            record(kind);
                            break "canceled".to_string();
                        }
                        Some(kind) => record(kind),
                        None => {}
                    }
                }
            }
        };
        record(WatchRecordKind::Broken { reason });
    }
    Ok(())
}

/// Turns a response into a record, advancing `next` past what it delivered.
fn observe(resp: &WatchResponse, next: &mut i64) -> Option<WatchRecordKind> {
    let revision = resp.header.as_ref().map(|h| h.revision).unwrap_or(0);
    if resp.canceled {
        // Canceled because the start was compacted: what remains begins at
        // the compaction, which is where an etcd client resumes.
        if resp.compact_revision > 0 {
            *next = resp.compact_revision;
        }
        return Some(WatchRecordKind::Canceled {
            compact_revision: resp.compact_revision,
            reason: resp.cancel_reason.clone(),
        });
    }
    if resp.created {
        if *next == 0 {
            *next = revision + 1;
        }
        return Some(WatchRecordKind::Created { revision });
    }
    if resp.events.is_empty() {
        *next = (*next).max(revision + 1);
        return Some(WatchRecordKind::Progress { revision });
    }
    let events: Vec<WatchEvent> = resp
        .events
        .iter()
        .map(|e| {
            let kv = e.kv.clone().unwrap_or_default();
            WatchEvent {
                revision: kv.mod_revision,
                key: String::from_utf8_lossy(&kv.key).into_owned(),
                put: e.r#type == EventType::Put as i32,
                value: String::from_utf8_lossy(&kv.value).into_owned(),
            }
        })
        .collect();
    if let Some(last) = events.last() {
        *next = (*next).max(last.revision + 1);
    }
    Some(WatchRecordKind::Events { revision, events })
}

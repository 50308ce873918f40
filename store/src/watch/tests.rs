//! Watch behaviour against a real store, through the service's stream API.

use std::sync::Arc;
use std::time::Duration;

use berth_proto::etcdserverpb::watch_request::RequestUnion;
use berth_proto::etcdserverpb::{
    CompactionRequest, PutRequest, ResponseHeader, WatchCancelRequest, WatchCreateRequest,
    WatchProgressRequest, WatchRequest, WatchResponse,
};
use berth_proto::raft::internal_request::Request;
use berth_proto::raft::InternalRequest;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;
use tonic::Status;

use super::{HeaderFn, WatchHub, WatchService};
use crate::apply::ApplyObserver;
use crate::mvcc::KvStore;

type Requests = mpsc::Sender<Result<WatchRequest, Status>>;
type Responses = super::ResponseStream;

struct Fixture {
    _dir: tempfile::TempDir,
    kv: KvStore,
    hub: Arc<WatchHub>,
    service: WatchService,
}

fn fixture(ring: usize) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let kv = KvStore::open(dir.path()).unwrap();
    let hub = WatchHub::with_capacity(kv.clone(), ring);
    let header: HeaderFn = Arc::new(|| ResponseHeader {
        cluster_id: 1,
        member_id: 2,
        ..Default::default()
    });
    let service = WatchService::new(hub.clone(), header, Duration::from_secs(600));
    Fixture {
        _dir: dir,
        kv,
        hub,
        service,
    }
}

impl Fixture {
    fn apply(&self, request: Request) {
        let applied = self
            .kv
            .apply(
                &InternalRequest {
                    request: Some(request),
                },
                &[],
            )
            .unwrap();
        self.hub.applied(&applied);
    }

    fn put(&self, key: &str, value: &str) {
        self.apply(Request::Put(PutRequest {
            key: key.into(),
            value: value.into(),
            ..Default::default()
        }));
    }

    fn open(&self) -> (Requests, Responses) {
        let (tx, rx) = mpsc::channel(16);
        (tx, self.service.serve(ReceiverStream::new(rx)))
    }
}

fn create(key: &str, end: &str, start: i64) -> Result<WatchRequest, Status> {
    Ok(WatchRequest {
        request_union: Some(RequestUnion::CreateRequest(WatchCreateRequest {
            key: key.into(),
            range_end: end.into(),
            start_revision: start,
            ..Default::default()
        })),
    })
}

async fn next(out: &mut Responses) -> WatchResponse {
    tokio::time::timeout(Duration::from_secs(5), out.next())
        .await
        .expect("a response")
        .expect("open")
        .expect("ok")
}

fn revisions(resp: &WatchResponse) -> Vec<i64> {
    resp.events
        .iter()
        .map(|e| e.kv.as_ref().unwrap().mod_revision)
        .collect()
}

#[tokio::test]
async fn a_watch_from_an_old_revision_gets_history_then_live_events_without_gap() {
    // A ring of two revisions: the catch-up must come from disk.
    let f = fixture(2);
    for i in 0..10 {
        f.put(&format!("k{i}"), "v"); // revisions 2..=11
    }
    let (tx, mut out) = f.open();
    tx.send(create("k", "l", 3)).await.unwrap();
    let created = next(&mut out).await;
    assert!(created.created);
    assert_eq!(created.header.as_ref().unwrap().revision, 11);
    assert_eq!(created.header.as_ref().unwrap().member_id, 2);
    let mut seen = Vec::new();
    while seen.len() < 9 {
        seen.extend(revisions(&next(&mut out).await));
    }
    assert_eq!(seen, (3..=11).collect::<Vec<_>>());
    f.put("k99", "live");
    assert_eq!(revisions(&next(&mut out).await), vec![12]);
}

#[tokio::test]
async fn several_watchers_on_one_stream_each_get_their_range() {
    let f = fixture(64);
    let (tx, mut out) = f.open();
    tx.send(create("a", "", 0)).await.unwrap();
    tx.send(create("b", "", 0)).await.unwrap();
    assert_eq!(next(&mut out).await.watch_id, 0);
    assert_eq!(next(&mut out).await.watch_id, 1);
    f.put("b", "1");
    f.put("a", "1");
    let first = next(&mut out).await;
    let second = next(&mut out).await;
    let mut got = vec![
        (first.watch_id, revisions(&first)),
        (second.watch_id, revisions(&second)),
    ];
    got.sort();
    assert_eq!(got, vec![(0, vec![3]), (1, vec![2])]);
}

#[tokio::test]
async fn a_watch_below_the_compacted_revision_is_canceled_with_it() {
    let f = fixture(64);
    for _ in 0..5 {
        f.put("k", "v");
    }
    f.apply(Request::Compaction(CompactionRequest {
        revision: 4,
        physical: false,
    }));
    let (tx, mut out) = f.open();
    tx.send(create("k", "", 2)).await.unwrap();
    assert!(next(&mut out).await.created);
    let canceled = next(&mut out).await;
    assert!(canceled.canceled);
    assert_eq!(canceled.compact_revision, 4);
}

#[tokio::test]
async fn cancel_stops_events_and_progress_reports_the_revision() {
    let f = fixture(64);
    let (tx, mut out) = f.open();
    tx.send(create("k", "", 0)).await.unwrap();
    let id = next(&mut out).await.watch_id;
    tx.send(Ok(WatchRequest {
        request_union: Some(RequestUnion::CancelRequest(WatchCancelRequest {
            watch_id: id,
        })),
    }))
    .await
    .unwrap();
    let canceled = next(&mut out).await;
    assert!(canceled.canceled && canceled.watch_id == id);
    f.put("k", "v");
    tx.send(Ok(WatchRequest {
        request_union: Some(RequestUnion::ProgressRequest(WatchProgressRequest {})),
    }))
    .await
    .unwrap();
    let progress = next(&mut out).await;
    assert!(progress.events.is_empty());
    assert_eq!(progress.watch_id, -1);
    assert_eq!(progress.header.unwrap().revision, 2);
}

#[tokio::test]
async fn a_duplicate_client_chosen_id_is_refused() {
    let f = fixture(64);
    let (tx, mut out) = f.open();
    let with_id = |id| {
        Ok(WatchRequest {
            request_union: Some(RequestUnion::CreateRequest(WatchCreateRequest {
                key: "k".into(),
                watch_id: id,
                ..Default::default()
            })),
        })
    };
    tx.send(with_id(5)).await.unwrap();
    assert_eq!(next(&mut out).await.watch_id, 5);
    tx.send(with_id(5)).await.unwrap();
    let refused = next(&mut out).await;
    assert!(refused.canceled && refused.created);
    assert!(refused.cancel_reason.contains("duplicate"));
}

#[tokio::test]
async fn a_client_that_never_reads_does_not_block_applying() {
    let f = fixture(16);
    let (tx, _out) = f.open();
    tx.send(create("k", "", 0)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Far more responses than the stream buffers: applying must go on.
    let applied = tokio::time::timeout(Duration::from_secs(20), async {
        for _ in 0..1000 {
            f.put("k", "v");
        }
    })
    .await;
    assert!(applied.is_ok());
    assert_eq!(f.kv.current_revision(), 1001);
}

#[tokio::test]
async fn the_hub_counts_open_watchers_across_streams() {
    let f = fixture(64);
    let (tx1, mut out1) = f.open();
    let (tx2, mut out2) = f.open();
    tx1.send(create("a", "", 0)).await.unwrap();
    tx1.send(create("b", "", 0)).await.unwrap();
    tx2.send(create("c", "", 0)).await.unwrap();
    next(&mut out1).await;
    next(&mut out1).await;
    next(&mut out2).await;
    assert_eq!(f.hub.watchers(), 3);
    tx1.send(Ok(WatchRequest {
        request_union: Some(RequestUnion::CancelRequest(WatchCancelRequest {
            watch_id: 0,
        })),
    }))
    .await
    .unwrap();
    assert!(next(&mut out1).await.canceled);
    assert_eq!(f.hub.watchers(), 2);
    // A stream that ends takes its watchers with it.
    drop(tx2);
    drop(out2);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while f.hub.watchers() != 1 {
        assert!(std::time::Instant::now() < deadline, "{}", f.hub.watchers());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

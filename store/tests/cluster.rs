//! A three-member store over loopback: replication, transactions, history,
//! compaction, watches, leases, leader loss and restart from disk.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use berth_proto::etcdserverpb::{
    compare, request_op, watch_request, CompactionRequest, Compare, LeaseGrantRequest, PutRequest,
    RangeRequest, RequestOp, TxnRequest, WatchCreateRequest, WatchRequest, WatchResponse,
};
use berth_proto::mvccpb::event::EventType;
use common::*;
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Streaming;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_through_any_member_are_visible_on_all() {
    let mut cluster = Cluster::start(3).await;
    for i in 0..3 {
        let mut kv = cluster.kv(i).await;
        put(&mut kv, &format!("key{i}"), &format!("from{i}")).await;
    }
    for i in 0..3 {
        let mut kv = cluster.kv(i).await;
        for j in 0..3 {
            assert_eq!(
                value(&mut kv, &format!("key{j}")).await,
                Some(format!("from{j}"))
            );
        }
    }
    cluster.stop_all().await;
}

/// etcd answers a write only once the member that took it has executed it,
/// so a serializable read on that member right after sees the write.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_follower_answers_a_write_only_once_it_has_applied_it() {
    let mut cluster = Cluster::start(3).await;
    let follower = (cluster.wait_leader().await + 1) % 3;
    let mut kv = cluster.kv(follower).await;
    for n in 0..50 {
        let key = format!("own{n}");
        let revision = put(&mut kv, &key, "v").await;
        let read = kv
            .range(RangeRequest {
                key: key.clone().into(),
                serializable: true,
                ..Default::default()
            })
            .await
            .expect("serializable range")
            .into_inner();
        assert_eq!(
            read.kvs.len(),
            1,
            "write {n} not yet applied on the follower"
        );
        assert_eq!(read.kvs[0].mod_revision, revision);
        assert!(read.header.expect("header").revision >= revision);
    }
    cluster.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn txn_compare_and_swap_under_contention_loses_no_increment() {
    let mut cluster = Cluster::start(3).await;
    let mut kv = cluster.kv(0).await;
    put(&mut kv, "counter", "0").await;
    let mut workers = Vec::new();
    for w in 0..6 {
        let mut kv = cluster.kv(w % 3).await;
        workers.push(tokio::spawn(async move {
            let mut wins = 0;
            for _ in 0..10 {
                loop {
                    let current = get(&mut kv, "counter").await;
                    let item = &current.kvs[0];
                    let n: i64 = String::from_utf8_lossy(&item.value).parse().unwrap();
                    let txn = TxnRequest {
                        compare: vec![Compare {
                            result: compare::CompareResult::Equal as i32,
                            target: compare::CompareTarget::Mod as i32,
                            key: b"counter".to_vec(),
                            target_union: Some(compare::TargetUnion::ModRevision(
                                item.mod_revision,
                            )),
                            ..Default::default()
                        }],
                        success: vec![RequestOp {
                            request: Some(request_op::Request::RequestPut(PutRequest {
                                key: b"counter".to_vec(),
                                value: (n + 1).to_string().into_bytes(),
                                ..Default::default()
                            })),
                        }],
                        failure: vec![],
                    };
                    if kv.txn(txn).await.unwrap().into_inner().succeeded {
                        wins += 1;
                        break;
                    }
                }
            }
            wins
        }));
    }
    let mut total = 0;
    for w in workers {
        total += w.await.unwrap();
    }
    assert_eq!(total, 60);
    assert_eq!(value(&mut kv, "counter").await.as_deref(), Some("60"));
    cluster.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn historical_get_and_compaction_errors() {
    let mut cluster = Cluster::start(3).await;
    let mut kv = cluster.kv(1).await;
    let r1 = put(&mut kv, "h", "v1").await;
    let r2 = put(&mut kv, "h", "v2").await;
    let r3 = put(&mut kv, "h", "v3").await;
    let at = |rev| RangeRequest {
        key: b"h".to_vec(),
        revision: rev,
        ..Default::default()
    };
    let old = kv.range(at(r1)).await.unwrap().into_inner();
    assert_eq!(old.kvs[0].value, b"v1");
    assert_eq!(old.kvs[0].version, 1);
    assert_eq!(
        old.header.unwrap().revision,
        r3,
        "header carries the current revision"
    );

    let future = kv.range(at(r3 + 100)).await.unwrap_err();
    assert_eq!(future.code(), tonic::Code::OutOfRange);
    assert_eq!(
        future.message(),
        "etcdserver: mvcc: required revision is a future revision"
    );

    kv.compact(CompactionRequest {
        revision: r2,
        physical: true,
    })
    .await
    .unwrap();
    let gone = kv.range(at(r1)).await.unwrap_err();
    assert_eq!(gone.code(), tonic::Code::OutOfRange);
    assert_eq!(
        gone.message(),
        "etcdserver: mvcc: required revision has been compacted"
    );
    assert_eq!(
        kv.range(at(r2)).await.unwrap().into_inner().kvs[0].value,
        b"v2"
    );
    let again = kv
        .compact(CompactionRequest {
            revision: r1,
            physical: true,
        })
        .await;
    assert_eq!(
        again.unwrap_err().message(),
        "etcdserver: mvcc: required revision has been compacted"
    );
    cluster.stop_all().await;
}

/// A watch stream and the sender that keeps its request side open.
pub struct WatchStream {
    pub requests: mpsc::Sender<WatchRequest>,
    pub responses: Streaming<WatchResponse>,
}

pub async fn open_watch(
    cluster: &Cluster,
    member: usize,
    create: WatchCreateRequest,
) -> WatchStream {
    let mut client = cluster.watch(member).await;
    let (tx, rx) = mpsc::channel(8);
    tx.send(WatchRequest {
        request_union: Some(watch_request::RequestUnion::CreateRequest(create)),
    })
    .await
    .unwrap();
    let mut responses = client
        .watch(ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    let created = responses.next().await.unwrap().unwrap();
    assert!(created.created);
    WatchStream {
        requests: tx,
        responses,
    }
}

/// Collects (revision, key, type) of events until `count` arrived.
async fn collect_events(
    stream: &mut Streaming<WatchResponse>,
    count: usize,
) -> Vec<(i64, String, EventType)> {
    let mut events = Vec::new();
    while events.len() < count {
        let resp = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("events in time")
            .expect("stream open")
            .expect("no error");
        for e in resp.events {
            let kv = e.kv.unwrap_or_default();
            events.push((
                kv.mod_revision,
                String::from_utf8_lossy(&kv.key).into_owned(),
                EventType::try_from(e.r#type).unwrap(),
            ));
        }
    }
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn watch_from_an_old_revision_gets_missed_events_then_live_ones() {
    let mut cluster = Cluster::start(3).await;
    let mut kv = cluster.kv(0).await;
    let first = put(&mut kv, "w/a", "1").await;
    put(&mut kv, "other", "x").await;
    put(&mut kv, "w/b", "2").await;
    kv.delete_range(berth_proto::etcdserverpb::DeleteRangeRequest {
        key: b"w/a".to_vec(),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut watch = open_watch(
        &cluster,
        2,
        WatchCreateRequest {
            key: b"w/".to_vec(),
            range_end: prefix_end("w/"),
            start_revision: first,
            ..Default::default()
        },
    )
    .await;
    put(&mut kv, "w/c", "3").await;
    let events = collect_events(&mut watch.responses, 4).await;
    let keys: Vec<(&str, EventType)> = events.iter().map(|(_, k, t)| (k.as_str(), *t)).collect();
    assert_eq!(
        keys,
        vec![
            ("w/a", EventType::Put),
            ("w/b", EventType::Put),
            ("w/a", EventType::Delete),
            ("w/c", EventType::Put),
        ]
    );
    assert!(
        events.windows(2).all(|w| w[0].0 < w[1].0),
        "revisions increase: {events:?}"
    );
    drop(watch);
    cluster.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lease_expiry_deletes_its_keys() {
    let mut cluster = Cluster::start(3).await;
    let mut lease = cluster.lease(1).await;
    let granted = lease
        .lease_grant(LeaseGrantRequest { ttl: 1, id: 0 })
        .await
        .unwrap()
        .into_inner();
    assert!(granted.id > 0);
    // The minimum TTL is 1.5 election timeouts rounded up: 1 s here.
    assert_eq!(granted.ttl, 1);
    let mut kv = cluster.kv(2).await;
    kv.put(PutRequest {
        key: b"ephemeral".to_vec(),
        value: b"x".to_vec(),
        lease: granted.id,
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(value(&mut kv, "ephemeral").await.is_some());
    let mut gone = false;
    for _ in 0..100 {
        if value(&mut kv, "ephemeral").await.is_none() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "key of an expired lease still present");
    let unknown = kv
        .put(PutRequest {
            key: b"k".to_vec(),
            lease: granted.id,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.message(), "etcdserver: requested lease not found");
    cluster.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leader_loss_elects_a_new_leader_and_loses_no_acknowledged_write() {
    let mut cluster = Cluster::start(3).await;
    let leader = cluster.wait_leader().await;
    let survivor = (leader + 1) % 3;
    let mut kv = cluster.kv(survivor).await;
    let start = put(&mut kv, "l/0", "0").await;
    let mut watch = open_watch(
        &cluster,
        survivor,
        WatchCreateRequest {
            key: b"l/".to_vec(),
            range_end: prefix_end("l/"),
            start_revision: start,
            ..Default::default()
        },
    )
    .await;
    let mut acked = BTreeMap::new();
    for i in 1..20 {
        acked.insert(put(&mut kv, &format!("l/{i}"), &i.to_string()).await, i);
    }
    cluster.stop_node(leader).await;
    for i in 20..40 {
        acked.insert(put(&mut kv, &format!("l/{i}"), &i.to_string()).await, i);
    }
    let new_leader = cluster.wait_leader().await;
    assert_ne!(new_leader, leader);
    for i in 0..40 {
        assert_eq!(value(&mut kv, &format!("l/{i}")).await, Some(i.to_string()));
    }
    let events = collect_events(&mut watch.responses, 40).await;
    let revisions: Vec<i64> = events.iter().map(|e| e.0).collect();
    let mut expected: Vec<i64> = acked.keys().copied().collect();
    expected.insert(0, start);
    assert_eq!(revisions, expected, "watch saw every write once, in order");

    // The old leader comes back and catches up.
    cluster.start_node(leader).await;
    let mut back = cluster.kv(leader).await;
    assert_eq!(value(&mut back, "l/39").await.as_deref(), Some("39"));
    drop(watch);
    cluster.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restart_from_disk_keeps_data_and_revision() {
    let mut cluster = Cluster::start(3).await;
    let mut kv = cluster.kv(0).await;
    let mut last = 0;
    for i in 0..300 {
        last = put(&mut kv, &format!("r/{i:03}"), &i.to_string()).await;
    }
    cluster.stop_all().await;
    for i in 0..3 {
        cluster.start_node(i).await;
    }
    cluster.wait_leader().await;
    for i in 0..3 {
        let mut kv = cluster.kv(i).await;
        let all = kv
            .range(RangeRequest {
                key: b"r/".to_vec(),
                range_end: prefix_end("r/"),
                count_only: true,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(all.count, 300);
        assert!(all.header.unwrap().revision >= last);
        assert_eq!(value(&mut kv, "r/299").await.as_deref(), Some("299"));
    }
    let next = put(&mut kv, "after", "restart").await;
    assert!(next > last);
    cluster.stop_all().await;
}

/// Concurrent linearizable reads on a follower share read-index rounds (one
/// request to the leader serves many), and every one of them still sees the
/// write acknowledged just before they began.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_linearizable_reads_share_rounds_and_see_the_last_write() {
    let mut cluster = Cluster::start(3).await;
    let leader = cluster.wait_leader().await;
    let follower = (leader + 1) % 3;
    let mut writer = cluster.kv(leader).await;
    let reader = cluster.kv(follower).await;
    let metrics = cluster.node(follower).server.metrics();
    const READS: u64 = 200;
    for round in 0..3 {
        let revision = put(&mut writer, "shared", &round.to_string()).await;
        let rounds_before = metrics.read_index_rounds.get();
        let reads_before = metrics.read_index_reads.get();
        let reads = (0..READS).map(|_| {
            let mut kv = reader.clone();
            async move { get(&mut kv, "shared").await }
        });
        for resp in futures::future::join_all(reads).await {
            let kv = resp.kvs.first().expect("the key");
            assert_eq!(kv.value, round.to_string().into_bytes());
            assert_eq!(kv.mod_revision, revision);
        }
        let rounds = metrics.read_index_rounds.get() - rounds_before;
        assert_eq!(metrics.read_index_reads.get() - reads_before, READS);
        assert!(
            (1..READS).contains(&rounds),
            "{READS} concurrent reads ran {rounds} rounds"
        );
    }
    cluster.stop_all().await;
}

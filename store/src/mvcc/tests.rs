//! The MVCC store's behaviour, specified against etcd's.

use berth_proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use berth_proto::etcdserverpb::range_request::{SortOrder, SortTarget};
use berth_proto::etcdserverpb::request_op::Request as Op;
use berth_proto::etcdserverpb::response_op::Response as OpResponse;
use berth_proto::etcdserverpb::{
    CompactionRequest, Compare, DeleteRangeRequest, LeaseGrantRequest, LeaseRevokeRequest,
    PutRequest, RangeRequest, RequestOp, TxnRequest, TxnResponse,
};
use berth_proto::mvccpb::event::EventType;
use berth_proto::raft::internal_request::Request;
use berth_proto::raft::internal_response::Response;
use berth_proto::raft::{InternalRequest, MemberAttributes};

use super::KvStore;
use crate::apply::{Applied, LeaseChange};

fn open() -> (tempfile::TempDir, KvStore) {
    let dir = tempfile::tempdir().unwrap();
    let kv = KvStore::open(dir.path()).unwrap();
    (dir, kv)
}

fn apply(kv: &KvStore, request: Request) -> Applied {
    kv.apply(
        &InternalRequest {
            request: Some(request),
        },
        &[],
    )
    .unwrap()
}

fn put(kv: &KvStore, key: &str, value: &str) -> Applied {
    put_lease(kv, key, value, 0)
}

fn put_lease(kv: &KvStore, key: &str, value: &str, lease: i64) -> Applied {
    apply(
        kv,
        Request::Put(PutRequest {
            key: key.into(),
            value: value.into(),
            lease,
            prev_kv: true,
            ..Default::default()
        }),
    )
}

fn del(kv: &KvStore, key: &str, end: &str) -> Applied {
    apply(
        kv,
        Request::DeleteRange(DeleteRangeRequest {
            key: key.into(),
            range_end: end.into(),
            prev_kv: true,
        }),
    )
}

fn error_of(applied: &Applied) -> String {
    match &applied.response.response {
        Some(Response::Error(e)) => e.message.clone(),
        other => panic!("expected an error, got {other:?}"),
    }
}

fn get_at(kv: &KvStore, key: &str, rev: i64) -> Vec<(String, String)> {
    let resp = kv
        .range(&RangeRequest {
            key: key.into(),
            revision: rev,
            ..Default::default()
        })
        .unwrap();
    pairs(&resp.kvs)
}

fn pairs(kvs: &[berth_proto::mvccpb::KeyValue]) -> Vec<(String, String)> {
    kvs.iter()
        .map(|kv| {
            (
                String::from_utf8_lossy(&kv.key).into_owned(),
                String::from_utf8_lossy(&kv.value).into_owned(),
            )
        })
        .collect()
}

fn all(kv: &KvStore, rev: i64) -> Vec<(String, String)> {
    let resp = kv
        .range(&RangeRequest {
            key: vec![0],
            range_end: vec![0],
            revision: rev,
            ..Default::default()
        })
        .unwrap();
    pairs(&resp.kvs)
}

#[test]
fn an_empty_store_is_at_revision_one_and_the_first_write_is_two() {
    let (_d, kv) = open();
    assert_eq!(kv.current_revision(), 1);
    let applied = put(&kv, "a", "1");
    assert_eq!(applied.revision, 2);
    assert_eq!(kv.current_revision(), 2);
}

#[test]
fn versions_and_revisions_follow_each_key() {
    let (_d, kv) = open();
    put(&kv, "a", "1");
    put(&kv, "b", "1");
    let second = put(&kv, "a", "2");
    let Some(Response::Put(resp)) = second.response.response else {
        panic!()
    };
    let prev = resp.prev_kv.unwrap();
    assert_eq!(
        (prev.value.as_slice(), prev.mod_revision, prev.version),
        (&b"1"[..], 2, 1)
    );
    let now = kv
        .range(&RangeRequest {
            key: "a".into(),
            ..Default::default()
        })
        .unwrap();
    let a = &now.kvs[0];
    assert_eq!((a.create_revision, a.mod_revision, a.version), (2, 4, 2));
    assert_eq!(now.header.unwrap().revision, 4);
    assert_eq!(second.events.len(), 1);
    assert_eq!(second.events[0].prev_kv.as_ref().unwrap().value, b"1");
}

#[test]
fn a_deleted_key_starts_a_new_life_when_written_again() {
    let (_d, kv) = open();
    put(&kv, "a", "1");
    let d = del(&kv, "a", "");
    assert_eq!(d.revision, 3);
    assert_eq!(d.events[0].r#type, EventType::Delete as i32);
    assert_eq!(d.events[0].kv.as_ref().unwrap().mod_revision, 3);
    put(&kv, "a", "2");
    let now = kv
        .range(&RangeRequest {
            key: "a".into(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!((now.kvs[0].create_revision, now.kvs[0].version), (4, 1));
}

#[test]
fn deleting_nothing_does_not_advance_the_revision() {
    let (_d, kv) = open();
    put(&kv, "a", "1");
    let d = del(&kv, "zz", "");
    assert_eq!(d.revision, 2);
    let Some(Response::DeleteRange(resp)) = d.response.response else {
        panic!()
    };
    assert_eq!(resp.deleted, 0);
}

#[test]
fn reads_at_past_revisions_see_the_past() {
    let (_d, kv) = open();
    put(&kv, "a", "1"); // 2
    put(&kv, "b", "1"); // 3
    put(&kv, "a", "2"); // 4
    del(&kv, "b", ""); // 5
    assert_eq!(get_at(&kv, "a", 2), vec![("a".into(), "1".into())]);
    assert_eq!(get_at(&kv, "a", 3), vec![("a".into(), "1".into())]);
    assert_eq!(get_at(&kv, "a", 4), vec![("a".into(), "2".into())]);
    assert_eq!(
        all(&kv, 4),
        vec![("a".into(), "2".into()), ("b".into(), "1".into())]
    );
    assert_eq!(all(&kv, 5), vec![("a".into(), "2".into())]);
    assert_eq!(all(&kv, 1), vec![]);
    let future = kv.range(&RangeRequest {
        key: "a".into(),
        revision: 6,
        ..Default::default()
    });
    assert_eq!(
        future.unwrap_err().to_string(),
        "etcdserver: mvcc: required revision is a future revision"
    );
}

#[test]
fn ranges_honour_limit_count_keys_only_and_sort() {
    let (_d, kv) = open();
    for (k, v) in [("k3", "a"), ("k1", "c"), ("k2", "b"), ("x", "z")] {
        put(&kv, k, v);
    }
    let base = RangeRequest {
        key: "k".into(),
        range_end: "l".into(),
        ..Default::default()
    };
    let limited = kv
        .range(&RangeRequest {
            limit: 2,
            ..base.clone()
        })
        .unwrap();
    assert_eq!(
        pairs(&limited.kvs),
        vec![("k1".into(), "c".into()), ("k2".into(), "b".into())]
    );
    assert!(limited.more);
    assert_eq!(limited.count, 3);
    let counted = kv
        .range(&RangeRequest {
            count_only: true,
            ..base.clone()
        })
        .unwrap();
    assert!(counted.kvs.is_empty());
    assert_eq!(counted.count, 3);
    let keys = kv
        .range(&RangeRequest {
            keys_only: true,
            ..base.clone()
        })
        .unwrap();
    assert!(keys.kvs.iter().all(|kv| kv.value.is_empty()));
    let by_value = kv
        .range(&RangeRequest {
            sort_target: SortTarget::Value as i32,
            ..base.clone()
        })
        .unwrap();
    assert_eq!(
        by_value
            .kvs
            .iter()
            .map(|kv| kv.key.clone())
            .collect::<Vec<_>>(),
        vec![b"k3".to_vec(), b"k2".to_vec(), b"k1".to_vec()]
    );
    let descending = kv
        .range(&RangeRequest {
            sort_order: SortOrder::Descend as i32,
            limit: 1,
            ..base.clone()
        })
        .unwrap();
    assert_eq!(pairs(&descending.kvs), vec![("k3".into(), "a".into())]);
    assert!(descending.more);
    let recent = kv
        .range(&RangeRequest {
            min_mod_revision: 3,
            ..base.clone()
        })
        .unwrap();
    assert_eq!(recent.kvs.len(), 2);
    let everything = kv
        .range(&RangeRequest {
            key: vec![0],
            range_end: vec![0],
            ..Default::default()
        })
        .unwrap();
    assert_eq!(everything.count, 4);
}

fn txn(kv: &KvStore, req: TxnRequest) -> (Applied, TxnResponse) {
    let applied = apply(kv, Request::Txn(req));
    match applied.response.response.clone() {
        Some(Response::Txn(t)) => (applied, t),
        other => panic!("not a txn response: {other:?}"),
    }
}

fn cmp(key: &str, target: CompareTarget, result: CompareResult, value: TargetUnion) -> Compare {
    Compare {
        key: key.into(),
        target: target as i32,
        result: result as i32,
        target_union: Some(value),
        ..Default::default()
    }
}

fn op_put(key: &str, value: &str) -> RequestOp {
    RequestOp {
        request: Some(Op::RequestPut(PutRequest {
            key: key.into(),
            value: value.into(),
            ..Default::default()
        })),
    }
}

fn op_get(key: &str) -> RequestOp {
    RequestOp {
        request: Some(Op::RequestRange(RangeRequest {
            key: key.into(),
            ..Default::default()
        })),
    }
}

#[test]
fn txn_compares_pick_the_branch_and_writes_share_one_revision() {
    let (_d, kv) = open();
    put(&kv, "a", "1"); // 2
    let (applied, t) = txn(
        &kv,
        TxnRequest {
            compare: vec![cmp(
                "a",
                CompareTarget::Mod,
                CompareResult::Equal,
                TargetUnion::ModRevision(2),
            )],
            success: vec![op_put("a", "2"), op_put("b", "2"), op_get("a")],
            failure: vec![op_put("c", "x")],
        },
    );
    assert!(t.succeeded);
    assert_eq!(applied.revision, 3);
    assert_eq!(applied.events.len(), 2);
    // A read later in the txn sees its earlier writes.
    let Some(OpResponse::ResponseRange(r)) = &t.responses[2].response else {
        panic!()
    };
    assert_eq!(pairs(&r.kvs), vec![("a".into(), "2".into())]);
    assert_eq!(r.header.as_ref().unwrap().revision, 3);
    let (_, t) = txn(
        &kv,
        TxnRequest {
            compare: vec![cmp(
                "a",
                CompareTarget::Mod,
                CompareResult::Equal,
                TargetUnion::ModRevision(2),
            )],
            success: vec![op_put("a", "3")],
            failure: vec![op_get("a")],
        },
    );
    assert!(!t.succeeded);
    assert_eq!(kv.current_revision(), 3);
}

#[test]
fn compares_on_missing_keys_use_zero_values_except_value() {
    let (_d, kv) = open();
    let (_, t) = txn(
        &kv,
        TxnRequest {
            compare: vec![cmp(
                "nope",
                CompareTarget::Version,
                CompareResult::Equal,
                TargetUnion::Version(0),
            )],
            ..Default::default()
        },
    );
    assert!(t.succeeded);
    let (_, t) = txn(
        &kv,
        TxnRequest {
            compare: vec![cmp(
                "nope",
                CompareTarget::Value,
                CompareResult::NotEqual,
                TargetUnion::Value(b"x".to_vec()),
            )],
            ..Default::default()
        },
    );
    assert!(!t.succeeded);
}

#[test]
fn range_compares_require_every_key_to_match() {
    let (_d, kv) = open();
    put(&kv, "p/a", "1");
    put(&kv, "p/b", "1");
    put(&kv, "p/b", "2");
    let mut c = cmp(
        "p/",
        CompareTarget::Version,
        CompareResult::Equal,
        TargetUnion::Version(1),
    );
    c.range_end = b"p0".to_vec();
    let (_, t) = txn(
        &kv,
        TxnRequest {
            compare: vec![c.clone()],
            ..Default::default()
        },
    );
    assert!(!t.succeeded);
    c.result = CompareResult::Greater as i32;
    c.target_union = Some(TargetUnion::Version(0));
    let (_, t) = txn(
        &kv,
        TxnRequest {
            compare: vec![c],
            ..Default::default()
        },
    );
    assert!(t.succeeded);
}

#[test]
fn nested_txns_apply_in_the_same_revision() {
    let (_d, kv) = open();
    let inner = TxnRequest {
        success: vec![op_put("inner", "1")],
        ..Default::default()
    };
    let (applied, t) = txn(
        &kv,
        TxnRequest {
            success: vec![
                op_put("outer", "1"),
                RequestOp {
                    request: Some(Op::RequestTxn(inner)),
                },
            ],
            ..Default::default()
        },
    );
    assert!(t.succeeded);
    assert_eq!(applied.revision, 2);
    assert_eq!(all(&kv, 0).len(), 2);
}

#[test]
fn a_refused_txn_changes_nothing() {
    let (_d, kv) = open();
    put(&kv, "a", "1");
    let bad = RequestOp {
        request: Some(Op::RequestPut(PutRequest {
            key: "b".into(),
            lease: 99,
            ..Default::default()
        })),
    };
    let applied = apply(
        &kv,
        Request::Txn(TxnRequest {
            success: vec![op_put("a", "2"), bad],
            ..Default::default()
        }),
    );
    assert_eq!(error_of(&applied), "etcdserver: requested lease not found");
    assert_eq!(kv.current_revision(), 2);
    assert_eq!(all(&kv, 0), vec![("a".into(), "1".into())]);
}

#[test]
fn leases_attach_keys_and_revoking_deletes_them_in_one_revision() {
    let (_d, kv) = open();
    let granted = apply(
        &kv,
        Request::LeaseGrant(LeaseGrantRequest { id: 7, ttl: 30 }),
    );
    assert_eq!(
        granted.lease_changes,
        vec![LeaseChange::Granted { id: 7, ttl: 30 }]
    );
    assert_eq!(granted.revision, 1);
    put_lease(&kv, "a", "1", 7);
    put_lease(&kv, "b", "1", 7);
    put(&kv, "c", "1");
    assert_eq!(
        kv.lease_keys(7).unwrap(),
        vec![b"a".to_vec(), b"b".to_vec()]
    );
    // Re-putting without the lease detaches the key.
    put(&kv, "b", "2");
    assert_eq!(kv.lease_keys(7).unwrap(), vec![b"a".to_vec()]);
    let revoked = apply(&kv, Request::LeaseRevoke(LeaseRevokeRequest { id: 7 }));
    assert_eq!(revoked.revision, 6);
    assert_eq!(revoked.events.len(), 1);
    assert_eq!(
        all(&kv, 0),
        vec![("b".into(), "2".into()), ("c".into(), "1".into())]
    );
    assert_eq!(kv.lease_ttl(7).unwrap(), None);
    let again = apply(&kv, Request::LeaseRevoke(LeaseRevokeRequest { id: 7 }));
    assert_eq!(error_of(&again), "etcdserver: requested lease not found");
    let missing = put_lease(&kv, "d", "1", 8);
    assert_eq!(error_of(&missing), "etcdserver: requested lease not found");
    let dup = apply(
        &kv,
        Request::LeaseGrant(LeaseGrantRequest { id: 9, ttl: 5 }),
    );
    assert!(dup.lease_changes.len() == 1);
    let dup = apply(
        &kv,
        Request::LeaseGrant(LeaseGrantRequest { id: 9, ttl: 5 }),
    );
    assert_eq!(error_of(&dup), "etcdserver: lease already exists");
    assert_eq!(kv.leases().unwrap(), vec![(9, 5)]);
}

#[test]
fn ignore_value_and_ignore_lease_keep_what_the_key_had() {
    let (_d, kv) = open();
    apply(
        &kv,
        Request::LeaseGrant(LeaseGrantRequest { id: 3, ttl: 30 }),
    );
    put_lease(&kv, "a", "1", 3);
    apply(
        &kv,
        Request::Put(PutRequest {
            key: "a".into(),
            ignore_value: true,
            ignore_lease: true,
            ..Default::default()
        }),
    );
    let now = kv
        .range(&RangeRequest {
            key: "a".into(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        (
            now.kvs[0].value.as_slice(),
            now.kvs[0].lease,
            now.kvs[0].version
        ),
        (&b"1"[..], 3, 2)
    );
    let missing = apply(
        &kv,
        Request::Put(PutRequest {
            key: "zz".into(),
            ignore_value: true,
            ..Default::default()
        }),
    );
    assert_eq!(error_of(&missing), "etcdserver: key not found");
}

#[test]
fn compaction_refuses_old_and_future_revisions_and_keeps_what_reads_need() {
    let (_d, kv) = open();
    put(&kv, "a", "1"); // 2
    put(&kv, "a", "2"); // 3
    put(&kv, "b", "1"); // 4
    del(&kv, "b", ""); // 5
    put(&kv, "a", "3"); // 6
    let compact = |rev| {
        apply(
            &kv,
            Request::Compaction(CompactionRequest {
                revision: rev,
                physical: false,
            }),
        )
    };
    assert_eq!(
        error_of(&compact(7)),
        "etcdserver: mvcc: required revision is a future revision"
    );
    assert!(!matches!(
        compact(5).response.response,
        Some(Response::Error(_))
    ));
    assert_eq!(kv.compact_revision(), 5);
    assert_eq!(
        error_of(&compact(5)),
        "etcdserver: mvcc: required revision has been compacted"
    );
    assert_eq!(
        error_of(&compact(4)),
        "etcdserver: mvcc: required revision has been compacted"
    );
    let old = kv.range(&RangeRequest {
        key: "a".into(),
        revision: 4,
        ..Default::default()
    });
    assert_eq!(
        old.unwrap_err().to_string(),
        "etcdserver: mvcc: required revision has been compacted"
    );
    assert_eq!(get_at(&kv, "a", 5), vec![("a".into(), "2".into())]);
    assert_eq!(all(&kv, 5), vec![("a".into(), "2".into())]);
    assert_eq!(all(&kv, 6), vec![("a".into(), "3".into())]);
    assert!(kv.events(4, 10, b"a", b"", 100).is_err());
    let events = kv.events(5, 10, b"a", b"", 100).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kv.as_ref().unwrap().mod_revision, 6);
}

#[test]
fn events_replay_a_range_in_order_with_previous_versions() {
    let (_d, kv) = open();
    put(&kv, "w/a", "1"); // 2
    put(&kv, "other", "1"); // 3
    put(&kv, "w/a", "2"); // 4
    del(&kv, "w/a", ""); // 5
    let events = kv.events(2, 100, b"w/", b"w0", 100).unwrap();
    let summary: Vec<(i32, i64, Option<Vec<u8>>)> = events
        .iter()
        .map(|e| {
            (
                e.r#type,
                e.kv.as_ref().unwrap().mod_revision,
                e.prev_kv.as_ref().map(|p| p.value.clone()),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (EventType::Put as i32, 2, None),
            (EventType::Put as i32, 4, Some(b"1".to_vec())),
            (EventType::Delete as i32, 5, Some(b"2".to_vec())),
        ]
    );
    assert_eq!(kv.events(3, 4, b"w/", b"w0", 100).unwrap().len(), 1);
}

#[test]
fn events_never_split_a_revision() {
    let (_d, kv) = open();
    txn(
        &kv,
        TxnRequest {
            success: vec![op_put("a", "1"), op_put("b", "1"), op_put("c", "1")],
            ..Default::default()
        },
    );
    put(&kv, "d", "1");
    let events = kv.events(0, 100, &[0], &[0], 1).unwrap();
    assert_eq!(events.len(), 3);
    assert!(events
        .iter()
        .all(|e| e.kv.as_ref().unwrap().mod_revision == 2));
}

#[test]
fn state_survives_reopen_and_checkpoints_restore() {
    let dir = tempfile::tempdir().unwrap();
    {
        let kv = KvStore::open(dir.path()).unwrap();
        put(&kv, "a", "1");
        put(&kv, "b", "2");
        apply(
            &kv,
            Request::MemberAttributes(MemberAttributes {
                id: 1,
                name: "n1".into(),
                client_urls: vec!["http://x".into()],
            }),
        );
        kv.put_meta(&[("raft/x", b"y".to_vec())]).unwrap();
    }
    let kv = KvStore::open(dir.path()).unwrap();
    assert_eq!(kv.current_revision(), 3);
    assert_eq!(all(&kv, 0).len(), 2);
    assert_eq!(kv.members_attributes().unwrap()[0].name, "n1");
    assert_eq!(kv.get_meta("raft/x").unwrap(), Some(b"y".to_vec()));

    let other_dir = tempfile::tempdir().unwrap();
    let other = KvStore::open(other_dir.path()).unwrap();
    put(&other, "z", "9");
    let checkpoint = other_dir.path().join("ckpt");
    other.checkpoint(&checkpoint).unwrap();
    kv.restore(&checkpoint).unwrap();
    assert_eq!(all(&kv, 0), vec![("z".into(), "9".into())]);
    assert_eq!(kv.current_revision(), 2);
    drop(kv);
    let reopened = KvStore::open(dir.path()).unwrap();
    assert_eq!(all(&reopened, 0), vec![("z".into(), "9".into())]);
}

#[test]
fn a_single_key_range_finds_the_key_alone_counts_it_and_misses_its_neighbours() {
    let (_d, kv) = open();
    for (k, v) in [("a", "1"), ("ab", "2"), ("b", "3")] {
        put(&kv, k, v);
    }
    put(&kv, "ab", "4");
    let one = |key: &str, count_only: bool| {
        kv.range(&RangeRequest {
            key: key.into(),
            count_only,
            ..Default::default()
        })
        .unwrap()
    };
    let got = one("ab", false);
    assert_eq!(pairs(&got.kvs), vec![("ab".into(), "4".into())]);
    assert_eq!((got.count, got.more), (1, false));
    assert_eq!(got.kvs[0].version, 2);
    assert_eq!(got.kvs[0].create_revision, 3);
    assert_eq!(got.kvs[0].mod_revision, 5);
    let counted = one("ab", true);
    assert!(counted.kvs.is_empty());
    assert_eq!(counted.count, 1);
    let missing = one("aa", false);
    assert!(missing.kvs.is_empty());
    assert_eq!(missing.count, 0);
    del(&kv, "ab", "");
    assert_eq!(one("ab", false).count, 0);
    // The old value is still read at its revision.
    let old = kv
        .range(&RangeRequest {
            key: "ab".into(),
            revision: 5,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(pairs(&old.kvs), vec![("ab".into(), "4".into())]);
}

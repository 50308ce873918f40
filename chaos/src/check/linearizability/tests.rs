use super::*;

fn op(
    client: usize,
    invoke: u64,
    complete: Option<u64>,
    request: Request,
    outcome: Outcome,
) -> Operation {
    Operation {
        client,
        member: 0,
        invoke: Duration::from_millis(invoke),
        complete: complete.map(Duration::from_millis),
        request,
        outcome,
    }
}

fn put(client: usize, at: (u64, u64), value: &str, revision: i64) -> Operation {
    op(
        client,
        at.0,
        Some(at.1),
        Request::Put {
            key: "k".into(),
            value: value.into(),
            lease: 0,
        },
        Outcome::Ok(Response::Put { revision }),
    )
}

fn put_unknown(client: usize, at: u64, value: &str) -> Operation {
    op(
        client,
        at,
        None,
        Request::Put {
            key: "k".into(),
            value: value.into(),
            lease: 0,
        },
        Outcome::Unknown,
    )
}

/// A read; its header revision is `seen`'s mod_revision, or `header` when
/// given (the store's revision when the key was read).
fn get(client: usize, at: (u64, u64), seen: Option<(&str, i64)>) -> Operation {
    let header = seen.map(|(_, r)| r).unwrap_or(1);
    get_at(client, at, seen, header)
}

fn get_at(client: usize, at: (u64, u64), seen: Option<(&str, i64)>, header: i64) -> Operation {
    op(
        client,
        at.0,
        Some(at.1),
        Request::Get {
            key: "k".into(),
            serializable: false,
        },
        Outcome::Ok(Response::Get {
            revision: header,
            kv: seen.map(|(value, mod_revision)| KeyValue {
                value: value.into(),
                mod_revision,
                lease: 0,
            }),
        }),
    )
}

/// A delete that found `prev` (or nothing).
fn delete(client: usize, at: (u64, u64), prev: Option<(&str, i64)>, revision: i64) -> Operation {
    op(
        client,
        at.0,
        Some(at.1),
        Request::Delete { key: "k".into() },
        Outcome::Ok(Response::Delete {
            revision,
            deleted: i64::from(prev.is_some()),
            prev: prev.map(|(value, mod_revision)| KeyValue {
                value: value.into(),
                mod_revision,
                lease: 0,
            }),
        }),
    )
}

fn cas(at: (u64, u64), expected: i64, value: &str, succeeded: bool, revision: i64) -> Operation {
    op(
        0,
        at.0,
        Some(at.1),
        Request::Cas {
            key: "k".into(),
            expected,
            value: value.into(),
        },
        Outcome::Ok(Response::Cas {
            revision,
            succeeded,
            kv: None,
        }),
    )
}

#[test]
fn sequential_writes_and_reads_pass() {
    let h = vec![
        get(0, (0, 1), None),
        put(0, (2, 3), "a", 2),
        get(1, (4, 5), Some(("a", 2))),
        delete(0, (6, 7), Some(("a", 2)), 3),
        get_at(1, (8, 9), None, 3),
    ];
    assert!(check(&h).is_ok());
}

#[test]
fn a_read_concurrent_with_a_write_may_see_either() {
    for seen in [None, Some(("a", 2))] {
        let h = vec![put(0, (0, 10), "a", 2), get(1, (1, 9), seen)];
        assert!(check(&h).is_ok());
    }
}

#[test]
fn a_stale_read_after_a_completed_write_is_caught() {
    let h = vec![
        put(0, (0, 1), "a", 2),
        put(0, (2, 3), "b", 3),
        get(1, (4, 5), Some(("a", 2))),
    ];
    let v = check(&h).unwrap_err();
    assert_eq!(v.key, "k");
    assert!(!v.inconclusive);
    assert!(v.to_string().contains("no linearization"));
    assert_eq!(v.unplaced.len(), 1, "{v}");
}

#[test]
fn a_value_never_written_is_caught() {
    let h = vec![put(0, (0, 1), "a", 2), get(1, (2, 3), Some(("zzz", 2)))];
    assert!(check(&h).is_err());
}

#[test]
fn an_unknown_write_may_have_happened_or_not() {
    let seen = vec![put_unknown(0, 0, "a"), get(1, (50, 51), Some(("a", 7)))];
    assert!(check(&seen).is_ok());
    let unseen = vec![put_unknown(0, 0, "a"), get(1, (50, 51), None)];
    assert!(check(&unseen).is_ok());
    // But not before it was sent.
    let early = vec![get(1, (0, 1), Some(("a", 7))), put_unknown(0, 5, "a")];
    assert!(check(&early).is_err());
}

#[test]
fn unanswered_writes_nobody_saw_are_left_out() {
    // Thirty lost writes, none observed: without pruning the search would
    // try every subset of them before finding the stale read.
    let mut h: Vec<Operation> = (0..30)
        .map(|i| put_unknown(i, i as u64, &format!("lost{i}")))
        .collect();
    h.push(put(0, (100, 101), "a", 2));
    h.push(put(0, (102, 103), "b", 3));
    h.push(get(1, (104, 105), Some(("a", 2))));
    let v = check(&h).unwrap_err();
    assert!(!v.inconclusive, "{v}");
}

#[test]
fn a_lost_write_seen_only_by_a_serializable_read_is_kept() {
    // A serializable read saw the lost write at revision 7, and a CAS on that
    // revision then succeeded: only the lost write explains it.
    let mut seen = get(1, (50, 51), Some(("lost", 7)));
    if let Request::Get { serializable, .. } = &mut seen.request {
        *serializable = true;
    }
    let h = vec![
        put(0, (0, 1), "a", 2),
        put_unknown(2, 5, "lost"),
        seen,
        cas((60, 61), 7, "b", true, 9),
    ];
    assert!(check(&h).is_ok(), "{}", check(&h).unwrap_err());
}

#[test]
fn a_delete_count_that_does_not_match_is_caught() {
    let h = vec![put(0, (0, 1), "a", 2), delete(1, (2, 3), None, 3)];
    assert!(check(&h).is_err());
    let h = vec![put(0, (0, 1), "a", 2), delete(1, (2, 3), Some(("b", 2)), 3)];
    assert!(check(&h).is_err(), "deleted a value that was never there");
    let h = vec![put(0, (0, 1), "a", 2), delete(1, (2, 3), Some(("a", 2)), 3)];
    assert!(check(&h).is_ok());
}

#[test]
fn cas_succeeds_only_on_the_current_mod_revision() {
    let ok = vec![
        put(0, (0, 1), "a", 2),
        cas((2, 3), 2, "b", true, 3),
        get(1, (4, 5), Some(("b", 3))),
    ];
    assert!(check(&ok).is_ok());
    let wrong = vec![put(0, (0, 1), "a", 2), cas((2, 3), 1, "b", true, 3)];
    assert!(check(&wrong).is_err());
    let refused = vec![put(0, (0, 1), "a", 2), cas((2, 3), 2, "b", false, 3)];
    assert!(check(&refused).is_err());
}

#[test]
fn refused_operations_are_ignored() {
    let mut failed = put(0, (0, 1), "x", 2);
    failed.outcome = Outcome::Failed("refused".into());
    let h = vec![failed, get(1, (2, 3), None)];
    assert!(check(&h).is_ok());
}

#[test]
fn keys_are_checked_independently() {
    let mut other = put(0, (0, 1), "a", 2);
    if let Request::Put { key, .. } = &mut other.request {
        *key = "other".into();
    }
    let h = vec![other, get(1, (2, 3), None)];
    assert!(check(&h).is_ok());
    let mut stale = get(1, (4, 5), None);
    if let Request::Get { key, .. } = &mut stale.request {
        *key = "other".into();
    }
    let h = vec![h[0].clone(), h[1].clone(), stale];
    assert_eq!(check(&h).unwrap_err().key, "other");
}

#[test]
fn a_read_older_than_a_completed_read_is_caught() {
    // The second read saw the same value, but at a lower store revision than
    // a read that finished before it began: it went back in time.
    let h = vec![
        put(0, (0, 1), "a", 2),
        get_at(1, (2, 3), Some(("a", 2)), 9),
        get_at(2, (4, 5), Some(("a", 2)), 5),
    ];
    assert!(check(&h).is_err());
}

#[test]
fn revisions_must_grow() {
    let h = vec![put(0, (0, 1), "a", 5), put(0, (2, 3), "b", 4)];
    assert!(check(&h).is_err());
}

#[test]
fn a_busy_register_is_checked_quickly() {
    // Eight clients on one key; a simulated register applies each operation
    // at a random point inside its interval, so the history is linearizable.
    let mut seed: u64 = 42;
    let mut next = |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let mut events: Vec<(u64, usize, u64, u64)> = Vec::new();
    for c in 0..8usize {
        let mut t = 0;
        for _ in 0..25 {
            let invoke = t + next(5);
            let complete = invoke + 1 + next(20);
            let point = invoke + next(complete - invoke);
            events.push((point, c, invoke, complete));
            t = complete + 1;
        }
    }
    events.sort();
    let mut state: Option<(String, i64)> = None;
    let mut revision = 1;
    let mut h = Vec::new();
    for (n, (_, c, invoke, complete)) in events.into_iter().enumerate() {
        if n % 2 == 0 {
            revision += 1;
            let value = format!("v{n}");
            h.push(put(c, (invoke, complete), &value, revision));
            state = Some((value, revision));
        } else {
            let seen = state.as_ref().map(|(v, r)| (v.as_str(), *r));
            h.push(get_at(c, (invoke, complete), seen, revision));
        }
    }
    assert!(check(&h).is_ok());
}

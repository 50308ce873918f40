//! etcd's watch guarantees, checked per watcher against a reference
//! history: ordered, unique, atomic, reliable, resumable and bookmarkable.
//!
//! The reference is every event any watcher received plus every write a
//! client saw acknowledged. Watchers are checked against it and against each
//! other, so a change missing from one watcher, or delivered differently, or
//! an acknowledged write no watcher saw where one was listening, shows up.

use std::collections::{BTreeMap, BTreeSet};

use super::{secs, Checker, Violation};
use crate::history::{acknowledged_writes, Operation, WatchEvent, WatchRecord, WatchRecordKind};

type Reference = BTreeMap<i64, BTreeSet<WatchEvent>>;

/// Checks every watcher's records against the reference history.
pub fn check(ops: &[Operation], watches: &[WatchRecord]) -> Vec<Violation> {
    let reference = reference(ops, watches);
    let mut out = consistency(&reference);
    let watchers: BTreeSet<usize> = watches.iter().map(|w| w.watcher).collect();
    for id in watchers {
        let records: Vec<&WatchRecord> = watches.iter().filter(|w| w.watcher == id).collect();
        out.extend(check_watcher(id, &records, &reference));
    }
    out
}

fn reference(ops: &[Operation], watches: &[WatchRecord]) -> Reference {
    let mut reference = Reference::new();
    for w in watches {
        if let WatchRecordKind::Events { events, .. } = &w.kind {
            for e in events {
                reference.entry(e.revision).or_default().insert(e.clone());
            }
        }
    }
    for w in acknowledged_writes(ops) {
        reference.entry(w.revision).or_default().insert(WatchEvent {
            revision: w.revision,
            key: w.key,
            put: w.value.is_some(),
            value: w.value.unwrap_or_default(),
        });
    }
    reference
}

/// One revision changes each key at most once: two different events for a
/// key at a revision mean watchers (or a watcher and a client) disagree.
fn consistency(reference: &Reference) -> Vec<Violation> {
    let mut out = Vec::new();
    for (revision, events) in reference {
        let keys: BTreeSet<&str> = events.iter().map(|e| e.key.as_str()).collect();
        if keys.len() != events.len() {
            out.push(Violation::new(
                Checker::Watch,
                format!("conflicting events at revision {revision}: {events:?}"),
            ));
        }
    }
    out
}

fn check_watcher(id: usize, records: &[&WatchRecord], reference: &Reference) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut fail = |rule: &str, at: std::time::Duration, detail: String| {
        out.push(Violation::new(
            Checker::Watch,
            format!("watcher {id} at {}: {rule}: {detail}", secs(at)),
        ))
    };
    // The next revision this stream owes; 0 before it is known.
    let mut next: i64 = 0;
    // The revision the current stream asked to start from.
    let mut start: i64 = 0;
    let mut delivered: BTreeSet<(i64, String)> = BTreeSet::new();
    for record in records {
        match &record.kind {
            WatchRecordKind::Started { start_revision } => {
                // A resumed watch must begin exactly where the last one
                // stopped; the workload asks for that, the store must honour it.
                next = *start_revision;
                start = *start_revision;
            }
            WatchRecordKind::Created { revision } => {
                if next == 0 {
                    next = revision + 1;
                }
            }
            WatchRecordKind::Events { events, .. } => {
                let mut previous: Option<i64> = None;
                for e in events {
                    if previous.is_some_and(|p| e.revision < p) {
                        fail(
                            "ordered",
                            record.at,
                            format!("revision {} after {:?}", e.revision, previous),
                        );
                    }
                    previous = Some(e.revision);
                    if !delivered.insert((e.revision, e.key.clone())) {
                        fail("unique", record.at, format!("{e:?} delivered twice"));
                    }
                }
                let (Some(first), Some(last)) = (events.first(), events.last()) else {
                    continue;
                };
                if next > 0 && first.revision < next {
                    fail(
                        "ordered",
                        record.at,
                        format!(
                            "revision {} after the stream reached {}",
                            first.revision,
                            next - 1
                        ),
                    );
                }
                // Every revision between what the stream owed and each
                // delivered revision must be empty in the reference.
                let revisions: BTreeSet<i64> = events.iter().map(|e| e.revision).collect();
                let mut cursor = if next > 0 { next } else { first.revision };
                for &revision in &revisions {
                    if let Some(missed) = owed_before(reference, cursor, revision) {
                        fail("reliable", record.at, missed);
                    }
                    cursor = cursor.max(revision + 1);
                }
                for revision in revisions {
                    let got: BTreeSet<&WatchEvent> =
                        events.iter().filter(|e| e.revision == revision).collect();
                    let want: BTreeSet<&WatchEvent> = reference
                        .get(&revision)
                        .map(|s| s.iter().collect())
                        .unwrap_or_default();
                    if got != want {
                        fail(
                            "atomic",
                            record.at,
                            format!("revision {revision} delivered as {got:?}, it holds {want:?}"),
                        );
                    }
                }
                next = next.max(last.revision + 1);
            }
            WatchRecordKind::Progress { revision } => {
                if next > 0 {
                    if let Some(missed) = owed_before(reference, next, revision + 1) {
                        fail(
                            "bookmarkable",
                            record.at,
                            format!("progress at {revision}, but {missed}"),
                        );
                    }
                }
                next = next.max(revision + 1);
            }
            WatchRecordKind::Canceled {
                compact_revision, ..
            } => {
                // etcd cancels a watch only if its start is below the
                // compaction.
                if *compact_revision > 0 && start > 0 && start >= *compact_revision {
                    fail(
                        "resumable",
                        record.at,
                        format!(
                            "a watch from revision {start} was canceled as compacted at {compact_revision}"
                        ),
                    );
                }
            }
            WatchRecordKind::Broken { .. } => {}
        }
    }
    out
}

/// Events of the reference in `[from, to)`: owed but not delivered.
fn owed_before(reference: &Reference, from: i64, to: i64) -> Option<String> {
    if from >= to {
        return None;
    }
    let missed: Vec<&WatchEvent> = reference.range(from..to).flat_map(|(_, s)| s).collect();
    missed.first().map(|first| {
        format!(
            "{} event(s) from revision {from} to {} never delivered, first {first:?}",
            missed.len(),
            to - 1
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Outcome, Request, Response};
    use std::time::Duration;

    fn event(revision: i64, key: &str) -> WatchEvent {
        WatchEvent {
            revision,
            key: key.into(),
            put: true,
            value: format!("v{revision}"),
        }
    }

    fn record(at: u64, kind: WatchRecordKind) -> WatchRecord {
        WatchRecord {
            watcher: 0,
            member: 0,
            at: Duration::from_millis(at),
            kind,
        }
    }

    fn events(at: u64, list: Vec<WatchEvent>) -> WatchRecord {
        let revision = list.last().map(|e| e.revision).unwrap_or(0);
        record(
            at,
            WatchRecordKind::Events {
                revision,
                events: list,
            },
        )
    }

    fn started(at: u64, start_revision: i64) -> WatchRecord {
        record(at, WatchRecordKind::Started { start_revision })
    }

    fn put_op(key: &str, revision: i64) -> Operation {
        Operation {
            client: 0,
            member: 0,
            invoke: Duration::ZERO,
            complete: Some(Duration::from_millis(1)),
            request: Request::Put {
                key: key.into(),
                value: format!("v{revision}"),
                lease: 0,
            },
            outcome: Outcome::Ok(Response::Put { revision }),
        }
    }

    #[test]
    fn a_complete_resumed_watch_passes() {
        let watches = vec![
            started(0, 2),
            events(1, vec![event(2, "a"), event(3, "b")]),
            record(2, WatchRecordKind::Broken { reason: "x".into() }),
            started(3, 4),
            events(4, vec![event(4, "a")]),
            record(5, WatchRecordKind::Progress { revision: 6 }),
        ];
        let ops = vec![put_op("a", 2), put_op("b", 3), put_op("a", 4)];
        assert_eq!(check(&ops, &watches), vec![]);
    }

    #[test]
    fn an_acknowledged_write_missing_from_a_watch_is_a_gap() {
        let watches = vec![started(0, 2), events(1, vec![event(2, "a"), event(4, "a")])];
        let ops = vec![put_op("a", 2), put_op("b", 3), put_op("a", 4)];
        let found = check(&ops, &watches);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].detail.contains("reliable"), "{}", found[0]);
    }

    #[test]
    fn a_progress_notification_past_an_undelivered_event_is_caught() {
        let watches = vec![
            started(0, 2),
            record(1, WatchRecordKind::Progress { revision: 3 }),
        ];
        let found = check(&[put_op("a", 3)], &watches);
        assert_eq!(found.len(), 1);
        assert!(found[0].detail.contains("bookmarkable"));
    }

    #[test]
    fn duplicates_and_split_revisions_are_caught() {
        let mut two = event(5, "b");
        two.value = "w".into();
        let watches = vec![
            started(0, 5),
            events(1, vec![event(5, "a")]),
            events(2, vec![two.clone()]),
            events(3, vec![event(5, "a")]),
        ];
        let other = vec![record(0, WatchRecordKind::Started { start_revision: 5 }), {
            let mut r = events(1, vec![event(5, "a"), two]);
            r.watcher = 1;
            r
        }];
        let mut all = watches;
        all.extend(other.into_iter().map(|mut r| {
            r.watcher = 1;
            r
        }));
        let found = check(&[], &all);
        let text: Vec<String> = found.iter().map(|v| v.to_string()).collect();
        assert!(text.iter().any(|t| t.contains("atomic")), "{text:?}");
        assert!(text.iter().any(|t| t.contains("unique")), "{text:?}");
        assert!(text.iter().any(|t| t.contains("ordered")), "{text:?}");
    }

    #[test]
    fn a_watch_canceled_as_compacted_must_have_started_below_the_compaction() {
        let canceled = |compact_revision| {
            record(
                1,
                WatchRecordKind::Canceled {
                    compact_revision,
                    reason: "compacted".into(),
                },
            )
        };
        assert!(check(&[], &[started(0, 5), canceled(9)]).is_empty());
        let found = check(&[], &[started(0, 9), canceled(9)]);
        assert!(
            found.iter().any(|v| v.detail.contains("resumable")),
            "{found:?}"
        );
    }

    #[test]
    fn two_different_events_for_one_key_at_one_revision_conflict() {
        let mut other = event(2, "a");
        other.value = "different".into();
        let watches = vec![started(0, 2), events(1, vec![other])];
        let found = check(&[put_op("a", 2)], &watches);
        assert!(
            found.iter().any(|v| v.detail.contains("conflicting")),
            "{found:?}"
        );
    }
}

//! Leases: a key attached to a lease lives at least the lease's TTL past
//! the last grant or keep-alive the client saw succeed (a leader change
//! included: the new leader extends every lease), and no longer than the
//! lease once it is revoked.

use std::collections::HashMap;
use std::time::Duration;

use super::{secs, Checker, Violation};
use crate::history::{Operation, Outcome, Request, Response};

/// Keys the workload attaches to leases start with this; no other request
/// deletes them.
pub const KEY_PREFIX: &str = "lease/";

/// A renewal the client saw succeed: the lease lives at least `ttl` past
/// `invoke`, the earliest the member could have renewed it.
struct Renewal {
    invoke: Duration,
    complete: Duration,
    ttl: i64,
}

/// Finds leased keys that vanished early, and keys of revoked leases that
/// outlived the revocation.
pub fn check(ops: &[Operation]) -> Vec<Violation> {
    let mut renewals: HashMap<i64, Vec<Renewal>> = HashMap::new();
    let mut revokes: HashMap<i64, Vec<&Operation>> = HashMap::new();
    // Grants answer with the lease ID; keep-alives and revokes name it.
    for op in ops {
        let Some(complete) = op.complete else {
            if let Request::LeaseRevoke { id } = op.request {
                revokes.entry(id).or_default().push(op);
            }
            continue;
        };
        match (&op.request, &op.outcome) {
            (Request::LeaseGrant { .. }, Outcome::Ok(Response::LeaseGrant { id, ttl })) => {
                renewals.entry(*id).or_default().push(Renewal {
                    invoke: op.invoke,
                    complete,
                    ttl: *ttl,
                });
            }
            (Request::LeaseKeepAlive { id }, Outcome::Ok(Response::LeaseKeepAlive { ttl }))
                if *ttl > 0 =>
            {
                renewals.entry(*id).or_default().push(Renewal {
                    invoke: op.invoke,
                    complete,
                    ttl: *ttl,
                });
            }
            (Request::LeaseRevoke { id }, Outcome::Ok(_) | Outcome::Unknown) => {
                revokes.entry(*id).or_default().push(op);
            }
            _ => {}
        }
    }
    // The acknowledged leased puts, by key (each key is written once).
    let mut puts: HashMap<&str, (&Operation, i64)> = HashMap::new();
    for op in ops {
        if let (Request::Put { key, lease, .. }, Outcome::Ok(_)) = (&op.request, &op.outcome) {
            if *lease != 0 && key.starts_with(KEY_PREFIX) {
                puts.insert(key, (op, *lease));
            }
        }
    }

    let mut out = Vec::new();
    for read in ops {
        let (
            Request::Get {
                key,
                serializable: false,
            },
            Some(Response::Get { kv, .. }),
            Some(done),
        ) = (&read.request, read.response(), read.complete)
        else {
            continue;
        };
        let Some(&(put, lease)) = puts.get(key.as_str()) else {
            continue;
        };
        if put.complete.is_none_or(|c| c >= read.invoke) {
            continue;
        }
        let revoked_before = |t: Duration| {
            revokes
                .get(&lease)
                .is_some_and(|rs| rs.iter().any(|r| r.invoke < t))
        };
        match kv {
            None => {
                // The latest renewal certainly in effect when the read began.
                let renewal = renewals.get(&lease).and_then(|rs| {
                    rs.iter()
                        .filter(|r| r.complete < read.invoke)
                        .max_by_key(|r| r.invoke)
                });
                if let Some(r) = renewal {
                    let alive_until = r.invoke + Duration::from_secs(r.ttl.max(0) as u64);
                    if done < alive_until && !revoked_before(done) {
                        out.push(Violation::new(
                            Checker::Lease,
                            format!(
                                "{key:?} (lease {lease:x}) was gone by {} (read from member {} by client {}), \
                                 but the lease was renewed at {} with TTL {}s, so it lives until {}",
                                secs(done),
                                read.member + 1,
                                read.client,
                                secs(r.invoke),
                                r.ttl,
                                secs(alive_until)
                            ),
                        ));
                    }
                }
            }
            Some(_) => {
                let revoked = revokes.get(&lease).and_then(|rs| {
                    rs.iter()
                        .filter(|r| r.complete.is_some_and(|c| c < read.invoke))
                        .filter(|r| matches!(r.outcome, Outcome::Ok(_)))
                        .min_by_key(|r| r.invoke)
                });
                if let Some(r) = revoked {
                    out.push(Violation::new(
                        Checker::Lease,
                        format!(
                            "{key:?} read at {} though its lease {lease:x} was revoked at {}",
                            secs(read.invoke),
                            secs(r.complete.unwrap_or_default())
                        ),
                    ));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::KeyValue;

    fn op(invoke: u64, complete: u64, request: Request, response: Response) -> Operation {
        Operation {
            client: 0,
            member: 0,
            invoke: Duration::from_millis(invoke),
            complete: Some(Duration::from_millis(complete)),
            request,
            outcome: Outcome::Ok(response),
        }
    }

    fn history(read_at: u64, found: bool) -> Vec<Operation> {
        let key = "lease/a".to_string();
        vec![
            op(
                0,
                10,
                Request::LeaseGrant { ttl: 5 },
                Response::LeaseGrant { id: 7, ttl: 5 },
            ),
            op(
                20,
                30,
                Request::Put {
                    key: key.clone(),
                    value: "v".into(),
                    lease: 7,
                },
                Response::Put { revision: 2 },
            ),
            op(
                read_at,
                read_at + 10,
                Request::Get {
                    key,
                    serializable: false,
                },
                Response::Get {
                    revision: 2,
                    kv: found.then(|| KeyValue {
                        value: "v".into(),
                        mod_revision: 2,
                        lease: 7,
                    }),
                },
            ),
        ]
    }

    #[test]
    fn a_key_gone_before_its_ttl_is_caught() {
        let found = check(&history(1_000, false));
        assert_eq!(found.len(), 1);
        assert!(
            found[0].detail.contains("lives until 5.000s"),
            "{}",
            found[0]
        );
    }

    #[test]
    fn a_key_gone_after_its_ttl_is_fine() {
        assert!(check(&history(6_000, false)).is_empty());
        assert!(check(&history(1_000, true)).is_empty());
    }

    #[test]
    fn a_key_outliving_a_completed_revoke_is_caught() {
        let mut ops = history(2_000, true);
        ops.push(op(
            1_000,
            1_100,
            Request::LeaseRevoke { id: 7 },
            Response::LeaseRevoke { revision: 3 },
        ));
        assert_eq!(check(&ops).len(), 1);
        ops.pop();
        ops.push(op(
            1_000,
            1_100,
            Request::LeaseRevoke { id: 7 },
            Response::LeaseRevoke { revision: 3 },
        ));
        ops[3].invoke = Duration::from_millis(2_005);
        ops[3].complete = Some(Duration::from_millis(2_100));
        assert!(check(&ops).is_empty());
    }
}

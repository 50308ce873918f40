//! Serializable reads answer from one member's own state, so they may be
//! stale, but a client reading from the same member never goes back in
//! time: that member's applied revision only grows, restarts included.

use std::collections::HashMap;

use super::{secs, Checker, Violation};
use crate::history::{Operation, Request, Response};

/// Finds serializable reads whose revision is below an earlier one by the
/// same client from the same member.
pub fn check(ops: &[Operation]) -> Vec<Violation> {
    let mut reads: Vec<&Operation> = ops
        .iter()
        .filter(|op| {
            matches!(
                op.request,
                Request::Get {
                    serializable: true,
                    ..
                }
            )
        })
        .filter(|op| op.complete.is_some())
        .collect();
    reads.sort_by_key(|op| op.invoke);
    let mut last: HashMap<(usize, usize), (i64, &Operation)> = HashMap::new();
    let mut out = Vec::new();
    for op in reads {
        let Some(Response::Get { revision, .. }) = op.response() else {
            continue;
        };
        let slot = (op.client, op.member);
        if let Some((before, earlier)) = last.get(&slot) {
            if revision < before {
                out.push(Violation::new(
                    Checker::Serializable,
                    format!(
                        "client {} read revision {before} from member {} at {}, then revision {revision} at {}",
                        op.client,
                        op.member + 1,
                        secs(earlier.invoke),
                        secs(op.invoke)
                    ),
                ));
                continue;
            }
        }
        last.insert(slot, (*revision, op));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Outcome;
    use std::time::Duration;

    fn read(client: usize, at: u64, revision: i64) -> Operation {
        Operation {
            client,
            member: 0,
            invoke: Duration::from_millis(at),
            complete: Some(Duration::from_millis(at + 1)),
            request: Request::Get {
                key: "k".into(),
                serializable: true,
            },
            outcome: Outcome::Ok(Response::Get { revision, kv: None }),
        }
    }

    #[test]
    fn a_client_going_back_in_time_is_caught() {
        let ops = vec![read(0, 1, 5), read(0, 3, 7), read(0, 5, 6)];
        let found = check(&ops);
        assert_eq!(found.len(), 1);
        assert!(found[0].detail.contains("revision 7"));
    }

    #[test]
    fn different_clients_may_see_different_revisions() {
        let ops = vec![read(0, 1, 9), read(1, 3, 4), read(0, 5, 9)];
        assert!(check(&ops).is_empty());
    }
}

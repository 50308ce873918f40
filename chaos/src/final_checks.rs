//! The checks that need the cluster itself, run by one more client after
//! the faults heal: liveness (how soon a write succeeds again) and
//! durability (every acknowledged write readable at its revision on every
//! member, and every member holding the same state).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use berth_proto::etcdserverpb::kv_client::KvClient;
use berth_proto::etcdserverpb::{PutRequest, RangeRequest, RangeResponse};
use tonic::transport::Channel;

use crate::check::{Checker, Violation};
use crate::cluster::{client_url, member_name};
use crate::history::{acknowledged_writes, AckedWrite};
use crate::workload::{now, Plan, Recorder};

/// How long after healing a write must succeed.
pub const LIVENESS_BOUND: Duration = Duration::from_secs(10);
/// How long every member gets to catch up with the last acknowledged write.
const CATCH_UP_BOUND: Duration = Duration::from_secs(15);
const READ_TIMEOUT: Duration = Duration::from_secs(2);

/// What the final checks found.
#[derive(Debug, Default)]
pub struct FinalReport {
    /// Time from healing to the first successful write.
    pub recovery: Option<Duration>,
    pub violations: Vec<Violation>,
}

/// Runs the final checks: from `heal`, writes until one succeeds; once the
/// workload has stopped, reads every acknowledged write back from every
/// member.
pub async fn run(
    plan: Plan,
    heal: Duration,
    recorder: Recorder,
    report: Rc<RefCell<FinalReport>>,
) -> turmoil::Result {
    let mut kvs = Vec::new();
    for m in 0..plan.members {
        kvs.push(KvClient::new(crate::net::channel(&client_url(m))?));
    }
    tokio::time::sleep(heal).await;
    let violation = |checker, detail: String| {
        report
            .borrow_mut()
            .violations
            .push(Violation::new(checker, detail))
    };

    // Liveness: some member takes a write within the bound.
    let mut attempt = 0usize;
    let recovered = loop {
        if now() - heal > LIVENESS_BOUND {
            break None;
        }
        let kv = &mut kvs[attempt % plan.members];
        attempt += 1;
        let put = PutRequest {
            key: b"chaos/liveness".to_vec(),
            value: attempt.to_string().into_bytes(),
            ..Default::default()
        };
        if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(1), kv.put(put)).await {
            break Some(now() - heal);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    report.borrow_mut().recovery = recovered;
    if recovered.is_none() {
        violation(
            Checker::Liveness,
            format!("no write succeeded within {LIVENESS_BOUND:?} of healing"),
        );
        return Ok(());
    }

    // Durability, once the workload is over.
    let wait = plan.stop.saturating_sub(now()) + Duration::from_millis(500);
    tokio::time::sleep(wait).await;
    let ops = recorder.ops();
    let acked = acknowledged_writes(&ops);
    let target = acked.iter().map(|w| w.revision).max().unwrap_or(0);
    for (m, kv) in kvs.iter_mut().enumerate() {
        if let Err(at) = caught_up(kv, target).await {
            violation(
                Checker::Durability,
                format!(
                    "{} is at revision {at}, {CATCH_UP_BOUND:?} after the workload stopped; \
                     the last acknowledged write is at {target}",
                    member_name(m)
                ),
            );
            return Ok(());
        }
    }
    for AckedWrite {
        key,
        value,
        revision,
    } in &acked
    {
        for (m, kv) in kvs.iter_mut().enumerate() {
            let read = read(kv, key.as_bytes().to_vec(), vec![], *revision).await;
            let found = match &read {
                Ok(r) => Ok(r.kvs.first().map(|kv| {
                    (
                        String::from_utf8_lossy(&kv.value).into_owned(),
                        kv.mod_revision,
                    )
                })),
                Err(e) => Err(e.clone()),
            };
            let expected = value.clone().map(|v| (v, *revision));
            // Compacted revisions can no longer be read; nothing to check.
            let compacted = matches!(&found, Err(e) if e.contains("compacted"));
            if !compacted && found.as_ref() != Ok(&expected) {
                violation(
                    Checker::Durability,
                    format!(
                        "acknowledged {} of {key:?} at revision {revision}: {} answers {:?} at that revision",
                        if value.is_some() { "write" } else { "delete" },
                        member_name(m),
                        found
                    ),
                );
            }
        }
    }
    // Every member holds the same state at the final revision.
    let mut states = Vec::new();
    for kv in kvs.iter_mut() {
        let state = read(kv, vec![0], vec![0], target).await.map(|r| {
            r.kvs
                .into_iter()
                .map(|kv| (kv.key, kv.value, kv.mod_revision))
                .collect::<Vec<_>>()
        });
        states.push(state);
    }
    for m in 1..states.len() {
        if states[m] != states[0] {
            violation(
                Checker::Durability,
                format!(
                    "{} and {} differ at revision {target}",
                    member_name(0),
                    member_name(m)
                ),
            );
        }
    }
    Ok(())
}

/// Waits until the member has applied `target`; on timeout, where it is.
async fn caught_up(kv: &mut KvClient<Channel>, target: i64) -> Result<(), i64> {
    let started = now();
    let mut at = 0;
    while now() - started < CATCH_UP_BOUND {
        if let Ok(r) = read(kv, b"chaos/".to_vec(), vec![], 0).await {
            at = r.header.map(|h| h.revision).unwrap_or(0);
            if at >= target {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(at)
}

/// A serializable read of the member's own state.
async fn read(
    kv: &mut KvClient<Channel>,
    key: Vec<u8>,
    range_end: Vec<u8>,
    revision: i64,
) -> Result<RangeResponse, String> {
    let req = RangeRequest {
        key,
        range_end,
        revision,
        serializable: true,
        ..Default::default()
    };
    match tokio::time::timeout(READ_TIMEOUT, kv.range(req)).await {
        Ok(Ok(r)) => Ok(r.into_inner()),
        Ok(Err(status)) => Err(status.message().to_string()),
        Err(_) => Err("timed out".to_string()),
    }
}

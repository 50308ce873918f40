//! The workloads: closed-loop clients issuing one kind of request (or a
//! mix) until the duration is up.

mod watch;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_proto::etcdserverpb::{
    compare, request_op, Compare, PutRequest, RangeRequest, RequestOp, TxnRequest,
};
use rand::{Rng, SeedableRng};

use crate::connect::{ConnectError, Pool};
use crate::report::{Report, Stats};

/// What to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Workload {
    /// Puts of random keys.
    Put,
    /// Gets of random existing keys (linearizable or serializable).
    Get,
    /// Compare-and-swap transactions on a key's mod revision.
    Txn,
    /// Prefix ranges over the whole key space.
    Range,
    /// Watchers on a prefix; latency from put acknowledgement to event.
    Watch,
    /// Nine gets to one put.
    Mixed,
}

impl Workload {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Put => "put",
            Workload::Get => "get",
            Workload::Txn => "txn",
            Workload::Range => "range",
            Workload::Watch => "watch",
            Workload::Mixed => "mixed",
        }
    }
}

/// How to run it.
#[derive(Debug, Clone)]
pub struct Config {
    /// `host:port` or URLs of the members to use.
    pub endpoints: Vec<String>,
    /// A label for reports ("berth", "etcd").
    pub target: String,
    /// Concurrent clients.
    pub clients: usize,
    /// gRPC connections, shared round-robin.
    pub conns: usize,
    pub duration: Duration,
    /// Distinct keys.
    pub keys: usize,
    pub value_size: usize,
    /// Serializable reads (any member's state) instead of linearizable.
    pub serializable: bool,
    /// Watchers of the watch workload.
    pub watchers: usize,
    /// Puts per second of the watch workload.
    pub rate: u64,
    /// Keys range workloads read at once.
    pub range_keys: usize,
    /// Stop after this many operations in all, if the duration has not
    /// ended first (0: no limit).
    pub ops: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            endpoints: vec!["127.0.0.1:2379".into()],
            target: "berth".into(),
            clients: 16,
            conns: 4,
            duration: Duration::from_secs(10),
            keys: 10_000,
            value_size: 256,
            serializable: false,
            watchers: 100,
            rate: 100,
            range_keys: 100,
            ops: 0,
        }
    }
}

/// Why a run could not be made.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("preparing the keys: {0}")]
    Prepare(tonic::Status),
    #[error("watch: {0}")]
    Watch(String),
}

fn key(prefix: &str, i: usize) -> Vec<u8> {
    format!("bench/{prefix}/{i:08}").into_bytes()
}

/// Runs `workload` as `config` says.
pub async fn run(workload: Workload, config: &Config) -> Result<Report, RunError> {
    let pool = Pool::connect(&config.endpoints, config.conns).await?;
    if workload == Workload::Watch {
        return watch::run(&pool, config).await;
    }
    let prefix = workload.name();
    let keys = match workload {
        Workload::Range => config.range_keys,
        _ => config.keys,
    }
    .max(1);
    if matches!(
        workload,
        Workload::Get | Workload::Txn | Workload::Range | Workload::Mixed
    ) {
        prepare(&pool, prefix, keys, config.value_size).await?;
    }
    let value = Arc::new(vec![b'v'; config.value_size]);
    let started = Instant::now();
    let deadline = started + config.duration;
    let budget = Arc::new(AtomicU64::new(match config.ops {
        0 => u64::MAX,
        ops => ops,
    }));
    let mut tasks = Vec::new();
    for client in 0..config.clients.max(1) {
        let mut kv = pool.kv(client);
        let value = value.clone();
        let serializable = config.serializable;
        let budget = budget.clone();
        tasks.push(tokio::spawn(async move {
            let mut stats = Stats::default();
            let mut rng = rand::rngs::StdRng::from_entropy();
            while Instant::now() < deadline {
                if !take_one(&budget) {
                    break;
                }
                let k = key(prefix, rng.gen_range(0..keys));
                let op = match workload {
                    Workload::Mixed if rng.gen_range(0..10) == 0 => Workload::Put,
                    Workload::Mixed => Workload::Get,
                    w => w,
                };
                let sent = Instant::now();
                let result = match op {
                    Workload::Put => kv
                        .put(PutRequest {
                            key: k,
                            value: value.to_vec(),
                            ..Default::default()
                        })
                        .await
                        .map(|_| ()),
                    Workload::Get => kv
                        .range(RangeRequest {
                            key: k,
                            serializable,
                            ..Default::default()
                        })
                        .await
                        .map(|_| ()),
                    Workload::Range => {
                        let start = format!("bench/{prefix}/").into_bytes();
                        let mut end = start.clone();
                        if let Some(last) = end.last_mut() {
                            *last += 1;
                        }
                        kv.range(RangeRequest {
                            key: start,
                            range_end: end,
                            serializable,
                            ..Default::default()
                        })
                        .await
                        .map(|_| ())
                    }
                    Workload::Txn => cas(&mut kv, k, value.to_vec(), serializable).await,
                    Workload::Mixed | Workload::Watch => Ok(()),
                };
                match result {
                    Ok(()) => stats.ok(sent.elapsed()),
                    Err(status) => stats.error(format!("{:?}", status.code())),
                }
            }
            stats
        }));
    }
    let mut total = Stats::default();
    for task in tasks {
        if let Ok(stats) = task.await {
            total.merge(&stats);
        }
    }
    Ok(Report::new(
        workload.name(),
        &config.target,
        &total,
        started.elapsed(),
    ))
}

/// Takes one operation from what is left of the budget, if any is.
fn take_one(budget: &AtomicU64) -> bool {
    budget
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
            left.checked_sub(1)
        })
        .is_ok()
}

/// One compare-and-swap: read the key's mod revision, then put if it is
/// unchanged. A lost race is an answered request, not an error.
async fn cas(
    kv: &mut berth_proto::etcdserverpb::kv_client::KvClient<tonic::transport::Channel>,
    key: Vec<u8>,
    value: Vec<u8>,
    serializable: bool,
) -> Result<(), tonic::Status> {
    let read = kv
        .range(RangeRequest {
            key: key.clone(),
            serializable,
            ..Default::default()
        })
        .await?
        .into_inner();
    let revision = read.kvs.first().map(|kv| kv.mod_revision).unwrap_or(0);
    kv.txn(TxnRequest {
        compare: vec![Compare {
            result: compare::CompareResult::Equal as i32,
            target: compare::CompareTarget::Mod as i32,
            key: key.clone(),
            target_union: Some(compare::TargetUnion::ModRevision(revision)),
            ..Default::default()
        }],
        success: vec![RequestOp {
            request: Some(request_op::Request::RequestPut(PutRequest {
                key,
                value,
                ..Default::default()
            })),
        }],
        failure: vec![],
    })
    .await
    .map(|_| ())
}

/// Writes every key of the key space once, 64 at a time.
async fn prepare(
    pool: &Pool,
    prefix: &str,
    keys: usize,
    value_size: usize,
) -> Result<(), RunError> {
    let value = vec![b'v'; value_size];
    let mut pending = futures::stream::FuturesUnordered::new();
    for i in 0..keys {
        let mut kv = pool.kv(i);
        let put = PutRequest {
            key: key(prefix, i),
            value: value.clone(),
            ..Default::default()
        };
        pending.push(async move { kv.put(put).await });
        if pending.len() >= 64 {
            if let Some(result) = futures::StreamExt::next(&mut pending).await {
                result.map_err(RunError::Prepare)?;
            }
        }
    }
    while let Some(result) = futures::StreamExt::next(&mut pending).await {
        result.map_err(RunError::Prepare)?;
    }
    Ok(())
}

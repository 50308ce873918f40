//! The watch workload: W watchers on one prefix and a writer putting at a
//! fixed rate; each event's latency runs from the put's acknowledgement to
//! its receipt by each watcher (an event seen before the acknowledgement
//! counts as zero).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_proto::etcdserverpb::{watch_request, PutRequest, WatchCreateRequest, WatchRequest};
use futures::StreamExt;

use super::{Config, RunError};
use crate::connect::Pool;
use crate::report::{Report, Stats};

const PREFIX: &[u8] = b"bench/watch/";

pub async fn run(pool: &Pool, config: &Config) -> Result<Report, RunError> {
    let acks: Arc<Mutex<HashMap<i64, Instant>>> = Arc::default();
    let mut end = PREFIX.to_vec();
    if let Some(last) = end.last_mut() {
        *last += 1;
    }
    // Open every watcher before writing, from the current revision.
    let mut streams = Vec::new();
    for w in 0..config.watchers.max(1) {
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let create = WatchRequest {
            request_union: Some(watch_request::RequestUnion::CreateRequest(
                WatchCreateRequest {
                    key: PREFIX.to_vec(),
                    range_end: end.clone(),
                    ..Default::default()
                },
            )),
        };
        tx.send(create)
            .await
            .map_err(|e| RunError::Watch(e.to_string()))?;
        let mut stream = pool
            .watch(w)
            .watch(tokio_stream_from(rx))
            .await
            .map_err(|e| RunError::Watch(e.to_string()))?
            .into_inner();
        // The created response.
        match stream.next().await {
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(RunError::Watch(e.to_string())),
            None => return Err(RunError::Watch("the watch closed".into())),
        }
        streams.push((tx, stream));
    }
    let started = Instant::now();
    let deadline = started + config.duration;
    let mut watchers = Vec::new();
    for (tx, mut stream) in streams {
        let acks = acks.clone();
        watchers.push(tokio::spawn(async move {
            let _keep = tx;
            let mut stats = Stats::default();
            let mut early = Vec::new();
            let grace = deadline + Duration::from_secs(2);
            while let Ok(Some(message)) = tokio::time::timeout_at(grace.into(), stream.next()).await
            {
                let now = Instant::now();
                match message {
                    Ok(resp) => {
                        for event in resp.events {
                            let Some(kv) = event.kv else { continue };
                            let acked = acks
                                .lock()
                                .ok()
                                .and_then(|a| a.get(&kv.mod_revision).copied());
                            match acked {
                                Some(at) => stats.ok(now.saturating_duration_since(at)),
                                None => early.push(kv.mod_revision),
                            }
                        }
                    }
                    Err(e) => {
                        stats.error(format!("{:?}", e.code()));
                        break;
                    }
                }
            }
            // Events that overtook their acknowledgement took no time after it.
            for _ in early {
                stats.ok(Duration::ZERO);
            }
            stats
        }));
    }
    // The writer: puts at `rate` per second until the deadline.
    let mut kv = pool.kv(0);
    let mut writes = Stats::default();
    let every = Duration::from_secs_f64(1.0 / config.rate.max(1) as f64);
    let mut tick = tokio::time::interval(every);
    let mut n: u64 = 0;
    while Instant::now() < deadline {
        tick.tick().await;
        let put = PutRequest {
            key: [PREFIX, format!("{:06}", n % 1000).as_bytes()].concat(),
            value: vec![b'v'; config.value_size],
            ..Default::default()
        };
        n += 1;
        match kv.put(put).await {
            Ok(resp) => {
                let revision = resp.into_inner().header.map(|h| h.revision).unwrap_or(0);
                if let Ok(mut a) = acks.lock() {
                    a.insert(revision, Instant::now());
                }
            }
            Err(e) => writes.error(format!("{:?}", e.code())),
        }
    }
    let mut total = Stats::default();
    for w in watchers {
        if let Ok(stats) = w.await {
            total.merge(&stats);
        }
    }
    total.merge(&writes);
    Ok(Report::new(
        "watch",
        &config.target,
        &total,
        started.elapsed(),
    ))
}

fn tokio_stream_from(
    rx: tokio::sync::mpsc::Receiver<WatchRequest>,
) -> impl futures::Stream<Item = WatchRequest> {
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|r| (r, rx)) })
}

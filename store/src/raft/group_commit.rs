//! Group commit for the Raft log: appends are written to RocksDB at once
//! (readable, not yet durable), and one task fsyncs the WAL for every
//! append that arrived meanwhile, then tells openraft they are durable.
//!
//! openraft's storage API allows exactly this: `append` may return before
//! the entries are durable, as long as the callback fires only after they
//! are. A leader thus replicates to followers while its own fsync runs, and
//! many concurrent proposals share one fsync, as etcd's WAL batches a Ready
//! into one sync. Nothing is reported durable before `SyncWAL` returned.
//!
//! The syncing task is a tokio task, not a thread, so that a simulation on
//! one thread (the chaos suite) still orders everything itself. On a
//! multi-threaded runtime the fsync itself runs on tokio's blocking pool:
//! done inline it would hold a worker for the whole sync, and on a small
//! machine that worker is half the member.

use std::sync::{Arc, OnceLock, Weak};

use openraft::storage::LogFlushed;
use prometheus_client::metrics::histogram::Histogram;
use rocksdb::DB;
use tokio::sync::{mpsc, oneshot};

use super::types::TypeConfig;

enum Job {
    /// Fire once the WAL holding the append is synced.
    Flushed(LogFlushed<TypeConfig>),
    /// Answer once every job handed over before it is done.
    Barrier(oneshot::Sender<()>),
}

/// The handle appends hand their callbacks to; cheap to clone.
#[derive(Clone)]
pub(super) struct GroupCommit {
    db: Arc<DB>,
    fsync_duration: Arc<OnceLock<Histogram>>,
    jobs: Arc<OnceLock<mpsc::UnboundedSender<Job>>>,
}

impl GroupCommit {
    pub(super) fn new(db: Arc<DB>, fsync_duration: Arc<OnceLock<Histogram>>) -> GroupCommit {
        GroupCommit {
            db,
            fsync_duration,
            jobs: Arc::new(OnceLock::new()),
        }
    }

    /// The task starts with the first use, inside the runtime that uses it.
    fn sender(&self) -> &mpsc::UnboundedSender<Job> {
        self.jobs.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            // A weak handle: the database closes (and its lock is freed)
            // when the log store is dropped, not when this task next runs.
            tokio::spawn(sync_loop(
                Arc::downgrade(&self.db),
                Arc::clone(&self.fsync_duration),
                rx,
            ));
            tx
        })
    }

    /// Calls `callback` once everything written so far is fsynced.
    pub(super) fn after_sync(&self, callback: LogFlushed<TypeConfig>) {
        if let Err(mpsc::error::SendError(Job::Flushed(callback))) =
            self.sender().send(Job::Flushed(callback))
        {
            // The task is gone only when the runtime is shutting down.
            callback.log_io_completed(Err(std::io::Error::other("raft log: syncer stopped")));
        }
    }

    /// Waits until every callback handed over before has fired, so that a
    /// truncation is never reported before the appends it follows.
    pub(super) async fn barrier(&self) {
        let (tx, rx) = oneshot::channel();
        if self.sender().send(Job::Barrier(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

/// Syncs the WAL, on the blocking pool if `offload`. A simulation runs on
/// one thread and must not: a real thread would escape its ordering.
async fn sync_wal(db: Arc<DB>, offload: bool) -> Result<(), String> {
    let sync = move || db.flush_wal(true).map_err(|e| e.to_string());
    if !offload {
        return sync();
    }
    tokio::task::spawn_blocking(sync)
        .await
        .unwrap_or_else(|e| Err(format!("the fsync task failed: {e}")))
}

async fn sync_loop(
    db: Weak<DB>,
    fsync_duration: Arc<OnceLock<Histogram>>,
    mut jobs: mpsc::UnboundedReceiver<Job>,
) {
    use tokio::runtime::{Handle, RuntimeFlavor};
    let offload = Handle::current().runtime_flavor() != RuntimeFlavor::CurrentThread;
    let mut batch = Vec::new();
    while jobs.recv_many(&mut batch, usize::MAX).await > 0 {
        let started = tokio::time::Instant::now();
        let synced = if batch.iter().any(|j| matches!(j, Job::Flushed(_))) {
            match db.upgrade() {
                Some(db) => sync_wal(db, offload).await,
                None => Err("the log is closed".to_string()),
            }
        } else {
            Ok(())
        };
        if let Some(histogram) = fsync_duration.get() {
            histogram.observe(started.elapsed().as_secs_f64());
        }
        for job in batch.drain(..) {
            match job {
                Job::Flushed(callback) => callback.log_io_completed(
                    synced
                        .clone()
                        .map_err(|e| std::io::Error::other(format!("raft log fsync: {e}"))),
                ),
                Job::Barrier(done) => {
                    let _ = done.send(());
                }
            }
        }
    }
}

//! The worker half of a controller: take a key from the queue, sync it,
//! and requeue it on failure with backoff (client-go's processNextWorkItem
//! loop), with several workers over one queue.

use std::future::Future;
use std::time::Duration;

use crate::{Error, WorkQueue};

/// What a successful sync asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requeue {
    /// Nothing more until the key changes.
    No,
    /// Sync the key again after this long (a deadline to check, a
    /// condition expected to change).
    After(Duration),
}

/// Runs `workers` workers over `queue` until it is shut down. A sync that
/// fails is retried with the queue's per-key backoff; one that succeeds
/// resets it.
pub async fn run<F, Fut>(name: &'static str, queue: WorkQueue<String>, workers: usize, sync: F)
where
    F: Fn(String) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<Requeue, Error>> + Send,
{
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers.max(1) {
        let queue = queue.clone();
        let sync = sync.clone();
        tasks.spawn(async move {
            while let Some(key) = queue.get().await {
                match sync(key.clone()).await {
                    Ok(requeue) => {
                        queue.forget(&key);
                        if let Requeue::After(delay) = requeue {
                            queue.add_after(key.clone(), delay);
                        }
                    }
                    Err(e) => {
                        tracing::debug!(controller = name, %key, error = %e, "sync failed; retrying");
                        queue.add_rate_limited(key.clone());
                    }
                }
                queue.done(&key);
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}

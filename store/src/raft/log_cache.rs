//! The newest Raft log entries, kept in memory beside RocksDB.
//!
//! Every entry is read back soon after it is appended: on the leader by
//! each follower's replication stream and by the state machine, on a
//! follower by the state machine. Served from here, those reads are a
//! clone instead of a RocksDB iteration and a decode each. etcd keeps its
//! whole log since the last snapshot in memory for the same reason; this
//! keeps only a bounded suffix, and anything older is read from RocksDB.
//!
//! The cache always holds a contiguous run of the log's last entries (or
//! nothing): appends extend it at its end, a truncation cuts its end, a
//! purge cuts its front, and an append that does not follow its last entry
//! replaces it.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use super::types::TypeConfig;

type Entry = openraft::Entry<TypeConfig>;

/// Entries kept at most.
const MAX_ENTRIES: usize = 4096;

/// Encoded bytes kept at most.
const MAX_BYTES: usize = 16 << 20;

#[derive(Default)]
struct Inner {
    /// Entries with their encoded sizes, by index, without gaps.
    entries: VecDeque<(Entry, usize)>,
    bytes: usize,
}

/// A shared cache of the log's newest entries; clones share it.
#[derive(Clone, Default)]
pub(super) struct LogCache {
    inner: Arc<Mutex<Inner>>,
}

impl LogCache {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing here can leave the cache half-changed, so a panic elsewhere
        // while it was held does not make it unusable.
        match self.inner.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Records entries just appended to the log, each with its encoded size.
    pub(super) fn appended(&self, entries: Vec<(Entry, usize)>) {
        let mut inner = self.lock();
        for (entry, size) in entries {
            let follows = inner
                .entries
                .back()
                .is_none_or(|(last, _)| last.log_id.index + 1 == entry.log_id.index);
            if !follows {
                inner.entries.clear();
                inner.bytes = 0;
            }
            inner.bytes += size;
            inner.entries.push_back((entry, size));
        }
        while inner.entries.len() > MAX_ENTRIES || inner.bytes > MAX_BYTES {
            match inner.entries.pop_front() {
                Some((_, size)) => inner.bytes -= size,
                None => break,
            }
        }
    }

    /// Forgets entries from `index` on (a truncation).
    pub(super) fn truncated(&self, index: u64) {
        let mut inner = self.lock();
        while inner
            .entries
            .back()
            .is_some_and(|(e, _)| e.log_id.index >= index)
        {
            if let Some((_, size)) = inner.entries.pop_back() {
                inner.bytes -= size;
            }
        }
    }

    /// Forgets entries up to `index`, inclusive (a purge).
    pub(super) fn purged(&self, index: u64) {
        let mut inner = self.lock();
        while inner
            .entries
            .front()
            .is_some_and(|(e, _)| e.log_id.index <= index)
        {
            if let Some((_, size)) = inner.entries.pop_front() {
                inner.bytes -= size;
            }
        }
    }

    /// Entries in `[start, end)`, stopping early (after at least one entry)
    /// past `byte_budget` bytes, if the cache holds `start`; `None` if the
    /// range begins before the cache (read it from RocksDB). The cache ends
    /// where the log ends, so a range past its end is cut there.
    pub(super) fn read(&self, start: u64, end: u64, byte_budget: usize) -> Option<Vec<Entry>> {
        let inner = self.lock();
        let first = inner.entries.front()?.0.log_id.index;
        if start < first {
            return None;
        }
        let skip = usize::try_from(start - first).unwrap_or(usize::MAX);
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for (entry, size) in inner.entries.iter().skip(skip) {
            if entry.log_id.index >= end {
                break;
            }
            if !out.is_empty() && bytes.saturating_add(*size) > byte_budget {
                break;
            }
            bytes = bytes.saturating_add(*size);
            out.push(entry.clone());
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use openraft::{CommittedLeaderId, EntryPayload, LogId};

    use super::*;

    fn entry(term: u64, index: u64) -> (Entry, usize) {
        let entry = Entry {
            log_id: LogId::new(CommittedLeaderId::new(term, 1), index),
            payload: EntryPayload::Blank,
        };
        (entry, 10)
    }

    fn indexes(entries: Option<Vec<Entry>>) -> Option<Vec<u64>> {
        entries.map(|es| es.iter().map(|e| e.log_id.index).collect())
    }

    #[test]
    fn serves_what_it_holds_and_declines_what_is_older() {
        let cache = LogCache::default();
        assert_eq!(indexes(cache.read(1, 10, usize::MAX)), None);
        cache.appended((5..=8).map(|i| entry(1, i)).collect());
        assert_eq!(indexes(cache.read(6, 8, usize::MAX)), Some(vec![6, 7]));
        assert_eq!(
            indexes(cache.read(7, u64::MAX, usize::MAX)),
            Some(vec![7, 8])
        );
        assert_eq!(indexes(cache.read(9, 12, usize::MAX)), Some(vec![]));
        assert_eq!(indexes(cache.read(4, 8, usize::MAX)), None);
        // The byte budget stops a read after at least one entry.
        assert_eq!(indexes(cache.read(5, 9, 15)), Some(vec![5]));
        assert_eq!(indexes(cache.read(5, 9, 20)), Some(vec![5, 6]));
    }

    #[test]
    fn truncation_purge_and_gaps_keep_it_a_suffix_of_the_log() {
        let cache = LogCache::default();
        cache.appended((1..=5).map(|i| entry(1, i)).collect());
        cache.truncated(4);
        cache.appended(vec![entry(2, 4)]);
        let read = cache.read(3, 10, usize::MAX).unwrap();
        assert_eq!(
            read.iter()
                .map(|e| (e.log_id.leader_id.term, e.log_id.index))
                .collect::<Vec<_>>(),
            vec![(1, 3), (2, 4)]
        );
        cache.purged(2);
        assert_eq!(indexes(cache.read(2, 10, usize::MAX)), None);
        assert_eq!(indexes(cache.read(3, 10, usize::MAX)), Some(vec![3, 4]));
        // An append that does not follow (after a snapshot install) starts
        // the cache afresh.
        cache.appended(vec![entry(3, 20)]);
        assert_eq!(indexes(cache.read(4, 30, usize::MAX)), None);
        assert_eq!(indexes(cache.read(20, 30, usize::MAX)), Some(vec![20]));
    }

    #[test]
    fn keeps_at_most_its_bound() {
        let cache = LogCache::default();
        let n = MAX_ENTRIES as u64 + 10;
        cache.appended((1..=n).map(|i| entry(1, i)).collect());
        assert_eq!(indexes(cache.read(1, 3, usize::MAX)), None);
        assert_eq!(indexes(cache.read(11, 12, usize::MAX)), Some(vec![11]));
    }
}

//! The Raft log and vote, on their own RocksDB.
//!
//! Raft's safety rests on a member never forgetting what it acknowledged: a
//! vote it granted (§5.2, one vote per term) and entries it told the leader
//! it holds (§5.3, the commit rule counts them). So every append and every
//! vote is written with `sync = true` — fsynced — before openraft is told it
//! is done. (openraft's `raft-kv-rocksdb` example does not sync; berth must.)
//! Appends share their fsyncs (`super::group_commit`): an append is
//! written at once and reported durable after the next sync of the WAL.
//!
//! Column families: `logs` (big-endian index → bincode entry, so RocksDB's
//! order is log order) and `meta` (`vote`, `committed`, `last_purged`).

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{
    AnyError, LogState, OptionalSend, RaftLogReader, StorageError, StorageIOError, Vote,
};
use prometheus_client::metrics::histogram::Histogram;
use rocksdb::{
    ColumnFamilyDescriptor, Direction, IteratorMode, Options, WriteBatch, WriteOptions, DB,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::group_commit::GroupCommit;
use super::log_cache::LogCache;
use super::types::{LogId, TypeConfig};
use super::{decode, encode};
use crate::{Result, StoreError};

type Entry = openraft::Entry<TypeConfig>;
type StorageResult<T> = std::result::Result<T, StorageError<u64>>;

const CF_LOGS: &str = "logs";
const CF_META: &str = "meta";
const KEY_VOTE: &[u8] = b"vote";
const KEY_COMMITTED: &[u8] = b"committed";
const KEY_LAST_PURGED: &[u8] = b"last_purged";

/// Roughly how many bytes of entries one replication message carries: a
/// batch of large entries is cut short so the message stays well under the
/// peer service's limit (openraft asks again for the rest).
const REPLICATION_BATCH_BYTES: usize = 1024 * 1024;

/// The Raft log storage: entries, vote, committed and last purged log ids.
///
/// Cloning is cheap; clones share the database (the log reader openraft's
/// replication tasks use is a clone).
#[derive(Clone)]
pub struct LogStore {
    db: Arc<DB>,
    committed: Arc<AtomicU64>,
    fsync_duration: Arc<OnceLock<Histogram>>,
    group_commit: GroupCommit,
    /// The newest entries, which replication and apply read back.
    cache: LogCache,
}

impl LogStore {
    /// Opens (or creates) the log database in `dir`.
    pub fn open(dir: &Path) -> Result<LogStore> {
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        let cfs =
            [CF_LOGS, CF_META].map(|name| ColumnFamilyDescriptor::new(name, Options::default()));
        let db = DB::open_cf_descriptors(&options, dir, cfs)?;
        let db = Arc::new(db);
        let fsync_duration = Arc::new(OnceLock::new());
        let store = LogStore {
            group_commit: GroupCommit::new(Arc::clone(&db), Arc::clone(&fsync_duration)),
            db,
            committed: Arc::new(AtomicU64::new(0)),
            fsync_duration,
            cache: LogCache::default(),
        };
        let committed: Option<Option<LogId>> = store.get_meta(KEY_COMMITTED)?;
        let index = committed.flatten().map_or(0, |l| l.index);
        store.committed.store(index, Ordering::Release);
        Ok(store)
    }

    /// Records how long every synced write takes (etcd's
    /// `etcd_disk_wal_fsync_duration_seconds`).
    pub fn observe_fsync(self, histogram: Histogram) -> LogStore {
        let _ = self.fsync_duration.set(histogram);
        self
    }

    /// The commit index as last saved, shared so the server can report it
    /// (etcd's `raftIndex`) without asking Raft.
    pub fn committed_index(&self) -> Arc<AtomicU64> {
        self.committed.clone()
    }

    fn cf(&self, name: &str) -> Result<&rocksdb::ColumnFamily> {
        self.db
            .cf_handle(name)
            .ok_or_else(|| StoreError::Storage(format!("raft log: column family {name} missing")))
    }

    fn get_meta<T: DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>> {
        match self.db.get_cf(self.cf(CF_META)?, key)? {
            Some(bytes) => decode(&bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Writes a batch durably: the WAL is fsynced before this returns.
    fn write_synced(&self, batch: WriteBatch) -> Result<()> {
        let mut options = WriteOptions::default();
        options.set_sync(true);
        let started = tokio::time::Instant::now();
        self.db.write_opt(batch, &options)?;
        if let Some(histogram) = self.fsync_duration.get() {
            histogram.observe(started.elapsed().as_secs_f64());
        }
        Ok(())
    }

    fn put_meta_batch<T: Serialize>(
        &self,
        batch: &mut WriteBatch,
        key: &[u8],
        value: &T,
    ) -> Result<()> {
        batch.put_cf(self.cf(CF_META)?, key, encode(value)?);
        Ok(())
    }

    fn last_entry_log_id(&self) -> Result<Option<LogId>> {
        let mut iter = self.db.iterator_cf(self.cf(CF_LOGS)?, IteratorMode::End);
        match iter.next() {
            Some(item) => {
                let (_, value) = item?;
                let entry: Entry = decode(&value)?;
                Ok(Some(entry.log_id))
            }
            None => Ok(None),
        }
    }

    /// Entries with index in `[start, end)`, stopping early (after at least
    /// one entry) once `byte_budget` bytes were read.
    fn read_entries(&self, start: u64, end: u64, byte_budget: usize) -> Result<Vec<Entry>> {
        if start >= end {
            return Ok(Vec::new());
        }
        if let Some(entries) = self.cache.read(start, end, byte_budget) {
            return Ok(entries);
        }
        let mut entries = Vec::new();
        let mut bytes = 0usize;
        let from = start.to_be_bytes();
        let iter = self.db.iterator_cf(
            self.cf(CF_LOGS)?,
            IteratorMode::From(&from, Direction::Forward),
        );
        for item in iter {
            let (key, value) = item?;
            let index = index_of(&key)?;
            if index >= end {
                break;
            }
            if !entries.is_empty() && bytes.saturating_add(value.len()) > byte_budget {
                break;
            }
            bytes = bytes.saturating_add(value.len());
            entries.push(decode(&value)?);
        }
        Ok(entries)
    }

    /// Appends with a synced write of its own (tests' direct path).
    #[cfg(test)]
    fn append_entries(&self, entries: impl IntoIterator<Item = Entry>) -> Result<()> {
        let (batch, sized) = self.entries_batch(entries)?;
        self.write_synced(batch)?;
        self.cache.appended(sized);
        Ok(())
    }

    /// The write of `entries`, and each entry with its encoded size for the
    /// cache.
    fn entries_batch(
        &self,
        entries: impl IntoIterator<Item = Entry>,
    ) -> Result<(WriteBatch, Vec<(Entry, usize)>)> {
        let cf = self.cf(CF_LOGS)?;
        let mut batch = WriteBatch::default();
        let mut sized = Vec::new();
        for entry in entries {
            let bytes = encode(&entry)?;
            batch.put_cf(cf, entry.log_id.index.to_be_bytes(), &bytes);
            sized.push((entry, bytes.len()));
        }
        Ok((batch, sized))
    }

    /// Writes entries to the WAL and the memtable (readable at once) without
    /// waiting for the disk; [`GroupCommit`] syncs them.
    fn append_unsynced(&self, entries: impl IntoIterator<Item = Entry>) -> Result<()> {
        let (batch, sized) = self.entries_batch(entries)?;
        let mut options = WriteOptions::default();
        options.set_sync(false);
        self.db.write_opt(batch, &options)?;
        self.cache.appended(sized);
        Ok(())
    }

    fn truncate_from(&self, index: u64) -> Result<()> {
        self.cache.truncated(index);
        let mut batch = WriteBatch::default();
        // Index u64::MAX is never reached, so an exclusive end of u64::MAX
        // covers every entry from `index` on.
        batch.delete_range_cf(
            self.cf(CF_LOGS)?,
            index.to_be_bytes(),
            u64::MAX.to_be_bytes(),
        );
        self.write_synced(batch)
    }

    fn purge_upto(&self, log_id: &LogId) -> Result<()> {
        self.cache.purged(log_id.index);
        let mut batch = WriteBatch::default();
        // `last_purged` and the deletion go in one batch: after a crash the
        // store never claims entries it no longer has.
        self.put_meta_batch(&mut batch, KEY_LAST_PURGED, log_id)?;
        let end = log_id.index.saturating_add(1);
        batch.delete_range_cf(self.cf(CF_LOGS)?, 0u64.to_be_bytes(), end.to_be_bytes());
        self.write_synced(batch)
    }
}

fn index_of(key: &[u8]) -> Result<u64> {
    let bytes: [u8; 8] = key.try_into().map_err(|_| {
        StoreError::Storage(format!("raft log: malformed key of {} bytes", key.len()))
    })?;
    Ok(u64::from_be_bytes(bytes))
}

fn read_err(e: StoreError) -> StorageError<u64> {
    StorageIOError::read_logs(AnyError::new(&e)).into()
}

fn write_err(e: StoreError) -> StorageError<u64> {
    StorageIOError::write_logs(AnyError::new(&e)).into()
}

fn start_of(range: &impl RangeBounds<u64>) -> u64 {
    match range.start_bound() {
        Bound::Included(&i) => i,
        Bound::Excluded(&i) => i.saturating_add(1),
        Bound::Unbounded => 0,
    }
}

fn end_of(range: &impl RangeBounds<u64>) -> u64 {
    match range.end_bound() {
        Bound::Included(&i) => i.saturating_add(1),
        Bound::Excluded(&i) => i,
        Bound::Unbounded => u64::MAX,
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> StorageResult<Vec<Entry>> {
        self.read_entries(start_of(&range), end_of(&range), usize::MAX)
            .map_err(read_err)
    }

    async fn limited_get_log_entries(&mut self, start: u64, end: u64) -> StorageResult<Vec<Entry>> {
        self.read_entries(start, end, REPLICATION_BATCH_BYTES)
            .map_err(read_err)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> StorageResult<LogState<TypeConfig>> {
        let last_purged_log_id: Option<LogId> = self.get_meta(KEY_LAST_PURGED).map_err(read_err)?;
        let last_log_id = self
            .last_entry_log_id()
            .map_err(read_err)?
            .or(last_purged_log_id);
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> LogStore {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> StorageResult<()> {
        let mut batch = WriteBatch::default();
        self.put_meta_batch(&mut batch, KEY_VOTE, vote)
            .and_then(|()| self.write_synced(batch))
            .map_err(|e| StorageIOError::write_vote(AnyError::new(&e)).into())
    }

    async fn read_vote(&mut self) -> StorageResult<Option<Vote<u64>>> {
        self.get_meta(KEY_VOTE)
            .map_err(|e| StorageIOError::read_vote(AnyError::new(&e)).into())
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> StorageResult<()> {
        // Not synced: losing it only means re-applying from the state
        // machine's own last-applied id, and RocksDB's WAL is ordered, so a
        // committed id that survives a crash never points past the entries
        // that survived with it.
        let write = || -> Result<()> {
            self.db
                .put_cf(self.cf(CF_META)?, KEY_COMMITTED, encode(&committed)?)?;
            Ok(())
        };
        write().map_err(write_err)?;
        if let Some(log_id) = committed {
            self.committed.fetch_max(log_id.index, Ordering::AcqRel);
        }
        Ok(())
    }

    async fn read_committed(&mut self) -> StorageResult<Option<LogId>> {
        let committed: Option<Option<LogId>> = self.get_meta(KEY_COMMITTED).map_err(read_err)?;
        Ok(committed.flatten())
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> StorageResult<()>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        // The callback tells openraft (and through it the leader) that the
        // entries are durable only once the WAL holding them is synced.
        match self.append_unsynced(entries) {
            Ok(()) => {
                self.group_commit.after_sync(callback);
                Ok(())
            }
            Err(e) => {
                callback.log_io_completed(Err(std::io::Error::other(e.to_string())));
                Err(write_err(e))
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId) -> StorageResult<()> {
        // Appends before the truncation are reported first, in order.
        self.group_commit.barrier().await;
        self.truncate_from(log_id.index).map_err(write_err)
    }

    async fn purge(&mut self, log_id: LogId) -> StorageResult<()> {
        self.purge_upto(&log_id).map_err(write_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::{CommittedLeaderId, EntryPayload, Membership};
    use std::collections::BTreeSet;

    use crate::raft::Request;

    fn log_id(term: u64, index: u64) -> LogId {
        LogId::new(CommittedLeaderId::new(term, 1), index)
    }

    fn blank(term: u64, index: u64) -> Entry {
        Entry {
            log_id: log_id(term, index),
            payload: EntryPayload::Blank,
        }
    }

    async fn append(store: &mut LogStore, entries: Vec<Entry>) {
        // openraft's callback is crate-private to build; go through the
        // synced write path it wraps.
        store.append_entries(entries).unwrap();
    }

    async fn indexes(store: &mut LogStore) -> Vec<u64> {
        store
            .try_get_log_entries(..)
            .await
            .unwrap()
            .iter()
            .map(|e| e.log_id.index)
            .collect()
    }

    #[tokio::test]
    async fn appended_entries_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut store = LogStore::open(dir.path()).unwrap();
            let normal = Entry {
                log_id: log_id(1, 2),
                payload: EntryPayload::Normal(Request::default()),
            };
            let members: BTreeSet<u64> = [1, 2, 3].into();
            let membership = Entry {
                log_id: log_id(1, 3),
                payload: EntryPayload::Membership(Membership::new(vec![members], None)),
            };
            append(&mut store, vec![blank(1, 1), normal, membership]).await;
        }
        let mut store = LogStore::open(dir.path()).unwrap();
        let entries = store.try_get_log_entries(1..=3).await.unwrap();
        assert_eq!(entries.len(), 3);
        assert!(matches!(entries[1].payload, EntryPayload::Normal(_)));
        assert!(matches!(entries[2].payload, EntryPayload::Membership(_)));
        let state = store.get_log_state().await.unwrap();
        assert_eq!(state.last_log_id, Some(log_id(1, 3)));
        assert_eq!(state.last_purged_log_id, None);
    }

    #[tokio::test]
    async fn vote_and_committed_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut store = LogStore::open(dir.path()).unwrap();
            assert_eq!(store.read_vote().await.unwrap(), None);
            store.save_vote(&Vote::new(3, 2)).await.unwrap();
            store.save_committed(Some(log_id(3, 9))).await.unwrap();
        }
        let mut store = LogStore::open(dir.path()).unwrap();
        assert_eq!(store.read_vote().await.unwrap(), Some(Vote::new(3, 2)));
        assert_eq!(store.read_committed().await.unwrap(), Some(log_id(3, 9)));
    }

    #[tokio::test]
    async fn truncate_removes_the_entry_and_everything_after_it_durably() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut store = LogStore::open(dir.path()).unwrap();
            append(&mut store, (1..=10).map(|i| blank(1, i)).collect()).await;
            store.truncate(log_id(1, 6)).await.unwrap();
            assert_eq!(indexes(&mut store).await, vec![1, 2, 3, 4, 5]);
        }
        let mut store = LogStore::open(dir.path()).unwrap();
        assert_eq!(indexes(&mut store).await, vec![1, 2, 3, 4, 5]);
        assert_eq!(
            store.get_log_state().await.unwrap().last_log_id,
            Some(log_id(1, 5))
        );
    }

    #[tokio::test]
    async fn purge_keeps_the_last_purged_id_when_no_entry_is_left() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut store = LogStore::open(dir.path()).unwrap();
            append(&mut store, (1..=5).map(|i| blank(2, i)).collect()).await;
            store.purge(log_id(2, 3)).await.unwrap();
            assert_eq!(indexes(&mut store).await, vec![4, 5]);
            store.purge(log_id(2, 5)).await.unwrap();
        }
        let mut store = LogStore::open(dir.path()).unwrap();
        assert!(indexes(&mut store).await.is_empty());
        let state = store.get_log_state().await.unwrap();
        assert_eq!(state.last_purged_log_id, Some(log_id(2, 5)));
        assert_eq!(state.last_log_id, Some(log_id(2, 5)));
    }

    #[tokio::test]
    async fn limited_reads_stop_at_the_byte_budget_but_return_at_least_one_entry() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = LogStore::open(dir.path()).unwrap();
        append(&mut store, (1..=5).map(|i| blank(1, i)).collect()).await;
        let one = store.read_entries(1, 6, 1).unwrap();
        assert_eq!(one.len(), 1);
        let all = store.limited_get_log_entries(1, 6).await.unwrap();
        assert_eq!(all.len(), 5);
        let part = store.try_get_log_entries(2..4).await.unwrap();
        assert_eq!(
            part.iter().map(|e| e.log_id.index).collect::<Vec<_>>(),
            vec![2, 3]
        );
    }

    #[tokio::test]
    async fn an_overwritten_suffix_reads_back_the_new_entries() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = LogStore::open(dir.path()).unwrap();
        append(&mut store, (1..=4).map(|i| blank(1, i)).collect()).await;
        store.truncate(log_id(1, 3)).await.unwrap();
        append(&mut store, vec![blank(2, 3)]).await;
        let entries = store.try_get_log_entries(..).await.unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[2].log_id, log_id(2, 3));
    }
}

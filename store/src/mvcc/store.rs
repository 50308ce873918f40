//! Opening the database, and everything that is not a read or a write of
//! keys: metadata, lease queries, size, checkpoints and restore.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use berth_proto::raft::MemberAttributes;
use prost::Message;
use rocksdb::checkpoint::Checkpoint;
use rocksdb::{ColumnFamily, ColumnFamilyDescriptor, Direction, IteratorMode, Options, DB};

use super::INITIAL_REVISION;
use crate::{Result, StoreError};

pub(super) const CF_KV: &str = "kv";
pub(super) const CF_HIST: &str = "hist";
pub(super) const CF_REV: &str = "rev";
pub(super) const CF_LEASE: &str = "lease";
pub(super) const CF_LEASE_KEYS: &str = "lease_keys";
pub(super) const CF_META: &str = "meta";
const FAMILIES: [&str; 6] = [CF_KV, CF_HIST, CF_REV, CF_LEASE, CF_LEASE_KEYS, CF_META];

pub(super) const META_REVISION: &[u8] = b"mvcc/revision";
pub(super) const META_COMPACT: &[u8] = b"mvcc/compact";
const MEMBER_PREFIX: &[u8] = b"member/";

/// Where a member's published attributes are kept in `meta`.
pub(super) fn member_key(id: u64) -> Vec<u8> {
    let mut key = MEMBER_PREFIX.to_vec();
    key.extend_from_slice(format!("{id:016x}").as_bytes());
    key
}
/// Names the live database directory; replaced atomically on restore.
const CURRENT_FILE: &str = "CURRENT_DB";

/// The MVCC store. Cloning is cheap; clones share the database.
#[derive(Clone)]
pub struct KvStore {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    dir: PathBuf,
    /// Swapped whole when a snapshot is installed, so a reader holds either
    /// the old state or the new one, never a mix.
    db: RwLock<Arc<DB>>,
    pub(super) revision: AtomicI64,
    pub(super) compacted: AtomicI64,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let db = match self.db.read() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Err(e) = db.flush_wal(false) {
            tracing::warn!(error = %e, "mvcc: writing buffered applies at close");
        }
    }
}

impl KvStore {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<KvStore> {
        std::fs::create_dir_all(dir).map_err(io)?;
        let current = match std::fs::read_to_string(dir.join(CURRENT_FILE)) {
            Ok(name) => name.trim().to_string(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => "db-0".to_string(),
            Err(e) => return Err(io(e)),
        };
        remove_stale_databases(dir, &current);
        let db = open_db(&dir.join(&current))?;
        let store = KvStore {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                db: RwLock::new(Arc::new(db)),
                revision: AtomicI64::new(INITIAL_REVISION),
                compacted: AtomicI64::new(0),
            }),
        };
        store.load_revisions()?;
        Ok(store)
    }

    fn load_revisions(&self) -> Result<()> {
        let db = self.db();
        let meta = cf(&db, CF_META)?;
        let revision = read_i64(db.get_cf(meta, META_REVISION)?)?.unwrap_or(INITIAL_REVISION);
        let compacted = read_i64(db.get_cf(meta, META_COMPACT)?)?.unwrap_or(0);
        self.inner.revision.store(revision, Ordering::Release);
        self.inner.compacted.store(compacted, Ordering::Release);
        Ok(())
    }

    /// The live database.
    pub(super) fn db(&self) -> Arc<DB> {
        match self.inner.db.read() {
            Ok(db) => db.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The revision of the last applied write.
    pub fn current_revision(&self) -> i64 {
        self.inner.revision.load(Ordering::Acquire)
    }

    /// The revision the store was last compacted at (0 if never).
    pub fn compact_revision(&self) -> i64 {
        self.inner.compacted.load(Ordering::Acquire)
    }

    /// Writes metadata pairs alone (Raft entries that change no key).
    pub fn put_meta(&self, meta: &[(&str, Vec<u8>)]) -> Result<()> {
        let db = self.db();
        let cf_meta = cf(&db, CF_META)?;
        let mut batch = rocksdb::WriteBatch::default();
        for (key, value) in meta {
            batch.put_cf(cf_meta, key.as_bytes(), value);
        }
        db.write_opt(batch, &unsynced())?;
        Ok(())
    }

    /// Reads one metadata value.
    pub fn get_meta(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let db = self.db();
        Ok(db.get_cf(cf(&db, CF_META)?, key.as_bytes())?)
    }

    /// The granted TTL of a lease, if it exists.
    pub fn lease_ttl(&self, id: i64) -> Result<Option<i64>> {
        let db = self.db();
        read_i64(db.get_cf(cf(&db, CF_LEASE)?, id.to_be_bytes())?)
    }

    /// Every lease as (ID, granted TTL), by ID.
    pub fn leases(&self) -> Result<Vec<(i64, i64)>> {
        let db = self.db();
        let mut out = Vec::new();
        for item in db.iterator_cf(cf(&db, CF_LEASE)?, IteratorMode::Start) {
            let (key, value) = item?;
            let id = i64::from_be_bytes(fixed(&key)?);
            out.push((id, i64::from_be_bytes(fixed(&value)?)));
        }
        out.sort_unstable_by_key(|(id, _)| *id);
        Ok(out)
    }

    /// The keys attached to a lease.
    pub fn lease_keys(&self, id: i64) -> Result<Vec<Vec<u8>>> {
        let db = self.db();
        lease_keys_of(&db, id)
    }

    /// Every member's published attributes.
    pub fn members_attributes(&self) -> Result<Vec<MemberAttributes>> {
        let db = self.db();
        let mut out = Vec::new();
        let iter = db.iterator_cf(
            cf(&db, CF_META)?,
            IteratorMode::From(MEMBER_PREFIX, Direction::Forward),
        );
        for item in iter {
            let (key, value) = item?;
            if !key.starts_with(MEMBER_PREFIX) {
                break;
            }
            out.push(MemberAttributes::decode(&*value).map_err(corrupt)?);
        }
        Ok(out)
    }

    /// Approximate bytes the state occupies (files and memtables).
    pub fn db_size(&self) -> i64 {
        let db = self.db();
        let mut total: u64 = 0;
        for name in FAMILIES {
            if let Some(handle) = db.cf_handle(name) {
                for property in [
                    "rocksdb.total-sst-files-size",
                    "rocksdb.cur-size-all-mem-tables",
                ] {
                    total += db
                        .property_int_value_cf(handle, property)
                        .ok()
                        .flatten()
                        .unwrap_or(0);
                }
            }
        }
        i64::try_from(total).unwrap_or(i64::MAX)
    }

    /// Writes a consistent copy of the whole state to `dir` (which must not
    /// exist): hard links where possible, so it is cheap.
    pub fn checkpoint(&self, dir: &Path) -> Result<()> {
        let db = self.db();
        db.flush_wal(true)?;
        Checkpoint::new(&*db)?.create_checkpoint(dir)?;
        Ok(())
    }

    /// Replaces the whole state by a checkpoint's (snapshot install). The
    /// checkpoint directory is moved into the store.
    pub fn restore(&self, checkpoint: &Path) -> Result<()> {
        let mut guard = match self.inner.db.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let next = (0u64..)
            .map(|n| format!("db-{n}"))
            .find(|name| !self.inner.dir.join(name).exists())
            .unwrap_or_else(|| "db-restored".to_string());
        let target = self.inner.dir.join(&next);
        std::fs::rename(checkpoint, &target).map_err(io)?;
        let db = open_db(&target)?;
        // The switch is durable before the old state is let go.
        let tmp = self.inner.dir.join(format!("{CURRENT_FILE}.tmp"));
        std::fs::write(&tmp, next.as_bytes()).map_err(io)?;
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(io)?;
        std::fs::rename(&tmp, self.inner.dir.join(CURRENT_FILE)).map_err(io)?;
        *guard = Arc::new(db);
        drop(guard);
        self.load_revisions()?;
        Ok(())
    }
}

/// Databases other than the current one are leftovers of a restore whose
/// old state was still being read; they are removed on the next open.
fn remove_stale_databases(dir: &Path, current: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("db-") && name != current {
            if let Err(e) = std::fs::remove_dir_all(entry.path()) {
                tracing::warn!(error = %e, dir = %entry.path().display(), "removing old state");
            }
        }
    }
}

fn open_db(path: &Path) -> Result<DB> {
    let mut options = Options::default();
    options.create_if_missing(true);
    options.create_missing_column_families(true);
    // Two cores are common for control planes: keep background work modest.
    options.set_max_background_jobs(2);
    options.set_bytes_per_sync(1 << 20);
    // Applies are never synced (the Raft log is), so their WAL records need
    // not reach the file one write() each either: RocksDB buffers them and
    // writes when the buffer fills, a memtable is flushed, a checkpoint is
    // taken or the store closes. A crash loses at most a suffix of applies,
    // which Raft replays from the log, as it does after losing unsynced
    // writes to a power cut.
    options.set_manual_wal_flush(true);
    let families = FAMILIES.map(|name| {
        let mut cf_options = Options::default();
        cf_options.set_write_buffer_size(16 << 20);
        ColumnFamilyDescriptor::new(name, cf_options)
    });
    Ok(DB::open_cf_descriptors(&options, path, families)?)
}

pub(super) fn cf<'a>(db: &'a DB, name: &str) -> Result<&'a ColumnFamily> {
    db.cf_handle(name)
        .ok_or_else(|| StoreError::Storage(format!("mvcc: column family {name} missing")))
}

pub(super) fn lease_keys_of(db: &DB, id: i64) -> Result<Vec<Vec<u8>>> {
    let prefix = id.to_be_bytes();
    let mut out = Vec::new();
    let iter = db.iterator_cf(
        cf(db, CF_LEASE_KEYS)?,
        IteratorMode::From(&prefix, Direction::Forward),
    );
    for item in iter {
        let (key, _) = item?;
        if !key.starts_with(&prefix) {
            break;
        }
        out.push(key[8..].to_vec());
    }
    Ok(out)
}

/// Applies are not fsynced: the Raft log is, and replays what a crash lost.
pub(super) fn unsynced() -> rocksdb::WriteOptions {
    let mut options = rocksdb::WriteOptions::default();
    options.set_sync(false);
    options
}

pub(super) fn read_i64(bytes: Option<Vec<u8>>) -> Result<Option<i64>> {
    bytes.map(|b| fixed(&b).map(i64::from_be_bytes)).transpose()
}

fn fixed(bytes: &[u8]) -> Result<[u8; 8]> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Storage("mvcc: malformed integer".to_string()))
}

pub(super) fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Storage(format!("mvcc: corrupt record: {e}"))
}

fn io(e: std::io::Error) -> StoreError {
    StoreError::Storage(format!("mvcc: {e}"))
}

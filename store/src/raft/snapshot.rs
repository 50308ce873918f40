//! Snapshot files: a RocksDB checkpoint of the state machine packed into one
//! file, which openraft streams to a follower in chunks.
//!
//! The snapshot directory holds the current snapshot's data
//! (`snap-<id>.data`) and a `current` file naming it with its metadata,
//! replaced atomically (write, fsync, rename, fsync the directory). Anything
//! else found there at open is debris of an interrupted build or install and
//! is removed.
//!
//! The packing is berth's own, so that it streams with tokio's file I/O and
//! needs no extra dependency: a magic line, then for each file a name and its
//! bytes, then an end marker with the file count. Unpacking checks every name
//! (a plain file name, never a path) and the end marker, so a truncated or
//! hostile archive fails instead of writing outside its directory.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::fs::{self, File};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::sync::Mutex;

use super::types::SnapshotMeta;
use super::{decode, encode};
use crate::{Result, StoreError};

const MAGIC: &[u8; 8] = b"BERTHSN1";
const TAG_FILE: u8 = 1;
const TAG_END: u8 = 0;
const MAX_NAME: usize = 255;
const CURRENT: &str = "current";

/// The snapshot openraft knows of: its metadata and where its data is.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct StoredSnapshot {
    pub(crate) meta: SnapshotMeta,
    /// File name inside the snapshot directory.
    pub(crate) file: String,
}

/// The snapshot directory. Clones share the notion of "current", so a
/// snapshot built in openraft's builder task becomes current for the state
/// machine too.
#[derive(Clone)]
pub(crate) struct SnapshotStore {
    dir: PathBuf,
    current: Arc<Mutex<Option<StoredSnapshot>>>,
}

impl SnapshotStore {
    /// Opens the directory, creating it, and clears what an interrupted
    /// build or install left behind.
    pub(crate) async fn open(dir: &Path) -> Result<SnapshotStore> {
        fs::create_dir_all(dir).await.map_err(io)?;
        let current: Option<StoredSnapshot> = match fs::read(dir.join(CURRENT)).await {
            Ok(bytes) => Some(decode(&bytes)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io(e)),
        };
        let keep = current.as_ref().map(|c| c.file.clone());
        let mut entries = fs::read_dir(dir).await.map_err(io)?;
        while let Some(entry) = entries.next_entry().await.map_err(io)? {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == CURRENT || Some(&name) == keep.as_ref() {
                continue;
            }
            remove_path(&entry.path()).await?;
        }
        Ok(SnapshotStore {
            dir: dir.to_path_buf(),
            current: Arc::new(Mutex::new(current)),
        })
    }

    /// The current snapshot's metadata and data file, if any.
    pub(crate) async fn current(&self) -> Option<(SnapshotMeta, PathBuf)> {
        let current = self.current.lock().await;
        current
            .as_ref()
            .map(|c| (c.meta.clone(), self.dir.join(&c.file)))
    }

    /// A fresh path inside the directory for temporary work, unique even
    /// across restarts (it is removed at the next open if left behind).
    pub(crate) fn scratch_path(&self, prefix: &str) -> PathBuf {
        self.dir.join(format!("{prefix}-{:016x}", random_u64()))
    }

    /// Packs a checkpoint directory into a new data file and makes it
    /// current unless a newer snapshot became current meanwhile.
    pub(crate) async fn save_checkpoint(
        &self,
        meta: &SnapshotMeta,
        checkpoint: &Path,
    ) -> Result<()> {
        let file = data_file_name(meta);
        pack(checkpoint, &self.dir.join(&file)).await?;
        self.make_current(StoredSnapshot {
            meta: meta.clone(),
            file,
        })
        .await?;
        Ok(())
    }

    /// Stores snapshot data received from the leader as a new data file,
    /// fsynced, without making it current.
    pub(crate) async fn save_received(
        &self,
        meta: &SnapshotMeta,
        data: &mut File,
    ) -> Result<StoredSnapshot> {
        let file = data_file_name(meta);
        data.seek(SeekFrom::Start(0)).await.map_err(io)?;
        let mut out = File::create(self.dir.join(&file)).await.map_err(io)?;
        tokio::io::copy(data, &mut out).await.map_err(io)?;
        out.sync_all().await.map_err(io)?;
        Ok(StoredSnapshot {
            meta: meta.clone(),
            file,
        })
    }

    /// Where a saved snapshot's data is.
    pub(crate) fn path_of(&self, snapshot: &StoredSnapshot) -> PathBuf {
        self.dir.join(&snapshot.file)
    }

    /// Makes `snapshot` current (durably) and removes the data of the one
    /// it replaces. An older snapshot never replaces a newer one: a build
    /// can finish after a newer snapshot was installed; it is deleted
    /// instead, and `false` returned.
    pub(crate) async fn make_current(&self, snapshot: StoredSnapshot) -> Result<bool> {
        let mut current = self.current.lock().await;
        if current
            .as_ref()
            .is_some_and(|c| c.meta.last_log_id > snapshot.meta.last_log_id)
        {
            drop(current);
            remove_path(&self.dir.join(&snapshot.file)).await?;
            return Ok(false);
        }
        let tmp = self.scratch_path("current-tmp");
        let mut out = File::create(&tmp).await.map_err(io)?;
        out.write_all(&encode(&snapshot)?).await.map_err(io)?;
        out.sync_all().await.map_err(io)?;
        fs::rename(&tmp, self.dir.join(CURRENT)).await.map_err(io)?;
        File::open(&self.dir)
            .await
            .map_err(io)?
            .sync_all()
            .await
            .map_err(io)?;
        if let Some(old) = current.replace(snapshot) {
            remove_path(&self.dir.join(old.file)).await?;
        }
        Ok(true)
    }
}

/// A data file name no other file has had: the same snapshot may be saved
/// twice (received again after a restart), and a sender may still be
/// reading the earlier copy.
fn data_file_name(meta: &SnapshotMeta) -> String {
    format!("snap-{}-{:016x}.data", meta.snapshot_id, random_u64())
}

/// A snapshot id: the log id it covers plus randomness, so two snapshots at
/// the same log id (say, rebuilt after a restart) are never mistaken for one
/// another while a follower receives chunks.
pub(crate) fn snapshot_id(meta_last: Option<&super::types::LogId>) -> String {
    let (term, index) = meta_last.map_or((0, 0), |l| (l.leader_id.term, l.index));
    format!("{term}-{index}-{:016x}", random_u64())
}

fn random_u64() -> u64 {
    // std's hasher keys are random per RandomState; no extra crate needed.
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(0);
    hasher.finish()
}

/// Removes a file or directory; one that is already gone is fine.
pub(crate) async fn remove_path(path: &Path) -> Result<()> {
    let result = match fs::symlink_metadata(path).await {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path).await,
        Ok(_) => fs::remove_file(path).await,
        Err(e) => Err(e),
    };
    match result {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(e)),
        _ => Ok(()),
    }
}

/// Packs the regular files of `dir` (a RocksDB checkpoint is flat) into
/// `out`, fsynced.
pub(crate) async fn pack(dir: &Path, out: &Path) -> Result<()> {
    let mut names = Vec::new();
    let mut entries = fs::read_dir(dir).await.map_err(io)?;
    while let Some(entry) = entries.next_entry().await.map_err(io)? {
        if !entry.file_type().await.map_err(io)?.is_file() {
            return Err(corrupt(format!(
                "{} is not a regular file",
                entry.path().display()
            )));
        }
        let name = entry
            .file_name()
            .into_string()
            .map_err(|n| corrupt(format!("file name {n:?} is not UTF-8")))?;
        check_name(&name)?;
        names.push(name);
    }
    names.sort();

    let file = File::create(out).await.map_err(io)?;
    let mut w = BufWriter::new(file);
    w.write_all(MAGIC).await.map_err(io)?;
    for name in &names {
        let mut src = File::open(dir.join(name)).await.map_err(io)?;
        let len = src.metadata().await.map_err(io)?.len();
        w.write_u8(TAG_FILE).await.map_err(io)?;
        w.write_u16(name.len() as u16).await.map_err(io)?;
        w.write_all(name.as_bytes()).await.map_err(io)?;
        w.write_u64(len).await.map_err(io)?;
        // Exactly `len` bytes, even if the file were to grow meanwhile.
        let copied = tokio::io::copy(&mut (&mut src).take(len), &mut w)
            .await
            .map_err(io)?;
        if copied != len {
            return Err(corrupt(format!("{name} shrank while being packed")));
        }
    }
    w.write_u8(TAG_END).await.map_err(io)?;
    w.write_u64(names.len() as u64).await.map_err(io)?;
    w.flush().await.map_err(io)?;
    w.into_inner().sync_all().await.map_err(io)?;
    Ok(())
}

/// Unpacks an archive made by [`pack`] into `dir`, which must not exist.
pub(crate) async fn unpack(archive: &Path, dir: &Path) -> Result<()> {
    fs::create_dir(dir).await.map_err(io)?;
    let mut r = BufReader::new(File::open(archive).await.map_err(io)?);
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic).await.map_err(truncated)?;
    if &magic != MAGIC {
        return Err(corrupt("not a berth snapshot".to_string()));
    }
    let mut count = 0u64;
    loop {
        match r.read_u8().await.map_err(truncated)? {
            TAG_FILE => {}
            TAG_END => break,
            tag => return Err(corrupt(format!("unknown record tag {tag}"))),
        }
        let name_len = usize::from(r.read_u16().await.map_err(truncated)?);
        if name_len > MAX_NAME {
            return Err(corrupt(format!("file name of {name_len} bytes")));
        }
        let mut name = vec![0u8; name_len];
        r.read_exact(&mut name).await.map_err(truncated)?;
        let name =
            String::from_utf8(name).map_err(|_| corrupt("file name is not UTF-8".to_string()))?;
        check_name(&name)?;
        let len = r.read_u64().await.map_err(truncated)?;
        let path = dir.join(&name);
        let mut out = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await
            .map_err(io)?;
        let copied = tokio::io::copy(&mut (&mut r).take(len), &mut out)
            .await
            .map_err(io)?;
        if copied != len {
            return Err(corrupt(format!("{name} is truncated")));
        }
        out.sync_all().await.map_err(io)?;
        count += 1;
    }
    let expected = r.read_u64().await.map_err(truncated)?;
    if expected != count {
        return Err(corrupt(format!(
            "{count} files, the archive says {expected}"
        )));
    }
    let mut rest = [0u8; 1];
    if r.read(&mut rest).await.map_err(io)? != 0 {
        return Err(corrupt("bytes after the end marker".to_string()));
    }
    File::open(dir)
        .await
        .map_err(io)?
        .sync_all()
        .await
        .map_err(io)?;
    Ok(())
}

fn check_name(name: &str) -> Result<()> {
    let plain = !name.is_empty()
        && name.len() <= MAX_NAME
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\', '\0']);
    if plain {
        Ok(())
    } else {
        Err(corrupt(format!(
            "file name {name:?} is not a plain file name"
        )))
    }
}

fn io(e: std::io::Error) -> StoreError {
    StoreError::Storage(format!("snapshot: {e}"))
}

fn truncated(e: std::io::Error) -> StoreError {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        corrupt("archive is truncated".to_string())
    } else {
        io(e)
    }
}

fn corrupt(message: String) -> StoreError {
    StoreError::Storage(format!("snapshot: {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::types::{LogId, StoredMembership};
    use openraft::CommittedLeaderId;

    fn meta(index: u64) -> SnapshotMeta {
        let last = LogId::new(CommittedLeaderId::new(1, 1), index);
        SnapshotMeta {
            last_log_id: Some(last),
            last_membership: StoredMembership::default(),
            snapshot_id: snapshot_id(Some(&last)),
        }
    }

    async fn sample_dir(root: &Path) -> PathBuf {
        let dir = root.join("checkpoint");
        fs::create_dir(&dir).await.unwrap();
        fs::write(dir.join("CURRENT"), b"MANIFEST-000001\n")
            .await
            .unwrap();
        fs::write(dir.join("000007.sst"), vec![7u8; 100_000])
            .await
            .unwrap();
        fs::write(dir.join("empty"), b"").await.unwrap();
        dir
    }

    #[tokio::test]
    async fn unpack_restores_exactly_what_pack_packed() {
        let root = tempfile::tempdir().unwrap();
        let dir = sample_dir(root.path()).await;
        let archive = root.path().join("a.data");
        pack(&dir, &archive).await.unwrap();
        let out = root.path().join("out");
        unpack(&archive, &out).await.unwrap();
        for name in ["CURRENT", "000007.sst", "empty"] {
            assert_eq!(
                fs::read(dir.join(name)).await.unwrap(),
                fs::read(out.join(name)).await.unwrap(),
                "{name}"
            );
        }
    }

    #[tokio::test]
    async fn a_truncated_archive_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let dir = sample_dir(root.path()).await;
        let archive = root.path().join("a.data");
        pack(&dir, &archive).await.unwrap();
        let bytes = fs::read(&archive).await.unwrap();
        fs::write(&archive, &bytes[..bytes.len() - 3])
            .await
            .unwrap();
        assert!(unpack(&archive, &root.path().join("out")).await.is_err());
    }

    #[tokio::test]
    async fn an_archive_naming_a_path_outside_its_directory_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let archive = root.path().join("evil.data");
        let mut bytes = MAGIC.to_vec();
        bytes.push(TAG_FILE);
        bytes.extend_from_slice(&(9u16).to_be_bytes());
        bytes.extend_from_slice(b"../escape");
        bytes.extend_from_slice(&1u64.to_be_bytes());
        bytes.push(b'x');
        bytes.push(TAG_END);
        bytes.extend_from_slice(&1u64.to_be_bytes());
        fs::write(&archive, bytes).await.unwrap();
        assert!(unpack(&archive, &root.path().join("out")).await.is_err());
        assert!(!root.path().join("escape").exists());
    }

    #[tokio::test]
    async fn the_current_snapshot_survives_reopen_and_debris_is_removed() {
        let root = tempfile::tempdir().unwrap();
        let dir = sample_dir(root.path()).await;
        let snaps = root.path().join("snapshots");
        let store = SnapshotStore::open(&snaps).await.unwrap();
        assert!(store.current().await.is_none());
        store.save_checkpoint(&meta(5), &dir).await.unwrap();
        let newer = meta(9);
        store.save_checkpoint(&newer, &dir).await.unwrap();
        fs::create_dir(store.scratch_path("build")).await.unwrap();

        let reopened = SnapshotStore::open(&snaps).await.unwrap();
        let (m, path) = reopened.current().await.unwrap();
        assert_eq!(m, newer);
        let mut names = Vec::new();
        let mut entries = fs::read_dir(&snaps).await.unwrap();
        while let Some(e) = entries.next_entry().await.unwrap() {
            names.push(e.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        let data = path.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(names, vec![CURRENT.to_string(), data]);
    }

    #[tokio::test]
    async fn an_older_snapshot_never_replaces_a_newer_one() {
        let root = tempfile::tempdir().unwrap();
        let dir = sample_dir(root.path()).await;
        let store = SnapshotStore::open(&root.path().join("snapshots"))
            .await
            .unwrap();
        let newer = meta(9);
        store.save_checkpoint(&newer, &dir).await.unwrap();
        store.save_checkpoint(&meta(5), &dir).await.unwrap();
        assert_eq!(store.current().await.unwrap().0, newer);
    }
}

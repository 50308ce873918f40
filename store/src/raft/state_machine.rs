//! The Raft state machine: committed entries applied, in log order, to the
//! MVCC store.
//!
//! Exactly once across restarts: each entry's log id is written as the
//! last-applied id in the same atomic RocksDB batch as the entry's effects
//! (`KvStore::apply`'s meta pairs), so after a crash the store is either
//! before or after the entry, and knows which. Membership entries record
//! the membership the same way.
//!
//! Snapshots are RocksDB checkpoints (see [`super::snapshot`]). The
//! checkpoint is taken when openraft asks for a builder — on the state
//! machine's own task, between two applies — so it matches the last-applied
//! id and membership recorded with it; packing it into a file then runs in
//! openraft's builder task while applying continues.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_proto::raft::{internal_request, InternalRequest};
use openraft::storage::RaftStateMachine;
use openraft::{
    AnyError, EntryPayload, OptionalSend, RaftSnapshotBuilder, Snapshot, StorageError,
    StorageIOError,
};
use tokio::fs::File;
use tokio::sync::watch;

use super::snapshot::{remove_path, snapshot_id, unpack, SnapshotStore};
use super::types::{LogId, Request, Response, SnapshotMeta, StoredMembership, TypeConfig};
use super::{decode, encode};
use crate::apply::ApplyObserver;
use crate::mvcc::KvStore;
use crate::{Result, StoreError};

mod batch;

type Entry = openraft::Entry<TypeConfig>;
type StorageResult<T> = std::result::Result<T, StorageError<u64>>;

/// Meta key of the last applied log id (bincode `Option<LogId>`).
pub(crate) const META_LAST_APPLIED: &str = "raft/last_applied";
/// Meta key of the last applied membership (bincode `StoredMembership`).
pub(crate) const META_MEMBERSHIP: &str = "raft/membership";

/// openraft's state machine over a [`KvStore`].
pub struct StateMachine {
    kv: KvStore,
    snapshots: SnapshotStore,
    last_applied: Option<LogId>,
    membership: StoredMembership,
    observers: Vec<Arc<dyn ApplyObserver>>,
    applied_index: watch::Sender<u64>,
    /// A batch entry a previous run applied in part: its index and how many
    /// of its commands are done (see [`batch`]).
    resume: Option<(u64, usize)>,
}

impl StateMachine {
    /// Opens the state machine over `kv`, keeping snapshots in
    /// `snapshot_dir`. `observers` are told of every applied command in log
    /// order, and of every snapshot installed.
    ///
    /// If a snapshot install was interrupted after the snapshot was saved
    /// but before the store was replaced, it is finished here.
    pub async fn open(
        kv: KvStore,
        snapshot_dir: &Path,
        observers: Vec<Arc<dyn ApplyObserver>>,
    ) -> Result<StateMachine> {
        let snapshots = SnapshotStore::open(snapshot_dir).await?;
        let last_applied: Option<LogId> = match kv.get_meta(META_LAST_APPLIED)? {
            Some(bytes) => decode(&bytes)?,
            None => None,
        };
        let membership: StoredMembership = match kv.get_meta(META_MEMBERSHIP)? {
            Some(bytes) => decode(&bytes)?,
            None => StoredMembership::default(),
        };
        let (applied_index, _) = watch::channel(last_applied.map_or(0, |l| l.index));
        let resume = batch::progress(&kv)?;
        let mut sm = StateMachine {
            kv,
            snapshots,
            last_applied,
            membership,
            observers,
            applied_index,
            resume,
        };
        if let Some((meta, path)) = sm.snapshots.current().await {
            if meta.last_log_id > sm.last_applied {
                tracing::info!(snapshot = %meta, "finishing an interrupted snapshot install");
                sm.restore(&meta, &path).await?;
            }
        }
        Ok(sm)
    }

    /// The index of the last applied entry, updated after each entry is
    /// applied and its observers told. Take it before handing the state
    /// machine to [`openraft::Raft::new`].
    pub fn applied_index(&self) -> watch::Receiver<u64> {
        self.applied_index.subscribe()
    }

    /// Adds an observer (before handing the state machine to Raft).
    pub fn register(&mut self, observer: Arc<dyn ApplyObserver>) {
        self.observers.push(observer);
    }

    /// The store this state machine applies to.
    pub fn kv(&self) -> &KvStore {
        &self.kv
    }

    fn apply_entry(&mut self, entry: Entry) -> Result<Response> {
        let log_id = entry.log_id;
        let applied_meta = (META_LAST_APPLIED, encode(&Some(log_id))?);
        let response = match entry.payload {
            EntryPayload::Blank => {
                self.kv.put_meta(&[applied_meta])?;
                self.unchanged()
            }
            EntryPayload::Normal(Request(InternalRequest {
                request: Some(internal_request::Request::Batch(batch)),
            })) => self.apply_batch(log_id, &batch.requests)?,
            EntryPayload::Normal(Request(req)) => {
                let applied = self.kv.apply(&req, &[applied_meta])?;
                for observer in &self.observers {
                    observer.applied(&applied);
                }
                Response {
                    response: applied.response,
                    revision: applied.revision,
                }
            }
            EntryPayload::Membership(membership) => {
                let membership = StoredMembership::new(Some(log_id), membership);
                self.kv
                    .put_meta(&[applied_meta, (META_MEMBERSHIP, encode(&membership)?)])?;
                self.membership = membership;
                self.unchanged()
            }
        };
        self.last_applied = Some(log_id);
        self.applied_index.send_replace(log_id.index);
        Ok(response)
    }

    fn unchanged(&self) -> Response {
        Response {
            response: Default::default(),
            revision: self.kv.current_revision(),
        }
    }

    /// Replaces the whole state by the snapshot in `data`, then tells the
    /// observers.
    async fn restore(&mut self, meta: &SnapshotMeta, data: &Path) -> Result<()> {
        let checkpoint = self.snapshots.scratch_path("install");
        let restored = async {
            unpack(data, &checkpoint).await?;
            self.kv.restore(&checkpoint)
        }
        .await;
        remove_path(&checkpoint).await?;
        restored?;
        // The checkpoint already holds these (they were written with the
        // data it contains); writing them again keeps the store right even
        // if the sender's bookkeeping differed.
        self.kv.put_meta(&[
            (META_LAST_APPLIED, encode(&meta.last_log_id)?),
            (META_MEMBERSHIP, encode(&meta.last_membership)?),
        ])?;
        self.last_applied = meta.last_log_id;
        self.membership = meta.last_membership.clone();
        // The part-applied entry, if any, was replaced with the rest.
        self.resume = None;
        let revision = self.kv.current_revision();
        for observer in &self.observers {
            observer.restored(revision);
        }
        self.applied_index
            .send_replace(meta.last_log_id.map_or(0, |l| l.index));
        Ok(())
    }

    async fn install(&mut self, meta: &SnapshotMeta, mut data: File) -> Result<()> {
        let saved = self.snapshots.save_received(meta, &mut data).await?;
        drop(data);
        let path = self.snapshots.path_of(&saved);
        // Saving the snapshot as current first is the install's commit
        // point: if the member stops before the store is replaced, `open`
        // finishes the job from it.
        if !self.snapshots.make_current(saved).await? {
            // A newer snapshot is current, and the state already includes
            // it (a snapshot is current only once applied or restored).
            return Ok(());
        }
        self.restore(meta, &path).await
    }
}

fn snapshot_write_err(e: StoreError) -> StorageError<u64> {
    StorageIOError::write_snapshot(None, AnyError::new(&e)).into()
}

fn snapshot_read_err(e: StoreError) -> StorageError<u64> {
    StorageIOError::read_snapshot(None, AnyError::new(&e)).into()
}

async fn open_data(path: &Path) -> Result<File> {
    File::open(path)
        .await
        .map_err(|e| StoreError::Storage(format!("snapshot {}: {e}", path.display())))
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> StorageResult<(Option<LogId>, StoredMembership)> {
        Ok((self.last_applied, self.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> StorageResult<Vec<Response>>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut responses = Vec::new();
        for entry in entries {
            let log_id = entry.log_id;
            let response = self
                .apply_entry(entry)
                .map_err(|e| StorageIOError::apply(log_id, AnyError::new(&e)))?;
            responses.push(response);
        }
        Ok(responses)
    }

    async fn get_snapshot_builder(&mut self) -> SnapshotBuilder {
        let checkpoint = self.snapshots.scratch_path("build");
        let meta = SnapshotMeta {
            last_log_id: self.last_applied,
            last_membership: self.membership.clone(),
            snapshot_id: snapshot_id(self.last_applied.as_ref()),
        };
        let prepared = self.kv.checkpoint(&checkpoint).map(|()| (meta, checkpoint));
        SnapshotBuilder {
            prepared: Some(prepared),
            snapshots: self.snapshots.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> StorageResult<Box<File>> {
        let path = self.snapshots.scratch_path("receive");
        let receive = async {
            let file = tokio::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&path)
                .await
                .map_err(|e| StoreError::Storage(format!("snapshot: {e}")))?;
            // Unlinked at once: the open handle is all that is needed, and
            // an abandoned transfer leaves nothing behind.
            remove_path(&path).await?;
            Ok::<_, StoreError>(file)
        };
        receive.await.map(Box::new).map_err(snapshot_write_err)
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<File>,
    ) -> StorageResult<()> {
        tracing::info!(snapshot = %meta, "installing snapshot");
        self.install(meta, *snapshot).await.map_err(|e| {
            StorageIOError::write_snapshot(Some(meta.signature()), AnyError::new(&e)).into()
        })
    }

    async fn get_current_snapshot(&mut self) -> StorageResult<Option<Snapshot<TypeConfig>>> {
        let Some((meta, path)) = self.snapshots.current().await else {
            return Ok(None);
        };
        let file = open_data(&path).await.map_err(snapshot_read_err)?;
        Ok(Some(Snapshot {
            meta,
            snapshot: Box::new(file),
        }))
    }
}

/// Packs the checkpoint taken by `get_snapshot_builder` into a snapshot
/// file and makes it current.
pub struct SnapshotBuilder {
    prepared: Option<Result<(SnapshotMeta, PathBuf)>>,
    snapshots: SnapshotStore,
}

impl SnapshotBuilder {
    async fn build(&mut self) -> Result<Snapshot<TypeConfig>> {
        let (meta, checkpoint) = self
            .prepared
            .take()
            .ok_or_else(|| StoreError::Storage("snapshot builder used twice".to_string()))??;
        let saved = self.snapshots.save_checkpoint(&meta, &checkpoint).await;
        remove_path(&checkpoint).await?;
        saved?;
        // What is current now is this snapshot or a newer one installed
        // meanwhile; either covers everything this one does.
        let (meta, path) = self
            .snapshots
            .current()
            .await
            .ok_or_else(|| StoreError::Storage("snapshot vanished after saving".to_string()))?;
        let file = open_data(&path).await?;
        tracing::info!(snapshot = %meta, "built snapshot");
        Ok(Snapshot {
            meta,
            snapshot: Box::new(file),
        })
    }
}

impl Drop for SnapshotBuilder {
    fn drop(&mut self) {
        // A builder dropped unused would leave its checkpoint (hard links
        // pinning old SST files) until the next open cleared it.
        if let Some(Ok((_, checkpoint))) = &self.prepared {
            let _ = std::fs::remove_dir_all(checkpoint);
        }
    }
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> StorageResult<Snapshot<TypeConfig>> {
        self.build().await.map_err(snapshot_write_err)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::Mutex;

    use berth_proto::etcdserverpb::{PutRequest, RangeRequest};
    use berth_proto::mvccpb::KeyValue;
    use berth_proto::raft::{internal_request, InternalRequest};
    use openraft::testing::{StoreBuilder, Suite};
    use openraft::{CommittedLeaderId, Membership};
    use tempfile::TempDir;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::apply::Applied;
    use crate::raft::LogStore;

    #[derive(Default)]
    struct Recorder {
        applied: Mutex<Vec<i64>>,
        restored: Mutex<Vec<i64>>,
    }

    impl ApplyObserver for Recorder {
        fn applied(&self, applied: &Applied) {
            self.applied.lock().unwrap().push(applied.revision);
        }
        fn restored(&self, revision: i64) {
            self.restored.lock().unwrap().push(revision);
        }
    }

    fn log_id(index: u64) -> LogId {
        LogId::new(CommittedLeaderId::new(1, 1), index)
    }

    fn blank(index: u64) -> Entry {
        Entry {
            log_id: log_id(index),
            payload: EntryPayload::Blank,
        }
    }

    fn members(index: u64) -> Entry {
        let voters: BTreeSet<u64> = [1, 2, 3].into();
        Entry {
            log_id: log_id(index),
            payload: EntryPayload::Membership(Membership::new(vec![voters], None)),
        }
    }

    fn put(index: u64, key: &str, value: &str) -> Entry {
        Entry {
            log_id: log_id(index),
            payload: EntryPayload::Normal(Request(InternalRequest {
                request: Some(internal_request::Request::Put(PutRequest {
                    key: key.as_bytes().to_vec(),
                    value: value.as_bytes().to_vec(),
                    ..Default::default()
                })),
            })),
        }
    }

    /// One member's state machine data: its store and its snapshots.
    struct Host {
        dir: TempDir,
        recorder: Arc<Recorder>,
    }

    impl Host {
        fn new() -> Host {
            Host {
                dir: tempfile::tempdir().unwrap(),
                recorder: Arc::new(Recorder::default()),
            }
        }

        async fn open(&self) -> StateMachine {
            let kv = KvStore::open(&self.dir.path().join("kv")).unwrap();
            let observers: Vec<Arc<dyn ApplyObserver>> = vec![self.recorder.clone()];
            StateMachine::open(kv, &self.dir.path().join("snapshots"), observers)
                .await
                .unwrap()
        }
    }

    fn everything(kv: &KvStore) -> Vec<KeyValue> {
        let all = RangeRequest {
            key: vec![0],
            range_end: vec![0],
            ..Default::default()
        };
        kv.range(&all).unwrap().kvs
    }

    #[tokio::test]
    async fn applied_state_survives_reopen_so_nothing_is_applied_twice() {
        let member = Host::new();
        {
            let mut sm = member.open().await;
            let entries = vec![blank(1), members(2), put(3, "a", "1"), put(4, "b", "2")];
            let responses = sm.apply(entries).await.unwrap();
            assert_eq!(responses.len(), 4);
            assert_eq!(responses[3].revision, 3);
        }
        let mut sm = member.open().await;
        let (last_applied, membership) = sm.applied_state().await.unwrap();
        assert_eq!(last_applied, Some(log_id(4)));
        assert_eq!(membership.log_id(), &Some(log_id(2)));
        assert_eq!(*sm.applied_index().borrow(), 4);
        // openraft resumes after the last applied entry: the next put is the
        // only new revision.
        let responses = sm.apply([put(5, "a", "3")]).await.unwrap();
        assert_eq!(responses[0].revision, 4);
        assert_eq!(sm.kv().current_revision(), 4);
    }

    #[tokio::test]
    async fn observers_are_told_of_every_command_in_log_order_and_the_index_advances() {
        let member = Host::new();
        let mut sm = member.open().await;
        let index = sm.applied_index();
        sm.apply([put(1, "a", "1"), blank(2), put(3, "b", "2")])
            .await
            .unwrap();
        assert_eq!(*member.recorder.applied.lock().unwrap(), vec![2, 3]);
        assert_eq!(*index.borrow(), 3);
    }

    async fn snapshot_bytes(snapshot: &mut Snapshot<TypeConfig>) -> Vec<u8> {
        let mut bytes = Vec::new();
        snapshot.snapshot.read_to_end(&mut bytes).await.unwrap();
        bytes
    }

    /// Streams `bytes` into `sm` in small chunks, as openraft does, and
    /// installs them.
    async fn install(sm: &mut StateMachine, meta: &SnapshotMeta, bytes: &[u8]) {
        let mut receiving = sm.begin_receiving_snapshot().await.unwrap();
        for chunk in bytes.chunks(1000) {
            receiving.write_all(chunk).await.unwrap();
        }
        sm.install_snapshot(meta, receiving).await.unwrap();
    }

    #[tokio::test]
    async fn a_snapshot_installed_on_a_fresh_member_reproduces_the_state() {
        let leader = Host::new();
        let mut sm = leader.open().await;
        sm.apply([members(1), put(2, "a", "1"), put(3, "b", "2")])
            .await
            .unwrap();
        let mut snapshot = sm
            .get_snapshot_builder()
            .await
            .build_snapshot()
            .await
            .unwrap();
        assert_eq!(snapshot.meta.last_log_id, Some(log_id(3)));
        let bytes = snapshot_bytes(&mut snapshot).await;

        let follower = Host::new();
        let mut fresh = follower.open().await;
        let index = fresh.applied_index();
        install(&mut fresh, &snapshot.meta, &bytes).await;

        assert_eq!(everything(fresh.kv()), everything(sm.kv()));
        assert_eq!(fresh.kv().current_revision(), sm.kv().current_revision());
        assert_eq!(
            fresh.applied_state().await.unwrap(),
            sm.applied_state().await.unwrap()
        );
        assert_eq!(*index.borrow(), 3);
        assert_eq!(*follower.recorder.restored.lock().unwrap(), vec![3]);
        let current = fresh.get_current_snapshot().await.unwrap().unwrap();
        assert_eq!(current.meta, snapshot.meta);

        // And it stays installed across a restart.
        drop(fresh);
        let mut reopened = follower.open().await;
        assert_eq!(everything(reopened.kv()), everything(sm.kv()));
        assert_eq!(reopened.applied_state().await.unwrap().0, Some(log_id(3)));
    }

    #[tokio::test]
    async fn a_snapshot_covers_exactly_what_was_applied_when_it_was_requested() {
        let leader = Host::new();
        let mut sm = leader.open().await;
        sm.apply([put(1, "a", "1")]).await.unwrap();
        let mut builder = sm.get_snapshot_builder().await;
        // Applying goes on while the builder packs its checkpoint.
        sm.apply([put(2, "b", "2")]).await.unwrap();
        let mut snapshot = builder.build_snapshot().await.unwrap();
        assert_eq!(snapshot.meta.last_log_id, Some(log_id(1)));

        let follower = Host::new();
        let mut fresh = follower.open().await;
        let bytes = snapshot_bytes(&mut snapshot).await;
        install(&mut fresh, &snapshot.meta, &bytes).await;
        let keys: Vec<_> = everything(fresh.kv())
            .into_iter()
            .map(|kv| kv.key)
            .collect();
        assert_eq!(keys, vec![b"a".to_vec()]);
        assert_eq!(fresh.applied_state().await.unwrap().0, Some(log_id(1)));
    }

    #[tokio::test]
    async fn the_last_snapshot_is_current_again_after_restart() {
        let member = Host::new();
        let meta = {
            let mut sm = member.open().await;
            assert!(sm.get_current_snapshot().await.unwrap().is_none());
            sm.apply([put(1, "a", "1"), put(2, "b", "2")])
                .await
                .unwrap();
            sm.get_snapshot_builder()
                .await
                .build_snapshot()
                .await
                .unwrap()
                .meta
        };
        let mut sm = member.open().await;
        let mut current = sm.get_current_snapshot().await.unwrap().unwrap();
        assert_eq!(current.meta, meta);
        assert!(!snapshot_bytes(&mut current).await.is_empty());
    }

    #[tokio::test]
    async fn an_install_interrupted_before_the_store_was_replaced_is_finished_on_open() {
        let leader = Host::new();
        let mut sm = leader.open().await;
        sm.apply([put(1, "a", "1"), put(2, "b", "2")])
            .await
            .unwrap();
        sm.get_snapshot_builder()
            .await
            .build_snapshot()
            .await
            .unwrap();

        // A member whose snapshot directory already holds the new snapshot
        // as current, but whose store was never replaced.
        let follower = Host::new();
        let snapshots = follower.dir.path().join("snapshots");
        std::fs::create_dir_all(&snapshots).unwrap();
        for entry in std::fs::read_dir(leader.dir.path().join("snapshots")).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), snapshots.join(entry.file_name())).unwrap();
        }
        let mut fresh = follower.open().await;
        assert_eq!(fresh.applied_state().await.unwrap().0, Some(log_id(2)));
        assert_eq!(everything(fresh.kv()), everything(sm.kv()));
        assert_eq!(follower.recorder.restored.lock().unwrap().len(), 1);
    }

    struct Builder;

    impl StoreBuilder<TypeConfig, LogStore, StateMachine, TempDir> for Builder {
        async fn build(&self) -> StorageResult<(TempDir, LogStore, StateMachine)> {
            let dir = tempfile::tempdir().unwrap();
            let log_store = LogStore::open(&dir.path().join("raft")).unwrap();
            let kv = KvStore::open(&dir.path().join("kv")).unwrap();
            let sm = StateMachine::open(kv, &dir.path().join("snapshots"), Vec::new())
                .await
                .unwrap();
            Ok((dir, log_store, sm))
        }
    }

    #[test]
    fn passes_openraft_storage_test_suite() {
        Suite::test_all(Builder).unwrap();
    }
}

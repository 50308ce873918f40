//! The store's error type and its one translation into etcd's gRPC statuses.
//!
//! Messages are etcd's own (`api/v3rpc/rpctypes`), because clients such as
//! etcdctl and client-go match on them.

use tonic::{Code, Status};

/// Everything a store request can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A request names no key.
    #[error("etcdserver: key is not provided")]
    EmptyKey,
    /// `ignore_value`/`ignore_lease` on a key that does not exist.
    #[error("etcdserver: key not found")]
    KeyNotFound,
    /// `ignore_value` together with a value.
    #[error("etcdserver: value is provided")]
    ValueProvided,
    /// `ignore_lease` together with a lease.
    #[error("etcdserver: lease is provided")]
    LeaseProvided,
    /// More operations in one txn than the limit (128, etcd's default).
    #[error("etcdserver: too many operations in txn request")]
    TooManyOps,
    /// A txn branch writes the same key twice.
    #[error("etcdserver: duplicate key given in txn request")]
    DuplicateKey,
    /// A request larger than the limit (1.5 MiB, etcd's default).
    #[error("etcdserver: request is too large")]
    RequestTooLarge,
    /// A sort order or target outside the enum.
    #[error("etcdserver: invalid sort option")]
    InvalidSortOption,
    /// A read or watch below the compacted revision.
    #[error("etcdserver: mvcc: required revision has been compacted")]
    Compacted,
    /// A read or compaction above the current revision.
    #[error("etcdserver: mvcc: required revision is a future revision")]
    FutureRevision,
    /// The lease does not exist (or has expired).
    #[error("etcdserver: requested lease not found")]
    LeaseNotFound,
    /// A grant with an ID already in use.
    #[error("etcdserver: lease already exists")]
    LeaseExists,
    /// A grant with a TTL above the maximum.
    #[error("etcdserver: too large lease TTL")]
    LeaseTtlTooLarge,
    /// No leader is known, so the request cannot be ordered.
    #[error("etcdserver: no leader")]
    NoLeader,
    /// A member asked to act as leader is not the leader.
    #[error("etcdserver: not leader")]
    NotLeader,
    /// The request did not complete in time; it may or may not have applied.
    #[error("etcdserver: request timed out")]
    Timeout,
    /// The member is shutting down.
    #[error("etcdserver: server stopped")]
    Stopped,
    /// RocksDB failed; the member cannot serve safely.
    #[error("etcdserver: storage error: {0}")]
    Storage(String),
    /// Anything else, with etcd's wording where one exists.
    #[error("{1}")]
    Other(#[doc = "gRPC code"] i32, String),
}

impl StoreError {
    /// The gRPC code etcd returns for this error.
    pub fn code(&self) -> Code {
        use StoreError::*;
        match self {
            EmptyKey | KeyNotFound | ValueProvided | LeaseProvided | TooManyOps | DuplicateKey
            | RequestTooLarge | InvalidSortOption => Code::InvalidArgument,
            Compacted | FutureRevision | LeaseTtlTooLarge => Code::OutOfRange,
            LeaseNotFound => Code::NotFound,
            LeaseExists | NotLeader => Code::FailedPrecondition,
            NoLeader | Timeout | Stopped => Code::Unavailable,
            Storage(_) => Code::Internal,
            Other(code, _) => Code::from_i32(*code),
        }
    }

    /// Rebuilds an error carried across members (`ApplyError`, or a status from
    /// the leader), so a forwarded request fails exactly as a local one would.
    pub fn from_code_message(code: i32, message: &str) -> StoreError {
        use StoreError::*;
        let known = [
            EmptyKey,
            KeyNotFound,
            ValueProvided,
            LeaseProvided,
            TooManyOps,
            DuplicateKey,
            RequestTooLarge,
            InvalidSortOption,
            Compacted,
            FutureRevision,
            LeaseNotFound,
            LeaseExists,
            LeaseTtlTooLarge,
            NoLeader,
            NotLeader,
            Timeout,
            Stopped,
        ];
        known
            .into_iter()
            .find(|e| e.to_string() == message)
            .unwrap_or_else(|| Other(code, message.to_string()))
    }
}

impl From<rocksdb::Error> for StoreError {
    fn from(e: rocksdb::Error) -> Self {
        StoreError::Storage(e.to_string())
    }
}

impl From<StoreError> for Status {
    fn from(e: StoreError) -> Self {
        Status::new(e.code(), e.to_string())
    }
}

impl From<Status> for StoreError {
    fn from(s: Status) -> Self {
        StoreError::from_code_message(s.code() as i32, s.message())
    }
}

/// Shorthand for the store's results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

//! Wire definitions: etcd's v3 API (`etcdserverpb`, `mvccpb`), which berth's
//! store serves so that etcdctl and any etcd client work unchanged, and berth's
//! own member-to-member Raft transport (`berth.raft`) and the API server's
//! gRPC front end for components (`berth.api.v1`).

#![allow(clippy::all, missing_docs)]

/// etcd's key-value and event messages.
pub mod mvccpb {
    tonic::include_proto!("mvccpb");
}

/// etcd's v3 services: KV, Watch, Lease, Cluster, Maintenance.
pub mod etcdserverpb {
    tonic::include_proto!("etcdserverpb");
}

/// berth's own packages; the nesting mirrors the proto package `berth.raft`,
/// which generated code relies on to reach `etcdserverpb`.
pub mod berth {
    /// berth's member-to-member transport and replicated command format.
    pub mod raft {
        tonic::include_proto!("berth.raft");
    }

    /// The API server's gRPC front end for berth's components.
    pub mod api {
        /// Version 1.
        pub mod v1 {
            tonic::include_proto!("berth.api.v1");
        }
    }
}

pub use berth::raft;

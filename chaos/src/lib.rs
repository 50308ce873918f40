//! berth's store under faults, in deterministic simulation.
//!
//! Three real store members (the same server code, gRPC services and RocksDB
//! as `berth store`, each with its data in its own directory) and a set of
//! clients and watchers run as [turmoil] hosts. A scenario crashes,
//! restarts, partitions, stalls and slows members on a schedule; clients
//! record every request with its simulated invoke and completion times; the
//! checkers then decide whether the history is one etcd allows.
//!
//! # What one seed fixes
//!
//! The seed drives turmoil's network (latency draws, link failures, host
//! order), every choice of the workload and the fault schedule, the
//! randomized election timeouts of Raft ([`berth_store::raft::seed_thread_rng`])
//! and, through the simulated clock, lease IDs. Two runs of one seed record
//! the same history until tokio makes its first unseeded choice: `select!`
//! picks among ready branches with a per-runtime generator that turmoil can
//! seed only in builds with `--cfg tokio_unstable` (which would mean
//! rebuilding every dependency, RocksDB included, with that flag). From there
//! a replay keeps the seed's fault schedule and workload choices but may
//! interleave differently; every violation found so far replayed from its
//! seed.
//!
//! # What the simulation leaves out
//!
//! turmoil simulates the network and time, not the disk: RocksDB writes real
//! files (in `/dev/shm` where it exists). A crash drops every task and handle
//! of the member, as `kill -9` does, and what was written to the files
//! survives, as it does in the page cache after a process crash. Power loss
//! (unsynced data lost), torn writes and disk errors are not modelled; the
//! store's fsync discipline is covered by its own tests, not here.
//! Clocks advance together on every host (no skew).
//!
//! # Planted bugs
//!
//! [`berth_store::faults`] plants bugs the checkers must catch; the
//! `planted` tests show each caught by some scenario within a fixed seed
//! range.

pub mod check;
pub mod cluster;
pub mod final_checks;
pub mod history;
pub mod net;
pub mod run;
pub mod scenario;
pub mod workload;

pub use run::{run, Report, RunConfig};
pub use scenario::Scenario;

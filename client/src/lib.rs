//! What berth's components share: a typed client of the API server's gRPC
//! front end (`berth.api.v1`), informers that keep a local cache of a
//! resource current, a de-duplicating work queue, leader election on Lease
//! objects, and an event recorder.
//!
//! The pieces follow client-go's, so a reader who knows a Kubernetes
//! controller finds the same shapes: an [`Informer`] fills a [`Store`] and
//! notifies subscribers; handlers put keys on a [`WorkQueue`]; workers sync
//! one key at a time; a [`LeaderElector`] keeps exactly one member active.

mod api;
mod client;
pub mod controller;
mod error;
pub mod events;
pub mod index;
mod informer;
pub mod leaderelection;
mod store;
pub mod upgrade;
mod workqueue;

pub use api::{Api, ListParams, ObjectList, Patch, Resource, WatchEvent};
pub use client::{Client, Credentials};
pub use error::{not_found_ok, Error};
pub use events::{EventType, Recorder};
pub use informer::{Config as InformerConfig, Informer};
pub use leaderelection::{LeaderElector, LeaseConfig};
pub use store::{key_of, IndexFn, Notification, Store};
pub use workqueue::WorkQueue;

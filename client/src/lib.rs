//! berth-client: see the crate description.

//! Planted bugs, for proving that berth's chaos checkers catch what they
//! claim to. They exist only when the crate is built with the `faults`
//! feature (the chaos crate enables it; `berth` itself never does), and even
//! then each is off until a simulation switches it on for its own thread.
//!
//! The switch is per thread because turmoil runs every simulated member on
//! the thread that drives the simulation, while other simulations (other
//! tests) run on other threads at the same time.

/// A planted bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// Linearizable reads skip the read index and answer from the member's
    /// local state, however far behind it is.
    StaleRead,
    /// A write whose proposal timed out is acknowledged as if it had been
    /// applied at the current revision.
    AckUncommitted,
    /// Each watcher silently skips the first event it would deliver past
    /// revision 20.
    DropWatchEvent,
    /// A new leader gives every lease no time at all instead of a full TTL,
    /// so leases expire on leader change.
    EarlyLeaseExpiry,
}

#[cfg(feature = "faults")]
mod switch {
    use super::Fault;
    use std::cell::Cell;

    thread_local! {
        static ACTIVE: Cell<Option<Fault>> = const { Cell::new(None) };
    }

    /// Turns `fault` on (or every fault off with `None`) for this thread.
    pub fn set(fault: Option<Fault>) {
        ACTIVE.with(|a| a.set(fault));
    }

    /// Whether `fault` is on for this thread.
    pub fn active(fault: Fault) -> bool {
        ACTIVE.with(|a| a.get() == Some(fault))
    }
}

#[cfg(not(feature = "faults"))]
mod switch {
    use super::Fault;

    /// Without the `faults` feature nothing can be planted.
    #[inline(always)]
    pub fn active(_fault: Fault) -> bool {
        false
    }
}

pub use switch::*;

use berth_proto::etcdserverpb::{PutResponse, ResponseHeader, TxnResponse};
use berth_proto::raft::{internal_request, internal_response, InternalRequest, InternalResponse};

/// What [`Fault::AckUncommitted`] answers for a write that timed out: a
/// success at `revision`, as if it had been applied (puts and transactions;
/// other writes keep their timeout).
pub fn acknowledge(req: &InternalRequest, revision: i64) -> Option<InternalResponse> {
    let header = Some(ResponseHeader {
        revision,
        ..Default::default()
    });
    let response = match req.request.as_ref()? {
        internal_request::Request::Put(_) => internal_response::Response::Put(PutResponse {
            header,
            prev_kv: None,
        }),
        internal_request::Request::Txn(_) => internal_response::Response::Txn(TxnResponse {
            header,
            succeeded: true,
            responses: vec![],
        }),
        _ => return None,
    };
    Some(InternalResponse {
        response: Some(response),
        log_index: 0,
    })
}

//! Field tables for coordination.k8s.io/v1 leases.

use super::meta;
use super::schema::{field, Card::*, Message, Type::*};

pub(super) static LEASE: Message = Message {
    name: "k8s.io.api.coordination.v1.Lease",
    fields: &[
        field(1, "metadata", Keep, Msg(&meta::OBJECT_META)),
        field(2, "spec", Keep, Msg(&LEASE_SPEC)),
    ],
};

pub(super) static LEASE_SPEC: Message = Message {
    name: "k8s.io.api.coordination.v1.LeaseSpec",
    fields: &[
        field(1, "holderIdentity", Keep, Str),
        field(2, "leaseDurationSeconds", Keep, I32),
        field(3, "acquireTime", Keep, MicroTime),
        field(4, "renewTime", Keep, MicroTime),
        field(5, "leaseTransitions", Keep, I32),
        field(6, "strategy", Keep, Str),
        field(7, "preferredHolder", Keep, Str),
    ],
};

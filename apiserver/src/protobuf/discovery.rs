//! Field tables for discovery.k8s.io/v1 endpoint slices.

use super::{core_objects, meta};
use super::schema::{field, Card::*, Message, Type::*};

pub(super) static ENDPOINT: Message = Message {
    name: "k8s.io.api.discovery.v1.Endpoint",
    fields: &[
        field(1, "addresses", Repeated, Str),
        field(2, "conditions", Keep, Msg(&ENDPOINT_CONDITIONS)),
        field(3, "hostname", Keep, Str),
        field(4, "targetRef", Keep, Msg(&core_objects::OBJECT_REFERENCE)),
        field(5, "deprecatedTopology", Map, Str),
        field(6, "nodeName", Keep, Str),
        field(7, "zone", Keep, Str),
        field(8, "hints", Keep, Msg(&ENDPOINT_HINTS)),
    ],
};

pub(super) static ENDPOINT_CONDITIONS: Message = Message {
    name: "k8s.io.api.discovery.v1.EndpointConditions",
    fields: &[
        field(1, "ready", Keep, Bool),
        field(2, "serving", Keep, Bool),
        field(3, "terminating", Keep, Bool),
    ],
};

pub(super) static ENDPOINT_HINTS: Message = Message {
    name: "k8s.io.api.discovery.v1.EndpointHints",
    fields: &[
        field(1, "forZones", Repeated, Msg(&FOR_ZONE)),
        field(2, "forNodes", Repeated, Msg(&FOR_NODE)),
    ],
};

pub(super) static ENDPOINT_PORT: Message = Message {
    name: "k8s.io.api.discovery.v1.EndpointPort",
    fields: &[
        field(1, "name", Keep, Str),
        field(2, "protocol", Keep, Str),
        field(3, "port", Keep, I32),
        field(4, "appProtocol", Keep, Str),
    ],
};

pub(super) static ENDPOINT_SLICE: Message = Message {
    name: "k8s.io.api.discovery.v1.EndpointSlice",
    fields: &[
        field(1, "metadata", Keep, Msg(&meta::OBJECT_META)),
        field(2, "endpoints", Repeated, Msg(&ENDPOINT)),
        field(3, "ports", Repeated, Msg(&ENDPOINT_PORT)),
        field(4, "addressType", Keep, Str),
    ],
};

pub(super) static FOR_NODE: Message = Message {
    name: "k8s.io.api.discovery.v1.ForNode",
    fields: &[
        field(1, "name", Keep, Str),
    ],
};

pub(super) static FOR_ZONE: Message = Message {
    name: "k8s.io.api.discovery.v1.ForZone",
    fields: &[
        field(1, "name", Keep, Str),
    ],
};

//! Field tables for storage.k8s.io/v1 storage classes.

use super::{core_objects, meta};
use super::schema::{field, Card::*, Message, Type::*};

pub(super) static STORAGE_CLASS: Message = Message {
    name: "k8s.io.api.storage.v1.StorageClass",
    fields: &[
        field(1, "metadata", Keep, Msg(&meta::OBJECT_META)),
        field(2, "provisioner", Keep, Str),
        field(3, "parameters", Map, Str),
        field(4, "reclaimPolicy", Keep, Str),
        field(5, "mountOptions", Repeated, Str),
        field(6, "allowVolumeExpansion", Keep, Bool),
        field(7, "volumeBindingMode", Keep, Str),
        field(8, "allowedTopologies", Repeated, Msg(&core_objects::TOPOLOGY_SELECTOR_TERM)),
    ],
};

//! Field tables for meta/v1 messages shared by every kind: object metadata,
//! owner references, managed fields, label selectors, conditions and delete
//! options.

use super::schema::{field, Card::*, Message, Type::*};

pub(super) static CONDITION: Message = Message {
    name: "k8s.io.apimachinery.pkg.apis.meta.v1.Condition",
    fields: &[
        field(1, "type", Keep, Str),
        field(2, "status", Keep, Str),
        field(3, "observedGeneration", OmitEmpty, I64),
        field(4, "lastTransitionTime", Keep, Time),
        field(5, "reason", Keep, Str),
        field(6, "message", Keep, Str),
    ],
};

pub(super) static DELETE_OPTIONS: Message = Message {
    name: "k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions",
    fields: &[
        field(1, "gracePeriodSeconds", Keep, I64),
        field(2, "preconditions", Keep, Msg(&PRECONDITIONS)),
        field(3, "orphanDependents", Keep, Bool),
        field(4, "propagationPolicy", Keep, Str),
        field(5, "dryRun", Repeated, Str),
        field(6, "ignoreStoreReadErrorWithClusterBreakingPotential", Keep, Bool),
    ],
};

pub(super) static LABEL_SELECTOR: Message = Message {
    name: "k8s.io.apimachinery.pkg.apis.meta.v1.LabelSelector",
    fields: &[
        field(1, "matchLabels", Map, Str),
        field(2, "matchExpressions", Repeated, Msg(&LABEL_SELECTOR_REQUIREMENT)),
    ],
};

pub(super) static LABEL_SELECTOR_REQUIREMENT: Message = Message {
    name: "k8s.io.apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement",
    fields: &[
        field(1, "key", Keep, Str),
        field(2, "operator", Keep, Str),
        field(3, "values", Repeated, Str),
    ],
};

pub(super) static MANAGED_FIELDS_ENTRY: Message = Message {
    name: "k8s.io.apimachinery.pkg.apis.meta.v1.ManagedFieldsEntry",
    fields: &[
        field(1, "manager", OmitEmpty, Str),
        field(2, "operation", OmitEmpty, Str),
        field(3, "apiVersion", OmitEmpty, Str),
        field(4, "time", Keep, Time),
        field(6, "fieldsType", OmitEmpty, Str),
        field(7, "fieldsV1", Keep, FieldsV1),
        field(8, "subresource", OmitEmpty, Str),
    ],
};

pub(super) static OBJECT_META: Message = Message {
    name: "k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta",
    fields: &[
        field(1, "name", OmitEmpty, Str),
        field(2, "generateName", OmitEmpty, Str),
        field(3, "namespace", OmitEmpty, Str),
        field(4, "selfLink", OmitEmpty, Str),
        field(5, "uid", OmitEmpty, Str),
        field(6, "resourceVersion", OmitEmpty, Str),
        field(7, "generation", OmitEmpty, I64),
        field(8, "creationTimestamp", Keep, Time),
        field(9, "deletionTimestamp", Keep, Time),
        field(10, "deletionGracePeriodSeconds", Keep, I64),
        field(11, "labels", Map, Str),
        field(12, "annotations", Map, Str),
        field(13, "ownerReferences", Repeated, Msg(&OWNER_REFERENCE)),
        field(14, "finalizers", Repeated, Str),
        field(17, "managedFields", Repeated, Msg(&MANAGED_FIELDS_ENTRY)),
    ],
};

pub(super) static OWNER_REFERENCE: Message = Message {
    name: "k8s.io.apimachinery.pkg.apis.meta.v1.OwnerReference",
    fields: &[
        field(1, "kind", Keep, Str),
        field(3, "name", Keep, Str),
        field(4, "uid", Keep, Str),
        field(5, "apiVersion", Keep, Str),
        field(6, "controller", Keep, Bool),
        field(7, "blockOwnerDeletion", Keep, Bool),
    ],
};

pub(super) static PRECONDITIONS: Message = Message {
    name: "k8s.io.apimachinery.pkg.apis.meta.v1.Preconditions",
    fields: &[
        field(1, "uid", Keep, Str),
        field(2, "resourceVersion", Keep, Str),
    ],
};

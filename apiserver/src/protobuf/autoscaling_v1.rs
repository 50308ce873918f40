//! Field tables for autoscaling/v1 horizontal pod autoscalers and the scale
//! subresource.

use super::meta;
use super::schema::{field, Card::*, Message, Type::*};

pub(super) static CROSS_VERSION_OBJECT_REFERENCE: Message = Message {
    name: "k8s.io.api.autoscaling.v1.CrossVersionObjectReference",
    fields: &[
        field(1, "kind", Keep, Str),
        field(2, "name", Keep, Str),
        field(3, "apiVersion", OmitEmpty, Str),
    ],
};

pub(super) static HORIZONTAL_POD_AUTOSCALER: Message = Message {
    name: "k8s.io.api.autoscaling.v1.HorizontalPodAutoscaler",
    fields: &[
        field(1, "metadata", Keep, Msg(&meta::OBJECT_META)),
        field(2, "spec", Keep, Msg(&HORIZONTAL_POD_AUTOSCALER_SPEC)),
        field(3, "status", Keep, Msg(&HORIZONTAL_POD_AUTOSCALER_STATUS)),
    ],
};

pub(super) static HORIZONTAL_POD_AUTOSCALER_SPEC: Message = Message {
    name: "k8s.io.api.autoscaling.v1.HorizontalPodAutoscalerSpec",
    fields: &[
        field(1, "scaleTargetRef", Keep, Msg(&CROSS_VERSION_OBJECT_REFERENCE)),
        field(2, "minReplicas", Keep, I32),
        field(3, "maxReplicas", Keep, I32),
        field(4, "targetCPUUtilizationPercentage", Keep, I32),
    ],
};

pub(super) static HORIZONTAL_POD_AUTOSCALER_STATUS: Message = Message {
    name: "k8s.io.api.autoscaling.v1.HorizontalPodAutoscalerStatus",
    fields: &[
        field(1, "observedGeneration", Keep, I64),
        field(2, "lastScaleTime", Keep, Time),
        field(3, "currentReplicas", Keep, I32),
        field(4, "desiredReplicas", Keep, I32),
        field(5, "currentCPUUtilizationPercentage", Keep, I32),
    ],
};

pub(super) static SCALE: Message = Message {
    name: "k8s.io.api.autoscaling.v1.Scale",
    fields: &[
        field(1, "metadata", Keep, Msg(&meta::OBJECT_META)),
        field(2, "spec", Keep, Msg(&SCALE_SPEC)),
        field(3, "status", Keep, Msg(&SCALE_STATUS)),
    ],
};

pub(super) static SCALE_SPEC: Message = Message {
    name: "k8s.io.api.autoscaling.v1.ScaleSpec",
    fields: &[
        field(1, "replicas", OmitEmpty, I32),
    ],
};

pub(super) static SCALE_STATUS: Message = Message {
    name: "k8s.io.api.autoscaling.v1.ScaleStatus",
    fields: &[
        field(1, "replicas", Keep, I32),
        field(2, "selector", OmitEmpty, Str),
    ],
};

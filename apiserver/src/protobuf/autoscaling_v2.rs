//! Field tables for autoscaling/v2 horizontal pod autoscalers and their
//! metrics.

use super::meta;
use super::schema::{field, Card::*, Message, Type::*};

pub(super) static CONTAINER_RESOURCE_METRIC_SOURCE: Message = Message {
    name: "k8s.io.api.autoscaling.v2.ContainerResourceMetricSource",
    fields: &[
        field(1, "name", Keep, Str),
        field(2, "target", Keep, Msg(&METRIC_TARGET)),
        field(3, "container", Keep, Str),
    ],
};

pub(super) static CONTAINER_RESOURCE_METRIC_STATUS: Message = Message {
    name: "k8s.io.api.autoscaling.v2.ContainerResourceMetricStatus",
    fields: &[
        field(1, "name", Keep, Str),
        field(2, "current", Keep, Msg(&METRIC_VALUE_STATUS)),
        field(3, "container", Keep, Str),
    ],
};

pub(super) static CROSS_VERSION_OBJECT_REFERENCE: Message = Message {
    name: "k8s.io.api.autoscaling.v2.CrossVersionObjectReference",
    fields: &[
        field(1, "kind", Keep, Str),
        field(2, "name", Keep, Str),
        field(3, "apiVersion", OmitEmpty, Str),
    ],
};

pub(super) static EXTERNAL_METRIC_SOURCE: Message = Message {
    name: "k8s.io.api.autoscaling.v2.ExternalMetricSource",
    fields: &[
        field(1, "metric", Keep, Msg(&METRIC_IDENTIFIER)),
        field(2, "target", Keep, Msg(&METRIC_TARGET)),
    ],
};

pub(super) static EXTERNAL_METRIC_STATUS: Message = Message {
    name: "k8s.io.api.autoscaling.v2.ExternalMetricStatus",
    fields: &[
        field(1, "metric", Keep, Msg(&METRIC_IDENTIFIER)),
        field(2, "current", Keep, Msg(&METRIC_VALUE_STATUS)),
    ],
};

pub(super) static HPA_SCALING_POLICY: Message = Message {
    name: "k8s.io.api.autoscaling.v2.HPAScalingPolicy",
    fields: &[
        field(1, "type", Keep, Str),
        field(2, "value", Keep, I32),
        field(3, "periodSeconds", Keep, I32),
    ],
};

pub(super) static HPA_SCALING_RULES: Message = Message {
    name: "k8s.io.api.autoscaling.v2.HPAScalingRules",
    fields: &[
        field(1, "selectPolicy", Keep, Str),
        field(2, "policies", Repeated, Msg(&HPA_SCALING_POLICY)),
        field(3, "stabilizationWindowSeconds", Keep, I32),
        field(4, "tolerance", Keep, Quantity),
    ],
};

pub(super) static HORIZONTAL_POD_AUTOSCALER: Message = Message {
    name: "k8s.io.api.autoscaling.v2.HorizontalPodAutoscaler",
    fields: &[
        field(1, "metadata", Keep, Msg(&meta::OBJECT_META)),
        field(2, "spec", Keep, Msg(&HORIZONTAL_POD_AUTOSCALER_SPEC)),
        field(3, "status", Keep, Msg(&HORIZONTAL_POD_AUTOSCALER_STATUS)),
    ],
};

pub(super) static HORIZONTAL_POD_AUTOSCALER_BEHAVIOR: Message = Message {
    name: "k8s.io.api.autoscaling.v2.HorizontalPodAutoscalerBehavior",
    fields: &[
        field(1, "scaleUp", Keep, Msg(&HPA_SCALING_RULES)),
        field(2, "scaleDown", Keep, Msg(&HPA_SCALING_RULES)),
    ],
};

pub(super) static HORIZONTAL_POD_AUTOSCALER_CONDITION: Message = Message {
    name: "k8s.io.api.autoscaling.v2.HorizontalPodAutoscalerCondition",
    fields: &[
        field(1, "type", Keep, Str),
        field(2, "status", Keep, Str),
        field(3, "lastTransitionTime", Keep, Time),
        field(4, "reason", OmitEmpty, Str),
        field(5, "message", OmitEmpty, Str),
    ],
};

pub(super) static HORIZONTAL_POD_AUTOSCALER_SPEC: Message = Message {
    name: "k8s.io.api.autoscaling.v2.HorizontalPodAutoscalerSpec",
    fields: &[
        field(1, "scaleTargetRef", Keep, Msg(&CROSS_VERSION_OBJECT_REFERENCE)),
        field(2, "minReplicas", Keep, I32),
        field(3, "maxReplicas", Keep, I32),
        field(4, "metrics", Repeated, Msg(&METRIC_SPEC)),
        field(5, "behavior", Keep, Msg(&HORIZONTAL_POD_AUTOSCALER_BEHAVIOR)),
    ],
};

pub(super) static HORIZONTAL_POD_AUTOSCALER_STATUS: Message = Message {
    name: "k8s.io.api.autoscaling.v2.HorizontalPodAutoscalerStatus",
    fields: &[
        field(1, "observedGeneration", Keep, I64),
        field(2, "lastScaleTime", Keep, Time),
        field(3, "currentReplicas", OmitEmpty, I32),
        field(4, "desiredReplicas", Keep, I32),
        field(5, "currentMetrics", Repeated, Msg(&METRIC_STATUS)),
        field(6, "conditions", Repeated, Msg(&HORIZONTAL_POD_AUTOSCALER_CONDITION)),
    ],
};

pub(super) static METRIC_IDENTIFIER: Message = Message {
    name: "k8s.io.api.autoscaling.v2.MetricIdentifier",
    fields: &[
        field(1, "name", Keep, Str),
        field(2, "selector", Keep, Msg(&meta::LABEL_SELECTOR)),
    ],
};

pub(super) static METRIC_SPEC: Message = Message {
    name: "k8s.io.api.autoscaling.v2.MetricSpec",
    fields: &[
        field(1, "type", Keep, Str),
        field(2, "object", Keep, Msg(&OBJECT_METRIC_SOURCE)),
        field(3, "pods", Keep, Msg(&PODS_METRIC_SOURCE)),
        field(4, "resource", Keep, Msg(&RESOURCE_METRIC_SOURCE)),
        field(5, "external", Keep, Msg(&EXTERNAL_METRIC_SOURCE)),
        field(7, "containerResource", Keep, Msg(&CONTAINER_RESOURCE_METRIC_SOURCE)),
    ],
};

pub(super) static METRIC_STATUS: Message = Message {
    name: "k8s.io.api.autoscaling.v2.MetricStatus",
    fields: &[
        field(1, "type", Keep, Str),
        field(2, "object", Keep, Msg(&OBJECT_METRIC_STATUS)),
        field(3, "pods", Keep, Msg(&PODS_METRIC_STATUS)),
        field(4, "resource", Keep, Msg(&RESOURCE_METRIC_STATUS)),
        field(5, "external", Keep, Msg(&EXTERNAL_METRIC_STATUS)),
        field(7, "containerResource", Keep, Msg(&CONTAINER_RESOURCE_METRIC_STATUS)),
    ],
};

pub(super) static METRIC_TARGET: Message = Message {
    name: "k8s.io.api.autoscaling.v2.MetricTarget",
    fields: &[
        field(1, "type", Keep, Str),
        field(2, "value", Keep, Quantity),
        field(3, "averageValue", Keep, Quantity),
        field(4, "averageUtilization", Keep, I32),
    ],
};

pub(super) static METRIC_VALUE_STATUS: Message = Message {
    name: "k8s.io.api.autoscaling.v2.MetricValueStatus",
    fields: &[
        field(1, "value", Keep, Quantity),
        field(2, "averageValue", Keep, Quantity),
        field(3, "averageUtilization", Keep, I32),
    ],
};

pub(super) static OBJECT_METRIC_SOURCE: Message = Message {
    name: "k8s.io.api.autoscaling.v2.ObjectMetricSource",
    fields: &[
        field(1, "describedObject", Keep, Msg(&CROSS_VERSION_OBJECT_REFERENCE)),
        field(2, "target", Keep, Msg(&METRIC_TARGET)),
        field(3, "metric", Keep, Msg(&METRIC_IDENTIFIER)),
    ],
};

pub(super) static OBJECT_METRIC_STATUS: Message = Message {
    name: "k8s.io.api.autoscaling.v2.ObjectMetricStatus",
    fields: &[
        field(1, "metric", Keep, Msg(&METRIC_IDENTIFIER)),
        field(2, "current", Keep, Msg(&METRIC_VALUE_STATUS)),
        field(3, "describedObject", Keep, Msg(&CROSS_VERSION_OBJECT_REFERENCE)),
    ],
};

pub(super) static PODS_METRIC_SOURCE: Message = Message {
    name: "k8s.io.api.autoscaling.v2.PodsMetricSource",
    fields: &[
        field(1, "metric", Keep, Msg(&METRIC_IDENTIFIER)),
        field(2, "target", Keep, Msg(&METRIC_TARGET)),
    ],
};

pub(super) static PODS_METRIC_STATUS: Message = Message {
    name: "k8s.io.api.autoscaling.v2.PodsMetricStatus",
    fields: &[
        field(1, "metric", Keep, Msg(&METRIC_IDENTIFIER)),
        field(2, "current", Keep, Msg(&METRIC_VALUE_STATUS)),
    ],
};

pub(super) static RESOURCE_METRIC_SOURCE: Message = Message {
    name: "k8s.io.api.autoscaling.v2.ResourceMetricSource",
    fields: &[
        field(1, "name", Keep, Str),
        field(2, "target", Keep, Msg(&METRIC_TARGET)),
    ],
};

pub(super) static RESOURCE_METRIC_STATUS: Message = Message {
    name: "k8s.io.api.autoscaling.v2.ResourceMetricStatus",
    fields: &[
        field(1, "name", Keep, Str),
        field(2, "current", Keep, Msg(&METRIC_VALUE_STATUS)),
    ],
};

//! Field tables for apps/v1 deployments and replica sets.

use super::{core_pod, meta};
use super::schema::{field, Card::*, Message, Type::*};

pub(super) static DEPLOYMENT: Message = Message {
    name: "k8s.io.api.apps.v1.Deployment",
    fields: &[
        field(1, "metadata", Keep, Msg(&meta::OBJECT_META)),
        field(2, "spec", Keep, Msg(&DEPLOYMENT_SPEC)),
        field(3, "status", Keep, Msg(&DEPLOYMENT_STATUS)),
    ],
};

pub(super) static DEPLOYMENT_CONDITION: Message = Message {
    name: "k8s.io.api.apps.v1.DeploymentCondition",
    fields: &[
        field(1, "type", Keep, Str),
        field(2, "status", Keep, Str),
        field(4, "reason", OmitEmpty, Str),
        field(5, "message", OmitEmpty, Str),
        field(6, "lastUpdateTime", Keep, Time),
        field(7, "lastTransitionTime", Keep, Time),
    ],
};

pub(super) static DEPLOYMENT_SPEC: Message = Message {
    name: "k8s.io.api.apps.v1.DeploymentSpec",
    fields: &[
        field(1, "replicas", Keep, I32),
        field(2, "selector", Keep, Msg(&meta::LABEL_SELECTOR)),
        field(3, "template", Keep, Msg(&core_pod::POD_TEMPLATE_SPEC)),
        field(4, "strategy", Keep, Msg(&DEPLOYMENT_STRATEGY)),
        field(5, "minReadySeconds", OmitEmpty, I32),
        field(6, "revisionHistoryLimit", Keep, I32),
        field(7, "paused", OmitEmpty, Bool),
        field(9, "progressDeadlineSeconds", Keep, I32),
    ],
};

pub(super) static DEPLOYMENT_STATUS: Message = Message {
    name: "k8s.io.api.apps.v1.DeploymentStatus",
    fields: &[
        field(1, "observedGeneration", OmitEmpty, I64),
        field(2, "replicas", OmitEmpty, I32),
        field(3, "updatedReplicas", OmitEmpty, I32),
        field(4, "availableReplicas", OmitEmpty, I32),
        field(5, "unavailableReplicas", OmitEmpty, I32),
        field(6, "conditions", Repeated, Msg(&DEPLOYMENT_CONDITION)),
        field(7, "readyReplicas", OmitEmpty, I32),
        field(8, "collisionCount", Keep, I32),
        field(9, "terminatingReplicas", Keep, I32),
    ],
};

pub(super) static DEPLOYMENT_STRATEGY: Message = Message {
    name: "k8s.io.api.apps.v1.DeploymentStrategy",
    fields: &[
        field(1, "type", OmitEmpty, Str),
        field(2, "rollingUpdate", Keep, Msg(&ROLLING_UPDATE_DEPLOYMENT)),
    ],
};

pub(super) static REPLICA_SET: Message = Message {
    name: "k8s.io.api.apps.v1.ReplicaSet",
    fields: &[
        field(1, "metadata", Keep, Msg(&meta::OBJECT_META)),
        field(2, "spec", Keep, Msg(&REPLICA_SET_SPEC)),
        field(3, "status", Keep, Msg(&REPLICA_SET_STATUS)),
    ],
};

pub(super) static REPLICA_SET_CONDITION: Message = Message {
    name: "k8s.io.api.apps.v1.ReplicaSetCondition",
    fields: &[
        field(1, "type", Keep, Str),
        field(2, "status", Keep, Str),
        field(3, "lastTransitionTime", Keep, Time),
        field(4, "reason", OmitEmpty, Str),
        field(5, "message", OmitEmpty, Str),
    ],
};

pub(super) static REPLICA_SET_SPEC: Message = Message {
    name: "k8s.io.api.apps.v1.ReplicaSetSpec",
    fields: &[
        field(1, "replicas", Keep, I32),
        field(2, "selector", Keep, Msg(&meta::LABEL_SELECTOR)),
        field(3, "template", Keep, Msg(&core_pod::POD_TEMPLATE_SPEC)),
        field(4, "minReadySeconds", OmitEmpty, I32),
    ],
};

pub(super) static REPLICA_SET_STATUS: Message = Message {
    name: "k8s.io.api.apps.v1.ReplicaSetStatus",
    fields: &[
        field(1, "replicas", Keep, I32),
        field(2, "fullyLabeledReplicas", OmitEmpty, I32),
        field(3, "observedGeneration", OmitEmpty, I64),
        field(4, "readyReplicas", OmitEmpty, I32),
        field(5, "availableReplicas", OmitEmpty, I32),
        field(6, "conditions", Repeated, Msg(&REPLICA_SET_CONDITION)),
        field(7, "terminatingReplicas", Keep, I32),
    ],
};

pub(super) static ROLLING_UPDATE_DEPLOYMENT: Message = Message {
    name: "k8s.io.api.apps.v1.RollingUpdateDeployment",
    fields: &[
        field(1, "maxUnavailable", Keep, IntOrString),
        field(2, "maxSurge", Keep, IntOrString),
    ],
};

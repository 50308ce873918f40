//! Field tables for core/v1 pods and their status: conditions, container
//! statuses, resource status.

use super::{core_objects, core_pod, meta};
use super::schema::{field, Card::*, Message, Type::*};

pub(super) static CONTAINER_EXTENDED_RESOURCE_REQUEST: Message = Message {
    name: "k8s.io.api.core.v1.ContainerExtendedResourceRequest",
    fields: &[
        field(1, "containerName", Keep, Str),
        field(2, "resourceName", Keep, Str),
        field(3, "requestName", Keep, Str),
    ],
};

pub(super) static CONTAINER_STATE: Message = Message {
    name: "k8s.io.api.core.v1.ContainerState",
    fields: &[
        field(1, "waiting", Keep, Msg(&CONTAINER_STATE_WAITING)),
        field(2, "running", Keep, Msg(&CONTAINER_STATE_RUNNING)),
        field(3, "terminated", Keep, Msg(&CONTAINER_STATE_TERMINATED)),
    ],
};

pub(super) static CONTAINER_STATE_RUNNING: Message = Message {
    name: "k8s.io.api.core.v1.ContainerStateRunning",
    fields: &[
        field(1, "startedAt", Keep, Time),
    ],
};

pub(super) static CONTAINER_STATE_TERMINATED: Message = Message {
    name: "k8s.io.api.core.v1.ContainerStateTerminated",
    fields: &[
        field(1, "exitCode", Keep, I32),
        field(2, "signal", OmitEmpty, I32),
        field(3, "reason", OmitEmpty, Str),
        field(4, "message", OmitEmpty, Str),
        field(5, "startedAt", Keep, Time),
        field(6, "finishedAt", Keep, Time),
        field(7, "containerID", OmitEmpty, Str),
    ],
};

pub(super) static CONTAINER_STATE_WAITING: Message = Message {
    name: "k8s.io.api.core.v1.ContainerStateWaiting",
    fields: &[
        field(1, "reason", OmitEmpty, Str),
        field(2, "message", OmitEmpty, Str),
    ],
};

pub(super) static CONTAINER_STATUS: Message = Message {
    name: "k8s.io.api.core.v1.ContainerStatus",
    fields: &[
        field(1, "name", Keep, Str),
        field(2, "state", Keep, Msg(&CONTAINER_STATE)),
        field(3, "lastState", Keep, Msg(&CONTAINER_STATE)),
        field(4, "ready", Keep, Bool),
        field(5, "restartCount", Keep, I32),
        field(6, "image", Keep, Str),
        field(7, "imageID", Keep, Str),
        field(8, "containerID", OmitEmpty, Str),
        field(9, "started", Keep, Bool),
        field(10, "allocatedResources", Map, Quantity),
        field(11, "resources", Keep, Msg(&core_objects::RESOURCE_REQUIREMENTS)),
        field(12, "volumeMounts", Repeated, Msg(&VOLUME_MOUNT_STATUS)),
        field(13, "user", Keep, Msg(&CONTAINER_USER)),
        field(14, "allocatedResourcesStatus", Repeated, Msg(&RESOURCE_STATUS)),
        field(15, "stopSignal", Keep, Str),
    ],
};

pub(super) static CONTAINER_USER: Message = Message {
    name: "k8s.io.api.core.v1.ContainerUser",
    fields: &[
        field(1, "linux", Keep, Msg(&LINUX_CONTAINER_USER)),
    ],
};

pub(super) static HOST_IP: Message = Message {
    name: "k8s.io.api.core.v1.HostIP",
    fields: &[
        field(1, "ip", Keep, Str),
    ],
};

pub(super) static LINUX_CONTAINER_USER: Message = Message {
    name: "k8s.io.api.core.v1.LinuxContainerUser",
    fields: &[
        field(1, "uid", Keep, I64),
        field(2, "gid", Keep, I64),
        field(3, "supplementalGroups", Repeated, I64),
    ],
};

pub(super) static POD: Message = Message {
    name: "k8s.io.api.core.v1.Pod",
    fields: &[
        field(1, "metadata", Keep, Msg(&meta::OBJECT_META)),
        field(2, "spec", Keep, Msg(&core_pod::POD_SPEC)),
        field(3, "status", Keep, Msg(&POD_STATUS)),
    ],
};

pub(super) static POD_CONDITION: Message = Message {
    name: "k8s.io.api.core.v1.PodCondition",
    fields: &[
        field(1, "type", Keep, Str),
        field(2, "status", Keep, Str),
        field(3, "lastProbeTime", Keep, Time),
        field(4, "lastTransitionTime", Keep, Time),
        field(5, "reason", OmitEmpty, Str),
        field(6, "message", OmitEmpty, Str),
        field(7, "observedGeneration", OmitEmpty, I64),
    ],
};

pub(super) static POD_EXTENDED_RESOURCE_CLAIM_STATUS: Message = Message {
    name: "k8s.io.api.core.v1.PodExtendedResourceClaimStatus",
    fields: &[
        field(1, "requestMappings", Repeated, Msg(&CONTAINER_EXTENDED_RESOURCE_REQUEST)),
        field(2, "resourceClaimName", Keep, Str),
    ],
};

pub(super) static POD_IP: Message = Message {
    name: "k8s.io.api.core.v1.PodIP",
    fields: &[
        field(1, "ip", Keep, Str),
    ],
};

pub(super) static POD_RESOURCE_CLAIM_STATUS: Message = Message {
    name: "k8s.io.api.core.v1.PodResourceClaimStatus",
    fields: &[
        field(1, "name", Keep, Str),
        field(2, "resourceClaimName", Keep, Str),
    ],
};

pub(super) static POD_STATUS: Message = Message {
    name: "k8s.io.api.core.v1.PodStatus",
    fields: &[
        field(1, "phase", OmitEmpty, Str),
        field(2, "conditions", Repeated, Msg(&POD_CONDITION)),
        field(3, "message", OmitEmpty, Str),
        field(4, "reason", OmitEmpty, Str),
        field(5, "hostIP", OmitEmpty, Str),
        field(6, "podIP", OmitEmpty, Str),
        field(7, "startTime", Keep, Time),
        field(8, "containerStatuses", Repeated, Msg(&CONTAINER_STATUS)),
        field(9, "qosClass", OmitEmpty, Str),
        field(10, "initContainerStatuses", Repeated, Msg(&CONTAINER_STATUS)),
        field(11, "nominatedNodeName", OmitEmpty, Str),
        field(12, "podIPs", Repeated, Msg(&POD_IP)),
        field(13, "ephemeralContainerStatuses", Repeated, Msg(&CONTAINER_STATUS)),
        field(14, "resize", OmitEmpty, Str),
        field(15, "resourceClaimStatuses", Repeated, Msg(&POD_RESOURCE_CLAIM_STATUS)),
        field(16, "hostIPs", Repeated, Msg(&HOST_IP)),
        field(17, "observedGeneration", OmitEmpty, I64),
        field(18, "extendedResourceClaimStatus", Keep, Msg(&POD_EXTENDED_RESOURCE_CLAIM_STATUS)),
        field(19, "allocatedResources", Map, Quantity),
        field(20, "resources", Keep, Msg(&core_objects::RESOURCE_REQUIREMENTS)),
    ],
};

pub(super) static RESOURCE_HEALTH: Message = Message {
    name: "k8s.io.api.core.v1.ResourceHealth",
    fields: &[
        field(1, "resourceID", Keep, Str),
        field(2, "health", OmitEmpty, Str),
    ],
};

pub(super) static RESOURCE_STATUS: Message = Message {
    name: "k8s.io.api.core.v1.ResourceStatus",
    fields: &[
        field(1, "name", Keep, Str),
        field(2, "resources", Repeated, Msg(&RESOURCE_HEALTH)),
    ],
};

pub(super) static VOLUME_MOUNT_STATUS: Message = Message {
    name: "k8s.io.api.core.v1.VolumeMountStatus",
    fields: &[
        field(1, "name", Keep, Str),
        field(2, "mountPath", Keep, Str),
        field(3, "readOnly", OmitEmpty, Bool),
        field(4, "recursiveReadOnly", Keep, Str),
    ],
};

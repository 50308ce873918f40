//! Field tables for core/v1 objects other than pods and volumes: namespaces,
//! config maps, secrets, services, endpoints, events, nodes, bindings, and the
//! references they share.

use super::meta;
use super::schema::{field, Card::*, Message, Type::*};

pub(super) static ATTACHED_VOLUME: Message = Message {
    name: "k8s.io.api.core.v1.AttachedVolume",
    fields: &[
        field(1, "name", Keep, Str),
        field(2, "devicePath", Keep, Str),
    ],
};

pub(super) static BINDING: Message = Message {
    name: "k8s.io.api.core.v1.Binding",
    fields: &[
        field(1, "metadata", Keep, Msg(&meta::OBJECT_META)),
        field(2, "target", Keep, Msg(&OBJECT_REFERENCE)),
    ],
};

pub(super) static CLIENT_IP_CONFIG: Message = Message {
    name: "k8s.io.api.core.v1.ClientIPConfig",
    fields: &[
        field(1, "timeoutSeconds", Keep, I32),
    ],
};

pub(super) static CONFIG_MAP: Message = Message {
    name: "k8s.io.api.core.v1.ConfigMap",
    fields: &[
        field(1, "metadata", Keep, Msg(&meta::OBJECT_META)),
        field(2, "data", Map, Str),
        field(3, "binaryData", Map, Bytes),
        field(4, "immutable", Keep, Bool),
    ],
};

pub(super) static CONFIG_MAP_NODE_CONFIG_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.ConfigMapNodeConfigSource",
    fields: &[
        field(1, "namespace", Keep, Str),
        field(2, "name", Keep, Str),
        field(3, "uid", OmitEmpty, Str),
        field(4, "resourceVersion", OmitEmpty, Str),
        field(5, "kubeletConfigKey", Keep, Str),
    ],
};

pub(super) static CONTAINER_IMAGE: Message = Message {
    name: "k8s.io.api.core.v1.ContainerImage",
    fields: &[
        field(1, "names", Repeated, Str),
        field(2, "sizeBytes", OmitEmpty, I64),
    ],
};

pub(super) static DAEMON_ENDPOINT: Message = Message {
    name: "k8s.io.api.core.v1.DaemonEndpoint",
    fields: &[
        field(1, "Port", Keep, I32),
    ],
};

pub(super) static ENDPOINT_ADDRESS: Message = Message {
    name: "k8s.io.api.core.v1.EndpointAddress",
    fields: &[
        field(1, "ip", Keep, Str),
        field(2, "targetRef", Keep, Msg(&OBJECT_REFERENCE)),
        field(3, "hostname", OmitEmpty, Str),
        field(4, "nodeName", Keep, Str),
    ],
};

pub(super) static ENDPOINT_PORT: Message = Message {
    name: "k8s.io.api.core.v1.EndpointPort",
    fields: &[
        field(1, "name", OmitEmpty, Str),
        field(2, "port", Keep, I32),
        field(3, "protocol", OmitEmpty, Str),
        field(4, "appProtocol", Keep, Str),
    ],
};

pub(super) static ENDPOINT_SUBSET: Message = Message {
    name: "k8s.io.api.core.v1.EndpointSubset",
    fields: &[
        field(1, "addresses", Repeated, Msg(&ENDPOINT_ADDRESS)),
        field(2, "notReadyAddresses", Repeated, Msg(&ENDPOINT_ADDRESS)),
        field(3, "ports", Repeated, Msg(&ENDPOINT_PORT)),
    ],
};

pub(super) static ENDPOINTS: Message = Message {
    name: "k8s.io.api.core.v1.Endpoints",
    fields: &[
        field(1, "metadata", Keep, Msg(&meta::OBJECT_META)),
        field(2, "subsets", Repeated, Msg(&ENDPOINT_SUBSET)),
    ],
};

pub(super) static EVENT: Message = Message {
    name: "k8s.io.api.core.v1.Event",
    fields: &[
        field(1, "metadata", Keep, Msg(&meta::OBJECT_META)),
        field(2, "involvedObject", Keep, Msg(&OBJECT_REFERENCE)),
        field(3, "reason", OmitEmpty, Str),
        field(4, "message", OmitEmpty, Str),
        field(5, "source", Keep, Msg(&EVENT_SOURCE)),
        field(6, "firstTimestamp", Keep, Time),
        field(7, "lastTimestamp", Keep, Time),
        field(8, "count", OmitEmpty, I32),
        field(9, "type", OmitEmpty, Str),
        field(10, "eventTime", Keep, MicroTime),
        field(11, "series", Keep, Msg(&EVENT_SERIES)),
        field(12, "action", OmitEmpty, Str),
        field(13, "related", Keep, Msg(&OBJECT_REFERENCE)),
        field(14, "reportingComponent", Keep, Str),
        field(15, "reportingInstance", Keep, Str),
    ],
};

pub(super) static EVENT_SERIES: Message = Message {
    name: "k8s.io.api.core.v1.EventSeries",
    fields: &[
        field(1, "count", OmitEmpty, I32),
        field(2, "lastObservedTime", Keep, MicroTime),
    ],
};

pub(super) static EVENT_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.EventSource",
    fields: &[
        field(1, "component", OmitEmpty, Str),
        field(2, "host", OmitEmpty, Str),
    ],
};

pub(super) static LOAD_BALANCER_INGRESS: Message = Message {
    name: "k8s.io.api.core.v1.LoadBalancerIngress",
    fields: &[
        field(1, "ip", OmitEmpty, Str),
        field(2, "hostname", OmitEmpty, Str),
        field(3, "ipMode", Keep, Str),
        field(4, "ports", Repeated, Msg(&PORT_STATUS)),
    ],
};

pub(super) static LOAD_BALANCER_STATUS: Message = Message {
    name: "k8s.io.api.core.v1.LoadBalancerStatus",
    fields: &[
        field(1, "ingress", Repeated, Msg(&LOAD_BALANCER_INGRESS)),
    ],
};

pub(super) static LOCAL_OBJECT_REFERENCE: Message = Message {
    name: "k8s.io.api.core.v1.LocalObjectReference",
    fields: &[
        field(1, "name", OmitEmpty, Str),
    ],
};

pub(super) static NAMESPACE: Message = Message {
    name: "k8s.io.api.core.v1.Namespace",
    fields: &[
        field(1, "metadata", Keep, Msg(&meta::OBJECT_META)),
        field(2, "spec", Keep, Msg(&NAMESPACE_SPEC)),
        field(3, "status", Keep, Msg(&NAMESPACE_STATUS)),
    ],
};

pub(super) static NAMESPACE_CONDITION: Message = Message {
    name: "k8s.io.api.core.v1.NamespaceCondition",
    fields: &[
        field(1, "type", Keep, Str),
        field(2, "status", Keep, Str),
        field(4, "lastTransitionTime", Keep, Time),
        field(5, "reason", OmitEmpty, Str),
        field(6, "message", OmitEmpty, Str),
    ],
};

pub(super) static NAMESPACE_SPEC: Message = Message {
    name: "k8s.io.api.core.v1.NamespaceSpec",
    fields: &[
        field(1, "finalizers", Repeated, Str),
    ],
};

pub(super) static NAMESPACE_STATUS: Message = Message {
    name: "k8s.io.api.core.v1.NamespaceStatus",
    fields: &[
        field(1, "phase", OmitEmpty, Str),
        field(2, "conditions", Repeated, Msg(&NAMESPACE_CONDITION)),
    ],
};

pub(super) static NODE: Message = Message {
    name: "k8s.io.api.core.v1.Node",
    fields: &[
        field(1, "metadata", Keep, Msg(&meta::OBJECT_META)),
        field(2, "spec", Keep, Msg(&NODE_SPEC)),
        field(3, "status", Keep, Msg(&NODE_STATUS)),
    ],
};

pub(super) static NODE_ADDRESS: Message = Message {
    name: "k8s.io.api.core.v1.NodeAddress",
    fields: &[
        field(1, "type", Keep, Str),
        field(2, "address", Keep, Str),
    ],
};

pub(super) static NODE_CONDITION: Message = Message {
    name: "k8s.io.api.core.v1.NodeCondition",
    fields: &[
        field(1, "type", Keep, Str),
        field(2, "status", Keep, Str),
        field(3, "lastHeartbeatTime", Keep, Time),
        field(4, "lastTransitionTime", Keep, Time),
        field(5, "reason", OmitEmpty, Str),
        field(6, "message", OmitEmpty, Str),
    ],
};

pub(super) static NODE_CONFIG_SOURCE: Message = Message {
    name: "k8s.io.api.core.v1.NodeConfigSource",
    fields: &[
        field(2, "configMap", Keep, Msg(&CONFIG_MAP_NODE_CONFIG_SOURCE)),
    ],
};

pub(super) static NODE_CONFIG_STATUS: Message = Message {
    name: "k8s.io.api.core.v1.NodeConfigStatus",
    fields: &[
        field(1, "assigned", Keep, Msg(&NODE_CONFIG_SOURCE)),
        field(2, "active", Keep, Msg(&NODE_CONFIG_SOURCE)),
        field(3, "lastKnownGood", Keep, Msg(&NODE_CONFIG_SOURCE)),
        field(4, "error", OmitEmpty, Str),
    ],
};

pub(super) static NODE_DAEMON_ENDPOINTS: Message = Message {
    name: "k8s.io.api.core.v1.NodeDaemonEndpoints",
    fields: &[
        field(1, "kubeletEndpoint", Keep, Msg(&DAEMON_ENDPOINT)),
    ],
};

pub(super) static NODE_FEATURES: Message = Message {
    name: "k8s.io.api.core.v1.NodeFeatures",
    fields: &[
        field(1, "supplementalGroupsPolicy", Keep, Bool),
    ],
};

pub(super) static NODE_RUNTIME_HANDLER: Message = Message {
    name: "k8s.io.api.core.v1.NodeRuntimeHandler",
    fields: &[
        field(1, "name", Keep, Str),
        field(2, "features", Keep, Msg(&NODE_RUNTIME_HANDLER_FEATURES)),
    ],
};

pub(super) static NODE_RUNTIME_HANDLER_FEATURES: Message = Message {
    name: "k8s.io.api.core.v1.NodeRuntimeHandlerFeatures",
    fields: &[
        field(1, "recursiveReadOnlyMounts", Keep, Bool),
        field(2, "userNamespaces", Keep, Bool),
    ],
};

pub(super) static NODE_SELECTOR: Message = Message {
    name: "k8s.io.api.core.v1.NodeSelector",
    fields: &[
        field(1, "nodeSelectorTerms", Repeated, Msg(&NODE_SELECTOR_TERM)),
    ],
};

pub(super) static NODE_SELECTOR_REQUIREMENT: Message = Message {
    name: "k8s.io.api.core.v1.NodeSelectorRequirement",
    fields: &[
        field(1, "key", Keep, Str),
        field(2, "operator", Keep, Str),
        field(3, "values", Repeated, Str),
    ],
};

pub(super) static NODE_SELECTOR_TERM: Message = Message {
    name: "k8s.io.api.core.v1.NodeSelectorTerm",
    fields: &[
        field(1, "matchExpressions", Repeated, Msg(&NODE_SELECTOR_REQUIREMENT)),
        field(2, "matchFields", Repeated, Msg(&NODE_SELECTOR_REQUIREMENT)),
    ],
};

pub(super) static NODE_SPEC: Message = Message {
    name: "k8s.io.api.core.v1.NodeSpec",
    fields: &[
        field(1, "podCIDR", OmitEmpty, Str),
        field(2, "externalID", OmitEmpty, Str),
        field(3, "providerID", OmitEmpty, Str),
        field(4, "unschedulable", OmitEmpty, Bool),
        field(5, "taints", Repeated, Msg(&TAINT)),
        field(6, "configSource", Keep, Msg(&NODE_CONFIG_SOURCE)),
        field(7, "podCIDRs", Repeated, Str),
    ],
};

pub(super) static NODE_STATUS: Message = Message {
    name: "k8s.io.api.core.v1.NodeStatus",
    fields: &[
        field(1, "capacity", Map, Quantity),
        field(2, "allocatable", Map, Quantity),
        field(3, "phase", OmitEmpty, Str),
        field(4, "conditions", Repeated, Msg(&NODE_CONDITION)),
        field(5, "addresses", Repeated, Msg(&NODE_ADDRESS)),
        field(6, "daemonEndpoints", Keep, Msg(&NODE_DAEMON_ENDPOINTS)),
        field(7, "nodeInfo", Keep, Msg(&NODE_SYSTEM_INFO)),
        field(8, "images", Repeated, Msg(&CONTAINER_IMAGE)),
        field(9, "volumesInUse", Repeated, Str),
        field(10, "volumesAttached", Repeated, Msg(&ATTACHED_VOLUME)),
        field(11, "config", Keep, Msg(&NODE_CONFIG_STATUS)),
        field(12, "runtimeHandlers", Repeated, Msg(&NODE_RUNTIME_HANDLER)),
        field(13, "features", Keep, Msg(&NODE_FEATURES)),
        field(14, "declaredFeatures", Repeated, Str),
    ],
};

pub(super) static NODE_SWAP_STATUS: Message = Message {
    name: "k8s.io.api.core.v1.NodeSwapStatus",
    fields: &[
        field(1, "capacity", Keep, I64),
    ],
};

pub(super) static NODE_SYSTEM_INFO: Message = Message {
    name: "k8s.io.api.core.v1.NodeSystemInfo",
    fields: &[
        field(1, "machineID", Keep, Str),
        field(2, "systemUUID", Keep, Str),
        field(3, "bootID", Keep, Str),
        field(4, "kernelVersion", Keep, Str),
        field(5, "osImage", Keep, Str),
        field(6, "containerRuntimeVersion", Keep, Str),
        field(7, "kubeletVersion", Keep, Str),
        field(8, "kubeProxyVersion", Keep, Str),
        field(9, "operatingSystem", Keep, Str),
        field(10, "architecture", Keep, Str),
        field(11, "swap", Keep, Msg(&NODE_SWAP_STATUS)),
    ],
};

pub(super) static OBJECT_REFERENCE: Message = Message {
    name: "k8s.io.api.core.v1.ObjectReference",
    fields: &[
        field(1, "kind", OmitEmpty, Str),
        field(2, "namespace", OmitEmpty, Str),
        field(3, "name", OmitEmpty, Str),
        field(4, "uid", OmitEmpty, Str),
        field(5, "apiVersion", OmitEmpty, Str),
        field(6, "resourceVersion", OmitEmpty, Str),
        field(7, "fieldPath", OmitEmpty, Str),
    ],
};

pub(super) static PORT_STATUS: Message = Message {
    name: "k8s.io.api.core.v1.PortStatus",
    fields: &[
        field(1, "port", Keep, I32),
        field(2, "protocol", Keep, Str),
        field(3, "error", Keep, Str),
    ],
};

pub(super) static RESOURCE_CLAIM: Message = Message {
    name: "k8s.io.api.core.v1.ResourceClaim",
    fields: &[
        field(1, "name", Keep, Str),
        field(2, "request", OmitEmpty, Str),
    ],
};

pub(super) static RESOURCE_REQUIREMENTS: Message = Message {
    name: "k8s.io.api.core.v1.ResourceRequirements",
    fields: &[
        field(1, "limits", Map, Quantity),
        field(2, "requests", Map, Quantity),
        field(3, "claims", Repeated, Msg(&RESOURCE_CLAIM)),
    ],
};

pub(super) static SECRET: Message = Message {
    name: "k8s.io.api.core.v1.Secret",
    fields: &[
        field(1, "metadata", Keep, Msg(&meta::OBJECT_META)),
        field(2, "data", Map, Bytes),
        field(3, "type", OmitEmpty, Str),
        field(4, "stringData", Map, Str),
        field(5, "immutable", Keep, Bool),
    ],
};

pub(super) static SECRET_REFERENCE: Message = Message {
    name: "k8s.io.api.core.v1.SecretReference",
    fields: &[
        field(1, "name", OmitEmpty, Str),
        field(2, "namespace", OmitEmpty, Str),
    ],
};

pub(super) static SERVICE: Message = Message {
    name: "k8s.io.api.core.v1.Service",
    fields: &[
        field(1, "metadata", Keep, Msg(&meta::OBJECT_META)),
        field(2, "spec", Keep, Msg(&SERVICE_SPEC)),
        field(3, "status", Keep, Msg(&SERVICE_STATUS)),
    ],
};

pub(super) static SERVICE_PORT: Message = Message {
    name: "k8s.io.api.core.v1.ServicePort",
    fields: &[
        field(1, "name", OmitEmpty, Str),
        field(2, "protocol", OmitEmpty, Str),
        field(3, "port", Keep, I32),
        field(4, "targetPort", Keep, IntOrString),
        field(5, "nodePort", OmitEmpty, I32),
        field(6, "appProtocol", Keep, Str),
    ],
};

pub(super) static SERVICE_SPEC: Message = Message {
    name: "k8s.io.api.core.v1.ServiceSpec",
    fields: &[
        field(1, "ports", Repeated, Msg(&SERVICE_PORT)),
        field(2, "selector", Map, Str),
        field(3, "clusterIP", OmitEmpty, Str),
        field(4, "type", OmitEmpty, Str),
        field(5, "externalIPs", Repeated, Str),
        field(7, "sessionAffinity", OmitEmpty, Str),
        field(8, "loadBalancerIP", OmitEmpty, Str),
        field(9, "loadBalancerSourceRanges", Repeated, Str),
        field(10, "externalName", OmitEmpty, Str),
        field(11, "externalTrafficPolicy", OmitEmpty, Str),
        field(12, "healthCheckNodePort", OmitEmpty, I32),
        field(13, "publishNotReadyAddresses", OmitEmpty, Bool),
        field(14, "sessionAffinityConfig", Keep, Msg(&SESSION_AFFINITY_CONFIG)),
        field(17, "ipFamilyPolicy", Keep, Str),
        field(18, "clusterIPs", Repeated, Str),
        field(19, "ipFamilies", Repeated, Str),
        field(20, "allocateLoadBalancerNodePorts", Keep, Bool),
        field(21, "loadBalancerClass", Keep, Str),
        field(22, "internalTrafficPolicy", Keep, Str),
        field(23, "trafficDistribution", Keep, Str),
    ],
};

pub(super) static SERVICE_STATUS: Message = Message {
    name: "k8s.io.api.core.v1.ServiceStatus",
    fields: &[
        field(1, "loadBalancer", Keep, Msg(&LOAD_BALANCER_STATUS)),
        field(2, "conditions", Repeated, Msg(&meta::CONDITION)),
    ],
};

pub(super) static SESSION_AFFINITY_CONFIG: Message = Message {
    name: "k8s.io.api.core.v1.SessionAffinityConfig",
    fields: &[
        field(1, "clientIP", Keep, Msg(&CLIENT_IP_CONFIG)),
    ],
};

pub(super) static TAINT: Message = Message {
    name: "k8s.io.api.core.v1.Taint",
    fields: &[
        field(1, "key", Keep, Str),
        field(2, "value", OmitEmpty, Str),
        field(3, "effect", Keep, Str),
        field(4, "timeAdded", Keep, Time),
    ],
};

pub(super) static TOPOLOGY_SELECTOR_LABEL_REQUIREMENT: Message = Message {
    name: "k8s.io.api.core.v1.TopologySelectorLabelRequirement",
    fields: &[
        field(1, "key", Keep, Str),
        field(2, "values", Repeated, Str),
    ],
};

pub(super) static TOPOLOGY_SELECTOR_TERM: Message = Message {
    name: "k8s.io.api.core.v1.TopologySelectorTerm",
    fields: &[
        field(1, "matchLabelExpressions", Repeated, Msg(&TOPOLOGY_SELECTOR_LABEL_REQUIREMENT)),
    ],
};

pub(super) static TYPED_LOCAL_OBJECT_REFERENCE: Message = Message {
    name: "k8s.io.api.core.v1.TypedLocalObjectReference",
    fields: &[
        field(1, "apiGroup", Keep, Str),
        field(2, "kind", Keep, Str),
        field(3, "name", Keep, Str),
    ],
};

pub(super) static TYPED_OBJECT_REFERENCE: Message = Message {
    name: "k8s.io.api.core.v1.TypedObjectReference",
    fields: &[
        field(1, "apiGroup", Keep, Str),
        field(2, "kind", Keep, Str),
        field(3, "name", Keep, Str),
        field(4, "namespace", Keep, Str),
    ],
};

pub(super) static VOLUME_RESOURCE_REQUIREMENTS: Message = Message {
    name: "k8s.io.api.core.v1.VolumeResourceRequirements",
    fields: &[
        field(1, "limits", Map, Quantity),
        field(2, "requests", Map, Quantity),
    ],
};

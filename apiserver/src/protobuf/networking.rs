//! Field tables for networking.k8s.io/v1 ingresses and ingress classes.

use super::{core_objects, meta};
use super::schema::{field, Card::*, Message, Type::*};

pub(super) static HTTP_INGRESS_PATH: Message = Message {
    name: "k8s.io.api.networking.v1.HTTPIngressPath",
    fields: &[
        field(1, "path", OmitEmpty, Str),
        field(2, "backend", Keep, Msg(&INGRESS_BACKEND)),
        field(3, "pathType", Keep, Str),
    ],
};

pub(super) static HTTP_INGRESS_RULE_VALUE: Message = Message {
    name: "k8s.io.api.networking.v1.HTTPIngressRuleValue",
    fields: &[
        field(1, "paths", Repeated, Msg(&HTTP_INGRESS_PATH)),
    ],
};

pub(super) static INGRESS: Message = Message {
    name: "k8s.io.api.networking.v1.Ingress",
    fields: &[
        field(1, "metadata", Keep, Msg(&meta::OBJECT_META)),
        field(2, "spec", Keep, Msg(&INGRESS_SPEC)),
        field(3, "status", Keep, Msg(&INGRESS_STATUS)),
    ],
};

pub(super) static INGRESS_BACKEND: Message = Message {
    name: "k8s.io.api.networking.v1.IngressBackend",
    fields: &[
        field(3, "resource", Keep, Msg(&core_objects::TYPED_LOCAL_OBJECT_REFERENCE)),
        field(4, "service", Keep, Msg(&INGRESS_SERVICE_BACKEND)),
    ],
};

pub(super) static INGRESS_CLASS: Message = Message {
    name: "k8s.io.api.networking.v1.IngressClass",
    fields: &[
        field(1, "metadata", Keep, Msg(&meta::OBJECT_META)),
        field(2, "spec", Keep, Msg(&INGRESS_CLASS_SPEC)),
    ],
};

pub(super) static INGRESS_CLASS_PARAMETERS_REFERENCE: Message = Message {
    name: "k8s.io.api.networking.v1.IngressClassParametersReference",
    fields: &[
        field(1, "apiGroup", Keep, Str),
        field(2, "kind", Keep, Str),
        field(3, "name", Keep, Str),
        field(4, "scope", Keep, Str),
        field(5, "namespace", Keep, Str),
    ],
};

pub(super) static INGRESS_CLASS_SPEC: Message = Message {
    name: "k8s.io.api.networking.v1.IngressClassSpec",
    fields: &[
        field(1, "controller", OmitEmpty, Str),
        field(2, "parameters", Keep, Msg(&INGRESS_CLASS_PARAMETERS_REFERENCE)),
    ],
};

pub(super) static INGRESS_LOAD_BALANCER_INGRESS: Message = Message {
    name: "k8s.io.api.networking.v1.IngressLoadBalancerIngress",
    fields: &[
        field(1, "ip", OmitEmpty, Str),
        field(2, "hostname", OmitEmpty, Str),
        field(4, "ports", Repeated, Msg(&INGRESS_PORT_STATUS)),
    ],
};

pub(super) static INGRESS_LOAD_BALANCER_STATUS: Message = Message {
    name: "k8s.io.api.networking.v1.IngressLoadBalancerStatus",
    fields: &[
        field(1, "ingress", Repeated, Msg(&INGRESS_LOAD_BALANCER_INGRESS)),
    ],
};

pub(super) static INGRESS_PORT_STATUS: Message = Message {
    name: "k8s.io.api.networking.v1.IngressPortStatus",
    fields: &[
        field(1, "port", Keep, I32),
        field(2, "protocol", Keep, Str),
        field(3, "error", Keep, Str),
    ],
};

pub(super) static INGRESS_RULE: Message = Message {
    name: "k8s.io.api.networking.v1.IngressRule",
    fields: &[
        field(1, "host", OmitEmpty, Str),
        field(2, "", Inline, Msg(&INGRESS_RULE_VALUE)),
    ],
};

pub(super) static INGRESS_RULE_VALUE: Message = Message {
    name: "k8s.io.api.networking.v1.IngressRuleValue",
    fields: &[
        field(1, "http", Keep, Msg(&HTTP_INGRESS_RULE_VALUE)),
    ],
};

pub(super) static INGRESS_SERVICE_BACKEND: Message = Message {
    name: "k8s.io.api.networking.v1.IngressServiceBackend",
    fields: &[
        field(1, "name", Keep, Str),
        field(2, "port", Keep, Msg(&SERVICE_BACKEND_PORT)),
    ],
};

pub(super) static INGRESS_SPEC: Message = Message {
    name: "k8s.io.api.networking.v1.IngressSpec",
    fields: &[
        field(1, "defaultBackend", Keep, Msg(&INGRESS_BACKEND)),
        field(2, "tls", Repeated, Msg(&INGRESS_TLS)),
        field(3, "rules", Repeated, Msg(&INGRESS_RULE)),
        field(4, "ingressClassName", Keep, Str),
    ],
};

pub(super) static INGRESS_STATUS: Message = Message {
    name: "k8s.io.api.networking.v1.IngressStatus",
    fields: &[
        field(1, "loadBalancer", Keep, Msg(&INGRESS_LOAD_BALANCER_STATUS)),
    ],
};

pub(super) static INGRESS_TLS: Message = Message {
    name: "k8s.io.api.networking.v1.IngressTLS",
    fields: &[
        field(1, "hosts", Repeated, Str),
        field(2, "secretName", OmitEmpty, Str),
    ],
};

pub(super) static SERVICE_BACKEND_PORT: Message = Message {
    name: "k8s.io.api.networking.v1.ServiceBackendPort",
    fields: &[
        field(1, "name", OmitEmpty, Str),
        field(2, "number", OmitEmpty, I32),
    ],
};

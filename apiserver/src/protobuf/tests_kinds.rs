//! Every field of every table, checked against k8s-openapi: a body that
//! sets all fields decodes, deserializes into the k8s-openapi type and
//! serializes back unchanged, so a wrong JSON name or type shows up.

use std::collections::BTreeSet;

use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;

use super::schema::{Card, Message, Type};
use super::tests::{body, Enc};
use super::{decode, message_for, KINDS};

/// Fields newer than the Kubernetes 1.33 types of k8s-openapi, which
/// would drop them; their names come from Kubernetes 1.35's Go types.
const NEWER: &[(&str, &str)] = &[
    ("Container", "restartPolicyRules"),
    ("ContainerExtendedResourceRequest", "containerName"),
    ("ContainerExtendedResourceRequest", "requestName"),
    ("ContainerExtendedResourceRequest", "resourceName"),
    ("ContainerRestartRule", "action"),
    ("ContainerRestartRule", "exitCodes"),
    ("ContainerRestartRuleOnExitCodes", "operator"),
    ("ContainerRestartRuleOnExitCodes", "values"),
    ("EnvVarSource", "fileKeyRef"),
    ("EphemeralContainerCommon", "restartPolicyRules"),
    ("FileKeySelector", "key"),
    ("FileKeySelector", "optional"),
    ("FileKeySelector", "path"),
    ("FileKeySelector", "volumeName"),
    ("NodeStatus", "declaredFeatures"),
    ("PodCertificateProjection", "certificateChainPath"),
    ("PodCertificateProjection", "credentialBundlePath"),
    ("PodCertificateProjection", "keyPath"),
    ("PodCertificateProjection", "keyType"),
    ("PodCertificateProjection", "maxExpirationSeconds"),
    ("PodCertificateProjection", "signerName"),
    ("PodCertificateProjection", "userAnnotations"),
    ("PodExtendedResourceClaimStatus", "requestMappings"),
    ("PodExtendedResourceClaimStatus", "resourceClaimName"),
    ("PodSpec", "hostnameOverride"),
    ("PodSpec", "workloadRef"),
    ("PodStatus", "allocatedResources"),
    ("PodStatus", "extendedResourceClaimStatus"),
    ("PodStatus", "resources"),
    ("VolumeProjection", "podCertificate"),
    ("WorkloadReference", "name"),
    ("WorkloadReference", "podGroup"),
    ("WorkloadReference", "podGroupReplicaKey"),
];

fn is_newer(msg: &Message, json: &str) -> bool {
    let short = msg.name.rsplit('.').next().unwrap_or(msg.name);
    NEWER.contains(&(short, json))
}

/// One sample value of `ty` as field `number`.
fn put(e: Enc, number: u32, ty: Type, newer: bool, seen: &mut BTreeSet<&'static str>) -> Enc {
    match ty {
        Type::Str => e.str(number, "v"),
        Type::Bytes => e.bytes(number, b"\x00\xffdata"),
        Type::Bool => e.uint(number, 1),
        Type::I32 => e.int(number, -7),
        Type::I64 => e.int(number, 1_234_567_890_123),
        Type::Msg(inner) => e.msg(number, sample(inner, newer, seen)),
        Type::Time => e.msg(number, Enc::new().int(1, 1_704_164_645)),
        Type::MicroTime => e.msg(number, Enc::new().int(1, 1_704_164_645).int(2, 123_456_789)),
        Type::Duration => e.msg(number, Enc::new().int(1, 90_000_000_000)),
        Type::IntOrString => e.msg(number, Enc::new().uint(1, 1).str(3, "http")),
        Type::Quantity => e.msg(number, Enc::new().str(1, "250m")),
        Type::RawExtension | Type::FieldsV1 => e.msg(
            number,
            Enc::new().bytes(1, br#"{"f:metadata":{"f:name":{}}}"#),
        ),
    }
}

/// A message with every field set (newer ones only when `newer`).
fn sample(msg: &'static Message, newer: bool, seen: &mut BTreeSet<&'static str>) -> Enc {
    seen.insert(msg.name);
    let mut e = Enc::new();
    for f in msg.fields {
        if !newer && is_newer(msg, f.json) {
            continue;
        }
        e = match f.card {
            Card::Map => e.msg(
                f.number,
                put(Enc::new().str(1, "key"), 2, f.ty, newer, seen),
            ),
            _ => put(e, f.number, f.ty, newer, seen),
        };
    }
    e
}

/// The first path where `a` and `b` differ.
fn diff(a: &Value, b: &Value, path: String) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.keys()
                .chain(y.keys())
                .find_map(|k| match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => diff(p, q, format!("{path}.{k}")),
                    (p, q) => Some(format!("{path}.{k}: {p:?} vs {q:?}")),
                })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| diff(p, q, format!("{path}[{i}]"))),
        _ => (a != b).then(|| format!("{path}: {a} vs {b}")),
    }
}

/// Decodes a full sample of `kind` and round-trips it through `T`.
fn check<T: DeserializeOwned + Serialize>(
    api_version: &str,
    kind: &str,
    seen: &mut BTreeSet<&'static str>,
) {
    let msg = message_for(api_version, kind).expect("kind is accepted");
    let decoded = decode(&body(api_version, kind, sample(msg, false, seen)))
        .unwrap_or_else(|e| panic!("{api_version} {kind}: {e}"));
    let typed: T = serde_json::from_value(decoded.clone())
        .unwrap_or_else(|e| panic!("{api_version} {kind} does not deserialize: {e}"));
    let again = serde_json::to_value(typed).expect("serializes");
    if let Some(d) = diff(&decoded, &again, String::new()) {
        panic!("{api_version} {kind} changes in k8s-openapi at {d}");
    }
}

#[test]
fn every_field_round_trips_through_k8s_openapi() {
    use k8s_openapi::api::{apps, autoscaling, coordination, core, discovery, networking, storage};
    use k8s_openapi::apimachinery::pkg::apis::meta;
    let seen = &mut BTreeSet::new();
    check::<core::v1::Binding>("v1", "Binding", seen);
    check::<core::v1::ConfigMap>("v1", "ConfigMap", seen);
    check::<core::v1::Endpoints>("v1", "Endpoints", seen);
    check::<core::v1::Event>("v1", "Event", seen);
    check::<core::v1::Namespace>("v1", "Namespace", seen);
    check::<core::v1::Node>("v1", "Node", seen);
    check::<core::v1::PersistentVolume>("v1", "PersistentVolume", seen);
    check::<core::v1::PersistentVolumeClaim>("v1", "PersistentVolumeClaim", seen);
    check::<core::v1::Pod>("v1", "Pod", seen);
    check::<core::v1::Secret>("v1", "Secret", seen);
    check::<core::v1::Service>("v1", "Service", seen);
    check::<apps::v1::Deployment>("apps/v1", "Deployment", seen);
    check::<apps::v1::ReplicaSet>("apps/v1", "ReplicaSet", seen);
    check::<autoscaling::v1::HorizontalPodAutoscaler>(
        "autoscaling/v1",
        "HorizontalPodAutoscaler",
        seen,
    );
    check::<autoscaling::v1::Scale>("autoscaling/v1", "Scale", seen);
    check::<autoscaling::v2::HorizontalPodAutoscaler>(
        "autoscaling/v2",
        "HorizontalPodAutoscaler",
        seen,
    );
    check::<coordination::v1::Lease>("coordination.k8s.io/v1", "Lease", seen);
    check::<discovery::v1::EndpointSlice>("discovery.k8s.io/v1", "EndpointSlice", seen);
    check::<networking::v1::Ingress>("networking.k8s.io/v1", "Ingress", seen);
    check::<networking::v1::IngressClass>("networking.k8s.io/v1", "IngressClass", seen);
    check::<storage::v1::StorageClass>("storage.k8s.io/v1", "StorageClass", seen);
    check::<meta::v1::DeleteOptions>("meta.k8s.io/v1", "DeleteOptions", seen);
    // Every table but the seven messages only newer fields reach.
    assert_eq!(seen.len(), MESSAGES - 7, "{seen:#?}");
    assert_eq!(KINDS.len(), 21);
}

/// How many message tables there are.
const MESSAGES: usize = 266;

#[test]
fn newer_fields_decode() {
    let seen = &mut BTreeSet::new();
    let delete = (
        "v1",
        "DeleteOptions",
        message_for("v1", "DeleteOptions").unwrap(),
    );
    for &(api_version, kind, msg) in KINDS.iter().chain([&delete]) {
        let decoded = decode(&body(api_version, kind, sample(msg, true, seen)))
            .unwrap_or_else(|e| panic!("{api_version} {kind}: {e}"));
        assert_eq!(decoded["kind"], kind);
    }
    assert_eq!(seen.len(), MESSAGES);
    let pod = decode(&body(
        "v1",
        "Pod",
        sample(message_for("v1", "Pod").unwrap(), true, seen),
    ))
    .unwrap();
    assert_eq!(pod["spec"]["hostnameOverride"], "v");
    assert_eq!(
        pod["spec"]["containers"][0]["env"][0]["valueFrom"]["fileKeyRef"]["volumeName"],
        "v"
    );
}

/// Truncated and corrupted copies of full samples of every kind decode
/// to a value or an error, never a panic.
#[test]
fn corrupted_samples_never_panic() {
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let seen = &mut BTreeSet::new();
    for (api_version, kind, msg) in KINDS {
        let full = body(api_version, kind, sample(msg, true, seen));
        for i in 0..200 {
            let _ = decode(&full[..full.len() * i / 200]);
        }
        for _ in 0..300 {
            let mut copy = full.clone();
            for _ in 0..1 + next() % 8 {
                let i = (next() as usize) % copy.len();
                copy[i] = next() as u8;
            }
            let _ = decode(&copy);
        }
    }
}

//! Request bodies in Kubernetes' protobuf encoding
//! (`application/vnd.kubernetes.protobuf`), turned into the JSON the
//! server stores.
//!
//! kubectl's typed commands (`create namespace`, `create deployment`,
//! `create configmap`, `create secret`, `create service`,
//! `create ingress`, `autoscale`) and client-go programs that prefer
//! protobuf send objects this way. [`decode`] produces the
//! [`serde_json::Value`] the same object has in Kubernetes' JSON encoding,
//! so the rest of the server handles it as if it had come as JSON.
//!
//! A body is the magic `k8s\0` followed by a `runtime.Unknown` message
//! whose `raw` field holds the object's message from Kubernetes'
//! `generated.proto` files. Those messages carry field numbers, not
//! names, so each message is described by a hand-built table (one file
//! per API group): its field numbers, JSON names and types. The field
//! numbers follow Kubernetes 1.35's protobuf definitions; the JSON names
//! are those of the Go types' `json` tags, checked against k8s-openapi.
//!
//! The tables are built by hand because no maintained crate offers
//! Kubernetes protobuf-to-JSON without panicking or deadlocking on bad
//! input, and k8s-openapi, whose types the server uses, has no protobuf
//! support. The body is untrusted network input, so decoding never
//! panics, checks every length and bounds nesting.
//!
//! Go's marshaller writes every non-pointer field, even when zero, and a
//! pointer field only when set. The tables therefore record which fields
//! Go's JSON drops when zero (`omitempty` on a non-pointer field); every
//! other value is kept, so a pointer set to zero (`replicas: 0`) or an
//! empty message that means something (`emptyDir: {}`) survives.

// The field tables keep one field per line; rustfmt leaves them be.
#[rustfmt::skip]
mod apps;
#[rustfmt::skip]
mod autoscaling_v1;
#[rustfmt::skip]
mod autoscaling_v2;
#[rustfmt::skip]
mod coordination;
#[rustfmt::skip]
mod core_objects;
#[rustfmt::skip]
mod core_pod;
#[rustfmt::skip]
mod core_pod_status;
#[rustfmt::skip]
mod core_storage;
#[rustfmt::skip]
mod core_volume;
mod decode;
#[rustfmt::skip]
mod discovery;
#[rustfmt::skip]
mod meta;
#[rustfmt::skip]
mod networking;
pub mod schema;
#[rustfmt::skip]
mod storage;
mod wire;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_kinds;
#[cfg(test)]
mod tests_kubectl;

use serde_json::{Map, Value};

use schema::Message;
use wire::{Reader, Wire};

/// The four bytes every protobuf body starts with.
pub const MAGIC: [u8; 4] = *b"k8s\0";

/// The media type of Kubernetes' protobuf encoding.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// How deeply messages may nest; the deepest real object is far shallower.
const MAX_DEPTH: usize = 64;

/// Why a protobuf body was refused.
#[derive(Debug, thiserror::Error)]
pub enum ProtobufError {
    #[error("body does not start with the Kubernetes protobuf magic bytes \"k8s\\0\"")]
    BadMagic,
    #[error("malformed protobuf at byte {offset}: {reason}")]
    Malformed { offset: usize, reason: &'static str },
    #[error("{api_version} {kind} is not accepted as protobuf")]
    UnknownKind { api_version: String, kind: String },
    #[error("unknown field number {number} in message {message}")]
    UnknownField { number: u32, message: &'static str },
    #[error("unknown field number {number} in a map entry of {message}.{field}")]
    UnknownMapField {
        number: u32,
        message: &'static str,
        field: &'static str,
    },
    #[error("field {message}.{field} has wire type {found}, expected {expected}")]
    WireType {
        message: &'static str,
        field: &'static str,
        found: u8,
        expected: &'static str,
    },
    #[error("field {message}.{field} is not valid UTF-8")]
    Utf8 {
        message: &'static str,
        field: &'static str,
    },
    #[error("field {message}.{field} holds invalid embedded JSON: {source}")]
    EmbeddedJson {
        message: &'static str,
        field: &'static str,
        source: serde_json::Error,
    },
    #[error("field {message}.{field}: {reason}")]
    Invalid {
        message: &'static str,
        field: &'static str,
        reason: String,
    },
    #[error("content encoding {0:?} is not supported")]
    ContentEncoding(String),
    #[error("messages nest deeper than {MAX_DEPTH} levels")]
    TooDeep,
}

/// The kinds accepted, by apiVersion and kind. `DeleteOptions` is
/// accepted under any apiVersion, as Kubernetes registers it in every
/// group.
static KINDS: &[(&str, &str, &Message)] = &[
    ("v1", "Binding", &core_objects::BINDING),
    ("v1", "ConfigMap", &core_objects::CONFIG_MAP),
    ("v1", "Endpoints", &core_objects::ENDPOINTS),
    ("v1", "Event", &core_objects::EVENT),
    ("v1", "Namespace", &core_objects::NAMESPACE),
    ("v1", "Node", &core_objects::NODE),
    ("v1", "PersistentVolume", &core_storage::PERSISTENT_VOLUME),
    (
        "v1",
        "PersistentVolumeClaim",
        &core_storage::PERSISTENT_VOLUME_CLAIM,
    ),
    ("v1", "Pod", &core_pod_status::POD),
    ("v1", "Secret", &core_objects::SECRET),
    ("v1", "Service", &core_objects::SERVICE),
    ("apps/v1", "Deployment", &apps::DEPLOYMENT),
    ("apps/v1", "ReplicaSet", &apps::REPLICA_SET),
    (
        "autoscaling/v1",
        "HorizontalPodAutoscaler",
        &autoscaling_v1::HORIZONTAL_POD_AUTOSCALER,
    ),
    ("autoscaling/v1", "Scale", &autoscaling_v1::SCALE),
    (
        "autoscaling/v2",
        "HorizontalPodAutoscaler",
        &autoscaling_v2::HORIZONTAL_POD_AUTOSCALER,
    ),
    ("coordination.k8s.io/v1", "Lease", &coordination::LEASE),
    (
        "discovery.k8s.io/v1",
        "EndpointSlice",
        &discovery::ENDPOINT_SLICE,
    ),
    ("networking.k8s.io/v1", "Ingress", &networking::INGRESS),
    (
        "networking.k8s.io/v1",
        "IngressClass",
        &networking::INGRESS_CLASS,
    ),
    ("storage.k8s.io/v1", "StorageClass", &storage::STORAGE_CLASS),
];

/// The message of `kind` in `api_version`, if it is accepted.
fn message_for(api_version: &str, kind: &str) -> Option<&'static Message> {
    if kind == "DeleteOptions" {
        return Some(&meta::DELETE_OPTIONS);
    }
    KINDS
        .iter()
        .find(|(v, k, _)| *v == api_version && *k == kind)
        .map(|(_, _, m)| *m)
}

/// Whether [`decode`] accepts objects of `kind` in `api_version`.
pub fn accepts(api_version: &str, kind: &str) -> bool {
    message_for(api_version, kind).is_some()
}

/// Turns a protobuf request body into the object's JSON, with
/// `apiVersion` and `kind` set from the body's type metadata.
pub fn decode(body: &[u8]) -> Result<Value, ProtobufError> {
    decode_at(body, 0, 0)
}

/// [`decode`] of a body found `base` bytes into the request, `depth`
/// messages deep.
fn decode_at(body: &[u8], base: usize, depth: usize) -> Result<Value, ProtobufError> {
    let unknown = body.strip_prefix(&MAGIC).ok_or(ProtobufError::BadMagic)?;
    let envelope = Envelope::read(unknown, base.saturating_add(MAGIC.len()))?;
    if !envelope.content_encoding.is_empty() {
        return Err(ProtobufError::ContentEncoding(envelope.content_encoding));
    }
    let msg = message_for(&envelope.api_version, &envelope.kind).ok_or_else(|| {
        ProtobufError::UnknownKind {
            api_version: envelope.api_version.clone(),
            kind: envelope.kind.clone(),
        }
    })?;
    let mut object = Map::new();
    let (raw, offset) = envelope.raw;
    decode::message_into(msg, raw, offset, depth + 1, &mut object)?;
    object.insert("apiVersion".into(), Value::String(envelope.api_version));
    object.insert("kind".into(), Value::String(envelope.kind));
    Ok(Value::Object(object))
}

const UNKNOWN: &str = "k8s.io.apimachinery.pkg.runtime.Unknown";
const TYPE_META: &str = "k8s.io.apimachinery.pkg.runtime.TypeMeta";

/// `runtime.Unknown`: 1 typeMeta {1 apiVersion, 2 kind}, 2 raw,
/// 3 contentEncoding, 4 contentType.
struct Envelope<'a> {
    api_version: String,
    kind: String,
    raw: (&'a [u8], usize),
    content_encoding: String,
}

impl<'a> Envelope<'a> {
    fn read(data: &'a [u8], base: usize) -> Result<Self, ProtobufError> {
        let mut envelope = Envelope {
            api_version: String::new(),
            kind: String::new(),
            raw: (&[], base.saturating_add(data.len())),
            content_encoding: String::new(),
        };
        let mut reader = Reader::new(data, base);
        while let Some((number, wire)) = reader.next_field()? {
            match number {
                1 => {
                    let (bytes, offset) = length_delimited(UNKNOWN, "typeMeta", wire)?;
                    let mut meta = Reader::new(bytes, offset);
                    while let Some((number, wire)) = meta.next_field()? {
                        match number {
                            1 => envelope.api_version = text(TYPE_META, "apiVersion", wire)?,
                            2 => envelope.kind = text(TYPE_META, "kind", wire)?,
                            _ => {
                                return Err(ProtobufError::UnknownField {
                                    number,
                                    message: TYPE_META,
                                })
                            }
                        }
                    }
                }
                2 => envelope.raw = length_delimited(UNKNOWN, "raw", wire)?,
                3 => envelope.content_encoding = text(UNKNOWN, "contentEncoding", wire)?,
                // The content type of raw; only protobuf is ever sent.
                4 => {
                    text(UNKNOWN, "contentType", wire)?;
                }
                _ => {
                    return Err(ProtobufError::UnknownField {
                        number,
                        message: UNKNOWN,
                    })
                }
            }
        }
        Ok(envelope)
    }
}

fn length_delimited<'a>(
    message: &'static str,
    field: &'static str,
    wire: Wire<'a>,
) -> Result<(&'a [u8], usize), ProtobufError> {
    match wire {
        Wire::Bytes(bytes, offset) => Ok((bytes, offset)),
        other => Err(ProtobufError::WireType {
            message,
            field,
            found: other.wire_type(),
            expected: "length-delimited",
        }),
    }
}

fn text(
    message: &'static str,
    field: &'static str,
    wire: Wire<'_>,
) -> Result<String, ProtobufError> {
    let (bytes, _) = length_delimited(message, field, wire)?;
    String::from_utf8(bytes.to_vec()).map_err(|_| ProtobufError::Utf8 { message, field })
}

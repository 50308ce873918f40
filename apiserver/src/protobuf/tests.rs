use serde_json::{json, Map, Value};

use super::decode::{go_duration, message_into};
use super::schema::{field, Card::*, Message, Type::*};
use super::{decode, ProtobufError};

/// Builds protobuf bytes field by field.
#[derive(Clone, Default)]
pub(super) struct Enc(pub(super) Vec<u8>);

impl Enc {
    pub(super) fn new() -> Self {
        Enc(Vec::new())
    }

    fn raw_varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn key(&mut self, number: u32, wire_type: u8) {
        self.raw_varint(u64::from(number) << 3 | u64::from(wire_type));
    }

    pub(super) fn uint(mut self, number: u32, v: u64) -> Self {
        self.key(number, 0);
        self.raw_varint(v);
        self
    }

    pub(super) fn int(self, number: u32, v: i64) -> Self {
        self.uint(number, v as u64)
    }

    pub(super) fn bytes(mut self, number: u32, b: &[u8]) -> Self {
        self.key(number, 2);
        self.raw_varint(b.len() as u64);
        self.0.extend_from_slice(b);
        self
    }

    pub(super) fn str(self, number: u32, s: &str) -> Self {
        self.bytes(number, s.as_bytes())
    }

    pub(super) fn msg(self, number: u32, m: Enc) -> Self {
        self.bytes(number, &m.0)
    }

    /// A `map<string, string>` entry.
    pub(super) fn entry(self, number: u32, key: &str, value: &str) -> Self {
        self.msg(number, Enc::new().str(1, key).str(2, value))
    }
}

/// A whole request body: magic, then `runtime.Unknown` around `raw`.
pub(super) fn body(api_version: &str, kind: &str, raw: Enc) -> Vec<u8> {
    let type_meta = Enc::new().str(1, api_version).str(2, kind);
    let mut out = b"k8s\0".to_vec();
    out.extend(
        Enc::new()
            .msg(1, type_meta)
            .msg(2, raw)
            .str(3, "")
            .str(4, "")
            .0,
    );
    out
}

const NAMESPACE: &[u8] = b"k8s\x00\n\x0f\n\x02v1\x12\tNamespace\x12\x1b\n\x13\n\x03foo\x12\x00\x1a\x00\"\x00*\x002\x008\x00B\x00\x12\x00\x1a\x02\n\x00\x1a\x00\"\x00";

const DEPLOYMENT: &[u8] = b"k8s\x00\n\x15\n\x07apps/v1\x12\nDeployment\x12\xa3\x01\n\x1b\n\x01d\x12\x00\x1a\x00\"\x00*\x002\x008\x00B\x00Z\x08\n\x03app\x12\x01d\x12v\x08\x01\x12\n\n\x08\n\x03app\x12\x01d\x1a^\n\x1a\n\x00\x12\x00\x1a\x00\"\x00*\x002\x008\x00B\x00Z\x08\n\x03app\x12\x01d\x12@\x12\"\n\x05nginx\x12\x05nginx*\x00B\x00j\x00r\x00\x80\x01\x00\x88\x01\x00\x90\x01\x00\xa2\x01\x00\x1a\x002\x00B\x00J\x00R\x00X\x00`\x00h\x00\x82\x01\x00\x8a\x01\x00\x9a\x01\x00\xc2\x01\x00\"\x02\n\x00(\x008\x00\x1a\x0c\x08\x00\x10\x00\x18\x00 \x00(\x008\x00\x1a\x00\"\x00";

#[test]
fn kubectl_create_namespace() {
    // Empty strings, zero generation and the zero creationTimestamp are
    // left out as Go's JSON does; spec and status are non-pointer structs.
    assert_eq!(
        decode(NAMESPACE).unwrap(),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "foo"}, "spec": {}, "status": {}})
    );
}

#[test]
fn kubectl_create_deployment() {
    assert_eq!(
        decode(DEPLOYMENT).unwrap(),
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "d", "labels": {"app": "d"}},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "d"}},
                "template": {
                    "metadata": {"labels": {"app": "d"}},
                    "spec": {"containers": [{"name": "nginx", "image": "nginx", "resources": {}}]},
                },
                "strategy": {},
            },
            "status": {},
        })
    );
}

#[test]
fn secret_data_is_base64() {
    let raw = Enc::new()
        .msg(1, Enc::new().str(1, "creds").str(3, "default"))
        .msg(2, Enc::new().str(1, "password").bytes(2, b"s3cr\xffet"))
        .msg(2, Enc::new().str(1, "empty"))
        .str(3, "Opaque")
        .entry(4, "user", "admin")
        .uint(5, 0);
    assert_eq!(
        decode(&body("v1", "Secret", raw)).unwrap(),
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "creds", "namespace": "default"},
            "data": {"password": "czNjcv9ldA==", "empty": ""},
            "type": "Opaque",
            "stringData": {"user": "admin"},
            // A pointer: false was set and is kept.
            "immutable": false,
        })
    );
}

#[test]
fn service_target_port_int_or_string() {
    let port = |name: &str, target: Enc| {
        Enc::new()
            .str(1, name)
            .str(2, "TCP")
            .uint(3, 80)
            .msg(4, target)
            .uint(5, 0)
    };
    let spec = Enc::new()
        .msg(
            1,
            port("http", Enc::new().uint(1, 0).uint(2, 8080).str(3, "")),
        )
        .msg(
            1,
            port("web", Enc::new().uint(1, 1).uint(2, 0).str(3, "web")),
        )
        .entry(2, "app", "web")
        .str(3, "")
        .str(4, "ClusterIP")
        .uint(12, 0);
    let raw = Enc::new().msg(1, Enc::new().str(1, "web")).msg(2, spec);
    assert_eq!(
        decode(&body("v1", "Service", raw)).unwrap(),
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {
                "ports": [
                    {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080},
                    {"name": "web", "protocol": "TCP", "port": 80, "targetPort": "web"},
                ],
                "selector": {"app": "web"},
                "type": "ClusterIP",
            },
        })
    );
    let bad = Enc::new().msg(2, Enc::new().msg(1, port("x", Enc::new().uint(1, 2))));
    let err = decode(&body("v1", "Service", bad)).unwrap_err();
    assert!(
        matches!(
            err,
            ProtobufError::Invalid {
                field: "targetPort",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn pod_quantity_and_timestamps() {
    let quantity = |s: &str| Enc::new().str(1, s);
    let resources = Enc::new()
        .msg(1, Enc::new().str(1, "memory").msg(2, quantity("128Mi")))
        .msg(2, Enc::new().str(1, "cpu").msg(2, quantity("250m")))
        .msg(2, Enc::new().str(1, "zero"));
    let container = Enc::new().str(1, "app").str(2, "app:1").msg(8, resources);
    let meta = Enc::new()
        .str(1, "p")
        .msg(8, Enc::new().int(1, 1_704_164_645).int(2, 999))
        .msg(9, Enc::new());
    let spec = Enc::new()
        .msg(2, container)
        .int(4, 0)
        .int(5, -30)
        .msg(14, Enc::new());
    let raw = Enc::new().msg(1, meta).msg(2, spec);
    let pod = decode(&body("v1", "Pod", raw)).unwrap();
    assert_eq!(
        pod,
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            // Time keeps whole seconds; the empty deletionTimestamp is Go's
            // zero time, null in Go's JSON, so it is left out.
            "metadata": {"name": "p", "creationTimestamp": "2024-01-02T03:04:05Z"},
            "spec": {
                "containers": [{
                    "name": "app",
                    "image": "app:1",
                    "resources": {
                        "limits": {"memory": "128Mi"},
                        "requests": {"cpu": "250m", "zero": "0"},
                    },
                }],
                "terminationGracePeriodSeconds": 0,
                "activeDeadlineSeconds": -30,
                "securityContext": {},
            },
        })
    );
}

#[test]
fn repeated_fields_merge_and_accept_packed_numbers() {
    // supplementalGroups (repeated int64) unpacked then packed.
    let mut packed = Enc::new();
    packed.raw_varint(3);
    packed.raw_varint(4);
    let security = Enc::new().uint(4, 1).uint(4, 2).bytes(4, &packed.0);
    // A message field sent twice is merged.
    let raw = Enc::new()
        .msg(1, Enc::new().str(1, "p"))
        .msg(2, Enc::new().msg(14, security))
        .msg(1, Enc::new().entry(11, "a", "b"));
    let pod = decode(&body("v1", "Pod", raw)).unwrap();
    assert_eq!(pod["metadata"], json!({"name": "p", "labels": {"a": "b"}}));
    assert_eq!(
        pod["spec"]["securityContext"]["supplementalGroups"],
        json!([1, 2, 3, 4])
    );
}

#[test]
fn delete_options_under_any_group() {
    let raw = Enc::new()
        .int(1, 30)
        .msg(2, Enc::new().str(1, "uid-1").str(2, "42"))
        .str(4, "Foreground")
        .str(5, "All");
    for api_version in ["v1", "meta.k8s.io/v1", "apps/v1"] {
        assert_eq!(
            decode(&body(api_version, "DeleteOptions", raw.clone())).unwrap(),
            json!({
                "apiVersion": api_version,
                "kind": "DeleteOptions",
                "gracePeriodSeconds": 30,
                "preconditions": {"uid": "uid-1", "resourceVersion": "42"},
                "propagationPolicy": "Foreground",
                "dryRun": ["All"],
            })
        );
    }
}

#[test]
fn managed_fields_embed_json() {
    let entry = Enc::new()
        .str(1, "kubectl")
        .str(2, "Update")
        .str(6, "FieldsV1")
        .msg(7, Enc::new().bytes(1, br#"{"f:data":{".":{}}}"#));
    let raw = Enc::new().msg(1, Enc::new().str(1, "c").msg(17, entry));
    let cm = decode(&body("v1", "ConfigMap", raw)).unwrap();
    assert_eq!(
        cm["metadata"]["managedFields"],
        json!([{"manager": "kubectl", "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {".": {}}}}])
    );
}

/// A message exercising the types no served kind reaches, and nesting.
static SPECIALS: Message = Message {
    name: "test.Specials",
    fields: &[
        field(1, "duration", Keep, Duration),
        field(2, "raw", Keep, RawExtension),
        field(3, "micro", Keep, MicroTime),
        field(4, "nested", Keep, Msg(&SPECIALS)),
        field(5, "items", Repeated, Msg(&SPECIALS)),
    ],
};

fn specials(data: &Enc) -> Result<Value, ProtobufError> {
    let mut out = Map::new();
    message_into(&SPECIALS, &data.0, 0, 0, &mut out).map(|()| Value::Object(out))
}

#[test]
fn durations_raw_extensions_and_micro_times() {
    let nested = body("v1", "ConfigMap", Enc::new().entry(2, "k", "v"));
    let data = Enc::new()
        .msg(1, Enc::new().int(1, 3_723_500_000_000))
        .msg(2, Enc::new().bytes(1, br#"{"kind":"Thing","n":[1,2]}"#))
        .msg(3, Enc::new().int(1, 1_704_164_645).int(2, 123_456_789))
        .msg(
            4,
            Enc::new()
                .msg(2, Enc::new().bytes(1, &nested))
                .msg(2, Enc::new()),
        );
    assert_eq!(
        specials(&data).unwrap(),
        json!({
            "duration": "1h2m3.5s",
            "raw": {"kind": "Thing", "n": [1, 2]},
            "micro": "2024-01-02T03:04:05.123456Z",
            "nested": {},
        })
    );
    let data = Enc::new().msg(4, Enc::new().msg(2, Enc::new().bytes(1, &nested)));
    assert_eq!(
        specials(&data).unwrap()["nested"]["raw"],
        json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "v"}})
    );
    let bad = Enc::new().msg(2, Enc::new().bytes(1, b"{not json"));
    assert!(matches!(
        specials(&bad),
        Err(ProtobufError::EmbeddedJson { .. })
    ));
    let far = Enc::new().msg(3, Enc::new().int(1, i64::MAX));
    assert!(matches!(specials(&far), Err(ProtobufError::Invalid { .. })));
}

#[test]
fn go_duration_strings() {
    for (nanos, text) in [
        (0, "0s"),
        (1, "1ns"),
        (1_500, "1.5µs"),
        (2_000_000, "2ms"),
        (30_000_000_000, "30s"),
        (61_000_000_000, "1m1s"),
        (3_600_000_000_000, "1h0m0s"),
        (3_723_000_000_001, "1h2m3.000000001s"),
        (-90_000_000_000, "-1m30s"),
        (i64::MIN, "-2562047h47m16.854775808s"),
    ] {
        assert_eq!(go_duration(nanos), text);
    }
}

#[test]
fn hostile_nesting_is_refused() {
    let mut data = Enc::new();
    for _ in 0..2_000 {
        data = Enc::new().msg(4, data);
    }
    assert!(matches!(specials(&data), Err(ProtobufError::TooDeep)));
    let mut data = Enc::new();
    for _ in 0..100 {
        data = Enc::new().msg(5, data);
    }
    assert!(matches!(specials(&data), Err(ProtobufError::TooDeep)));
}

#[test]
fn malformed_bodies_are_errors() {
    assert!(matches!(decode(b""), Err(ProtobufError::BadMagic)));
    assert!(matches!(
        decode(b"{\"kind\":\"Pod\"}"),
        Err(ProtobufError::BadMagic)
    ));
    // A varint whose continuation bit runs off the end.
    assert!(matches!(
        decode(b"k8s\0\x0a\x80"),
        Err(ProtobufError::Malformed { offset: 5, .. })
    ));
    // A length past the end.
    assert!(matches!(
        decode(b"k8s\0\x12\x05ab"),
        Err(ProtobufError::Malformed { offset: 6, .. })
    ));
    assert!(matches!(
        decode(b"k8s\0\x12\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"),
        Err(ProtobufError::Malformed { .. })
    ));
    // Groups and field number zero.
    assert!(matches!(
        decode(b"k8s\0\x0b"),
        Err(ProtobufError::Malformed { .. })
    ));
    assert!(matches!(
        decode(b"k8s\0\x02\x00"),
        Err(ProtobufError::Malformed { .. })
    ));
    let err = decode(&body("apps/v1", "Foo", Enc::new())).unwrap_err();
    assert_eq!(err.to_string(), "apps/v1 Foo is not accepted as protobuf");
    let err = decode(&body("v1", "Namespace", Enc::new().str(99, "x"))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown field number 99 in message k8s.io.api.core.v1.Namespace"
    );
    let err = decode(&body("v1", "Namespace", Enc::new().uint(1, 5))).unwrap_err();
    assert!(
        matches!(
            err,
            ProtobufError::WireType {
                field: "metadata",
                found: 0,
                ..
            }
        ),
        "{err}"
    );
    let err = decode(&body(
        "v1",
        "Namespace",
        Enc::new().msg(1, Enc::new().bytes(1, b"\xff")),
    ))
    .unwrap_err();
    assert!(
        matches!(err, ProtobufError::Utf8 { field: "name", .. }),
        "{err}"
    );
    let mut gzip = b"k8s\0".to_vec();
    gzip.extend(Enc::new().str(3, "gzip").0);
    assert!(matches!(
        decode(&gzip),
        Err(ProtobufError::ContentEncoding(_))
    ));
}

/// Every prefix and many corrupted copies of the captured bodies decode
/// to a value or an error, never a panic.
#[test]
fn corrupted_bodies_never_panic() {
    for sample in [NAMESPACE, DEPLOYMENT] {
        for len in 0..sample.len() {
            let _ = decode(&sample[..len]);
        }
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let mut copy = sample.to_vec();
            for _ in 0..1 + next() % 4 {
                let i = (next() as usize) % copy.len();
                copy[i] = next() as u8;
            }
            let _ = decode(&copy);
        }
    }
}

//! The pod-template-hash: the name suffix and label that tie a ReplicaSet to one
//! version of a Deployment's pod template (Kubernetes' `ComputeHash` and
//! `EqualIgnoreHash`).
//!
//! Kubernetes hashes its Go struct dump, which no other program can reproduce; berth
//! hashes the template's JSON, which is canonical here (struct fields in schema order,
//! maps sorted, absent fields omitted). The hash only has to be stable within berth:
//! ReplicaSets are matched to templates by content, never by recomputing the hash.

use k8s_openapi::api::core::v1::PodTemplateSpec;
use serde_json::Value;

use super::util::POD_TEMPLATE_HASH_LABEL;

const FNV32_OFFSET: u32 = 0x811c_9dc5;
const FNV32_PRIME: u32 = 0x0100_0193;

/// Kubernetes' SafeEncodeString alphabet: no vowels (no words) and no look-alike
/// characters such as 0/o, 1/l.
const SAFE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

fn fnv32a(hash: u32, bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .fold(hash, |h, b| (h ^ u32::from(*b)).wrapping_mul(FNV32_PRIME))
}

/// Maps each character of `s` onto the safe alphabet (Kubernetes' `SafeEncodeString`).
pub fn safe_encode(s: &str) -> String {
    s.bytes()
        .map(|b| char::from(SAFE_ALPHABET[usize::from(b) % SAFE_ALPHABET.len()]))
        .collect()
}

/// The pod-template-hash of `template`: FNV-32a over its JSON, then, if the deployment
/// has had name collisions, over `collision_count` as a little-endian u32 padded to 8
/// bytes (as Kubernetes writes it), rendered in decimal through [`safe_encode`].
pub fn compute_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    // Serializing k8s-openapi types cannot fail: every map is keyed by strings.
    let json = serde_json::to_vec(template).unwrap_or_default();
    let mut hash = fnv32a(FNV32_OFFSET, &json);
    if let Some(count) = collision_count {
        let mut bytes = [0u8; 8];
        bytes[..4].copy_from_slice(&u32::from_ne_bytes(count.to_ne_bytes()).to_le_bytes());
        hash = fnv32a(hash, &bytes);
    }
    safe_encode(&hash.to_string())
}

/// Whether two templates are equal apart from the pod-template-hash label (Kubernetes'
/// `EqualIgnoreHash`). Like Kubernetes' semantic equality, an empty list or map equals
/// an absent one.
pub fn equal_ignore_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    normalized(a) == normalized(b)
}

fn normalized(template: &PodTemplateSpec) -> Value {
    let mut value = serde_json::to_value(template).unwrap_or(Value::Null);
    if let Some(labels) = value
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        labels.remove(POD_TEMPLATE_HASH_LABEL);
    }
    prune_empty(&mut value);
    value
}

/// Drops nulls, empty arrays and empty objects, bottom-up.
fn prune_empty(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for v in map.values_mut() {
                prune_empty(v);
            }
            map.retain(|_, v| !is_empty(v));
        }
        Value::Array(items) => items.iter_mut().for_each(prune_empty),
        _ => {}
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, PodSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use std::collections::BTreeMap;

    fn template(image: &str) -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(BTreeMap::from([("app".into(), "web".into())])),
                ..Default::default()
            }),
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "web".into(),
                    image: Some(image.into()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
        }
    }

    #[test]
    fn fnv32a_matches_reference_vectors() {
        assert_eq!(fnv32a(FNV32_OFFSET, b""), 0x811c_9dc5);
        assert_eq!(fnv32a(FNV32_OFFSET, b"a"), 0xe40c_292c);
        assert_eq!(fnv32a(FNV32_OFFSET, b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn safe_encoding_uses_only_the_safe_alphabet() {
        // '0' is byte 48: 48 % 27 = 21 → '4'; '9' is 57: 57 % 27 = 3 → 'f'.
        assert_eq!(safe_encode("09"), "4f");
    }

    #[test]
    fn hash_is_stable_and_follows_the_template() {
        let h = compute_hash(&template("web:1"), None);
        assert_eq!(h, compute_hash(&template("web:1"), None));
        assert_ne!(h, compute_hash(&template("web:2"), None));
        assert!(h.bytes().all(|b| SAFE_ALPHABET.contains(&b)));
        assert!(!h.is_empty() && h.len() <= 10);
    }

    #[test]
    fn collision_count_changes_the_hash() {
        let t = template("web:1");
        assert_ne!(compute_hash(&t, None), compute_hash(&t, Some(1)));
        assert_ne!(compute_hash(&t, Some(1)), compute_hash(&t, Some(2)));
    }

    #[test]
    fn templates_differing_only_in_the_hash_label_are_equal() {
        let plain = template("web:1");
        let mut hashed = plain.clone();
        if let Some(labels) = hashed.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
            labels.insert(POD_TEMPLATE_HASH_LABEL.into(), "abc".into());
        }
        assert!(equal_ignore_hash(&plain, &hashed));
        assert!(!equal_ignore_hash(&plain, &template("web:2")));
    }

    #[test]
    fn empty_and_absent_collections_are_equal() {
        let mut a = template("web:1");
        if let Some(spec) = a.spec.as_mut() {
            spec.volumes = Some(vec![]);
        }
        assert!(equal_ignore_hash(&a, &template("web:1")));
    }
}

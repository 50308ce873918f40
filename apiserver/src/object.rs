//! What the API server owns in every object's metadata: names, uid,
//! creation time, generation and resourceVersion.

use rand::Rng;
use serde_json::{json, Value};

use crate::defaults;
use crate::error::{ApiError, Result};
use crate::registry::Resource;
use crate::storage::{Item, PREFIX};

/// The storage key of an object.
pub fn key(resource: &Resource, namespace: Option<&str>, name: &str) -> Vec<u8> {
    let mut key = prefix(resource, namespace);
    key.extend_from_slice(name.as_bytes());
    key
}

/// The storage prefix of a resource's objects, in one namespace or all.
pub fn prefix(resource: &Resource, namespace: Option<&str>) -> Vec<u8> {
    match namespace {
        Some(ns) if resource.namespaced => format!("{PREFIX}{}/{ns}/", resource.plural),
        _ => format!("{PREFIX}{}/", resource.plural),
    }
    .into_bytes()
}

/// A stored object as clients see it: with its resourceVersion.
pub fn decode(item: &Item) -> Result<Value> {
    let mut value: Value = serde_json::from_slice(&item.value)
        .map_err(|e| ApiError::Store(format!("stored object is not JSON: {e}")))?;
    if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert(
            "resourceVersion".into(),
            Value::String(item.mod_revision.to_string()),
        );
    }
    Ok(value)
}

/// What is stored: the object without its resourceVersion (the key's mod
/// revision is the truth).
pub fn encode(value: &Value) -> Result<Vec<u8>> {
    let mut value = value.clone();
    if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("resourceVersion");
    }
    serde_json::to_vec(&value).map_err(|e| ApiError::Store(e.to_string()))
}

/// The name in an object's metadata.
pub fn name(value: &Value) -> Option<&str> {
    value.pointer("/metadata/name").and_then(Value::as_str)
}

/// The resourceVersion a client sent, if any.
pub fn resource_version(value: &Value) -> Option<&str> {
    value
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .filter(|rv| !rv.is_empty())
}

/// Checks the body is the resource's kind and fills in what the server
/// sets on creation.
pub fn prepare_create(
    resource: &Resource,
    namespace: Option<&str>,
    mut body: Value,
    validation: FieldValidation,
) -> Result<Prepared> {
    check_type(resource, &mut body)?;
    let meta = metadata_mut(&mut body)?;
    check_namespace(resource, namespace, meta)?;
    let name = match meta
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    {
        Some(name) => name.to_string(),
        None => match meta.get("generateName").and_then(Value::as_str) {
            Some(base) if !base.is_empty() => format!("{base}{}", random_suffix()),
            _ => {
                return Err(invalid(
                    resource,
                    "",
                    "metadata.name",
                    "Required value: name or generateName is required",
                ))
            }
        },
    };
    check_name(resource, &name)?;
    meta.insert("name".into(), json!(name));
    meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
    meta.insert("creationTimestamp".into(), json!(now()));
    meta.remove("resourceVersion");
    meta.remove("deletionTimestamp");
    if body.get("spec").is_some() {
        if let Some(meta) = body.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("generation".into(), json!(1));
        }
    }
    defaults::apply(resource.kind, &mut body);
    if let Some(status) = defaults::initial_status(resource.kind, &body) {
        if let Some(obj) = body.as_object_mut() {
            obj.insert("status".into(), status);
        }
    }
    typed_check(resource, body, None, validation)
}

/// Checks a replacement for `existing` and carries over what clients may
/// not change: uid, creation time; bumps generation when the spec changed.
pub fn prepare_update(
    resource: &Resource,
    namespace: Option<&str>,
    name: &str,
    body: Value,
    existing: &Value,
    validation: FieldValidation,
) -> Result<Prepared> {
    update(resource, namespace, name, body, existing, validation, true)
}

/// [`prepare_update`] for a subresource write (status, scale, binding),
/// which may change what the object's own updates may not
/// (`spec.nodeName` of a pod).
pub fn prepare_subresource_update(
    resource: &Resource,
    namespace: Option<&str>,
    name: &str,
    body: Value,
    existing: &Value,
) -> Result<Prepared> {
    update(
        resource,
        namespace,
        name,
        body,
        existing,
        FieldValidation::Ignore,
        false,
    )
}

fn update(
    resource: &Resource,
    namespace: Option<&str>,
    name: &str,
    mut body: Value,
    existing: &Value,
    validation: FieldValidation,
    immutable_fields: bool,
) -> Result<Prepared> {
    check_type(resource, &mut body)?;
    let meta = metadata_mut(&mut body)?;
    check_namespace(resource, namespace, meta)?;
    match meta.get("name").and_then(Value::as_str) {
        Some(n) if n == name => {}
        Some(n) => {
            return Err(ApiError::BadRequest(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )))
        }
        None => {
            meta.insert("name".into(), json!(name));
        }
    }
    for field in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
    ] {
        match existing.pointer(&format!("/metadata/{field}")) {
            Some(v) => {
                meta.insert(field.into(), v.clone());
            }
            None => {
                meta.remove(field);
            }
        }
    }
    defaults::apply(resource.kind, &mut body);
    if body.get("spec").is_some() && body.get("spec") != existing.get("spec") {
        let generation = existing
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if let Some(meta) = body.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("generation".into(), json!(generation + 1));
        }
    }
    let old = immutable_fields.then_some(existing);
    typed_check(resource, body, old, validation)
}

/// How a write treats fields its kind does not declare: the
/// `fieldValidation` parameter, `Warn` when absent as in Kubernetes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    /// Drop them silently.
    Ignore,
    /// Drop them and say so in `Warning` headers.
    Warn,
    /// Refuse the write.
    Strict,
}

impl FieldValidation {
    /// Parses the query parameter.
    pub fn parse(value: Option<&str>) -> Result<FieldValidation> {
        match value {
            None | Some("") | Some("Warn") => Ok(FieldValidation::Warn),
            Some("Ignore") => Ok(FieldValidation::Ignore),
            Some("Strict") => Ok(FieldValidation::Strict),
            Some(other) => Err(ApiError::BadRequest(format!(
                "fieldValidation parameter unsupported: {other:?}: supported values are Ignore, Warn, Strict"
            ))),
        }
    }
}

/// A body ready to store, and the warnings the response carries.
#[derive(Debug)]
pub struct Prepared {
    /// The object as it will be stored.
    pub value: Value,
    /// `Warning` header texts (unknown fields under `Warn`).
    pub warnings: Vec<String>,
}

/// Decodes the body as its kind: a wrong field type is refused, unknown
/// fields are handled as `validation` says; then validates it (against
/// `old` for fields that may not change).
fn typed_check(
    resource: &Resource,
    body: Value,
    old: Option<&Value>,
    validation: FieldValidation,
) -> Result<Prepared> {
    let cannot_handle = |detail: String| {
        ApiError::BadRequest(format!(
            "{kind} in version {version:?} cannot be handled as a {kind}: {detail}",
            kind = resource.kind,
            version = resource.version,
        ))
    };
    let typed = (resource.decode)(&body).map_err(cannot_handle)?;
    let unknown = match validation {
        FieldValidation::Ignore => Vec::new(),
        _ => crate::registry::unknown_fields(&body, &typed),
    };
    let texts: Vec<String> = unknown
        .iter()
        .map(|f| format!("unknown field {f:?}"))
        .collect();
    if validation == FieldValidation::Strict && !texts.is_empty() {
        return Err(cannot_handle(format!(
            "strict decoding error: {}",
            texts.join(", ")
        )));
    }
    let errors = crate::validation::validate(resource.kind, &body, old).0;
    if !errors.is_empty() {
        return Err(ApiError::Invalid {
            kind: resource.kind_qualified(),
            name: name(&body).unwrap_or("").to_string(),
            causes: errors,
        });
    }
    Ok(Prepared {
        value: body,
        warnings: texts,
    })
}

fn check_type(resource: &Resource, body: &mut Value) -> Result<()> {
    let Some(obj) = body.as_object_mut() else {
        return Err(ApiError::BadRequest("the body is not a JSON object".into()));
    };
    let api_version = resource.api_version();
    match obj.get("kind").and_then(Value::as_str) {
        Some(k) if k != resource.kind => {
            return Err(ApiError::BadRequest(format!(
                "the kind of the object ({k}) does not match the resource ({})",
                resource.kind
            )))
        }
        _ => {}
    }
    match obj.get("apiVersion").and_then(Value::as_str) {
        Some(v) if v != api_version => {
            return Err(ApiError::BadRequest(format!(
                "the API version of the object ({v}) does not match the request ({api_version})"
            )))
        }
        _ => {}
    }
    obj.insert("kind".into(), json!(resource.kind));
    obj.insert("apiVersion".into(), json!(api_version));
    Ok(())
}

fn metadata_mut(body: &mut Value) -> Result<&mut serde_json::Map<String, Value>> {
    let obj = body
        .as_object_mut()
        .ok_or_else(|| ApiError::BadRequest("the body is not a JSON object".into()))?;
    let meta = obj.entry("metadata").or_insert_with(|| json!({}));
    meta.as_object_mut()
        .ok_or_else(|| ApiError::BadRequest("metadata is not an object".into()))
}

fn check_namespace(
    resource: &Resource,
    namespace: Option<&str>,
    meta: &mut serde_json::Map<String, Value>,
) -> Result<()> {
    if !resource.namespaced {
        meta.remove("namespace");
        return Ok(());
    }
    let Some(ns) = namespace else {
        return Err(ApiError::BadRequest(format!(
            "{} is namespaced: the request must name a namespace",
            resource.plural
        )));
    };
    match meta.get("namespace").and_then(Value::as_str) {
        Some(given) if !given.is_empty() && given != ns => Err(ApiError::BadRequest(
            "the namespace of the provided object does not match the namespace sent on the request"
                .into(),
        )),
        _ => {
            meta.insert("namespace".into(), json!(ns));
            Ok(())
        }
    }
}

/// Names are DNS-1123 subdomains; namespace names DNS-1123 labels.
fn check_name(resource: &Resource, name: &str) -> Result<()> {
    let label = resource.plural == "namespaces";
    let ok = if label {
        is_dns1123_label(name)
    } else {
        name.len() <= 253 && name.split('.').all(is_dns1123_label)
    };
    if ok {
        return Ok(());
    }
    let message = if label {
        format!("Invalid value: {name:?}: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
    } else {
        format!("Invalid value: {name:?}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
    };
    Err(invalid(resource, name, "metadata.name", &message))
}

fn is_dns1123_label(s: &str) -> bool {
    let bytes = s.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

fn invalid(resource: &Resource, name: &str, field: &str, message: &str) -> ApiError {
    ApiError::Invalid {
        kind: resource.kind_qualified(),
        name: name.to_string(),
        causes: vec![(field.to_string(), message.to_string())],
    }
}

/// Kubernetes' generateName suffix: five characters from an alphabet
/// without vowels or look-alikes.
fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::thread_rng();
    (0..5)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Now, as Kubernetes writes timestamps (RFC 3339, seconds, UTC).
pub fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry;

    const W: FieldValidation = FieldValidation::Warn;

    fn pods() -> &'static Resource {
        registry::find("", "v1", "pods").unwrap()
    }

    #[test]
    fn create_fills_in_server_fields_and_checks_names() {
        let body = json!({"metadata": {"generateName": "web-"}, "spec": {"containers": [{"name": "c", "image": "i"}]}});
        let pod = prepare_create(pods(), Some("default"), body, W)
            .unwrap()
            .value;
        let name = name(&pod).unwrap();
        assert!(name.starts_with("web-") && name.len() == 9, "{name}");
        assert_eq!(pod["kind"], "Pod");
        assert_eq!(pod["apiVersion"], "v1");
        assert_eq!(pod["metadata"]["namespace"], "default");
        assert_eq!(pod["metadata"]["generation"], 1);
        assert!(pod["metadata"]["uid"].as_str().is_some());

        let bad = prepare_create(
            pods(),
            Some("default"),
            json!({"metadata": {"name": "Web_1"}}),
            W,
        );
        let err = bad.unwrap_err();
        assert_eq!(err.code(), 422);
        assert!(err.to_string().contains("metadata.name"), "{err}");
    }

    #[test]
    fn create_refuses_other_kinds_namespaces_and_wrong_field_types() {
        let other = json!({"kind": "Service", "metadata": {"name": "a"}});
        assert_eq!(
            prepare_create(pods(), Some("default"), other, W)
                .unwrap_err()
                .code(),
            400
        );
        let ns = json!({"metadata": {"name": "a", "namespace": "other"}});
        assert_eq!(
            prepare_create(pods(), Some("default"), ns, W)
                .unwrap_err()
                .code(),
            400
        );
        let typed = json!({"metadata": {"name": "a"}, "spec": {"containers": "nope"}});
        assert_eq!(
            prepare_create(pods(), Some("default"), typed, W)
                .unwrap_err()
                .code(),
            400
        );
    }

    #[test]
    fn update_keeps_identity_and_bumps_generation_on_spec_changes_only() {
        let created = prepare_create(
            pods(),
            Some("default"),
            json!({"metadata": {"name": "a"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}),
            W,
        )
        .unwrap()
        .value;
        let relabeled = json!({"metadata": {"name": "a", "labels": {"x": "y"}, "uid": "forged"}, "spec": {"containers": [{"name": "c", "image": "i"}]}});
        let updated = prepare_update(pods(), Some("default"), "a", relabeled, &created, W)
            .unwrap()
            .value;
        assert_eq!(updated["metadata"]["uid"], created["metadata"]["uid"]);
        assert_eq!(updated["metadata"]["generation"], 1);
        let respec = json!({"metadata": {"name": "a"}, "spec": {"containers": [{"name": "c", "image": "j"}]}});
        let updated = prepare_update(pods(), Some("default"), "a", respec, &created, W)
            .unwrap()
            .value;
        assert_eq!(updated["metadata"]["generation"], 2);
    }

    #[test]
    fn stored_bytes_carry_no_resource_version_and_reads_add_it() {
        let bytes = encode(&json!({"metadata": {"name": "a", "resourceVersion": "5"}})).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains("resourceVersion"));
        let item = Item {
            key: b"k".to_vec(),
            value: bytes,
            mod_revision: 9,
        };
        assert_eq!(decode(&item).unwrap()["metadata"]["resourceVersion"], "9");
    }

    #[test]
    fn unknown_fields_warn_by_default_and_fail_when_strict() {
        let body = || json!({"metadata": {"name": "a"}, "spec": {"containers": [{"name": "c", "image": "i"}], "nodeNme": "n"}});
        let warned = prepare_create(pods(), Some("default"), body(), W).unwrap();
        assert_eq!(warned.warnings, vec!["unknown field \"spec.nodeNme\""]);
        let ignored =
            prepare_create(pods(), Some("default"), body(), FieldValidation::Ignore).unwrap();
        assert!(ignored.warnings.is_empty());
        let err =
            prepare_create(pods(), Some("default"), body(), FieldValidation::Strict).unwrap_err();
        assert_eq!(err.code(), 400);
        assert_eq!(
            err.to_string(),
            "Pod in version \"v1\" cannot be handled as a Pod: strict decoding error: unknown field \"spec.nodeNme\""
        );
        assert!(FieldValidation::parse(Some("Loose")).is_err());
    }
}

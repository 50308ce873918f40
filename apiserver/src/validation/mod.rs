//! Validation of objects as Kubernetes validates them: every problem found
//! is reported together, each with its field path, as a 422 `Invalid`.

mod names;
mod pod;
mod workloads;

use serde_json::Value;

pub use names::{is_dns1123_label, is_dns1123_subdomain, label_key_error, label_value_error};

/// Problems found, as (field path, message) pairs.
#[derive(Debug, Default)]
pub struct Errors(pub Vec<(String, String)>);

impl Errors {
    fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push((field.into(), message.into()));
    }

    fn required(&mut self, field: impl Into<String>) {
        self.push(field, "Required value");
    }

    fn invalid(&mut self, field: impl Into<String>, value: &Value, detail: &str) {
        self.push(
            field,
            format!("Invalid value: {}: {detail}", go_value(value)),
        );
    }

    fn unsupported(&mut self, field: impl Into<String>, value: &str, supported: &[&str]) {
        let supported: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
        self.push(
            field,
            format!(
                "Unsupported value: {value:?}: supported values: {}",
                supported.join(", ")
            ),
        );
    }
}

/// A value as Kubernetes' messages print it: strings quoted, numbers bare.
fn go_value(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        Value::Object(map) if map.values().all(Value::is_string) => {
            let pairs: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{k:?}:{:?}", v.as_str().unwrap_or("")))
                .collect();
            format!("map[string]string{{{}}}", pairs.join(", "))
        }
        other => other.to_string(),
    }
}

/// Validates an object of `kind` about to be stored; `old` is the stored
/// one on update (for fields that may not change).
pub fn validate(kind: &str, object: &Value, old: Option<&Value>) -> Errors {
    let mut errors = Errors::default();
    metadata(object, &mut errors);
    match kind {
        "Pod" => {
            if let Some(spec) = object.get("spec") {
                pod::pod_spec(spec, "spec", &mut errors);
            }
            if let Some(old) = old {
                pod::pod_update(object, old, &mut errors);
            }
        }
        "Deployment" | "ReplicaSet" => workloads::workload(object, old, &mut errors),
        "Service" => workloads::service(object, &mut errors),
        _ => {}
    }
    errors
}

/// Labels must be qualified names with valid values.
fn metadata(object: &Value, errors: &mut Errors) {
    labels(
        object.pointer("/metadata/labels"),
        "metadata.labels",
        errors,
    );
}

fn labels(labels: Option<&Value>, path: &str, errors: &mut Errors) {
    let Some(map) = labels.and_then(Value::as_object) else {
        return;
    };
    for (key, value) in map {
        if let Some(e) = label_key_error(key) {
            errors.invalid(path, &Value::String(key.clone()), &e);
        }
        let value_str = value.as_str().unwrap_or("");
        if let Some(e) = label_value_error(value_str) {
            errors.invalid(format!("{path}.{key}"), value, &e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_syntax_is_checked() {
        let bad = json!({"metadata": {"labels": {"app": "ok", "bad key!": "x", "v": "-bad-"}}});
        let errors = validate("ConfigMap", &bad, None).0;
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(errors[0].0, "metadata.labels");
        assert_eq!(errors[1].0, "metadata.labels.v");
    }
}

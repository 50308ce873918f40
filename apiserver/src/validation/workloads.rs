//! Deployments, replica sets and services.

use serde_json::Value;

use super::{labels, pod, Errors};
use crate::selector::Selector;

/// A Deployment or ReplicaSet: a selector that matches its template, a
/// valid template, non-negative counts; the selector may not change.
pub fn workload(object: &Value, old: Option<&Value>, errors: &mut Errors) {
    let Some(spec) = object.get("spec") else {
        errors.required("spec");
        return;
    };
    if let Some(replicas) = spec.get("replicas").and_then(Value::as_i64) {
        if replicas < 0 {
            errors.invalid(
                "spec.replicas",
                &Value::from(replicas),
                "must be greater than or equal to 0",
            );
        }
    }
    let selector = spec.get("selector");
    let template_labels = spec.pointer("/template/metadata/labels");
    match selector {
        None | Some(Value::Null) => errors.required("spec.selector"),
        Some(selector) => {
            let empty = selector
                .get("matchLabels")
                .and_then(Value::as_object)
                .is_none_or(|m| m.is_empty())
                && selector
                    .get("matchExpressions")
                    .and_then(Value::as_array)
                    .is_none_or(|e| e.is_empty());
            if empty {
                errors.invalid(
                    "spec.selector",
                    selector,
                    "empty selector is invalid for deployment",
                );
            } else if !selects(selector, template_labels) {
                errors.invalid(
                    "spec.template.metadata.labels",
                    template_labels.unwrap_or(&Value::Null),
                    "`selector` does not match template `labels`",
                );
            }
            if let Some(old_selector) = old.and_then(|o| o.pointer("/spec/selector")) {
                if old_selector != selector {
                    errors.invalid("spec.selector", selector, "field is immutable");
                }
            }
        }
    }
    labels(template_labels, "spec.template.metadata.labels", errors);
    match spec.pointer("/template/spec") {
        Some(pod_spec) => {
            pod::pod_spec(pod_spec, "spec.template.spec", errors);
            if let Some(policy) = pod_spec.get("restartPolicy").and_then(Value::as_str) {
                if policy != "Always" {
                    errors.unsupported("spec.template.spec.restartPolicy", policy, &["Always"]);
                }
            }
        }
        None => errors.required("spec.template.spec.containers"),
    }
}

/// Whether a label selector selects `labels`.
fn selects(selector: &Value, labels: Option<&Value>) -> bool {
    Selector::from_label_selector(selector).is_some_and(|s| s.matches_label_map(labels))
}

const SERVICE_TYPES: [&str; 4] = ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"];

/// A Service: a known type, ports in range with unique names.
pub fn service(object: &Value, errors: &mut Errors) {
    let spec = object.get("spec").cloned().unwrap_or(Value::Null);
    let kind = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP");
    if !SERVICE_TYPES.contains(&kind) {
        errors.unsupported("spec.type", kind, &SERVICE_TYPES);
    }
    let ports = spec
        .get("ports")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    if ports.is_empty()
        && kind != "ExternalName"
        && spec.get("clusterIP").and_then(Value::as_str) != Some("None")
    {
        errors.required("spec.ports");
    }
    let mut names = std::collections::HashSet::new();
    for (i, p) in ports.iter().enumerate() {
        let field = format!("spec.ports[{i}]");
        pod::port_number(p.get("port"), &format!("{field}.port"), true, errors);
        if let Some(target) = p.get("targetPort").and_then(Value::as_i64) {
            pod::port_number(
                Some(&Value::from(target)),
                &format!("{field}.targetPort"),
                false,
                errors,
            );
        }
        let name = p.get("name").and_then(Value::as_str).unwrap_or("");
        if ports.len() > 1 && name.is_empty() {
            errors.required(format!("{field}.name"));
        } else if !name.is_empty() && !names.insert(name.to_string()) {
            errors.push(
                format!("{field}.name"),
                format!("Duplicate value: {name:?}"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(selector: Value, labels: Value) -> Value {
        json!({"spec": {"selector": selector, "template": {"metadata": {"labels": labels},
            "spec": {"containers": [{"name": "c", "image": "i"}]}}}})
    }

    #[test]
    fn the_selector_must_match_the_template_and_stay() {
        let mut errors = Errors::default();
        workload(
            &deployment(json!({"matchLabels": {"app": "a"}}), json!({"app": "b"})),
            None,
            &mut errors,
        );
        assert_eq!(errors.0[0].0, "spec.template.metadata.labels");
        assert!(errors.0[0]
            .1
            .ends_with("`selector` does not match template `labels`"));

        let good = deployment(
            json!({"matchLabels": {"app": "a"}}),
            json!({"app": "a", "x": "y"}),
        );
        let mut errors = Errors::default();
        workload(&good, None, &mut errors);
        assert!(errors.0.is_empty(), "{:?}", errors.0);

        let moved = deployment(
            json!({"matchLabels": {"app": "a", "x": "y"}}),
            json!({"app": "a", "x": "y"}),
        );
        let mut errors = Errors::default();
        workload(&moved, Some(&good), &mut errors);
        assert_eq!(errors.0.len(), 1);
        assert!(errors.0[0].1.ends_with("field is immutable"));

        let expr = deployment(
            json!({"matchExpressions": [{"key": "app", "operator": "In", "values": ["a", "b"]}]}),
            json!({"app": "b"}),
        );
        let mut errors = Errors::default();
        workload(&expr, None, &mut errors);
        assert!(errors.0.is_empty(), "{:?}", errors.0);
    }

    #[test]
    fn service_ports_are_checked() {
        let mut errors = Errors::default();
        service(
            &json!({"spec": {"type": "Magic", "ports": [{"port": 0}, {"port": 80, "name": "a"}]}}),
            &mut errors,
        );
        let fields: Vec<&str> = errors.0.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            ["spec.type", "spec.ports[0].port", "spec.ports[0].name"]
        );
    }
}

//! Pod spec validation, for pods and for the templates of workloads.

use std::collections::HashSet;

use serde_json::Value;

use super::{is_dns1123_label, Errors};

const RESTART_POLICIES: [&str; 3] = ["Always", "OnFailure", "Never"];
const PROTOCOLS: [&str; 3] = ["TCP", "UDP", "SCTP"];
const PULL_POLICIES: [&str; 3] = ["Always", "IfNotPresent", "Never"];

/// Validates the pod spec at `path`.
pub fn pod_spec(spec: &Value, path: &str, errors: &mut Errors) {
    let containers = spec.get("containers").and_then(Value::as_array);
    match containers {
        None => errors.required(format!("{path}.containers")),
        Some(list) if list.is_empty() => errors.required(format!("{path}.containers")),
        Some(_) => {}
    }
    let mut names = HashSet::new();
    for list in ["initContainers", "containers"] {
        let Some(items) = spec.get(list).and_then(Value::as_array) else {
            continue;
        };
        for (i, c) in items.iter().enumerate() {
            container(c, &format!("{path}.{list}[{i}]"), &mut names, errors);
        }
    }
    if let Some(policy) = spec.get("restartPolicy").and_then(Value::as_str) {
        if !RESTART_POLICIES.contains(&policy) {
            errors.unsupported(format!("{path}.restartPolicy"), policy, &RESTART_POLICIES);
        }
    }
    if let Some(grace) = spec
        .get("terminationGracePeriodSeconds")
        .and_then(Value::as_i64)
    {
        if grace < 0 {
            errors.invalid(
                format!("{path}.terminationGracePeriodSeconds"),
                &Value::from(grace),
                "must be greater than or equal to 0",
            );
        }
    }
    let mut volumes = HashSet::new();
    for (i, v) in spec
        .get("volumes")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        let name = v.get("name").and_then(Value::as_str).unwrap_or("");
        let field = format!("{path}.volumes[{i}].name");
        if name.is_empty() {
            errors.required(field);
        } else if !volumes.insert(name.to_string()) {
            errors.push(field, format!("Duplicate value: {name:?}"));
        }
    }
}

fn container(c: &Value, path: &str, names: &mut HashSet<String>, errors: &mut Errors) {
    let name = c.get("name").and_then(Value::as_str).unwrap_or("");
    if name.is_empty() {
        errors.required(format!("{path}.name"));
    } else if !is_dns1123_label(name) {
        errors.invalid(
            format!("{path}.name"),
            &Value::from(name),
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
        );
    } else if !names.insert(name.to_string()) {
        errors.push(format!("{path}.name"), format!("Duplicate value: {name:?}"));
    }
    if c.get("image")
        .and_then(Value::as_str)
        .is_none_or(|i| i.trim().is_empty())
    {
        errors.required(format!("{path}.image"));
    }
    if let Some(policy) = c.get("imagePullPolicy").and_then(Value::as_str) {
        if !PULL_POLICIES.contains(&policy) {
            errors.unsupported(format!("{path}.imagePullPolicy"), policy, &PULL_POLICIES);
        }
    }
    for (i, p) in c
        .get("ports")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        let field = format!("{path}.ports[{i}]");
        port_number(
            p.get("containerPort"),
            &format!("{field}.containerPort"),
            true,
            errors,
        );
        port_number(
            p.get("hostPort"),
            &format!("{field}.hostPort"),
            false,
            errors,
        );
        if let Some(proto) = p.get("protocol").and_then(Value::as_str) {
            if !PROTOCOLS.contains(&proto) {
                errors.unsupported(format!("{field}.protocol"), proto, &PROTOCOLS);
            }
        }
    }
}

/// What a pod update may change in the spec: container images,
/// `activeDeadlineSeconds`, added tolerations, removed scheduling gates;
/// the rest is fixed once the pod exists.
pub fn pod_update(new: &Value, old: &Value, errors: &mut Errors) {
    let (Some(new_spec), Some(old_spec)) = (new.get("spec"), old.get("spec")) else {
        return;
    };
    let masked = |spec: &Value| {
        let mut spec = spec.clone();
        for list in ["containers", "initContainers"] {
            if let Some(items) = spec.get_mut(list).and_then(Value::as_array_mut) {
                for c in items.iter_mut().filter_map(Value::as_object_mut) {
                    c.remove("image");
                }
            }
        }
        if let Some(obj) = spec.as_object_mut() {
            for field in ["activeDeadlineSeconds", "tolerations", "schedulingGates"] {
                obj.remove(field);
            }
        }
        spec
    };
    let tolerations = |spec: &Value| -> Vec<Value> {
        spec.get("tolerations")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let kept = tolerations(old_spec)
        .iter()
        .all(|t| tolerations(new_spec).contains(t));
    if masked(new_spec) != masked(old_spec) || !kept {
        errors.push(
            "spec",
            "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
        );
    }
}

/// A port number in 1..=65535; `required` says whether it must be there
/// (an optional one may be absent or 0).
pub fn port_number(value: Option<&Value>, path: &str, required: bool, errors: &mut Errors) {
    match value.and_then(Value::as_i64) {
        None | Some(0) if required => errors.required(path),
        None | Some(0) => {}
        Some(p) if !(1..=65535).contains(&p) => errors.invalid(
            path,
            &Value::from(p),
            "must be between 1 and 65535, inclusive",
        ),
        Some(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(spec: Value) -> Vec<(String, String)> {
        let mut errors = Errors::default();
        pod_spec(&spec, "spec", &mut errors);
        errors.0
    }

    #[test]
    fn containers_need_names_images_and_valid_ports() {
        assert_eq!(
            check(json!({"containers": []}))[0],
            ("spec.containers".into(), "Required value".into())
        );
        let errors = check(json!({"containers": [
            {"name": "a", "image": "i", "ports": [{"containerPort": 70000}]},
            {"name": "a", "image": ""},
            {"name": "B", "image": "i", "ports": [{"containerPort": 80, "protocol": "HTTP"}]}
        ], "restartPolicy": "Sometimes"}));
        let fields: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "spec.containers[0].ports[0].containerPort",
                "spec.containers[1].name",
                "spec.containers[1].image",
                "spec.containers[2].name",
                "spec.containers[2].ports[0].protocol",
                "spec.restartPolicy"
            ]
        );
        assert_eq!(
            errors[0].1,
            "Invalid value: 70000: must be between 1 and 65535, inclusive"
        );
        assert!(check(json!({"containers": [{"name": "ok", "image": "i"}]})).is_empty());
    }

    #[test]
    fn pod_updates_change_images_and_tolerations_only() {
        let old = json!({"spec": {"containers": [{"name": "c", "image": "a:1"}], "tolerations": [{"key": "k"}]}});
        let image = json!({"spec": {"containers": [{"name": "c", "image": "a:2"}], "tolerations": [{"key": "k"}, {"key": "j"}]}});
        let mut errors = Errors::default();
        pod_update(&image, &old, &mut errors);
        assert!(errors.0.is_empty(), "{:?}", errors.0);
        for forbidden in [
            json!({"spec": {"containers": [{"name": "d", "image": "a:1"}], "tolerations": [{"key": "k"}]}}),
            json!({"spec": {"containers": [{"name": "c", "image": "a:1"}], "tolerations": []}}),
            json!({"spec": {"containers": [{"name": "c", "image": "a:1"}], "tolerations": [{"key": "k"}], "nodeName": "n"}}),
        ] {
            let mut errors = Errors::default();
            pod_update(&forbidden, &old, &mut errors);
            assert_eq!(errors.0.len(), 1, "{forbidden}");
            assert_eq!(errors.0[0].0, "spec");
        }
    }
}

//! Kubernetes' strategic merge patch: a JSON merge patch in which some
//! lists merge element by element instead of being replaced, plus the
//! directives `$patch` (replace / delete / merge), `$retainKeys`,
//! `$setElementOrder/<list>` and `$deleteFromPrimitiveList/<list>`.
//!
//! Which lists merge, and on which key, is the `patchStrategy` /
//! `patchMergeKey` of the field in Kubernetes' Go types. No Rust crate
//! implements strategic merge, and k8s-openapi does not carry those tags,
//! so [`list_strategy`] lists them for the kinds served here; every other
//! list is replaced, as Kubernetes does for lists without a strategy.

use serde_json::{Map, Value};

/// How a list field merges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListStrategy {
    /// The patch's list replaces the object's.
    Replace,
    /// Elements are objects matched by this key; matches merge, the rest append.
    MergeByKey(&'static str),
    /// A list of scalars merged as a set (finalizers).
    MergePrimitive,
}

/// Where a kind keeps its pod spec: `spec` for pods, `spec.template.spec`
/// for workloads.
fn pod_spec_at(kind: &str) -> Option<&'static [&'static str]> {
    match kind {
        "Pod" => Some(&["spec"]),
        "PodTemplate" => Some(&["template", "spec"]),
        "Deployment"
        | "ReplicaSet"
        | "StatefulSet"
        | "DaemonSet"
        | "Job"
        | "ReplicationController" => Some(&["spec", "template", "spec"]),
        "CronJob" => Some(&["spec", "jobTemplate", "spec", "template", "spec"]),
        _ => None,
    }
}

/// The merge strategy of the list at `path` (field names from the object's
/// root, list indices left out) in an object of `kind`.
pub fn list_strategy(kind: &str, path: &[&str]) -> ListStrategy {
    use ListStrategy::*;
    // ObjectMeta, wherever it appears (objects and pod templates).
    match path {
        [.., "metadata", "finalizers"] => return MergePrimitive,
        [.., "metadata", "ownerReferences"] => return MergeByKey("uid"),
        _ => {}
    }
    if let Some(spec) = pod_spec_at(kind) {
        if let Some(rest) = path.strip_prefix(spec) {
            return match rest {
                ["containers" | "initContainers" | "ephemeralContainers"] => MergeByKey("name"),
                ["containers" | "initContainers" | "ephemeralContainers", field] => match *field {
                    "ports" => MergeByKey("containerPort"),
                    "env" => MergeByKey("name"),
                    "volumeMounts" => MergeByKey("mountPath"),
                    "volumeDevices" => MergeByKey("devicePath"),
                    _ => Replace,
                },
                ["volumes" | "imagePullSecrets" | "schedulingGates" | "resourceClaims"] => {
                    MergeByKey("name")
                }
                ["hostAliases"] => MergeByKey("ip"),
                ["topologySpreadConstraints"] => MergeByKey("topologyKey"),
                _ => Replace,
            };
        }
    }
    match (kind, path) {
        ("Service", ["spec", "ports"]) => MergeByKey("port"),
        ("Pod", ["status", "podIPs" | "hostIPs"]) => MergeByKey("ip"),
        ("Node", ["status", "addresses"]) => MergeByKey("type"),
        ("Node", ["spec", "podCIDRs"]) => MergePrimitive,
        (_, ["status", "conditions"]) => MergeByKey("type"),
        _ => Replace,
    }
}

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";

/// Applies strategic merge patch `patch` to `original`, an object of `kind`.
pub fn strategic_merge(kind: &str, original: &Value, patch: &Value) -> Result<Value, String> {
    let empty = Map::new();
    let original = original.as_object().unwrap_or(&empty);
    let patch = patch
        .as_object()
        .ok_or_else(|| "the patch must be a JSON object".to_string())?;
    match merge_map(kind, &mut Vec::new(), original, patch)? {
        Some(map) => Ok(Value::Object(map)),
        None => Err("a strategic merge patch cannot delete the whole object".into()),
    }
}

/// Merges `patch` into `original`; `None` when the patch deletes the map.
fn merge_map<'a>(
    kind: &str,
    path: &mut Vec<&'a str>,
    original: &Map<String, Value>,
    patch: &'a Map<String, Value>,
) -> Result<Option<Map<String, Value>>, String> {
    match patch.get(DIRECTIVE).and_then(Value::as_str) {
        Some("delete") => return Ok(None),
        Some("replace") => {
            let mut replaced = Map::new();
            for (key, value) in patch.iter().filter(|(k, _)| !k.starts_with('$')) {
                if !value.is_null() {
                    path.push(key);
                    let merged = merge_value(kind, path, None, value);
                    path.pop();
                    if let Some(v) = merged? {
                        replaced.insert(key.clone(), v);
                    }
                }
            }
            return Ok(Some(replaced));
        }
        Some("merge") | None => {}
        Some(other) => return Err(format!("unknown patch type: {other:?}")),
    }
    let mut result = original.clone();
    for (key, value) in patch {
        if key.starts_with('$') {
            continue;
        }
        path.push(key);
        let merged = merge_value(kind, path, original.get(key), value);
        path.pop();
        match merged? {
            Some(v) => {
                result.insert(key.clone(), v);
            }
            None => {
                result.remove(key);
            }
        }
    }
    for (key, value) in patch {
        if let Some(field) = key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            let remove = value
                .as_array()
                .ok_or_else(|| format!("{key} must be a list"))?;
            if let Some(Value::Array(items)) = result.get_mut(field) {
                items.retain(|item| !remove.contains(item));
            }
        }
    }
    for (key, value) in patch {
        if let Some(field) = key.strip_prefix(SET_ELEMENT_ORDER) {
            let order = value
                .as_array()
                .ok_or_else(|| format!("{key} must be a list"))?;
            path.push(field);
            let strategy = list_strategy(kind, path);
            path.pop();
            if let Some(Value::Array(items)) = result.get_mut(field) {
                reorder(items, order, strategy);
            }
        }
    }
    if let Some(retain) = patch.get(RETAIN_KEYS) {
        let retain = retain
            .as_array()
            .ok_or_else(|| format!("{RETAIN_KEYS} must be a list"))?;
        result.retain(|key, _| retain.iter().any(|r| r.as_str() == Some(key.as_str())));
    }
    Ok(Some(result))
}

/// The merged value of one field; `None` deletes the field.
fn merge_value<'a>(
    kind: &str,
    path: &mut Vec<&'a str>,
    original: Option<&Value>,
    patch: &'a Value,
) -> Result<Option<Value>, String> {
    match patch {
        Value::Null => Ok(None),
        Value::Object(patch) => {
            let empty = Map::new();
            let original = match original {
                Some(Value::Object(o)) => o,
                _ => &empty,
            };
            Ok(merge_map(kind, path, original, patch)?.map(Value::Object))
        }
        Value::Array(items) => {
            let original = match original {
                Some(Value::Array(o)) => Some(o),
                _ => None,
            };
            let strategy = list_strategy(kind, path);
            merge_list(kind, path, original, items, strategy).map(|l| Some(Value::Array(l)))
        }
        scalar => Ok(Some(scalar.clone())),
    }
}

fn merge_list<'a>(
    kind: &str,
    path: &mut Vec<&'a str>,
    original: Option<&Vec<Value>>,
    patch: &'a [Value],
    strategy: ListStrategy,
) -> Result<Vec<Value>, String> {
    let directive = |item: &Value| {
        item.get(DIRECTIVE)
            .and_then(Value::as_str)
            .map(String::from)
    };
    // `{"$patch": "replace"}` alone as an element replaces the whole list;
    // beside other fields it replaces only that element.
    let list_replace = |item: &Value| {
        item.as_object().is_some_and(|o| o.len() == 1)
            && directive(item).as_deref() == Some("replace")
    };
    let replace_all = patch.iter().any(list_replace);
    let key = match strategy {
        ListStrategy::MergeByKey(key) if !replace_all => key,
        ListStrategy::MergePrimitive if !replace_all => {
            let mut result = original.cloned().unwrap_or_default();
            for item in patch {
                if !result.contains(item) {
                    result.push(item.clone());
                }
            }
            return Ok(result);
        }
        _ => {
            // Replaced: elements are new, so only their own directives apply.
            let mut result = Vec::new();
            for item in patch {
                if list_replace(item) {
                    continue;
                }
                if let Some(v) = merge_value(kind, path, None, item)? {
                    result.push(v);
                }
            }
            return Ok(result);
        }
    };
    let mut result = original.cloned().unwrap_or_default();
    for item in patch {
        let Some(fields) = item.as_object() else {
            return Err(format!(
                "{}: the list merges by {key:?}, so its elements must be objects",
                path.join(".")
            ));
        };
        let Some(id) = fields.get(key) else {
            return Err(format!(
                "{}: element {item} does not contain the merge key {key:?}",
                path.join(".")
            ));
        };
        let at = result.iter().position(|o| o.get(key) == Some(id));
        if directive(item).as_deref() == Some("delete") {
            result.retain(|o| o.get(key) != Some(id));
            continue;
        }
        let empty = Map::new();
        let base = at
            .and_then(|i| result.get(i))
            .and_then(Value::as_object)
            .unwrap_or(&empty)
            .clone();
        let merged = merge_map(kind, path, &base, fields)?;
        match (at, merged) {
            (Some(i), Some(m)) => {
                if let Some(slot) = result.get_mut(i) {
                    *slot = Value::Object(m);
                }
            }
            (Some(i), None) => {
                result.remove(i);
            }
            (None, Some(m)) => result.push(Value::Object(m)),
            (None, None) => {}
        }
    }
    Ok(result)
}

/// Puts the elements `order` names first, in that order; the others keep
/// their relative order after them.
fn reorder(items: &mut Vec<Value>, order: &[Value], strategy: ListStrategy) {
    let matches = |item: &Value, wanted: &Value| match strategy {
        ListStrategy::MergeByKey(key) => {
            item.get(key).is_some() && item.get(key) == wanted.get(key)
        }
        _ => item == wanted,
    };
    let mut rest = std::mem::take(items);
    for wanted in order {
        if let Some(i) = rest.iter().position(|item| matches(item, wanted)) {
            items.push(rest.remove(i));
        }
    }
    items.append(&mut rest);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment() -> Value {
        json!({
            "metadata": {"name": "d", "labels": {"app": "a"}, "finalizers": ["x"]},
            "spec": {
                "replicas": 3,
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}},
                "template": {"spec": {
                    "containers": [
                        {"name": "api", "image": "api:1.2.0",
                         "ports": [{"containerPort": 80}, {"containerPort": 81}],
                         "env": [{"name": "A", "value": "1"}]},
                        {"name": "side", "image": "side:1"}
                    ],
                    "tolerations": [{"key": "k"}]
                }}
            }
        })
    }

    #[test]
    fn containers_merge_by_name_and_keep_what_the_patch_does_not_name() {
        let patch = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "api"}, {"name": "side"}],
            "containers": [{"name": "api", "image": "api:1.3.0", "env": [{"name": "B", "value": "2"}]}]
        }}}});
        let out = strategic_merge("Deployment", &deployment(), &patch).unwrap();
        let containers = &out["spec"]["template"]["spec"]["containers"];
        assert_eq!(containers[0]["image"], "api:1.3.0");
        assert_eq!(containers[0]["ports"].as_array().unwrap().len(), 2);
        assert_eq!(
            containers[0]["env"],
            json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])
        );
        assert_eq!(containers[1]["name"], "side");
        assert_eq!(out["spec"]["replicas"], 3);
    }

    #[test]
    fn lists_without_a_strategy_are_replaced() {
        let patch = json!({"spec": {"template": {"spec": {"tolerations": [{"key": "j"}]}}}});
        let out = strategic_merge("Deployment", &deployment(), &patch).unwrap();
        assert_eq!(
            out["spec"]["template"]["spec"]["tolerations"],
            json!([{"key": "j"}])
        );
    }

    #[test]
    fn directives_delete_replace_retain_and_reorder() {
        let patch = json!({
            "metadata": {"labels": {"app": null, "tier": "web"}, "finalizers": ["y"],
                         "$deleteFromPrimitiveList/finalizers": ["x"]},
            "spec": {
                "strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": null},
                "template": {"spec": {
                    "$setElementOrder/containers": [{"name": "side"}, {"name": "api"}],
                    "containers": [
                        {"name": "api", "ports": [{"containerPort": 81, "$patch": "delete"}]},
                        {"name": "side", "$patch": "replace", "image": "side:2"}
                    ]
                }}
            }
        });
        let out = strategic_merge("Deployment", &deployment(), &patch).unwrap();
        assert_eq!(out["metadata"]["labels"], json!({"tier": "web"}));
        assert_eq!(out["metadata"]["finalizers"], json!(["y"]));
        assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));
        let containers = &out["spec"]["template"]["spec"]["containers"];
        assert_eq!(containers[0], json!({"name": "side", "image": "side:2"}));
        assert_eq!(containers[1]["ports"], json!([{"containerPort": 80}]));
        assert_eq!(containers[1]["image"], "api:1.2.0");

        let remove = json!({"spec": {"template": {"spec": {"containers": [{"name": "side", "$patch": "delete"}]}}}});
        let out = strategic_merge("Deployment", &deployment(), &remove).unwrap();
        assert_eq!(
            out["spec"]["template"]["spec"]["containers"]
                .as_array()
                .unwrap()
                .len(),
            1
        );

        let replace_list = json!({"spec": {"template": {"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "o"}]}}}});
        let out = strategic_merge("Deployment", &deployment(), &replace_list).unwrap();
        assert_eq!(
            out["spec"]["template"]["spec"]["containers"],
            json!([{"name": "only", "image": "o"}])
        );
    }

    #[test]
    fn bad_patches_are_refused_with_the_field() {
        let no_key = json!({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}});
        let err = strategic_merge("Deployment", &deployment(), &no_key).unwrap_err();
        assert!(
            err.contains("spec.template.spec.containers") && err.contains("\"name\""),
            "{err}"
        );
        let bad_directive = json!({"spec": {"$patch": "explode"}});
        assert!(strategic_merge("Deployment", &deployment(), &bad_directive).is_err());
        assert!(strategic_merge("Deployment", &deployment(), &json!([1])).is_err());
    }

    #[test]
    fn service_ports_merge_by_port_and_conditions_by_type() {
        let svc = json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}]}});
        let out = strategic_merge(
            "Service",
            &svc,
            &json!({"spec": {"ports": [{"port": 443}]}}),
        )
        .unwrap();
        assert_eq!(out["spec"]["ports"].as_array().unwrap().len(), 2);
        let pod = json!({"status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "Initialized", "status": "True"}]}});
        let out = strategic_merge(
            "Pod",
            &pod,
            &json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
        )
        .unwrap();
        assert_eq!(out["status"]["conditions"][0]["status"], "True");
        assert_eq!(out["status"]["conditions"].as_array().unwrap().len(), 2);
    }
}

//! Label and field selectors (`-l app=web,tier!=db`, `--field-selector
//! metadata.name=x`), with Kubernetes' syntax for equality, set and
//! existence requirements.

use serde_json::Value;

use crate::error::{ApiError, Result};
use crate::registry::Resource;

/// One requirement on a label or field.
#[derive(Debug, PartialEq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

impl Requirement {
    fn key(&self) -> &str {
        match self {
            Requirement::Equals(k, _)
            | Requirement::NotEquals(k, _)
            | Requirement::In(k, _)
            | Requirement::NotIn(k, _)
            | Requirement::Exists(k)
            | Requirement::NotExists(k) => k,
        }
    }
}

/// A parsed selector: every requirement must hold.
#[derive(Debug, Default, PartialEq)]
pub struct Selector {
    requirements: Vec<Requirement>,
}

/// The label and field selectors of a list or watch request.
pub fn from_params(
    params: &crate::rest::Params,
    resource: &Resource,
) -> Result<(Selector, Selector)> {
    let fields = Selector::fields(params.get("fieldSelector").unwrap_or(""))?;
    for requirement in &fields.requirements {
        let field = requirement.key();
        if !field_supported(resource.kind, field) {
            return Err(ApiError::BadRequest(format!(
                "field label not supported: {field}"
            )));
        }
    }
    Ok((
        Selector::labels(params.get("labelSelector").unwrap_or(""))?,
        fields,
    ))
}

/// The fields a kind can be selected by, as Kubernetes lists them: every
/// kind's name and namespace, and a few more per kind.
fn field_supported(kind: &str, field: &str) -> bool {
    if matches!(field, "metadata.name" | "metadata.namespace") {
        return true;
    }
    let extra: &[&str] = match kind {
        "Pod" => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        "Event" => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        "Node" => &["spec.unschedulable"],
        "Namespace" => &["status.phase"],
        "Secret" => &["type"],
        "ReplicaSet" => &["status.replicas"],
        "Service" => &["spec.clusterIP", "spec.type"],
        _ => &[],
    };
    extra.contains(&field)
}

impl Selector {
    /// Parses a label selector.
    pub fn labels(text: &str) -> Result<Selector> {
        parse(text, true)
    }

    /// Parses a field selector (equality only, as Kubernetes allows).
    pub fn fields(text: &str) -> Result<Selector> {
        parse(text, false)
    }

    /// Whether the object's labels satisfy the selector.
    pub fn matches_labels(&self, object: &Value) -> bool {
        self.matches_label_map(object.pointer("/metadata/labels"))
    }

    /// Whether a label map (`{"app": "web"}`) satisfies the selector.
    pub fn matches_label_map(&self, labels: Option<&Value>) -> bool {
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.matches(get)
    }

    /// A `LabelSelector` object (`matchLabels`, `matchExpressions`) as a
    /// selector; `None` for an operator Kubernetes does not have.
    pub fn from_label_selector(selector: &Value) -> Option<Selector> {
        let mut requirements = Vec::new();
        if let Some(labels) = selector.get("matchLabels").and_then(Value::as_object) {
            for (k, v) in labels {
                requirements.push(Requirement::Equals(
                    k.clone(),
                    v.as_str().unwrap_or("").to_string(),
                ));
            }
        }
        for e in selector
            .get("matchExpressions")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[])
        {
            let key = e
                .get("key")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let values: Vec<String> = e
                .get("values")
                .and_then(Value::as_array)
                .map(|v| {
                    v.iter()
                        .filter_map(Value::as_str)
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default();
            requirements.push(match e.get("operator").and_then(Value::as_str) {
                Some("In") => Requirement::In(key, values),
                Some("NotIn") => Requirement::NotIn(key, values),
                Some("Exists") => Requirement::Exists(key),
                Some("DoesNotExist") => Requirement::NotExists(key),
                _ => return None,
            });
        }
        Some(Selector { requirements })
    }

    /// Whether the object's fields satisfy the selector; a field path is
    /// dotted (`metadata.name`, `spec.nodeName`).
    /// A field that is absent reads as "" (so `spec.nodeName=` selects
    /// unscheduled pods), booleans and numbers as their text.
    pub fn matches_fields(&self, object: &Value) -> bool {
        let get = |path: &str| -> Option<std::borrow::Cow<'_, str>> {
            let pointer = if path == "source" {
                "/source/component".to_string()
            } else {
                format!("/{}", path.replace('.', "/"))
            };
            Some(match object.pointer(&pointer) {
                Some(Value::String(s)) => std::borrow::Cow::Borrowed(s.as_str()),
                Some(Value::Bool(b)) => std::borrow::Cow::Owned(b.to_string()),
                Some(Value::Number(n)) => std::borrow::Cow::Owned(n.to_string()),
                _ => std::borrow::Cow::Borrowed(""),
            })
        };
        self.matches(get)
    }

    fn matches<'a, S: AsRef<str> + 'a>(&self, get: impl Fn(&str) -> Option<S>) -> bool {
        let get = |k: &str| get(k);
        let eq = |x: &Option<S>, v: &str| x.as_ref().is_some_and(|x| x.as_ref() == v);
        self.requirements.iter().all(|r| match r {
            Requirement::Equals(k, v) => eq(&get(k), v),
            Requirement::NotEquals(k, v) => !eq(&get(k), v),
            Requirement::In(k, vs) => {
                let x = get(k);
                vs.iter().any(|v| eq(&x, v))
            }
            Requirement::NotIn(k, vs) => {
                let x = get(k);
                !vs.iter().any(|v| eq(&x, v))
            }
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::NotExists(k) => get(k).is_none(),
        })
    }
}

/// Splits on commas outside parentheses.
fn split_top(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out
}

fn parse(text: &str, labels: bool) -> Result<Selector> {
    let mut requirements = Vec::new();
    let bad = |part: &str| ApiError::BadRequest(format!("unable to parse requirement: {part:?}"));
    for part in split_top(text)
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let requirement = if let Some((k, v)) = part.split_once("!=") {
            Requirement::NotEquals(k.trim().into(), v.trim().into())
        } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
            Requirement::Equals(k.trim().into(), v.trim().into())
        } else if !labels {
            return Err(bad(part));
        } else if let Some(k) = part.strip_prefix('!') {
            Requirement::NotExists(k.trim().into())
        } else if let Some((k, set)) = set_requirement(part, " notin ") {
            Requirement::NotIn(k, set)
        } else if let Some((k, set)) = set_requirement(part, " in ") {
            Requirement::In(k, set)
        } else if part.contains(' ') || part.contains('(') {
            return Err(bad(part));
        } else {
            Requirement::Exists(part.into())
        };
        requirements.push(requirement);
    }
    Ok(Selector { requirements })
}

fn set_requirement(part: &str, op: &str) -> Option<(String, Vec<String>)> {
    let (key, rest) = part.split_once(op)?;
    let values = rest.trim().strip_prefix('(')?.strip_suffix(')')?;
    Some((
        key.trim().to_string(),
        values.split(',').map(|v| v.trim().to_string()).collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_selectors_as_kubectl_writes_them() {
        let pod = json!({"metadata": {"name": "p", "labels": {"app": "web", "tier": "front"}}});
        let yes = [
            "app=web",
            "app==web",
            "app!=db",
            "app in (web,api)",
            "tier notin (db)",
            "app",
            "!missing",
            "app=web,tier=front",
            "",
        ];
        for s in yes {
            assert!(Selector::labels(s).unwrap().matches_labels(&pod), "{s}");
        }
        let no = [
            "app=db",
            "app notin (web)",
            "missing",
            "!app",
            "app=web,tier=back",
        ];
        for s in no {
            assert!(!Selector::labels(s).unwrap().matches_labels(&pod), "{s}");
        }
        assert!(Selector::labels("app in web").is_err());
    }

    #[test]
    fn field_selectors_use_dotted_paths() {
        let pod =
            json!({"metadata": {"name": "p", "namespace": "default"}, "spec": {"nodeName": "n1"}});
        let s = Selector::fields("metadata.name=p,spec.nodeName=n1").unwrap();
        assert!(s.matches_fields(&pod));
        assert!(!Selector::fields("spec.nodeName!=n1")
            .unwrap()
            .matches_fields(&pod));
        assert!(Selector::fields("metadata.name").is_err());
    }

    #[test]
    fn absent_fields_read_empty_and_unsupported_fields_are_refused() {
        let unscheduled =
            serde_json::json!({"metadata": {"name": "p"}, "spec": {"hostNetwork": true}});
        let bound = serde_json::json!({"metadata": {"name": "q"}, "spec": {"nodeName": "n1"}});
        let s = Selector::fields("spec.nodeName=").unwrap();
        assert!(s.matches_fields(&unscheduled) && !s.matches_fields(&bound));
        let s = Selector::fields("spec.nodeName!=,status.phase!=Succeeded").unwrap();
        assert!(!s.matches_fields(&unscheduled) && s.matches_fields(&bound));
        assert!(Selector::fields("spec.hostNetwork=true")
            .unwrap()
            .matches_fields(&unscheduled));
        let pods = crate::registry::find("", "v1", "pods").unwrap();
        let params = crate::rest::Params::parse("fieldSelector=spec.bogus%3Dx");
        let err = from_params(&params, pods).unwrap_err();
        assert_eq!(err.to_string(), "field label not supported: spec.bogus");
        let events = crate::registry::find("", "v1", "events").unwrap();
        let params = crate::rest::Params::parse(
            "fieldSelector=involvedObject.name%3Dp,involvedObject.uid%3Du",
        );
        assert!(from_params(&params, events).is_ok());
    }
}

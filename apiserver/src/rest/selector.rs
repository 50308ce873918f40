//! Label and field selectors (`-l app=web,tier!=db`, `--field-selector
//! metadata.name=x`), with Kubernetes' syntax for equality, set and
//! existence requirements.

use serde_json::Value;

use crate::error::{ApiError, Result};

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

/// A parsed selector: every requirement must hold.
#[derive(Debug, Default, PartialEq)]
pub struct Selector {
    requirements: Vec<Requirement>,
}

/// The label and field selectors of a list or watch request.
pub fn from_params(params: &super::Params) -> Result<(Selector, Selector)> {
    Ok((
        Selector::labels(params.get("labelSelector").unwrap_or(""))?,
        Selector::fields(params.get("fieldSelector").unwrap_or(""))?,
    ))
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
        let labels = object.pointer("/metadata/labels");
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.matches(get)
    }

    /// Whether the object's fields satisfy the selector; a field path is
    /// dotted (`metadata.name`, `spec.nodeName`).
    pub fn matches_fields(&self, object: &Value) -> bool {
        let get = |path: &str| {
            let pointer = format!("/{}", path.replace('.', "/"));
            object.pointer(&pointer).and_then(Value::as_str)
        };
        self.matches(get)
    }

    fn matches<'a>(&self, get: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.requirements.iter().all(|r| match r {
            Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
            Requirement::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Requirement::NotIn(k, vs) => !get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
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
}

//! Label selectors as the scheduler evaluates them.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// A parsed label selector.
///
/// As apimachinery's `LabelSelectorAsSelector`: an absent selector matches
/// nothing, an empty one (`{}`) matches everything. A selector the apiserver
/// would have rejected (unknown operator, `In` without values) matches nothing,
/// so a malformed object can only narrow what the scheduler does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// Matches no label set.
    Nothing,
    /// Matches label sets satisfying every requirement (none: everything).
    All(Vec<Requirement>),
}

/// One `key op values` condition of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    op: Operator,
    values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

impl Selector {
    /// The selector that matches every label set.
    pub fn everything() -> Self {
        Selector::All(Vec::new())
    }

    /// Parses an optional `LabelSelector`.
    pub fn from_label_selector(selector: Option<&LabelSelector>) -> Self {
        let Some(selector) = selector else {
            return Selector::Nothing;
        };
        let mut reqs = Vec::new();
        for (k, v) in selector.match_labels.iter().flatten() {
            reqs.push(Requirement {
                key: k.clone(),
                op: Operator::In,
                values: vec![v.clone()],
            });
        }
        for e in selector.match_expressions.iter().flatten() {
            let values = e.values.clone().unwrap_or_default();
            let op = match e.operator.as_str() {
                "In" if !values.is_empty() => Operator::In,
                "NotIn" if !values.is_empty() => Operator::NotIn,
                "Exists" if values.is_empty() => Operator::Exists,
                "DoesNotExist" if values.is_empty() => Operator::DoesNotExist,
                _ => return Selector::Nothing,
            };
            reqs.push(Requirement {
                key: e.key.clone(),
                op,
                values,
            });
        }
        Selector::All(reqs)
    }

    /// A selector requiring every pair of `labels` (a map-style selector such
    /// as a Service's or `spec.nodeSelector`).
    pub fn from_map(labels: &BTreeMap<String, String>) -> Self {
        Selector::All(
            labels
                .iter()
                .map(|(k, v)| Requirement {
                    key: k.clone(),
                    op: Operator::In,
                    values: vec![v.clone()],
                })
                .collect(),
        )
    }

    /// Adds the requirement `key = value` (how `matchLabelKeys` narrows a
    /// selector to the incoming pod's own value of a label).
    pub fn require(&mut self, key: &str, value: &str) {
        if let Selector::All(reqs) = self {
            reqs.push(Requirement {
                key: key.to_string(),
                op: Operator::In,
                values: vec![value.to_string()],
            });
        }
    }

    /// True when this selector matches everything.
    pub fn is_everything(&self) -> bool {
        matches!(self, Selector::All(reqs) if reqs.is_empty())
    }

    /// Whether `labels` satisfy the selector (absent labels are an empty set).
    pub fn matches(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        let Selector::All(reqs) = self else {
            return false;
        };
        reqs.iter().all(|r| {
            let value = labels.and_then(|l| l.get(&r.key));
            match r.op {
                Operator::In => value.is_some_and(|v| r.values.contains(v)),
                Operator::NotIn => value.is_none_or(|v| !r.values.contains(v)),
                Operator::Exists => value.is_some(),
                Operator::DoesNotExist => value.is_none(),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{labels, selector};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn expr(key: &str, op: &str, values: &[&str]) -> LabelSelector {
        LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: key.into(),
                operator: op.into(),
                values: (!values.is_empty())
                    .then(|| values.iter().map(|v| v.to_string()).collect()),
            }]),
            ..Default::default()
        }
    }

    #[test]
    fn absent_selector_matches_nothing_and_empty_matches_everything() {
        let l = labels(&[("app", "web")]);
        assert!(!Selector::from_label_selector(None).matches(Some(&l)));
        let empty = LabelSelector::default();
        assert!(Selector::from_label_selector(Some(&empty)).matches(Some(&l)));
        assert!(Selector::from_label_selector(Some(&empty)).matches(None));
    }

    #[test]
    fn match_labels_require_each_pair() {
        let s = Selector::from_label_selector(Some(&selector(&[("app", "web"), ("tier", "fe")])));
        assert!(s.matches(Some(&labels(&[("app", "web"), ("tier", "fe"), ("x", "y")]))));
        assert!(!s.matches(Some(&labels(&[("app", "web")]))));
    }

    #[test]
    fn expression_operators() {
        let l = labels(&[("env", "prod")]);
        let m = |sel: LabelSelector| Selector::from_label_selector(Some(&sel)).matches(Some(&l));
        assert!(m(expr("env", "In", &["prod", "dev"])));
        assert!(!m(expr("env", "NotIn", &["prod"])));
        assert!(m(expr("other", "NotIn", &["prod"])));
        assert!(m(expr("env", "Exists", &[])));
        assert!(m(expr("other", "DoesNotExist", &[])));
        assert!(!m(expr("env", "DoesNotExist", &[])));
    }

    #[test]
    fn malformed_expressions_match_nothing() {
        let l = labels(&[("env", "prod")]);
        for sel in [
            expr("env", "In", &[]),
            expr("env", "Exists", &["x"]),
            expr("env", "Gt", &["1"]),
        ] {
            assert!(!Selector::from_label_selector(Some(&sel)).matches(Some(&l)));
        }
    }
}

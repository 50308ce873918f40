//! NodeAffinity: `spec.nodeSelector` and required node affinity decide which
//! nodes a pod may use; preferred node affinity terms add their weights to
//! the nodes they match.
//!
//! Node selector terms are ORed, the requirements inside a term ANDed. A term
//! with no requirement, or with one the apiserver would have rejected, matches
//! no node (component-helpers' `LazyErrorNodeSelector` behaves the same).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{NodeSelectorRequirement, NodeSelectorTerm, Pod};

use crate::framework::node_info::NodeInfo;
use crate::framework::{default_normalize_score, FilterResult, Unschedulable, MAX_NODE_SCORE};
use crate::labels::Selector;

/// Plugin name.
pub const NAME: &str = "NodeAffinity";
/// Reason when the node fails the pod's node selector or required affinity.
pub const ERR_REASON_POD: &str = "node(s) didn't match Pod's node affinity/selector";

#[derive(Debug, Clone)]
enum Op {
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    DoesNotExist,
    Gt(i64),
    Lt(i64),
}

#[derive(Debug, Clone)]
struct Requirement {
    key: String,
    op: Op,
}

impl Requirement {
    fn parse(r: &NodeSelectorRequirement) -> Option<Self> {
        let values = r.values.clone().unwrap_or_default();
        let single_int = || match values.as_slice() {
            [v] => v.parse::<i64>().ok(),
            _ => None,
        };
        let op = match r.operator.as_str() {
            "In" if !values.is_empty() => Op::In(values),
            "NotIn" if !values.is_empty() => Op::NotIn(values),
            "Exists" if values.is_empty() => Op::Exists,
            "DoesNotExist" if values.is_empty() => Op::DoesNotExist,
            "Gt" => Op::Gt(single_int()?),
            "Lt" => Op::Lt(single_int()?),
            _ => return None,
        };
        Some(Requirement {
            key: r.key.clone(),
            op,
        })
    }

    fn matches(&self, value: Option<&str>) -> bool {
        match &self.op {
            Op::In(vs) => value.is_some_and(|v| vs.iter().any(|x| x == v)),
            Op::NotIn(vs) => value.is_none_or(|v| vs.iter().all(|x| x != v)),
            Op::Exists => value.is_some(),
            Op::DoesNotExist => value.is_none(),
            Op::Gt(n) => value
                .and_then(|v| v.parse::<i64>().ok())
                .is_some_and(|v| v > *n),
            Op::Lt(n) => value
                .and_then(|v| v.parse::<i64>().ok())
                .is_some_and(|v| v < *n),
        }
    }
}

/// A parsed node selector term; `None` inside when it can match nothing.
#[derive(Debug, Clone)]
struct Term(Option<(Vec<Requirement>, Vec<Requirement>)>);

impl Term {
    fn parse(t: &NodeSelectorTerm) -> Self {
        let exprs = t.match_expressions.as_deref().unwrap_or_default();
        let fields = t.match_fields.as_deref().unwrap_or_default();
        if exprs.is_empty() && fields.is_empty() {
            return Term(None);
        }
        let labels: Option<Vec<Requirement>> = exprs.iter().map(Requirement::parse).collect();
        // Fields: only metadata.name, with In/NotIn and exactly one value.
        let fields: Option<Vec<Requirement>> = fields
            .iter()
            .map(|f| {
                let one_value = f.values.as_ref().is_some_and(|v| v.len() == 1);
                let supported =
                    f.key == "metadata.name" && matches!(f.operator.as_str(), "In" | "NotIn");
                if one_value && supported {
                    Requirement::parse(f)
                } else {
                    None
                }
            })
            .collect();
        Term(labels.zip(fields))
    }

    fn matches(&self, name: &str, labels: Option<&BTreeMap<String, String>>) -> bool {
        let Some((exprs, fields)) = &self.0 else {
            return false;
        };
        exprs
            .iter()
            .all(|r| r.matches(labels.and_then(|l| l.get(&r.key)).map(String::as_str)))
            && fields.iter().all(|r| r.matches(Some(name)))
    }
}

/// The pod's hard node constraints: `spec.nodeSelector` AND required node
/// affinity.
#[derive(Debug, Clone)]
pub struct RequiredNodeAffinity {
    node_selector: Option<Selector>,
    terms: Option<Vec<Term>>,
}

impl RequiredNodeAffinity {
    /// Reads the pod's constraints.
    pub fn new(pod: &Pod) -> Self {
        let spec = pod.spec.as_ref();
        let node_selector = spec
            .and_then(|s| s.node_selector.as_ref())
            .filter(|m| !m.is_empty())
            .map(Selector::from_map);
        let terms = spec
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|na| {
                na.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })
            .map(|ns| ns.node_selector_terms.iter().map(Term::parse).collect());
        RequiredNodeAffinity {
            node_selector,
            terms,
        }
    }

    /// Whether `node` satisfies both the node selector and some required term.
    pub fn matches(&self, node: &NodeInfo) -> bool {
        let labels = node.labels();
        if let Some(sel) = &self.node_selector {
            if !sel.matches(labels) {
                return false;
            }
        }
        match &self.terms {
            None => true,
            Some(terms) => terms.iter().any(|t| t.matches(node.name(), labels)),
        }
    }
}

/// Rejects nodes outside the pod's node selector and required node affinity.
pub fn filter(required: &RequiredNodeAffinity, node: &NodeInfo) -> FilterResult {
    if required.matches(node) {
        Ok(())
    } else {
        Err(Unschedulable::new(NAME, ERR_REASON_POD))
    }
}

/// The pod's preferred node affinity terms with their weights.
#[derive(Debug, Clone)]
pub struct PreferredNodeAffinity(Vec<(i64, Term)>);

/// The preferred terms, or `None` when there are none and the plugin does not
/// score (Kubernetes' PreScore Skip).
pub fn pre_score(pod: &Pod) -> Option<PreferredNodeAffinity> {
    let terms: Vec<(i64, Term)> = pod
        .spec
        .as_ref()
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|na| {
            na.preferred_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .into_iter()
        .flatten()
        .filter(|t| t.weight != 0)
        .map(|t| (i64::from(t.weight), Term::parse(&t.preference)))
        .collect();
    (!terms.is_empty()).then_some(PreferredNodeAffinity(terms))
}

/// Raw score: the sum of the weights of the preferred terms the node matches.
pub fn score(preferred: &PreferredNodeAffinity, node: &NodeInfo) -> i64 {
    preferred
        .0
        .iter()
        .filter(|(_, t)| t.matches(node.name(), node.labels()))
        .map(|(w, _)| *w)
        .sum()
}

/// Scaled to the best node.
pub fn normalize_score(scores: &mut [i64]) {
    default_normalize_score(MAX_NODE_SCORE, false, scores);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{labels, node, pod, spec, with_node_labels};
    use k8s_openapi::api::core::v1::{
        Affinity, NodeAffinity, NodeSelector, PreferredSchedulingTerm,
    };

    fn node_info(name: &str, pairs: &[(&str, &str)]) -> NodeInfo {
        let mut ni = NodeInfo::new(name);
        ni.set_node(with_node_labels(node(name, "1", "1Gi", "10"), pairs));
        ni
    }

    fn req(key: &str, op: &str, values: &[&str]) -> NodeSelectorRequirement {
        NodeSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: (!values.is_empty()).then(|| values.iter().map(|v| v.to_string()).collect()),
        }
    }

    fn term(exprs: Vec<NodeSelectorRequirement>) -> NodeSelectorTerm {
        NodeSelectorTerm {
            match_expressions: Some(exprs),
            match_fields: None,
        }
    }

    fn pod_requiring(terms: Vec<NodeSelectorTerm>) -> Pod {
        let mut p = pod("p");
        spec(&mut p).affinity = Some(Affinity {
            node_affinity: Some(NodeAffinity {
                required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                    node_selector_terms: terms,
                }),
                ..Default::default()
            }),
            ..Default::default()
        });
        p
    }

    fn fits(p: &Pod, n: &NodeInfo) -> bool {
        filter(&RequiredNodeAffinity::new(p), n).is_ok()
    }

    #[test]
    fn node_selector_must_match_every_label() {
        let mut p = pod("p");
        spec(&mut p).node_selector = Some(labels(&[("disk", "ssd")]));
        assert!(fits(&p, &node_info("n1", &[("disk", "ssd")])));
        let err = filter(
            &RequiredNodeAffinity::new(&p),
            &node_info("n2", &[("disk", "hdd")]),
        )
        .err();
        assert_eq!(
            err.map(|e| e.reasons),
            Some(vec![
                "node(s) didn't match Pod's node affinity/selector".to_string()
            ])
        );
    }

    #[test]
    fn terms_are_ored_and_expressions_anded() {
        let p = pod_requiring(vec![
            term(vec![req("zone", "In", &["a"]), req("gpu", "Exists", &[])]),
            term(vec![req("zone", "In", &["b"])]),
        ]);
        assert!(fits(&p, &node_info("n1", &[("zone", "a"), ("gpu", "1")])));
        assert!(!fits(&p, &node_info("n2", &[("zone", "a")])));
        assert!(fits(&p, &node_info("n3", &[("zone", "b")])));
    }

    #[test]
    fn not_in_and_does_not_exist_match_missing_labels() {
        let p = pod_requiring(vec![term(vec![
            req("zone", "NotIn", &["a"]),
            req("spot", "DoesNotExist", &[]),
        ])]);
        assert!(fits(&p, &node_info("n1", &[])));
        assert!(!fits(&p, &node_info("n2", &[("zone", "a")])));
        assert!(!fits(&p, &node_info("n3", &[("spot", "true")])));
    }

    #[test]
    fn gt_and_lt_compare_integers() {
        let p = pod_requiring(vec![term(vec![
            req("cores", "Gt", &["4"]),
            req("cores", "Lt", &["16"]),
        ])]);
        assert!(fits(&p, &node_info("n1", &[("cores", "8")])));
        assert!(!fits(&p, &node_info("n2", &[("cores", "4")])));
        assert!(!fits(&p, &node_info("n3", &[("cores", "many")])));
        let bad = pod_requiring(vec![term(vec![req("cores", "Gt", &["x"])])]);
        assert!(!fits(&bad, &node_info("n4", &[("cores", "8")])));
    }

    #[test]
    fn match_fields_select_by_node_name() {
        let p = pod_requiring(vec![NodeSelectorTerm {
            match_expressions: None,
            match_fields: Some(vec![req("metadata.name", "In", &["n2"])]),
        }]);
        assert!(!fits(&p, &node_info("n1", &[])));
        assert!(fits(&p, &node_info("n2", &[])));
    }

    #[test]
    fn empty_term_matches_nothing() {
        let p = pod_requiring(vec![NodeSelectorTerm::default()]);
        assert!(!fits(&p, &node_info("n1", &[])));
        let none = pod_requiring(vec![]);
        assert!(!fits(&none, &node_info("n1", &[])));
    }

    #[test]
    fn preferred_terms_sum_weights_and_normalize() {
        let mut p = pod("p");
        spec(&mut p).affinity = Some(Affinity {
            node_affinity: Some(NodeAffinity {
                preferred_during_scheduling_ignored_during_execution: Some(vec![
                    PreferredSchedulingTerm {
                        weight: 20,
                        preference: term(vec![req("zone", "In", &["a"])]),
                    },
                    PreferredSchedulingTerm {
                        weight: 60,
                        preference: term(vec![req("ssd", "Exists", &[])]),
                    },
                ]),
                ..Default::default()
            }),
            ..Default::default()
        });
        let Some(pref) = pre_score(&p) else {
            panic!("preferred terms expected");
        };
        let nodes = [
            node_info("n1", &[("zone", "a")]),
            node_info("n2", &[("zone", "a"), ("ssd", "y")]),
            node_info("n3", &[]),
        ];
        let mut scores: Vec<i64> = nodes.iter().map(|n| score(&pref, n)).collect();
        assert_eq!(scores, [20, 80, 0]);
        normalize_score(&mut scores);
        assert_eq!(scores, [25, 100, 0]);
        assert!(pre_score(&pod("q")).is_none());
    }
}

//! A pod with what scheduling needs of it computed once: its requests and its
//! parsed inter-pod affinity terms.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Pod, PodAffinityTerm, WeightedPodAffinityTerm};

use super::{pod_key, pod_namespace};
use crate::labels::Selector;
use crate::resources::{pod_non_zero_requests, pod_requests, Resource};

/// A parsed `PodAffinityTerm`: which pods (by namespace and labels) it is
/// about, and over which node label it groups nodes.
#[derive(Debug, Clone)]
pub struct AffinityTerm {
    /// Namespaces named by the term; the owning pod's own namespace when the
    /// term names neither namespaces nor a namespace selector.
    pub namespaces: Vec<String>,
    /// The term's namespace selector (an absent one matches no namespace).
    pub namespace_selector: Selector,
    /// Which pods the term is about.
    pub selector: Selector,
    /// The node label whose values are the topology domains.
    pub topology_key: String,
}

impl AffinityTerm {
    /// Parses `term` as written in a pod of namespace `owner_namespace`.
    pub fn new(owner_namespace: &str, term: &PodAffinityTerm) -> Self {
        let listed = term.namespaces.clone().unwrap_or_default();
        let namespaces = if listed.is_empty() && term.namespace_selector.is_none() {
            vec![owner_namespace.to_string()]
        } else {
            listed
        };
        AffinityTerm {
            namespaces,
            namespace_selector: Selector::from_label_selector(term.namespace_selector.as_ref()),
            selector: Selector::from_label_selector(term.label_selector.as_ref()),
            topology_key: term.topology_key.clone(),
        }
    }

    /// Whether `pod` is one the term is about; `namespace_labels` are the
    /// labels of the pod's namespace (for the namespace selector).
    pub fn matches(&self, pod: &Pod, namespace_labels: Option<&BTreeMap<String, String>>) -> bool {
        let ns = pod_namespace(pod);
        let in_namespace = self.namespaces.iter().any(|n| n == ns)
            || self.namespace_selector.matches(namespace_labels);
        in_namespace && self.selector.matches(pod.metadata.labels.as_ref())
    }
}

/// A preferred (soft) affinity term with its weight.
#[derive(Debug, Clone)]
pub struct WeightedAffinityTerm {
    /// The term.
    pub term: AffinityTerm,
    /// Its weight, 1..=100.
    pub weight: i32,
}

/// A pod as the cache keeps it.
#[derive(Debug, Clone)]
pub struct PodInfo {
    /// The pod object.
    pub pod: Pod,
    /// `namespace/name`.
    pub key: String,
    /// What the pod requests, for the fit filter and `requested`.
    pub requests: Resource,
    /// What scoring takes the pod to request (defaults for missing cpu/memory).
    pub non_zero_requests: Resource,
    /// `podAffinity.requiredDuringSchedulingIgnoredDuringExecution`.
    pub required_affinity_terms: Vec<AffinityTerm>,
    /// `podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution`.
    pub required_anti_affinity_terms: Vec<AffinityTerm>,
    /// `podAffinity.preferredDuringSchedulingIgnoredDuringExecution`.
    pub preferred_affinity_terms: Vec<WeightedAffinityTerm>,
    /// `podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution`.
    pub preferred_anti_affinity_terms: Vec<WeightedAffinityTerm>,
    /// Whether the pod declares pod affinity or anti-affinity at all.
    pub has_affinity: bool,
}

impl PodInfo {
    /// Computes the record of `pod`.
    pub fn new(pod: Pod) -> Self {
        let ns = pod_namespace(&pod).to_string();
        let affinity = pod.spec.as_ref().and_then(|s| s.affinity.as_ref());
        let pod_affinity = affinity.and_then(|a| a.pod_affinity.as_ref());
        let anti = affinity.and_then(|a| a.pod_anti_affinity.as_ref());
        let required = |terms: Option<&Vec<PodAffinityTerm>>| -> Vec<AffinityTerm> {
            terms
                .into_iter()
                .flatten()
                .map(|t| AffinityTerm::new(&ns, t))
                .collect()
        };
        let preferred =
            |terms: Option<&Vec<WeightedPodAffinityTerm>>| -> Vec<WeightedAffinityTerm> {
                terms
                    .into_iter()
                    .flatten()
                    // A zero weight adds nothing; Kubernetes skips such terms.
                    .filter(|t| t.weight != 0)
                    .map(|t| WeightedAffinityTerm {
                        term: AffinityTerm::new(&ns, &t.pod_affinity_term),
                        weight: t.weight,
                    })
                    .collect()
            };
        PodInfo {
            key: pod_key(&pod),
            requests: pod_requests(&pod),
            non_zero_requests: pod_non_zero_requests(&pod),
            required_affinity_terms: required(pod_affinity.and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })),
            required_anti_affinity_terms: required(anti.and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })),
            preferred_affinity_terms: preferred(pod_affinity.and_then(|a| {
                a.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            })),
            preferred_anti_affinity_terms: preferred(anti.and_then(|a| {
                a.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            })),
            has_affinity: pod_affinity.is_some() || anti.is_some(),
            pod,
        }
    }

    /// Whether the pod has required anti-affinity terms, which every later
    /// pod must respect.
    pub fn has_required_anti_affinity(&self) -> bool {
        !self.required_anti_affinity_terms.is_empty()
    }

    /// Whether the pod is being deleted (counted out of topology spreading).
    pub fn is_terminating(&self) -> bool {
        self.pod.metadata.deletion_timestamp.is_some()
    }
}

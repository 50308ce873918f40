//! InterPodAffinity: pods that want (affinity) or refuse (anti-affinity) to
//! share a topology domain with other pods.
//!
//! Required terms filter ([`filtering`]): the pod's own affinity and
//! anti-affinity, and the required anti-affinity of pods already running,
//! which the incoming pod must not violate either. Preferred terms, and
//! existing pods' terms about the incoming pod, score ([`scoring`]).
//!
//! An empty `namespaces` list with no `namespaceSelector` means the term's
//! own pod's namespace; a `namespaceSelector` is matched against the labels
//! of namespaces recorded in the snapshot (a namespace not recorded has no
//! labels, so only an empty selector `{}` matches it).

pub mod filtering;
pub mod scoring;

/// Plugin name.
pub const NAME: &str = "InterPodAffinity";
/// Reason when the pod's required affinity finds no matching pods in reach.
pub const ERR_REASON_AFFINITY_RULES_NOT_MATCH: &str = "node(s) didn't match pod affinity rules";
/// Reason when the pod's required anti-affinity finds matching pods in reach.
pub const ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH: &str =
    "node(s) didn't match pod anti-affinity rules";
/// Reason when a running pod's required anti-affinity rejects the pod.
pub const ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH: &str =
    "node(s) didn't satisfy existing pods anti-affinity rules";

/// Weight of an existing pod's required affinity term that the incoming pod
/// matches, in scoring (`hardPodAffinityWeight`, default 1).
pub const HARD_POD_AFFINITY_WEIGHT: i64 = 1;

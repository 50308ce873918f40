//! Conversion between the versions of a kind served side by side: objects
//! are stored in one version and converted for clients of the others, as
//! kube-apiserver does.

mod hpa;

use serde_json::Value;

/// Converts `object` from apiVersion `from` to `to`; `None` when there is
/// no conversion between them.
pub fn convert(kind: &str, from: &str, to: &str, object: &Value) -> Option<Value> {
    match (kind, from, to) {
        (_, f, t) if f == t => Some(object.clone()),
        ("HorizontalPodAutoscaler", "autoscaling/v1", "autoscaling/v2") => {
            Some(hpa::v1_to_v2(object))
        }
        ("HorizontalPodAutoscaler", "autoscaling/v2", "autoscaling/v1") => {
            Some(hpa::v2_to_v1(object))
        }
        _ => None,
    }
}

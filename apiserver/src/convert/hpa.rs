//! HorizontalPodAutoscaler `autoscaling/v1` ⇄ `autoscaling/v2`: v1 knows
//! only a CPU utilization target, v2 a list of metrics. Metrics v1 cannot
//! express ride in the annotation Kubernetes uses for them
//! (`autoscaling.alpha.kubernetes.io/metrics`), so a v2 object read and
//! written back through v1 keeps them.

use serde_json::{json, Map, Value};

const METRICS: &str = "autoscaling.alpha.kubernetes.io/metrics";
const CURRENT_METRICS: &str = "autoscaling.alpha.kubernetes.io/current-metrics";
const CONDITIONS: &str = "autoscaling.alpha.kubernetes.io/conditions";

fn is_cpu_utilization(metric: &Value) -> bool {
    metric.get("type").and_then(Value::as_str) == Some("Resource")
        && metric.pointer("/resource/name").and_then(Value::as_str) == Some("cpu")
        && metric
            .pointer("/resource/target/type")
            .and_then(Value::as_str)
            == Some("Utilization")
}

fn annotations(object: &mut Value) -> Option<&mut Map<String, Value>> {
    let meta = object.get_mut("metadata")?.as_object_mut()?;
    meta.entry("annotations")
        .or_insert_with(|| json!({}))
        .as_object_mut()
}

fn copy(from: &Value, to: &mut Map<String, Value>, fields: &[&str]) {
    for f in fields {
        if let Some(v) = from.get(*f) {
            to.insert((*f).to_string(), v.clone());
        }
    }
}

/// The v2 object as v1 shows it.
pub fn v2_to_v1(v2: &Value) -> Value {
    let mut v1 = json!({
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": v2.get("metadata").cloned().unwrap_or_else(|| json!({})),
    });
    let empty = json!({});
    let spec2 = v2.get("spec").unwrap_or(&empty);
    let mut spec = Map::new();
    copy(
        spec2,
        &mut spec,
        &["scaleTargetRef", "minReplicas", "maxReplicas"],
    );
    let metrics = spec2
        .get("metrics")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let (cpu, other): (Vec<Value>, Vec<Value>) = metrics.into_iter().partition(is_cpu_utilization);
    if let Some(target) = cpu
        .first()
        .and_then(|m| m.pointer("/resource/target/averageUtilization"))
    {
        spec.insert("targetCPUUtilizationPercentage".into(), target.clone());
    }
    v1["spec"] = Value::Object(spec);
    if let Some(status2) = v2.get("status") {
        let mut status = Map::new();
        copy(
            status2,
            &mut status,
            &[
                "observedGeneration",
                "lastScaleTime",
                "currentReplicas",
                "desiredReplicas",
            ],
        );
        if let Some(current) = status2
            .get("currentMetrics")
            .and_then(Value::as_array)
            .and_then(|m| {
                m.iter()
                    .find(|m| m.pointer("/resource/name").and_then(Value::as_str) == Some("cpu"))
            })
            .and_then(|m| m.pointer("/resource/current/averageUtilization"))
        {
            status.insert("currentCPUUtilizationPercentage".into(), current.clone());
        }
        status.entry("currentReplicas").or_insert(json!(0));
        status.entry("desiredReplicas").or_insert(json!(0));
        v1["status"] = Value::Object(status);
        if let Some(conditions) = status2.get("conditions").cloned() {
            if let Some(a) = annotations(&mut v1) {
                a.insert(CONDITIONS.into(), json!(conditions.to_string()));
            }
        }
    }
    if !other.is_empty() {
        if let Some(a) = annotations(&mut v1) {
            a.insert(METRICS.into(), json!(Value::Array(other).to_string()));
        }
    }
    v1
}

/// A v1 object as stored (v2): its CPU target becomes a Resource metric,
/// metrics kept in the annotation come back.
pub fn v1_to_v2(v1: &Value) -> Value {
    let mut metadata = v1.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let mut kept: Vec<Value> = Vec::new();
    if let Some(a) = metadata
        .get_mut("annotations")
        .and_then(Value::as_object_mut)
    {
        if let Some(text) = a.remove(METRICS) {
            if let Some(parsed) = text
                .as_str()
                .and_then(|t| serde_json::from_str::<Vec<Value>>(t).ok())
            {
                kept = parsed;
            }
        }
        a.remove(CURRENT_METRICS);
        a.remove(CONDITIONS);
        if a.is_empty() {
            if let Some(meta) = metadata.as_object_mut() {
                meta.remove("annotations");
            }
        }
    }
    let empty = json!({});
    let spec1 = v1.get("spec").unwrap_or(&empty);
    let mut spec = Map::new();
    copy(
        spec1,
        &mut spec,
        &["scaleTargetRef", "minReplicas", "maxReplicas"],
    );
    let mut metrics = Vec::new();
    if let Some(target) = spec1.get("targetCPUUtilizationPercentage") {
        metrics.push(json!({
            "type": "Resource",
            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}},
        }));
    }
    metrics.extend(kept);
    if !metrics.is_empty() {
        spec.insert("metrics".into(), Value::Array(metrics));
    }
    let mut v2 = json!({
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata,
        "spec": spec,
    });
    if let Some(status1) = v1.get("status") {
        let mut status = Map::new();
        copy(
            status1,
            &mut status,
            &[
                "observedGeneration",
                "lastScaleTime",
                "currentReplicas",
                "desiredReplicas",
            ],
        );
        if let Some(current) = status1.get("currentCPUUtilizationPercentage") {
            status.insert(
                "currentMetrics".into(),
                json!([{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": current}}}]),
            );
        }
        v2["status"] = Value::Object(status);
    }
    v2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_v2_object_survives_a_trip_through_v1() {
        let v2 = json!({
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "h", "namespace": "default"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"},
                "minReplicas": 2, "maxReplicas": 10,
                "metrics": [
                    {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}},
                    {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "500Mi"}}}
                ]},
            "status": {"currentReplicas": 3, "desiredReplicas": 3,
                "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 55}}}]}
        });
        let v1 = v2_to_v1(&v2);
        assert_eq!(v1["apiVersion"], "autoscaling/v1");
        assert_eq!(v1["spec"]["targetCPUUtilizationPercentage"], 70);
        assert_eq!(v1["status"]["currentCPUUtilizationPercentage"], 55);
        assert!(v1["metadata"]["annotations"][METRICS]
            .as_str()
            .unwrap()
            .contains("memory"));
        let back = v1_to_v2(&v1);
        assert_eq!(back["spec"], v2["spec"]);
        assert!(back["metadata"].get("annotations").is_none());
        let plain = json!({"metadata": {"name": "h"}, "spec": {"maxReplicas": 1}, "status": {}});
        assert!(v2_to_v1(&plain)["metadata"].get("annotations").is_none());
    }

    #[test]
    fn kubectl_autoscale_v1_becomes_a_cpu_metric() {
        let v1 = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 5, "targetCPUUtilizationPercentage": 80}});
        let v2 = v1_to_v2(&v1);
        assert_eq!(
            v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
            80
        );
        assert_eq!(v2["spec"]["maxReplicas"], 5);
        assert!(v2.get("status").is_none());
    }
}

//! Admission defaults: the values Kubernetes fills in for fields a client
//! left out (its `SetDefaults_*` functions and default admission plugins),
//! and the status a new object starts with. Applied to every create and
//! update, so stored objects read as they would from Kubernetes.

mod pod;

use serde_json::{json, Map, Value};

pub use pod::{pod_spec, qos_class};

/// Fills in Kubernetes' defaults on an object of `kind`.
pub fn apply(kind: &str, object: &mut Value) {
    let Some(obj) = object.as_object_mut() else {
        return;
    };
    match kind {
        "Pod" => edit(obj, "spec", |spec| {
            pod_spec(spec);
            pod::default_tolerations(spec);
            pod::requests_from_limits(spec);
        }),
        "Deployment" => edit(obj, "spec", |spec| {
            default(spec, "replicas", json!(1));
            default(spec, "revisionHistoryLimit", json!(10));
            default(spec, "progressDeadlineSeconds", json!(600));
            edit(spec, "strategy", |strategy| {
                default(strategy, "type", json!("RollingUpdate"));
                if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
                    edit(strategy, "rollingUpdate", |rolling| {
                        default(rolling, "maxUnavailable", json!("25%"));
                        default(rolling, "maxSurge", json!("25%"));
                    });
                }
            });
            template(spec);
        }),
        "ReplicaSet" => edit(obj, "spec", |spec| {
            default(spec, "replicas", json!(1));
            template(spec);
        }),
        "Service" => edit(obj, "spec", service_spec),
        "Secret" => default(obj, "type", json!("Opaque")),
        "Namespace" => edit(obj, "spec", |spec| {
            default(spec, "finalizers", json!(["kubernetes"]));
        }),
        "HorizontalPodAutoscaler" => edit(obj, "spec", |spec| {
            default(spec, "minReplicas", json!(1));
        }),
        "PersistentVolume" => edit(obj, "spec", |spec| {
            default(spec, "persistentVolumeReclaimPolicy", json!("Retain"));
            default(spec, "volumeMode", json!("Filesystem"));
        }),
        "PersistentVolumeClaim" => edit(obj, "spec", |spec| {
            default(spec, "volumeMode", json!("Filesystem"));
        }),
        "StorageClass" => {
            default(obj, "reclaimPolicy", json!("Delete"));
            default(obj, "volumeBindingMode", json!("Immediate"));
        }
        _ => {}
    }
}

fn service_spec(spec: &mut Map<String, Value>) {
    default(spec, "type", json!("ClusterIP"));
    default(spec, "sessionAffinity", json!("None"));
    let service_type = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if service_type != "ExternalName" {
        default(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if matches!(service_type.as_str(), "NodePort" | "LoadBalancer") {
        default(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            default(port, "protocol", json!("TCP"));
            if let Some(p) = port.get("port").cloned() {
                default(port, "targetPort", p);
            }
        }
    }
}

/// The status a new object of `kind` starts with, whatever the client sent
/// (as Kubernetes' create strategies reset it); `None` keeps the client's.
pub fn initial_status(kind: &str, object: &Value) -> Option<Value> {
    Some(match kind {
        "Pod" => json!({"phase": "Pending", "qosClass": qos_class(object)}),
        "Deployment" | "ReplicaSet" => json!({}),
        "Service" | "Ingress" => json!({"loadBalancer": {}}),
        "Namespace" => json!({"phase": "Active"}),
        "HorizontalPodAutoscaler" => json!({"currentReplicas": 0, "desiredReplicas": 0}),
        "PersistentVolume" | "PersistentVolumeClaim" => json!({"phase": "Pending"}),
        _ => return None,
    })
}

/// Defaults of a workload's pod template.
fn template(spec: &mut Map<String, Value>) {
    edit(spec, "template", |template| {
        edit(template, "spec", pod_spec)
    });
}

/// Runs `f` on the object at `key`, made an empty object first when it is
/// missing or not an object.
fn edit(obj: &mut Map<String, Value>, key: &str, f: impl FnOnce(&mut Map<String, Value>)) {
    let slot = obj.entry(key).or_insert_with(|| json!({}));
    if !slot.is_object() {
        *slot = json!({});
    }
    if let Some(map) = slot.as_object_mut() {
        f(map);
    }
}

/// Sets `key` when it is absent or null.
fn default(obj: &mut Map<String, Value>, key: &str, value: Value) {
    match obj.get(key) {
        Some(v) if !v.is_null() => {}
        _ => {
            obj.insert(key.into(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployments_get_kubernetes_defaults() {
        let mut d = json!({"spec": {"selector": {}, "template": {"spec": {"containers": [
            {"name": "api", "image": "api-server:1.2.0", "ports": [{"containerPort": 8080}]}]}}}});
        apply("Deployment", &mut d);
        assert_eq!(d["spec"]["replicas"], 1);
        assert_eq!(d["spec"]["revisionHistoryLimit"], 10);
        assert_eq!(d["spec"]["progressDeadlineSeconds"], 600);
        assert_eq!(
            d["spec"]["strategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
        );
        let pod = &d["spec"]["template"]["spec"];
        assert_eq!(pod["restartPolicy"], "Always");
        assert_eq!(pod["terminationGracePeriodSeconds"], 30);
        assert_eq!(pod["containers"][0]["imagePullPolicy"], "IfNotPresent");
        assert_eq!(pod["containers"][0]["ports"][0]["protocol"], "TCP");
        // Templates get no tolerations: those come when the pod is created.
        assert!(pod.get("tolerations").is_none());

        let mut recreate = json!({"spec": {"strategy": {"type": "Recreate"}}});
        apply("Deployment", &mut recreate);
        assert_eq!(recreate["spec"]["strategy"], json!({"type": "Recreate"}));
    }

    #[test]
    fn services_default_to_cluster_ip_with_target_ports() {
        let mut s =
            json!({"spec": {"ports": [{"port": 80}, {"port": 443, "targetPort": "https"}]}});
        apply("Service", &mut s);
        assert_eq!(s["spec"]["type"], "ClusterIP");
        assert_eq!(
            s["spec"]["ports"][0],
            json!({"port": 80, "protocol": "TCP", "targetPort": 80})
        );
        assert_eq!(s["spec"]["ports"][1]["targetPort"], "https");
        assert_eq!(
            initial_status("Service", &s),
            Some(json!({"loadBalancer": {}}))
        );
    }
}

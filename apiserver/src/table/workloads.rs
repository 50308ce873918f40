//! Printers of pods and the workloads that own them.

use serde_json::{json, Value};

use super::{
    age, array_at, col, int, int_at, name, or_none, selector_string, since, str_at, wide, Printer,
};

pub(super) fn printer(kind: &str) -> Option<&'static Printer> {
    Some(match kind {
        "Pod" => &POD,
        "Deployment" => &DEPLOYMENT,
        "ReplicaSet" => &REPLICA_SET,
        "HorizontalPodAutoscaler" => &HPA,
        _ => return None,
    })
}

static POD: Printer = Printer {
    columns: &[
        col("Name"),
        col("Ready"),
        col("Status"),
        col("Restarts"),
        col("Age"),
        wide("IP"),
        wide("Node"),
        wide("Nominated Node"),
        wide("Readiness Gates"),
    ],
    cells: pod_cells,
};

fn pod_cells(pod: &Value, now: i64) -> Vec<Value> {
    let containers = array_at(pod, "/spec/containers");
    let statuses = array_at(pod, "/status/containerStatuses");
    let ready = statuses
        .iter()
        .filter(|s| s.get("ready").and_then(Value::as_bool) == Some(true))
        .count();
    let (restarts, last_restart) = restarts(pod);
    let restarts = match last_restart {
        Some(at) if restarts > 0 => format!("{restarts} ({} ago)", since(at, now)),
        _ => restarts.to_string(),
    };
    let gates = array_at(pod, "/spec/readinessGates");
    let gates = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let conditions = array_at(pod, "/status/conditions");
        let met = gates
            .iter()
            .filter(|g| {
                conditions.iter().any(|c| {
                    c.get("type") == g.get("conditionType")
                        && c.get("status").and_then(Value::as_str) == Some("True")
                })
            })
            .count();
        format!("{met}/{}", gates.len())
    };
    vec![
        name(pod),
        json!(format!("{ready}/{}", containers.len())),
        json!(pod_status(pod)),
        json!(restarts),
        age(pod, now),
        json!(or_none(str_at(pod, "/status/podIP").to_string())),
        json!(or_none(str_at(pod, "/spec/nodeName").to_string())),
        json!(or_none(
            str_at(pod, "/status/nominatedNodeName").to_string()
        )),
        json!(gates),
    ]
}

/// Total restarts and when the most recent one happened.
fn restarts(pod: &Value) -> (i64, Option<&str>) {
    let mut total = 0;
    let mut last: Option<&str> = None;
    for s in array_at(pod, "/status/initContainerStatuses")
        .iter()
        .chain(array_at(pod, "/status/containerStatuses"))
    {
        total += int_at(s, "/restartCount");
        let finished = str_at(s, "/lastState/terminated/finishedAt");
        // RFC 3339 UTC timestamps order as strings.
        if !finished.is_empty() && last.is_none_or(|l| finished > l) {
            last = Some(finished);
        }
    }
    (total, last)
}

/// The STATUS column: the phase, refined by what init containers and
/// containers are doing, as kubectl shows it (`Init:0/1`,
/// `CrashLoopBackOff`, `ImagePullBackOff`, `Completed`, `Terminating`).
pub fn pod_status(pod: &Value) -> String {
    let mut reason = str_at(pod, "/status/phase").to_string();
    let status_reason = str_at(pod, "/status/reason");
    if !status_reason.is_empty() {
        reason = status_reason.to_string();
    }
    let init_specs = array_at(pod, "/spec/initContainers");
    let mut initializing = false;
    for (i, s) in array_at(pod, "/status/initContainerStatuses")
        .iter()
        .enumerate()
    {
        let terminated = s.pointer("/state/terminated");
        let waiting_reason = str_at(s, "/state/waiting/reason");
        let exit = terminated.map(|t| int_at(t, "/exitCode"));
        if exit == Some(0) {
            continue;
        }
        if let Some(t) = terminated {
            let r = str_at(t, "/reason");
            reason = if !r.is_empty() {
                format!("Init:{r}")
            } else if int_at(t, "/signal") != 0 {
                format!("Init:Signal:{}", int_at(t, "/signal"))
            } else {
                format!("Init:ExitCode:{}", int_at(t, "/exitCode"))
            };
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            reason = format!("Init:{waiting_reason}");
        } else {
            reason = format!("Init:{i}/{}", init_specs.len());
        }
        initializing = true;
        break;
    }
    if !initializing {
        let mut has_running = false;
        for s in array_at(pod, "/status/containerStatuses").iter().rev() {
            let waiting = str_at(s, "/state/waiting/reason");
            let terminated = s.pointer("/state/terminated");
            if !waiting.is_empty() {
                reason = waiting.to_string();
            } else if let Some(t) = terminated {
                let r = str_at(t, "/reason");
                reason = if !r.is_empty() {
                    r.to_string()
                } else if int_at(t, "/signal") != 0 {
                    format!("Signal:{}", int_at(t, "/signal"))
                } else {
                    format!("ExitCode:{}", int_at(t, "/exitCode"))
                };
            } else if s.pointer("/state/running").is_some()
                && s.get("ready").and_then(Value::as_bool) == Some(true)
            {
                has_running = true;
            }
        }
        if reason == "Completed" && has_running {
            let ready = array_at(pod, "/status/conditions")
                .iter()
                .any(|c| str_at(c, "/type") == "Ready" && str_at(c, "/status") == "True");
            reason = if ready { "Running" } else { "NotReady" }.into();
        }
    }
    if pod
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
    {
        reason = if status_reason == "NodeLost" {
            "Unknown".into()
        } else {
            "Terminating".into()
        };
    }
    if reason.is_empty() {
        "Pending".into()
    } else {
        reason
    }
}

fn containers_and_images(o: &Value, containers: &str) -> (Value, Value) {
    let list = array_at(o, containers);
    let names: Vec<&str> = list.iter().map(|c| str_at(c, "/name")).collect();
    let images: Vec<&str> = list.iter().map(|c| str_at(c, "/image")).collect();
    (json!(names.join(",")), json!(images.join(",")))
}

/// A `LabelSelector` as kubectl prints it: matchLabels then expressions.
fn label_selector(o: &Value, pointer: &str) -> String {
    let mut parts = Vec::new();
    let labels = selector_string(o, &format!("{pointer}/matchLabels"));
    if !labels.is_empty() {
        parts.push(labels);
    }
    for e in array_at(o, &format!("{pointer}/matchExpressions")) {
        let key = str_at(e, "/key");
        let values: Vec<&str> = array_at(e, "/values")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        parts.push(match str_at(e, "/operator") {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_string(),
            "DoesNotExist" => format!("!{key}"),
            other => format!("{key} {other}"),
        });
    }
    or_none(parts.join(","))
}

static DEPLOYMENT: Printer = Printer {
    columns: &[
        col("Name"),
        col("Ready"),
        int("Up-to-date"),
        int("Available"),
        col("Age"),
        wide("Containers"),
        wide("Images"),
        wide("Selector"),
    ],
    cells: |d, now| {
        let (containers, images) = containers_and_images(d, "/spec/template/spec/containers");
        vec![
            name(d),
            json!(format!(
                "{}/{}",
                int_at(d, "/status/readyReplicas"),
                d.pointer("/spec/replicas")
                    .and_then(Value::as_i64)
                    .unwrap_or(1)
            )),
            json!(int_at(d, "/status/updatedReplicas")),
            json!(int_at(d, "/status/availableReplicas")),
            age(d, now),
            containers,
            images,
            json!(label_selector(d, "/spec/selector")),
        ]
    },
};

static REPLICA_SET: Printer = Printer {
    columns: &[
        col("Name"),
        int("Desired"),
        int("Current"),
        int("Ready"),
        col("Age"),
        wide("Containers"),
        wide("Images"),
        wide("Selector"),
    ],
    cells: |r, now| {
        let (containers, images) = containers_and_images(r, "/spec/template/spec/containers");
        vec![
            name(r),
            json!(r
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(1)),
            json!(int_at(r, "/status/replicas")),
            json!(int_at(r, "/status/readyReplicas")),
            age(r, now),
            containers,
            images,
            json!(label_selector(r, "/spec/selector")),
        ]
    },
};

static HPA: Printer = Printer {
    columns: &[
        col("Name"),
        col("Reference"),
        col("Targets"),
        int("MinPods"),
        int("MaxPods"),
        int("Replicas"),
        col("Age"),
    ],
    cells: |h, now| {
        let reference = format!(
            "{}/{}",
            str_at(h, "/spec/scaleTargetRef/kind"),
            str_at(h, "/spec/scaleTargetRef/name")
        );
        vec![
            name(h),
            json!(reference),
            json!(hpa_targets(h)),
            json!(h
                .pointer("/spec/minReplicas")
                .and_then(Value::as_i64)
                .unwrap_or(1)),
            json!(int_at(h, "/spec/maxReplicas")),
            json!(int_at(h, "/status/currentReplicas")),
            age(h, now),
        ]
    },
};

/// TARGETS of an autoscaling/v2 HPA: `cpu: <unknown>/50%` per resource
/// metric, current values from status when known.
fn hpa_targets(h: &Value) -> String {
    let current = array_at(h, "/status/currentMetrics");
    let targets: Vec<String> = array_at(h, "/spec/metrics")
        .iter()
        .map(|m| {
            let kind = str_at(m, "/type");
            if kind != "Resource" {
                return format!("<{}>", kind.to_lowercase());
            }
            let resource = str_at(m, "/resource/name");
            let seen = current
                .iter()
                .find(|c| str_at(c, "/resource/name") == resource);
            match m.pointer("/resource/target/averageUtilization") {
                Some(target) => {
                    let now = seen
                        .and_then(|c| c.pointer("/resource/current/averageUtilization"))
                        .map(|v| format!("{v}%"))
                        .unwrap_or_else(|| "<unknown>".into());
                    format!("{resource}: {now}/{target}%")
                }
                None => {
                    let target = str_at(m, "/resource/target/averageValue");
                    let now = seen
                        .map(|c| str_at(c, "/resource/current/averageValue").to_string())
                        .filter(|v| !v.is_empty())
                        .unwrap_or_else(|| "<unknown>".into());
                    format!("{resource}: {now}/{target}")
                }
            }
        })
        .collect();
    or_none(targets.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_status_reads_as_kubectl_shows_it() {
        let waiting = json!({"status": {"phase": "Pending", "containerStatuses": [
            {"name": "c", "state": {"waiting": {"reason": "ImagePullBackOff"}}}]}});
        assert_eq!(pod_status(&waiting), "ImagePullBackOff");
        let crash = json!({"status": {"phase": "Running", "containerStatuses": [
            {"name": "c", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        assert_eq!(pod_status(&crash), "CrashLoopBackOff");
        let init = json!({"spec": {"initContainers": [{"name": "i"}, {"name": "j"}]},
            "status": {"phase": "Pending", "initContainerStatuses": [
                {"name": "i", "state": {"terminated": {"exitCode": 0}}},
                {"name": "j", "state": {"running": {}}}]}});
        assert_eq!(pod_status(&init), "Init:1/2");
        let deleting = json!({"metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"},
            "status": {"phase": "Running"}});
        assert_eq!(pod_status(&deleting), "Terminating");
        assert_eq!(pod_status(&json!({})), "Pending");
        let exited = json!({"status": {"phase": "Failed", "containerStatuses": [
            {"name": "c", "state": {"terminated": {"exitCode": 2}}}]}});
        assert_eq!(pod_status(&exited), "ExitCode:2");
    }

    #[test]
    fn deployment_and_hpa_rows() {
        let d = json!({"metadata": {"name": "api"}, "spec": {"replicas": 3,
            "selector": {"matchLabels": {"app": "api"}},
            "template": {"spec": {"containers": [{"name": "api", "image": "api:1"}]}}},
            "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}});
        let cells = (DEPLOYMENT.cells)(&d, 0);
        assert_eq!(cells[1], "2/3");
        assert_eq!(cells[2], 3);
        assert_eq!(cells[7], "app=api");
        let h = json!({"metadata": {"name": "h"}, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "api"},
            "minReplicas": 2, "maxReplicas": 10,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]}});
        let cells = (HPA.cells)(&h, 0);
        assert_eq!(cells[1], "Deployment/api");
        assert_eq!(cells[2], "cpu: <unknown>/70%");
    }
}

//! `berth-bench apply-ready`: how long `kubectl apply -f MANIFEST` takes to
//! give a Deployment whose every pod is Ready, as a user sees it: from
//! starting stock kubectl (discovery, the apply's GET and create) until a
//! watch of the namespace's pods shows `spec.replicas` of the Deployment's
//! pods Ready. Runs go one after another, each from nothing: after each,
//! `kubectl delete -f MANIFEST --wait=false`, then the Deployment and every
//! pod it selected are waited away.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use berth_client::{Api, Client, ListParams, WatchEvent};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde::Serialize;

/// How often the wait for a deleted Deployment's pods lists them.
const GONE_POLL: Duration = Duration::from_millis(50);

/// The shape of a run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The API server, for the watch and the waits.
    pub url: String,
    /// Its bearer token, if it wants one.
    pub token: Option<String>,
    /// The kubectl to run.
    pub kubectl: PathBuf,
    /// kubectl's `--kubeconfig`.
    pub kubeconfig: PathBuf,
    /// The manifest applied and deleted.
    pub manifest: PathBuf,
    /// Namespace of the Deployment (created when absent).
    pub namespace: String,
    /// Which Deployment of the manifest to wait for; None: its only one.
    pub deployment: Option<String>,
    /// Runs to measure.
    pub runs: usize,
    /// Longest wait for one run, and for one deletion.
    pub timeout: Duration,
}

/// What a run measured, in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Runs measured.
    pub runs: usize,
    /// Pods each run waited for (the Deployment's `spec.replicas`).
    pub replicas: i32,
    /// Median apply → every pod Ready.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest.
    pub max_ms: f64,
    /// Each run's time, in order.
    pub each_ms: Vec<f64>,
}

impl Report {
    /// The table's header.
    pub fn header() -> String {
        format!(
            "{:>5} {:>8} {:>9} {:>9} {:>9} {:>9}  each (ms)",
            "runs", "replicas", "p50", "p90", "p99", "max"
        )
    }

    /// The table's row.
    pub fn row(&self) -> String {
        let each = self
            .each_ms
            .iter()
            .map(|ms| format!("{ms:.0}"))
            .collect::<Vec<_>>()
            .join(",");
        format!(
            "{:>5} {:>8} {:>7.0}ms {:>7.0}ms {:>7.0}ms {:>7.0}ms  {each}",
            self.runs, self.replicas, self.p50_ms, self.p90_ms, self.p99_ms, self.max_ms
        )
    }
}

/// Why a run could not complete.
#[derive(Debug, thiserror::Error)]
pub enum ApplyReadyError {
    /// A call to the API server failed.
    #[error("{0}: {1}")]
    Call(String, berth_client::Error),
    /// kubectl could not be started.
    #[error("running {0}: {1}")]
    Spawn(String, std::io::Error),
    /// kubectl exited with a failure.
    #[error("kubectl {args}: {status}: {stderr}")]
    Kubectl {
        args: String,
        status: std::process::ExitStatus,
        stderr: String,
    },
    /// The manifest does not name one Deployment to wait for.
    #[error("manifest {0}: {1}")]
    Manifest(String, String),
    /// A watch ended or reported an error before the run completed.
    #[error("watching pods: {0}")]
    Watch(String),
    /// A run, or a deletion, did not finish in time.
    #[error("{0} not done within {1:?}")]
    Timeout(String, Duration),
}

/// Whether `selector` selects an object with `labels`, as the controllers
/// decide it; a selector Kubernetes would refuse selects nothing.
fn selects(selector: &LabelSelector, labels: Option<&BTreeMap<String, String>>) -> bool {
    berth_controllers::controller_ref::selector_matches(selector, labels).unwrap_or(false)
}

fn ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The Deployment `wanted` (or the only one) among the objects kubectl
/// printed for the manifest: one object, or a `List` of them.
fn deployment_of(printed: &serde_json::Value, wanted: Option<&str>) -> Result<Deployment, String> {
    let objects = match printed.get("kind").and_then(|k| k.as_str()) {
        Some("List") => printed
            .get("items")
            .and_then(|i| i.as_array())
            .map(|i| i.iter().collect())
            .unwrap_or_default(),
        _ => vec![printed],
    };
    let mut found: Vec<Deployment> = Vec::new();
    for object in objects {
        let kind = object.get("kind").and_then(|k| k.as_str());
        let api_version = object.get("apiVersion").and_then(|v| v.as_str());
        if kind != Some("Deployment") || api_version != Some("apps/v1") {
            continue;
        }
        let deployment: Deployment =
            serde_json::from_value(object.clone()).map_err(|e| format!("a Deployment: {e}"))?;
        if wanted.is_none_or(|w| deployment.metadata.name.as_deref() == Some(w)) {
            found.push(deployment);
        }
    }
    match (found.len(), wanted) {
        (1, _) => Ok(found.remove(0)),
        (0, Some(w)) => Err(format!("no apps/v1 Deployment named {w:?}")),
        (0, None) => Err("no apps/v1 Deployment".into()),
        (n, _) => Err(format!("{n} Deployments: choose one with --deployment")),
    }
}

/// The pods one run waits for, by uid: the Deployment's, not being deleted.
struct Pods<'a> {
    selector: &'a LabelSelector,
    ready: HashMap<String, bool>,
}

impl<'a> Pods<'a> {
    fn new(selector: &'a LabelSelector) -> Self {
        Pods {
            selector,
            ready: HashMap::new(),
        }
    }

    /// Takes in one pod's new state; `gone` when it was deleted.
    fn observe(&mut self, pod: &Pod, gone: bool) {
        let Some(uid) = pod.metadata.uid.clone() else {
            return;
        };
        let counts = !gone
            && pod.metadata.deletion_timestamp.is_none()
            && selects(self.selector, pod.metadata.labels.as_ref());
        if counts {
            self.ready.insert(uid, ready(pod));
        } else {
            self.ready.remove(&uid);
        }
    }

    fn ready(&self) -> usize {
        self.ready.values().filter(|r| **r).count()
    }
}

/// Runs kubectl on the config's kubeconfig and namespace; its stdout.
async fn kubectl<I, S>(config: &Config, args: I) -> Result<Vec<u8>, ApplyReadyError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<_> = args
        .into_iter()
        .map(|a| a.as_ref().to_os_string())
        .collect();
    let output = tokio::process::Command::new(&config.kubectl)
        .arg("--kubeconfig")
        .arg(&config.kubeconfig)
        .arg("--namespace")
        .arg(&config.namespace)
        .args(&args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| ApplyReadyError::Spawn(config.kubectl.display().to_string(), e))?;
    if !output.status.success() {
        return Err(ApplyReadyError::Kubectl {
            args: args
                .iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" "),
            status: output.status,
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    Ok(output.stdout)
}

/// The cluster side of a run: the Deployment's and its pods' calls.
struct Target<'a> {
    config: &'a Config,
    name: String,
    selector: LabelSelector,
    deployments: Api<Deployment>,
    pods: Api<Pod>,
}

fn call(what: &str) -> impl FnOnce(berth_client::Error) -> ApplyReadyError {
    let what = what.to_string();
    move |e| ApplyReadyError::Call(what, e)
}

impl Target<'_> {
    /// Whether the Deployment or any pod it selects is still there.
    async fn present(&self) -> Result<bool, ApplyReadyError> {
        if self
            .deployments
            .get_opt(&self.name)
            .await
            .map_err(call("getting the Deployment"))?
            .is_some()
        {
            return Ok(true);
        }
        let (pods, _) = self
            .pods
            .list_all(&ListParams::default())
            .await
            .map_err(call("listing pods"))?;
        Ok(pods
            .iter()
            .any(|p| selects(&self.selector, p.metadata.labels.as_ref())))
    }

    /// Deletes the manifest's objects and waits until the Deployment and
    /// its pods (terminating ones included) are gone, so the next run
    /// starts from nothing.
    async fn clear(&self) -> Result<(), ApplyReadyError> {
        let manifest = self.config.manifest.as_os_str();
        kubectl(
            self.config,
            [
                OsStr::new("delete"),
                OsStr::new("-f"),
                manifest,
                OsStr::new("--wait=false"),
                OsStr::new("--ignore-not-found"),
            ],
        )
        .await?;
        let deadline = Instant::now() + self.config.timeout;
        while self.present().await? {
            if Instant::now() > deadline {
                return Err(ApplyReadyError::Timeout(
                    format!("deployment {}'s deletion", self.name),
                    self.config.timeout,
                ));
            }
            tokio::time::sleep(GONE_POLL).await;
        }
        Ok(())
    }

    /// One run: apply, then wait for `replicas` Ready pods.
    async fn measure(&self, replicas: usize) -> Result<Duration, ApplyReadyError> {
        // Watch from before the apply, so no pod's Ready can be missed.
        let version = self
            .pods
            .list(&ListParams {
                limit: 1,
                ..ListParams::default()
            })
            .await
            .map_err(call("listing pods"))?
            .metadata
            .resource_version
            .unwrap_or_default();
        let mut events = Box::pin(
            self.pods
                .watch(&ListParams::default(), &version)
                .await
                .map_err(call("watching pods"))?,
        );
        let mut pods = Pods::new(&self.selector);
        let started = Instant::now();
        let manifest = self.config.manifest.as_os_str();
        let apply = kubectl(
            self.config,
            [OsStr::new("apply"), OsStr::new("-f"), manifest],
        );
        tokio::pin!(apply);
        let mut applied = false;
        let deadline = tokio::time::sleep(self.config.timeout);
        tokio::pin!(deadline);
        let timeout = || {
            ApplyReadyError::Timeout(
                format!("apply until {replicas} pods of {} Ready", self.name),
                self.config.timeout,
            )
        };
        // The end is when kubectl has exited and the pods are Ready,
        // whichever comes last; the watch is read while kubectl runs, so
        // each event is seen when it comes.
        while !(applied && pods.ready() >= replicas) {
            tokio::select! {
                result = &mut apply, if !applied => {
                    result?;
                    applied = true;
                }
                event = events.next() => match event {
                    Some(Ok(WatchEvent::Added(p) | WatchEvent::Modified(p))) => pods.observe(&p, false),
                    Some(Ok(WatchEvent::Deleted(p))) => pods.observe(&p, true),
                    Some(Ok(WatchEvent::Bookmark(_))) => {}
                    Some(Ok(WatchEvent::Error(status))) => {
                        return Err(ApplyReadyError::Watch(status.message.unwrap_or_default()));
                    }
                    Some(Err(e)) => return Err(call("watching pods")(e)),
                    None => return Err(ApplyReadyError::Watch("the watch ended".into())),
                },
                _ = &mut deadline => return Err(timeout()),
            }
        }
        Ok(started.elapsed())
    }
}

/// Runs the benchmark.
pub async fn run(config: &Config) -> Result<Report, ApplyReadyError> {
    let mut client = Client::new(&config.url).map_err(call("connecting"))?;
    if let Some(token) = &config.token {
        client = client.with_token(token).map_err(call("--token"))?;
    }
    crate::pod_startup::ensure_namespace(&client, &config.namespace)
        .await
        .map_err(call("creating the namespace"))?;
    // The manifest as kubectl reads it (YAML, several documents): a
    // client-side dry run prints it as JSON without changing the cluster.
    let manifest = config.manifest.display().to_string();
    let printed = kubectl(
        config,
        [
            OsStr::new("create"),
            OsStr::new("--dry-run=client"),
            OsStr::new("-o"),
            OsStr::new("json"),
            OsStr::new("-f"),
            config.manifest.as_os_str(),
        ],
    )
    .await?;
    let printed: serde_json::Value = serde_json::from_slice(&printed)
        .map_err(|e| ApplyReadyError::Manifest(manifest.clone(), format!("kubectl's JSON: {e}")))?;
    let deployment = deployment_of(&printed, config.deployment.as_deref())
        .map_err(|e| ApplyReadyError::Manifest(manifest.clone(), e))?;
    let name = deployment.metadata.name.clone().unwrap_or_default();
    let spec = deployment.spec.unwrap_or_default();
    // spec.replicas defaults to 1 (apps/v1 SetDefaults_Deployment).
    let replicas = spec.replicas.unwrap_or(1);
    let wait_for = usize::try_from(replicas)
        .map_err(|_| ApplyReadyError::Manifest(manifest.clone(), format!("replicas {replicas}")))?;
    let target = Target {
        config,
        name,
        selector: spec.selector,
        deployments: Api::namespaced(client.clone(), &config.namespace),
        pods: Api::namespaced(client, &config.namespace),
    };
    if target.present().await? {
        target.clear().await?;
    }
    let mut latency = crate::sched::histogram();
    let mut each_ms = Vec::with_capacity(config.runs);
    for _ in 0..config.runs {
        let took = target.measure(wait_for).await?;
        crate::sched::record(&mut latency, took);
        each_ms.push(took.as_secs_f64() * 1000.0);
        // After the last run too: the cluster is left as it was found.
        target.clear().await?;
    }
    let ms = |q: f64| latency.value_at_quantile(q) as f64 / 1000.0;
    Ok(Report {
        runs: each_ms.len(),
        replicas,
        p50_ms: ms(0.5),
        p90_ms: ms(0.9),
        p99_ms: ms(0.99),
        max_ms: latency.max() as f64 / 1000.0,
        each_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn deployment(name: &str) -> serde_json::Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": []}},
            },
        })
    }

    #[test]
    fn match_labels_select_pods_with_every_pair() {
        let selector = LabelSelector {
            match_labels: Some(labels(&[("app", "api-server")])),
            ..LabelSelector::default()
        };
        let wanted = labels(&[("app", "api-server"), ("pod-template-hash", "abc")]);
        assert!(selects(&selector, Some(&wanted)));
        assert!(!selects(&selector, Some(&labels(&[("app", "web")]))));
        assert!(!selects(&selector, None));
    }

    #[test]
    fn match_expressions_follow_the_label_selector_operators() {
        let requirement = |operator: &str, values: &[&str]| LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: operator.into(),
                values: Some(values.iter().map(|v| v.to_string()).collect()),
            }]),
            ..LabelSelector::default()
        };
        let web = labels(&[("tier", "web")]);
        let none = labels(&[]);
        assert!(selects(&requirement("In", &["web", "api"]), Some(&web)));
        assert!(!selects(&requirement("In", &["api"]), Some(&web)));
        assert!(!selects(&requirement("NotIn", &["web"]), Some(&web)));
        assert!(selects(&requirement("NotIn", &["web"]), Some(&none)));
        assert!(selects(&requirement("Exists", &[]), Some(&web)));
        assert!(selects(&requirement("DoesNotExist", &[]), Some(&none)));
        assert!(!selects(&requirement("Unknown", &[]), Some(&web)));
    }

    #[test]
    fn the_only_deployment_of_a_list_is_found() {
        let printed = json!({
            "apiVersion": "v1",
            "kind": "List",
            "items": [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api"}},
                      deployment("api-server")],
        });
        let d = deployment_of(&printed, None).expect("one Deployment");
        assert_eq!(d.metadata.name.as_deref(), Some("api-server"));
        assert_eq!(d.spec.and_then(|s| s.replicas), Some(3));
    }

    #[test]
    fn several_deployments_need_a_name() {
        let printed = json!({
            "kind": "List",
            "items": [deployment("a"), deployment("b")],
        });
        assert!(deployment_of(&printed, None).is_err());
        let b = deployment_of(&printed, Some("b")).expect("b is there");
        assert_eq!(b.metadata.name.as_deref(), Some("b"));
        assert!(deployment_of(&printed, Some("c")).is_err());
        assert!(deployment_of(&deployment("a"), Some("a")).is_ok());
    }

    #[test]
    fn only_live_selected_ready_pods_count() {
        let selector = LabelSelector {
            match_labels: Some(labels(&[("app", "api-server")])),
            ..LabelSelector::default()
        };
        let pod = |uid: &str, app: &str, is_ready: bool| -> Pod {
            serde_json::from_value(json!({
                "metadata": {"uid": uid, "labels": {"app": app}},
                "status": {"conditions": [
                    {"type": "Ready", "status": if is_ready { "True" } else { "False" }}
                ]},
            }))
            .expect("a pod")
        };
        let mut pods = Pods::new(&selector);
        pods.observe(&pod("1", "api-server", false), false);
        pods.observe(&pod("2", "web", true), false);
        assert_eq!(pods.ready(), 0);
        pods.observe(&pod("1", "api-server", true), false);
        pods.observe(&pod("3", "api-server", true), false);
        assert_eq!(pods.ready(), 2);
        pods.observe(&pod("3", "api-server", true), true);
        assert_eq!(pods.ready(), 1);
        let mut deleting = pod("1", "api-server", true);
        deleting.metadata.deletion_timestamp =
            serde_json::from_value(json!("2024-01-01T00:00:00Z")).ok();
        pods.observe(&deleting, false);
        assert_eq!(pods.ready(), 0);
    }

    #[test]
    fn a_row_lists_each_run() {
        let report = Report {
            runs: 2,
            replicas: 3,
            p50_ms: 800.0,
            p90_ms: 900.0,
            p99_ms: 900.0,
            max_ms: 900.0,
            each_ms: vec![800.4, 900.0],
        };
        assert!(report.row().ends_with("  800,900"), "{}", report.row());
    }
}

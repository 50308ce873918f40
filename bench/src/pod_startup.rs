//! `berth-bench pod-startup`: how long a pod takes from its creation to
//! Ready, with its image already on the node: the measure of Kubernetes'
//! pod startup SLO (p99 ≤ 5 s, image pulls excluded). Pods are created one
//! after another, each waited for before the next, against a cluster whose
//! agents run them; each is deleted after it is measured.

use std::time::{Duration, Instant};

use berth_client::{Api, Client, ListParams, WatchEvent};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Container, Namespace, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

/// The shape of a run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The API server.
    pub url: String,
    /// Namespace of the pods (created when absent).
    pub namespace: String,
    /// Pods to measure.
    pub pods: usize,
    /// Their image (present on the nodes).
    pub image: String,
    /// Longest wait for one pod.
    pub timeout: Duration,
}

/// What a run measured, in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Pods measured.
    pub pods: usize,
    /// Median creation → Ready.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest.
    pub max_ms: f64,
}

impl Report {
    /// The table's header.
    pub fn header() -> String {
        format!(
            "{:>6} {:>9} {:>9} {:>9} {:>9}",
            "pods", "p50", "p90", "p99", "max"
        )
    }

    /// The table's row.
    pub fn row(&self) -> String {
        format!(
            "{:>6} {:>7.0}ms {:>7.0}ms {:>7.0}ms {:>7.0}ms",
            self.pods, self.p50_ms, self.p90_ms, self.p99_ms, self.max_ms
        )
    }
}

/// Why a run could not complete.
#[derive(Debug, thiserror::Error)]
pub enum PodStartupError {
    /// A call to the API server failed.
    #[error("{0}: {1}")]
    Call(String, berth_client::Error),
    /// A pod was not Ready in time.
    #[error("pod {0} not Ready within {1:?}")]
    Timeout(String, Duration),
}

fn ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Runs the benchmark.
pub async fn run(config: &Config) -> Result<Report, PodStartupError> {
    let call = |what: &str| {
        let what = what.to_string();
        move |e| PodStartupError::Call(what, e)
    };
    let client = Client::new(&config.url).map_err(call("connecting"))?;
    ensure_namespace(&client, &config.namespace)
        .await
        .map_err(call("creating the namespace"))?;
    let pods: Api<Pod> = Api::namespaced(client, &config.namespace);
    let mut latency = crate::sched::histogram();
    for i in 0..config.pods {
        let name = format!("startup-{i}");
        let pod = Pod {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                labels: Some([("app".to_string(), "pod-startup".to_string())].into()),
                ..ObjectMeta::default()
            },
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "app".into(),
                    image: Some(config.image.clone()),
                    image_pull_policy: Some("IfNotPresent".into()),
                    ..Container::default()
                }],
                termination_grace_period_seconds: Some(1),
                ..PodSpec::default()
            }),
            ..Pod::default()
        };
        // Watch from before the creation, so Ready cannot be missed.
        let (_, version) = pods
            .list(&ListParams::fields(&format!("metadata.name={name}")))
            .await
            .map(|l| ((), l.metadata.resource_version.unwrap_or_default()))
            .map_err(call("listing"))?;
        let mut events = Box::pin(
            pods.watch(
                &ListParams::fields(&format!("metadata.name={name}")),
                &version,
            )
            .await
            .map_err(call("watching"))?,
        );
        let started = Instant::now();
        pods.create(&pod).await.map_err(call("creating a pod"))?;
        let deadline = tokio::time::sleep(config.timeout);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                event = events.next() => match event {
                    Some(Ok(WatchEvent::Added(p) | WatchEvent::Modified(p))) if ready(&p) => break,
                    Some(Err(e)) => return Err(call("watching")(e)),
                    None => return Err(PodStartupError::Timeout(name, config.timeout)),
                    _ => {}
                },
                _ = &mut deadline => return Err(PodStartupError::Timeout(name, config.timeout)),
            }
        }
        crate::sched::record(&mut latency, started.elapsed());
        pods.delete(&name).await.map_err(call("deleting a pod"))?;
    }
    // The last pods' terminations finish before the run ends, so nothing
    // is left running on the node.
    let deadline = Instant::now() + config.timeout;
    while !pods
        .list(&ListParams::labels("app=pod-startup"))
        .await
        .map_err(call("listing"))?
        .items
        .is_empty()
    {
        if Instant::now() > deadline {
            return Err(PodStartupError::Timeout(
                "the last pods' deletion".into(),
                config.timeout,
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ms = |q: f64| latency.value_at_quantile(q) as f64 / 1000.0;
    Ok(Report {
        pods: latency.len() as usize,
        p50_ms: ms(0.5),
        p90_ms: ms(0.9),
        p99_ms: ms(0.99),
        max_ms: latency.max() as f64 / 1000.0,
    })
}

/// Creates namespace `name` unless it exists.
pub(crate) async fn ensure_namespace(
    client: &Client,
    name: &str,
) -> Result<(), berth_client::Error> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let wanted = Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    match namespaces.create(&wanted).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_already_exists() => Ok(()),
        Err(e) => Err(e),
    }
}

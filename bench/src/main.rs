//! `berth-bench store <workload>`: one workload against the given
//! endpoints, printed as a table row or JSON.

use std::time::Duration;

use anyhow::Result;
use berth_bench::{run, Config, Report, Workload};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "berth-bench",
    about = "Benchmarks of berth against the reference"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// A store through the etcd v3 API (berth or etcd).
    Store(StoreArgs),
    /// Side by side: JSON reports (one per line) of two targets, medians
    /// per workload and ratios.
    Compare(CompareArgs),
    /// Puts until one succeeds (each try bounded by --try-ms, on the
    /// endpoints in turn) and prints the milliseconds it took: the
    /// measuring half of a failover round (bench/failover.sh).
    FirstPut(FirstPutArgs),
    /// Scheduling throughput and latency: N nodes, M pending pods.
    Sched(SchedArgs),
    /// Pod startup latency (creation to Ready, image present) through a
    /// running cluster's API.
    PodStartup(PodStartupArgs),
    /// `kubectl apply -f MANIFEST` until every pod of its Deployment is
    /// Ready, run after run, each from nothing.
    ApplyReady(ApplyReadyArgs),
}

#[derive(clap::Args)]
struct ApplyReadyArgs {
    /// The API server, for the watch of the pods.
    #[arg(long, default_value = "http://127.0.0.1:6443")]
    api: String,
    /// The bearer token for --api (the kubeconfig's `token`), if it wants one.
    #[arg(long)]
    token: Option<String>,
    /// kubectl's kubeconfig (e.g. DATA_DIR/kubeconfig of `berth up`).
    #[arg(long)]
    kubeconfig: std::path::PathBuf,
    /// The manifest to apply (e.g. ../shared/manifests/deployment.yaml).
    #[arg(long)]
    manifest: std::path::PathBuf,
    /// The Deployment of the manifest to wait for (default: its only one).
    #[arg(long)]
    deployment: Option<String>,
    /// Namespace to apply in.
    #[arg(long, default_value = "default")]
    namespace: String,
    /// Runs to measure, one after another.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
    runs: u64,
    /// Seconds one run, or one deletion, may take.
    #[arg(long, default_value_t = 120)]
    timeout_seconds: u64,
    /// The kubectl to run.
    #[arg(long, default_value = "kubectl")]
    kubectl: std::path::PathBuf,
    /// Print the report as one line of JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct PodStartupArgs {
    /// The API server.
    #[arg(long, default_value = "http://127.0.0.1:6443")]
    api: String,
    /// Pods to measure, one after another.
    #[arg(long, default_value_t = 50)]
    pods: usize,
    /// Their image, already on the nodes.
    #[arg(long, default_value = "api-server:1.2.0")]
    image: String,
    /// Namespace of the pods.
    #[arg(long, default_value = "pod-startup")]
    namespace: String,
    /// Seconds one pod may take.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// Print the report as one line of JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct SchedArgs {
    /// Nodes.
    #[arg(long, default_value_t = 5000)]
    nodes: usize,
    /// Pods to schedule and measure.
    #[arg(long, default_value_t = 10_000)]
    pods: usize,
    /// Pods already bound before measuring.
    #[arg(long, default_value_t = 0)]
    existing: usize,
    /// Pods per app label (the default topology spread groups by it).
    #[arg(long, default_value_t = 100)]
    pods_per_app: usize,
    /// Zones the nodes are spread over.
    #[arg(long, default_value_t = 3)]
    zones: usize,
    /// Through a running berth server's API at this URL (e.g.
    /// http://127.0.0.1:6443) instead of the scheduler in this process.
    #[arg(long)]
    api: Option<String>,
    /// Namespace of the API run's pods.
    #[arg(long, default_value = "sched-bench")]
    namespace: String,
    /// Seconds the API run waits for every pod to be bound.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    /// Print the report as one line of JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct FirstPutArgs {
    #[arg(long, value_delimiter = ',')]
    endpoints: Vec<String>,
    /// Milliseconds one try may take.
    #[arg(long, default_value_t = 200)]
    try_ms: u64,
    /// Seconds before giving up.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
}

#[derive(clap::Args)]
struct CompareArgs {
    /// Files of JSON reports, one per line (`store ... --json`).
    files: Vec<std::path::PathBuf>,
    /// The reference target's label.
    #[arg(long, default_value = "etcd")]
    baseline: String,
    /// The compared target's label.
    #[arg(long, default_value = "berth")]
    other: String,
}

#[derive(clap::Args)]
struct StoreArgs {
    /// What to run.
    #[arg(value_enum)]
    workload: Workload,
    /// Members to use, comma-separated `host:port` or URLs.
    #[arg(long, default_value = "127.0.0.1:2379", value_delimiter = ',')]
    endpoints: Vec<String>,
    /// A label for the report.
    #[arg(long, default_value = "berth")]
    target: String,
    /// The workload's name in the report (default: the workload's).
    #[arg(long)]
    name: Option<String>,
    /// Concurrent clients.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// gRPC connections shared by the clients.
    #[arg(long, default_value_t = 4)]
    conns: usize,
    /// Seconds to run.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Distinct keys.
    #[arg(long, default_value_t = 10_000)]
    keys: usize,
    /// Bytes per value.
    #[arg(long, default_value_t = 256)]
    value_size: usize,
    /// `l` (linearizable) or `s` (serializable) reads.
    #[arg(long, default_value = "l")]
    consistency: String,
    /// Watchers of the watch workload.
    #[arg(long, default_value_t = 100)]
    watchers: usize,
    /// Puts per second of the watch workload.
    #[arg(long, default_value_t = 100)]
    rate: u64,
    /// Keys each range reads.
    #[arg(long, default_value_t = 100)]
    range_keys: usize,
    /// Stop after this many operations in all, if the duration has not
    /// ended first (0: no limit).
    #[arg(long, default_value_t = 0)]
    ops: u64,
    /// Print the report as one line of JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = match Cli::parse().command {
        Command::Store(args) => args,
        Command::Compare(args) => return compare(args),
        Command::FirstPut(args) => return first_put(args).await,
        Command::Sched(args) => return sched(args).await,
        Command::PodStartup(args) => return pod_startup(args).await,
        Command::ApplyReady(args) => return apply_ready(args).await,
    };
    let serializable = match args.consistency.as_str() {
        "l" => false,
        "s" => true,
        other => anyhow::bail!("--consistency is l or s, not {other:?}"),
    };
    let config = Config {
        endpoints: args.endpoints,
        target: args.target,
        clients: args.clients,
        conns: args.conns,
        duration: Duration::from_secs_f64(args.duration.max(0.1)),
        keys: args.keys,
        value_size: args.value_size,
        serializable,
        watchers: args.watchers,
        rate: args.rate,
        range_keys: args.range_keys,
        ops: args.ops,
    };
    let mut report = run(args.workload, &config).await?;
    if let Some(name) = args.name {
        report.workload = name;
    }
    print(args.json, &report, Report::header(), report.row())
}

async fn pod_startup(args: PodStartupArgs) -> Result<()> {
    use berth_bench::pod_startup::{self, Config, Report};
    let report = pod_startup::run(&Config {
        url: args.api,
        namespace: args.namespace,
        pods: args.pods,
        image: args.image,
        timeout: Duration::from_secs(args.timeout),
    })
    .await?;
    print(args.json, &report, Report::header(), report.row())
}

async fn apply_ready(args: ApplyReadyArgs) -> Result<()> {
    use berth_bench::apply_ready::{self, Config, Report};
    let report = apply_ready::run(&Config {
        url: args.api,
        token: args.token,
        kubectl: args.kubectl,
        kubeconfig: args.kubeconfig,
        manifest: args.manifest,
        namespace: args.namespace,
        deployment: args.deployment,
        runs: usize::try_from(args.runs)?,
        timeout: Duration::from_secs(args.timeout_seconds),
    })
    .await?;
    print(args.json, &report, Report::header(), report.row())
}

async fn sched(args: SchedArgs) -> Result<()> {
    use berth_bench::sched;
    let config = sched::Config {
        nodes: args.nodes,
        pods: args.pods,
        existing: args.existing,
        pods_per_app: args.pods_per_app,
        zones: args.zones,
    };
    let report = match &args.api {
        None => sched::core::run(&config).await,
        Some(url) => {
            sched::api::run(
                url,
                &args.namespace,
                &config,
                Duration::from_secs(args.timeout),
            )
            .await?
        }
    };
    print(args.json, &report, sched::Report::header(), report.row())
}

fn compare(args: CompareArgs) -> Result<()> {
    let mut reports = Vec::new();
    for file in &args.files {
        let text = std::fs::read_to_string(file)
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        for (n, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let report: Report = serde_json::from_str(line)
                .map_err(|e| anyhow::anyhow!("{}:{}: {e}", file.display(), n + 1))?;
            reports.push(report);
        }
    }
    let rows = berth_bench::compare::rows(&reports, &args.baseline, &args.other);
    print!(
        "{}",
        berth_bench::compare::table(&rows, &args.baseline, &args.other)
    );
    Ok(())
}

async fn first_put(args: FirstPutArgs) -> Result<()> {
    use berth_proto::etcdserverpb::{kv_client::KvClient, PutRequest};
    if args.endpoints.is_empty() {
        anyhow::bail!("--endpoints is required");
    }
    let started = std::time::Instant::now();
    let deadline = started + Duration::from_secs(args.timeout);
    let mut attempt = 0usize;
    while std::time::Instant::now() < deadline {
        let url = berth_bench::connect::url(&args.endpoints[attempt % args.endpoints.len()]);
        attempt += 1;
        let try_for = Duration::from_millis(args.try_ms);
        let tried = tokio::time::timeout(try_for, async {
            let mut kv = KvClient::connect(url).await.ok()?;
            kv.put(PutRequest {
                key: b"bench/failover".to_vec(),
                value: b"up".to_vec(),
                ..Default::default()
            })
            .await
            .ok()
        })
        .await;
        if let Ok(Some(_)) = tried {
            println!("{}", started.elapsed().as_millis());
            return Ok(());
        }
    }
    anyhow::bail!("no put succeeded within {} s", args.timeout)
}

/// Prints a report as one line of JSON, or as a table's header and row.
fn print(
    json: bool,
    report: &impl serde::Serialize,
    header: impl std::fmt::Display,
    row: impl std::fmt::Display,
) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(report)?);
    } else {
        println!("{header}\n{row}");
    }
    Ok(())
}

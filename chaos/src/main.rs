//! The chaos runner: `berth-chaos --scenario all --seeds 1..500`.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use berth_chaos::check::Checker;
use berth_chaos::run::PLANTED;
use berth_chaos::scenario::{Scenario, ALL};
use berth_chaos::{run, Report, RunConfig};
use berth_store::faults::Fault;
use clap::Parser;

/// Runs store members under faults in turmoil's simulation and checks every
/// history.
#[derive(Parser)]
#[command(name = "berth-chaos")]
struct Args {
    /// A scenario name, or `all`.
    #[arg(long, default_value = "all")]
    scenario: String,
    /// Seeds to run, `A..B` (B excluded) or `A..=B`.
    #[arg(long, default_value = "1..11")]
    seeds: String,
    /// Run this one seed (overrides --seeds).
    #[arg(long)]
    seed: Option<u64>,
    /// Plant a bug: stale-read, ack-uncommitted, drop-watch-event,
    /// early-lease-expiry.
    #[arg(long)]
    planted: Option<String>,
    /// List the scenarios and exit.
    #[arg(long)]
    list: bool,
    /// Append the history of every run to this file.
    #[arg(long)]
    history: Option<std::path::PathBuf>,
    /// Print the faults of every run.
    #[arg(long)]
    verbose: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.list {
        for s in ALL {
            println!("{s}");
        }
        return ExitCode::SUCCESS;
    }
    let scenarios: Vec<Scenario> = if args.scenario == "all" {
        ALL.to_vec()
    } else {
        match Scenario::parse(&args.scenario) {
            Some(s) => vec![s],
            None => {
                eprintln!("unknown scenario {:?}; --list shows them", args.scenario);
                return ExitCode::from(2);
            }
        }
    };
    let seeds: Vec<u64> = match args.seed {
        Some(s) => vec![s],
        None => match parse_seeds(&args.seeds) {
            Some(s) => s,
            None => {
                eprintln!("--seeds takes A..B or A..=B, got {:?}", args.seeds);
                return ExitCode::from(2);
            }
        },
    };
    let planted = match args.planted.as_deref().map(parse_fault) {
        None => None,
        Some(Some(f)) => Some(f),
        Some(None) => {
            eprintln!("unknown planted bug {:?}", args.planted.unwrap_or_default());
            return ExitCode::from(2);
        }
    };

    let mut failed = false;
    let mut rows = Vec::new();
    for scenario in scenarios {
        let mut reports = Vec::new();
        for &seed in &seeds {
            let mut config = RunConfig::new(scenario, seed);
            config.planted = planted;
            let report = run(&config);
            if args.verbose {
                println!(
                    "{scenario} seed {seed}: {} ops, recovery {:?}, faults:",
                    report.operations, report.recovery
                );
                for (at, f) in &report.faults {
                    println!("  {:>8.3}s {f}", at.as_secs_f64());
                }
            }
            if let Some(path) = &args.history {
                write_history(path, &report);
            }
            if !report.violations.is_empty() {
                failed = true;
                print_violation(&report);
            }
            reports.push(report);
        }
        rows.push(summarize(scenario, &reports));
    }
    print_table(&rows);
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn write_history(path: &std::path::Path, report: &Report) {
    use std::io::Write;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path);
    let written = file.and_then(|mut f| {
        writeln!(f, "# {} seed {}", report.scenario, report.seed)?;
        for op in &report.history {
            writeln!(f, "{op:?}")?;
        }
        Ok(())
    });
    if let Err(e) = written {
        eprintln!("writing {}: {e}", path.display());
    }
}

fn parse_seeds(s: &str) -> Option<Vec<u64>> {
    if let Some((a, b)) = s.split_once("..=") {
        let (a, b) = (a.parse::<u64>().ok()?, b.parse::<u64>().ok()?);
        return Some((a..=b).collect());
    }
    let (a, b) = s.split_once("..")?;
    let (a, b) = (a.parse::<u64>().ok()?, b.parse::<u64>().ok()?);
    Some((a..b).collect())
}

fn parse_fault(name: &str) -> Option<Fault> {
    PLANTED.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

fn print_violation(report: &Report) {
    println!(
        "VIOLATION in {} seed {} — replay: {}",
        report.scenario,
        report.seed,
        report.replay_command()
    );
    for (at, f) in &report.faults {
        println!("  fault {:>8.3}s {f}", at.as_secs_f64());
    }
    for v in &report.violations {
        println!("{v}\n");
    }
}

struct Row {
    scenario: Scenario,
    seeds: usize,
    by_checker: BTreeMap<Checker, usize>,
    median_recovery: Option<Duration>,
    max_recovery: Option<Duration>,
    operations: usize,
    simulated: Duration,
    wall: Duration,
}

fn summarize(scenario: Scenario, reports: &[Report]) -> Row {
    let mut by_checker = BTreeMap::new();
    for r in reports {
        for v in &r.violations {
            *by_checker.entry(v.checker).or_insert(0) += 1;
        }
    }
    let mut recoveries: Vec<Duration> = reports.iter().filter_map(|r| r.recovery).collect();
    recoveries.sort();
    Row {
        scenario,
        seeds: reports.len(),
        by_checker,
        median_recovery: recoveries.get(recoveries.len() / 2).copied(),
        max_recovery: recoveries.last().copied(),
        operations: reports.iter().map(|r| r.operations).sum(),
        simulated: reports.iter().map(|r| r.simulated).sum(),
        wall: reports.iter().map(|r| r.wall).sum(),
    }
}

fn print_table(rows: &[Row]) {
    let ms = |d: Option<Duration>| {
        d.map(|d| format!("{}ms", d.as_millis()))
            .unwrap_or("-".into())
    };
    print!("{:<20} {:>5} {:>7}", "scenario", "seeds", "ops");
    for c in Checker::ALL {
        print!(" {:>6}", &c.name()[..c.name().len().min(6)]);
    }
    println!(
        " {:>9} {:>9} {:>10} {:>9}",
        "rec p50", "rec max", "simulated", "wall"
    );
    for row in rows {
        print!(
            "{:<20} {:>5} {:>7}",
            row.scenario.name(),
            row.seeds,
            row.operations
        );
        for c in Checker::ALL {
            print!(" {:>6}", row.by_checker.get(&c).copied().unwrap_or(0));
        }
        println!(
            " {:>9} {:>9} {:>9.0}s {:>8.1}s",
            ms(row.median_recovery),
            ms(row.max_recovery),
            row.simulated.as_secs_f64(),
            row.wall.as_secs_f64()
        );
    }
}

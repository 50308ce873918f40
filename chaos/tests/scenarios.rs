//! Every scenario on a fixed set of seeds: no checker may find a violation.
//! (The runner covers hundreds of seeds; this is the CI set.)

use berth_chaos::check::Checker;
use berth_chaos::scenario::ALL;
use berth_chaos::{run, RunConfig, Scenario};

/// Seeds each scenario runs in CI.
const SEEDS: [u64; 2] = [1, 2];

fn clean(scenario: Scenario) {
    for seed in SEEDS {
        let report = run(&RunConfig::new(scenario, seed));
        let found: Vec<String> = report.violations.iter().map(|v| v.to_string()).collect();
        assert!(
            found.is_empty(),
            "{scenario} seed {seed} ({}):\n{}",
            report.replay_command(),
            found.join("\n")
        );
        assert!(
            report.operations > 500,
            "{scenario} seed {seed}: only {} operations",
            report.operations
        );
        assert!(
            report.recovery.is_some(),
            "{scenario} seed {seed}: no write after healing"
        );
        assert!(
            !report.faults.is_empty(),
            "{scenario} seed {seed}: no fault injected"
        );
    }
}

#[test]
fn every_scenario_is_listed_once() {
    let names: std::collections::BTreeSet<&str> = ALL.iter().map(|s| s.name()).collect();
    assert_eq!(names.len(), ALL.len());
    for s in ALL {
        assert_eq!(Scenario::parse(s.name()), Some(s));
    }
    assert_eq!(Checker::ALL.len(), 6);
}

#[test]
fn leader_crash() {
    clean(Scenario::LeaderCrash);
}

#[test]
fn follower_crash() {
    clean(Scenario::FollowerCrash);
}

#[test]
fn leader_partition() {
    clean(Scenario::LeaderPartition);
}

#[test]
fn follower_partition() {
    clean(Scenario::FollowerPartition);
}

#[test]
fn one_way_partition() {
    clean(Scenario::OneWayPartition);
}

#[test]
fn flapping_partition() {
    clean(Scenario::FlappingPartition);
}

#[test]
fn latency_and_loss() {
    clean(Scenario::LatencyAndLoss);
}

#[test]
fn repeated_restart() {
    clean(Scenario::RepeatedRestart);
}

#[test]
fn cluster_restart() {
    clean(Scenario::ClusterRestart);
}

#[test]
fn combination() {
    clean(Scenario::Combination);
}

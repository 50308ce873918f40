//! The checkers can fail: each planted bug in the store is caught by the
//! checker meant for it, in a named scenario within a fixed seed range.

use berth_chaos::check::Checker;
use berth_chaos::{run, RunConfig, Scenario};
use berth_store::faults::Fault;

/// Runs `scenario` on `seeds` with `fault` planted until `checker` reports
/// a violation; returns its report, printed as the runner prints it.
fn caught(
    fault: Fault,
    scenario: Scenario,
    seeds: std::ops::RangeInclusive<u64>,
    checker: Checker,
) {
    for seed in seeds.clone() {
        let mut config = RunConfig::new(scenario, seed);
        config.planted = Some(fault);
        let report = run(&config);
        if let Some(v) = report.violations.iter().find(|v| v.checker == checker) {
            println!("{fault:?} caught: {} seed {seed}\n{v}", report.scenario);
            return;
        }
    }
    panic!("{fault:?} was not caught by the {checker:?} checker in {scenario} seeds {seeds:?}");
}

#[test]
fn a_stale_linearizable_read_is_caught_by_linearizability() {
    caught(
        Fault::StaleRead,
        Scenario::FollowerPartition,
        1..=3,
        Checker::Linearizability,
    );
}

#[test]
fn acknowledging_an_uncommitted_write_is_caught_by_durability() {
    caught(
        Fault::AckUncommitted,
        Scenario::LeaderPartition,
        1..=3,
        Checker::Durability,
    );
}

#[test]
fn a_dropped_watch_event_is_caught_by_the_watch_checker() {
    caught(
        Fault::DropWatchEvent,
        Scenario::FollowerCrash,
        1..=3,
        Checker::Watch,
    );
}

#[test]
fn early_lease_expiry_on_leader_change_is_caught_by_the_lease_checker() {
    caught(
        Fault::EarlyLeaseExpiry,
        Scenario::LeaderCrash,
        1..=3,
        Checker::Lease,
    );
}

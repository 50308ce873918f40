//! One simulation: a cluster, its workload, a scenario's faults from one
//! seed, then the checks.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use turmoil::{Builder, Sim};

use crate::check::{self, Checker, Violation};
use crate::cluster::{self, member_name, Roles};
use crate::final_checks::{self, FinalReport};
use crate::scenario::{Fault, Scenario, Target};
use crate::workload::{run_client, run_watcher, Plan, Recorder};

/// When the workload starts, faults begin, faults heal, and the workload
/// stops (simulated time).
const START: Duration = Duration::from_secs(1);
const FAULTS_FROM: Duration = Duration::from_secs(3);
const HEAL: Duration = Duration::from_secs(13);
const STOP: Duration = Duration::from_secs(16);
/// Latency of a healthy link between any two hosts.
const LINK_LATENCY: Duration = Duration::from_millis(2);

/// What to run.
#[derive(Clone, Debug)]
pub struct RunConfig {
    pub scenario: Scenario,
    pub seed: u64,
    /// A planted bug to switch on for this run.
    pub planted: Option<berth_store::faults::Fault>,
    pub members: usize,
    pub clients: usize,
    pub watchers: usize,
}

impl RunConfig {
    /// Three members, four clients and two watchers.
    pub fn new(scenario: Scenario, seed: u64) -> RunConfig {
        RunConfig {
            scenario,
            seed,
            planted: None,
            members: 3,
            clients: 4,
            watchers: 2,
        }
    }
}

/// The runner's names for the store's planted bugs.
pub const PLANTED: [(&str, berth_store::faults::Fault); 4] = [
    ("stale-read", berth_store::faults::Fault::StaleRead),
    (
        "ack-uncommitted",
        berth_store::faults::Fault::AckUncommitted,
    ),
    (
        "drop-watch-event",
        berth_store::faults::Fault::DropWatchEvent,
    ),
    (
        "early-lease-expiry",
        berth_store::faults::Fault::EarlyLeaseExpiry,
    ),
];

/// What one run found.
#[derive(Debug)]
pub struct Report {
    pub scenario: Scenario,
    pub seed: u64,
    /// The bug planted in this run, if any.
    pub planted: Option<berth_store::faults::Fault>,
    pub violations: Vec<Violation>,
    /// Time from healing to the first successful write.
    pub recovery: Option<Duration>,
    /// Operations recorded.
    pub operations: usize,
    /// The operations themselves, in the order they finished.
    pub history: Vec<crate::history::Operation>,
    /// Faults as they fired, with their resolved targets.
    pub faults: Vec<(Duration, String)>,
    pub simulated: Duration,
    pub wall: Duration,
}

impl Report {
    /// The command that replays this run.
    pub fn replay_command(&self) -> String {
        let planted = PLANTED
            .iter()
            .find(|(_, f)| Some(*f) == self.planted)
            .map(|(name, _)| format!(" --planted {name}"))
            .unwrap_or_default();
        format!(
            "cargo run -p berth-chaos -- --scenario {} --seed {}{planted}",
            self.scenario, self.seed
        )
    }
}

/// Runs one simulation and checks its history.
pub fn run(config: &RunConfig) -> Report {
    let started = Instant::now();
    berth_store::raft::seed_thread_rng(config.seed);
    berth_store::faults::set(config.planted);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| simulate(config)));
    berth_store::faults::set(None);
    let mut report = Report {
        scenario: config.scenario,
        seed: config.seed,
        planted: config.planted,
        violations: Vec::new(),
        recovery: None,
        operations: 0,
        history: Vec::new(),
        faults: Vec::new(),
        simulated: Duration::ZERO,
        wall: Duration::ZERO,
    };
    match outcome {
        Ok(sim) => {
            let ops = sim.recorder.ops();
            let watches = sim.recorder.watches();
            report.operations = ops.len();
            report.faults = sim.faults;
            report.simulated = sim.simulated;
            if let Some(error) = sim.error {
                report
                    .violations
                    .push(Violation::new(Checker::Liveness, error));
            }
            let last = sim.last.borrow();
            report.recovery = last.recovery;
            report.violations.extend(last.violations.iter().cloned());
            report.violations.extend(check::all(&ops, &watches));
            report.history = ops;
        }
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".to_string());
            report.violations.push(Violation::new(
                Checker::Liveness,
                format!("simulation panicked: {message}"),
            ));
        }
    }
    report.wall = started.elapsed();
    report
}

struct Simulated {
    recorder: Recorder,
    last: Rc<RefCell<FinalReport>>,
    faults: Vec<(Duration, String)>,
    simulated: Duration,
    error: Option<String>,
}

fn simulate(config: &RunConfig) -> Simulated {
    let dir = data_dir();
    let mut sim = Builder::new()
        // A fixed start date: anything read from the simulated clock replays.
        .epoch(std::time::UNIX_EPOCH + Duration::from_secs(1_767_225_600))
        .simulation_duration(STOP + Duration::from_secs(60))
        .tick_duration(Duration::from_millis(1))
        .min_message_latency(Duration::ZERO)
        .max_message_latency(LINK_LATENCY)
        .repair_rate(0.05)
        .rng_seed(config.seed)
        .build();
    let roles = Roles::default();
    let dir_path = dir
        .as_ref()
        .map(|d| d.path().to_path_buf())
        .unwrap_or_else(|_| PathBuf::from("/nonexistent"));
    cluster::add_members(&mut sim, config.members, &dir_path, &roles);

    let plan = Plan {
        members: config.members,
        start: START,
        stop: STOP,
        keys: 5,
        timeout: Duration::from_secs(5),
        lease_ttl: 5,
    };
    let recorder = Recorder::default();
    for c in 0..config.clients {
        let seed = mix(config.seed, 1 + c as u64);
        sim.client(
            format!("c{c}"),
            run_client(c, seed, plan.clone(), recorder.clone()),
        );
    }
    for w in 0..config.watchers {
        let seed = mix(config.seed, 1000 + w as u64);
        sim.client(
            format!("w{w}"),
            run_watcher(w, seed, plan.clone(), recorder.clone()),
        );
    }
    let last = Rc::new(RefCell::new(FinalReport::default()));
    sim.client(
        "checker",
        final_checks::run(plan.clone(), HEAL, recorder.clone(), last.clone()),
    );

    let mut rng = StdRng::seed_from_u64(mix(config.seed, 0));
    let mut schedule = config.scenario.schedule(&mut rng, FAULTS_FROM, HEAL);
    schedule.push((HEAL, Fault::RestartCrashed));
    schedule.push((HEAL, Fault::Heal));
    let mut injector = Injector {
        members: config.members,
        crashed: BTreeSet::new(),
        roles,
        rng,
        log: Vec::new(),
    };
    let mut next = 0;
    let mut error = match &dir {
        Ok(_) => None,
        Err(e) => Some(format!("creating the data directory: {e}")),
    };
    while error.is_none() {
        while next < schedule.len() && schedule[next].0 <= sim.elapsed() {
            injector.inject(&mut sim, schedule[next].1);
            next += 1;
        }
        match sim.step() {
            Ok(true) => break,
            Ok(false) => {}
            Err(e) => error = Some(format!("simulation failed: {e}")),
        }
    }
    let simulated = sim.elapsed();
    drop(sim);
    Simulated {
        recorder,
        last,
        faults: injector.log,
        simulated,
        error,
    }
}

/// Member data lives in memory-backed storage where there is some: turmoil
/// does not model the disk, so fsync speed only costs wall time.
fn data_dir() -> std::io::Result<tempfile::TempDir> {
    let shm = std::path::Path::new("/dev/shm");
    let builder = tempfile::Builder::new().prefix("berth-chaos-").to_owned();
    if shm.is_dir() {
        if let Ok(dir) = builder.tempdir_in(shm) {
            return Ok(dir);
        }
    }
    builder.tempdir()
}

/// Derives an independent seed for one part of a run.
fn mix(seed: u64, part: u64) -> u64 {
    // SplitMix64's finalizer: distinct parts give unrelated streams.
    let mut z = seed
        .wrapping_add(part.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

struct Injector {
    members: usize,
    crashed: BTreeSet<usize>,
    roles: Roles,
    rng: StdRng,
    log: Vec<(Duration, String)>,
}

impl Injector {
    fn running(&self) -> Vec<usize> {
        (0..self.members)
            .filter(|m| !self.crashed.contains(m))
            .collect()
    }

    fn resolve(&mut self, target: Target) -> Vec<usize> {
        let running = self.running();
        let leader = self.roles.leader().filter(|l| running.contains(l));
        let pick = |rng: &mut StdRng, from: &[usize]| from.choose(rng).copied();
        let chosen = match target {
            Target::All => return running,
            Target::Leader => leader.or_else(|| pick(&mut self.rng, &running)),
            Target::Follower => {
                let followers: Vec<usize> = running
                    .iter()
                    .copied()
                    .filter(|m| Some(*m) != leader)
                    .collect();
                pick(&mut self.rng, &followers)
            }
            Target::Any => pick(&mut self.rng, &running),
        };
        chosen.into_iter().collect()
    }

    fn inject(&mut self, sim: &mut Sim<'_>, fault: Fault) {
        let at = sim.elapsed();
        let names = |ms: &[usize]| ms.iter().map(|m| member_name(*m)).collect::<Vec<_>>();
        let description = match fault {
            Fault::Crash(target) => {
                let hit = self.resolve(target);
                for &m in &hit {
                    sim.crash(member_name(m));
                    self.roles.forget(m);
                    self.crashed.insert(m);
                }
                format!("crash {:?}", names(&hit))
            }
            Fault::RestartCrashed => {
                if self.crashed.is_empty() {
                    return;
                }
                let hit: Vec<usize> = std::mem::take(&mut self.crashed).into_iter().collect();
                for &m in &hit {
                    sim.bounce(member_name(m));
                }
                format!("restart {:?}", names(&hit))
            }
            Fault::Isolate(target) | Fault::IsolateOutbound(target) | Fault::Stall(target) => {
                let hit = self.resolve(target);
                for &m in &hit {
                    for o in (0..self.members).filter(|o| *o != m) {
                        let (a, b) = (member_name(m), member_name(o));
                        match fault {
                            Fault::Isolate(_) => sim.partition(a, b),
                            Fault::IsolateOutbound(_) => sim.partition_oneway(a, b),
                            _ => sim.hold(a, b),
                        }
                    }
                }
                format!("{} {:?}", fault_name(fault), names(&hit))
            }
            Fault::Latency(max) => {
                self.each_link(|a, b| sim.set_link_max_message_latency(a, b, max));
                format!("latency up to {max:?}")
            }
            Fault::LinkFailures(rate) => {
                self.each_link(|a, b| sim.set_link_fail_rate(a, b, rate));
                format!("link failures {rate:.4}/step")
            }
            Fault::Heal => {
                self.each_link(|a, b| {
                    sim.release(a.clone(), b.clone());
                    sim.repair(a.clone(), b.clone());
                    sim.set_link_fail_rate(a.clone(), b.clone(), 0.0);
                    sim.set_link_max_message_latency(a, b, LINK_LATENCY);
                });
                "heal".to_string()
            }
        };
        self.log.push((at, description));
    }

    fn each_link(&self, mut f: impl FnMut(String, String)) {
        for a in 0..self.members {
            for b in a + 1..self.members {
                f(member_name(a), member_name(b));
            }
        }
    }
}

fn fault_name(fault: Fault) -> &'static str {
    match fault {
        Fault::Isolate(_) => "isolate",
        Fault::IsolateOutbound(_) => "drop outbound of",
        Fault::Stall(_) => "stall",
        _ => "fault",
    }
}

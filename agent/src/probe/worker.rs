//! The probe loop of one container: Kubernetes' thresholds, periods and
//! startup gating as a state machine over `tokio::time`, and the task that
//! drives it.
//!
//! The rules (the kubelet's prober workers):
//! - defaults: `periodSeconds` 10, `timeoutSeconds` 1, `successThreshold` 1,
//!   `failureThreshold` 3, `initialDelaySeconds` 0;
//! - before any result, readiness is failure (not ready), liveness success,
//!   and the container is not started while it has a startup probe;
//! - a published result changes only after `threshold` consecutive results
//!   the other way; a result that could not be had (`Unknown`) is discarded
//!   and neither counts nor breaks a run;
//! - the startup probe runs alone until it succeeds once, then stops; only
//!   then do liveness and readiness run (readiness at once, so a started
//!   container becomes ready without waiting a period);
//! - a liveness or startup failure past its threshold asks for a restart and
//!   puts that probe on hold: it runs again only for the next container
//!   (the manager starts a fresh worker for a new container id).
//!
//! One difference, on purpose: the first probe runs exactly
//! `initialDelaySeconds` after the container started (the kubelet waits for
//! the first tick of its period after that delay, with a random offset).

use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Probe};
use tokio::time::Instant;

use super::{ProbeKind, ProbeResult};

/// `periodSeconds` when unset.
pub const DEFAULT_PERIOD_SECONDS: i32 = 10;
/// `successThreshold` when unset.
pub const DEFAULT_SUCCESS_THRESHOLD: i32 = 1;
/// `failureThreshold` when unset.
pub const DEFAULT_FAILURE_THRESHOLD: i32 = 3;

/// A probe's timing and thresholds with Kubernetes' defaults applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeSettings {
    /// Wait after the container starts before the first probe.
    pub initial_delay: Duration,
    /// Time between probes.
    pub period: Duration,
    /// Consecutive successes that make the result success.
    pub success_threshold: u32,
    /// Consecutive failures that make the result failure.
    pub failure_threshold: u32,
}

impl ProbeSettings {
    /// The settings of `probe` for a probe of `kind`.
    ///
    /// Values below the API's minimums (which validation rejects) are raised
    /// to them; liveness and startup probes always use a success threshold of
    /// 1, as validation demands of them.
    pub fn new(kind: ProbeKind, probe: &Probe) -> Self {
        let seconds = |value: Option<i32>, default: i32, min: i32| {
            Duration::from_secs(u64::try_from(value.unwrap_or(default).max(min)).unwrap_or(0))
        };
        let count = |value: Option<i32>, default: i32| {
            u32::try_from(value.unwrap_or(default).max(1)).unwrap_or(1)
        };
        let success_threshold = match kind {
            ProbeKind::Readiness => count(probe.success_threshold, DEFAULT_SUCCESS_THRESHOLD),
            ProbeKind::Liveness | ProbeKind::Startup => 1,
        };
        Self {
            initial_delay: seconds(probe.initial_delay_seconds, 0, 0),
            period: seconds(probe.period_seconds, DEFAULT_PERIOD_SECONDS, 1),
            success_threshold,
            failure_threshold: count(probe.failure_threshold, DEFAULT_FAILURE_THRESHOLD),
        }
    }
}

/// What one recorded result changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// The published result of a probe became success (`true`) or failure.
    Changed(ProbeKind, bool),
    /// Liveness or startup failed past its threshold: the container must be
    /// restarted. Carries the last failure's message.
    RestartNeeded(ProbeKind, String),
}

/// One probe of a container: its counters and schedule.
#[derive(Debug, Clone)]
pub struct ProbeState {
    kind: ProbeKind,
    probe: Probe,
    settings: ProbeSettings,
    /// The published result; `None` before the first (startup only).
    result: Option<bool>,
    /// The last counted result and how many times in a row it came.
    last: Option<bool>,
    run: u32,
    on_hold: bool,
    next_due: Instant,
}

impl ProbeState {
    /// A probe of a container that started at `started_at`.
    pub fn new(kind: ProbeKind, probe: Probe, started_at: Instant) -> Self {
        let settings = ProbeSettings::new(kind, &probe);
        let result = match kind {
            ProbeKind::Readiness => Some(false),
            ProbeKind::Liveness => Some(true),
            ProbeKind::Startup => None,
        };
        Self {
            kind,
            probe,
            settings,
            result,
            last: None,
            run: 0,
            on_hold: false,
            next_due: started_at + settings.initial_delay,
        }
    }

    /// The probe's spec.
    pub fn probe(&self) -> &Probe {
        &self.probe
    }

    /// The published result: `Some(true)` success, `Some(false)` failure,
    /// `None` not yet known.
    pub fn result(&self) -> Option<bool> {
        self.result
    }

    /// When the probe runs next (if it may run at all).
    pub fn next_due(&self) -> Instant {
        self.next_due
    }

    /// Counts one result; returns what it changed.
    pub fn observe(&mut self, result: &ProbeResult) -> Vec<Transition> {
        let success = match result {
            ProbeResult::Unknown(_) => return Vec::new(),
            result => result.is_success(),
        };
        if self.last == Some(success) {
            self.run = self.run.saturating_add(1);
        } else {
            self.last = Some(success);
            self.run = 1;
        }
        let threshold = if success {
            self.settings.success_threshold
        } else {
            self.settings.failure_threshold
        };
        if self.run < threshold {
            return Vec::new();
        }
        let mut transitions = Vec::new();
        if self.result != Some(success) {
            self.result = Some(success);
            transitions.push(Transition::Changed(self.kind, success));
        }
        if !success && matches!(self.kind, ProbeKind::Liveness | ProbeKind::Startup) {
            let message = match result {
                ProbeResult::Failure(message) => message.clone(),
                _ => String::new(),
            };
            self.on_hold = true;
            self.run = 0;
            transitions.push(Transition::RestartNeeded(self.kind, message));
        }
        transitions
    }

    /// Moves the schedule one period past `due`, skipping periods that
    /// passed while the probe ran (like a ticker that drops missed ticks).
    fn reschedule(&mut self, due: Instant, now: Instant) {
        let mut next = due + self.settings.period;
        while next <= now {
            next += self.settings.period;
        }
        self.next_due = next;
    }
}

/// The three probes of one container.
#[derive(Debug, Clone)]
pub struct ContainerProbes {
    startup: Option<ProbeState>,
    liveness: Option<ProbeState>,
    readiness: Option<ProbeState>,
}

impl ContainerProbes {
    /// The probes of `container`, which started at `started_at`.
    pub fn new(container: &Container, started_at: Instant) -> Self {
        let state = |kind, probe: &Option<Probe>| {
            probe
                .clone()
                .map(|probe| ProbeState::new(kind, probe, started_at))
        };
        Self {
            startup: state(ProbeKind::Startup, &container.startup_probe),
            liveness: state(ProbeKind::Liveness, &container.liveness_probe),
            readiness: state(ProbeKind::Readiness, &container.readiness_probe),
        }
    }

    /// Whether the container has any probe.
    pub fn is_empty(&self) -> bool {
        self.startup.is_none() && self.liveness.is_none() && self.readiness.is_none()
    }

    /// Whether the container counts as started: no startup probe, or it
    /// succeeded.
    pub fn started(&self) -> bool {
        self.startup.as_ref().is_none_or(|s| s.result == Some(true))
    }

    /// Whether the container counts as ready: started, and no readiness
    /// probe or its result is success.
    pub fn ready(&self) -> bool {
        self.started()
            && self
                .readiness
                .as_ref()
                .is_none_or(|r| r.result == Some(true))
    }

    /// The probe of `kind`, if the container has one.
    pub fn get(&self, kind: ProbeKind) -> Option<&ProbeState> {
        match kind {
            ProbeKind::Startup => self.startup.as_ref(),
            ProbeKind::Liveness => self.liveness.as_ref(),
            ProbeKind::Readiness => self.readiness.as_ref(),
        }
    }

    fn get_mut(&mut self, kind: ProbeKind) -> Option<&mut ProbeState> {
        match kind {
            ProbeKind::Startup => self.startup.as_mut(),
            ProbeKind::Liveness => self.liveness.as_mut(),
            ProbeKind::Readiness => self.readiness.as_mut(),
        }
    }

    /// The probes that may run now (startup alone before the container
    /// started, the other two after), whether due or not.
    fn runnable(&self) -> impl Iterator<Item = &ProbeState> {
        let started = self.started();
        [&self.startup, &self.liveness, &self.readiness]
            .into_iter()
            .flatten()
            .filter(move |p| !p.on_hold && ((p.kind == ProbeKind::Startup) != started))
    }

    /// When the next probe is due; `None` when none may run any more.
    pub fn next_wakeup(&self) -> Option<Instant> {
        self.runnable().map(|p| p.next_due).min()
    }

    /// The probes due at `now`, with their due time.
    pub fn due(&self, now: Instant) -> Vec<(ProbeKind, Instant)> {
        self.runnable()
            .filter(|p| p.next_due <= now)
            .map(|p| (p.kind, p.next_due))
            .collect()
    }

    /// Records the result of the probe of `kind` that was due at `due`,
    /// finished at `now`; returns what it changed.
    pub fn record(
        &mut self,
        kind: ProbeKind,
        result: &ProbeResult,
        due: Instant,
        now: Instant,
    ) -> Vec<Transition> {
        let Some(state) = self.get_mut(kind) else {
            return Vec::new();
        };
        state.reschedule(due, now);
        // No schedule change is needed when startup succeeds: liveness and
        // readiness were never run, so they are still due at the end of
        // their initial delay and run at once if that has passed.
        state.observe(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(period: i32, success: i32, failure: i32, delay: i32) -> Probe {
        Probe {
            period_seconds: Some(period),
            success_threshold: Some(success),
            failure_threshold: Some(failure),
            initial_delay_seconds: Some(delay),
            ..Default::default()
        }
    }

    fn fail() -> ProbeResult {
        ProbeResult::Failure("boom".into())
    }

    #[test]
    fn settings_default_like_kubernetes() {
        let settings = ProbeSettings::new(ProbeKind::Readiness, &Probe::default());
        assert_eq!(
            settings,
            ProbeSettings {
                initial_delay: Duration::ZERO,
                period: Duration::from_secs(10),
                success_threshold: 1,
                failure_threshold: 3,
            }
        );
        let liveness = ProbeSettings::new(ProbeKind::Liveness, &probe(5, 4, 2, 7));
        assert_eq!(
            liveness.success_threshold, 1,
            "liveness success threshold is always 1"
        );
        assert_eq!(
            (liveness.period, liveness.initial_delay),
            (Duration::from_secs(5), Duration::from_secs(7))
        );
    }

    #[test]
    fn initial_results_by_kind() {
        let now = Instant::now();
        assert_eq!(
            ProbeState::new(ProbeKind::Readiness, Probe::default(), now).result(),
            Some(false)
        );
        assert_eq!(
            ProbeState::new(ProbeKind::Liveness, Probe::default(), now).result(),
            Some(true)
        );
        assert_eq!(
            ProbeState::new(ProbeKind::Startup, Probe::default(), now).result(),
            None
        );
    }

    #[test]
    fn readiness_flips_only_after_threshold_consecutive_results() {
        let mut state = ProbeState::new(ProbeKind::Readiness, probe(10, 2, 3, 0), Instant::now());
        assert!(state.observe(&ProbeResult::Success).is_empty());
        assert_eq!(
            state.observe(&ProbeResult::Success),
            vec![Transition::Changed(ProbeKind::Readiness, true)]
        );
        assert!(state.observe(&fail()).is_empty());
        assert!(state.observe(&fail()).is_empty());
        assert!(
            state.observe(&ProbeResult::Success).is_empty(),
            "a success breaks the failure run"
        );
        assert!(state.observe(&fail()).is_empty());
        assert!(state.observe(&fail()).is_empty());
        assert_eq!(
            state.observe(&fail()),
            vec![Transition::Changed(ProbeKind::Readiness, false)]
        );
        assert!(
            state.observe(&fail()).is_empty(),
            "readiness keeps probing without restarts"
        );
    }

    #[test]
    fn unknown_results_neither_count_nor_break_a_run() {
        let mut state = ProbeState::new(ProbeKind::Readiness, probe(10, 1, 2, 0), Instant::now());
        state.observe(&ProbeResult::Success);
        assert!(state.observe(&fail()).is_empty());
        assert!(state
            .observe(&ProbeResult::Unknown("runtime down".into()))
            .is_empty());
        assert_eq!(
            state.observe(&fail()),
            vec![Transition::Changed(ProbeKind::Readiness, false)]
        );
    }

    #[test]
    fn warnings_count_as_success() {
        let mut state = ProbeState::new(ProbeKind::Readiness, Probe::default(), Instant::now());
        assert_eq!(
            state.observe(&ProbeResult::Warning("redirect".into())),
            vec![Transition::Changed(ProbeKind::Readiness, true)]
        );
    }

    #[test]
    fn liveness_failure_asks_for_a_restart_and_holds() {
        let started = Instant::now();
        let container = Container {
            liveness_probe: Some(probe(10, 1, 2, 0)),
            ..Default::default()
        };
        let mut probes = ContainerProbes::new(&container, started);
        assert!(probes
            .record(ProbeKind::Liveness, &fail(), started, started)
            .is_empty());
        let due = started + Duration::from_secs(10);
        assert_eq!(
            probes.record(ProbeKind::Liveness, &fail(), due, due),
            vec![
                Transition::Changed(ProbeKind::Liveness, false),
                Transition::RestartNeeded(ProbeKind::Liveness, "boom".into())
            ]
        );
        assert_eq!(
            probes.next_wakeup(),
            None,
            "nothing runs until the next container"
        );
    }

    #[test]
    fn startup_runs_alone_until_it_succeeds() {
        let started = Instant::now();
        let container = Container {
            startup_probe: Some(probe(5, 1, 30, 0)),
            liveness_probe: Some(probe(10, 1, 3, 0)),
            readiness_probe: Some(probe(10, 1, 3, 0)),
            ..Default::default()
        };
        let mut probes = ContainerProbes::new(&container, started);
        assert!(!probes.started() && !probes.ready());
        assert_eq!(probes.due(started), vec![(ProbeKind::Startup, started)]);
        probes.record(ProbeKind::Startup, &fail(), started, started);
        let later = started + Duration::from_secs(5);
        assert_eq!(probes.next_wakeup(), Some(later));
        assert_eq!(
            probes.record(ProbeKind::Startup, &ProbeResult::Success, later, later),
            vec![Transition::Changed(ProbeKind::Startup, true)]
        );
        assert!(probes.started());
        assert!(!probes.ready(), "readiness still starts as failure");
        assert_eq!(
            probes.due(later),
            vec![
                (ProbeKind::Liveness, started),
                (ProbeKind::Readiness, started)
            ],
            "both run at once, the startup probe no more"
        );
    }

    #[test]
    fn schedule_skips_periods_a_slow_probe_overran() {
        let started = Instant::now();
        let mut state = ProbeState::new(ProbeKind::Readiness, probe(10, 1, 3, 0), started);
        state.reschedule(started, started + Duration::from_secs(25));
        assert_eq!(state.next_due(), started + Duration::from_secs(30));
    }
}

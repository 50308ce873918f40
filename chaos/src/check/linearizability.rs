//! Linearizability of the key-value history: Wing and Gong's search with
//! Lowe's memoization, run per key (a history is linearizable if and only
//! if each key's sub-history is, for single-key operations), as porcupine
//! does.
//!
//! Written here rather than taken from a crate: no maintained Rust crate
//! checks histories with operations of unknown outcome against a
//! revision-aware etcd model.
//!
//! The model of one key is absent, or present with a value and the revision
//! that wrote it (unknown when the write's answer was lost). Operations whose
//! answer never came may take effect at any point after they were sent, or
//! never; refused operations never did.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::time::Duration;

use super::lease::KEY_PREFIX;
use crate::history::{KeyValue, Operation, Outcome, Request, Response};

/// Search nodes explored per key before giving up as inconclusive.
const BUDGET: usize = 2_000_000;

/// A key whose history has no linearization.
#[derive(Clone, Debug)]
pub struct Violation {
    pub key: String,
    /// The key's operations, by invoke time.
    pub history: Vec<Operation>,
    /// The longest prefix of a linearization the search found.
    pub longest_linearization: Vec<Operation>,
    /// Completed operations that prefix could not place.
    pub unplaced: Vec<Operation>,
    /// Set when the search ran out of budget rather than proving there is
    /// no linearization.
    pub inconclusive: bool,
}

/// The result of checking one history.
pub fn check(history: &[Operation]) -> Result<(), Violation> {
    let mut by_key: BTreeMap<&str, Vec<Operation>> = BTreeMap::new();
    // Values any answer reported, serializable reads included: a client may
    // take the revision of a CAS from any read it made.
    let mut observed: HashMap<&str, HashSet<&str>> = HashMap::new();
    for op in history {
        if let (Some(key), Some(value)) = (op.key(), reported_value(op)) {
            observed.entry(key).or_default().insert(value);
        }
        if !relevant(op) {
            continue;
        }
        if let Some(key) = op.key() {
            by_key.entry(key).or_default().push(op.clone());
        }
    }
    let none = HashSet::new();
    for (key, mut ops) in by_key {
        ops.sort_by_key(|op| op.invoke);
        check_key(key, ops, observed.get(key).unwrap_or(&none))?;
    }
    Ok(())
}

/// The value an answer reported finding, if any.
fn reported_value(op: &Operation) -> Option<&str> {
    let kv = match op.response()? {
        Response::Get { kv, .. } => kv,
        Response::Cas {
            succeeded: false,
            kv,
            ..
        } => kv,
        Response::Delete { prev, .. } => prev,
        _ => return None,
    };
    kv.as_ref().map(|kv| kv.value.as_str())
}

fn relevant(op: &Operation) -> bool {
    if matches!(op.outcome, Outcome::Failed(_)) {
        return false;
    }
    match &op.request {
        Request::Put { key, lease, .. } => *lease == 0 && !key.starts_with(KEY_PREFIX),
        // An unanswered read has no effect and tells nothing.
        Request::Get { serializable, .. } => !serializable && op.complete.is_some(),
        Request::Delete { .. } | Request::Cas { .. } => true,
        _ => false,
    }
}

/// The revision that wrote the current value, if known.
type Rev = Option<i64>;

/// One key's value: `None` when absent, else the value (interned) and the
/// revision that wrote it.
type Value = Option<(u32, Rev)>;

/// The model's state: the key's value, and the store revision the last
/// linearized operation observed or wrote. etcd's revisions order every
/// change, so a write linearized after something at revision `f` must have
/// a revision above `f`, and a read must observe at least `f`; this prunes
/// the search to orders the revisions allow.
type State = (Value, i64);

/// An operation reduced to what the model needs.
struct Step<'a> {
    op: &'a Operation,
    invoke: Duration,
    /// `None` when the answer never came (it may be linearized anywhere
    /// after `invoke`, or left out).
    complete: Option<Duration>,
    value: Option<u32>,
    read: Option<Option<(u32, i64)>>,
}

fn check_key(key: &str, ops: Vec<Operation>, observed: &HashSet<&str>) -> Result<(), Violation> {
    let mut values: HashMap<String, u32> = HashMap::new();
    let mut intern = |v: &str| {
        let next = values.len() as u32;
        *values.entry(v.to_string()).or_insert(next)
    };
    let steps: Vec<Step> = ops
        .iter()
        .map(|op| {
            let value = match &op.request {
                Request::Put { value, .. } | Request::Cas { value, .. } => Some(intern(value)),
                _ => None,
            };
            let observed = |kv: &Option<KeyValue>, intern: &mut dyn FnMut(&str) -> u32| {
                kv.as_ref().map(|kv| (intern(&kv.value), kv.mod_revision))
            };
            let read = match op.response() {
                Some(Response::Get { kv, .. }) => Some(observed(kv, &mut intern)),
                Some(Response::Cas {
                    succeeded: false,
                    kv,
                    ..
                }) => Some(observed(kv, &mut intern)),
                Some(Response::Delete { prev, .. }) => Some(observed(prev, &mut intern)),
                _ => None,
            };
            Step {
                op,
                invoke: op.invoke,
                complete: op.complete,
                value,
                read,
            }
        })
        .collect();
    let steps = without_unobserved(steps, observed);
    let mut search = Search::new(&steps);
    match search.run() {
        Verdict::Linearizable => Ok(()),
        outcome => {
            let placed: HashSet<usize> = search.best.iter().copied().collect();
            Err(Violation {
                key: key.to_string(),
                history: ops.clone(),
                longest_linearization: search.best.iter().map(|&i| steps[i].op.clone()).collect(),
                unplaced: (0..steps.len())
                    .filter(|i| !placed.contains(i) && steps[*i].complete.is_some())
                    .map(|i| steps[i].op.clone())
                    .collect(),
                inconclusive: matches!(outcome, Verdict::OutOfBudget),
            })
        }
    }
}

/// Drops unanswered writes nothing could have observed, which would
/// otherwise multiply the search by every subset of them.
///
/// Sound for this workload: values are unique and reads, failed CASes and
/// deletes (with `prev_kv`) report the value they saw, and a CAS only ever
/// expects a revision a client saw (`observed` holds every value any
/// answer reported, serializable reads included). So a write whose value
/// nobody reported had no effect any answered operation depended on, and
/// linearizing it nowhere is as good as anywhere. Likewise an unanswered
/// delete matters only if something that could follow it saw the key
/// absent.
fn without_unobserved<'a>(steps: Vec<Step<'a>>, observed: &HashSet<&str>) -> Vec<Step<'a>> {
    let absent_seen_after = |t: Duration| {
        steps.iter().any(|s| {
            let saw_absent = s.read == Some(None)
                || matches!(
                    (&s.op.request, s.op.response()),
                    (
                        Request::Cas { expected: 0, .. },
                        Some(Response::Cas {
                            succeeded: true,
                            ..
                        })
                    )
                );
            saw_absent && s.complete.is_some_and(|c| c >= t)
        })
    };
    let keep: Vec<bool> = steps
        .iter()
        .map(|s| {
            if s.complete.is_some() {
                return true;
            }
            match &s.op.request {
                Request::Put { value, .. } | Request::Cas { value, .. } => {
                    observed.contains(value.as_str())
                }
                Request::Delete { .. } => absent_seen_after(s.invoke),
                _ => true,
            }
        })
        .collect();
    steps
        .into_iter()
        .zip(keep)
        .filter_map(|(s, k)| k.then_some(s))
        .collect()
}

enum Verdict {
    Linearizable,
    NotLinearizable,
    OutOfBudget,
}

/// The (operation, state after it) pairs still to try from one node.
type Frame = Vec<(usize, State)>;

struct Search<'a> {
    steps: &'a [Step<'a>],
    linearized: Vec<u64>,
    order: Vec<usize>,
    best: Vec<usize>,
    seen: HashSet<(Vec<u64>, State)>,
}

impl<'a> Search<'a> {
    fn new(steps: &'a [Step<'a>]) -> Search<'a> {
        Search {
            steps,
            linearized: vec![0; steps.len().div_ceil(64)],
            order: Vec::new(),
            best: Vec::new(),
            seen: HashSet::new(),
        }
    }

    fn is_linearized(&self, i: usize) -> bool {
        self.linearized[i / 64] & (1 << (i % 64)) != 0
    }

    fn flip(&mut self, i: usize) {
        self.linearized[i / 64] ^= 1 << (i % 64);
    }

    /// Every operation that may come next from `state`, with the state
    /// after it; `None` when every answered operation is linearized.
    fn choices(&self, state: &State) -> Option<Vec<(usize, State)>> {
        let pending = || (0..self.steps.len()).filter(|&i| !self.is_linearized(i));
        // Nothing may be linearized after an operation that completed
        // before it was invoked.
        let deadline = pending().filter_map(|i| self.steps[i].complete).min()?;
        let mut out = Vec::new();
        for i in pending().filter(|&i| self.steps[i].invoke <= deadline) {
            for next in apply(state, &self.steps[i]) {
                out.push((i, next));
            }
        }
        Some(out)
    }

    fn run(&mut self) -> Verdict {
        let start: State = (None, 0);
        let Some(choices) = self.choices(&start) else {
            return Verdict::Linearizable;
        };
        let mut stack: Vec<Frame> = vec![choices];
        let mut explored = 0usize;
        while let Some(frame) = stack.last_mut() {
            let Some((i, next)) = frame.pop() else {
                stack.pop();
                if let Some(i) = self.order.pop() {
                    self.flip(i);
                }
                continue;
            };
            explored += 1;
            if explored > BUDGET {
                return Verdict::OutOfBudget;
            }
            self.flip(i);
            if !self.seen.insert((self.linearized.clone(), next)) {
                self.flip(i);
                continue;
            }
            self.order.push(i);
            if self.order.len() > self.best.len() {
                self.best = self.order.clone();
            }
            match self.choices(&next) {
                None => return Verdict::Linearizable,
                Some(choices) => stack.push(choices),
            }
        }
        Verdict::NotLinearizable
    }
}

/// The states an operation may lead to from `state`; empty when it cannot
/// happen there.
fn apply(state: &State, step: &Step) -> Vec<State> {
    let (value, floor) = state;
    // Writes move the store to a new revision; reads (and writes that
    // changed nothing) observe the current one.
    let (observed, writes) = match step.op.response() {
        None => (None, false),
        Some(Response::Put { revision }) => (Some(*revision), true),
        Some(Response::Delete {
            revision, deleted, ..
        }) => (Some(*revision), *deleted > 0),
        Some(Response::Cas {
            revision,
            succeeded,
            ..
        }) => (Some(*revision), *succeeded),
        Some(Response::Get { revision, .. }) => (Some(*revision), false),
        Some(_) => (None, false),
    };
    let next_floor = match observed {
        None => *floor,
        Some(r) if r > *floor || (!writes && r == *floor) => r,
        Some(_) => return vec![],
    };
    apply_value(value, step)
        .into_iter()
        .map(|v| (v, next_floor))
        .collect()
}

/// The values an operation may lead to from `state`, revisions aside.
fn apply_value(state: &Value, step: &Step) -> Vec<Value> {
    let answered = step.op.response();
    // A write's revision must exceed the one it replaces.
    let newer = |r: i64| match state {
        Some((_, Some(m))) => r > *m,
        _ => true,
    };
    let matches = |read: &Option<(u32, i64)>| match (state, read) {
        (None, None) => Some(None),
        (Some((v, rev)), Some((rv, rr))) if v == rv && rev.is_none_or(|m| m == *rr) => {
            Some(Some((*v, Some(*rr))))
        }
        _ => None,
    };
    match (&step.op.request, answered) {
        (Request::Put { .. }, Some(Response::Put { revision })) => match step.value {
            Some(v) if newer(*revision) => vec![Some((v, Some(*revision)))],
            _ => vec![],
        },
        (Request::Put { .. }, None) => step
            .value
            .map(|v| vec![Some((v, None))])
            .unwrap_or_default(),
        (Request::Get { .. }, Some(Response::Get { .. })) => {
            step.read.as_ref().and_then(matches).into_iter().collect()
        }
        (Request::Delete { .. }, Some(Response::Delete { .. })) => step
            .read
            .as_ref()
            .and_then(matches)
            .map(|_| None)
            .into_iter()
            .collect(),
        (Request::Delete { .. }, None) => vec![None],
        (Request::Cas { expected, .. }, answer) => {
            let (may_hold, may_fail) = match state {
                None => (*expected == 0, *expected != 0),
                Some((_, Some(m))) => (*m == *expected, *m != *expected),
                Some((_, None)) => (*expected != 0, true),
            };
            match answer {
                Some(Response::Cas {
                    succeeded: true,
                    revision,
                    ..
                }) => match step.value {
                    Some(v) if may_hold && newer(*revision) => vec![Some((v, Some(*revision)))],
                    _ => vec![],
                },
                Some(Response::Cas {
                    succeeded: false, ..
                }) if may_fail => step.read.as_ref().and_then(matches).into_iter().collect(),
                Some(_) => vec![],
                None => {
                    let mut out = Vec::new();
                    if let (true, Some(v)) = (may_hold, step.value) {
                        out.push(Some((v, None)));
                    }
                    if may_fail {
                        out.push(*state);
                    }
                    out
                }
            }
        }
        _ => vec![],
    }
}

/// Operations of the linearization shown before the point it got stuck.
const CONTEXT: usize = 8;

impl fmt::Display for Violation {
    /// The failure point rather than the whole history (the runner's
    /// `--history` writes that): the last operations the longest partial
    /// linearization placed, then the answered operations that could have
    /// come next, none of which the model allows.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.inconclusive {
            "the search gave up (too many interleavings)"
        } else {
            "no linearization exists"
        };
        writeln!(
            f,
            "key {:?}: {verdict}; the longest partial linearization places {} of {} operations, ending:",
            self.key,
            self.longest_linearization.len(),
            self.history.len()
        )?;
        let skip = self.longest_linearization.len().saturating_sub(CONTEXT);
        for op in &self.longest_linearization[skip..] {
            writeln!(f, "  {}", line(op))?;
        }
        // What could come next: every unplaced answered operation invoked
        // before the first of them completed.
        let deadline = self.unplaced.iter().filter_map(|op| op.complete).min();
        writeln!(f, "and none of these can come next:")?;
        for op in self
            .unplaced
            .iter()
            .filter(|op| deadline.is_some_and(|d| op.invoke <= d))
        {
            writeln!(f, "  {}", line(op))?;
        }
        Ok(())
    }
}

fn line(op: &Operation) -> String {
    let complete = op
        .complete
        .map(|c| format!("{:>9.3}", c.as_secs_f64()))
        .unwrap_or_else(|| "        ?".to_string());
    let outcome = match &op.outcome {
        Outcome::Ok(r) => format!("{r:?}"),
        Outcome::Failed(e) => format!("failed: {e}"),
        Outcome::Unknown => "unknown".to_string(),
    };
    format!(
        "[{:>9.3} ..{complete}] client {} via m{}: {:?} -> {outcome}",
        op.invoke.as_secs_f64(),
        op.client,
        op.member + 1,
        op.request
    )
}

#[cfg(test)]
mod tests;

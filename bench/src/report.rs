//! What a run measured, merged over clients, as a table row or JSON.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// One client's (or a whole run's) counts and latencies.
pub struct Stats {
    /// Latencies in microseconds.
    pub latency: Histogram<u64>,
    /// Errors by kind (the gRPC code, or "timeout").
    pub errors: BTreeMap<String, u64>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            // 1 µs .. 60 s at 3 significant digits: constant, valid bounds.
            latency: Histogram::new_with_bounds(1, 60_000_000, 3)
                .expect("constant histogram bounds are valid"),
            errors: BTreeMap::new(),
        }
    }
}

impl Stats {
    /// Records one answered request.
    pub fn ok(&mut self, took: Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX).max(1);
        self.latency.saturating_record(micros);
    }

    /// Records one failed request.
    pub fn error(&mut self, kind: impl Into<String>) {
        *self.errors.entry(kind.into()).or_default() += 1;
    }

    /// Adds `other` into this.
    pub fn merge(&mut self, other: &Stats) {
        let _ = self.latency.add(&other.latency);
        for (k, v) in &other.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
    }
}

/// A run's result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub workload: String,
    pub target: String,
    pub ops: u64,
    pub seconds: f64,
    pub ops_per_sec: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub errors: BTreeMap<String, u64>,
}

impl Report {
    /// The report of `stats` over `elapsed`.
    pub fn new(workload: &str, target: &str, stats: &Stats, elapsed: Duration) -> Report {
        let h = &stats.latency;
        let ms = |micros: u64| micros as f64 / 1000.0;
        let seconds = elapsed.as_secs_f64().max(1e-9);
        Report {
            workload: workload.to_string(),
            target: target.to_string(),
            ops: h.len(),
            seconds,
            ops_per_sec: h.len() as f64 / seconds,
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
            errors: stats.errors.clone(),
        }
    }

    /// The header of [`Report::row`].
    pub fn header() -> String {
        format!(
            "{:<10} {:<12} {:>10} {:>12} {:>9} {:>9} {:>9} {:>9}  errors",
            "workload", "target", "ops", "ops/s", "p50 ms", "p90 ms", "p99 ms", "max ms"
        )
    }

    /// One table row.
    pub fn row(&self) -> String {
        let errors = if self.errors.is_empty() {
            "0".to_string()
        } else {
            self.errors
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        format!(
            "{:<10} {:<12} {:>10} {:>12.0} {:>9.2} {:>9.2} {:>9.2} {:>9.2}  {errors}",
            self.workload,
            self.target,
            self.ops,
            self.ops_per_sec,
            self.p50_ms,
            self.p90_ms,
            self.p99_ms,
            self.max_ms
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_reads_its_histogram() {
        let mut a = Stats::default();
        for ms in 1..=100 {
            a.ok(Duration::from_millis(ms));
        }
        let mut b = Stats::default();
        b.error("Unavailable");
        a.merge(&b);
        let r = Report::new("put", "berth", &a, Duration::from_secs(2));
        assert_eq!(r.ops, 100);
        assert!((r.ops_per_sec - 50.0).abs() < 1e-9);
        assert!((r.p50_ms - 50.0).abs() < 0.1, "{}", r.p50_ms);
        assert!((r.p99_ms - 99.0).abs() < 0.1, "{}", r.p99_ms);
        assert_eq!(r.errors["Unavailable"], 1);
        assert!(r.row().ends_with("Unavailable=1"));
    }
}

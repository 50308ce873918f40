//! Side by side: reports of two targets (berth and etcd) over the same
//! workloads, each a median over its repeated runs, with ratios.

use std::collections::BTreeMap;

use crate::report::Report;

/// One workload's medians for the baseline and the other target.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub workload: String,
    pub runs: (usize, usize),
    pub ops_per_sec: (f64, f64),
    pub p99_ms: (f64, f64),
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// Pairs `baseline`'s reports with `other`'s, workload by workload, in the
/// order workloads first appear.
pub fn rows(reports: &[Report], baseline: &str, other: &str) -> Vec<Row> {
    let mut order: Vec<&str> = Vec::new();
    let mut by: BTreeMap<(&str, &str), Vec<&Report>> = BTreeMap::new();
    for r in reports {
        if !order.contains(&r.workload.as_str()) {
            order.push(&r.workload);
        }
        by.entry((&r.workload, &r.target)).or_default().push(r);
    }
    order
        .into_iter()
        .map(|w| {
            let runs = |t: &str| by.get(&(w, t)).cloned().unwrap_or_default();
            let (a, b) = (runs(baseline), runs(other));
            let ops = |rs: &[&Report]| median(rs.iter().map(|r| r.ops_per_sec).collect());
            let p99 = |rs: &[&Report]| median(rs.iter().map(|r| r.p99_ms).collect());
            Row {
                workload: w.to_string(),
                runs: (a.len(), b.len()),
                ops_per_sec: (ops(&a), ops(&b)),
                p99_ms: (p99(&a), p99(&b)),
            }
        })
        .collect()
}

/// The table: medians of each target and `other / baseline` ratios.
pub fn table(rows: &[Row], baseline: &str, other: &str) -> String {
    let mut out = format!(
        "{:<10} {:>5} {:>14} {:>14} {:>7} {:>12} {:>12} {:>7}\n",
        "workload",
        "runs",
        format!("{baseline} ops/s"),
        format!("{other} ops/s"),
        "ratio",
        format!("{baseline} p99"),
        format!("{other} p99"),
        "ratio"
    );
    for r in rows {
        out.push_str(&format!(
            "{:<10} {:>5} {:>14.0} {:>14.0} {:>7.2} {:>12.2} {:>12.2} {:>7.2}\n",
            r.workload,
            format!("{}+{}", r.runs.0, r.runs.1),
            r.ops_per_sec.0,
            r.ops_per_sec.1,
            r.ops_per_sec.1 / r.ops_per_sec.0,
            r.p99_ms.0,
            r.p99_ms.1,
            r.p99_ms.1 / r.p99_ms.0,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(workload: &str, target: &str, ops: f64, p99: f64) -> Report {
        Report {
            workload: workload.into(),
            target: target.into(),
            ops: 1,
            seconds: 1.0,
            ops_per_sec: ops,
            p50_ms: 0.0,
            p90_ms: 0.0,
            p99_ms: p99,
            max_ms: p99,
            errors: Default::default(),
        }
    }

    #[test]
    fn medians_of_pairs_and_ratios() {
        let reports = vec![
            report("put", "etcd", 100.0, 10.0),
            report("put", "berth", 250.0, 8.0),
            report("put", "etcd", 110.0, 12.0),
            report("put", "berth", 190.0, 9.0),
            report("put", "etcd", 90.0, 11.0),
            report("put", "berth", 210.0, 7.0),
            report("get", "etcd", 1000.0, 1.0),
            report("get", "berth", 3000.0, 0.5),
        ];
        let rows = rows(&reports, "etcd", "berth");
        assert_eq!(rows[0].workload, "put");
        assert_eq!(rows[0].runs, (3, 3));
        assert_eq!(rows[0].ops_per_sec, (100.0, 210.0));
        assert_eq!(rows[0].p99_ms, (11.0, 8.0));
        let text = table(&rows, "etcd", "berth");
        assert!(text.lines().nth(1).unwrap().contains("   2.10 "), "{text}");
        assert_eq!(rows[1].workload, "get");
        assert!((median(vec![1.0, 3.0]) - 2.0).abs() < 1e-9);
    }
}

//! The scheduler in this process: nodes and pods handed to it as its
//! informers would, each decision bound and confirmed at once, so the
//! figure is the cost of the queue, the cache and the plugins alone.

use std::time::Instant;

use berth_scheduler::{Scheduler, SchedulerConfig};

use super::{histogram, node, pod, record, Config, Report};

/// Runs the in-process benchmark.
pub async fn run(config: &Config) -> Report {
    let scheduler = Scheduler::new(SchedulerConfig {
        seed: Some(1),
        ..SchedulerConfig::default()
    });
    for i in 0..config.nodes {
        scheduler.on_node_add(&node(i, config.zones));
    }
    // Existing pods arrive already bound, as an informer's list delivers
    // them; the nodes' records then carry their requests.
    let nodes = config.nodes.max(1);
    for i in 0..config.existing {
        let mut p = pod("bench", "existing", i, config.pods_per_app);
        if let Some(spec) = p.spec.as_mut() {
            spec.node_name = Some(format!("bench-node-{}", i % nodes));
        }
        scheduler.on_pod_add(&p);
    }
    for i in 0..config.pods {
        scheduler.on_pod_add(&pod("bench", "measured", i, config.pods_per_app));
    }
    let mut latency = histogram();
    let started = Instant::now();
    let mut attempts = 0usize;
    // Every pod fits somewhere, so each is decided once; the bound guards
    // against a pod parked as unschedulable that would never come back.
    while latency.len() < config.pods as u64 && attempts < config.pods {
        attempts += 1;
        let Some(p) = scheduler.next().await else {
            break;
        };
        let decided = Instant::now();
        match scheduler.schedule(&p) {
            Ok(node_name) => {
                record(&mut latency, decided.elapsed());
                scheduler.bound(&p);
                // What the informer reports once the binding is written.
                let mut confirmed = p.clone();
                if let Some(spec) = confirmed.spec.as_mut() {
                    spec.node_name = Some(node_name);
                }
                scheduler.on_pod_update(&p, &confirmed);
            }
            Err(fit) => scheduler.unschedulable(&p, &fit),
        }
    }
    let elapsed = started.elapsed();
    scheduler.close();
    Report::new("core", config, elapsed, &latency)
}

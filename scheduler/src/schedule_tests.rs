use std::collections::{BTreeSet, HashMap};

use k8s_openapi::api::core::v1::{
    Affinity, Pod, PodAffinityTerm, PodAntiAffinity, TopologySpreadConstraint,
};
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::*;
use crate::framework::cache::Cache;
use crate::framework::{LABEL_HOSTNAME, LABEL_ZONE};
use crate::testutil::{
    node, owned_by_replica_set, pod, pod_req, selector, snapshot, spec, taint, with_labels,
    with_node_labels, with_taints,
};

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

fn message(r: Result<ScheduleResult, FitError>) -> String {
    match r {
        Ok(ok) => format!("scheduled on {}", ok.node),
        Err(e) => e.to_string(),
    }
}

/// Schedules `pods` one after another, assuming each, as the scheduler does.
fn schedule_all(cache: &mut Cache, pods: &[Pod], seed: u64) -> Vec<Result<String, String>> {
    let mut r = rng(seed);
    let mut start = 0;
    pods.iter()
        .map(|p| {
            let snap = cache.snapshot();
            match schedule_one(p, &snap, start, &mut r) {
                Ok(res) => {
                    start = (start + res.evaluated_nodes) % snap.len().max(1);
                    cache.assume(p, &res.node).map_err(|e| e.to_string())?;
                    Ok(res.node)
                }
                Err(e) => Err(e.to_string()),
            }
        })
        .collect()
}

#[test]
fn fit_error_counts_nodes_per_reason() {
    let snap = snapshot(
        vec![
            node("n1", "1", "4Gi", "10"),
            node("n2", "1", "4Gi", "10"),
            node("n3", "1", "4Gi", "10"),
        ],
        vec![],
    );
    assert_eq!(
        message(schedule_one(
            &pod_req("p", "2", "1Gi"),
            &snap,
            0,
            &mut rng(1)
        )),
        "0/3 nodes are available: 3 Insufficient cpu."
    );
}

#[test]
fn fit_error_with_mixed_reasons_sorts_and_counts_each() {
    let mut cordoned = node("n1", "8", "8Gi", "10");
    cordoned
        .spec
        .get_or_insert_with(Default::default)
        .unschedulable = Some(true);
    let snap = snapshot(
        vec![
            cordoned,
            node("n2", "1", "1Gi", "10"),
            node("n3", "1", "1Gi", "10"),
            with_taints(
                node("n4", "8", "8Gi", "10"),
                vec![taint("dedicated", "infra", "NoSchedule")],
            ),
        ],
        vec![],
    );
    assert_eq!(
        message(schedule_one(
            &pod_req("p", "2", "2Gi"),
            &snap,
            0,
            &mut rng(1)
        )),
        "0/4 nodes are available: 1 node(s) had untolerated taint {dedicated: infra}, \
         1 node(s) were unschedulable, 2 Insufficient cpu, 2 Insufficient memory."
    );
}

#[test]
fn no_nodes_at_all() {
    let snap = snapshot(vec![], vec![]);
    assert_eq!(
        message(schedule_one(&pod("p"), &snap, 0, &mut rng(1))),
        "no nodes available to schedule pods"
    );
}

#[test]
fn adaptive_number_of_nodes_to_find() {
    assert_eq!(num_feasible_nodes_to_find(0, 3), 3);
    assert_eq!(num_feasible_nodes_to_find(0, 99), 99);
    // 100 nodes: 50% is 50, raised to the minimum of 100.
    assert_eq!(num_feasible_nodes_to_find(0, 100), 100);
    // 1000 nodes: 50 - 8 = 42%.
    assert_eq!(num_feasible_nodes_to_find(0, 1000), 420);
    // 5000 nodes: 50 - 40 = 10%.
    assert_eq!(num_feasible_nodes_to_find(0, 5000), 500);
    // 6000 nodes: 50 - 48 = 2%, raised to the 5% floor.
    assert_eq!(num_feasible_nodes_to_find(0, 6000), 300);
    assert_eq!(num_feasible_nodes_to_find(30, 1000), 300);
    assert_eq!(num_feasible_nodes_to_find(100, 1000), 1000);
}

fn many_nodes(n: usize) -> Snapshot {
    snapshot(
        (0..n)
            .map(|i| node(&format!("n{i:03}"), "4", "8Gi", "110"))
            .collect(),
        vec![],
    )
}

#[test]
fn search_stops_after_enough_feasible_nodes() {
    // 200 nodes: 50 - 1 = 49% is 98, raised to 100.
    let snap = many_nodes(200);
    let res = schedule_one(&pod_req("p", "1", "1Gi"), &snap, 0, &mut rng(1));
    assert_eq!(
        res.map(|r| (r.evaluated_nodes, r.feasible_nodes)),
        Ok((100, 100))
    );
}

#[test]
fn search_starts_at_the_given_index_and_wraps() {
    let snap = many_nodes(200);
    let names: BTreeSet<String> = snap.nodes()[150..]
        .iter()
        .chain(snap.nodes()[..50].iter())
        .map(|n| n.name().to_string())
        .collect();
    for seed in 0..20 {
        let res = schedule_one(&pod_req("p", "1", "1Gi"), &snap, 150, &mut rng(seed));
        let chosen = res.map(|r| r.node).unwrap_or_default();
        assert!(
            names.contains(&chosen),
            "{chosen} outside the searched window"
        );
    }
}

#[test]
fn single_feasible_node_is_taken_without_scoring() {
    let snap = snapshot(
        vec![
            node("small", "1", "1Gi", "10"),
            node("big", "8", "8Gi", "10"),
        ],
        vec![],
    );
    let res = schedule_one(&pod_req("p", "2", "1Gi"), &snap, 0, &mut rng(1));
    assert_eq!(
        res,
        Ok(ScheduleResult {
            node: "big".into(),
            evaluated_nodes: 2,
            feasible_nodes: 1
        })
    );
}

#[test]
fn ties_are_broken_at_random() {
    let snap = snapshot(
        vec![node("n1", "4", "8Gi", "10"), node("n2", "4", "8Gi", "10")],
        vec![],
    );
    let chosen: BTreeSet<String> = (0..32)
        .filter_map(|seed| schedule_one(&pod_req("p", "1", "1Gi"), &snap, 0, &mut rng(seed)).ok())
        .map(|r| r.node)
        .collect();
    assert_eq!(chosen.len(), 2);
}

#[test]
fn emptier_node_wins() {
    let mut cache = Cache::new();
    cache.add_node(node("busy", "4", "8Gi", "110"));
    cache.add_node(node("idle", "4", "8Gi", "110"));
    cache.assume(&pod_req("x", "2", "4Gi"), "busy").ok();
    for seed in 0..10 {
        let res = schedule_one(
            &pod_req("p", "1", "1Gi"),
            &cache.snapshot(),
            0,
            &mut rng(seed),
        );
        assert_eq!(res.map(|r| r.node), Ok("idle".to_string()));
    }
}

fn replica(name: &str) -> Pod {
    owned_by_replica_set(
        with_labels(
            pod_req(name, "100m", "128Mi"),
            &[("app", "web"), ("pod-template-hash", "5d8f")],
        ),
        "web-5d8f",
    )
}

#[test]
fn deployment_replicas_land_on_different_nodes() {
    for seed in 0..20 {
        let mut cache = Cache::new();
        for n in ["n1", "n2", "n3"] {
            cache.add_node(node(n, "4", "8Gi", "110"));
        }
        let pods = [replica("web-a"), replica("web-b"), replica("web-c")];
        let placed: BTreeSet<String> = schedule_all(&mut cache, &pods, seed)
            .into_iter()
            .flatten()
            .collect();
        assert_eq!(placed.len(), 3, "seed {seed}: {placed:?}");
    }
}

fn anti_affine_replica(name: &str) -> Pod {
    let mut p = with_labels(pod(name), &[("app", "db")]);
    spec(&mut p).affinity = Some(Affinity {
        pod_anti_affinity: Some(PodAntiAffinity {
            required_during_scheduling_ignored_during_execution: Some(vec![PodAffinityTerm {
                label_selector: Some(selector(&[("app", "db")])),
                topology_key: LABEL_HOSTNAME.into(),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    });
    p
}

#[test]
fn anti_affinity_spreads_three_replicas_over_three_nodes_and_refuses_a_fourth() {
    let mut cache = Cache::new();
    for n in ["n1", "n2", "n3"] {
        cache.add_node(node(n, "4", "8Gi", "110"));
    }
    let pods: Vec<Pod> = (0..4)
        .map(|i| anti_affine_replica(&format!("db-{i}")))
        .collect();
    let results = schedule_all(&mut cache, &pods, 7);
    let placed: BTreeSet<&String> = results.iter().take(3).flatten().collect();
    assert_eq!(placed.len(), 3);
    assert_eq!(
        results.get(3),
        Some(&Err(
            "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules.".to_string()
        ))
    );
}

#[test]
fn zone_spread_with_max_skew_one_fills_zones_evenly() {
    let mut cache = Cache::new();
    for (n, z) in [
        ("a1", "a"),
        ("a2", "a"),
        ("b1", "b"),
        ("c1", "c"),
        ("c2", "c"),
        ("c3", "c"),
    ] {
        cache.add_node(with_node_labels(
            node(n, "8", "16Gi", "110"),
            &[(LABEL_ZONE, z)],
        ));
    }
    let spread_pod = |name: &str| {
        let mut p = with_labels(pod_req(name, "100m", "100Mi"), &[("app", "web")]);
        spec(&mut p).topology_spread_constraints = Some(vec![TopologySpreadConstraint {
            max_skew: 1,
            topology_key: LABEL_ZONE.into(),
            when_unsatisfiable: "DoNotSchedule".into(),
            label_selector: Some(selector(&[("app", "web")])),
            ..Default::default()
        }]);
        p
    };
    let pods: Vec<Pod> = (0..6).map(|i| spread_pod(&format!("w{i}"))).collect();
    let results = schedule_all(&mut cache, &pods, 3);
    let mut per_zone: HashMap<char, usize> = HashMap::new();
    for node in results.iter().flatten() {
        if let Some(zone) = node.chars().next() {
            *per_zone.entry(zone).or_insert(0) += 1;
        }
    }
    assert_eq!(per_zone.get(&'a'), Some(&2));
    assert_eq!(per_zone.get(&'b'), Some(&2));
    assert_eq!(per_zone.get(&'c'), Some(&2));
}

#[test]
fn untolerated_unreachable_taint_message() {
    let snap = snapshot(
        vec![with_taints(
            node("n1", "4", "8Gi", "110"),
            vec![taint("node.kubernetes.io/unreachable", "", "NoExecute")],
        )],
        vec![],
    );
    assert_eq!(
        message(schedule_one(&pod("p"), &snap, 0, &mut rng(1))),
        "0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }."
    );
}

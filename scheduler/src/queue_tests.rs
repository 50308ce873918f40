use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, PodSchedulingGate};
use tokio::time::Instant;

use super::*;
use crate::testutil::{pod, spec, with_labels};

fn with_priority(mut p: Pod, priority: i32) -> Pod {
    spec(&mut p).priority = Some(priority);
    p
}

fn name(p: &Option<Pod>) -> String {
    p.as_ref()
        .and_then(|p| p.metadata.name.clone())
        .unwrap_or_default()
}

async fn pop_name(q: &SchedulingQueue) -> String {
    name(&q.pop().await)
}

#[test]
fn backoff_doubles_from_one_second_up_to_ten() {
    let q = SchedulingQueue::new();
    let secs: Vec<u64> = (1..=6).map(|a| q.backoff_duration(a).as_secs()).collect();
    assert_eq!(secs, [1, 2, 4, 8, 10, 10]);
}

#[tokio::test(start_paused = true)]
async fn higher_priority_first_then_first_come() {
    let q = SchedulingQueue::new();
    q.add(pod("low-1"));
    tokio::time::advance(Duration::from_millis(1)).await;
    q.add(with_priority(pod("high"), 1000));
    tokio::time::advance(Duration::from_millis(1)).await;
    q.add(pod("low-2"));
    assert_eq!(pop_name(&q).await, "high");
    assert_eq!(pop_name(&q).await, "low-1");
    assert_eq!(pop_name(&q).await, "low-2");
}

#[tokio::test(start_paused = true)]
async fn adding_a_pod_twice_queues_it_once() {
    let q = SchedulingQueue::new();
    q.add(pod("p"));
    q.add(with_labels(pod("p"), &[("v", "2")]));
    assert_eq!(q.counts().active, 1);
    let popped = q.pop().await;
    assert_eq!(
        popped
            .and_then(|p| p.metadata.labels)
            .and_then(|l| l.get("v").cloned()),
        Some("2".to_string())
    );
}

#[tokio::test(start_paused = true)]
async fn pop_waits_for_a_pod() {
    let q = std::sync::Arc::new(SchedulingQueue::new());
    let waiter = tokio::spawn({
        let q = q.clone();
        async move { pop_name(&q).await }
    });
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(!waiter.is_finished());
    q.add(pod("late"));
    assert_eq!(waiter.await.ok(), Some("late".to_string()));
}

#[tokio::test(start_paused = true)]
async fn failed_attempts_back_off_one_two_four_seconds() {
    let q = SchedulingQueue::new();
    q.add(pod("p"));
    let mut p = q.pop().await;
    for expected in [1, 2, 4, 8, 10, 10] {
        let failed = p.clone().unwrap_or_default();
        q.add_backoff(&failed);
        assert_eq!(q.counts().backoff, 1);
        let t0 = Instant::now();
        p = q.pop().await;
        assert_eq!(name(&p), "p");
        assert_eq!(t0.elapsed(), Duration::from_secs(expected));
    }
}

#[tokio::test(start_paused = true)]
async fn unschedulable_pod_waits_for_a_cluster_event() {
    let q = SchedulingQueue::new();
    q.add(pod("p"));
    let p = q.pop().await.unwrap_or_default();
    q.add_unschedulable(&p, &[]);
    assert_eq!(q.counts().unschedulable, 1);
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(q.counts().unschedulable, 1);
    // A node is added: its backoff (1 s from parking) is long over.
    q.move_all_to_active_or_backoff(ClusterEvent::NodeAdd);
    assert_eq!(q.counts().active, 1);
    let t0 = Instant::now();
    assert_eq!(pop_name(&q).await, "p");
    assert_eq!(t0.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn cluster_event_right_after_parking_goes_through_backoff() {
    let q = SchedulingQueue::new();
    q.add(pod("p"));
    let p = q.pop().await.unwrap_or_default();
    q.add_unschedulable(&p, &[]);
    q.move_all_to_active_or_backoff(ClusterEvent::NodeAdd);
    assert_eq!(q.counts().backoff, 1);
    let t0 = Instant::now();
    assert_eq!(pop_name(&q).await, "p");
    assert_eq!(t0.elapsed(), Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn unschedulable_pod_is_retried_after_five_minutes() {
    let q = SchedulingQueue::new();
    q.add(pod("p"));
    let p = q.pop().await.unwrap_or_default();
    q.add_unschedulable(&p, &[]);
    let t0 = Instant::now();
    assert_eq!(pop_name(&q).await, "p");
    assert_eq!(t0.elapsed(), Duration::from_secs(300));
}

#[tokio::test(start_paused = true)]
async fn event_during_the_attempt_avoids_parking() {
    let q = SchedulingQueue::new();
    q.add(pod("p"));
    let p = q.pop().await.unwrap_or_default();
    q.move_all_to_active_or_backoff(ClusterEvent::NodeAdd);
    q.add_unschedulable(&p, &[]);
    assert_eq!(q.counts().unschedulable, 0);
    assert_eq!(q.counts().backoff, 1);
}

#[tokio::test(start_paused = true)]
async fn update_during_the_attempt_is_queued_after_done() {
    let q = SchedulingQueue::new();
    q.add(pod("p"));
    let p = q.pop().await.unwrap_or_default();
    let newer = with_labels(pod("p"), &[("v", "2")]);
    q.update(&p, newer);
    assert_eq!(q.counts().in_flight, 1);
    assert_eq!(q.counts().active + q.counts().backoff, 0);
    q.done(&p);
    let again = q.pop().await;
    assert_eq!(
        again
            .and_then(|p| p.metadata.labels)
            .and_then(|l| l.get("v").cloned()),
        Some("2".to_string())
    );
}

#[tokio::test(start_paused = true)]
async fn deleted_during_the_attempt_is_not_requeued() {
    let q = SchedulingQueue::new();
    q.add(pod("p"));
    let p = q.pop().await.unwrap_or_default();
    q.delete(&p);
    q.add_unschedulable(&p, &[]);
    assert_eq!(q.counts(), QueueCounts::default());
}

#[tokio::test(start_paused = true)]
async fn updated_unschedulable_pod_is_retried() {
    let q = SchedulingQueue::new();
    q.add(pod("p"));
    let p = q.pop().await.unwrap_or_default();
    q.add_unschedulable(&p, &[]);
    tokio::time::sleep(Duration::from_secs(5)).await;
    q.update(&p, with_labels(pod("p"), &[("fixed", "yes")]));
    assert_eq!(q.counts().active, 1);
}

#[tokio::test(start_paused = true)]
async fn gated_pod_waits_until_its_gates_are_removed() {
    let q = SchedulingQueue::new();
    let mut gated = pod("p");
    spec(&mut gated).scheduling_gates = Some(vec![PodSchedulingGate {
        name: "wait".into(),
    }]);
    q.add(gated.clone());
    assert_eq!(q.counts().gated, 1);
    q.move_all_to_active_or_backoff(ClusterEvent::NodeAdd);
    assert_eq!(q.counts().gated, 1);
    q.update(&gated, pod("p"));
    assert_eq!(pop_name(&q).await, "p");
}

#[tokio::test(start_paused = true)]
async fn close_wakes_waiters_with_none() {
    let q = std::sync::Arc::new(SchedulingQueue::new());
    let waiter = tokio::spawn({
        let q = q.clone();
        async move { q.pop().await }
    });
    tokio::task::yield_now().await;
    q.close();
    assert!(matches!(waiter.await, Ok(None)));
}

#[tokio::test(start_paused = true)]
async fn only_events_that_may_help_move_a_parked_pod() {
    let q = SchedulingQueue::new();
    q.add(pod("p"));
    let p = q.pop().await.unwrap_or_default();
    q.add_unschedulable(&p, &["NodeResourcesFit"]);
    q.move_all_to_active_or_backoff(ClusterEvent::AssignedPodAdd);
    assert_eq!(q.counts().unschedulable, 1);
    q.move_all_to_active_or_backoff(ClusterEvent::AssignedPodDelete);
    assert_eq!(q.counts().unschedulable, 0);
}

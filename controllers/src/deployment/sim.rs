//! A small world for the Deployment tests: applies plans the way the wiring would, and
//! plays the ReplicaSet controller and the kubelet (pods appear at once, become
//! available on the next tick, and linger one tick while terminating).

use jiff::{Span, Timestamp};
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, ReplicaSet, ReplicaSetStatus,
    RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::{
    Container, Pod, PodCondition, PodSpec, PodStatus, PodTemplateSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

use super::{sync, DeploymentAction, DeploymentInput, DeploymentPlan};
use crate::controller_ref::{is_controlled_by, new_controller_ref};
use crate::pod_util;
use crate::replicaset::Event;

/// Strategy of the simulated Deployment.
pub struct Strategy(DeploymentStrategy);

impl Strategy {
    pub fn rolling(surge: &str, unavailable: &str) -> Self {
        let v = |s: &str| match s.parse::<i32>() {
            Ok(n) => IntOrString::Int(n),
            Err(_) => IntOrString::String(s.into()),
        };
        Strategy(DeploymentStrategy {
            type_: Some("RollingUpdate".into()),
            rolling_update: Some(RollingUpdateDeployment {
                max_surge: Some(v(surge)),
                max_unavailable: Some(v(unavailable)),
            }),
        })
    }

    pub fn recreate() -> Self {
        Strategy(DeploymentStrategy {
            type_: Some("Recreate".into()),
            rolling_update: None,
        })
    }
}

pub struct Sim {
    pub deployment: Deployment,
    pub replica_sets: Vec<ReplicaSet>,
    pub pods: Vec<Pod>,
    pub now: Timestamp,
    pub pods_become_available: bool,
    pub events: Vec<Event>,
    next_uid: u64,
}

fn labels() -> BTreeMap<String, String> {
    BTreeMap::from([("app".to_string(), "web".to_string())])
}

impl Sim {
    pub fn new(replicas: i32, strategy: Strategy) -> Self {
        let deployment = Deployment {
            metadata: ObjectMeta {
                name: Some("web".into()),
                namespace: Some("default".into()),
                uid: Some("deployment-uid".into()),
                generation: Some(1),
                ..Default::default()
            },
            spec: Some(DeploymentSpec {
                replicas: Some(replicas),
                selector: LabelSelector {
                    match_labels: Some(labels()),
                    ..Default::default()
                },
                strategy: Some(strategy.0),
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(labels()),
                        ..Default::default()
                    }),
                    spec: Some(PodSpec {
                        containers: vec![Container {
                            name: "web".into(),
                            image: Some("web:1".into()),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }),
                },
                ..Default::default()
            }),
            status: None,
        };
        Sim {
            deployment,
            replica_sets: Vec::new(),
            pods: Vec::new(),
            now: Timestamp::from_second(1_700_000_000).unwrap_or(Timestamp::UNIX_EPOCH),
            pods_become_available: true,
            events: Vec::new(),
            next_uid: 0,
        }
    }

    fn uid(&mut self, prefix: &str) -> String {
        self.next_uid += 1;
        format!("{prefix}-{}", self.next_uid)
    }

    pub fn advance(&mut self, span: Span) {
        self.now = self.now.checked_add(span).expect("time in range");
    }

    fn bump_generation(&mut self) {
        let g = self.deployment.metadata.generation.unwrap_or(0);
        self.deployment.metadata.generation = Some(g + 1);
    }

    pub fn change_image(&mut self, image: &str) {
        if let Some(c) = self
            .deployment
            .spec
            .as_mut()
            .and_then(|s| s.template.spec.as_mut())
            .and_then(|s| s.containers.first_mut())
        {
            c.image = Some(image.into());
        }
        self.bump_generation();
    }

    pub fn set_replicas(&mut self, replicas: i32) {
        if let Some(s) = self.deployment.spec.as_mut() {
            s.replicas = Some(replicas);
        }
        self.bump_generation();
    }

    /// One controller round: sync, apply the plan, let the ReplicaSets react, check
    /// nothing, then tick the kubelet.
    pub fn step(&mut self) -> DeploymentPlan {
        let plan = self.sync_and_apply();
        self.tick();
        plan
    }

    /// Sync and apply, then let the ReplicaSets create/terminate pods, without the
    /// kubelet tick (the moment the rolling-update bounds must hold).
    pub fn sync_and_apply(&mut self) -> DeploymentPlan {
        let plan = sync(DeploymentInput {
            deployment: &self.deployment,
            replica_sets: &self.replica_sets,
            pods: &self.pods,
            now: self.now,
        })
        .expect("sync");
        for action in &plan.actions {
            self.apply(action);
        }
        if let Some(revision) = &plan.revision {
            self.deployment
                .metadata
                .annotations
                .get_or_insert_with(Default::default)
                .insert(super::REVISION_ANNOTATION.into(), revision.clone());
        }
        if let Some(status) = &plan.status {
            self.deployment.status = Some(status.clone());
        }
        self.reconcile_replica_sets();
        plan
    }

    fn apply(&mut self, action: &DeploymentAction) {
        match action {
            DeploymentAction::CreateReplicaSet {
                replica_set,
                events,
            } => {
                let mut rs = (**replica_set).clone();
                rs.metadata.uid = Some(self.uid("rs"));
                rs.metadata.creation_timestamp = Some(Time(self.now));
                rs.metadata.generation = Some(1);
                self.replica_sets.push(rs);
                self.events.extend(events.iter().cloned());
            }
            DeploymentAction::UpdateReplicaSet {
                replica_set,
                events,
            } => {
                if let Some(rs) = self
                    .replica_sets
                    .iter_mut()
                    .find(|r| r.metadata.name == replica_set.metadata.name)
                {
                    let spec_changed = rs.spec != replica_set.spec;
                    rs.spec = replica_set.spec.clone();
                    rs.metadata.annotations = replica_set.metadata.annotations.clone();
                    if spec_changed {
                        rs.metadata.generation = Some(rs.metadata.generation.unwrap_or(0) + 1);
                    }
                }
                self.events.extend(events.iter().cloned());
            }
            DeploymentAction::DeleteReplicaSet { name, .. } => {
                self.replica_sets
                    .retain(|r| r.metadata.name.as_ref() != Some(name));
            }
            DeploymentAction::RecordEvent(e) => self.events.push(e.clone()),
            DeploymentAction::AdoptReplicaSet(_) | DeploymentAction::ReleaseReplicaSet(_) => {}
        }
    }

    /// The ReplicaSet controller, instantly: create missing pods (not ready), mark
    /// surplus pods terminating (not-ready ones first), and report status.
    fn reconcile_replica_sets(&mut self) {
        for i in 0..self.replica_sets.len() {
            let rs = self.replica_sets[i].clone();
            let uid = rs.metadata.uid.clone().unwrap_or_default();
            let desired = rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);
            let mut active: Vec<usize> = (0..self.pods.len())
                .filter(|&p| {
                    is_controlled_by(&self.pods[p].metadata, &uid)
                        && pod_util::is_pod_active(&self.pods[p])
                })
                .collect();
            let count = i32::try_from(active.len()).unwrap_or(0);
            for _ in count..desired {
                let pod = self.new_pod(&rs);
                self.pods.push(pod);
            }
            if count > desired {
                active.sort_by_key(|&p| pod_util::is_pod_ready(&self.pods[p]));
                for &p in active
                    .iter()
                    .take(usize::try_from(count - desired).unwrap_or(0))
                {
                    self.pods[p].metadata.deletion_timestamp = Some(Time(self.now));
                }
            }
        }
        self.report_status();
    }

    fn report_status(&mut self) {
        for rs in &mut self.replica_sets {
            let uid = rs.metadata.uid.clone().unwrap_or_default();
            let active: Vec<&Pod> = self
                .pods
                .iter()
                .filter(|p| is_controlled_by(&p.metadata, &uid) && pod_util::is_pod_active(p))
                .collect();
            let ready = active.iter().filter(|p| pod_util::is_pod_ready(p)).count();
            let ready = i32::try_from(ready).unwrap_or(0);
            rs.status = Some(ReplicaSetStatus {
                replicas: i32::try_from(active.len()).unwrap_or(0),
                ready_replicas: Some(ready),
                available_replicas: Some(ready),
                fully_labeled_replicas: None,
                observed_generation: rs.metadata.generation,
                conditions: None,
                terminating_replicas: None,
            });
        }
    }

    fn new_pod(&mut self, rs: &ReplicaSet) -> Pod {
        let name = self.uid(&rs.metadata.name.clone().unwrap_or_default());
        let template_labels = rs
            .spec
            .as_ref()
            .and_then(|s| s.template.as_ref())
            .and_then(|t| t.metadata.as_ref())
            .and_then(|m| m.labels.clone());
        Pod {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                uid: Some(name),
                namespace: Some("default".into()),
                labels: template_labels,
                owner_references: Some(vec![new_controller_ref::<ReplicaSet>(&rs.metadata)]),
                creation_timestamp: Some(Time(self.now)),
                ..Default::default()
            },
            spec: Some(PodSpec::default()),
            status: Some(PodStatus {
                phase: Some("Running".into()),
                ..Default::default()
            }),
        }
    }

    /// The kubelet: terminating pods finish, and running pods become ready.
    pub fn tick(&mut self) {
        self.pods
            .retain(|p| p.metadata.deletion_timestamp.is_none());
        if self.pods_become_available {
            let now = self.now;
            for pod in &mut self.pods {
                if !pod_util::is_pod_ready(pod) {
                    if let Some(status) = pod.status.as_mut() {
                        status.conditions = Some(vec![PodCondition {
                            type_: "Ready".into(),
                            status: "True".into(),
                            last_transition_time: Some(Time(now)),
                            ..Default::default()
                        }]);
                    }
                }
            }
        }
        self.report_status();
    }

    /// Steps until a sync changes nothing (at most 50 rounds).
    pub fn settle(&mut self) {
        for _ in 0..50 {
            let plan = self.step();
            if plan.actions.is_empty() && plan.status.is_none() && plan.revision.is_none() {
                return;
            }
        }
        panic!("deployment did not settle");
    }

    pub fn new_rs_name(&self) -> Option<String> {
        let template = &self.deployment.spec.as_ref()?.template;
        self.replica_sets
            .iter()
            .find(|rs| {
                rs.spec
                    .as_ref()
                    .and_then(|s| s.template.as_ref())
                    .is_some_and(|t| super::equal_ignore_hash(t, template))
            })
            .and_then(|rs| rs.metadata.name.clone())
    }

    /// spec.replicas of the ReplicaSets, oldest first.
    pub fn sizes(&self) -> Vec<i32> {
        let mut rss: Vec<&ReplicaSet> = self.replica_sets.iter().collect();
        rss.sort_by(|a, b| super::util::by_creation(a, b));
        rss.iter().map(|rs| super::util::rs_replicas(rs)).collect()
    }

    pub fn active_pods(&self) -> usize {
        self.pods
            .iter()
            .filter(|p| pod_util::is_pod_active(p))
            .count()
    }

    pub fn available_pods(&self) -> usize {
        self.pods
            .iter()
            .filter(|p| pod_util::is_pod_active(p) && pod_util::is_pod_ready(p))
            .count()
    }
}

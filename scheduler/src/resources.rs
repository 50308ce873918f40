//! Resource amounts of nodes and pods, and Kubernetes' rule for what a pod
//! requests.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::quantity::{parse_millis, parse_units};

/// CPU a container without a cpu request is taken to use, in millicores, when
/// spreading by score (kube-scheduler's `DefaultMilliCPURequest`). Filters
/// never use it: a pod without requests fits anywhere.
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;

/// Memory a container without a memory request is taken to use, in bytes, when
/// spreading by score (kube-scheduler's `DefaultMemoryRequest`, 200 MiB).
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// Name of the cpu resource.
pub const CPU: &str = "cpu";
/// Name of the memory resource.
pub const MEMORY: &str = "memory";
/// Name of the ephemeral-storage resource.
pub const EPHEMERAL_STORAGE: &str = "ephemeral-storage";
/// Name of the pod-count resource of a node's allocatable.
pub const PODS: &str = "pods";

/// An amount of each resource: what a node offers or what pods ask for.
///
/// Unreadable quantities count as 0: the apiserver validates quantities, so an
/// unreadable one is a malformed object and must not stop the scheduler.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resource {
    /// CPU in millicores.
    pub milli_cpu: i64,
    /// Memory in bytes.
    pub memory: i64,
    /// Ephemeral storage in bytes.
    pub ephemeral_storage: i64,
    /// How many pods a node may run (`pods` of its allocatable).
    pub allowed_pod_number: i64,
    /// Extended and other countable resources (`example.com/gpu`,
    /// `hugepages-2Mi`), in units.
    pub scalar: BTreeMap<String, i64>,
}

impl Resource {
    /// Reads a resource list such as `requests`, `allocatable` or `overhead`.
    pub fn from_list(list: Option<&BTreeMap<String, Quantity>>) -> Self {
        let mut r = Resource::default();
        for (name, q) in list.into_iter().flatten() {
            r.set(name, q);
        }
        r
    }

    fn set(&mut self, name: &str, q: &Quantity) {
        match name {
            CPU => self.milli_cpu = parse_millis(q).unwrap_or(0),
            MEMORY => self.memory = parse_units(q).unwrap_or(0),
            EPHEMERAL_STORAGE => self.ephemeral_storage = parse_units(q).unwrap_or(0),
            PODS => self.allowed_pod_number = parse_units(q).unwrap_or(0),
            // Persistent storage is a volume matter, never a node capacity.
            "storage" => {}
            other => {
                self.scalar
                    .insert(other.to_string(), parse_units(q).unwrap_or(0));
            }
        }
    }

    /// The amount of the named resource (cpu in millicores).
    pub fn get(&self, name: &str) -> i64 {
        match name {
            CPU => self.milli_cpu,
            MEMORY => self.memory,
            EPHEMERAL_STORAGE => self.ephemeral_storage,
            PODS => self.allowed_pod_number,
            other => self.scalar.get(other).copied().unwrap_or(0),
        }
    }

    /// Adds `other` to `self`.
    pub fn add(&mut self, other: &Resource) {
        self.milli_cpu = self.milli_cpu.saturating_add(other.milli_cpu);
        self.memory = self.memory.saturating_add(other.memory);
        self.ephemeral_storage = self
            .ephemeral_storage
            .saturating_add(other.ephemeral_storage);
        self.allowed_pod_number = self
            .allowed_pod_number
            .saturating_add(other.allowed_pod_number);
        for (name, v) in &other.scalar {
            let e = self.scalar.entry(name.clone()).or_insert(0);
            *e = e.saturating_add(*v);
        }
    }

    /// Subtracts `other` from `self` (used when a pod leaves a node).
    pub fn sub(&mut self, other: &Resource) {
        self.milli_cpu = self.milli_cpu.saturating_sub(other.milli_cpu);
        self.memory = self.memory.saturating_sub(other.memory);
        self.ephemeral_storage = self
            .ephemeral_storage
            .saturating_sub(other.ephemeral_storage);
        self.allowed_pod_number = self
            .allowed_pod_number
            .saturating_sub(other.allowed_pod_number);
        for (name, v) in &other.scalar {
            let e = self.scalar.entry(name.clone()).or_insert(0);
            *e = e.saturating_sub(*v);
        }
    }

    /// Raises each resource of `self` to at least that of `other`.
    pub fn set_max(&mut self, other: &Resource) {
        self.milli_cpu = self.milli_cpu.max(other.milli_cpu);
        self.memory = self.memory.max(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(other.ephemeral_storage);
        self.allowed_pod_number = self.allowed_pod_number.max(other.allowed_pod_number);
        for (name, v) in &other.scalar {
            let e = self.scalar.entry(name.clone()).or_insert(*v);
            *e = (*e).max(*v);
        }
    }

    /// True when nothing at all is requested (a BestEffort-like request).
    pub fn is_zero(&self) -> bool {
        self.milli_cpu == 0
            && self.memory == 0
            && self.ephemeral_storage == 0
            && self.scalar.values().all(|v| *v == 0)
    }
}

/// What a pod requests, by Kubernetes' rule (`resourcehelper.PodRequests`):
/// the larger of the sum of its containers and of each init container, where
/// restartable ("sidecar", `restartPolicy: Always`) init containers keep running
/// and so add to everything started after them, plus the pod's overhead.
pub fn pod_requests(pod: &Pod) -> Resource {
    requests_with_defaults(pod, false)
}

/// The pod's requests as scoring sees them: a container that names no cpu or
/// no memory request counts [`DEFAULT_MILLI_CPU_REQUEST`] /
/// [`DEFAULT_MEMORY_REQUEST`], so that many request-less pods still spread
/// (kube-scheduler's non-zero requests).
pub fn pod_non_zero_requests(pod: &Pod) -> Resource {
    requests_with_defaults(pod, true)
}

fn requests_with_defaults(pod: &Pod, fill_missing: bool) -> Resource {
    let Some(spec) = pod.spec.as_ref() else {
        return Resource::default();
    };
    let container_requests = |c: &Container| {
        let list = c.resources.as_ref().and_then(|r| r.requests.as_ref());
        let mut r = Resource::from_list(list);
        if fill_missing {
            if !list.is_some_and(|l| l.contains_key(CPU)) {
                r.milli_cpu = DEFAULT_MILLI_CPU_REQUEST;
            }
            if !list.is_some_and(|l| l.contains_key(MEMORY)) {
                r.memory = DEFAULT_MEMORY_REQUEST;
            }
        }
        r
    };

    let mut total = Resource::default();
    for c in &spec.containers {
        total.add(&container_requests(c));
    }

    let mut sidecars = Resource::default();
    let mut init_peak = Resource::default();
    for c in spec.init_containers.iter().flatten() {
        let own = container_requests(c);
        let running_now = if c.restart_policy.as_deref() == Some("Always") {
            // A sidecar runs beside the app containers for the pod's life.
            total.add(&own);
            sidecars.add(&own);
            sidecars.clone()
        } else {
            // A plain init container runs alone, beside the sidecars before it.
            let mut r = own;
            r.add(&sidecars);
            r
        };
        init_peak.set_max(&running_now);
    }
    total.set_max(&init_peak);
    total.add(&Resource::from_list(spec.overhead.as_ref()));
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{container, pod, quantities, spec};

    #[test]
    fn sum_of_containers() {
        let mut p = pod("p");
        set_containers(
            &mut p,
            vec![container("1", "1Gi"), container("500m", "512Mi")],
        );
        let r = pod_requests(&p);
        assert_eq!(r.milli_cpu, 1500);
        assert_eq!(r.memory, (1 << 30) + (512 << 20));
    }

    #[test]
    fn largest_init_container_wins_over_smaller_sum() {
        let mut p = pod("p");
        set_containers(&mut p, vec![container("100m", "100Mi")]);
        spec(&mut p).init_containers = Some(vec![container("2", "50Mi")]);
        let r = pod_requests(&p);
        assert_eq!(r.milli_cpu, 2000);
        assert_eq!(r.memory, 100 << 20);
    }

    #[test]
    fn sidecars_add_to_containers_and_later_init_containers() {
        let mut p = pod("p");
        set_containers(&mut p, vec![container("1", "0")]);
        let mut sidecar = container("500m", "0");
        sidecar.restart_policy = Some("Always".into());
        let late_init = container("1200m", "0");
        spec(&mut p).init_containers = Some(vec![sidecar, late_init]);
        // containers 1000 + sidecar 500 = 1500 vs init 1200 + sidecar 500 = 1700.
        assert_eq!(pod_requests(&p).milli_cpu, 1700);
    }

    #[test]
    fn overhead_is_added() {
        let mut p = pod("p");
        set_containers(&mut p, vec![container("1", "1Gi")]);
        spec(&mut p).overhead = Some(quantities(&[("cpu", "250m")]));
        assert_eq!(pod_requests(&p).milli_cpu, 1250);
    }

    #[test]
    fn missing_requests_get_scoring_defaults_only() {
        let mut p = pod("p");
        let mut bare = container("0", "0");
        bare.resources = None;
        set_containers(&mut p, vec![bare, container("0", "1Gi")]);
        let real = pod_requests(&p);
        assert_eq!((real.milli_cpu, real.memory), (0, 1 << 30));
        let scored = pod_non_zero_requests(&p);
        // The second container names cpu 0 explicitly, which is kept.
        assert_eq!(scored.milli_cpu, DEFAULT_MILLI_CPU_REQUEST);
        assert_eq!(scored.memory, DEFAULT_MEMORY_REQUEST + (1 << 30));
    }

    #[test]
    fn extended_resources_are_scalars() {
        let r = Resource::from_list(Some(&quantities(&[
            ("example.com/gpu", "2"),
            ("pods", "110"),
            ("cpu", "bogus"),
        ])));
        assert_eq!(r.get("example.com/gpu"), 2);
        assert_eq!(r.allowed_pod_number, 110);
        assert_eq!(r.milli_cpu, 0);
    }

    fn set_containers(p: &mut Pod, cs: Vec<Container>) {
        spec(p).containers = cs;
    }
}

//! Everything the scheduler knows about one node: the node object, the pods on
//! it, and running totals kept up to date as pods come and go, so no decision
//! has to add up a node's pods again.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use k8s_openapi::api::core::v1::Node;

use super::pod_info::PodInfo;
use crate::resources::Resource;

/// The IP a host port binds when the container names none: every address.
pub const WILDCARD_IP: &str = "0.0.0.0";

/// Host ports in use on a node, by `(protocol, port)` and then IP, with a count
/// of the pods using each (so removing one of two users keeps the port taken).
#[derive(Debug, Clone, Default)]
pub struct HostPortInfo {
    ports: HashMap<(String, i32), BTreeMap<String, u32>>,
}

fn normalize(ip: &str, protocol: &str) -> (String, String) {
    let ip = if ip.is_empty() { WILDCARD_IP } else { ip };
    let protocol = if protocol.is_empty() { "TCP" } else { protocol };
    (ip.to_string(), protocol.to_string())
}

impl HostPortInfo {
    /// Records a use of `ip:port/protocol`; a port of 0 or less is no host port.
    pub fn add(&mut self, ip: &str, protocol: &str, port: i32) {
        if port <= 0 {
            return;
        }
        let (ip, protocol) = normalize(ip, protocol);
        *self
            .ports
            .entry((protocol, port))
            .or_default()
            .entry(ip)
            .or_insert(0) += 1;
    }

    /// Drops one use of `ip:port/protocol`.
    pub fn remove(&mut self, ip: &str, protocol: &str, port: i32) {
        if port <= 0 {
            return;
        }
        let (ip, protocol) = normalize(ip, protocol);
        let key = (protocol, port);
        if let Some(ips) = self.ports.get_mut(&key) {
            if let Some(n) = ips.get_mut(&ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    ips.remove(&ip);
                }
            }
            if ips.is_empty() {
                self.ports.remove(&key);
            }
        }
    }

    /// Whether using `ip:port/protocol` would clash: the wildcard address
    /// clashes with the same port on any address, and any address clashes with
    /// the wildcard.
    pub fn conflicts(&self, ip: &str, protocol: &str, port: i32) -> bool {
        if port <= 0 {
            return false;
        }
        let (ip, protocol) = normalize(ip, protocol);
        let Some(ips) = self.ports.get(&(protocol, port)) else {
            return false;
        };
        if ip == WILDCARD_IP {
            return !ips.is_empty();
        }
        ips.contains_key(&ip) || ips.contains_key(WILDCARD_IP)
    }

    /// Number of distinct `(ip, protocol, port)` in use.
    pub fn len(&self) -> usize {
        self.ports.values().map(BTreeMap::len).sum()
    }

    /// True when no host port is in use.
    pub fn is_empty(&self) -> bool {
        self.ports.is_empty()
    }
}

/// The host ports a pod's containers ask for, as `(ip, protocol, port)`.
pub fn pod_host_ports(pod: &k8s_openapi::api::core::v1::Pod) -> Vec<(String, String, i32)> {
    pod.spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|p| {
            let port = p.host_port.filter(|hp| *hp > 0)?;
            Some((
                p.host_ip.clone().unwrap_or_default(),
                p.protocol.clone().unwrap_or_default(),
                port,
            ))
        })
        .collect()
}

/// One node and the pods on it.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    name: String,
    node: Option<Arc<Node>>,
    /// Every pod on the node, assumed ones included.
    pub pods: Vec<Arc<PodInfo>>,
    /// Pods declaring pod affinity or anti-affinity.
    pub pods_with_affinity: Vec<Arc<PodInfo>>,
    /// Pods with required anti-affinity terms.
    pub pods_with_required_anti_affinity: Vec<Arc<PodInfo>>,
    /// Host ports taken.
    pub used_ports: HostPortInfo,
    /// Sum of the pods' requests.
    pub requested: Resource,
    /// Sum of the pods' requests with scoring defaults for missing cpu/memory.
    pub non_zero_requested: Resource,
    /// What the node offers (`status.allocatable`).
    pub allocatable: Resource,
}

impl NodeInfo {
    /// An empty record of the node called `name`, without its object yet (pods
    /// bound to a node can be seen before the node itself).
    pub fn new(name: &str) -> Self {
        NodeInfo {
            name: name.to_string(),
            node: None,
            pods: Vec::new(),
            pods_with_affinity: Vec::new(),
            pods_with_required_anti_affinity: Vec::new(),
            used_ports: HostPortInfo::default(),
            requested: Resource::default(),
            non_zero_requested: Resource::default(),
            allocatable: Resource::default(),
        }
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The node object, once seen.
    pub fn node(&self) -> Option<&Node> {
        self.node.as_deref()
    }

    /// The node's labels.
    pub fn labels(&self) -> Option<&BTreeMap<String, String>> {
        self.node().and_then(|n| n.metadata.labels.as_ref())
    }

    /// The value of the node label `key`.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels().and_then(|l| l.get(key)).map(String::as_str)
    }

    /// Sets (or replaces) the node object and its allocatable resources.
    pub fn set_node(&mut self, node: Node) {
        self.allocatable =
            Resource::from_list(node.status.as_ref().and_then(|s| s.allocatable.as_ref()));
        self.node = Some(Arc::new(node));
    }

    /// Forgets the node object, keeping its pods until they are deleted too.
    pub fn clear_node(&mut self) {
        self.node = None;
        self.allocatable = Resource::default();
    }

    /// Adds a pod and its requests, ports and affinity to the totals.
    pub fn add_pod(&mut self, pod: Arc<PodInfo>) {
        self.requested.add(&pod.requests);
        self.non_zero_requested.milli_cpu = self
            .non_zero_requested
            .milli_cpu
            .saturating_add(pod.non_zero_requests.milli_cpu);
        self.non_zero_requested.memory = self
            .non_zero_requested
            .memory
            .saturating_add(pod.non_zero_requests.memory);
        for (ip, protocol, port) in pod_host_ports(&pod.pod) {
            self.used_ports.add(&ip, &protocol, port);
        }
        if pod.has_affinity {
            self.pods_with_affinity.push(Arc::clone(&pod));
        }
        if pod.has_required_anti_affinity() {
            self.pods_with_required_anti_affinity.push(Arc::clone(&pod));
        }
        self.pods.push(pod);
    }

    /// Removes the pod with `key`, undoing what [`NodeInfo::add_pod`] added.
    /// Returns whether it was there.
    pub fn remove_pod(&mut self, key: &str) -> bool {
        let Some(at) = self.pods.iter().position(|p| p.key == key) else {
            return false;
        };
        let pod = self.pods.swap_remove(at);
        self.pods_with_affinity.retain(|p| p.key != key);
        self.pods_with_required_anti_affinity
            .retain(|p| p.key != key);
        self.requested.sub(&pod.requests);
        self.non_zero_requested.milli_cpu = self
            .non_zero_requested
            .milli_cpu
            .saturating_sub(pod.non_zero_requests.milli_cpu);
        self.non_zero_requested.memory = self
            .non_zero_requested
            .memory
            .saturating_sub(pod.non_zero_requests.memory);
        for (ip, protocol, port) in pod_host_ports(&pod.pod) {
            self.used_ports.remove(&ip, &protocol, port);
        }
        true
    }

    /// True when the record holds neither a node nor pods and can go.
    pub fn is_vacant(&self) -> bool {
        self.node.is_none() && self.pods.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{node, pod_req, with_host_port};

    #[test]
    fn adding_and_removing_pods_keeps_totals() {
        let mut ni = NodeInfo::new("n1");
        ni.set_node(node("n1", "4", "8Gi", "110"));
        ni.add_pod(Arc::new(PodInfo::new(pod_req("a", "1", "1Gi"))));
        ni.add_pod(Arc::new(PodInfo::new(pod_req("b", "500m", "0"))));
        assert_eq!(ni.requested.milli_cpu, 1500);
        assert_eq!(ni.non_zero_requested.memory, 1 << 30);
        assert!(ni.remove_pod("default/a"));
        assert_eq!(ni.requested.milli_cpu, 500);
        assert_eq!(ni.requested.memory, 0);
        assert!(!ni.remove_pod("default/a"));
        assert_eq!(ni.allocatable.milli_cpu, 4000);
    }

    #[test]
    fn wildcard_host_port_conflicts_with_any_address() {
        let mut ports = HostPortInfo::default();
        ports.add("10.0.0.1", "TCP", 80);
        assert!(ports.conflicts("", "TCP", 80));
        assert!(ports.conflicts("10.0.0.1", "", 80));
        assert!(!ports.conflicts("10.0.0.2", "TCP", 80));
        assert!(!ports.conflicts("0.0.0.0", "UDP", 80));
        ports.add("0.0.0.0", "UDP", 53);
        assert!(ports.conflicts("10.0.0.2", "UDP", 53));
    }

    #[test]
    fn removing_a_pod_frees_its_host_ports() {
        let mut ni = NodeInfo::new("n1");
        ni.add_pod(Arc::new(PodInfo::new(with_host_port(
            pod_req("a", "0", "0"),
            "",
            "TCP",
            8080,
        ))));
        assert!(ni.used_ports.conflicts("", "TCP", 8080));
        ni.remove_pod("default/a");
        assert!(ni.used_ports.is_empty());
    }
}

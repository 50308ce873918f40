//! NodePorts: two pods cannot take the same host port on a node.

use crate::framework::node_info::NodeInfo;
use crate::framework::{FilterResult, Unschedulable};

/// Plugin name.
pub const NAME: &str = "NodePorts";
/// Reason when a wanted host port is taken.
pub const ERR_REASON: &str = "node(s) didn't have free ports for the requested pod ports";

/// Rejects the node when any of `wanted` (`(ip, protocol, port)`, from
/// [`crate::framework::node_info::pod_host_ports`]) is taken there.
pub fn filter(wanted: &[(String, String, i32)], node: &NodeInfo) -> FilterResult {
    let clash = wanted
        .iter()
        .any(|(ip, protocol, port)| node.used_ports.conflicts(ip, protocol, *port));
    if clash {
        Err(Unschedulable::new(NAME, ERR_REASON))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::node_info::pod_host_ports;
    use crate::framework::pod_info::PodInfo;
    use crate::testutil::{pod, with_host_port};
    use std::sync::Arc;

    fn node_using(ip: &str, protocol: &str, port: i32) -> NodeInfo {
        let mut ni = NodeInfo::new("n1");
        ni.add_pod(Arc::new(PodInfo::new(with_host_port(
            pod("old"),
            ip,
            protocol,
            port,
        ))));
        ni
    }

    #[test]
    fn taken_port_is_rejected_with_reason() {
        let wanted = pod_host_ports(&with_host_port(pod("p"), "", "TCP", 80));
        let err = filter(&wanted, &node_using("", "TCP", 80)).err();
        assert_eq!(
            err.map(|e| e.reasons),
            Some(vec![
                "node(s) didn't have free ports for the requested pod ports".to_string()
            ])
        );
    }

    #[test]
    fn other_port_protocol_or_address_is_free() {
        let n = node_using("10.0.0.1", "TCP", 80);
        for (ip, proto, port) in [
            ("10.0.0.2", "TCP", 80),
            ("10.0.0.1", "UDP", 80),
            ("10.0.0.1", "TCP", 81),
        ] {
            let wanted = pod_host_ports(&with_host_port(pod("p"), ip, proto, port));
            assert!(filter(&wanted, &n).is_ok(), "{ip} {proto} {port}");
        }
    }

    #[test]
    fn wildcard_address_clashes_with_a_specific_one() {
        let wanted = pod_host_ports(&with_host_port(pod("p"), "0.0.0.0", "TCP", 80));
        assert!(filter(&wanted, &node_using("10.0.0.1", "TCP", 80)).is_err());
        let specific = pod_host_ports(&with_host_port(pod("p"), "10.0.0.1", "TCP", 80));
        assert!(filter(&specific, &node_using("", "TCP", 80)).is_err());
    }

    #[test]
    fn pod_without_host_ports_fits() {
        assert!(filter(&pod_host_ports(&pod("p")), &node_using("", "TCP", 80)).is_ok());
    }
}

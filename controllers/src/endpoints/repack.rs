//! Kubernetes' `RepackSubsets`: the endpoints controller first emits one
//! subset per (pod, port); repacking regroups them so that every subset holds
//! the addresses that serve exactly the same set of ports, then sorts
//! everything so that equal inputs always produce byte-equal objects (which is
//! what lets the controller skip no-op writes).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{EndpointAddress, EndpointPort, EndpointSubset};

/// Identity of an address across subsets: the same IP from two different pods
/// stays two addresses, for attribution (Kubernetes' `addressKey`).
type AddressKey = (String, String);

/// A port's identity, ordered. The sentinel port `-1` stands for "no ports"
/// (headless Services without ports), as in Kubernetes.
type PortKey = (Option<String>, i32, Option<String>, Option<String>);

const NO_PORT_SENTINEL: i32 = -1;

fn address_key(address: &EndpointAddress) -> AddressKey {
    let uid = address
        .target_ref
        .as_ref()
        .and_then(|target| target.uid.clone())
        .unwrap_or_default();
    (address.ip.clone(), uid)
}

fn port_key(port: &EndpointPort) -> PortKey {
    (
        port.name.clone(),
        port.port,
        port.protocol.clone(),
        port.app_protocol.clone(),
    )
}

fn port_from_key(key: &PortKey) -> EndpointPort {
    EndpointPort {
        name: key.0.clone(),
        port: key.1,
        protocol: key.2.clone(),
        app_protocol: key.3.clone(),
    }
}

/// Regroups `subsets` into the canonical N-to-M form: addresses offering the
/// same ports share one subset. When an address is both ready and not ready
/// for a port, not ready wins (a pod listed as not ready anywhere is not
/// trusted with traffic). Returns the subsets sorted by [`sort_subsets`].
pub fn repack_subsets(subsets: &[EndpointSubset]) -> Vec<EndpointSubset> {
    // First map every port to the addresses that offer it, with readiness.
    let mut all_addresses: BTreeMap<AddressKey, EndpointAddress> = BTreeMap::new();
    let mut port_to_addresses: BTreeMap<PortKey, BTreeMap<AddressKey, bool>> = BTreeMap::new();
    for subset in subsets {
        let sentinel = [EndpointPort {
            port: NO_PORT_SENTINEL,
            ..EndpointPort::default()
        }];
        let ports = match subset.ports.as_deref() {
            Some(ports) if !ports.is_empty() => ports,
            _ => &sentinel,
        };
        let ready = subset.addresses.iter().flatten().map(|a| (a, true));
        let not_ready = subset
            .not_ready_addresses
            .iter()
            .flatten()
            .map(|a| (a, false));
        let addresses: Vec<(&EndpointAddress, bool)> = ready.chain(not_ready).collect();
        for port in ports {
            for (address, is_ready) in &addresses {
                let key = address_key(address);
                all_addresses
                    .entry(key.clone())
                    .or_insert_with(|| (*address).clone());
                port_to_addresses
                    .entry(port_key(port))
                    .or_default()
                    .entry(key)
                    .and_modify(|ready| *ready = *ready && *is_ready)
                    .or_insert(*is_ready);
            }
        }
    }

    // Then map every distinct address set to the ports it offers.
    let mut set_to_ports: BTreeMap<Vec<(AddressKey, bool)>, Vec<PortKey>> = BTreeMap::new();
    for (port, addresses) in port_to_addresses {
        let set: Vec<(AddressKey, bool)> = addresses.into_iter().collect();
        let ports = set_to_ports.entry(set).or_default();
        if port.1 != NO_PORT_SENTINEL {
            ports.push(port);
        }
    }

    let repacked = set_to_ports
        .into_iter()
        .map(|(set, ports)| {
            let mut ready = Vec::new();
            let mut not_ready = Vec::new();
            for (key, is_ready) in set {
                if let Some(address) = all_addresses.get(&key) {
                    if is_ready {
                        ready.push(address.clone());
                    } else {
                        not_ready.push(address.clone());
                    }
                }
            }
            EndpointSubset {
                addresses: non_empty(ready),
                not_ready_addresses: non_empty(not_ready),
                ports: non_empty(ports.iter().map(port_from_key).collect()),
            }
        })
        .collect();
    sort_subsets(repacked)
}

/// Go's nil-for-empty: an empty list is omitted from the object.
fn non_empty<T>(items: Vec<T>) -> Option<Vec<T>> {
    (!items.is_empty()).then_some(items)
}

/// Sorts addresses (by IP, then pod uid, as Kubernetes' `LessEndpointAddress`),
/// ports, and the subsets themselves. Kubernetes orders ports and subsets by a
/// hash of their contents; berth orders them by their contents directly, which
/// is just as deterministic and readable in `kubectl get -o yaml`.
pub fn sort_subsets(mut subsets: Vec<EndpointSubset>) -> Vec<EndpointSubset> {
    for subset in &mut subsets {
        if let Some(addresses) = subset.addresses.as_mut() {
            addresses.sort_by_key(address_key);
        }
        if let Some(addresses) = subset.not_ready_addresses.as_mut() {
            addresses.sort_by_key(address_key);
        }
        if let Some(ports) = subset.ports.as_mut() {
            ports.sort_by_key(port_key);
        }
    }
    subsets.sort_by_cached_key(subset_key);
    subsets
}

fn subset_key(subset: &EndpointSubset) -> (Vec<AddressKey>, Vec<AddressKey>, Vec<PortKey>) {
    (
        subset.addresses.iter().flatten().map(address_key).collect(),
        subset
            .not_ready_addresses
            .iter()
            .flatten()
            .map(address_key)
            .collect(),
        subset.ports.iter().flatten().map(port_key).collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ObjectReference;

    fn address(ip: &str, uid: &str) -> EndpointAddress {
        EndpointAddress {
            ip: ip.to_owned(),
            target_ref: Some(ObjectReference {
                uid: Some(uid.to_owned()),
                ..ObjectReference::default()
            }),
            ..EndpointAddress::default()
        }
    }

    fn port(name: &str, number: i32) -> EndpointPort {
        EndpointPort {
            name: Some(name.to_owned()),
            port: number,
            protocol: Some("TCP".to_owned()),
            app_protocol: None,
        }
    }

    fn single(ip: &str, ready: bool, ports: Vec<EndpointPort>) -> EndpointSubset {
        let list = Some(vec![address(ip, &format!("uid-{ip}"))]);
        EndpointSubset {
            addresses: if ready { list.clone() } else { None },
            not_ready_addresses: if ready { None } else { list },
            ports: Some(ports),
        }
    }

    #[test]
    fn addresses_with_the_same_ports_share_a_subset() {
        let packed = repack_subsets(&[
            single("10.0.0.2", true, vec![port("http", 8080)]),
            single("10.0.0.1", true, vec![port("http", 8080)]),
        ]);
        assert_eq!(packed.len(), 1);
        let ips: Vec<&str> = packed[0]
            .addresses
            .iter()
            .flatten()
            .map(|a| a.ip.as_str())
            .collect();
        assert_eq!(ips, ["10.0.0.1", "10.0.0.2"]);
    }

    #[test]
    fn ports_of_one_address_set_are_merged() {
        let packed = repack_subsets(&[
            single("10.0.0.1", true, vec![port("https", 8443)]),
            single("10.0.0.1", true, vec![port("http", 8080)]),
        ]);
        assert_eq!(packed.len(), 1);
        assert_eq!(
            packed[0].ports,
            Some(vec![port("http", 8080), port("https", 8443)])
        );
    }

    #[test]
    fn different_port_sets_make_different_subsets() {
        let packed = repack_subsets(&[
            single("10.0.0.1", true, vec![port("http", 8080)]),
            single("10.0.0.2", true, vec![port("http", 9090)]),
        ]);
        assert_eq!(packed.len(), 2);
    }

    #[test]
    fn not_ready_wins_over_ready_for_the_same_port() {
        let packed = repack_subsets(&[
            single("10.0.0.1", true, vec![port("http", 8080)]),
            single("10.0.0.1", false, vec![port("http", 8080)]),
        ]);
        assert_eq!(packed.len(), 1);
        assert_eq!(packed[0].addresses, None);
        assert_eq!(
            packed[0].not_ready_addresses.as_ref().map(Vec::len),
            Some(1)
        );
    }

    #[test]
    fn order_of_input_does_not_change_output() {
        let a = single("10.0.0.1", true, vec![port("http", 8080)]);
        let b = single("10.0.0.2", false, vec![port("http", 8080)]);
        let c = single("10.0.0.3", true, vec![port("http", 9090)]);
        let one = repack_subsets(&[a.clone(), b.clone(), c.clone()]);
        let two = repack_subsets(&[c, b, a]);
        assert_eq!(one, two);
    }

    #[test]
    fn subsets_without_ports_are_kept() {
        let packed = repack_subsets(&[single("10.0.0.1", true, vec![])]);
        assert_eq!(packed.len(), 1);
        assert_eq!(packed[0].ports, None);
        assert_eq!(packed[0].addresses.as_ref().map(Vec::len), Some(1));
    }
}

//! Service ClusterIP and NodePort allocation.
//!
//! Every address or port in use is a key of its own
//! (`/registry/ranges/serviceips/<ip>`, `/registry/ranges/servicenodeports/<port>`),
//! created in the same transaction as the Service that takes it and
//! deleted in the one that gives it up. So two Services can never hold the
//! same one, nothing leaks when a write fails, and allocations survive
//! restarts with the rest of the store. (Kubernetes keeps one bitmap per
//! range; a key per allocation avoids a single hot key every Service write
//! would contend on.)

use std::net::Ipv4Addr;

use rand::Rng;
use serde_json::{json, Value};

/// The service CIDR, as kube-apiserver's default `10.96.0.0/12`.
pub const SERVICE_CIDR: (Ipv4Addr, u8) = (Ipv4Addr::new(10, 96, 0, 0), 12);
/// The NodePort range, as Kubernetes' default.
pub const NODE_PORTS: std::ops::RangeInclusive<u16> = 30000..=32767;

const IP_PREFIX: &str = "/registry/ranges/serviceips/";
const PORT_PREFIX: &str = "/registry/ranges/servicenodeports/";

/// Keys a write takes and gives up.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Claims {
    /// Keys that must not exist; created with the write.
    pub take: Vec<Vec<u8>>,
    /// Keys deleted with the write.
    pub release: Vec<Vec<u8>>,
    /// The taken keys the client asked for, with the field that asked and
    /// the error to give when one is held already (a collision on any
    /// other taken key is retried with a fresh pick).
    pub asked: Vec<(Vec<u8>, Refusal)>,
}

/// Why an allocation was refused: (field path, message) for a 422.
pub type Refusal = (String, String);

fn ip_key(ip: Ipv4Addr) -> Vec<u8> {
    format!("{IP_PREFIX}{ip}").into_bytes()
}

fn port_key(port: i64) -> Vec<u8> {
    format!("{PORT_PREFIX}{port}").into_bytes()
}

fn in_cidr(ip: Ipv4Addr) -> bool {
    let (net, bits) = SERVICE_CIDR;
    let mask = u32::MAX << (32 - bits);
    u32::from(ip) & mask == u32::from(net) & mask
}

/// A random address of the service CIDR, leaving out the network address,
/// the first host (kept for the `kubernetes` Service) and the broadcast.
fn random_ip(rng: &mut impl Rng) -> Ipv4Addr {
    let (net, bits) = SERVICE_CIDR;
    let size = 1u32 << (32 - bits);
    Ipv4Addr::from(u32::from(net) + rng.gen_range(2..size - 1))
}

fn ip_of(service: &Value) -> Option<&str> {
    service
        .pointer("/spec/clusterIP")
        .and_then(Value::as_str)
        .filter(|ip| !ip.is_empty())
}

fn needs_node_ports(service: &Value) -> bool {
    matches!(
        service.pointer("/spec/type").and_then(Value::as_str),
        Some("NodePort" | "LoadBalancer")
    )
}

/// The node ports a Service holds.
fn node_ports(service: &Value) -> Vec<i64> {
    service
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .map(|ports| {
            ports
                .iter()
                .filter_map(|p| p.get("nodePort").and_then(Value::as_i64))
                .filter(|p| *p != 0)
                .collect()
        })
        .unwrap_or_default()
}

/// What a Service write claims: `old` is the stored Service (`None` on
/// create), `new` the one being written (`None` on delete), completed here
/// with the addresses and ports picked for it.
pub fn service(
    old: Option<&Value>,
    new: Option<&mut Value>,
    rng: &mut impl Rng,
) -> Result<Claims, Refusal> {
    let mut claims = Claims::default();
    let old_ip = old.and_then(ip_of).map(String::from);
    let old_ports = old.map(node_ports).unwrap_or_default();
    let Some(new) = new else {
        // Delete: everything goes back.
        if let Some(ip) = old_ip.as_deref().and_then(|ip| ip.parse().ok()) {
            claims.release.push(ip_key(ip));
        }
        claims.release.extend(old_ports.into_iter().map(port_key));
        return Ok(claims);
    };
    cluster_ip(old_ip.as_deref(), new, &mut claims, rng)?;
    ports(old, &old_ports, new, &mut claims, rng)?;
    Ok(claims)
}

fn cluster_ip(
    old_ip: Option<&str>,
    new: &mut Value,
    claims: &mut Claims,
    rng: &mut impl Rng,
) -> Result<(), Refusal> {
    let wanted = ip_of(new).map(String::from);
    let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) else {
        return Ok(());
    };
    let external_name = spec.get("type").and_then(Value::as_str) == Some("ExternalName");
    if external_name {
        if let Some(ip) = old_ip.and_then(|ip| ip.parse().ok()) {
            claims.release.push(ip_key(ip));
        }
        spec.remove("clusterIP");
        spec.remove("clusterIPs");
        return Ok(());
    }
    match (old_ip, wanted.as_deref()) {
        // An update that leaves clusterIP out keeps it.
        (Some(old), None) => {
            spec.insert("clusterIP".into(), json!(old));
            spec.insert("clusterIPs".into(), json!([old]));
            return Ok(());
        }
        (Some(old), Some(new)) if old == new => return Ok(()),
        (Some(old), Some(_)) => {
            return Err((
                "spec.clusterIPs[0]".into(),
                format!("Invalid value: []string{{{old:?}}}: may not change once set"),
            ))
        }
        (None, Some("None")) => {
            spec.insert("clusterIPs".into(), json!(["None"]));
        }
        (None, Some(ip)) => {
            let parsed: Ipv4Addr = ip.parse().map_err(|_| {
                (
                    "spec.clusterIPs[0]".to_string(),
                    format!("Invalid value: {ip:?}: must be a valid IP address"),
                )
            })?;
            if !in_cidr(parsed) {
                return Err((
                    "spec.clusterIPs[0]".into(),
                    format!(
                        "Invalid value: {ip:?}: failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid range. The range of valid IPs is {}/{}",
                        SERVICE_CIDR.0, SERVICE_CIDR.1
                    ),
                ));
            }
            claims.take.push(ip_key(parsed));
            claims.asked.push((
                ip_key(parsed),
                (
                    "spec.clusterIPs".into(),
                    format!("Invalid value: []string{{{ip:?}}}: failed to allocate IP {ip}: provided IP is already allocated"),
                ),
            ));
            spec.insert("clusterIPs".into(), json!([ip]));
        }
        (None, None) => {
            let ip = random_ip(rng);
            claims.take.push(ip_key(ip));
            spec.insert("clusterIP".into(), json!(ip.to_string()));
            spec.insert("clusterIPs".into(), json!([ip.to_string()]));
        }
    }
    spec.insert("ipFamilies".into(), json!(["IPv4"]));
    spec.insert("ipFamilyPolicy".into(), json!("SingleStack"));
    Ok(())
}

fn ports(
    old: Option<&Value>,
    old_ports: &[i64],
    new: &mut Value,
    claims: &mut Claims,
    rng: &mut impl Rng,
) -> Result<(), Refusal> {
    let wants = needs_node_ports(new);
    let old_by_port = |port: &Value| -> Option<i64> {
        old?.pointer("/spec/ports")?
            .as_array()?
            .iter()
            .find(|p| {
                p.get("port") == port.get("port") && p.get("protocol") == port.get("protocol")
            })?
            .get("nodePort")?
            .as_i64()
    };
    let mut kept = Vec::new();
    if let Some(list) = new.pointer_mut("/spec/ports").and_then(Value::as_array_mut) {
        for (i, port) in list.iter_mut().enumerate() {
            let asked = port
                .get("nodePort")
                .and_then(Value::as_i64)
                .filter(|p| *p != 0);
            let Some(fields) = port.as_object_mut() else {
                continue;
            };
            if !wants {
                fields.remove("nodePort");
                continue;
            }
            let previous = old_by_port(&Value::Object(fields.clone()));
            let chosen = match (asked, previous) {
                (Some(p), _) if old_ports.contains(&p) => p,
                (Some(p), _) => {
                    if !NODE_PORTS.contains(&u16::try_from(p).unwrap_or(0)) {
                        return Err((
                            format!("spec.ports[{i}].nodePort"),
                            format!("Invalid value: {p}: provided port is not in the valid range. The range of valid ports is {}-{}", NODE_PORTS.start(), NODE_PORTS.end()),
                        ));
                    }
                    claims.take.push(port_key(p));
                    claims.asked.push((
                        port_key(p),
                        (
                            format!("spec.ports[{i}].nodePort"),
                            format!("Invalid value: {p}: provided port is already allocated"),
                        ),
                    ));
                    p
                }
                (None, Some(p)) => p,
                (None, None) => {
                    let p = i64::from(rng.gen_range(NODE_PORTS));
                    claims.take.push(port_key(p));
                    p
                }
            };
            fields.insert("nodePort".into(), json!(chosen));
            kept.push(chosen);
        }
    }
    claims.release.extend(
        old_ports
            .iter()
            .filter(|p| !kept.contains(p))
            .map(|p| port_key(*p)),
    );
    // Two ports of one Service may not share a node port.
    let mut seen = std::collections::HashSet::new();
    for key in &claims.take {
        if !seen.insert(key.clone()) {
            return Err((
                "spec.ports".into(),
                format!("Duplicate value: {}", String::from_utf8_lossy(key)),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rng() -> rand::rngs::StdRng {
        rand::rngs::StdRng::seed_from_u64(7)
    }

    #[test]
    fn a_new_service_gets_an_address_in_range_and_node_ports_when_asked() {
        let mut svc =
            json!({"spec": {"type": "NodePort", "ports": [{"port": 80, "protocol": "TCP"}]}});
        let claims = service(None, Some(&mut svc), &mut rng()).unwrap();
        let ip: Ipv4Addr = svc["spec"]["clusterIP"].as_str().unwrap().parse().unwrap();
        assert!(in_cidr(ip) && ip != Ipv4Addr::new(10, 96, 0, 1));
        let port = svc["spec"]["ports"][0]["nodePort"].as_i64().unwrap();
        assert!((30000..=32767).contains(&port));
        assert_eq!(claims.take, vec![ip_key(ip), port_key(port)]);
        assert!(claims.asked.is_empty());

        // Updates keep both unless changed; a type change gives ports back.
        let mut update =
            json!({"spec": {"type": "ClusterIP", "ports": [{"port": 80, "protocol": "TCP"}]}});
        let claims = service(Some(&svc), Some(&mut update), &mut rng()).unwrap();
        assert_eq!(update["spec"]["clusterIP"], svc["spec"]["clusterIP"]);
        assert!(update["spec"]["ports"][0].get("nodePort").is_none());
        assert_eq!(claims.release, vec![port_key(port)]);
        assert!(claims.take.is_empty());

        let deleted = service(Some(&svc), None, &mut rng()).unwrap();
        assert_eq!(deleted.release, vec![ip_key(ip), port_key(port)]);
    }

    #[test]
    fn asked_for_values_are_checked() {
        let mut outside = json!({"spec": {"clusterIP": "192.168.0.1"}});
        let err = service(None, Some(&mut outside), &mut rng()).unwrap_err();
        assert_eq!(err.0, "spec.clusterIPs[0]");
        let mut headless = json!({"spec": {"clusterIP": "None"}});
        assert!(service(None, Some(&mut headless), &mut rng())
            .unwrap()
            .take
            .is_empty());
        let mut fixed = json!({"spec": {"clusterIP": "10.96.5.5"}});
        let claims = service(None, Some(&mut fixed), &mut rng()).unwrap();
        assert_eq!(claims.asked[0].0, ip_key(Ipv4Addr::new(10, 96, 5, 5)));
        let mut changed = json!({"spec": {"clusterIP": "10.96.5.6"}});
        assert!(service(Some(&fixed), Some(&mut changed), &mut rng()).is_err());
        let mut low =
            json!({"spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 80}]}});
        assert_eq!(
            service(None, Some(&mut low), &mut rng()).unwrap_err().0,
            "spec.ports[0].nodePort"
        );
    }
}

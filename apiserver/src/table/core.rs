//! Printers of cluster, configuration, networking and storage kinds.

use serde_json::{json, Value};

use super::{
    age, array_at, col, int, int_at, name, or_none, selector_string, since, str_at, wide, Printer,
};

pub(super) fn printer(kind: &str) -> Option<&'static Printer> {
    Some(match kind {
        "Namespace" => &NAMESPACE,
        "Node" => &NODE,
        "Service" => &SERVICE,
        "Endpoints" => &ENDPOINTS,
        "EndpointSlice" => &ENDPOINT_SLICE,
        "ConfigMap" => &CONFIG_MAP,
        "Secret" => &SECRET,
        "Event" => &EVENT,
        "Lease" => &LEASE,
        "Ingress" => &INGRESS,
        "IngressClass" => &INGRESS_CLASS,
        "PersistentVolume" => &PERSISTENT_VOLUME,
        "PersistentVolumeClaim" => &PERSISTENT_VOLUME_CLAIM,
        "StorageClass" => &STORAGE_CLASS,
        _ => return None,
    })
}

static NAMESPACE: Printer = Printer {
    columns: &[col("Name"), col("Status"), col("Age")],
    cells: |n, now| vec![name(n), json!(str_at(n, "/status/phase")), age(n, now)],
};

static NODE: Printer = Printer {
    columns: &[
        col("Name"),
        col("Status"),
        col("Roles"),
        col("Age"),
        col("Version"),
        wide("Internal-IP"),
        wide("External-IP"),
        wide("OS-Image"),
        wide("Kernel-Version"),
        wide("Container-Runtime"),
    ],
    cells: |n, now| {
        let ready = array_at(n, "/status/conditions")
            .iter()
            .find(|c| str_at(c, "/type") == "Ready")
            .map(|c| match str_at(c, "/status") {
                "True" => "Ready",
                "False" => "NotReady",
                _ => "Unknown",
            })
            .unwrap_or("Unknown");
        let mut status = ready.to_string();
        if n.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
            status.push_str(",SchedulingDisabled");
        }
        let roles: Vec<&str> = n
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .map(|labels| {
                labels
                    .keys()
                    .filter_map(|k| k.strip_prefix("node-role.kubernetes.io/"))
                    .collect()
            })
            .unwrap_or_default();
        let address = |kind: &str| {
            array_at(n, "/status/addresses")
                .iter()
                .find(|a| str_at(a, "/type") == kind)
                .map(|a| str_at(a, "/address").to_string())
                .unwrap_or_default()
        };
        vec![
            name(n),
            json!(status),
            json!(or_none(roles.join(","))),
            age(n, now),
            json!(str_at(n, "/status/nodeInfo/kubeletVersion")),
            json!(or_none(address("InternalIP"))),
            json!(or_none(address("ExternalIP"))),
            json!(str_at(n, "/status/nodeInfo/osImage")),
            json!(str_at(n, "/status/nodeInfo/kernelVersion")),
            json!(str_at(n, "/status/nodeInfo/containerRuntimeVersion")),
        ]
    },
};

static SERVICE: Printer = Printer {
    columns: &[
        col("Name"),
        col("Type"),
        col("Cluster-IP"),
        col("External-IP"),
        col("Port(s)"),
        col("Age"),
        wide("Selector"),
    ],
    cells: |s, now| {
        let kind = match str_at(s, "/spec/type") {
            "" => "ClusterIP",
            t => t,
        };
        let mut external: Vec<String> = array_at(s, "/spec/externalIPs")
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect();
        for ingress in array_at(s, "/status/loadBalancer/ingress") {
            let ip = str_at(ingress, "/ip");
            external.push(if ip.is_empty() {
                str_at(ingress, "/hostname").to_string()
            } else {
                ip.to_string()
            });
        }
        let external = match (kind, external.is_empty()) {
            ("LoadBalancer", true) => "<pending>".to_string(),
            ("ExternalName", _) => str_at(s, "/spec/externalName").to_string(),
            _ => or_none(external.join(",")),
        };
        let ports: Vec<String> = array_at(s, "/spec/ports")
            .iter()
            .map(|p| {
                let protocol = match str_at(p, "/protocol") {
                    "" => "TCP",
                    proto => proto,
                };
                match p.get("nodePort").and_then(Value::as_i64) {
                    Some(node) if node != 0 => {
                        format!("{}:{node}/{protocol}", int_at(p, "/port"))
                    }
                    _ => format!("{}/{protocol}", int_at(p, "/port")),
                }
            })
            .collect();
        vec![
            name(s),
            json!(kind),
            json!(or_none(str_at(s, "/spec/clusterIP").to_string())),
            json!(external),
            json!(or_none(ports.join(","))),
            age(s, now),
            json!(or_none(selector_string(s, "/spec/selector"))),
        ]
    },
};

/// At most three entries then `+ N more...`, as kubectl shortens lists.
fn first_three(items: Vec<String>) -> String {
    if items.len() > 3 {
        format!("{} + {} more...", items[..3].join(","), items.len() - 3)
    } else {
        or_none(items.join(","))
    }
}

static ENDPOINTS: Printer = Printer {
    columns: &[col("Name"), col("Endpoints"), col("Age")],
    cells: |e, now| {
        let mut endpoints = Vec::new();
        for subset in array_at(e, "/subsets") {
            let ports = array_at(subset, "/ports");
            for address in array_at(subset, "/addresses") {
                let ip = str_at(address, "/ip");
                if ports.is_empty() {
                    endpoints.push(ip.to_string());
                }
                for port in ports {
                    endpoints.push(format!("{ip}:{}", int_at(port, "/port")));
                }
            }
        }
        vec![name(e), json!(first_three(endpoints)), age(e, now)]
    },
};

static ENDPOINT_SLICE: Printer = Printer {
    columns: &[
        col("Name"),
        col("AddressType"),
        col("Ports"),
        col("Endpoints"),
        col("Age"),
    ],
    cells: |e, now| {
        let ports: Vec<String> = array_at(e, "/ports")
            .iter()
            .map(|p| int_at(p, "/port").to_string())
            .collect();
        let addresses: Vec<String> = array_at(e, "/endpoints")
            .iter()
            .flat_map(|ep| array_at(ep, "/addresses").iter())
            .filter_map(Value::as_str)
            .map(String::from)
            .collect();
        vec![
            name(e),
            json!(str_at(e, "/addressType")),
            json!(if ports.is_empty() {
                "<unset>".to_string()
            } else {
                ports.join(",")
            }),
            json!(if addresses.is_empty() {
                "<unset>".to_string()
            } else {
                first_three(addresses)
            }),
            age(e, now),
        ]
    },
};

fn count_keys(o: &Value, fields: &[&str]) -> i64 {
    fields
        .iter()
        .filter_map(|f| o.get(*f).and_then(Value::as_object))
        .map(|m| m.len() as i64)
        .sum()
}

static CONFIG_MAP: Printer = Printer {
    columns: &[col("Name"), int("Data"), col("Age")],
    cells: |c, now| {
        vec![
            name(c),
            json!(count_keys(c, &["data", "binaryData"])),
            age(c, now),
        ]
    },
};

static SECRET: Printer = Printer {
    columns: &[col("Name"), col("Type"), int("Data"), col("Age")],
    cells: |s, now| {
        let kind = match str_at(s, "/type") {
            "" => "Opaque",
            t => t,
        };
        vec![
            name(s),
            json!(kind),
            json!(count_keys(s, &["data", "stringData"])),
            age(s, now),
        ]
    },
};

static EVENT: Printer = Printer {
    columns: &[
        col("Last Seen"),
        col("Type"),
        col("Reason"),
        col("Object"),
        col("Message"),
        wide("Subobject"),
        wide("Source"),
        wide("First Seen"),
        wide("Count"),
        wide("Name"),
    ],
    cells: |e, now| {
        let last = [
            "/lastTimestamp",
            "/eventTime",
            "/metadata/creationTimestamp",
        ]
        .iter()
        .map(|p| str_at(e, p))
        .find(|t| !t.is_empty())
        .unwrap_or("");
        let first = match str_at(e, "/firstTimestamp") {
            "" => last,
            t => t,
        };
        let object = format!(
            "{}/{}",
            str_at(e, "/involvedObject/kind").to_lowercase(),
            str_at(e, "/involvedObject/name")
        );
        let mut source = str_at(e, "/source/component").to_string();
        let host = str_at(e, "/source/host");
        if !host.is_empty() {
            source = format!("{source}, {host}");
        }
        vec![
            json!(since(last, now)),
            json!(str_at(e, "/type")),
            json!(str_at(e, "/reason")),
            json!(object),
            json!(str_at(e, "/message").trim()),
            json!(str_at(e, "/involvedObject/fieldPath")),
            json!(source),
            json!(since(first, now)),
            json!(e.get("count").and_then(Value::as_i64).unwrap_or(1)),
            name(e),
        ]
    },
};

static LEASE: Printer = Printer {
    columns: &[col("Name"), col("Holder"), col("Age")],
    cells: |l, now| {
        vec![
            name(l),
            json!(str_at(l, "/spec/holderIdentity")),
            age(l, now),
        ]
    },
};

static INGRESS: Printer = Printer {
    columns: &[
        col("Name"),
        col("Class"),
        col("Hosts"),
        col("Address"),
        col("Ports"),
        col("Age"),
    ],
    cells: |i, now| {
        let hosts: Vec<String> = array_at(i, "/spec/rules")
            .iter()
            .map(|r| str_at(r, "/host").to_string())
            .filter(|h| !h.is_empty())
            .collect();
        let hosts = if hosts.is_empty() {
            "*".to_string()
        } else {
            first_three(hosts)
        };
        let addresses: Vec<String> = array_at(i, "/status/loadBalancer/ingress")
            .iter()
            .map(|a| match str_at(a, "/ip") {
                "" => str_at(a, "/hostname").to_string(),
                ip => ip.to_string(),
            })
            .collect();
        let ports = if array_at(i, "/spec/tls").is_empty() {
            "80"
        } else {
            "80, 443"
        };
        vec![
            name(i),
            json!(or_none(str_at(i, "/spec/ingressClassName").to_string())),
            json!(hosts),
            json!(addresses.join(",")),
            json!(ports),
            age(i, now),
        ]
    },
};

static INGRESS_CLASS: Printer = Printer {
    columns: &[
        col("Name"),
        col("Controller"),
        col("Parameters"),
        col("Age"),
    ],
    cells: |c, now| {
        let parameters = match str_at(c, "/spec/parameters/name") {
            "" => "<none>".to_string(),
            n => format!("{}/{n}", str_at(c, "/spec/parameters/kind")),
        };
        vec![
            name(c),
            json!(str_at(c, "/spec/controller")),
            json!(parameters),
            age(c, now),
        ]
    },
};

fn access_modes(o: &Value, pointer: &str) -> String {
    array_at(o, pointer)
        .iter()
        .filter_map(Value::as_str)
        .map(|m| match m {
            "ReadWriteOnce" => "RWO",
            "ReadOnlyMany" => "ROX",
            "ReadWriteMany" => "RWX",
            "ReadWriteOncePod" => "RWOP",
            other => other,
        })
        .collect::<Vec<_>>()
        .join(",")
}

static PERSISTENT_VOLUME: Printer = Printer {
    columns: &[
        col("Name"),
        col("Capacity"),
        col("Access Modes"),
        col("Reclaim Policy"),
        col("Status"),
        col("Claim"),
        col("StorageClass"),
        col("VolumeAttributesClass"),
        col("Reason"),
        col("Age"),
        wide("VolumeMode"),
    ],
    cells: |v, now| {
        let claim = match str_at(v, "/spec/claimRef/name") {
            "" => String::new(),
            n => format!("{}/{n}", str_at(v, "/spec/claimRef/namespace")),
        };
        vec![
            name(v),
            json!(str_at(v, "/spec/capacity/storage")),
            json!(access_modes(v, "/spec/accessModes")),
            json!(str_at(v, "/spec/persistentVolumeReclaimPolicy")),
            json!(str_at(v, "/status/phase")),
            json!(claim),
            json!(str_at(v, "/spec/storageClassName")),
            json!(
                or_none(str_at(v, "/spec/volumeAttributesClassName").to_string())
                    .replace("<none>", "<unset>")
            ),
            json!(str_at(v, "/status/reason")),
            age(v, now),
            json!(match str_at(v, "/spec/volumeMode") {
                "" => "Filesystem",
                m => m,
            }),
        ]
    },
};

static PERSISTENT_VOLUME_CLAIM: Printer = Printer {
    columns: &[
        col("Name"),
        col("Status"),
        col("Volume"),
        col("Capacity"),
        col("Access Modes"),
        col("StorageClass"),
        col("VolumeAttributesClass"),
        col("Age"),
        wide("VolumeMode"),
    ],
    cells: |c, now| {
        vec![
            name(c),
            json!(str_at(c, "/status/phase")),
            json!(str_at(c, "/spec/volumeName")),
            json!(str_at(c, "/status/capacity/storage")),
            json!(access_modes(c, "/status/accessModes")),
            json!(str_at(c, "/spec/storageClassName")),
            json!(
                or_none(str_at(c, "/spec/volumeAttributesClassName").to_string())
                    .replace("<none>", "<unset>")
            ),
            age(c, now),
            json!(match str_at(c, "/spec/volumeMode") {
                "" => "Filesystem",
                m => m,
            }),
        ]
    },
};

static STORAGE_CLASS: Printer = Printer {
    columns: &[
        col("Name"),
        col("Provisioner"),
        col("ReclaimPolicy"),
        col("VolumeBindingMode"),
        col("AllowVolumeExpansion"),
        col("Age"),
    ],
    cells: |s, now| {
        let default = s
            .pointer("/metadata/annotations/storageclass.kubernetes.io~1is-default-class")
            .and_then(Value::as_str)
            == Some("true");
        let name_cell = if default {
            json!(format!("{} (default)", str_at(s, "/metadata/name")))
        } else {
            name(s)
        };
        vec![
            name_cell,
            json!(str_at(s, "/provisioner")),
            json!(match str_at(s, "/reclaimPolicy") {
                "" => "Delete",
                p => p,
            }),
            json!(match str_at(s, "/volumeBindingMode") {
                "" => "Immediate",
                m => m,
            }),
            json!(s
                .get("allowVolumeExpansion")
                .and_then(Value::as_bool)
                .unwrap_or(false)),
            age(s, now),
        ]
    },
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_node_and_configmap_rows() {
        let svc = json!({"metadata": {"name": "web"}, "spec": {"type": "NodePort", "clusterIP": "10.96.0.10",
            "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}], "selector": {"app": "web"}}});
        let cells = (SERVICE.cells)(&svc, 0);
        assert_eq!(cells[1], "NodePort");
        assert_eq!(cells[3], "<none>");
        assert_eq!(cells[4], "80:30080/TCP");
        assert_eq!(cells[6], "app=web");
        let node = json!({"metadata": {"name": "n1", "labels": {"node-role.kubernetes.io/control-plane": ""}},
            "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {"kubeletVersion": "v1.33.0"}}});
        let cells = (NODE.cells)(&node, 0);
        assert_eq!(cells[1], "Ready,SchedulingDisabled");
        assert_eq!(cells[2], "control-plane");
        let cm = json!({"metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}});
        assert_eq!((CONFIG_MAP.cells)(&cm, 0)[1], 2);
        let ep = json!({"metadata": {"name": "e"}, "subsets": [{"addresses": [{"ip": "1.1.1.1"}, {"ip": "1.1.1.2"}, {"ip": "1.1.1.3"}, {"ip": "1.1.1.4"}], "ports": [{"port": 80}]}]});
        assert_eq!(
            (ENDPOINTS.cells)(&ep, 0)[1],
            "1.1.1.1:80,1.1.1.2:80,1.1.1.3:80 + 1 more..."
        );
    }
}

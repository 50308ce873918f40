//! Tests of [`super`]: each one behaviour of the kubelet's environment.

use super::*;
use k8s_openapi::api::core::v1::{
    ConfigMapEnvSource, ConfigMapKeySelector, EnvFromSource, EnvVar, EnvVarSource, PodSpec,
    ResourceRequirements, SecretEnvSource, SecretKeySelector, ServicePort, ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::ByteString;

#[derive(Default)]
struct Objects {
    config_maps: Vec<ConfigMap>,
    secrets: Vec<Secret>,
    services: Vec<Service>,
}

fn meta(namespace: &str, name: &str) -> ObjectMeta {
    ObjectMeta {
        namespace: Some(namespace.into()),
        name: Some(name.into()),
        ..Default::default()
    }
}

fn same(meta: &ObjectMeta, namespace: &str, name: &str) -> bool {
    meta.namespace.as_deref() == Some(namespace) && meta.name.as_deref() == Some(name)
}

impl ObjectLookup for Objects {
    fn config_map(&self, namespace: &str, name: &str) -> Result<Option<ConfigMap>, LookupError> {
        Ok(self
            .config_maps
            .iter()
            .find(|c| same(&c.metadata, namespace, name))
            .cloned())
    }
    fn secret(&self, namespace: &str, name: &str) -> Result<Option<Secret>, LookupError> {
        Ok(self
            .secrets
            .iter()
            .find(|s| same(&s.metadata, namespace, name))
            .cloned())
    }
    fn services(&self, namespace: &str) -> Result<Vec<Service>, LookupError> {
        Ok(self
            .services
            .iter()
            .filter(|s| s.metadata.namespace.as_deref() == Some(namespace))
            .cloned()
            .collect())
    }
}

fn config_map(name: &str, data: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        metadata: meta("web", name),
        data: Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        ..Default::default()
    }
}

fn secret(name: &str, data: &[(&str, &str)]) -> Secret {
    Secret {
        metadata: meta("web", name),
        data: Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                .collect(),
        ),
        ..Default::default()
    }
}

fn service(
    namespace: &str,
    name: &str,
    cluster_ip: &str,
    ports: &[(Option<&str>, i32, Option<&str>)],
) -> Service {
    Service {
        metadata: meta(namespace, name),
        spec: Some(ServiceSpec {
            cluster_ip: Some(cluster_ip.into()),
            ports: Some(
                ports
                    .iter()
                    .map(|(name, port, protocol)| ServicePort {
                        name: name.map(str::to_string),
                        port: *port,
                        protocol: protocol.map(str::to_string),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn pod() -> Pod {
    let mut metadata = meta("web", "frontend-1");
    metadata.uid = Some("uid-1".into());
    metadata.labels = Some(
        [
            ("app".to_string(), "frontend".to_string()),
            ("tier".to_string(), "a\"b".to_string()),
        ]
        .into(),
    );
    Pod {
        metadata,
        spec: Some(PodSpec {
            node_name: Some("node-1".into()),
            service_account_name: Some("default".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn value(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        ..Default::default()
    }
}

fn from(name: &str, source: EnvVarSource) -> EnvVar {
    EnvVar {
        name: name.into(),
        value_from: Some(source),
        ..Default::default()
    }
}

fn compute(
    pod: &Pod,
    container: &Container,
    objects: &Objects,
) -> Result<Vec<(String, String)>, EnvError> {
    let pod_ips = vec!["10.244.1.7".to_string(), "fd00::7".to_string()];
    let host_ips = vec!["192.168.0.10".to_string()];
    let allocatable: BTreeMap<String, Quantity> = [
        ("cpu".to_string(), Quantity("2".into())),
        ("memory".to_string(), Quantity("4Gi".into())),
    ]
    .into();
    let context = PodEnvContext {
        pod,
        pod_ips: &pod_ips,
        host_ips: &host_ips,
        node_allocatable: &allocatable,
    };
    container_env(&context, container, objects)
}

fn get<'a>(env: &'a [(String, String)], name: &str) -> Option<&'a str> {
    env.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

#[test]
fn service_variables_take_kubernetes_form() {
    let objects = Objects {
        services: vec![service(
            "web",
            "redis-primary",
            "10.96.0.11",
            &[
                (Some("redis"), 6379, None),
                (Some("metrics"), 9121, Some("UDP")),
            ],
        )],
        ..Default::default()
    };
    let env = compute(&pod(), &Container::default(), &objects).unwrap();
    let expected = [
        ("REDIS_PRIMARY_SERVICE_HOST", "10.96.0.11"),
        ("REDIS_PRIMARY_SERVICE_PORT", "6379"),
        ("REDIS_PRIMARY_SERVICE_PORT_REDIS", "6379"),
        ("REDIS_PRIMARY_SERVICE_PORT_METRICS", "9121"),
        ("REDIS_PRIMARY_PORT", "tcp://10.96.0.11:6379"),
        ("REDIS_PRIMARY_PORT_6379_TCP_PROTO", "tcp"),
        ("REDIS_PRIMARY_PORT_6379_TCP_PORT", "6379"),
        ("REDIS_PRIMARY_PORT_6379_TCP_ADDR", "10.96.0.11"),
        ("REDIS_PRIMARY_PORT_6379_TCP", "tcp://10.96.0.11:6379"),
        ("REDIS_PRIMARY_PORT_9121_UDP_PROTO", "udp"),
        ("REDIS_PRIMARY_PORT_9121_UDP_PORT", "9121"),
        ("REDIS_PRIMARY_PORT_9121_UDP_ADDR", "10.96.0.11"),
        ("REDIS_PRIMARY_PORT_9121_UDP", "udp://10.96.0.11:9121"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(env, expected);
}

#[test]
fn headless_services_other_namespaces_and_disabled_links_are_left_out() {
    let objects = Objects {
        services: vec![
            service("web", "headless", "None", &[(None, 80, None)]),
            service("other", "api", "10.96.0.20", &[(None, 80, None)]),
            service(
                "default",
                "kubernetes",
                "10.96.0.1",
                &[(Some("https"), 443, None)],
            ),
            service("web", "cache", "10.96.0.30", &[(None, 11211, None)]),
        ],
        ..Default::default()
    };
    let env = compute(&pod(), &Container::default(), &objects).unwrap();
    assert!(get(&env, "HEADLESS_SERVICE_HOST").is_none());
    assert!(get(&env, "API_SERVICE_HOST").is_none());
    assert_eq!(get(&env, "CACHE_SERVICE_HOST"), Some("10.96.0.30"));
    assert_eq!(get(&env, "KUBERNETES_SERVICE_PORT_HTTPS"), Some("443"));

    let mut no_links = pod();
    no_links.spec.as_mut().unwrap().enable_service_links = Some(false);
    let env = compute(&no_links, &Container::default(), &objects).unwrap();
    assert!(get(&env, "CACHE_SERVICE_HOST").is_none());
    assert_eq!(
        get(&env, "KUBERNETES_SERVICE_HOST"),
        Some("10.96.0.1"),
        "the API server's Service stays"
    );
}

#[test]
fn env_overrides_env_from_which_overrides_services() {
    let objects = Objects {
        config_maps: vec![config_map(
            "settings",
            &[("MODE", "fast"), ("CACHE_SERVICE_HOST", "override")],
        )],
        secrets: vec![secret("creds", &[("password", "s3cret")])],
        services: vec![service(
            "web",
            "cache",
            "10.96.0.30",
            &[(None, 11211, None)],
        )],
    };
    let container = Container {
        env_from: Some(vec![
            EnvFromSource {
                config_map_ref: Some(ConfigMapEnvSource {
                    name: "settings".into(),
                    optional: None,
                }),
                ..Default::default()
            },
            EnvFromSource {
                prefix: Some("DB_".into()),
                secret_ref: Some(SecretEnvSource {
                    name: "creds".into(),
                    optional: None,
                }),
                ..Default::default()
            },
        ]),
        env: Some(vec![value("MODE", "slow")]),
        ..Default::default()
    };
    let env = compute(&pod(), &container, &objects).unwrap();
    assert_eq!(get(&env, "CACHE_SERVICE_HOST"), Some("override"));
    assert_eq!(get(&env, "DB_password"), Some("s3cret"));
    assert_eq!(get(&env, "MODE"), Some("slow"));
    assert_eq!(env.iter().filter(|(n, _)| n == "MODE").count(), 1);
}

#[test]
fn references_expand_against_earlier_variables_only() {
    let objects = Objects {
        services: vec![service(
            "web",
            "cache",
            "10.96.0.30",
            &[(None, 11211, None)],
        )],
        ..Default::default()
    };
    let container = Container {
        env: Some(vec![
            value("URL", "http://$(HOST):$(CACHE_SERVICE_PORT)/$(LATER)"),
            value("HOST", "example"),
            value("LATER", "x"),
            value("AGAIN", "$(HOST) costs $$(HOST) $5 $(unclosed"),
        ]),
        ..Default::default()
    };
    let env = compute(&pod(), &container, &objects).unwrap();
    assert_eq!(get(&env, "URL"), Some("http://$(HOST):11211/$(LATER)"));
    assert_eq!(
        get(&env, "AGAIN"),
        Some("example costs $(HOST) $5 $(unclosed")
    );
}

#[test]
fn expansion_keeps_unknown_and_malformed_references() {
    let lookup = |name: &str| (name == "A").then(|| "1".to_string());
    assert_eq!(expand("$(A)$(B)", lookup), "1$(B)");
    assert_eq!(expand("$$$(A)$", lookup), "$1$");
    assert_eq!(expand("é$(A)ü$x", lookup), "é1ü$x");
    assert_eq!(expand("$(", lookup), "$(");
}

#[test]
fn key_references_honour_optional() {
    let objects = Objects {
        config_maps: vec![config_map("settings", &[("level", "debug")])],
        ..Default::default()
    };
    let key = |name: &str, key: &str, optional: bool| EnvVarSource {
        config_map_key_ref: Some(ConfigMapKeySelector {
            name: name.into(),
            key: key.into(),
            optional: Some(optional),
        }),
        ..Default::default()
    };
    let container = Container {
        env: Some(vec![
            from("LEVEL", key("settings", "level", false)),
            from("MISSING_KEY", key("settings", "absent", true)),
            from("MISSING_MAP", key("nothing", "level", true)),
        ]),
        ..Default::default()
    };
    let env = compute(&pod(), &container, &objects).unwrap();
    assert_eq!(get(&env, "LEVEL"), Some("debug"));
    assert!(get(&env, "MISSING_KEY").is_none() && get(&env, "MISSING_MAP").is_none());

    let required_key = Container {
        env: Some(vec![from("X", key("settings", "absent", false))]),
        ..Default::default()
    };
    assert_eq!(
        compute(&pod(), &required_key, &objects)
            .unwrap_err()
            .to_string(),
        "couldn't find key absent in ConfigMap web/settings"
    );
    let required_map = Container {
        env: Some(vec![from("X", key("nothing", "k", false))]),
        ..Default::default()
    };
    assert_eq!(
        compute(&pod(), &required_map, &objects)
            .unwrap_err()
            .to_string(),
        "configmap \"nothing\" not found"
    );
}

#[test]
fn secret_key_reference_reads_decoded_data_and_missing_secret_is_an_error() {
    let objects = Objects {
        secrets: vec![secret("creds", &[("token", "abc")])],
        ..Default::default()
    };
    let key = |name: &str| EnvVarSource {
        secret_key_ref: Some(SecretKeySelector {
            name: name.into(),
            key: "token".into(),
            optional: None,
        }),
        ..Default::default()
    };
    let container = Container {
        env: Some(vec![from("TOKEN", key("creds"))]),
        ..Default::default()
    };
    assert_eq!(
        get(&compute(&pod(), &container, &objects).unwrap(), "TOKEN"),
        Some("abc")
    );
    let missing = Container {
        env: Some(vec![from("TOKEN", key("gone"))]),
        ..Default::default()
    };
    assert_eq!(
        compute(&pod(), &missing, &objects).unwrap_err(),
        EnvError::SecretNotFound("gone".into())
    );
}

#[test]
fn field_references_read_the_downward_api() {
    let field = |path: &str| EnvVarSource {
        field_ref: Some(ObjectFieldSelector {
            field_path: path.into(),
            api_version: None,
        }),
        ..Default::default()
    };
    let paths = [
        ("metadata.name", "frontend-1"),
        ("metadata.namespace", "web"),
        ("metadata.uid", "uid-1"),
        ("metadata.labels['app']", "frontend"),
        ("metadata.labels['absent']", ""),
        ("metadata.labels", "app=\"frontend\"\ntier=\"a\\\"b\""),
        ("spec.nodeName", "node-1"),
        ("spec.serviceAccountName", "default"),
        ("status.podIP", "10.244.1.7"),
        ("status.podIPs", "10.244.1.7,fd00::7"),
        ("status.hostIP", "192.168.0.10"),
    ];
    let container = Container {
        env: Some(
            paths
                .iter()
                .enumerate()
                .map(|(i, (path, _))| from(&format!("V{i}"), field(path)))
                .collect(),
        ),
        ..Default::default()
    };
    let env = compute(&pod(), &container, &Objects::default()).unwrap();
    for (i, (path, expected)) in paths.iter().enumerate() {
        assert_eq!(get(&env, &format!("V{i}")), Some(*expected), "{path}");
    }
    let bad = Container {
        env: Some(vec![from("X", field("spec.hostname"))]),
        ..Default::default()
    };
    assert_eq!(
        compute(&pod(), &bad, &Objects::default()).unwrap_err(),
        EnvError::UnsupportedFieldPath("spec.hostname".into())
    );
}

#[test]
fn resource_references_round_up_and_default_limits_to_allocatable() {
    let resource = |name: &str, divisor: Option<&str>| EnvVarSource {
        resource_field_ref: Some(ResourceFieldSelector {
            resource: name.into(),
            divisor: divisor.map(|d| Quantity(d.into())),
            container_name: None,
        }),
        ..Default::default()
    };
    let container = Container {
        resources: Some(ResourceRequirements {
            requests: Some([("cpu".to_string(), Quantity("250m".into()))].into()),
            limits: Some([("memory".to_string(), Quantity("128Mi".into()))].into()),
            ..Default::default()
        }),
        env: Some(vec![
            from("CPU_REQUEST", resource("requests.cpu", None)),
            from("CPU_REQUEST_MILLIS", resource("requests.cpu", Some("1m"))),
            from("CPU_LIMIT", resource("limits.cpu", None)),
            from("MEMORY_LIMIT", resource("limits.memory", None)),
            from("MEMORY_LIMIT_MI", resource("limits.memory", Some("1Mi"))),
            from("MEMORY_REQUEST_M", resource("requests.memory", Some("1M"))),
        ]),
        ..Default::default()
    };
    let env = compute(&pod(), &container, &Objects::default()).unwrap();
    assert_eq!(
        get(&env, "CPU_REQUEST"),
        Some("1"),
        "cpu rounds up to whole cores"
    );
    assert_eq!(get(&env, "CPU_REQUEST_MILLIS"), Some("250"));
    assert_eq!(
        get(&env, "CPU_LIMIT"),
        Some("2"),
        "no limit: node allocatable"
    );
    assert_eq!(get(&env, "MEMORY_LIMIT"), Some("134217728"));
    assert_eq!(get(&env, "MEMORY_LIMIT_MI"), Some("128"));
    assert_eq!(
        get(&env, "MEMORY_REQUEST_M"),
        Some("135"),
        "request defaults to the limit, rounded up"
    );
}

#[test]
fn quantities_scale_and_round_up() {
    assert_eq!(scaled("250m", 3), Some(250));
    assert_eq!(scaled("1.5", 3), Some(1500));
    assert_eq!(scaled("1Ki", 0), Some(1024));
    assert_eq!(scaled("1e3", 0), Some(1000));
    assert_eq!(scaled("1500u", 3), Some(2));
    assert_eq!(scaled("0", 3), Some(0));
    assert_eq!(scaled("12x", 0), None);
    assert_eq!(scaled("", 0), None);
}

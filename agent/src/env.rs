//! A container's environment, computed the way the kubelet does before it
//! creates the container.
//!
//! Sources, later ones overriding earlier ones of the same name:
//! 1. the Service variables Kubernetes injects (`{SVC}_SERVICE_HOST`,
//!    `{SVC}_SERVICE_PORT`, `{SVC}_PORT_{port}_{PROTO}`, ...) for every
//!    Service of the pod's namespace with a cluster IP, when the pod's
//!    `enableServiceLinks` is not false, and for the `kubernetes` Service of
//!    `default` always;
//! 2. `envFrom`: every key of a ConfigMap or Secret, with the prefix;
//! 3. `env`, in order: `value` with `$(VAR)` references expanded against the
//!    variables defined so far, or `valueFrom` (`configMapKeyRef`,
//!    `secretKeyRef`, `fieldRef`, `resourceFieldRef`).
//!
//! A required ConfigMap, Secret or key that is missing is an [`EnvError`];
//! the kubelet reports it as the container's `CreateContainerConfigError`.
//! Every input is plain data (the pod, an [`ObjectLookup`], the node's
//! allocatable resources), so nothing here needs an API server.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::{
    ConfigMap, Container, ObjectFieldSelector, Pod, ResourceFieldSelector, Secret, Service,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// The kubelet's waiting reason for a container whose environment or volumes
/// could not be made.
pub const CREATE_CONTAINER_CONFIG_ERROR: &str = "CreateContainerConfigError";

/// A lookup failed for another reason than the object not existing (the
/// API server or the informer cache is unavailable).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LookupError(pub String);

/// Where the agent reads the ConfigMaps, Secrets and Services a pod refers
/// to (informer caches in the agent, maps in tests). `Ok(None)`: no such
/// object.
pub trait ObjectLookup {
    /// A ConfigMap of `namespace`.
    fn config_map(&self, namespace: &str, name: &str) -> Result<Option<ConfigMap>, LookupError>;
    /// A Secret of `namespace`.
    fn secret(&self, namespace: &str, name: &str) -> Result<Option<Secret>, LookupError>;
    /// Every Service of `namespace`.
    fn services(&self, namespace: &str) -> Result<Vec<Service>, LookupError>;
}

/// Why a container's environment could not be computed. The messages are
/// the kubelet's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    /// A required ConfigMap does not exist.
    #[error("configmap {0:?} not found")]
    ConfigMapNotFound(String),
    /// A required Secret does not exist.
    #[error("secret {0:?} not found")]
    SecretNotFound(String),
    /// A required key is not in the ConfigMap.
    #[error("couldn't find key {key} in ConfigMap {namespace}/{name}")]
    ConfigMapKeyNotFound {
        /// Namespace.
        namespace: String,
        /// ConfigMap name.
        name: String,
        /// The missing key.
        key: String,
    },
    /// A required key is not in the Secret.
    #[error("couldn't find key {key} in Secret {namespace}/{name}")]
    SecretKeyNotFound {
        /// Namespace.
        namespace: String,
        /// Secret name.
        name: String,
        /// The missing key.
        key: String,
    },
    /// A `fieldRef` the downward API does not offer.
    #[error("unsupported fieldPath: {0}")]
    UnsupportedFieldPath(String),
    /// A `resourceFieldRef` the downward API does not offer.
    #[error("unsupported container resource : {0}")]
    UnsupportedResource(String),
    /// A quantity that does not parse (or a zero divisor).
    #[error("invalid quantity {0:?}")]
    InvalidQuantity(String),
    /// The lookup itself failed.
    #[error(transparent)]
    Lookup(#[from] LookupError),
}

/// What the environment of a pod's containers is computed from, beyond the
/// pod itself.
#[derive(Debug, Clone, Copy)]
pub struct PodEnvContext<'a> {
    /// The pod.
    pub pod: &'a Pod,
    /// The pod's IPs, primary first (`status.podIP`, `status.podIPs`).
    pub pod_ips: &'a [String],
    /// The node's IPs, primary first (`status.hostIP`, `status.hostIPs`).
    pub host_ips: &'a [String],
    /// The node's allocatable resources: the downward API's limits of a
    /// container that sets none.
    pub node_allocatable: &'a BTreeMap<String, Quantity>,
}

/// The environment of `container`, in order, one entry per name.
pub fn container_env(
    context: &PodEnvContext<'_>,
    container: &Container,
    lookup: &dyn ObjectLookup,
) -> Result<Vec<(String, String)>, EnvError> {
    let pod = context.pod;
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let mut env = OrderedEnv::default();

    let service_links = pod
        .spec
        .as_ref()
        .and_then(|s| s.enable_service_links)
        .unwrap_or(true);
    for (name, value) in service_env(namespace, service_links, lookup)? {
        env.set(name, value);
    }

    let mut objects = Objects {
        namespace,
        lookup,
        config_maps: HashMap::new(),
        secrets: HashMap::new(),
    };
    for source in container.env_from.iter().flatten() {
        let prefix = source.prefix.as_deref().unwrap_or_default();
        if let Some(reference) = &source.config_map_ref {
            let optional = reference.optional.unwrap_or(false);
            if let Some(config_map) = objects.config_map(&reference.name, optional)? {
                for (key, value) in config_map.data.iter().flatten() {
                    env.set(format!("{prefix}{key}"), value.clone());
                }
            }
        }
        if let Some(reference) = &source.secret_ref {
            let optional = reference.optional.unwrap_or(false);
            if let Some(secret) = objects.secret(&reference.name, optional)? {
                for (key, value) in secret_data(&secret) {
                    env.set(format!("{prefix}{key}"), value);
                }
            }
        }
    }

    for var in container.env.iter().flatten() {
        let value = var.value.as_deref().unwrap_or_default();
        let value = if !value.is_empty() {
            expand(value, |name| env.get(name).map(str::to_string))
        } else if let Some(source) = &var.value_from {
            if let Some(field) = &source.field_ref {
                field_value(context, field)?
            } else if let Some(resource) = &source.resource_field_ref {
                resource_value(container, resource, context.node_allocatable)?
            } else if let Some(selector) = &source.config_map_key_ref {
                let optional = selector.optional.unwrap_or(false);
                let Some(config_map) = objects.config_map(&selector.name, optional)? else {
                    continue;
                };
                match config_map.data.as_ref().and_then(|d| d.get(&selector.key)) {
                    Some(value) => value.clone(),
                    None if optional => continue,
                    None => {
                        return Err(EnvError::ConfigMapKeyNotFound {
                            namespace: namespace.to_string(),
                            name: selector.name.clone(),
                            key: selector.key.clone(),
                        })
                    }
                }
            } else if let Some(selector) = &source.secret_key_ref {
                let optional = selector.optional.unwrap_or(false);
                let Some(secret) = objects.secret(&selector.name, optional)? else {
                    continue;
                };
                match secret_data(&secret).remove(&selector.key) {
                    Some(value) => value,
                    None if optional => continue,
                    None => {
                        return Err(EnvError::SecretKeyNotFound {
                            namespace: namespace.to_string(),
                            name: selector.name.clone(),
                            key: selector.key.clone(),
                        })
                    }
                }
            } else {
                String::new()
            }
        } else {
            String::new()
        };
        env.set(var.name.clone(), value);
    }
    Ok(env.into_vec())
}

/// Variables in the order first defined; a redefinition replaces the value
/// in place, so each name appears once.
#[derive(Default)]
struct OrderedEnv {
    vars: Vec<(String, String)>,
    index: HashMap<String, usize>,
}

impl OrderedEnv {
    fn set(&mut self, name: String, value: String) {
        match self.index.get(&name) {
            Some(&i) => self.vars[i].1 = value,
            None => {
                self.index.insert(name.clone(), self.vars.len());
                self.vars.push((name, value));
            }
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.index.get(name).map(|&i| self.vars[i].1.as_str())
    }

    fn into_vec(self) -> Vec<(String, String)> {
        self.vars
    }
}

/// ConfigMaps and Secrets of the pod's namespace, each read once per
/// container as the kubelet does.
struct Objects<'a> {
    namespace: &'a str,
    lookup: &'a dyn ObjectLookup,
    config_maps: HashMap<String, Option<ConfigMap>>,
    secrets: HashMap<String, Option<Secret>>,
}

impl Objects<'_> {
    fn config_map(&mut self, name: &str, optional: bool) -> Result<Option<ConfigMap>, EnvError> {
        if !self.config_maps.contains_key(name) {
            let found = self.lookup.config_map(self.namespace, name)?;
            self.config_maps.insert(name.to_string(), found);
        }
        match self.config_maps.get(name).cloned().flatten() {
            None if !optional => Err(EnvError::ConfigMapNotFound(name.to_string())),
            found => Ok(found),
        }
    }

    fn secret(&mut self, name: &str, optional: bool) -> Result<Option<Secret>, EnvError> {
        if !self.secrets.contains_key(name) {
            let found = self.lookup.secret(self.namespace, name)?;
            self.secrets.insert(name.to_string(), found);
        }
        match self.secrets.get(name).cloned().flatten() {
            None if !optional => Err(EnvError::SecretNotFound(name.to_string())),
            found => Ok(found),
        }
    }
}

/// A Secret's values as text. `stringData` is merged over `data` because
/// the API server may hand back an object whose write-only `stringData` was
/// not yet folded into `data`; bytes that are not UTF-8 are replaced, as an
/// environment variable cannot carry them.
pub(crate) fn secret_data(secret: &Secret) -> BTreeMap<String, String> {
    let mut values: BTreeMap<String, String> = secret
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), String::from_utf8_lossy(&v.0).into_owned()))
        .collect();
    for (key, value) in secret.string_data.iter().flatten() {
        values.insert(key.clone(), value.clone());
    }
    values
}

/// The Service variables of a pod in `namespace` (Kubernetes'
/// `getServiceEnvVarMap` and `FromServices`), Services sorted by name.
pub fn service_env(
    namespace: &str,
    enable_service_links: bool,
    lookup: &dyn ObjectLookup,
) -> Result<Vec<(String, String)>, LookupError> {
    let mut services: BTreeMap<String, Service> = BTreeMap::new();
    // The API server's own Service is offered to every pod, links or not.
    for service in lookup.services("default")? {
        if service.metadata.name.as_deref() == Some("kubernetes") {
            services.insert("kubernetes".to_string(), service);
        }
    }
    if enable_service_links {
        for service in lookup.services(namespace)? {
            if let Some(name) = service.metadata.name.clone() {
                services.insert(name, service);
            }
        }
    }
    let mut vars = Vec::new();
    for (name, service) in &services {
        let Some(spec) = &service.spec else { continue };
        let cluster_ip = spec.cluster_ip.as_deref().unwrap_or_default();
        if cluster_ip.is_empty() || cluster_ip == "None" {
            continue;
        }
        let prefix = env_name(name);
        let ports = spec.ports.as_deref().unwrap_or_default();
        vars.push((format!("{prefix}_SERVICE_HOST"), cluster_ip.to_string()));
        if let Some(first) = ports.first() {
            vars.push((format!("{prefix}_SERVICE_PORT"), first.port.to_string()));
        }
        for port in ports {
            if let Some(port_name) = port.name.as_deref().filter(|n| !n.is_empty()) {
                vars.push((
                    format!("{prefix}_SERVICE_PORT_{}", env_name(port_name)),
                    port.port.to_string(),
                ));
            }
        }
        // Docker links' variables, which Kubernetes keeps for compatibility.
        let host = if cluster_ip.contains(':') {
            format!("[{cluster_ip}]")
        } else {
            cluster_ip.to_string()
        };
        for (i, port) in ports.iter().enumerate() {
            let protocol = port
                .protocol
                .as_deref()
                .filter(|p| !p.is_empty())
                .unwrap_or("TCP");
            let lower = protocol.to_ascii_lowercase();
            let url = format!("{lower}://{host}:{}", port.port);
            if i == 0 {
                vars.push((format!("{prefix}_PORT"), url.clone()));
            }
            let port_prefix = format!(
                "{prefix}_PORT_{}_{}",
                port.port,
                protocol.to_ascii_uppercase()
            );
            vars.push((format!("{port_prefix}_PROTO"), lower));
            vars.push((format!("{port_prefix}_PORT"), port.port.to_string()));
            vars.push((format!("{port_prefix}_ADDR"), cluster_ip.to_string()));
            vars.push((port_prefix, url));
        }
    }
    Ok(vars)
}

/// A Service or port name as a variable name: upper case, `-` as `_`.
fn env_name(name: &str) -> String {
    name.replace('-', "_").to_ascii_uppercase()
}

/// Expands `$(NAME)` references with `lookup`, Kubernetes' rules: `$$` is
/// a literal `$`; a reference to an unknown name, an unclosed `$(` and a `$`
/// before anything else are kept as written.
///
/// Hand-written: the grammar is Kubernetes' own (not shell's), and small.
pub fn expand(input: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(reference) = after.strip_prefix('(') {
            match reference.find(')') {
                Some(close) => {
                    let name = &reference[..close];
                    match lookup(name) {
                        Some(value) => out.push_str(&value),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &reference[close + 1..];
                }
                None => {
                    out.push_str("$(");
                    rest = reference;
                }
            }
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// A `fieldRef` value (the downward API's fields for environment
/// variables).
pub fn field_value(
    context: &PodEnvContext<'_>,
    field: &ObjectFieldSelector,
) -> Result<String, EnvError> {
    let pod = context.pod;
    let meta = &pod.metadata;
    let spec = pod.spec.as_ref();
    let path = field.field_path.as_str();
    let subscript = |prefix: &str| {
        path.strip_prefix(prefix)
            .and_then(|p| p.strip_prefix("['"))
            .and_then(|p| p.strip_suffix("']"))
            .map(str::to_string)
    };
    let value = match path {
        "metadata.name" => meta.name.clone().unwrap_or_default(),
        "metadata.namespace" => meta.namespace.clone().unwrap_or_default(),
        "metadata.uid" => meta.uid.clone().unwrap_or_default(),
        "metadata.labels" => format_map(meta.labels.as_ref()),
        "metadata.annotations" => format_map(meta.annotations.as_ref()),
        "spec.nodeName" => spec.and_then(|s| s.node_name.clone()).unwrap_or_default(),
        "spec.serviceAccountName" => spec
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_default(),
        "status.podIP" => context.pod_ips.first().cloned().unwrap_or_default(),
        "status.podIPs" => context.pod_ips.join(","),
        "status.hostIP" => context.host_ips.first().cloned().unwrap_or_default(),
        "status.hostIPs" => context.host_ips.join(","),
        _ => {
            if let Some(key) = subscript("metadata.labels") {
                meta.labels
                    .as_ref()
                    .and_then(|m| m.get(&key))
                    .cloned()
                    .unwrap_or_default()
            } else if let Some(key) = subscript("metadata.annotations") {
                meta.annotations
                    .as_ref()
                    .and_then(|m| m.get(&key))
                    .cloned()
                    .unwrap_or_default()
            } else {
                return Err(EnvError::UnsupportedFieldPath(path.to_string()));
            }
        }
    };
    Ok(value)
}

/// Labels or annotations as the downward API prints a whole map: sorted
/// `key="value"` lines, values quoted with escapes.
fn format_map(map: Option<&BTreeMap<String, String>>) -> String {
    map.into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", serde_json::Value::String(v.clone())))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A `resourceFieldRef` value: the container's request or limit divided by
/// the divisor (default 1) and rounded up, so `limits.cpu` of `250m` reads
/// `1`. A limit the container does not set reads as the node's allocatable
/// amount; a request it does not set reads as its limit if it sets one (the
/// API server's defaulting), else 0.
pub fn resource_value(
    container: &Container,
    selector: &ResourceFieldSelector,
    node_allocatable: &BTreeMap<String, Quantity>,
) -> Result<String, EnvError> {
    let (kind, resource) = selector
        .resource
        .split_once('.')
        .ok_or_else(|| EnvError::UnsupportedResource(selector.resource.clone()))?;
    let requirements = container.resources.as_ref();
    let limits = requirements.and_then(|r| r.limits.as_ref());
    let requests = requirements.and_then(|r| r.requests.as_ref());
    let supported = matches!(resource, "cpu" | "memory" | "ephemeral-storage")
        || resource.starts_with("hugepages-");
    if !supported {
        return Err(EnvError::UnsupportedResource(selector.resource.clone()));
    }
    let limit = || {
        limits
            .and_then(|l| l.get(resource))
            .or_else(|| node_allocatable.get(resource))
    };
    let amount = match kind {
        "limits" => limit(),
        "requests" => requests
            .and_then(|r| r.get(resource))
            .or_else(|| limits.and_then(|l| l.get(resource))),
        _ => return Err(EnvError::UnsupportedResource(selector.resource.clone())),
    };
    // cpu is compared in millicores (a divisor of `1m` is allowed), the
    // rest in whole units, like apimachinery's MilliValue and Value.
    let scale = if resource == "cpu" { 3 } else { 0 };
    let value = match amount {
        Some(q) => scaled(&q.0, scale).ok_or_else(|| EnvError::InvalidQuantity(q.0.clone()))?,
        None => 0,
    };
    let divisor = match selector.divisor.as_ref().filter(|d| !d.0.is_empty()) {
        Some(d) => scaled(&d.0, scale).ok_or_else(|| EnvError::InvalidQuantity(d.0.clone()))?,
        None => 10i128.pow(scale),
    };
    if divisor <= 0 {
        return Err(EnvError::InvalidQuantity(
            selector
                .divisor
                .as_ref()
                .map(|d| d.0.clone())
                .unwrap_or_default(),
        ));
    }
    // Ceiling division of non-negative values.
    Ok(((value + divisor - 1) / divisor).to_string())
}

/// A non-negative Kubernetes quantity times `10^scale`, rounded up (`"250m"`
/// at scale 3 is 250, `"1Ki"` at scale 0 is 1024).
///
/// Hand-written because k8s-openapi carries quantities as strings; the
/// grammar is apimachinery's: a decimal number, then an optional binary
/// suffix (`Ki`..`Ei`), decimal suffix (`n`, `u`, `m`, `k`, `M`..`E`) or
/// decimal exponent (`e3`).
fn scaled(text: &str, scale: u32) -> Option<i128> {
    let text = text.trim().strip_prefix('+').unwrap_or(text.trim());
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
        return None;
    }
    let (exp10, exp2): (i64, u32) = match suffix {
        "" => (0, 0),
        "n" => (-9, 0),
        "u" => (-6, 0),
        "m" => (-3, 0),
        "k" => (3, 0),
        "M" => (6, 0),
        "G" => (9, 0),
        "T" => (12, 0),
        "P" => (15, 0),
        "E" => (18, 0),
        "Ki" => (0, 10),
        "Mi" => (0, 20),
        "Gi" => (0, 30),
        "Ti" => (0, 40),
        "Pi" => (0, 50),
        "Ei" => (0, 60),
        exponent => (exponent.strip_prefix(['e', 'E'])?.parse().ok()?, 0),
    };
    let digits = format!("{whole}{fraction}");
    let digits = digits.trim_start_matches('0');
    if digits.len() > 30 {
        return None;
    }
    let mantissa: i128 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    let mantissa = mantissa.checked_mul(1i128 << exp2)?;
    let exponent = exp10 - fraction.len() as i64 + i64::from(scale);
    if exponent >= 0 {
        mantissa.checked_mul(10i128.checked_pow(u32::try_from(exponent).ok()?)?)
    } else {
        let divisor = u32::try_from(-exponent)
            .ok()
            .and_then(|e| 10i128.checked_pow(e));
        match divisor {
            Some(divisor) => Some((mantissa + divisor - 1) / divisor),
            // Smaller than one unit: rounds up to 1 unless zero.
            None => Some(i128::from(mantissa > 0)),
        }
    }
}

#[cfg(test)]
#[path = "env_tests.rs"]
mod tests;

//! A pod's volumes on the node, and the bind mounts that give them to its
//! containers.
//!
//! Volumes live under `<pod_dir>/volumes/<plugin>/<name>` with the
//! kubelet's plugin directory names (`kubernetes.io~empty-dir`,
//! `kubernetes.io~configmap`, `kubernetes.io~secret`); a hostPath volume is
//! the node's path itself.
//!
//! - [`empty_dir`]: emptyDir volumes;
//! - [`projected_files`]: configMap and secret volumes, written atomically
//!   so an update of the object is seen whole;
//! - [`host_path`]: hostPath volumes with their type checks.
//!
//! [`set_up_pod_volumes`] is meant to be called on every pod sync: that is
//! how configMap and secret volumes follow their objects.

pub mod empty_dir;
pub mod host_path;
pub mod projected_files;

use std::collections::BTreeMap;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{Container, Pod};

use crate::env::{expand, LookupError, ObjectLookup};
use crate::runtime::Mount;

/// The kubelet's plugin directory of emptyDir volumes.
pub const EMPTY_DIR_PLUGIN: &str = "kubernetes.io~empty-dir";
/// The kubelet's plugin directory of configMap volumes.
pub const CONFIG_MAP_PLUGIN: &str = "kubernetes.io~configmap";
/// The kubelet's plugin directory of secret volumes.
pub const SECRET_PLUGIN: &str = "kubernetes.io~secret";

/// Why a volume could not be set up or mounted. The messages are the
/// kubelet's where it has one.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    /// A required ConfigMap does not exist.
    #[error("configmap {0:?} not found")]
    ConfigMapNotFound(String),
    /// A required Secret does not exist.
    #[error("secret {0:?} not found")]
    SecretNotFound(String),
    /// An item names a key the ConfigMap does not have.
    #[error("configmap references non-existent config key: {0}")]
    ConfigMapKeyNotFound(String),
    /// An item names a key the Secret does not have.
    #[error("secret references non-existent secret key: {0}")]
    SecretKeyNotFound(String),
    /// A hostPath is not of its declared type.
    #[error("hostPath type check failed: {path} is not a {expected}")]
    HostPathType {
        /// The node path.
        path: String,
        /// What it should have been.
        expected: &'static str,
    },
    /// An item path or subPath that could leave the volume.
    #[error("invalid path {path:?}: {reason}")]
    InvalidPath {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A volume type this node does not serve.
    #[error("volume type not supported: {0}")]
    Unsupported(String),
    /// A volumeMount names no volume of the pod.
    #[error("cannot find volume {volume:?} to mount into container {container:?}")]
    NoSuchVolume {
        /// Volume name.
        volume: String,
        /// Container name.
        container: String,
    },
    /// A `subPathExpr` refers to variables the container does not have.
    #[error("missing value for {0}")]
    MissingSubPathVariable(String),
    /// Reading the ConfigMap or Secret failed.
    #[error(transparent)]
    Lookup(#[from] LookupError),
    /// A file system call failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// On which path.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

/// Wraps an I/O error with what was done to which path.
pub(crate) fn io_error(
    action: &'static str,
    path: &Path,
) -> impl FnOnce(std::io::Error) -> VolumeError {
    let path = path.display().to_string();
    move |source| VolumeError::Io {
        action,
        path,
        source,
    }
}

/// A set-up volume: where it is on the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeOnNode {
    /// The directory (or file) to bind.
    pub host_path: PathBuf,
    /// Mounted read-only whatever the volumeMount says: configMap and secret
    /// volumes are (Kubernetes' read-only API data volumes).
    pub read_only: bool,
}

/// A pod's set-up volumes by name.
pub type PodVolumes = BTreeMap<String, VolumeOnNode>;

/// The directory of volume `name` of plugin `plugin` under `pod_dir`.
pub fn volume_dir(pod_dir: &Path, plugin: &str, name: &str) -> PathBuf {
    pod_dir.join("volumes").join(plugin).join(name)
}

/// Sets up (or brings up to date) every volume of `pod` under `pod_dir`.
/// Idempotent: a configMap or secret volume whose object did not change is
/// not rewritten.
pub fn set_up_pod_volumes(
    pod_dir: &Path,
    pod: &Pod,
    lookup: &dyn ObjectLookup,
) -> Result<PodVolumes, VolumeError> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let mut volumes = PodVolumes::new();
    for volume in pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
        let name = volume.name.as_str();
        let on_node = if volume.empty_dir.is_some() {
            let dir = volume_dir(pod_dir, EMPTY_DIR_PLUGIN, name);
            empty_dir::set_up(&dir)?;
            VolumeOnNode {
                host_path: dir,
                read_only: false,
            }
        } else if let Some(source) = &volume.config_map {
            let object = lookup.config_map(namespace, &source.name)?;
            let payload = projected_files::config_map_payload(object.as_ref(), source)?;
            let dir = volume_dir(pod_dir, CONFIG_MAP_PLUGIN, name);
            projected_files::write_atomically(&dir, &payload)?;
            VolumeOnNode {
                host_path: dir,
                read_only: true,
            }
        } else if let Some(source) = &volume.secret {
            let secret_name = source.secret_name.as_deref().unwrap_or_default();
            let object = lookup.secret(namespace, secret_name)?;
            let payload = projected_files::secret_payload(object.as_ref(), source)?;
            let dir = volume_dir(pod_dir, SECRET_PLUGIN, name);
            projected_files::write_atomically(&dir, &payload)?;
            VolumeOnNode {
                host_path: dir,
                read_only: true,
            }
        } else if let Some(source) = &volume.host_path {
            let path = PathBuf::from(&source.path);
            host_path::set_up(&path, source.type_.as_deref())?;
            VolumeOnNode {
                host_path: path,
                read_only: false,
            }
        } else {
            return Err(VolumeError::Unsupported(format!("volume {name:?}")));
        };
        volumes.insert(name.to_string(), on_node);
    }
    Ok(volumes)
}

/// The bind mounts of `container`'s volumeMounts. `subPath` (or
/// `subPathExpr` expanded with the container's environment `env`) selects a
/// path inside the volume, created as a directory if missing, and may not
/// leave the volume, through `..` or through a symbolic link.
pub fn container_mounts(
    volumes: &PodVolumes,
    container: &Container,
    env: &[(String, String)],
) -> Result<Vec<Mount>, VolumeError> {
    let mut mounts = Vec::new();
    for mount in container.volume_mounts.iter().flatten() {
        let volume = volumes
            .get(&mount.name)
            .ok_or_else(|| VolumeError::NoSuchVolume {
                volume: mount.name.clone(),
                container: container.name.clone(),
            })?;
        let sub_path = match (mount.sub_path.as_deref(), mount.sub_path_expr.as_deref()) {
            (Some(path), _) if !path.is_empty() => path.to_string(),
            (_, Some(expr)) if !expr.is_empty() => expand_sub_path(expr, env)?,
            _ => String::new(),
        };
        let host_path = if sub_path.is_empty() {
            volume.host_path.clone()
        } else {
            sub_path_on_node(&volume.host_path, &sub_path)?
        };
        mounts.push(Mount {
            container_path: mount.mount_path.clone(),
            host_path,
            readonly: volume.read_only || mount.read_only.unwrap_or(false),
        });
    }
    Ok(mounts)
}

/// Kubernetes' `subPathExpr`: `$(VAR)` from the container's environment;
/// an unknown or empty variable is an error.
fn expand_sub_path(expr: &str, env: &[(String, String)]) -> Result<String, VolumeError> {
    let missing = std::cell::RefCell::new(std::collections::BTreeSet::new());
    let expanded = expand(expr, |name| {
        let value = env
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone());
        if value.as_deref().unwrap_or_default().is_empty() {
            missing.borrow_mut().insert(name.to_string());
        }
        Some(value.unwrap_or_default())
    });
    let missing = missing.into_inner();
    if missing.is_empty() {
        Ok(expanded)
    } else {
        Err(VolumeError::MissingSubPathVariable(
            missing.into_iter().collect::<Vec<_>>().join(", "),
        ))
    }
}

fn sub_path_on_node(volume: &Path, sub_path: &str) -> Result<PathBuf, VolumeError> {
    let invalid = |reason: &str| VolumeError::InvalidPath {
        path: sub_path.to_string(),
        reason: reason.to_string(),
    };
    let relative = Path::new(sub_path);
    if relative.is_absolute() {
        return Err(invalid("must be relative"));
    }
    if relative
        .components()
        .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(invalid("must not contain '..'"));
    }
    let path = volume.join(relative);
    if fs::symlink_metadata(&path).is_err() {
        fs::create_dir_all(&path).map_err(io_error("create", &path))?;
    }
    let base = fs::canonicalize(volume).map_err(io_error("resolve", volume))?;
    let resolved = fs::canonicalize(&path).map_err(io_error("resolve", &path))?;
    if !resolved.starts_with(&base) {
        return Err(invalid("resolves outside the volume"));
    }
    Ok(path)
}

/// Removes every volume directory of a pod (not hostPaths, which are the
/// node's). Removing what is already gone succeeds.
pub fn remove_pod_volumes(pod_dir: &Path) -> Result<(), VolumeError> {
    let dir = pod_dir.join("volumes");
    // remove_dir_all does not follow symbolic links, so the projected files'
    // links cannot lead it out of the pod's directory.
    match fs::remove_dir_all(&dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error("remove", &dir)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        ConfigMap, ConfigMapVolumeSource, EmptyDirVolumeSource, HostPathVolumeSource, PodSpec,
        Secret, Service, Volume, VolumeMount,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use std::os::unix::fs::PermissionsExt;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Objects {
        config_map: Mutex<Option<ConfigMap>>,
    }

    impl ObjectLookup for Objects {
        fn config_map(&self, _: &str, name: &str) -> Result<Option<ConfigMap>, LookupError> {
            Ok(self
                .config_map
                .lock()
                .unwrap()
                .clone()
                .filter(|c| c.metadata.name.as_deref() == Some(name)))
        }
        fn secret(&self, _: &str, _: &str) -> Result<Option<Secret>, LookupError> {
            Ok(None)
        }
        fn services(&self, _: &str) -> Result<Vec<Service>, LookupError> {
            Ok(Vec::new())
        }
    }

    fn settings(value: &str) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some("settings".into()),
                ..Default::default()
            },
            data: Some([("app.conf".to_string(), value.to_string())].into()),
            ..Default::default()
        }
    }

    fn pod(host: &Path) -> Pod {
        Pod {
            metadata: ObjectMeta {
                namespace: Some("web".into()),
                name: Some("p".into()),
                ..Default::default()
            },
            spec: Some(PodSpec {
                volumes: Some(vec![
                    Volume {
                        name: "scratch".into(),
                        empty_dir: Some(EmptyDirVolumeSource::default()),
                        ..Default::default()
                    },
                    Volume {
                        name: "config".into(),
                        config_map: Some(ConfigMapVolumeSource {
                            name: "settings".into(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    },
                    Volume {
                        name: "host".into(),
                        host_path: Some(HostPathVolumeSource {
                            path: host.display().to_string(),
                            type_: Some("DirectoryOrCreate".into()),
                        }),
                        ..Default::default()
                    },
                ]),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn mount(name: &str, path: &str) -> VolumeMount {
        VolumeMount {
            name: name.into(),
            mount_path: path.into(),
            ..Default::default()
        }
    }

    #[test]
    fn pod_volumes_are_set_up_in_plugin_directories_and_updated() {
        let root = tempfile::tempdir().unwrap();
        let pod_dir = root.path().join("pods/uid");
        let host = root.path().join("host/data");
        let objects = Objects {
            config_map: Mutex::new(Some(settings("v1"))),
        };
        let volumes = set_up_pod_volumes(&pod_dir, &pod(&host), &objects).unwrap();

        let scratch = &volumes["scratch"];
        assert_eq!(
            scratch.host_path,
            pod_dir.join("volumes/kubernetes.io~empty-dir/scratch")
        );
        assert_eq!(
            fs::metadata(&scratch.host_path)
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o777
        );
        let config = &volumes["config"];
        assert!(config.read_only);
        assert_eq!(
            fs::read_to_string(config.host_path.join("app.conf")).unwrap(),
            "v1"
        );
        assert!(host.is_dir());
        assert_eq!(volumes["host"].host_path, host);

        fs::write(scratch.host_path.join("keep"), "x").unwrap();
        *objects.config_map.lock().unwrap() = Some(settings("v2"));
        set_up_pod_volumes(&pod_dir, &pod(&host), &objects).unwrap();
        assert_eq!(
            fs::read_to_string(config.host_path.join("app.conf")).unwrap(),
            "v2"
        );
        assert!(
            scratch.host_path.join("keep").exists(),
            "emptyDir content survives a resync"
        );

        remove_pod_volumes(&pod_dir).unwrap();
        assert!(!pod_dir.join("volumes").exists());
        assert!(host.is_dir(), "hostPaths are the node's");
        remove_pod_volumes(&pod_dir).unwrap();
    }

    #[test]
    fn required_config_map_missing_fails_setup() {
        let root = tempfile::tempdir().unwrap();
        let err = set_up_pod_volumes(
            root.path(),
            &pod(&root.path().join("h")),
            &Objects::default(),
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "configmap \"settings\" not found");
    }

    #[test]
    fn mounts_honour_read_only_and_sub_paths() {
        let root = tempfile::tempdir().unwrap();
        let objects = Objects {
            config_map: Mutex::new(Some(settings("v1"))),
        };
        let volumes =
            set_up_pod_volumes(root.path(), &pod(&root.path().join("h")), &objects).unwrap();
        let container = Container {
            name: "app".into(),
            volume_mounts: Some(vec![
                VolumeMount {
                    read_only: Some(true),
                    ..mount("scratch", "/scratch")
                },
                VolumeMount {
                    sub_path: Some("app.conf".into()),
                    ..mount("config", "/etc/app.conf")
                },
                VolumeMount {
                    sub_path_expr: Some("logs/$(POD_NAME)".into()),
                    ..mount("scratch", "/logs")
                },
                mount("host", "/host"),
            ]),
            ..Default::default()
        };
        let env = vec![("POD_NAME".to_string(), "p-1".to_string())];
        let mounts = container_mounts(&volumes, &container, &env).unwrap();
        let scratch = &volumes["scratch"].host_path;
        assert_eq!(
            mounts,
            vec![
                Mount {
                    container_path: "/scratch".into(),
                    host_path: scratch.clone(),
                    readonly: true
                },
                Mount {
                    container_path: "/etc/app.conf".into(),
                    host_path: volumes["config"].host_path.join("app.conf"),
                    readonly: true
                },
                Mount {
                    container_path: "/logs".into(),
                    host_path: scratch.join("logs/p-1"),
                    readonly: false
                },
                Mount {
                    container_path: "/host".into(),
                    host_path: root.path().join("h"),
                    readonly: false
                },
            ]
        );
        assert!(
            scratch.join("logs/p-1").is_dir(),
            "a missing subPath is created"
        );
    }

    #[test]
    fn bad_mounts_are_errors() {
        let root = tempfile::tempdir().unwrap();
        let objects = Objects {
            config_map: Mutex::new(Some(settings("v1"))),
        };
        let volumes =
            set_up_pod_volumes(root.path(), &pod(&root.path().join("h")), &objects).unwrap();
        let with = |m: VolumeMount| Container {
            name: "app".into(),
            volume_mounts: Some(vec![m]),
            ..Default::default()
        };

        let err = container_mounts(&volumes, &with(mount("nope", "/x")), &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot find volume \"nope\" to mount into container \"app\""
        );
        let escape = VolumeMount {
            sub_path: Some("../../etc".into()),
            ..mount("scratch", "/x")
        };
        assert!(matches!(
            container_mounts(&volumes, &with(escape), &[]),
            Err(VolumeError::InvalidPath { .. })
        ));
        let unset = VolumeMount {
            sub_path_expr: Some("$(A)/$(B)".into()),
            ..mount("scratch", "/x")
        };
        let err =
            container_mounts(&volumes, &with(unset), &[("A".into(), "a".into())]).unwrap_err();
        assert_eq!(err.to_string(), "missing value for B");

        std::os::unix::fs::symlink("/etc", volumes["scratch"].host_path.join("out")).unwrap();
        let through_link = VolumeMount {
            sub_path: Some("out".into()),
            ..mount("scratch", "/x")
        };
        assert!(matches!(
            container_mounts(&volumes, &with(through_link), &[]),
            Err(VolumeError::InvalidPath { .. })
        ));
    }
}

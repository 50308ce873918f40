//! configMap and secret volumes: the object's keys as files, written the
//! way the kubelet's atomic writer does so a container never sees half an
//! update.
//!
//! Layout of a volume directory:
//! ```text
//! ..2026_11_02_10_04_05.1234   the files of one version, with their modes
//! ..data -> ..2026_11_02_10_04_05.1234
//! app.conf -> ..data/app.conf  one link per top-level name
//! ```
//! An update writes a new version directory, points a fresh `..data_tmp`
//! link at it and renames that over `..data` (rename is atomic), then fixes
//! the top-level links and removes the old version. A payload equal to what
//! is on disk writes nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Component, Path};

use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, KeyToPath, Secret, SecretVolumeSource,
};

use super::{io_error, VolumeError};

/// The mode of projected files when the volume names none (`0644`).
pub const DEFAULT_MODE: u32 = 0o644;

const DATA_DIR: &str = "..data";
const DATA_DIR_TMP: &str = "..data_tmp";

/// One file of a volume: its content and mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProjection {
    /// Content.
    pub data: Vec<u8>,
    /// Permission bits.
    pub mode: u32,
}

/// Relative path → file.
pub type Payload = BTreeMap<String, FileProjection>;

/// The files of a configMap volume: every key of `data` and `binaryData`,
/// or only `items` (key → path, with per-item modes). `None`: the ConfigMap
/// does not exist, an empty volume if the source is optional and an error
/// otherwise.
pub fn config_map_payload(
    config_map: Option<&ConfigMap>,
    source: &ConfigMapVolumeSource,
) -> Result<Payload, VolumeError> {
    let optional = source.optional.unwrap_or(false);
    let Some(config_map) = config_map else {
        return if optional {
            Ok(Payload::new())
        } else {
            Err(VolumeError::ConfigMapNotFound(source.name.clone()))
        };
    };
    let mut values: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for (key, value) in config_map.binary_data.iter().flatten() {
        values.insert(key.clone(), value.0.clone());
    }
    for (key, value) in config_map.data.iter().flatten() {
        values.insert(key.clone(), value.clone().into_bytes());
    }
    project(
        values,
        source.items.as_deref(),
        source.default_mode,
        optional,
        |key| VolumeError::ConfigMapKeyNotFound(key.to_string()),
    )
}

/// The files of a secret volume, by the same rules as a configMap's.
pub fn secret_payload(
    secret: Option<&Secret>,
    source: &SecretVolumeSource,
) -> Result<Payload, VolumeError> {
    let optional = source.optional.unwrap_or(false);
    let Some(secret) = secret else {
        return if optional {
            Ok(Payload::new())
        } else {
            Err(VolumeError::SecretNotFound(
                source.secret_name.clone().unwrap_or_default(),
            ))
        };
    };
    let mut values: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for (key, value) in secret.data.iter().flatten() {
        values.insert(key.clone(), value.0.clone());
    }
    // See `env::secret_data`: stringData may not be folded into data yet.
    for (key, value) in secret.string_data.iter().flatten() {
        values.insert(key.clone(), value.clone().into_bytes());
    }
    project(
        values,
        source.items.as_deref(),
        source.default_mode,
        optional,
        |key| VolumeError::SecretKeyNotFound(key.to_string()),
    )
}

fn project(
    values: BTreeMap<String, Vec<u8>>,
    items: Option<&[KeyToPath]>,
    default_mode: Option<i32>,
    optional: bool,
    missing: impl Fn(&str) -> VolumeError,
) -> Result<Payload, VolumeError> {
    let mode = |m: Option<i32>| {
        m.and_then(|m| u32::try_from(m).ok())
            .map_or(DEFAULT_MODE, |m| m & 0o7777)
    };
    let default_mode = mode(default_mode);
    let Some(items) = items.filter(|items| !items.is_empty()) else {
        return Ok(values
            .into_iter()
            .map(|(key, data)| {
                (
                    key,
                    FileProjection {
                        data,
                        mode: default_mode,
                    },
                )
            })
            .collect());
    };
    let mut payload = Payload::new();
    for item in items {
        let Some(data) = values.get(&item.key).cloned() else {
            if optional {
                continue;
            }
            return Err(missing(&item.key));
        };
        let file_mode = item.mode.map_or(default_mode, |m| mode(Some(m)));
        payload.insert(
            item.path.clone(),
            FileProjection {
                data,
                mode: file_mode,
            },
        );
    }
    Ok(payload)
}

/// Checks a payload path as the atomic writer does: relative, not empty, no
/// `..` element, not starting with `..` (those names are the writer's own).
pub fn validate_path(path: &str) -> Result<(), VolumeError> {
    let invalid = |reason: &str| VolumeError::InvalidPath {
        path: path.to_string(),
        reason: reason.to_string(),
    };
    if path.is_empty() {
        return Err(invalid("must not be empty"));
    }
    if path.len() > 4096 {
        return Err(invalid("must be at most 4096 characters"));
    }
    if Path::new(path).is_absolute() {
        return Err(invalid("must be relative"));
    }
    if path.starts_with("..") {
        return Err(invalid("must not start with '..'"));
    }
    if Path::new(path)
        .components()
        .any(|c| matches!(c, Component::ParentDir))
    {
        return Err(invalid("must not contain '..'"));
    }
    Ok(())
}

/// Makes `target_dir` hold exactly `payload`, atomically; returns whether
/// anything was written.
pub fn write_atomically(target_dir: &Path, payload: &Payload) -> Result<bool, VolumeError> {
    for path in payload.keys() {
        validate_path(path)?;
    }
    fs::create_dir_all(target_dir).map_err(io_error("create", target_dir))?;

    let data_link = target_dir.join(DATA_DIR);
    let old_version = match fs::read_link(&data_link) {
        Ok(target) => Some(target),
        Err(e) if e.kind() == ErrorKind::NotFound => None,
        Err(e) => return Err(io_error("read", &data_link)(e)),
    };
    if let Some(old) = &old_version {
        if matches_payload(&target_dir.join(old), payload) {
            return Ok(false);
        }
    }

    let (version_name, version_dir) = new_version_dir(target_dir)?;
    for (path, file) in payload {
        let file_path = version_dir.join(path);
        if let Some(parent) = file_path.parent() {
            fs::create_dir_all(parent).map_err(io_error("create", parent))?;
        }
        fs::write(&file_path, &file.data).map_err(io_error("write", &file_path))?;
        fs::set_permissions(&file_path, fs::Permissions::from_mode(file.mode))
            .map_err(io_error("chmod", &file_path))?;
    }

    let tmp_link = target_dir.join(DATA_DIR_TMP);
    match fs::remove_file(&tmp_link) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(io_error("remove", &tmp_link)(e)),
    }
    symlink(&version_name, &tmp_link).map_err(io_error("symlink", &tmp_link))?;
    fs::rename(&tmp_link, &data_link).map_err(io_error("rename", &tmp_link))?;

    let top_level: BTreeSet<String> = payload.keys().filter_map(|p| first_component(p)).collect();
    for name in &top_level {
        let link = target_dir.join(name);
        if fs::symlink_metadata(&link).is_err() {
            symlink(Path::new(DATA_DIR).join(name), &link).map_err(io_error("symlink", &link))?;
        }
    }
    // Links of names the new version no longer has; only links, and never
    // the writer's own `..` entries.
    let entries = fs::read_dir(target_dir).map_err(io_error("read", target_dir))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_link = entry.file_type().is_ok_and(|t| t.is_symlink());
        if is_link && !name.starts_with("..") && !top_level.contains(&name) {
            let path = entry.path();
            fs::remove_file(&path).map_err(io_error("remove", &path))?;
        }
    }
    if let Some(old) = old_version {
        let old_dir = target_dir.join(old);
        fs::remove_dir_all(&old_dir).map_err(io_error("remove", &old_dir))?;
    }
    Ok(true)
}

fn first_component(path: &str) -> Option<String> {
    match Path::new(path).components().next() {
        Some(Component::Normal(name)) => Some(name.to_string_lossy().into_owned()),
        _ => None,
    }
}

/// A fresh `..<UTC time>.<n>` directory in `target_dir`, its name and path.
fn new_version_dir(target_dir: &Path) -> Result<(String, std::path::PathBuf), VolumeError> {
    let stamp = jiff::Timestamp::now()
        .strftime("%Y_%m_%d_%H_%M_%S")
        .to_string();
    for n in 0u32.. {
        let name = format!("..{stamp}.{n}");
        let path = target_dir.join(&name);
        match fs::create_dir(&path) {
            Ok(()) => {
                fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
                    .map_err(io_error("chmod", &path))?;
                return Ok((name, path));
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_error("create", &path)(e)),
        }
    }
    Err(VolumeError::InvalidPath {
        path: target_dir.display().to_string(),
        reason: "no free version name".into(),
    })
}

/// Whether `dir` holds exactly the payload's files, contents and modes.
fn matches_payload(dir: &Path, payload: &Payload) -> bool {
    let mut found = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let Ok(entries) = fs::read_dir(&current) else {
            return false;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = entry.metadata() else {
                return false;
            };
            if meta.is_dir() {
                stack.push(path);
                continue;
            }
            let Ok(relative) = path.strip_prefix(dir) else {
                return false;
            };
            let Some(file) = payload.get(relative.to_string_lossy().as_ref()) else {
                return false;
            };
            if meta.permissions().mode() & 0o7777 != file.mode
                || fs::read(&path).ok().as_ref() != Some(&file.data)
            {
                return false;
            }
            found += 1;
        }
    }
    found == payload.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;

    fn payload(files: &[(&str, &str, u32)]) -> Payload {
        files
            .iter()
            .map(|(p, d, m)| {
                (
                    p.to_string(),
                    FileProjection {
                        data: d.as_bytes().to_vec(),
                        mode: *m,
                    },
                )
            })
            .collect()
    }

    fn config_map(data: &[(&str, &str)]) -> ConfigMap {
        ConfigMap {
            data: Some(
                data.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..Default::default()
        }
    }

    fn item(key: &str, path: &str, mode: Option<i32>) -> KeyToPath {
        KeyToPath {
            key: key.into(),
            path: path.into(),
            mode,
        }
    }

    #[test]
    fn files_are_links_through_data_with_their_modes() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("config");
        assert!(write_atomically(
            &target,
            &payload(&[("app.conf", "a=1", 0o644), ("conf.d/x", "x", 0o400)])
        )
        .unwrap());
        assert_eq!(fs::read_to_string(target.join("app.conf")).unwrap(), "a=1");
        assert_eq!(fs::read_to_string(target.join("conf.d/x")).unwrap(), "x");
        assert_eq!(
            fs::read_link(target.join("app.conf")).unwrap(),
            Path::new("..data/app.conf")
        );
        assert_eq!(
            fs::read_link(target.join("conf.d")).unwrap(),
            Path::new("..data/conf.d")
        );
        let version = fs::read_link(target.join("..data")).unwrap();
        assert!(version.to_string_lossy().starts_with(".."), "{version:?}");
        let mode = fs::metadata(target.join("conf.d/x"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777;
        assert_eq!(mode, 0o400);
    }

    #[test]
    fn an_update_swaps_versions_and_drops_removed_keys() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("config");
        write_atomically(&target, &payload(&[("a", "1", 0o644), ("b", "2", 0o644)])).unwrap();
        let first = fs::read_link(target.join("..data")).unwrap();
        assert!(write_atomically(&target, &payload(&[("a", "changed", 0o644)])).unwrap());
        let second = fs::read_link(target.join("..data")).unwrap();
        assert_ne!(first, second);
        assert_eq!(fs::read_to_string(target.join("a")).unwrap(), "changed");
        assert!(
            fs::symlink_metadata(target.join("b")).is_err(),
            "removed key's link is gone"
        );
        assert!(!target.join(&first).exists(), "old version removed");
        let names: Vec<String> = fs::read_dir(&target)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 3, "{names:?}");
    }

    #[test]
    fn an_unchanged_payload_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let files = payload(&[("a", "1", 0o644)]);
        write_atomically(dir.path(), &files).unwrap();
        let version = fs::read_link(dir.path().join("..data")).unwrap();
        assert!(!write_atomically(dir.path(), &files).unwrap());
        assert_eq!(fs::read_link(dir.path().join("..data")).unwrap(), version);
        assert!(
            write_atomically(dir.path(), &payload(&[("a", "1", 0o600)])).unwrap(),
            "a mode change is a change"
        );
    }

    #[test]
    fn paths_that_could_escape_are_refused() {
        for path in ["/etc/passwd", "../x", "a/../../x", "..data", ""] {
            assert!(validate_path(path).is_err(), "{path}");
        }
        validate_path("a/b.txt").unwrap();
        let dir = tempfile::tempdir().unwrap();
        assert!(write_atomically(dir.path(), &payload(&[("../evil", "x", 0o644)])).is_err());
    }

    #[test]
    fn config_map_items_pick_keys_paths_and_modes() {
        let source = ConfigMapVolumeSource {
            name: "settings".into(),
            default_mode: Some(0o600),
            items: Some(vec![
                item("level", "log/level", Some(0o444)),
                item("mode", "mode", None),
            ]),
            optional: None,
        };
        let files = config_map_payload(
            Some(&config_map(&[
                ("level", "debug"),
                ("mode", "fast"),
                ("other", "x"),
            ])),
            &source,
        )
        .unwrap();
        assert_eq!(
            files,
            payload(&[("log/level", "debug", 0o444), ("mode", "fast", 0o600)])
        );
    }

    #[test]
    fn all_keys_by_default_with_mode_0644_binary_data_included() {
        let mut object = config_map(&[("a", "1")]);
        object.binary_data = Some([("b".to_string(), ByteString(vec![0, 1]))].into());
        let source = ConfigMapVolumeSource {
            name: "settings".into(),
            ..Default::default()
        };
        let files = config_map_payload(Some(&object), &source).unwrap();
        assert_eq!(
            files.get("a"),
            Some(&FileProjection {
                data: b"1".to_vec(),
                mode: 0o644
            })
        );
        assert_eq!(
            files.get("b"),
            Some(&FileProjection {
                data: vec![0, 1],
                mode: 0o644
            })
        );
    }

    #[test]
    fn missing_objects_and_keys_follow_optional() {
        let required = ConfigMapVolumeSource {
            name: "gone".into(),
            ..Default::default()
        };
        assert_eq!(
            config_map_payload(None, &required).unwrap_err().to_string(),
            "configmap \"gone\" not found"
        );
        let optional = ConfigMapVolumeSource {
            optional: Some(true),
            ..required.clone()
        };
        assert!(config_map_payload(None, &optional).unwrap().is_empty());

        let with_item = SecretVolumeSource {
            secret_name: Some("creds".into()),
            items: Some(vec![item("absent", "x", None)]),
            ..Default::default()
        };
        let secret = Secret {
            data: Some([("token".to_string(), ByteString(b"t".to_vec()))].into()),
            ..Default::default()
        };
        assert_eq!(
            secret_payload(Some(&secret), &with_item)
                .unwrap_err()
                .to_string(),
            "secret references non-existent secret key: absent"
        );
        let optional_item = SecretVolumeSource {
            optional: Some(true),
            ..with_item
        };
        assert!(secret_payload(Some(&secret), &optional_item)
            .unwrap()
            .is_empty());
        assert_eq!(
            secret_payload(
                None,
                &SecretVolumeSource {
                    secret_name: Some("s".into()),
                    ..Default::default()
                }
            )
            .unwrap_err()
            .to_string(),
            "secret \"s\" not found"
        );
    }
}

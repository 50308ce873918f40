//! Tests of whole archives: what `ctr images import` will read.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;

use flate2::read::GzDecoder;
use serde_json::Value;

use super::*;

/// Every file of an archive by path.
fn unpack(archive: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for entry in tar::Archive::new(archive).entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        files.insert(path, data);
    }
    files
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

/// The blob a descriptor points at, checked against its digest and size.
fn blob<'a>(files: &'a BTreeMap<String, Vec<u8>>, descriptor: &Value) -> &'a [u8] {
    let digest = descriptor["digest"].as_str().unwrap();
    let hex = digest.strip_prefix("sha256:").unwrap();
    let data = files
        .get(&format!("blobs/sha256/{hex}"))
        .unwrap_or_else(|| panic!("no blob for {digest}"));
    assert_eq!(Digest::of(data).as_str(), digest, "blob content");
    assert_eq!(descriptor["size"].as_u64().unwrap(), data.len() as u64);
    data
}

struct Fixture {
    _dir: tempfile::TempDir,
    binary: PathBuf,
    busybox: PathBuf,
}

/// A fake static binary, and a fake busybox: a script that lists two applets
/// the way `busybox --list-full` does.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let binary = dir.path().join("api-server");
    std::fs::write(&binary, b"\x7fELF not really").unwrap();
    let busybox = dir.path().join("busybox");
    std::fs::write(&busybox, "#!/bin/sh\necho bin/sh\necho usr/bin/wget\n").unwrap();
    std::fs::set_permissions(&busybox, std::fs::Permissions::from_mode(0o755)).unwrap();
    Fixture {
        _dir: dir,
        binary,
        busybox,
    }
}

fn binary_spec(fixture: &Fixture) -> ImageSpec {
    let mut spec = ImageSpec::new("api-server:1.2.0");
    spec.contents = Some(Contents::StaticBinary(fixture.binary.clone()));
    spec.env = vec!["APP_VERSION=1.2.0".to_owned()];
    spec.exposed_ports = vec!["8080".to_owned()];
    spec.architecture = "amd64".to_owned();
    spec
}

fn build_bytes(spec: &ImageSpec) -> (Vec<u8>, BuiltImage) {
    let mut out = Vec::new();
    let built = build(spec, &mut out).unwrap();
    (out, built)
}

#[test]
fn index_and_manifest_digests_match_the_blob_files() {
    let fixture = fixture();
    let (archive, built) = build_bytes(&binary_spec(&fixture));
    let files = unpack(&archive);
    assert_eq!(
        json(&files["oci-layout"]),
        serde_json::json!({"imageLayoutVersion": "1.0.0"})
    );
    let index = json(&files["index.json"]);
    assert_eq!(index["schemaVersion"], 2);
    let manifests = index["manifests"].as_array().unwrap();
    assert_eq!(manifests.len(), 1);
    assert_eq!(manifests[0]["mediaType"], oci::MEDIA_TYPE_MANIFEST);
    assert_eq!(
        manifests[0]["digest"].as_str().unwrap(),
        built.summary.manifest_digest.as_str()
    );
    let manifest = json(blob(&files, &manifests[0]));
    assert_eq!(manifest["config"]["mediaType"], oci::MEDIA_TYPE_CONFIG);
    assert_eq!(
        manifest["config"]["digest"].as_str().unwrap(),
        built.summary.config_digest.as_str()
    );
    blob(&files, &manifest["config"]);
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    assert_eq!(layers[0]["mediaType"], oci::MEDIA_TYPE_LAYER_GZIP);
    blob(&files, &layers[0]);
    // Nothing else is stored: index, manifest, config, one layer.
    assert_eq!(files.len(), 2 + 3);
}

#[test]
fn diff_ids_are_the_digests_of_the_uncompressed_layers() {
    let fixture = fixture();
    let mut spec = binary_spec(&fixture);
    spec.busybox = Some(fixture.busybox.clone());
    let (archive, built) = build_bytes(&spec);
    let files = unpack(&archive);
    let index = json(&files["index.json"]);
    let manifest = json(blob(&files, &index["manifests"][0]));
    let config = json(blob(&files, &manifest["config"]));
    let diff_ids: Vec<&str> = config["rootfs"]["diff_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2, "busybox base and the binary");
    assert_eq!(diff_ids.len(), 2);
    for (layer, diff_id) in layers.iter().zip(&diff_ids) {
        let mut tar_bytes = Vec::new();
        GzDecoder::new(blob(&files, layer))
            .read_to_end(&mut tar_bytes)
            .unwrap();
        assert_eq!(Digest::of(&tar_bytes).as_str(), *diff_id);
    }
    assert_eq!(config["rootfs"]["type"], "layers");
    let built_diff_ids: Vec<&str> = built.summary.diff_ids.iter().map(Digest::as_str).collect();
    assert_eq!(built_diff_ids, diff_ids);
    // Base first: the first layer holds the shell, the second the app.
    let mut base = tar::Archive::new(GzDecoder::new(blob(&files, &layers[0])));
    let base_paths: Vec<String> = base
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(base_paths.contains(&"bin/sh".to_owned()), "{base_paths:?}");
}

#[test]
fn config_carries_the_runtime_defaults() {
    let fixture = fixture();
    let (archive, _) = build_bytes(&binary_spec(&fixture));
    let files = unpack(&archive);
    let index = json(&files["index.json"]);
    let manifest = json(blob(&files, &index["manifests"][0]));
    let config = json(blob(&files, &manifest["config"]));
    assert_eq!(config["architecture"], "amd64");
    assert_eq!(config["os"], "linux");
    assert_eq!(
        config["config"]["Entrypoint"],
        serde_json::json!(["/app/api-server"])
    );
    assert_eq!(
        config["config"]["Env"],
        serde_json::json!([DEFAULT_PATH, "APP_VERSION=1.2.0"])
    );
    assert_eq!(config["config"]["WorkingDir"], "/app");
    assert_eq!(
        config["config"]["ExposedPorts"],
        serde_json::json!({"8080/tcp": {}})
    );
    assert!(config["config"].get("Cmd").is_none());
    assert_eq!(index["manifests"][0]["platform"]["architecture"], "amd64");
}

#[test]
fn annotation_carries_the_normalized_name_and_the_tag() {
    let fixture = fixture();
    for (given, stored, tag) in [
        (
            "api-server:1.2.0",
            "docker.io/library/api-server:1.2.0",
            "1.2.0",
        ),
        ("localhost/pause:latest", "localhost/pause:latest", "latest"),
        ("busybox", "docker.io/library/busybox:latest", "latest"),
    ] {
        let mut spec = binary_spec(&fixture);
        spec.reference = given.to_owned();
        let (archive, built) = build_bytes(&spec);
        assert_eq!(built.reference.to_string(), stored);
        let index = json(&unpack(&archive)["index.json"]);
        let annotations = &index["manifests"][0]["annotations"];
        assert_eq!(annotations[oci::ANNOTATION_CONTAINERD_NAME], stored);
        assert_eq!(annotations[oci::ANNOTATION_REF_NAME], tag);
    }
}

#[test]
fn same_inputs_give_the_same_archive() {
    let fixture = fixture();
    let mut spec = binary_spec(&fixture);
    spec.busybox = Some(fixture.busybox.clone());
    let (first, first_built) = build_bytes(&spec);
    let (second, second_built) = build_bytes(&spec);
    assert_eq!(first, second);
    assert_eq!(first_built, second_built);
}

#[test]
fn different_inputs_give_different_manifests() {
    let fixture = fixture();
    let spec = binary_spec(&fixture);
    let (_, base) = build_bytes(&spec);

    let mut other_env = spec.clone();
    other_env.env = vec!["APP_VERSION=1.3.0".to_owned()];
    let (_, env_changed) = build_bytes(&other_env);
    assert_ne!(
        base.summary.manifest_digest,
        env_changed.summary.manifest_digest
    );
    assert_eq!(
        base.summary.layer_digests,
        env_changed.summary.layer_digests
    );

    std::fs::write(&fixture.binary, b"\x7fELF another build").unwrap();
    let (_, content_changed) = build_bytes(&spec);
    assert_ne!(
        base.summary.layer_digests,
        content_changed.summary.layer_digests
    );
}

#[test]
fn directory_contents_become_the_image_root() {
    let fixture = fixture();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("www")).unwrap();
    std::fs::write(dir.path().join("www/index.html"), b"hi").unwrap();
    let mut spec = ImageSpec::new("site:1");
    spec.contents = Some(Contents::Directory(dir.path().to_path_buf()));
    spec.busybox = Some(fixture.busybox.clone());
    spec.entrypoint = vec!["httpd".to_owned(), "-f".to_owned()];
    let (archive, built) = build_bytes(&spec);
    assert_eq!(built.summary.layer_digests.len(), 2);
    let files = unpack(&archive);
    let layer_descriptor = serde_json::json!({
        "digest": built.summary.layer_digests[1].as_str(),
        "size": files[&format!("blobs/sha256/{}", built.summary.layer_digests[1].hex())].len(),
    });
    let mut layer = tar::Archive::new(GzDecoder::new(blob(&files, &layer_descriptor)));
    let paths: Vec<String> = layer
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(paths, ["www", "www/index.html"]);
    let manifest = json(&files[&format!("blobs/sha256/{}", built.summary.manifest_digest.hex())]);
    let config = json(blob(&files, &manifest["config"]));
    assert_eq!(config["config"]["WorkingDir"], "/");
    assert_eq!(
        config["config"]["Entrypoint"],
        serde_json::json!(["httpd", "-f"])
    );
}

#[test]
fn malformed_specs_are_refused() {
    let fixture = fixture();
    let empty = ImageSpec::new("x:1");
    assert!(matches!(
        build(&empty, Vec::new()),
        Err(ImageError::InvalidSpec(_))
    ));

    let mut bad_env = binary_spec(&fixture);
    bad_env.env = vec!["NOEQUALS".to_owned()];
    assert!(matches!(
        build(&bad_env, Vec::new()),
        Err(ImageError::InvalidSpec(_))
    ));

    let mut bad_port = binary_spec(&fixture);
    bad_port.exposed_ports = vec!["80/http".to_owned()];
    assert!(matches!(
        build(&bad_port, Vec::new()),
        Err(ImageError::InvalidSpec(_))
    ));

    let mut bad_name = binary_spec(&fixture);
    bad_name.reference = "Bad:Name:1".to_owned();
    assert!(matches!(
        build(&bad_name, Vec::new()),
        Err(ImageError::Reference(_))
    ));

    let mut missing = binary_spec(&fixture);
    missing.contents = Some(Contents::StaticBinary(PathBuf::from("/nonexistent/app")));
    assert!(matches!(
        build(&missing, Vec::new()),
        Err(ImageError::Io { .. })
    ));
}

#[test]
fn an_explicit_path_replaces_the_default_one() {
    let fixture = fixture();
    let mut spec = binary_spec(&fixture);
    spec.env = vec!["PATH=/app".to_owned()];
    let config = container_config(&spec).unwrap();
    assert_eq!(config.env, ["PATH=/app"]);
}

#[test]
fn a_failed_build_leaves_no_file_behind() {
    let fixture = fixture();
    let out = tempfile::tempdir().unwrap();
    let path = out.path().join("image.tar");
    let mut spec = binary_spec(&fixture);
    spec.contents = Some(Contents::StaticBinary(PathBuf::from("/nonexistent/app")));
    assert!(build_to_file(&spec, &path).is_err());
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);

    let built = build_to_file(&binary_spec(&fixture), &path).unwrap();
    let files = unpack(&std::fs::read(&path).unwrap());
    assert!(files.contains_key(&format!(
        "blobs/sha256/{}",
        built.summary.manifest_digest.hex()
    )));
}

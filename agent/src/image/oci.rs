//! The OCI image layout, written as one tar archive: `oci-layout`,
//! `index.json`, and the manifest, config and layers under `blobs/sha256/`
//! (OCI image-spec v1: image-layout, manifest, config, descriptor).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use serde::Serialize;

use super::digest::Digest;
use super::layer::{Layer, ENTRY_MTIME};
use super::reference::ImageReference;
use super::ImageError;

/// `mediaType` of an image index.
pub const MEDIA_TYPE_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// `mediaType` of an image manifest.
pub const MEDIA_TYPE_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// `mediaType` of an image config.
pub const MEDIA_TYPE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// `mediaType` of a gzip-compressed tar layer.
pub const MEDIA_TYPE_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// Annotation containerd's importer names the image by.
pub const ANNOTATION_CONTAINERD_NAME: &str = "io.containerd.image.name";
/// The OCI annotation naming a reference in `index.json` (the tag).
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// `created` of every config: a fixed time keeps the config digest a
/// function of the inputs.
const CREATED: &str = "1970-01-01T00:00:00Z";

/// The runtime defaults of a container started from the image: the
/// `config` object of the OCI image config, whose field names are Docker's.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ContainerConfig {
    /// Becomes the container's command unless the pod's `command` replaces it.
    #[serde(rename = "Entrypoint", skip_serializing_if = "Vec::is_empty")]
    pub entrypoint: Vec<String>,
    /// Arguments after the entrypoint unless the pod's `args` replace them.
    #[serde(rename = "Cmd", skip_serializing_if = "Vec::is_empty")]
    pub cmd: Vec<String>,
    /// `KEY=value` pairs; the pod's `env` is applied on top.
    #[serde(rename = "Env", skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// The working directory unless the pod's `workingDir` replaces it.
    #[serde(rename = "WorkingDir", skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    /// `port/protocol` keys (`8080/tcp`), each with an empty object value.
    #[serde(rename = "ExposedPorts", skip_serializing_if = "BTreeMap::is_empty")]
    pub exposed_ports: BTreeMap<String, EmptyObject>,
}

/// `{}`: the value type of `ExposedPorts`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EmptyObject {}

#[derive(Serialize)]
struct ImageConfig<'a> {
    created: &'static str,
    architecture: &'a str,
    os: &'static str,
    config: &'a ContainerConfig,
    rootfs: RootFs<'a>,
    history: Vec<History>,
}

#[derive(Serialize)]
struct RootFs<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    diff_ids: Vec<&'a str>,
}

#[derive(Serialize)]
struct History {
    created: &'static str,
    created_by: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor<'a> {
    media_type: &'static str,
    digest: &'a str,
    size: u64,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<&'static str, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    platform: Option<Platform<'a>>,
}

#[derive(Serialize)]
struct Platform<'a> {
    architecture: &'a str,
    os: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Manifest<'a> {
    schema_version: u32,
    media_type: &'static str,
    config: Descriptor<'a>,
    layers: Vec<Descriptor<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Index<'a> {
    schema_version: u32,
    media_type: &'static str,
    manifests: Vec<Descriptor<'a>>,
}

/// What an archive holds, by digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveSummary {
    /// Digest of the manifest: the image's id in containerd.
    pub manifest_digest: Digest,
    /// Digest of the config.
    pub config_digest: Digest,
    /// Digests of the compressed layers, base first.
    pub layer_digests: Vec<Digest>,
    /// The layers' diff_ids, base first.
    pub diff_ids: Vec<Digest>,
}

fn descriptor<'a>(media_type: &'static str, digest: &'a Digest, blob: &[u8]) -> Descriptor<'a> {
    Descriptor {
        media_type,
        digest: digest.as_str(),
        size: blob.len() as u64,
        annotations: BTreeMap::new(),
        platform: None,
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>, ImageError> {
    serde_json::to_vec(value).map_err(|e| ImageError::Encode(e.to_string()))
}

/// Writes the OCI layout of one image (`layers` base first) as a tar archive
/// to `out`.
pub fn write_archive<W: Write>(
    out: W,
    reference: &ImageReference,
    architecture: &str,
    config: &ContainerConfig,
    layers: &[Layer],
) -> Result<ArchiveSummary, ImageError> {
    let image_config = ImageConfig {
        created: CREATED,
        architecture,
        os: "linux",
        config,
        rootfs: RootFs {
            kind: "layers",
            diff_ids: layers.iter().map(|l| l.diff_id.as_str()).collect(),
        },
        history: layers
            .iter()
            .map(|_| History {
                created: CREATED,
                created_by: "berth image build",
            })
            .collect(),
    };
    let config_blob = to_json(&image_config)?;
    let config_digest = Digest::of(&config_blob);

    let manifest = Manifest {
        schema_version: 2,
        media_type: MEDIA_TYPE_MANIFEST,
        config: descriptor(MEDIA_TYPE_CONFIG, &config_digest, &config_blob),
        layers: layers
            .iter()
            .map(|l| descriptor(MEDIA_TYPE_LAYER_GZIP, &l.digest, &l.blob))
            .collect(),
    };
    let manifest_blob = to_json(&manifest)?;
    let manifest_digest = Digest::of(&manifest_blob);

    let mut manifest_descriptor = descriptor(MEDIA_TYPE_MANIFEST, &manifest_digest, &manifest_blob);
    manifest_descriptor.annotations = BTreeMap::from([
        (ANNOTATION_CONTAINERD_NAME, reference.to_string()),
        (ANNOTATION_REF_NAME, reference.tag().to_owned()),
    ]);
    manifest_descriptor.platform = Some(Platform {
        architecture,
        os: "linux",
    });
    let index = Index {
        schema_version: 2,
        media_type: MEDIA_TYPE_INDEX,
        manifests: vec![manifest_descriptor],
    };
    let index_blob = to_json(&index)?;

    // Blobs by digest, so two identical layers are stored once and the
    // archive's entry order is fixed.
    let mut blobs: BTreeMap<&Digest, &[u8]> = BTreeMap::new();
    blobs.insert(&config_digest, &config_blob);
    blobs.insert(&manifest_digest, &manifest_blob);
    for layer in layers {
        blobs.insert(&layer.digest, &layer.blob);
    }

    let mut builder = tar::Builder::new(out);
    append_file(
        &mut builder,
        "oci-layout",
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )?;
    append_file(&mut builder, "index.json", &index_blob)?;
    append_dir(&mut builder, "blobs")?;
    append_dir(&mut builder, "blobs/sha256")?;
    for (digest, blob) in &blobs {
        append_file(
            &mut builder,
            &format!("blobs/sha256/{}", digest.hex()),
            blob,
        )?;
    }
    builder
        .into_inner()
        .and_then(|mut out| out.flush())
        .map_err(|e| ImageError::io(Path::new("archive"), e))?;

    Ok(ArchiveSummary {
        manifest_digest,
        config_digest,
        layer_digests: layers.iter().map(|l| l.digest.clone()).collect(),
        diff_ids: layers.iter().map(|l| l.diff_id.clone()).collect(),
    })
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(ENTRY_MTIME);
    header.set_size(size);
    header
}

fn append_file<W: Write>(
    builder: &mut tar::Builder<W>,
    path: &str,
    data: &[u8],
) -> Result<(), ImageError> {
    let mut header = header(tar::EntryType::Regular, 0o644, data.len() as u64);
    builder
        .append_data(&mut header, path, data)
        .map_err(|e| ImageError::io(Path::new(path), e))
}

fn append_dir<W: Write>(builder: &mut tar::Builder<W>, path: &str) -> Result<(), ImageError> {
    let mut header = header(tar::EntryType::Directory, 0o755, 0);
    builder
        .append_data(&mut header, path, std::io::empty())
        .map_err(|e| ImageError::io(Path::new(path), e))
}

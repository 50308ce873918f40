//! Images without a registry: OCI image archives built from a directory or a
//! static binary, imported into containerd's `k8s.io` namespace.
//!
//! An image is one layer of the given contents, optionally over a base layer
//! of Debian's static busybox. The same inputs give the same bytes, so the
//! same manifest digest: building again on every test run re-imports nothing
//! new.
//!
//! - [`reference`]: names normalized as containerd's CRI plugin does;
//! - [`layer`]: deterministic gzip tar layers from file trees;
//! - [`busybox`]: the busybox base layer;
//! - [`oci`]: config, manifest, index and the archive around them;
//! - [`import`](mod@import): `ctr images import`.

pub mod busybox;
pub mod digest;
pub mod import;
pub mod layer;
pub mod oci;
pub mod reference;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

pub use self::digest::Digest;
pub use self::import::{import, CONTAINERD_NAMESPACE, DEFAULT_CONTAINERD_ADDRESS};
pub use self::oci::ArchiveSummary;
pub use self::reference::{ImageReference, ReferenceError};

use self::layer::LayerTree;
use self::oci::{ContainerConfig, EmptyObject};

/// Where a static binary goes in its image: `/app/<file name>`.
pub const BINARY_DIR: &str = "/app";

/// `PATH` of an image that sets none, as container images conventionally
/// carry it (the CRI passes the image's `Env` to the process as is).
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Why an image could not be built or imported.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The name is not a valid image reference.
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    /// Reading an input or writing the archive failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// `--dir` names something that is not a directory.
    #[error("{}: not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// A device, socket or FIFO in the input tree.
    #[error("{}: only regular files, directories and symbolic links can go into a layer", .0.display())]
    UnsupportedFile(PathBuf),
    /// A file name that is not UTF-8 (tar paths here are UTF-8).
    #[error("{}: the name is not UTF-8", .0.display())]
    NonUtf8Path(PathBuf),
    /// A path that does not name a file inside the image.
    #[error("{0:?} is not a path inside the image")]
    InvalidPath(String),
    /// The busybox binary did not behave as one.
    #[error("busybox {}: {message}", path.display())]
    Busybox {
        /// The binary.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The spec contradicts itself or has a malformed field.
    #[error("invalid image spec: {0}")]
    InvalidSpec(String),
    /// Image metadata could not be serialized.
    #[error("cannot encode image metadata: {0}")]
    Encode(String),
    /// No socket at the containerd address.
    #[error("no containerd socket at {}: is containerd running (scripts/containerd.sh start)?", .0.display())]
    ContainerdUnreachable(PathBuf),
    /// `ctr` is not installed.
    #[error("ctr is not on PATH: install containerd, which ships it")]
    CtrMissing,
    /// `ctr images import` failed.
    #[error("ctr images import {} failed ({status}): {stderr}", archive.display())]
    ImportFailed {
        /// The archive.
        archive: PathBuf,
        /// ctr's exit status.
        status: String,
        /// What ctr printed on stderr.
        stderr: String,
    },
}

impl ImageError {
    fn io(path: &Path, source: io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// What goes into the image's own layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contents {
    /// A host directory that becomes the image's root.
    Directory(PathBuf),
    /// A statically linked executable, placed at `/app/<file name>` and made
    /// the entrypoint unless one is given.
    StaticBinary(PathBuf),
}

/// Everything an image is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSpec {
    /// The name to import under (`api-server:1.2.0`), normalized on build.
    pub reference: String,
    /// The image's own layer; may be absent when `busybox` is set.
    pub contents: Option<Contents>,
    /// A busybox binary to lay under the contents as a base layer.
    pub busybox: Option<PathBuf>,
    /// The config's `Entrypoint`.
    pub entrypoint: Vec<String>,
    /// The config's `Cmd`.
    pub cmd: Vec<String>,
    /// `KEY=value` pairs for the config's `Env`; [`DEFAULT_PATH`] is added
    /// when no `PATH` is given.
    pub env: Vec<String>,
    /// The config's `WorkingDir`; by default `/app` for a binary, `/`
    /// otherwise.
    pub working_dir: Option<String>,
    /// Ports the app listens on (`8080` or `8080/tcp`), as `ExposedPorts`.
    pub exposed_ports: Vec<String>,
    /// The OCI architecture name (`amd64`) the binaries are built for.
    pub architecture: String,
}

impl ImageSpec {
    /// A spec for `reference` with nothing in it yet, for this host's
    /// architecture.
    pub fn new(reference: impl Into<String>) -> Self {
        Self {
            reference: reference.into(),
            contents: None,
            busybox: None,
            entrypoint: Vec::new(),
            cmd: Vec::new(),
            env: Vec::new(),
            working_dir: None,
            exposed_ports: Vec::new(),
            architecture: host_architecture().to_owned(),
        }
    }
}

/// An image written as an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltImage {
    /// The normalized name containerd will list it under.
    pub reference: ImageReference,
    /// The digests in the archive.
    pub summary: ArchiveSummary,
}

/// The OCI (Go) architecture name of this host, which the binaries put in
/// an image are built for.
pub fn host_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// Builds the image `spec` describes and writes its archive to `out`.
pub fn build(spec: &ImageSpec, out: impl Write) -> Result<BuiltImage, ImageError> {
    let reference = ImageReference::parse(&spec.reference)?;
    if spec.contents.is_none() && spec.busybox.is_none() {
        return Err(ImageError::InvalidSpec(
            "nothing to put in the image: give a directory, a binary or busybox".to_owned(),
        ));
    }
    let config = container_config(spec)?;

    let mut layers = Vec::new();
    if let Some(busybox_path) = &spec.busybox {
        let applets = busybox::applets(busybox_path)?;
        layers.push(busybox::base_tree(busybox_path, &applets)?.write()?);
    }
    if let Some(contents) = &spec.contents {
        let mut tree = LayerTree::new();
        match contents {
            Contents::Directory(dir) => tree.add_host_tree(dir)?,
            Contents::StaticBinary(binary) => {
                tree.add_host_file(&binary_image_path(binary)?, 0o755, binary)?
            }
        }
        if tree.is_empty() {
            return Err(ImageError::InvalidSpec(
                "the contents directory is empty".to_owned(),
            ));
        }
        layers.push(tree.write()?);
    }

    let summary = oci::write_archive(out, &reference, &spec.architecture, &config, &layers)?;
    Ok(BuiltImage { reference, summary })
}

/// Builds the image and writes its archive to `path`, replacing it only once
/// complete so a failed build leaves no half archive behind.
pub fn build_to_file(spec: &ImageSpec, path: &Path) -> Result<BuiltImage, ImageError> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let file = File::create(&partial).map_err(|e| ImageError::io(&partial, e))?;
    let result = build(spec, BufWriter::new(file)).and_then(|built| {
        std::fs::rename(&partial, path)
            .map(|()| built)
            .map_err(|e| ImageError::io(path, e))
    });
    if result.is_err() {
        // Best effort: the build error is the one worth reporting.
        let _ = std::fs::remove_file(&partial);
    }
    result
}

/// `/app/<file name>` of a binary.
fn binary_image_path(binary: &Path) -> Result<String, ImageError> {
    let name = binary
        .file_name()
        .ok_or_else(|| ImageError::InvalidSpec(format!("{} names no file", binary.display())))?
        .to_str()
        .ok_or_else(|| ImageError::NonUtf8Path(binary.to_path_buf()))?;
    Ok(format!("{BINARY_DIR}/{name}"))
}

/// The config's runtime defaults, with inputs checked.
fn container_config(spec: &ImageSpec) -> Result<ContainerConfig, ImageError> {
    for pair in &spec.env {
        match pair.split_once('=') {
            Some((key, _)) if !key.is_empty() => {}
            _ => {
                return Err(ImageError::InvalidSpec(format!(
                    "environment entry {pair:?} is not KEY=value"
                )))
            }
        }
    }
    let mut env = Vec::with_capacity(spec.env.len() + 1);
    if !spec.env.iter().any(|pair| pair.starts_with("PATH=")) {
        env.push(DEFAULT_PATH.to_owned());
    }
    env.extend(spec.env.iter().cloned());

    let entrypoint = match (&spec.contents, spec.entrypoint.is_empty()) {
        (Some(Contents::StaticBinary(binary)), true) => vec![binary_image_path(binary)?],
        _ => spec.entrypoint.clone(),
    };
    let working_dir = match (&spec.working_dir, &spec.contents) {
        (Some(dir), _) => dir.clone(),
        (None, Some(Contents::StaticBinary(_))) => BINARY_DIR.to_owned(),
        (None, _) => "/".to_owned(),
    };
    if !working_dir.starts_with('/') {
        return Err(ImageError::InvalidSpec(format!(
            "working directory {working_dir:?} is not absolute"
        )));
    }

    let mut exposed_ports = BTreeMap::new();
    for port in &spec.exposed_ports {
        exposed_ports.insert(exposed_port(port)?, EmptyObject {});
    }
    Ok(ContainerConfig {
        entrypoint,
        cmd: spec.cmd.clone(),
        env,
        working_dir,
        exposed_ports,
    })
}

/// `8080` or `8080/TCP` as the config's `8080/tcp` key.
fn exposed_port(port: &str) -> Result<String, ImageError> {
    let (number, protocol) = port.split_once('/').unwrap_or((port, "tcp"));
    let protocol = protocol.to_ascii_lowercase();
    let valid_number = number.parse::<u16>().is_ok_and(|n| n != 0);
    if !valid_number || !matches!(protocol.as_str(), "tcp" | "udp" | "sctp") {
        return Err(ImageError::InvalidSpec(format!(
            "exposed port {port:?} is not PORT[/tcp|udp|sctp]"
        )));
    }
    Ok(format!("{number}/{protocol}"))
}

#[cfg(test)]
mod tests;

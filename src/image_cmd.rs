//! `berth image build`: an OCI image archive from a directory or a static
//! binary, optionally imported into containerd, so pods need no registry.

use std::path::PathBuf;

use anyhow::{Context, Result};
use berth_agent::image::{self, Contents, ImageSpec};
use clap::{Args, Subcommand};

/// `berth image ...`
#[derive(Args)]
pub struct ImageArgs {
    #[command(subcommand)]
    command: ImageCommand,
}

#[derive(Subcommand)]
enum ImageCommand {
    /// Build an image archive; with --import, load it into containerd.
    Build(BuildArgs),
}

#[derive(Args)]
#[command(group(
    clap::ArgGroup::new("contents")
        .args(["dir", "binary", "busybox"])
        .required(true)
        .multiple(true)
))]
struct BuildArgs {
    /// Image name, as pods will name it (`api-server:1.2.0`).
    #[arg(long)]
    tag: String,
    /// A directory that becomes the image's root filesystem.
    #[arg(long, conflicts_with = "binary")]
    dir: Option<PathBuf>,
    /// A static binary, placed at /app/<name> and made the entrypoint.
    #[arg(long)]
    binary: Option<PathBuf>,
    /// Lay the contents over a base layer of static busybox (/bin/sh and
    /// its applets), for `kubectl exec` and exec probes.
    #[arg(long)]
    busybox: bool,
    /// The busybox binary to use with --busybox.
    #[arg(long, default_value = image::busybox::DEFAULT_BUSYBOX)]
    busybox_binary: PathBuf,
    /// Entrypoint, one argument per flag (default: the binary).
    #[arg(long = "entrypoint", value_name = "ARG", allow_hyphen_values = true)]
    entrypoint: Vec<String>,
    /// Default arguments (the image's Cmd), one per flag.
    #[arg(long = "cmd", value_name = "ARG", allow_hyphen_values = true)]
    cmd: Vec<String>,
    /// Environment variable of the image, KEY=value; repeatable.
    #[arg(long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// Working directory (default: /app for a binary, / otherwise).
    #[arg(long)]
    workdir: Option<String>,
    /// Port the app listens on (8080 or 8080/tcp); repeatable.
    #[arg(long = "expose", value_name = "PORT[/PROTO]")]
    expose: Vec<String>,
    /// Where to write the archive (default: a temporary file when importing,
    /// otherwise <name>-<tag>.oci.tar in the current directory).
    #[arg(long)]
    output: Option<PathBuf>,
    /// Import the archive into containerd's k8s.io namespace with ctr.
    #[arg(long)]
    import: bool,
    /// containerd's socket for --import.
    #[arg(long, default_value = image::DEFAULT_CONTAINERD_ADDRESS)]
    containerd_address: PathBuf,
}

/// Runs `berth image ...`.
pub async fn run(args: ImageArgs) -> Result<()> {
    match args.command {
        ImageCommand::Build(build) => run_build(build).await,
    }
}

async fn run_build(args: BuildArgs) -> Result<()> {
    let mut spec = ImageSpec::new(args.tag.clone());
    spec.contents = match (args.dir, args.binary) {
        (Some(dir), _) => Some(Contents::Directory(dir)),
        (None, Some(binary)) => Some(Contents::StaticBinary(binary)),
        (None, None) => None,
    };
    spec.busybox = args.busybox.then_some(args.busybox_binary);
    spec.entrypoint = args.entrypoint;
    spec.cmd = args.cmd;
    spec.env = args.env;
    spec.working_dir = args.workdir;
    spec.exposed_ports = args.expose;

    // Without --output, an import needs the archive only until ctr has read
    // it; the directory is removed when `_scratch` drops.
    let (path, _scratch) = match args.output {
        Some(path) => (path, None),
        None if args.import => {
            let dir = tempfile::tempdir().context("creating a scratch directory")?;
            (dir.path().join("image.oci.tar"), Some(dir))
        }
        None => (PathBuf::from(default_file_name(&args.tag)), None),
    };
    let built = {
        let path = path.clone();
        tokio::task::spawn_blocking(move || image::build_to_file(&spec, &path))
            .await
            .context("image build task")?
            .with_context(|| format!("building {}", args.tag))?
    };
    eprintln!(
        "built {} (manifest {}) in {}",
        built.reference,
        built.summary.manifest_digest,
        path.display()
    );
    if args.import {
        image::import(&args.containerd_address, &path)
            .await
            .with_context(|| format!("importing {}", built.reference))?;
        eprintln!(
            "imported {} into containerd at {}",
            built.reference,
            args.containerd_address.display()
        );
    }
    println!("{}", built.reference);
    Ok(())
}

/// `api-server:1.2.0` → `api-server-1.2.0.oci.tar`.
fn default_file_name(tag: &str) -> String {
    let name: String = tag
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{name}.oci.tar")
}

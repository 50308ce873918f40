//! One image layer: a file tree written as a gzip-compressed tar, the same
//! bytes for the same inputs.
//!
//! Determinism is what lets `berth image build` run on every test run
//! without growing containerd's content store: entries are written in path
//! order, owned by root, with a fixed mtime and no host user names, and gzip's
//! header carries no timestamp or file name.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use flate2::write::GzEncoder;
use flate2::{Compression, GzBuilder};

use super::digest::{Digest, DigestingWriter};
use super::ImageError;

/// The mtime of every entry (the Unix epoch), so a layer's digest depends on
/// contents alone.
pub const ENTRY_MTIME: u64 = 0;

/// What one path in the tree is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Directory { mode: u32 },
    File { mode: u32, source: FileSource },
    Symlink { target: String },
}

/// Where a regular file's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum FileSource {
    /// Read from the host when the layer is written.
    Host(PathBuf),
    /// Given in memory (small generated files such as `/etc/passwd`).
    Bytes(Vec<u8>),
}

/// A layer's file tree before it is written. Paths are relative to the image
/// root; adding a path again replaces the earlier entry, as a later `COPY`
/// does in a Dockerfile.
#[derive(Debug, Clone, Default)]
pub struct LayerTree {
    entries: BTreeMap<String, Entry>,
}

/// A written layer: the compressed blob and the two digests an image names
/// it by.
#[derive(Debug, Clone)]
pub struct Layer {
    /// The gzip-compressed tar, as stored under `blobs/sha256/`.
    pub blob: Vec<u8>,
    /// Digest of `blob`: the manifest's layer descriptor.
    pub digest: Digest,
    /// Digest of the uncompressed tar: the config's `rootfs.diff_ids` entry,
    /// which containerd checks when it unpacks the layer.
    pub diff_id: Digest,
}

impl LayerTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds a directory with permission bits `mode` (and its parents).
    pub fn add_directory(&mut self, path: &str, mode: u32) -> Result<(), ImageError> {
        let path = self.prepare(path)?;
        self.entries.insert(path, Entry::Directory { mode });
        Ok(())
    }

    /// Adds a regular file whose bytes are read from `source` on the host
    /// when the layer is written.
    pub fn add_host_file(
        &mut self,
        path: &str,
        mode: u32,
        source: impl Into<PathBuf>,
    ) -> Result<(), ImageError> {
        let path = self.prepare(path)?;
        let source = FileSource::Host(source.into());
        self.entries.insert(path, Entry::File { mode, source });
        Ok(())
    }

    /// Adds a regular file with the given contents.
    pub fn add_bytes(&mut self, path: &str, mode: u32, bytes: Vec<u8>) -> Result<(), ImageError> {
        let path = self.prepare(path)?;
        let source = FileSource::Bytes(bytes);
        self.entries.insert(path, Entry::File { mode, source });
        Ok(())
    }

    /// Adds a symbolic link to `target` (stored as given: absolute targets
    /// resolve inside the container's root).
    pub fn add_symlink(&mut self, path: &str, target: &str) -> Result<(), ImageError> {
        let path = self.prepare(path)?;
        let target = target.to_owned();
        self.entries.insert(path, Entry::Symlink { target });
        Ok(())
    }

    /// Adds everything under the host directory `root` at the image root,
    /// keeping permission bits and symbolic links. Device files, sockets and
    /// FIFOs are refused: an unprivileged layer cannot carry them faithfully.
    pub fn add_host_tree(&mut self, root: &Path) -> Result<(), ImageError> {
        let metadata = std::fs::metadata(root).map_err(|e| ImageError::io(root, e))?;
        if !metadata.is_dir() {
            return Err(ImageError::NotADirectory(root.to_path_buf()));
        }
        self.add_host_children(root, "")
    }

    fn add_host_children(&mut self, dir: &Path, prefix: &str) -> Result<(), ImageError> {
        let read = std::fs::read_dir(dir).map_err(|e| ImageError::io(dir, e))?;
        for item in read {
            let item = item.map_err(|e| ImageError::io(dir, e))?;
            let host = item.path();
            let name = item
                .file_name()
                .into_string()
                .map_err(|_| ImageError::NonUtf8Path(host.clone()))?;
            let path = format!("{prefix}{name}");
            let metadata =
                std::fs::symlink_metadata(&host).map_err(|e| ImageError::io(&host, e))?;
            let mode = metadata.permissions().mode() & 0o7777;
            let kind = metadata.file_type();
            if kind.is_symlink() {
                let target = std::fs::read_link(&host).map_err(|e| ImageError::io(&host, e))?;
                let target = target
                    .into_os_string()
                    .into_string()
                    .map_err(|_| ImageError::NonUtf8Path(host.clone()))?;
                self.add_symlink(&path, &target)?;
            } else if kind.is_dir() {
                self.add_directory(&path, mode)?;
                self.add_host_children(&host, &format!("{path}/"))?;
            } else if kind.is_file() {
                self.add_host_file(&path, mode, host)?;
            } else {
                return Err(ImageError::UnsupportedFile(host));
            }
        }
        Ok(())
    }

    /// Cleans `path` and adds the directories above it that are missing.
    fn prepare(&mut self, path: &str) -> Result<String, ImageError> {
        let clean = clean_path(path)?;
        let mut parent = String::new();
        let components: Vec<&str> = clean.split('/').collect();
        for component in &components[..components.len() - 1] {
            if !parent.is_empty() {
                parent.push('/');
            }
            parent.push_str(component);
            self.entries
                .entry(parent.clone())
                .or_insert(Entry::Directory { mode: 0o755 });
        }
        Ok(clean)
    }

    /// Writes the tree as a gzip-compressed tar and digests it.
    pub fn write(&self) -> Result<Layer, ImageError> {
        // The tar stream is digested on its way into gzip: the uncompressed
        // layer is never held whole.
        let gzip = GzBuilder::new()
            .mtime(0)
            .write(Vec::new(), Compression::default());
        let mut builder = tar::Builder::new(DigestingWriter::new(gzip));
        for (path, entry) in &self.entries {
            append(&mut builder, path, entry)?;
        }
        let tar_stream = builder
            .into_inner()
            .map_err(|e| ImageError::io(Path::new("layer"), e))?;
        let (gzip, diff_id, _) = tar_stream.finish();
        let blob = finish_gzip(gzip)?;
        let digest = Digest::of(&blob);
        Ok(Layer {
            blob,
            digest,
            diff_id,
        })
    }
}

fn finish_gzip(gzip: GzEncoder<Vec<u8>>) -> Result<Vec<u8>, ImageError> {
    gzip.finish()
        .map_err(|e| ImageError::io(Path::new("layer"), e))
}

/// Appends one entry with the fixed ownership and mtime.
fn append<W: Write>(
    builder: &mut tar::Builder<W>,
    path: &str,
    entry: &Entry,
) -> Result<(), ImageError> {
    let mut header = tar::Header::new_gnu();
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(ENTRY_MTIME);
    let context = |e| ImageError::io(Path::new(path), e);
    match entry {
        Entry::Directory { mode } => {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(*mode);
            header.set_size(0);
            builder
                .append_data(&mut header, path, io::empty())
                .map_err(context)
        }
        Entry::Symlink { target } => {
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_mode(0o777);
            header.set_size(0);
            builder
                .append_link(&mut header, path, target)
                .map_err(context)
        }
        Entry::File { mode, source } => {
            header.set_entry_type(tar::EntryType::Regular);
            header.set_mode(*mode);
            match source {
                FileSource::Bytes(bytes) => {
                    header.set_size(bytes.len() as u64);
                    builder
                        .append_data(&mut header, path, bytes.as_slice())
                        .map_err(context)
                }
                FileSource::Host(host) => {
                    let file = File::open(host).map_err(|e| ImageError::io(host, e))?;
                    let len = file.metadata().map_err(|e| ImageError::io(host, e))?.len();
                    header.set_size(len);
                    builder
                        .append_data(&mut header, path, ExactReader::new(file, len))
                        .map_err(|e| ImageError::io(host, e))
                }
            }
        }
    }
}

/// Reads exactly `len` bytes and fails if the source ends sooner: a tar
/// header states the size before the data, so a file that shrank while it
/// was read would otherwise corrupt every entry after it.
struct ExactReader<R> {
    inner: io::Take<R>,
}

impl<R: Read> ExactReader<R> {
    fn new(inner: R, len: u64) -> Self {
        Self {
            inner: inner.take(len),
        }
    }
}

impl<R: Read> Read for ExactReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() && self.inner.limit() > 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file shrank while it was being archived",
            ));
        }
        Ok(n)
    }
}

/// `path` relative to the image root, without `.` components; `..`, empty
/// paths and the root itself are refused.
fn clean_path(path: &str) -> Result<String, ImageError> {
    let mut parts = Vec::new();
    for component in Path::new(path).components() {
        match component {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(part) => match part.to_str() {
                Some(part) => parts.push(part),
                None => return Err(ImageError::NonUtf8Path(PathBuf::from(path))),
            },
            Component::ParentDir | Component::Prefix(_) => {
                return Err(ImageError::InvalidPath(path.to_owned()))
            }
        }
    }
    if parts.is_empty() {
        return Err(ImageError::InvalidPath(path.to_owned()));
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::GzDecoder;

    /// (path, type, mode, mtime, uid, link target, contents) of every entry.
    type Listed = (
        String,
        tar::EntryType,
        u32,
        u64,
        u64,
        Option<String>,
        Vec<u8>,
    );

    fn list(layer: &Layer) -> Vec<Listed> {
        let mut archive = tar::Archive::new(GzDecoder::new(layer.blob.as_slice()));
        let mut out = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let header = entry.header().clone();
            let link = entry
                .link_name()
                .unwrap()
                .map(|l| l.to_string_lossy().into_owned());
            let path = entry.path().unwrap().to_string_lossy().into_owned();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            out.push((
                path,
                header.entry_type(),
                header.mode().unwrap(),
                header.mtime().unwrap(),
                header.uid().unwrap(),
                link,
                data,
            ));
        }
        out
    }

    #[test]
    fn entries_are_sorted_with_parents_first_and_fixed_metadata() {
        let mut tree = LayerTree::new();
        tree.add_bytes("/usr/bin/tool", 0o755, b"#!x".to_vec())
            .unwrap();
        tree.add_symlink("bin/sh", "/bin/busybox").unwrap();
        tree.add_directory("tmp", 0o1777).unwrap();
        let listed = list(&tree.write().unwrap());
        let paths: Vec<&str> = listed.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            paths,
            ["bin", "bin/sh", "tmp", "usr", "usr/bin", "usr/bin/tool"]
        );
        assert!(listed.iter().all(|e| e.3 == ENTRY_MTIME && e.4 == 0));
        assert_eq!(listed[1].1, tar::EntryType::Symlink);
        assert_eq!(listed[1].5.as_deref(), Some("/bin/busybox"));
        assert_eq!(listed[2].2, 0o1777);
        assert_eq!(listed[5].2, 0o755);
        assert_eq!(listed[5].6, b"#!x");
    }

    #[test]
    fn diff_id_is_the_digest_of_the_uncompressed_tar() {
        let mut tree = LayerTree::new();
        tree.add_bytes("etc/motd", 0o644, b"hello\n".to_vec())
            .unwrap();
        let layer = tree.write().unwrap();
        let mut tar_bytes = Vec::new();
        GzDecoder::new(layer.blob.as_slice())
            .read_to_end(&mut tar_bytes)
            .unwrap();
        assert_eq!(layer.diff_id, Digest::of(&tar_bytes));
        assert_eq!(layer.digest, Digest::of(&layer.blob));
        assert_ne!(layer.digest, layer.diff_id);
    }

    #[test]
    fn host_tree_keeps_modes_links_and_contents() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("app/static")).unwrap();
        std::fs::write(root.join("app/run"), b"bin").unwrap();
        std::fs::set_permissions(root.join("app/run"), std::fs::Permissions::from_mode(0o750))
            .unwrap();
        std::fs::write(root.join("app/static/index.html"), b"<p>").unwrap();
        std::os::unix::fs::symlink("run", root.join("app/start")).unwrap();
        let mut tree = LayerTree::new();
        tree.add_host_tree(root).unwrap();
        let listed = list(&tree.write().unwrap());
        let summary: Vec<(&str, u32)> = listed.iter().map(|e| (e.0.as_str(), e.2)).collect();
        assert_eq!(summary[0].0, "app");
        assert!(summary.contains(&("app/run", 0o750)));
        let start = listed.iter().find(|e| e.0 == "app/start").unwrap();
        assert_eq!(start.5.as_deref(), Some("run"));
        let index = listed
            .iter()
            .find(|e| e.0 == "app/static/index.html")
            .unwrap();
        assert_eq!(index.6, b"<p>");
    }

    #[test]
    fn same_tree_gives_the_same_digest_whatever_the_host_mtimes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), b"1").unwrap();
        let mut tree = LayerTree::new();
        tree.add_host_tree(dir.path()).unwrap();
        let first = tree.write().unwrap();
        // Rewrite with the same contents: a new mtime on the host.
        std::fs::write(dir.path().join("a"), b"1").unwrap();
        let file = File::options()
            .write(true)
            .open(dir.path().join("a"))
            .unwrap();
        file.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(60))
            .unwrap();
        let second = tree.write().unwrap();
        assert_eq!(first.digest, second.digest);
        assert_eq!(first.blob, second.blob);
    }

    #[test]
    fn special_files_and_escaping_paths_are_refused() {
        let mut tree = LayerTree::new();
        assert!(matches!(
            tree.add_bytes("../etc/passwd", 0o644, Vec::new()),
            Err(ImageError::InvalidPath(_))
        ));
        assert!(matches!(
            tree.add_directory("/", 0o755),
            Err(ImageError::InvalidPath(_))
        ));
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let status = std::process::Command::new("mkfifo").arg(&fifo).status();
        if status.is_ok_and(|s| s.success()) {
            assert!(matches!(
                LayerTree::new().add_host_tree(dir.path()),
                Err(ImageError::UnsupportedFile(_))
            ));
        }
    }

    #[test]
    fn a_file_that_shrinks_is_an_error_not_a_corrupt_layer() {
        let mut reader = ExactReader::new(&b"abc"[..], 5);
        let mut out = Vec::new();
        assert!(reader.read_to_end(&mut out).is_err());
        let mut reader = ExactReader::new(&b"abcdef"[..], 5);
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"abcde");
    }
}

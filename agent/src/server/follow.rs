//! Reading a container's log file as a stream of output: what is written,
//! and with `follow`, what gets written after, until the container stops.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use tokio::fs::File;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::watch;

use super::logs::{Formatter, LogOptions, Splitter, TailScan};
use super::LogSource;

/// How often a follower looks for new output at the end of the file.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// How much of the file one read takes, and so the largest body chunk
/// (plus the timestamps and the record that straddles reads).
const READ_BYTES: usize = 64 * 1024;

/// The container whose log is read, to ask its [`LogSource`] whether it
/// still runs.
pub struct Container {
    /// Answers whether the instance still runs.
    pub source: Arc<dyn LogSource>,
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's name.
    pub pod: String,
    /// The container's name.
    pub container: String,
    /// Whether the instance ran when the request came.
    pub running: bool,
}

/// A log being read.
struct Reader {
    /// `None` while the runtime has not created the file yet.
    file: Option<File>,
    path: PathBuf,
    /// Device and inode of `file`, to tell a file put in its place.
    identity: Option<(u64, u64)>,
    splitter: Splitter,
    formatter: Formatter,
    options: LogOptions,
    container: Container,
    shutdown: watch::Receiver<bool>,
    /// Reused for every read.
    buf: Vec<u8>,
    /// The container has stopped (or the file was replaced): read what is
    /// left, then end.
    draining: bool,
    done: bool,
}

/// The output of the log at `path` under `options`, as body chunks.
/// With `tailLines`, the file is scanned once first to find where the last
/// lines begin.
pub async fn stream(
    path: PathBuf,
    options: LogOptions,
    container: Container,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<impl Stream<Item = std::io::Result<Vec<u8>>> + Send + 'static> {
    let container_running = container.running;
    let mut reader = Reader {
        file: None,
        path,
        identity: None,
        splitter: Splitter::new(0),
        formatter: Formatter::new(&options),
        options,
        container,
        shutdown,
        buf: vec![0; READ_BYTES],
        // A stopped instance's log is complete: no wait at its end.
        draining: !container_running,
        done: false,
    };
    reader.open(reader.options.tail_lines).await?;
    Ok(futures::stream::unfold(reader, |mut reader| async move {
        match reader.next().await {
            Ok(Some(chunk)) => Some((Ok(chunk), reader)),
            Ok(None) => None,
            Err(e) => {
                reader.done = true;
                Some((Err(e), reader))
            }
        }
    }))
}

impl Reader {
    /// Opens the file if it exists, at the start of what is to be shown:
    /// the start of its last `tail` lines, or its start.
    async fn open(&mut self, tail: Option<u64>) -> std::io::Result<()> {
        let mut file = match File::open(&self.path).await {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let metadata = file.metadata().await?;
        self.identity = Some((metadata.dev(), metadata.ino()));
        if let Some(n) = tail {
            let start = tail_start(&mut file, n).await?;
            file.seek(std::io::SeekFrom::Start(start)).await?;
            self.splitter = Splitter::new(start);
        }
        self.file = Some(file);
        Ok(())
    }

    /// The next non-empty chunk of output, or `None` at the end.
    async fn next(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        loop {
            if self.done {
                return Ok(None);
            }
            let read = match &mut self.file {
                Some(file) => file.read(&mut self.buf).await?,
                None => 0,
            };
            let mut out = Vec::new();
            if read > 0 {
                let formatter = &mut self.formatter;
                self.splitter
                    .feed(&self.buf[..read], |_, line| formatter.push(line, &mut out));
            } else if !self.options.follow || self.draining {
                // An unterminated last record of a running container is
                // still being written; of a stopped one, it is all there is.
                if self.draining || !self.container.running {
                    let formatter = &mut self.formatter;
                    self.splitter
                        .finish(|_, line| formatter.push(line, &mut out));
                }
                self.done = true;
            } else {
                self.wait().await?;
            }
            if self.formatter.exhausted() {
                self.done = true;
            }
            if !out.is_empty() {
                return Ok(Some(out));
            }
        }
    }

    /// At the end of the file while following: waits a poll interval, then
    /// decides whether more can come.
    async fn wait(&mut self) -> std::io::Result<()> {
        let stopping = tokio::select! {
            _ = tokio::time::sleep(POLL_INTERVAL) => false,
            // Shutting down waits for open responses, so a follower ends.
            _ = stopping(&mut self.shutdown) => true,
        };
        if stopping {
            self.done = true;
            return Ok(());
        }
        if self.file.is_none() {
            self.open(None).await?;
        }
        let c = &self.container;
        let current = c
            .source
            .container_log(&c.namespace, &c.pod, &c.container, self.options.previous)
            .await;
        let same_instance = current.is_ok_and(|log| log.running && log.path == self.path);
        // The read after this check sees everything the container wrote
        // before it stopped: only after that does the stream end.
        if !same_instance || !self.same_file().await {
            self.draining = true;
        }
        Ok(())
    }

    /// Whether the path still names the file being read, not one a restart
    /// or a rotation put in its place.
    async fn same_file(&self) -> bool {
        let Some(identity) = self.identity else {
            return true;
        };
        match tokio::fs::metadata(&self.path).await {
            Ok(m) => (m.dev(), m.ino()) == identity,
            Err(_) => false,
        }
    }
}

/// Resolves once the server is shutting down (or gone).
async fn stopping(shutdown: &mut watch::Receiver<bool>) {
    while !*shutdown.borrow_and_update() {
        if shutdown.changed().await.is_err() {
            return;
        }
    }
}

/// The offset the last `n` lines of `file` begin at, reading it from the
/// start.
async fn tail_start(file: &mut File, n: u64) -> std::io::Result<u64> {
    let mut scan = TailScan::new(n);
    let mut splitter = Splitter::new(0);
    let mut buf = vec![0; READ_BYTES];
    loop {
        let read = file.read(&mut buf).await?;
        if read == 0 {
            break;
        }
        splitter.feed(&buf[..read], |offset, line| scan.record(offset, line));
    }
    // A last record still being written is left to the reader: it starts
    // a line only once complete, and the scan counts complete records.
    Ok(scan.start())
}

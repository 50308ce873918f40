//! Container output written in the CRI log format the kubelet reads
//! (`kubectl logs`): one record per line,
//! `<RFC3339Nano time> <stdout|stderr> <F|P> <content>`, where `F` ends a line
//! and `P` is a partial record of a line too long for one buffer.

use std::path::Path;
use std::sync::Arc;

use tokio::fs::{File, OpenOptions};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::Mutex;

/// The longest record content; a longer line is cut into `P` records, as
/// containerd cuts at its 16 KiB buffer.
pub const MAX_RECORD: usize = 16 * 1024;

/// Which output a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl Stream {
    fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// A container's log file, shared by the pumps of its stdout and stderr.
#[derive(Debug, Clone)]
pub struct LogFile {
    file: Arc<Mutex<File>>,
}

impl LogFile {
    /// Opens (creating it and its directory) the log file for appending, so a
    /// restarted container's records follow the earlier ones.
    pub async fn open(path: &Path) -> std::io::Result<Self> {
        if let Some(parent) = path.parent() {
            if !parent.as_os_str().is_empty() {
                tokio::fs::create_dir_all(parent).await?;
            }
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .await?;
        Ok(Self {
            file: Arc::new(Mutex::new(file)),
        })
    }

    /// Copies `output` into the file record by record until it ends.
    pub async fn pump(self, stream: Stream, output: impl AsyncRead + Unpin) -> std::io::Result<()> {
        let mut reader = BufReader::new(output);
        let mut line = Vec::with_capacity(256);
        loop {
            line.clear();
            let read = (&mut reader)
                .take(MAX_RECORD as u64)
                .read_until(b'\n', &mut line)
                .await?;
            if read == 0 {
                return Ok(());
            }
            let (content, tag) = match line.strip_suffix(b"\n") {
                Some(content) => (content, "F"),
                None if line.len() >= MAX_RECORD => (line.as_slice(), "P"),
                // The output ended without a newline: the line is complete.
                None => (line.as_slice(), "F"),
            };
            self.write(stream, tag, content).await?;
        }
    }

    async fn write(&self, stream: Stream, tag: &str, content: &[u8]) -> std::io::Result<()> {
        let mut record = Vec::with_capacity(content.len() + 48);
        record.extend_from_slice(timestamp().as_bytes());
        record.push(b' ');
        record.extend_from_slice(stream.as_str().as_bytes());
        record.push(b' ');
        record.extend_from_slice(tag.as_bytes());
        record.push(b' ');
        record.extend_from_slice(content);
        record.push(b'\n');
        // One write per record under the lock, so stdout and stderr records
        // never interleave inside a line.
        let mut file = self.file.lock().await;
        file.write_all(&record).await?;
        file.flush().await
    }
}

/// The current time as Go's RFC3339Nano renders it: UTC, `Z`, and up to nine
/// fractional digits with trailing zeros dropped.
fn timestamp() -> String {
    // jiff renders a Timestamp as RFC 3339 in UTC with the shortest exact
    // fraction, which is RFC3339Nano's shape.
    jiff::Timestamp::now().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> (String, String, String, String) {
        let mut parts = line.splitn(4, ' ');
        let mut next = || parts.next().unwrap_or_default().to_string();
        (next(), next(), next(), next())
    }

    #[tokio::test]
    async fn lines_become_full_records_with_a_parseable_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pod/app/0.log");
        let log = LogFile::open(&path).await.unwrap();
        log.clone()
            .pump(Stream::Stdout, &b"hello\nworld"[..])
            .await
            .unwrap();
        log.pump(Stream::Stderr, &b"oops\n"[..]).await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<_> = text.lines().map(parse).collect();
        assert_eq!(lines.len(), 3);
        let fields: Vec<_> = lines
            .iter()
            .map(|(_, s, t, c)| (s.as_str(), t.as_str(), c.as_str()))
            .collect();
        assert_eq!(
            fields,
            [
                ("stdout", "F", "hello"),
                ("stdout", "F", "world"),
                ("stderr", "F", "oops")
            ]
        );
        for (time, ..) in &lines {
            assert!(time.ends_with('Z'), "{time}");
            time.parse::<jiff::Timestamp>().unwrap();
        }
    }

    #[tokio::test]
    async fn long_lines_are_cut_into_partial_records() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        let mut output = vec![b'a'; MAX_RECORD + 10];
        output.push(b'\n');
        LogFile::open(&path)
            .await
            .unwrap()
            .pump(Stream::Stdout, output.as_slice())
            .await
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<_> = text.lines().map(parse).collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].2, "P");
        assert_eq!(lines[0].3.len(), MAX_RECORD);
        assert_eq!(lines[1].2, "F");
        assert_eq!(lines[1].3.len(), 10);
    }
}

//! The CRI log format and the options of `kubectl logs` over it.
//!
//! A runtime writes one record per line,
//! `<RFC3339Nano time> <stdout|stderr> <P|F> <content>`. A `P` (partial)
//! record is a piece of a line too long for the runtime's buffer; the pieces
//! join until an `F` record ends the line. Lines are what a reader sees, so
//! options that count or date output (`tailLines`, `sinceTime`) count and
//! date lines, and a line's time is that of its first record.

use std::collections::VecDeque;

use jiff::{SignedDuration, Timestamp};

/// A record longer than this without a newline is not something a runtime
/// writes (containerd cuts records at 16 KiB); it is skipped rather than
/// buffered without bound.
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;

/// What `GET /containerLogs/...` was asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// Keep streaming as the log grows, until the container stops.
    pub follow: bool,
    /// The previous (terminated) instance of the container.
    pub previous: bool,
    /// Only the last this many lines of what is already written.
    pub tail_lines: Option<u64>,
    /// Prefix each line with its time.
    pub timestamps: bool,
    /// Only lines at or after this time.
    pub since: Option<Timestamp>,
    /// Stop after this many bytes of output.
    pub limit_bytes: Option<u64>,
}

impl LogOptions {
    /// Reads the query string of a log request; `now` anchors `sinceSeconds`.
    /// Parameters it does not know are ignored, as Kubernetes' query decoding
    /// ignores them; a bad value is refused with a message for a 400.
    pub fn parse(query: &str, now: Timestamp) -> Result<LogOptions, String> {
        let mut options = LogOptions::default();
        let mut since_seconds = None;
        let mut since_time = None;
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            match name.as_ref() {
                "follow" => options.follow = parse_bool(&name, &value)?,
                "previous" => options.previous = parse_bool(&name, &value)?,
                "timestamps" => options.timestamps = parse_bool(&name, &value)?,
                "tailLines" => {
                    let n = parse_int(&name, &value)?;
                    options.tail_lines = Some(u64::try_from(n).map_err(|_| {
                        format!("tailLines: Invalid value: {n}: must be greater than or equal to 0")
                    })?);
                }
                "limitBytes" => {
                    options.limit_bytes = Some(positive(&name, parse_int(&name, &value)?)?);
                }
                "sinceSeconds" => since_seconds = Some(positive(&name, parse_int(&name, &value)?)?),
                "sinceTime" => {
                    let time = value.parse::<Timestamp>().map_err(|e| {
                        format!("sinceTime: Invalid value: {value:?}: not an RFC 3339 time: {e}")
                    })?;
                    since_time = Some(time);
                }
                _ => {}
            }
        }
        options.since = match (since_seconds, since_time) {
            (Some(_), Some(_)) => {
                return Err("at most one of sinceTime or sinceSeconds may be specified".into())
            }
            (Some(seconds), None) => {
                let seconds = i64::try_from(seconds).unwrap_or(i64::MAX);
                // A window reaching past the earliest representable time
                // covers the whole log.
                now.checked_sub(SignedDuration::from_secs(seconds)).ok()
            }
            (None, time) => time,
        };
        Ok(options)
    }
}

/// Go's `strconv.ParseBool` spellings, which Kubernetes' query decoding uses;
/// a parameter given without a value (`?follow`) means true.
fn parse_bool(name: &str, value: &str) -> Result<bool, String> {
    match value {
        "" | "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("{name}: Invalid value: {value:?}: not a boolean")),
    }
}

fn parse_int(name: &str, value: &str) -> Result<i64, String> {
    value
        .parse()
        .map_err(|_| format!("{name}: Invalid value: {value:?}: not an integer"))
}

fn positive(name: &str, n: i64) -> Result<u64, String> {
    u64::try_from(n)
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{name}: Invalid value: {n}: must be greater than 0"))
}

/// Which output a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// One record of a CRI log file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    /// When the runtime wrote it.
    pub time: Timestamp,
    /// The time as written, which is what `timestamps=true` shows.
    pub time_text: &'a [u8],
    /// Which output it came from.
    pub stream: Stream,
    /// Whether the line goes on in the next record (`P`).
    pub partial: bool,
    /// The text, without the newline.
    pub content: &'a [u8],
}

/// Parses one record (a line of the file without its newline); `None` if it
/// is not a well-formed record.
pub fn parse_record(line: &[u8]) -> Option<Record<'_>> {
    let (time_text, rest) = split_field(line)?;
    let time = std::str::from_utf8(time_text).ok()?.parse().ok()?;
    let (stream, rest) = split_field(rest)?;
    let stream = match stream {
        b"stdout" => Stream::Stdout,
        b"stderr" => Stream::Stderr,
        _ => return None,
    };
    // The tag field may carry further `:`-separated tags after the first;
    // only the first (partial or full) means anything yet. An empty line
    // may come without the space after its tag.
    let (tags, content) = split_field(rest).unwrap_or((rest, b""));
    let partial = match tags.split(|b| *b == b':').next()? {
        b"P" => true,
        b"F" => false,
        _ => return None,
    };
    Some(Record {
        time,
        time_text,
        stream,
        partial,
        content,
    })
}

/// The bytes before the first space and those after it.
fn split_field(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let space = bytes.iter().position(|b| *b == b' ')?;
    Some((&bytes[..space], &bytes[space + 1..]))
}

/// Cuts bytes read from a log file, in reads of any size, into records.
#[derive(Debug)]
pub struct Splitter {
    /// Bytes of a record not yet ended by a newline.
    pending: Vec<u8>,
    /// The file offset of `pending[0]`.
    offset: u64,
    /// Inside an overlong record, whose bytes are dropped up to its newline.
    skipping: bool,
}

impl Splitter {
    /// A splitter whose first byte is at `offset` in the file.
    pub fn new(offset: u64) -> Splitter {
        Splitter {
            pending: Vec::new(),
            offset,
            skipping: false,
        }
    }

    /// Hands each record completed by `data` to `each`, with the file offset
    /// it starts at.
    pub fn feed(&mut self, mut data: &[u8], mut each: impl FnMut(u64, &[u8])) {
        while let Some(newline) = data.iter().position(|b| *b == b'\n') {
            let (head, tail) = (&data[..newline], &data[newline + 1..]);
            let length = (self.pending.len() + newline + 1) as u64;
            if self.skipping {
                self.skipping = false;
            } else if self.pending.is_empty() {
                each(self.offset, head);
            } else {
                self.pending.extend_from_slice(head);
                each(self.offset, &self.pending);
            }
            self.pending.clear();
            self.offset += length;
            data = tail;
        }
        if self.skipping {
            self.offset += data.len() as u64;
        } else {
            self.pending.extend_from_slice(data);
            if self.pending.len() > MAX_RECORD_BYTES {
                self.offset += self.pending.len() as u64;
                self.pending.clear();
                self.skipping = true;
            }
        }
    }

    /// Hands over the bytes after the last newline as a final record: the
    /// file is complete, and a runtime that died mid-write leaves its last
    /// record unterminated.
    pub fn finish(&mut self, mut each: impl FnMut(u64, &[u8])) {
        if !self.pending.is_empty() && !self.skipping {
            each(self.offset, &self.pending);
        }
        self.offset += self.pending.len() as u64;
        self.pending.clear();
        self.skipping = false;
    }
}

/// Finds where the last `n` lines of a file begin, fed its records in order.
#[derive(Debug)]
pub struct TailScan {
    n: u64,
    starts: VecDeque<u64>,
    in_line: bool,
    end: u64,
}

impl TailScan {
    /// A scan for the last `n` lines.
    pub fn new(n: u64) -> TailScan {
        TailScan {
            n,
            starts: VecDeque::new(),
            in_line: false,
            end: 0,
        }
    }

    /// Takes the record at `offset` (`line` is its bytes without newline).
    pub fn record(&mut self, offset: u64, line: &[u8]) {
        self.end = offset + line.len() as u64 + 1;
        let Some(record) = parse_record(line) else {
            return;
        };
        if !self.in_line {
            self.starts.push_back(offset);
            if self.starts.len() as u64 > self.n {
                self.starts.pop_front();
            }
        }
        self.in_line = record.partial;
    }

    /// The offset to read from: the start of the `n`th line from the end, or
    /// the end of what was scanned when there are no lines to show.
    pub fn start(&self) -> u64 {
        self.starts.front().copied().unwrap_or(self.end)
    }
}

/// Turns records into what the reader sees: lines, with their time when
/// asked, from `since` on, up to `limitBytes`.
#[derive(Debug)]
pub struct Formatter {
    since: Option<Timestamp>,
    timestamps: bool,
    remaining: Option<u64>,
    /// Inside a line continued by `P` records: whether that line is shown.
    open_line: Option<bool>,
}

impl Formatter {
    /// A formatter for `options`.
    pub fn new(options: &LogOptions) -> Formatter {
        Formatter {
            since: options.since,
            timestamps: options.timestamps,
            remaining: options.limit_bytes,
            open_line: None,
        }
    }

    /// Appends the output of the record `line` to `out`; malformed records
    /// are skipped.
    pub fn push(&mut self, line: &[u8], out: &mut Vec<u8>) {
        let Some(record) = parse_record(line) else {
            return;
        };
        let shown = match self.open_line {
            Some(shown) => shown,
            None => {
                let shown = self.since.is_none_or(|since| record.time >= since);
                if shown && self.timestamps {
                    self.write(record.time_text, out);
                    self.write(b" ", out);
                }
                shown
            }
        };
        if shown {
            self.write(record.content, out);
            if !record.partial {
                self.write(b"\n", out);
            }
        }
        self.open_line = record.partial.then_some(shown);
    }

    /// Whether `limitBytes` is used up, so nothing more will be written.
    pub fn exhausted(&self) -> bool {
        self.remaining == Some(0)
    }

    fn write(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        let take = match &mut self.remaining {
            None => bytes.len(),
            Some(remaining) => {
                let take = bytes
                    .len()
                    .min(usize::try_from(*remaining).unwrap_or(usize::MAX));
                *remaining -= take as u64;
                take
            }
        };
        out.extend_from_slice(&bytes[..take]);
    }
}

#[cfg(test)]
#[path = "logs_tests.rs"]
mod tests;

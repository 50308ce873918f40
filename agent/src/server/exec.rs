//! `/exec/{namespace}/{pod}/{container}`: a command in a running container
//! with its streams, what `kubectl exec` reaches through the API server. The
//! agent asks the runtime to prepare the exec (CRI `Exec`, which answers
//! with a URL of the runtime's streaming server) and proxies the client's
//! protocol upgrade (SPDY or WebSocket) to that URL, as the kubelet does.

use std::time::Duration;

/// How long the runtime's streaming server may take to answer.
pub const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(10);

/// What to run and which streams to attach, from the request's query
/// (`command` once per argument, `stdin`, `stdout`, `stderr`, `tty`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOptions {
    /// The command and its arguments.
    pub command: Vec<String>,
    /// Attach stdin.
    pub stdin: bool,
    /// Attach stdout.
    pub stdout: bool,
    /// Attach stderr (merged into stdout with a terminal).
    pub stderr: bool,
    /// Allocate a terminal.
    pub tty: bool,
}

fn flag(value: &str) -> Result<bool, String> {
    match value {
        "true" | "1" | "True" => Ok(true),
        "false" | "0" | "False" | "" => Ok(false),
        other => Err(format!("invalid boolean value {other:?}")),
    }
}

impl ExecOptions {
    /// Parses the query of an exec request.
    pub fn parse(query: &str) -> Result<Self, String> {
        let mut options = ExecOptions::default();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            match key.as_ref() {
                "command" => options.command.push(value.into_owned()),
                "stdin" | "input" => options.stdin = flag(&value)?,
                "stdout" | "output" => options.stdout = flag(&value)?,
                "stderr" | "error" => options.stderr = flag(&value)?,
                "tty" => options.tty = flag(&value)?,
                _ => {}
            }
        }
        if options.command.is_empty() {
            return Err("you must specify at least 1 command".into());
        }
        if !(options.stdin || options.stdout || options.stderr) {
            return Err("you must specify at least one of stdin, stdout, stderr".into());
        }
        if options.tty && options.stderr {
            // A terminal has one output stream; stderr goes into it.
            options.stderr = false;
        }
        Ok(options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_kubectl_sends() {
        let o = ExecOptions::parse(
            "command=sh&command=-c&command=echo+hi&container=api&stdin=true&stdout=true&tty=true",
        )
        .unwrap();
        assert_eq!(o.command, vec!["sh", "-c", "echo hi"]);
        assert!(o.stdin && o.stdout && o.tty && !o.stderr);
        let o = ExecOptions::parse("command=cat&command=%2Fetc%2Fhostname&stdout=true&stderr=true")
            .unwrap();
        assert_eq!(o.command, vec!["cat", "/etc/hostname"]);
        assert!(o.stdout && o.stderr && !o.stdin && !o.tty);
    }

    #[test]
    fn refuses_no_command_no_stream_and_bad_flags() {
        assert!(ExecOptions::parse("stdout=true").is_err());
        assert!(ExecOptions::parse("command=ls").is_err());
        assert!(ExecOptions::parse("command=ls&stdout=maybe").is_err());
    }
}

//! Image references, normalized the way containerd's CRI plugin names images.
//!
//! A pod's `image: api-server:1.2.0` reaches containerd as
//! `docker.io/library/api-server:1.2.0`: the Docker reference grammar puts a
//! name without a registry domain under `docker.io`, a single-component name
//! under `library/`, and an untagged name at `:latest`. An image imported
//! under any other name would not be found by the kubelet, so the archive's
//! `io.containerd.image.name` annotation carries this normalized form.
//!
//! Written here rather than taken from a crate: the rule is a few lines of the
//! documented grammar, and the crates that carry it bring a registry client or
//! a regex engine along.

use std::fmt;

/// Registry domain of names that do not name one.
const DEFAULT_DOMAIN: &str = "docker.io";
/// Legacy spelling of the default domain, folded into it.
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
/// Path prefix of single-component names on the default domain.
const OFFICIAL_REPO_PREFIX: &str = "library/";
/// Tag of a name given without one.
const DEFAULT_TAG: &str = "latest";
/// Longest repository name (domain and path) the grammar allows.
const NAME_MAX_LEN: usize = 255;
/// Longest tag the grammar allows.
const TAG_MAX_LEN: usize = 128;

/// Why a string is not an image reference berth can name an image with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid image reference {reference:?}: {reason}")]
pub struct ReferenceError {
    /// The reference as given.
    pub reference: String,
    /// What is wrong with it.
    pub reason: String,
}

/// A tagged image reference in normalized form: `domain/path:tag`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageReference {
    domain: String,
    path: String,
    tag: String,
}

impl ImageReference {
    /// Parses and normalizes `reference` (`api-server:1.2.0`,
    /// `localhost/pause`, `registry.example:5000/team/app:v1`). Digest
    /// references are refused: a locally built image is named by its tag.
    pub fn parse(reference: &str) -> Result<Self, ReferenceError> {
        let fail = |reason: &str| ReferenceError {
            reference: reference.to_owned(),
            reason: reason.to_owned(),
        };
        if reference.contains('@') {
            return Err(fail(
                "digest references cannot name a built image; use a tag",
            ));
        }
        // The tag is after the last ':' that follows the last '/': a ':'
        // before it separates a registry port.
        let last_slash = reference.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match reference[last_slash..].rfind(':') {
            Some(i) => (
                &reference[..last_slash + i],
                &reference[last_slash + i + 1..],
            ),
            None => (reference, DEFAULT_TAG),
        };
        if !valid_tag(tag) {
            return Err(fail(
                "a tag is 1 to 128 of [A-Za-z0-9_.-], not starting with '.' or '-'",
            ));
        }
        let (domain, path) = split_domain(name);
        if domain.is_empty() || !valid_domain(domain) {
            return Err(fail("the registry domain is not a valid host[:port]"));
        }
        let path = if domain == DEFAULT_DOMAIN && !path.contains('/') {
            format!("{OFFICIAL_REPO_PREFIX}{path}")
        } else {
            path.to_owned()
        };
        if !path.split('/').all(valid_path_component) {
            return Err(fail(
                "each path component is lowercase letters and digits, joined by '.', '_', '__' or '-'",
            ));
        }
        if domain.len() + 1 + path.len() > NAME_MAX_LEN {
            return Err(fail("the repository name is longer than 255 characters"));
        }
        Ok(Self {
            domain: domain.to_owned(),
            path,
            tag: tag.to_owned(),
        })
    }

    /// The registry domain (`docker.io`, `localhost`).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path within the domain (`library/api-server`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The tag (`1.2.0`).
    pub fn tag(&self) -> &str {
        &self.tag
    }
}

impl fmt::Display for ImageReference {
    /// The fully qualified name containerd stores: `domain/path:tag`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}:{}", self.domain, self.path, self.tag)
    }
}

/// Splits a name into registry domain and path. The first component is a
/// domain only if it looks like a host: it has a '.' or a ':' port, is
/// `localhost`, or has uppercase letters (which a path may not have).
fn split_domain(name: &str) -> (&str, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            let domain = if first == LEGACY_DEFAULT_DOMAIN {
                DEFAULT_DOMAIN
            } else {
                first
            };
            (domain, rest)
        }
        _ => (DEFAULT_DOMAIN, name),
    }
}

/// `[\w][\w.-]{0,127}`.
fn valid_tag(tag: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut chars = tag.chars();
    tag.len() <= TAG_MAX_LEN
        && chars.next().is_some_and(word)
        && chars.all(|c| word(c) || c == '.' || c == '-')
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
fn valid_path_component(component: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let bytes: Vec<char> = component.chars().collect();
    let mut i = 0;
    let mut expect_alnum = true;
    while i < bytes.len() {
        let c = bytes[i];
        if alnum(c) {
            expect_alnum = false;
            i += 1;
            continue;
        }
        if expect_alnum {
            return false;
        }
        // A separator: '.', '_', '__', or a run of '-'.
        let run = bytes[i..].iter().take_while(|&&s| s == c).count();
        let allowed = match c {
            '.' => run == 1,
            '_' => run <= 2,
            '-' => true,
            _ => false,
        };
        if !allowed {
            return false;
        }
        i += run;
        expect_alnum = true;
    }
    !component.is_empty() && !expect_alnum
}

/// `host(:port)?` where host is dot-separated labels of letters, digits and
/// inner '-'.
fn valid_domain(domain: &str) -> bool {
    let (host, port) = match domain.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (domain, None),
    };
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    host.split('.').all(label_ok)
        && port.is_none_or(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalized(reference: &str) -> String {
        ImageReference::parse(reference).unwrap().to_string()
    }

    #[test]
    fn short_names_go_under_docker_io_library() {
        assert_eq!(
            normalized("api-server:1.2.0"),
            "docker.io/library/api-server:1.2.0"
        );
        assert_eq!(normalized("busybox"), "docker.io/library/busybox:latest");
    }

    #[test]
    fn two_component_names_go_under_docker_io_only() {
        assert_eq!(normalized("team/app:v1"), "docker.io/team/app:v1");
        assert_eq!(
            normalized("index.docker.io/app:v1"),
            "docker.io/library/app:v1"
        );
    }

    #[test]
    fn localhost_and_registries_with_ports_stay_as_given() {
        assert_eq!(
            normalized("localhost/pause:latest"),
            "localhost/pause:latest"
        );
        assert_eq!(normalized("localhost/pause"), "localhost/pause:latest");
        assert_eq!(
            normalized("registry.example:5000/team/app"),
            "registry.example:5000/team/app:latest"
        );
        let reference = ImageReference::parse("localhost:5000/a/b:c").unwrap();
        assert_eq!(
            (reference.domain(), reference.path(), reference.tag()),
            ("localhost:5000", "a/b", "c")
        );
    }

    #[test]
    fn invalid_references_are_refused() {
        for bad in [
            "",
            "Api-Server:1",
            "app:",
            "app:-x",
            "app@sha256:abcd",
            "a..b:1",
            "a_-b",
            "-a",
            "a/",
            "bad host/app",
        ] {
            assert!(ImageReference::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn path_separators_follow_the_grammar() {
        for good in ["a.b", "a_b", "a__b", "a---b", "a1-2.c"] {
            assert!(valid_path_component(good), "{good:?} was refused");
        }
        for bad in ["a___b", "a..b", "a.", "_a", "a-", "A"] {
            assert!(!valid_path_component(bad), "{bad:?} was accepted");
        }
    }
}

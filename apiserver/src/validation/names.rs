//! Name and label syntax: DNS-1123 labels and subdomains, qualified names.

/// A DNS-1123 label: at most 63 lower-case alphanumerics or '-', starting
/// and ending alphanumeric.
pub fn is_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(first), Some(last)) => {
            b.len() <= 63
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
                && *first != b'-'
                && *last != b'-'
        }
        _ => false,
    }
}

/// A DNS-1123 subdomain: dot-separated labels, at most 253 characters.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

/// A qualified name's name part: at most 63 alphanumerics, '-', '_' or '.',
/// starting and ending alphanumeric.
fn is_qualified_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(first), Some(last)) => {
            b.len() <= 63
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
                && first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
        }
        _ => false,
    }
}

/// Why `key` is not a valid label key (`[prefix/]name`), or `None`.
pub fn label_key_error(key: &str) -> Option<String> {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix {
        if !is_dns1123_subdomain(p) {
            return Some("prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character".into());
        }
    }
    if !is_qualified_name_part(name) {
        return Some("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')".into());
    }
    None
}

/// Why `value` is not a valid label value (may be empty), or `None`.
pub fn label_value_error(value: &str) -> Option<String> {
    if value.is_empty() || is_qualified_name_part(value) {
        return None;
    }
    Some("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_rfc_1123() {
        assert!(is_dns1123_label("api-server"));
        assert!(!is_dns1123_label("Api"));
        assert!(!is_dns1123_label("-a"));
        assert!(!is_dns1123_label(""));
        assert!(!is_dns1123_label(&"a".repeat(64)));
        assert!(is_dns1123_subdomain("a.b-c.d"));
        assert!(!is_dns1123_subdomain("a..b"));
        assert!(label_key_error("app.kubernetes.io/name").is_none());
        assert!(label_key_error("Tier_2").is_none());
        assert!(label_key_error("a/b/c").is_some());
        assert!(label_key_error("UPPER.example/x").is_some());
        assert!(label_value_error("").is_none());
        assert!(label_value_error("v1.2_3").is_none());
        assert!(label_value_error("a b").is_some());
    }
}

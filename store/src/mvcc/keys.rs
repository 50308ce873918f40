//! Byte layouts of the MVCC column families.
//!
//! History is keyed by user key, then by revision newest first, so a read at
//! revision R finds each key's version with one seek. User keys are arbitrary
//! bytes, so they are escaped to keep "a key and everything after it" from
//! interleaving with longer keys: `0x00` becomes `0x00 0xFF` and every key
//! ends with `0x00 0x01`. The escaped form sorts exactly as the raw keys do.

/// A revision: the store-wide `main` counter and the position of the write
/// inside its transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Revision {
    /// The store revision.
    pub main: i64,
    /// The write's index within the revision.
    pub sub: i64,
}

const ESCAPE: u8 = 0x00;
const ESCAPED_ZERO: u8 = 0xFF;
const TERMINATOR: u8 = 0x01;

/// `user key` escaped and terminated.
pub fn escaped_key(key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 2 + 16);
    escape_into(key, &mut out);
    out.extend_from_slice(&[ESCAPE, TERMINATOR]);
    out
}

fn escape_into(key: &[u8], out: &mut Vec<u8>) {
    for &b in key {
        out.push(b);
        if b == ESCAPE {
            out.push(ESCAPED_ZERO);
        }
    }
}

/// The smallest escaped prefix sorting after every history entry of `key`
/// (and before those of any longer key that starts with `key`... which sort
/// after it anyway), for skipping to the next key.
pub fn after_key(key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 2);
    escape_into(key, &mut out);
    out.extend_from_slice(&[ESCAPE, TERMINATOR + 1]);
    out
}

/// History key: escaped key, then the revision inverted so newer sorts first.
pub fn history_key(key: &[u8], rev: Revision) -> Vec<u8> {
    let mut out = escaped_key(key);
    out.extend_from_slice(&inverted(rev.main));
    out.extend_from_slice(&inverted(rev.sub));
    out
}

/// Where a read at `main` starts for `key`: the first entry at or before it.
pub fn history_seek(key: &[u8], main: i64) -> Vec<u8> {
    let mut out = escaped_key(key);
    out.extend_from_slice(&inverted(main));
    out.extend_from_slice(&[0; 8]);
    out
}

fn inverted(n: i64) -> [u8; 8] {
    (u64::MAX - n.max(0) as u64).to_be_bytes()
}

/// Splits a history key into its user key and revision; `None` if the bytes
/// are not a history key.
pub fn parse_history_key(bytes: &[u8]) -> Option<(Vec<u8>, Revision)> {
    let mut key = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b != ESCAPE {
            key.push(b);
            i += 1;
            continue;
        }
        match bytes.get(i + 1) {
            Some(&ESCAPED_ZERO) => {
                key.push(ESCAPE);
                i += 2;
            }
            Some(&TERMINATOR) => {
                let rest = bytes.get(i + 2..)?;
                if rest.len() != 16 {
                    return None;
                }
                let main = u64::MAX - u64::from_be_bytes(rest[..8].try_into().ok()?);
                let sub = u64::MAX - u64::from_be_bytes(rest[8..].try_into().ok()?);
                return Some((
                    key,
                    Revision {
                        main: main as i64,
                        sub: sub as i64,
                    },
                ));
            }
            _ => return None,
        }
    }
    None
}

/// Revision-log key: big-endian main then sub, so RocksDB's order is
/// revision order.
pub fn revision_key(rev: Revision) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&(rev.main.max(0) as u64).to_be_bytes());
    out[8..].copy_from_slice(&(rev.sub.max(0) as u64).to_be_bytes());
    out
}

/// The inverse of [`revision_key`].
pub fn parse_revision_key(bytes: &[u8]) -> Option<Revision> {
    if bytes.len() != 16 {
        return None;
    }
    let main = u64::from_be_bytes(bytes[..8].try_into().ok()?);
    let sub = u64::from_be_bytes(bytes[8..].try_into().ok()?);
    Some(Revision {
        main: main as i64,
        sub: sub as i64,
    })
}

/// Lease-to-key attachment key: lease ID then the user key.
pub fn lease_key(id: i64, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + key.len());
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(key);
    out
}

/// Whether `key` falls in etcd's range `[start, end)`: an empty `end` means
/// `start` alone, `"\0"` means every key from `start` on.
pub fn in_range(key: &[u8], start: &[u8], end: &[u8]) -> bool {
    if end.is_empty() {
        return key == start;
    }
    if end == [0] {
        return key >= start;
    }
    key >= start && key < end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_keys_sort_by_key_then_newest_first() {
        let r = |main| Revision { main, sub: 0 };
        let mut keys = [
            history_key(b"a\0", r(3)),
            history_key(b"a", r(2)),
            history_key(b"a", r(5)),
            history_key(b"ab", r(1)),
            history_key(b"b", r(1)),
        ];
        keys.sort();
        let parsed: Vec<_> = keys.iter().map(|k| parse_history_key(k).unwrap()).collect();
        let names: Vec<(&[u8], i64)> = parsed.iter().map(|(k, r)| (k.as_slice(), r.main)).collect();
        assert_eq!(
            names,
            vec![
                (&b"a"[..], 5),
                (b"a", 2),
                (b"a\0", 3),
                (b"ab", 1),
                (b"b", 1)
            ]
        );
    }

    #[test]
    fn after_key_skips_exactly_one_keys_history() {
        let k = history_key(b"a", Revision { main: 1, sub: 0 });
        let longer = history_key(b"a\0", Revision { main: 9, sub: 0 });
        assert!(after_key(b"a") > k);
        assert!(after_key(b"a") < longer);
    }

    #[test]
    fn a_seek_lands_on_the_newest_entry_at_or_before_the_revision() {
        let seek = history_seek(b"k", 4);
        let newer = history_key(b"k", Revision { main: 5, sub: 0 });
        let at = history_key(b"k", Revision { main: 4, sub: 3 });
        assert!(newer < seek);
        assert!(seek <= at);
    }

    #[test]
    fn malformed_history_keys_are_refused() {
        assert!(parse_history_key(b"abc").is_none());
        assert!(parse_history_key(b"a\0\x07").is_none());
        assert!(parse_history_key(b"a\0\x01short").is_none());
    }

    #[test]
    fn ranges_follow_etcd_rules() {
        assert!(in_range(b"a", b"a", b""));
        assert!(!in_range(b"ab", b"a", b""));
        assert!(in_range(b"zzz", b"a", b"\0"));
        assert!(in_range(b"ab", b"a", b"b"));
        assert!(!in_range(b"b", b"a", b"b"));
    }
}

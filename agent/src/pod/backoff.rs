//! The kubelet's restart and image-pull back-off: 10 s doubling to 300 s,
//! forgotten once nothing happened for twice the maximum (so a container
//! that ran ten minutes starts again from 10 s).
//!
//! A restart is held back while less than the current delay has passed since
//! the container finished (`IsInBackOffSince`); each restart let through
//! doubles the delay (`Next`). The first crash restarts at once.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

/// First delay.
pub const INITIAL: Duration = Duration::from_secs(10);
/// Largest delay.
pub const MAX: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy)]
struct Entry {
    delay: Duration,
    last_update: Instant,
}

/// Back-off entries by key (container name, or image).
#[derive(Debug, Default)]
pub struct Backoff {
    entries: HashMap<String, Entry>,
}

impl Backoff {
    fn expired(entry: &Entry, now: Instant) -> bool {
        now.saturating_duration_since(entry.last_update) > MAX * 2
    }

    /// The delay still to wait when the event of `key` happened at `since`
    /// (a container's finish); `None` when not held back.
    pub fn remaining(&self, key: &str, since: Instant, now: Instant) -> Option<Duration> {
        let entry = self.entries.get(key)?;
        if Self::expired(entry, since) {
            return None;
        }
        let waited = now.saturating_duration_since(since);
        (waited < entry.delay).then(|| entry.delay - waited)
    }

    /// The current delay of `key` (for messages: "back-off 20s ...").
    pub fn delay(&self, key: &str) -> Duration {
        self.entries.get(key).map_or(INITIAL, |e| e.delay)
    }

    /// Counts one more attempt of `key` at `now`: the delay doubles, or
    /// starts at [`INITIAL`] when new or forgotten.
    pub fn next(&mut self, key: &str, now: Instant) {
        let entry = self.entries.entry(key.to_string()).or_insert(Entry {
            delay: Duration::ZERO,
            last_update: now,
        });
        entry.delay = if entry.delay.is_zero() || Self::expired(entry, now) {
            INITIAL
        } else {
            (entry.delay * 2).min(MAX)
        };
        entry.last_update = now;
    }

    /// Forgets `key`.
    pub fn reset(&mut self, key: &str) {
        self.entries.remove(key);
    }
}

/// "10s", "2m40s", "5m0s": Go's duration text, as the kubelet's messages
/// print a back-off.
pub fn go_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 60 {
        format!("{}m{}s", secs / 60, secs % 60)
    } else {
        format!("{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_from_ten_seconds_to_five_minutes() {
        let mut b = Backoff::default();
        let t0 = Instant::now();
        let mut delays = Vec::new();
        for i in 0..7 {
            b.next("c", t0 + Duration::from_secs(i));
            delays.push(b.delay("c").as_secs());
        }
        assert_eq!(delays, vec![10, 20, 40, 80, 160, 300, 300]);
    }

    #[test]
    fn first_crash_is_not_held_back_then_the_delay_counts_from_the_finish() {
        let mut b = Backoff::default();
        let t0 = Instant::now();
        assert_eq!(b.remaining("c", t0, t0), None);
        b.next("c", t0);
        let finished = t0 + Duration::from_secs(1);
        assert_eq!(
            b.remaining("c", finished, finished + Duration::from_secs(4)),
            Some(Duration::from_secs(6))
        );
        assert_eq!(
            b.remaining("c", finished, finished + Duration::from_secs(10)),
            None
        );
    }

    #[test]
    fn ten_quiet_minutes_start_over() {
        let mut b = Backoff::default();
        let t0 = Instant::now();
        for i in 0..4 {
            b.next("c", t0 + Duration::from_secs(i));
        }
        assert_eq!(b.delay("c"), Duration::from_secs(80));
        let later = t0 + Duration::from_secs(11 * 60);
        assert_eq!(b.remaining("c", later, later), None);
        b.next("c", later);
        assert_eq!(b.delay("c"), INITIAL);
    }

    #[test]
    fn durations_print_as_go_does() {
        assert_eq!(go_duration(Duration::from_secs(10)), "10s");
        assert_eq!(go_duration(Duration::from_secs(160)), "2m40s");
        assert_eq!(go_duration(Duration::from_secs(300)), "5m0s");
    }
}

//! Load on demand: CPU time for the autoscaler, memory for the OOM killer.

use std::time::{Duration, Instant};

/// Keeps one core busy for `duration`. Runs on a blocking thread, so the
/// server keeps answering probes while it burns.
pub fn burn(duration: Duration) {
    let start = Instant::now();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while start.elapsed() < duration {
        for _ in 0..10_000 {
            // xorshift: cheap work the optimiser cannot remove.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        std::hint::black_box(x);
    }
}

/// Allocates `mib` MiB and writes every page, so the memory is resident
/// (counted against the container's cgroup limit), not just reserved.
/// Fails instead of aborting when the allocator refuses.
pub fn eat(mib: usize) -> Result<Vec<u8>, String> {
    let bytes = mib
        .checked_mul(1024 * 1024)
        .ok_or_else(|| format!("{mib} MiB does not fit in memory"))?;
    let mut block = Vec::new();
    block
        .try_reserve_exact(bytes)
        .map_err(|error| format!("cannot allocate {mib} MiB: {error}"))?;
    // Non-zero bytes: pages of zeros could stay unbacked.
    block.resize(bytes, 0xa5);
    Ok(block)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burn_lasts_at_least_the_asked_time() {
        let start = Instant::now();
        burn(Duration::from_millis(30));
        assert!(start.elapsed() >= Duration::from_millis(30));
    }

    #[test]
    fn eat_returns_touched_memory_of_the_asked_size() {
        let block = eat(3).unwrap();
        assert_eq!(block.len(), 3 * 1024 * 1024);
        assert!(block.iter().step_by(4096).all(|&b| b == 0xa5));
    }

    #[test]
    fn eat_refuses_sizes_that_overflow() {
        assert!(eat(usize::MAX).is_err());
    }
}

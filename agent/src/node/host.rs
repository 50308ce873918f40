//! Facts about the host a Node reports: cpus, memory, kernel, OS image,
//! machine and boot ids, and the memory and disk left (for the pressure
//! conditions). Read from /proc and /etc as the kubelet's cAdvisor does.

use std::path::Path;

/// What the node has and is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostFacts {
    /// Logical cpus.
    pub cpus: u64,
    /// Memory, bytes (MemTotal).
    pub memory_bytes: u64,
    /// `uname -r`.
    pub kernel_version: String,
    /// PRETTY_NAME of /etc/os-release.
    pub os_image: String,
    /// /etc/machine-id.
    pub machine_id: String,
    /// The kernel's boot id.
    pub boot_id: String,
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// A `/proc/meminfo` field in bytes.
pub fn meminfo(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_meminfo(&text, field)
}

fn parse_meminfo(text: &str, field: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (name, rest) = line.split_once(':')?;
        if name != field {
            return None;
        }
        let kib: u64 = rest.split_whitespace().next()?.parse().ok()?;
        Some(kib * 1024)
    })
}

/// Reads the host's facts.
pub fn facts() -> HostFacts {
    let os_image = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        })
        .unwrap_or_else(|| "Linux".into());
    HostFacts {
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get() as u64),
        memory_bytes: meminfo("MemTotal").unwrap_or(0),
        kernel_version: read("/proc/sys/kernel/osrelease"),
        os_image,
        machine_id: read("/etc/machine-id"),
        boot_id: read("/proc/sys/kernel/random/boot_id"),
    }
}

/// Bytes available and total on the filesystem holding `path`.
pub fn disk_space(path: &Path) -> Option<(u64, u64)> {
    let stat = rustix::fs::statvfs(path).ok()?;
    let block = stat.f_frsize;
    Some((stat.f_bavail * block, stat.f_blocks * block))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_fields_are_bytes() {
        let text = "MemTotal:       16316412 kB\nMemAvailable:    1024 kB\n";
        assert_eq!(parse_meminfo(text, "MemTotal"), Some(16_316_412 * 1024));
        assert_eq!(parse_meminfo(text, "MemAvailable"), Some(1024 * 1024));
        assert_eq!(parse_meminfo(text, "SwapTotal"), None);
    }

    #[test]
    fn this_host_has_cpus_and_memory() {
        let f = facts();
        assert!(f.cpus >= 1);
        assert!(f.memory_bytes > 0);
        assert!(!f.kernel_version.is_empty());
    }
}

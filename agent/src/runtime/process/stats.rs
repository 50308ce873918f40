//! Resource usage of a host-process container, read from `/proc`: a
//! container is its process group (the runtime starts each container as a
//! group leader), so usage is summed over every process in the group.

use std::path::Path;

use crate::runtime::ContainerStats;

/// Usage of every live process in process group `pgid`, from `proc`
/// (normally `/proc`). Processes that end while being read are skipped.
pub fn process_group_stats(proc: &Path, pgid: u32) -> std::io::Result<ContainerStats> {
    let ticks_per_second = rustix::param::clock_ticks_per_second().max(1);
    let page_size = rustix::param::page_size() as u64;
    let mut stats = ContainerStats::default();
    for entry in std::fs::read_dir(proc)? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some(fields) = StatFields::parse(&text) else {
            continue;
        };
        if fields.pgrp != pgid {
            continue;
        }
        let ticks = fields.utime + fields.stime;
        stats.cpu_usage_core_nanoseconds += ticks * 1_000_000_000 / ticks_per_second;
        // Resident set as the working set: the nearest a process without a
        // cgroup has to cAdvisor's working set (usage minus inactive file).
        stats.memory_working_set_bytes += fields.rss_pages * page_size;
    }
    Ok(stats)
}

/// The fields of `/proc/<pid>/stat` this module needs (proc(5)).
#[derive(Debug, PartialEq, Eq)]
struct StatFields {
    pgrp: u32,
    utime: u64,
    stime: u64,
    rss_pages: u64,
}

impl StatFields {
    fn parse(text: &str) -> Option<Self> {
        // The command name (field 2) is in parentheses and may itself hold
        // spaces and ')', so fields are counted from the last ')'.
        let rest = &text[text.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // After the name: state is field 3, so field N is at index N - 3.
        let at = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
        Some(Self {
            pgrp: u32::try_from(at(5)?).ok()?,
            utime: at(14)?,
            stime: at(15)?,
            rss_pages: at(24)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_line_with_spaces_and_parens_in_the_name() {
        let line = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 \
                    25 7 0 0 20 0 1 0 12345 10000000 300 18446744073709551615";
        assert_eq!(
            StatFields::parse(line),
            Some(StatFields {
                pgrp: 4242,
                utime: 25,
                stime: 7,
                rss_pages: 300
            })
        );
    }

    #[test]
    fn truncated_stat_is_rejected() {
        assert_eq!(StatFields::parse("1 (init) S 0 1"), None);
    }

    #[test]
    fn own_process_group_has_memory() {
        let pgid = rustix::process::getpgrp().as_raw_nonzero().get() as u32;
        let stats = process_group_stats(Path::new("/proc"), pgid).unwrap();
        assert!(stats.memory_working_set_bytes > 0);
    }
}

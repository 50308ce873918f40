//! A container's resource requests and limits as the CRI's Linux resources,
//! computed the way the kubelet does for cgroups (cpu.shares from the cpu
//! request, a CFS quota from the cpu limit, the memory limit in bytes), so a
//! container is throttled at its cpu limit and killed (`OOMKilled`) past its
//! memory limit.

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::LinuxResources;

/// The smallest cpu.shares the kernel accepts; BestEffort containers get it
/// (the kubelet's `MinShares`).
pub const MIN_SHARES: i64 = 2;
/// The largest cpu.shares the kernel accepts (the kubelet's `MaxShares`).
pub const MAX_SHARES: i64 = 262_144;
/// cpu.shares of one whole cpu (the kubelet's `SharesPerCPU`).
pub const SHARES_PER_CPU: i64 = 1024;
/// The CFS period the kubelet uses unless told otherwise (100 ms, its
/// `--cpu-cfs-quota-period` default), in microseconds.
pub const CFS_PERIOD_US: i64 = 100_000;
/// The smallest CFS quota the kernel accepts, in microseconds (the kubelet's
/// `MinQuotaPeriod`).
pub const MIN_QUOTA_US: i64 = 1_000;

/// Why a container's resources could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourcesError {
    /// A quantity is not of Kubernetes' quantity grammar.
    #[error("resource {resource}: invalid quantity {quantity:?}")]
    InvalidQuantity {
        /// The resource name (`cpu`, `memory`).
        resource: String,
        /// The quantity as written.
        quantity: String,
    },
}

/// The Linux resources of a container with these requests and limits.
///
/// - cpu.shares = milliCPU request × 1024 / 1000, at least 2 and at most
///   262144; with no cpu request but a cpu limit the request is the limit (the
///   API server defaults it so for new pods, and the kubelet repeats the rule
///   for pods stored before that default).
/// - With a cpu limit: CFS period 100000 µs and quota = milliCPU limit ×
///   period / 1000, at least 1000 µs. Without one both stay 0 (unlimited).
/// - The memory limit in bytes (0: unlimited).
pub fn linux_resources(
    requirements: Option<&ResourceRequirements>,
) -> Result<LinuxResources, ResourcesError> {
    let cpu_request = quantity(requirements, Kind::Requests, "cpu", 3)?;
    let cpu_limit = quantity(requirements, Kind::Limits, "cpu", 3)?;
    let memory_limit = quantity(requirements, Kind::Limits, "memory", 0)?;

    let milli_cpu_request = match (cpu_request, cpu_limit) {
        (None | Some(0), Some(limit)) => limit,
        (Some(request), _) => request,
        (None, None) => 0,
    };
    let (cpu_quota, cpu_period) = match cpu_limit {
        Some(limit) if limit > 0 => (milli_cpu_to_quota(limit, CFS_PERIOD_US), CFS_PERIOD_US),
        _ => (0, 0),
    };
    Ok(LinuxResources {
        cpu_shares: milli_cpu_to_shares(milli_cpu_request),
        cpu_quota,
        cpu_period,
        memory_limit_in_bytes: memory_limit.unwrap_or(0).max(0),
    })
}

/// cpu.shares for a cpu request in millicores.
pub fn milli_cpu_to_shares(milli_cpu: i64) -> i64 {
    if milli_cpu <= 0 {
        return MIN_SHARES;
    }
    (milli_cpu.saturating_mul(SHARES_PER_CPU) / 1000).clamp(MIN_SHARES, MAX_SHARES)
}

/// The CFS quota, in microseconds, for a cpu limit in millicores over a
/// period in microseconds (0: no limit).
pub fn milli_cpu_to_quota(milli_cpu: i64, period_us: i64) -> i64 {
    if milli_cpu <= 0 {
        return 0;
    }
    (milli_cpu.saturating_mul(period_us) / 1000).max(MIN_QUOTA_US)
}

#[derive(Clone, Copy)]
enum Kind {
    Requests,
    Limits,
}

/// The named quantity of the requests or limits, times `10^scale`, rounded
/// up like apimachinery's `Value()` (scale 0) and `MilliValue()` (scale 3).
fn quantity(
    requirements: Option<&ResourceRequirements>,
    kind: Kind,
    resource: &str,
    scale: i32,
) -> Result<Option<i64>, ResourcesError> {
    let map = requirements.and_then(|r| match kind {
        Kind::Requests => r.requests.as_ref(),
        Kind::Limits => r.limits.as_ref(),
    });
    let Some(Quantity(text)) = map.and_then(|m| m.get(resource)) else {
        return Ok(None);
    };
    parse_scaled(text, scale)
        .map(Some)
        .ok_or_else(|| ResourcesError::InvalidQuantity {
            resource: resource.to_string(),
            quantity: text.clone(),
        })
}

/// Parses a Kubernetes quantity (`"500m"`, `"512Mi"`, `"1.5"`, `"1e3"`) and
/// returns its value times `10^scale`, rounded toward +infinity and saturated
/// to `i64`.
///
/// Written here because k8s-openapi carries quantities as plain strings and
/// the scheduler's parser lives in a sibling crate the agent must not depend
/// on; the grammar is apimachinery's documented one: a signed decimal number
/// and an optional decimal SI suffix, binary suffix or decimal exponent.
fn parse_scaled(text: &str, scale: i32) -> Option<i64> {
    let (negative, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let split = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(split);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
        return None;
    }
    let (exp10, exp2) = suffix_exponents(suffix)?;

    // Digits beyond 30 cannot matter for an i64 result; dropping them (and
    // counting them in the exponent) keeps the mantissa inside i128.
    let digits: String = whole.chars().chain(fraction.chars()).collect();
    let digits = digits.trim_start_matches('0');
    let kept = digits.len().min(30);
    let exponent =
        i64::from(exp10) - fraction.len() as i64 + i64::from(scale) + (digits.len() - kept) as i64;
    let mantissa: i128 = if kept == 0 {
        0
    } else {
        digits[..kept].parse().ok()?
    };

    let mut value = mantissa.checked_mul(1i128 << exp2).unwrap_or(i128::MAX);
    if exponent >= 0 {
        for _ in 0..exponent.min(40) {
            value = value.saturating_mul(10);
        }
    } else {
        let mut divisor: i128 = 1;
        for _ in 0..(-exponent).min(38) {
            divisor *= 10;
        }
        let inexact = value % divisor != 0 || -exponent > 38;
        value /= divisor;
        // Rounding toward +infinity: up for positive values, toward zero for
        // negative ones, so a request is never under-counted.
        if inexact && !negative {
            value += 1;
        }
    }
    let signed = if negative { -value } else { value };
    Some(signed.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
}

/// The decimal and binary exponents a quantity suffix stands for.
fn suffix_exponents(suffix: &str) -> Option<(i32, u32)> {
    Some(match suffix {
        "" => (0, 0),
        "n" => (-9, 0),
        "u" => (-6, 0),
        "m" => (-3, 0),
        "k" => (3, 0),
        "M" => (6, 0),
        "G" => (9, 0),
        "T" => (12, 0),
        "P" => (15, 0),
        "E" => (18, 0),
        "Ki" => (0, 10),
        "Mi" => (0, 20),
        "Gi" => (0, 30),
        "Ti" => (0, 40),
        "Pi" => (0, 50),
        "Ei" => (0, 60),
        _ => {
            let exp = suffix.strip_prefix(['e', 'E'])?;
            let digits = exp.strip_prefix(['+', '-']).unwrap_or(exp);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            (exp.parse::<i32>().ok()?, 0)
        }
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn requirements(requests: &[(&str, &str)], limits: &[(&str, &str)]) -> ResourceRequirements {
        let map = |pairs: &[(&str, &str)]| {
            (!pairs.is_empty()).then(|| {
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
                    .collect::<BTreeMap<_, _>>()
            })
        };
        ResourceRequirements {
            requests: map(requests),
            limits: map(limits),
            ..Default::default()
        }
    }

    #[test]
    fn manifest_requests_and_limits_become_shares_quota_and_memory() {
        let r = requirements(
            &[("cpu", "200m"), ("memory", "256Mi")],
            &[("cpu", "500m"), ("memory", "512Mi")],
        );
        let got = linux_resources(Some(&r)).unwrap();
        assert_eq!(
            got,
            LinuxResources {
                cpu_shares: 204,
                cpu_quota: 50_000,
                cpu_period: 100_000,
                memory_limit_in_bytes: 536_870_912,
            }
        );
    }

    #[test]
    fn no_resources_is_best_effort_with_minimum_shares_and_no_limits() {
        let got = linux_resources(None).unwrap();
        assert_eq!(
            got,
            LinuxResources {
                cpu_shares: MIN_SHARES,
                ..Default::default()
            }
        );
    }

    #[test]
    fn cpu_limit_without_request_sets_shares_from_the_limit() {
        let r = requirements(&[], &[("cpu", "2")]);
        let got = linux_resources(Some(&r)).unwrap();
        assert_eq!(got.cpu_shares, 2048);
        assert_eq!(got.cpu_quota, 200_000);
        assert_eq!(got.cpu_period, CFS_PERIOD_US);
    }

    #[test]
    fn tiny_cpu_request_and_limit_are_raised_to_kernel_minimums() {
        let r = requirements(&[("cpu", "1m")], &[("cpu", "1m")]);
        let got = linux_resources(Some(&r)).unwrap();
        assert_eq!(got.cpu_shares, MIN_SHARES);
        assert_eq!(got.cpu_quota, MIN_QUOTA_US);
    }

    #[test]
    fn huge_cpu_request_is_capped_at_max_shares() {
        let r = requirements(&[("cpu", "1000")], &[]);
        assert_eq!(linux_resources(Some(&r)).unwrap().cpu_shares, MAX_SHARES);
    }

    #[test]
    fn memory_request_alone_sets_no_limit() {
        let r = requirements(&[("memory", "1Gi")], &[]);
        assert_eq!(linux_resources(Some(&r)).unwrap().memory_limit_in_bytes, 0);
    }

    #[test]
    fn quantities_in_every_notation() {
        assert_eq!(parse_scaled("0.5", 3), Some(500));
        assert_eq!(parse_scaled("1.5m", 3), Some(2));
        assert_eq!(parse_scaled("1G", 0), Some(1_000_000_000));
        assert_eq!(parse_scaled("1e3", 0), Some(1000));
        assert_eq!(parse_scaled("32Mi", 0), Some(33_554_432));
        assert_eq!(parse_scaled("128974848", 0), Some(128_974_848));
        assert_eq!(parse_scaled("1", 3), Some(1000));
        assert_eq!(parse_scaled("", 0), None);
        assert_eq!(parse_scaled("1x", 0), None);
    }

    #[test]
    fn invalid_quantity_names_the_resource() {
        let r = requirements(&[], &[("memory", "lots")]);
        assert_eq!(
            linux_resources(Some(&r)),
            Err(ResourcesError::InvalidQuantity {
                resource: "memory".into(),
                quantity: "lots".into(),
            })
        );
    }
}

//! Kubernetes resource quantities (`"500m"`, `"1Gi"`, `"1e3"`) as integers.
//!
//! A quantity is a signed decimal number followed by an optional suffix: a
//! decimal SI suffix (`n u m k M G T P E`), a binary suffix (`Ki Mi Gi Ti Pi Ei`)
//! or a decimal exponent (`e3`, `E-2`). Like apimachinery's `Quantity.Value()` and
//! `MilliValue()`, a value that does not land on an integer is rounded up, so a
//! request is never under-counted.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// Why a quantity string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// The string is not of the quantity grammar.
    #[error("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {0:?}")]
    Invalid(String),
}

/// Parses a CPU quantity into millicores (`"1"` → 1000, `"250m"` → 250).
pub fn parse_millis(q: &Quantity) -> Result<i64, QuantityError> {
    parse_scaled(&q.0, 3)
}

/// Parses a quantity into whole units (bytes for memory, a count for pods and
/// extended resources), rounding a fraction up.
pub fn parse_units(q: &Quantity) -> Result<i64, QuantityError> {
    parse_scaled(&q.0, 0)
}

/// Parses `s` and returns its value times `10^scale`, rounded up, saturating at
/// the bounds of `i64`.
pub fn parse_scaled(s: &str, scale: i32) -> Result<i64, QuantityError> {
    let invalid = || QuantityError::Invalid(s.to_string());
    let text = s;
    let (negative, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let number_len = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(number_len);
    let (whole, fraction) = match number.split_once('.') {
        Some((w, f)) => (w, f),
        None => (number, ""),
    };
    if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
        return Err(invalid());
    }
    let (exp10, exp2) = suffix_exponents(suffix).ok_or_else(invalid)?;

    // The digits as one integer mantissa; leading zeros carry no value, and a
    // mantissa beyond 30 digits would overflow i128 below, so it is cut and the
    // cut digits are accounted for in the exponent.
    let digits: String = whole.chars().chain(fraction.chars()).collect();
    let digits = digits.trim_start_matches('0');
    let mut exponent = i64::from(exp10) - fraction.len() as i64 + i64::from(scale);
    let kept = digits.len().min(30);
    exponent += (digits.len() - kept) as i64;
    let mantissa: i128 = if kept == 0 {
        0
    } else {
        digits[..kept].parse().map_err(|_| invalid())?
    };
    let magnitude = scale_magnitude(mantissa, exponent, exp2, negative);
    let value = if negative { -magnitude } else { magnitude };
    Ok(value.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
}

/// Decimal and binary exponents of a suffix, or `None` when it is not one.
fn suffix_exponents(suffix: &str) -> Option<(i32, u32)> {
    let pair = match suffix {
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
    };
    Some(pair)
}

/// `mantissa * 10^exponent * 2^exp2` as a magnitude, saturating high. The
/// rounding is up for positive values and toward zero for negative ones, which
/// is rounding toward +infinity of the signed value.
fn scale_magnitude(mantissa: i128, exponent: i64, exp2: u32, negative: bool) -> i128 {
    if mantissa == 0 {
        return 0;
    }
    let Some(mut value) = mantissa.checked_mul(1i128 << exp2) else {
        return i128::MAX;
    };
    if exponent >= 0 {
        for _ in 0..exponent {
            match value.checked_mul(10) {
                Some(v) if v <= i128::from(i64::MAX) * 2 => value = v,
                _ => return i128::MAX,
            }
        }
        return value;
    }
    let mut divisor: i128 = 1;
    for _ in 0..(-exponent) {
        match divisor.checked_mul(10) {
            Some(d) => divisor = d,
            // The divisor outgrew any mantissa: the value is a sliver above zero.
            None => return if negative { 0 } else { 1 },
        }
    }
    let quotient = value / divisor;
    if !negative && value % divisor != 0 {
        quotient + 1
    } else {
        quotient
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn millis(s: &str) -> i64 {
        parse_millis(&Quantity(s.to_string())).unwrap_or(i64::MIN)
    }

    fn units(s: &str) -> i64 {
        parse_units(&Quantity(s.to_string())).unwrap_or(i64::MIN)
    }

    #[test]
    fn cpu_cores_and_millicores() {
        assert_eq!(millis("1"), 1000);
        assert_eq!(millis("250m"), 250);
        assert_eq!(millis("0.5"), 500);
        assert_eq!(millis(".1"), 100);
        assert_eq!(millis("2.5"), 2500);
    }

    #[test]
    fn cpu_below_a_millicore_rounds_up() {
        assert_eq!(millis("1.5m"), 2);
        assert_eq!(millis("100u"), 1);
        assert_eq!(millis("1n"), 1);
    }

    #[test]
    fn binary_suffixes() {
        assert_eq!(units("1Ki"), 1024);
        assert_eq!(units("200Mi"), 200 * 1024 * 1024);
        assert_eq!(units("1Gi"), 1 << 30);
        assert_eq!(units("1.5Gi"), 3 << 29);
        assert_eq!(units("1Ei"), 1 << 60);
    }

    #[test]
    fn decimal_suffixes_and_exponents() {
        assert_eq!(units("1k"), 1000);
        assert_eq!(units("128M"), 128_000_000);
        assert_eq!(units("2G"), 2_000_000_000);
        assert_eq!(units("1e3"), 1000);
        assert_eq!(units("1E3"), 1000);
        assert_eq!(units("12e-1"), 2);
        assert_eq!(units("1E"), 1_000_000_000_000_000_000);
        assert_eq!(millis("1e-3"), 1);
    }

    #[test]
    fn fractions_of_a_unit_round_up() {
        assert_eq!(units("0.5"), 1);
        assert_eq!(units("100m"), 1);
        assert_eq!(units("0"), 0);
        assert_eq!(units("0.0"), 0);
    }

    #[test]
    fn signs() {
        assert_eq!(units("+5"), 5);
        assert_eq!(units("-5"), -5);
        assert_eq!(units("-0.5"), 0);
    }

    #[test]
    fn huge_values_saturate() {
        assert_eq!(units("100Ei"), i64::MAX);
        assert_eq!(units("1e400"), i64::MAX);
        assert_eq!(units("99999999999999999999999999999999999999999"), i64::MAX);
        assert_eq!(units("-1e400"), i64::MIN);
        assert_eq!(units("1e-400"), 1);
    }

    #[test]
    fn malformed_strings_are_errors() {
        for s in [
            "", "abc", "1.2.3", "1Qi", "1e", "1e+", "m", ".", "1 Gi", "1x3", "--1",
        ] {
            assert!(
                parse_units(&Quantity(s.to_string())).is_err(),
                "{s:?} should not parse"
            );
        }
    }
}

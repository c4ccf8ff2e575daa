//! Human units on the command line: sizes (`64KiB`, `100MiB`, `1MB`) and durations
//! (`500us`, `5ms`, `1.5s`, `2m`). Shared by the servers and loadgen so both read the
//! same spelling the same way.

use std::time::Duration;

use thiserror::Error;

/// Why a size or duration did not parse.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum UnitError {
    #[error("'{0}' is empty; expected a number with an optional unit")]
    Empty(String),
    #[error("'{0}' is not a number")]
    NotANumber(String),
    #[error("'{input}' has an unknown unit '{unit}' (use {expected})")]
    UnknownUnit {
        input: String,
        unit: String,
        expected: &'static str,
    },
    #[error("'{0}' is too large")]
    Overflow(String),
    #[error("'{0}' is negative")]
    Negative(String),
}

fn split_number(input: &str) -> Result<(f64, &str), UnitError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(UnitError::Empty(input.to_string()));
    }
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_' || c == '-' || c == '+'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(end);
    let value: f64 = num
        .replace('_', "")
        .parse()
        .map_err(|_| UnitError::NotANumber(input.to_string()))?;
    if value < 0.0 {
        return Err(UnitError::Negative(input.to_string()));
    }
    Ok((value, unit.trim()))
}

const SIZE_UNITS: &str = "B, KiB, MiB, GiB, TiB (or K, M, G, T), KB, MB, GB, TB";

/// Parses a byte count: a plain number is bytes; `K`/`KiB`, `M`/`MiB`, `G`/`GiB`,
/// `T`/`TiB` are powers of 1024; `KB`, `MB`, `GB`, `TB` are powers of 1000.
pub fn parse_size(input: &str) -> Result<u64, UnitError> {
    let (value, unit) = split_number(input)?;
    let scale: f64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kib" => 1024.0,
        "m" | "mib" => 1024.0 * 1024.0,
        "g" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        _ => {
            return Err(UnitError::UnknownUnit {
                input: input.to_string(),
                unit: unit.to_string(),
                expected: SIZE_UNITS,
            });
        }
    };
    let bytes = (value * scale).round();
    if bytes >= u64::MAX as f64 {
        return Err(UnitError::Overflow(input.to_string()));
    }
    Ok(bytes as u64)
}

const DURATION_UNITS: &str = "ns, us, ms, s, m, h";

/// Parses a duration with a mandatory unit: `ns`, `us`, `ms`, `s`, `m`, `h`
/// (fractions allowed: `1.5s`). A bare number is refused because `--timeout 5` could
/// mean seconds or milliseconds.
pub fn parse_duration(input: &str) -> Result<Duration, UnitError> {
    let (value, unit) = split_number(input)?;
    let seconds = match unit {
        "ns" => 1e-9,
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => {
            return Err(UnitError::UnknownUnit {
                input: input.to_string(),
                unit: if unit.is_empty() {
                    "(none)".into()
                } else {
                    unit.into()
                },
                expected: DURATION_UNITS,
            });
        }
    };
    Duration::try_from_secs_f64(value * seconds).map_err(|_| UnitError::Overflow(input.into()))
}

/// Formats a byte count the way `parse_size` reads it back (`64KiB`, `100MiB`, `1000`).
pub fn format_size(bytes: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (name, scale) in UNITS {
        if bytes >= scale && bytes % scale == 0 {
            return format!("{}{name}", bytes / scale);
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64"), Ok(64));
        assert_eq!(parse_size("64KiB"), Ok(65536));
        assert_eq!(parse_size("64k"), Ok(65536));
        assert_eq!(parse_size("100MiB"), Ok(100 << 20));
        assert_eq!(parse_size("1MB"), Ok(1_000_000));
        assert_eq!(parse_size("2TiB"), Ok(2 << 40));
        assert_eq!(parse_size("1.5KiB"), Ok(1536));
        assert_eq!(parse_size("256 MiB"), Ok(256 << 20));
        assert!(matches!(
            parse_size("12 parsecs"),
            Err(UnitError::UnknownUnit { .. })
        ));
        assert!(matches!(parse_size("-1"), Err(UnitError::Negative(_))));
        assert!(matches!(parse_size(""), Err(UnitError::Empty(_))));
        assert!(matches!(parse_size("MiB"), Err(UnitError::NotANumber(_))));
        assert!(matches!(
            parse_size("99999999999GiB"),
            Err(UnitError::Overflow(_))
        ));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5ms"), Ok(Duration::from_millis(5)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert!(matches!(
            parse_duration("5"),
            Err(UnitError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_duration("5 fortnights"),
            Err(UnitError::UnknownUnit { .. })
        ));
    }

    #[test]
    fn sizes_round_trip() {
        for bytes in [0, 1, 1000, 1024, 65536, 100 << 20, 3 << 30, 65537] {
            assert_eq!(parse_size(&format_size(bytes)), Ok(bytes));
        }
        assert_eq!(format_size(65536), "64KiB");
    }
}

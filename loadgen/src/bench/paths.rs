//! Where the bench finds its programs and puts its results by default: the servers' builds
//! beside loadgen's own, the Python baselines in the checkout, and
//! `results/<date>-<host>/bench`.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// loadgen's own folder: target/release when it is the release build.
pub fn default_bin_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("target/release"))
}

/// The baselines' folder: `baselines/python` in the first folder above loadgen's own
/// (target/release/loadgen -> the checkout) that has one, else under the current directory.
pub fn default_baselines_dir() -> PathBuf {
    let beside = |dir: &Path| dir.join("baselines/python");
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            exe.ancestors()
                .skip(1)
                .map(beside)
                .find(|d| d.join("echolab_contract.py").is_file())
        })
        .unwrap_or_else(|| beside(Path::new(".")))
}

/// A plain file with an execute bit.
pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `results/<date>-<host>/bench`, the date in UTC (the run folder may hold other
/// measurements of the same day, such as `make idle-rss`).
pub fn default_out() -> PathBuf {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let host = host.trim().split('.').next().unwrap_or("host").to_string();
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    PathBuf::from(format!(
        "results/{}-{host}/bench",
        civil_date(secs / 86_400)
    ))
}

/// YYYY-MM-DD of a day count since 1970-01-01 (Howard Hinnant's civil_from_days).
fn civil_date(days: u64) -> String {
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(19_723), "2024-01-01");
        assert_eq!(civil_date(20_513), "2026-03-01");
    }
}

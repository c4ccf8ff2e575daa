//! Inputs the fuzz targets (fuzz/, `make fuzz`) found crashing, kept as regressions.

use loadgen::run::text::parse_summary_line;

/// An elapsed time whose hours overflow u64 seconds: refused, not a panic (an
/// arithmetic overflow in debug builds, a wrapped figure in release).
#[test]
fn summary_line_with_overflowing_elapsed_time_is_refused() {
    for elapsed in [
        "99999999999999999:00:00",
        "0:99999999999999999999:00",
        "0:307445734561825861:0",
        "5124095576030431:0:18446744073709551615",
    ] {
        let line = format!(
            "summary =     10 in {elapsed} =    1.0/s Avg:     1 Min:     1 Max:     1 Err:     0 (0.00%)"
        );
        assert!(parse_summary_line(&line).is_none(), "{line}");
    }
    let ok = "summary =     10 in 00:01:05 =    1.0/s Avg:     1 Min:     1 Max:     1 Err:     0 (0.00%)";
    assert_eq!(parse_summary_line(ok).map(|l| l.elapsed_s), Some(65));
}

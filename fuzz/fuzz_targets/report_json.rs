//! loadgen's JSON result file (`RunReport`, read by `loadgen merge` and by a `--procs`
//! parent) on arbitrary bytes: parsing, merging a report with itself (which decodes its
//! HDR histograms) and rendering it must never panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use loadgen::RunReport;

fuzz_target!(|data: &[u8]| {
    let Ok(report) = serde_json::from_slice::<RunReport>(data) else {
        return;
    };
    let _ = serde_json::to_string(&report);
    let _ = loadgen::run::text::render(&report);
    let _ = loadgen::merge::merge(&[report.clone(), report]);
});

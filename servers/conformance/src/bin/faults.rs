//! faults: the fault suite over every model - resets mid-transfer, descriptor
//! exhaustion, slowloris, slow readers, framed garbage, SIGTERM under load, and loadgen
//! against misbehaving servers. Writes `faults.json` (every figure and setting) and
//! `faults.md` (rendered from it) into `--out`; exits 1 if any case failed.
//!
//! Run: `make faults` (full size, release builds, into results/<date>-<host>/), or
//! `cargo run --release -p conformance --bin faults -- --size ci --out /tmp/faults`.
//! The CI size runs in `cargo test` (tests/faults.rs).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use conformance::faults::{self, Report, Size};

/// Run the fault suite against every echolab model.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Opts {
    /// ci (every case in a few minutes) or full (10,000 resets, 1,000 idle
    /// connections, 100 slow readers of 16 MiB).
    #[arg(long, default_value = "ci")]
    size: Size,
    /// Models to run (comma-separated); all by default.
    #[arg(long, value_delimiter = ',')]
    models: Vec<String>,
    /// Cases to run (comma-separated names); all by default.
    #[arg(long, value_delimiter = ',')]
    cases: Vec<String>,
    /// Folder for faults.json and faults.md.
    #[arg(long)]
    out: PathBuf,
}

fn main() -> ExitCode {
    common::log::init("faults");
    match run(Opts::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            common::log!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(opts: Opts) -> anyhow::Result<bool> {
    let started = Instant::now();
    let mut report = Report::new(opts.size);
    let models: Vec<String> = if opts.models.is_empty() {
        common::models::MODELS.map(String::from).to_vec()
    } else {
        opts.models
    };
    for model in &models {
        for result in faults::run_model(model, opts.size, &opts.cases) {
            common::log!(
                "{model} {}: {} ({} ms){}",
                result.case,
                if result.passed { "pass" } else { "FAIL" },
                result.wall_ms,
                result
                    .failures
                    .iter()
                    .map(|f| format!("\n    {f}"))
                    .collect::<String>()
            );
            report.results.push(result);
        }
    }
    if opts.cases.is_empty() || opts.cases.iter().any(|c| c == "loadgen-vs-bad-servers") {
        let result = faults::run_loadgen(opts.size);
        common::log!(
            "loadgen-vs-bad-servers: {}{}",
            if result.passed { "pass" } else { "FAIL" },
            result
                .failures
                .iter()
                .map(|f| format!("\n    {f}"))
                .collect::<String>()
        );
        report.results.push(result);
    }
    report.wall_s = started.elapsed().as_secs_f64();
    std::fs::create_dir_all(&opts.out).with_context(|| format!("create {}", opts.out.display()))?;
    let json = opts.out.join("faults.json");
    std::fs::write(&json, serde_json::to_string_pretty(&report)? + "\n")
        .with_context(|| format!("write {}", json.display()))?;
    let md = opts.out.join("faults.md");
    std::fs::write(&md, faults::render_markdown(&report))
        .with_context(|| format!("write {}", md.display()))?;
    common::log!(
        "{} of {} passed in {:.0} s; wrote {} and {}",
        report.results.iter().filter(|r| r.passed).count(),
        report.results.len(),
        report.wall_s,
        json.display(),
        md.display()
    );
    Ok(report.passed())
}

//! The one dispatch, in ripgrep's `main -> run -> match` manner: [`run`] takes the parsed
//! flags and does what they say (a load run, or the subcommand they name), printing to
//! stdout; [`run_to`] does the same into any writer, which is how tests and other tools drive
//! the library. Each arm is a few lines over the module that does the work.

use std::io::{self, IsTerminal, Write};
use std::path::Path;

use crate::bench;
use crate::error::{EXIT_THRESHOLD, Error};
use crate::jtl::{self, ImportOptions, JtlError};
use crate::merge;
use crate::opts::{
    BenchArgs, Command, CompareArgs, ImportJtlArgs, LoadArgs, MergeArgs, Opts, ReportArgs,
    StreamArgs,
};
use crate::out;
use crate::plan::Plan;
use crate::report::compare_benches::{self, ratios};
use crate::report::summary;
use crate::run::report::RunReport;
use crate::run::{compare_runs, json, load, text, thresholds};
use crate::stream;
use crate::threshold::{self, Threshold};

/// What a command produced.
#[derive(Debug)]
pub enum Outcome {
    /// A load run, a merge or an imported JMeter run: its report, everything measured.
    Run(Box<RunReport>),
    /// `bench`, `report`, `compare` or `stream`: what it writes is all it makes.
    Done,
}

impl Outcome {
    /// 3 when a `--fail-if` threshold was crossed; else 1 when samples were run and not one
    /// of them succeeded; else 0.
    pub fn exit_code(&self) -> u8 {
        match self {
            Outcome::Run(r) if r.thresholds.iter().any(|c| c.crossed) => EXIT_THRESHOLD,
            Outcome::Run(r) => u8::from(r.samples > 0 && r.ok == 0),
            Outcome::Done => 0,
        }
    }

    /// A run's outcome, its report boxed (a report is over a kilobyte, `Done` nothing).
    fn of_report(report: RunReport) -> Outcome {
        Outcome::Run(Box::new(report))
    }

    /// The run's report, for a load run, a merge or an import.
    pub fn into_report(self) -> Option<RunReport> {
        match self {
            Outcome::Run(r) => Some(*r),
            Outcome::Done => None,
        }
    }
}

/// Does what the options say, printing to stdout (with a live progress line when stdout is
/// a terminal); what the binary calls. A run in which not one sample succeeded also says so
/// on stderr.
pub fn run(opts: Opts) -> Result<Outcome, Error> {
    let stdout = io::stdout();
    let live = stdout.is_terminal();
    let mut out = out::Lenient::new(stdout.lock());
    let outcome = run_to(opts, &mut out, live);
    out.report_loss();
    if let Ok(Outcome::Run(r)) = &outcome
        && r.samples > 0
        && r.ok == 0
    {
        out::warn(format_args!("loadgen: no sample succeeded"));
    }
    outcome
}

/// Does what the options say, printing to `out`; `live` adds a progress line to a load run.
pub fn run_to(opts: Opts, out: &mut dyn Write, live: bool) -> Result<Outcome, Error> {
    match opts.command {
        None => load_run(&opts.load, out, live).map(Outcome::of_report),
        Some(Command::Merge(m)) => merge_runs(&m, out).map(Outcome::of_report),
        Some(Command::ImportJtl(a)) => import_jtl(&a, out).map(Outcome::of_report),
        Some(Command::Bench(b)) => bench_run(&b, out).map(|()| Outcome::Done),
        Some(Command::Report(r)) => report_dir(&r, out).map(|()| Outcome::Done),
        Some(Command::Compare(c)) => compare(&c, out).map(|()| Outcome::Done),
        Some(Command::Stream(s)) => stream_run(&s, out).map(|()| Outcome::Done),
    }
}

/// `loadgen [flags]`: the flags checked into a plan, then run.
fn load_run(args: &LoadArgs, out: &mut dyn Write, live: bool) -> Result<RunReport, Error> {
    let plan = Plan::from_args(args)?;
    if let Some(path) = &args.html {
        load::check_html(path)?;
    }
    let report = load::run(&plan, out, live)?;
    if let Some(path) = &args.html {
        load::write_html(&report, path)?;
    }
    Ok(report)
}

/// `loadgen merge`: the reports added up exactly, printed, checked, written.
fn merge_runs(m: &MergeArgs, out: &mut dyn Write) -> Result<RunReport, Error> {
    let fail_if = threshold::parse_all(&m.fail_if)?;
    let reports = m
        .files
        .iter()
        .map(|f| json::read(f))
        .collect::<Result<Vec<_>, _>>()?;
    let mut report = merge::merge(&reports)?;
    writeln!(out, "{}", text::header(&report.run.settings))?;
    finish(&mut report, &fail_if, m.json.as_deref(), out)?;
    Ok(report)
}

/// `loadgen import-jtl`: reads the file, prints the report as a loadgen run prints its own
/// (with JMeter's `summary =` line first, when the console output is given, checked against
/// the file), and writes the JSON.
fn import_jtl(args: &ImportJtlArgs, out: &mut dyn Write) -> Result<RunReport, Error> {
    let fail_if = threshold::parse_all(&args.fail_if)?;
    let opts = ImportOptions {
        threads: args.threads,
        loops: args.loops,
        rampup_s: args.rampup.as_secs_f64(),
        target: args.target.clone(),
        generator: args.generator.clone(),
    };
    let mut report = jtl::import(&args.file, &opts)?;
    let s = &report.run.settings;
    let plan = match s.loops {
        Some(l) => format!("{} threads x {l} loops", s.threads),
        None => format!("{} threads", s.threads),
    };
    writeln!(
        out,
        "{} run imported from {}: {plan}, {}-byte messages to {}",
        s.generator,
        args.file.display(),
        s.message_size,
        s.target
    )?;
    if let Some(path) = &args.summary {
        let name = path.display().to_string();
        let console = std::fs::read_to_string(path).map_err(|source| JtlError::Read {
            path: name.clone(),
            source,
        })?;
        let line = console
            .lines()
            .rev()
            .find(|l| text::parse_summary_line(l).is_some_and(|s| s.kind == '='))
            .ok_or(JtlError::NoSummary(name))?;
        writeln!(out, "jmeter's own: {}", line.trim())?;
        let summary = jtl::final_summary(&console).expect("the line parsed above");
        if (summary.samples, summary.errors) != (report.samples, report.errors) {
            return Err(JtlError::Disagree {
                summary: summary.samples,
                summary_errors: summary.errors,
                jtl: report.samples,
                jtl_errors: report.errors,
            }
            .into());
        }
    }
    finish(&mut report, &fail_if, args.json.as_deref(), out)?;
    Ok(report)
}

/// What a merge and an import do after their first lines: the report, a line per crossed
/// threshold, then the JSON.
fn finish(
    report: &mut RunReport,
    fail_if: &[Threshold],
    json_path: Option<&Path>,
    out: &mut dyn Write,
) -> Result<(), Error> {
    write!(out, "{}", text::render(report))?;
    thresholds::apply(fail_if, report, out)?;
    out.flush()?;
    if let Some(path) = json_path {
        json::write(report, path)?;
    }
    Ok(())
}

/// `loadgen bench`: the suites run; raw.json records this process's command line.
fn bench_run(b: &BenchArgs, out: &mut dyn Write) -> Result<(), Error> {
    bench::run(b, std::env::args().collect(), out)?;
    Ok(())
}

/// `loadgen report DIR`: the bench's summary rendered.
fn report_dir(r: &ReportArgs, out: &mut dyn Write) -> Result<(), Error> {
    for path in summary::render_dir(r)? {
        writeln!(out, "wrote {}", path.display())?;
    }
    Ok(())
}

/// `loadgen compare`: report files side by side, two bench folders' verdicts, or (with
/// `--ratios`) two or more bench folders' ratios.
fn compare(c: &CompareArgs, out: &mut dyn Write) -> Result<(), Error> {
    let dirs = c.files.iter().filter(|f| f.is_dir()).count();
    if c.html.is_some() && (c.ratios || dirs != 2 || c.files.len() != 2) {
        return Err(Error::CompareArgs(
            "--html takes exactly two bench folders (without --ratios)".into(),
        ));
    }
    if c.ratios {
        if dirs < 2 || dirs != c.files.len() {
            return Err(Error::CompareArgs(format!(
                "--ratios takes two or more bench folders; got {dirs} folder(s) among {} argument(s)",
                c.files.len()
            )));
        }
        let paths: Vec<&Path> = c.files.iter().map(|f| f.as_path()).collect();
        let md = ratios::compare_ratio_dirs(&paths)?;
        write!(out, "{md}")?;
        return Ok(());
    }
    match (dirs, c.files.as_slice()) {
        (0, files) => {
            write!(out, "{}", compare_runs::compare_files(files)?)?;
            out.flush()?;
        }
        (2, [a, b]) => {
            if let Some(path) = &c.html {
                compare_benches::html::check_writable(path)?;
            }
            let (cmp, margin) = compare_benches::compare(a, b, c.margin, c.reference.as_deref())?;
            let (a, b) = (a.display().to_string(), b.display().to_string());
            write!(out, "{}", compare_benches::markdown(&a, &b, &cmp, margin))?;
            if let Some(path) = &c.html {
                compare_benches::html::write(&a, &b, &cmp, margin, path)?;
            }
        }
        _ => {
            return Err(Error::CompareArgs(format!(
                "got {dirs} folder(s) among {} argument(s)",
                c.files.len()
            )));
        }
    }
    Ok(())
}

/// `loadgen stream`: the loopback limit, one way.
fn stream_run(s: &StreamArgs, out: &mut dyn Write) -> Result<(), Error> {
    stream::run(s, out)?;
    Ok(())
}

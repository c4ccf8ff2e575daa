//! `loadgen bench`: every suite over every model, fairly. Each run starts the model's server
//! fresh from the given build (release by default) on its own CPU, waits for the readiness
//! line, runs one load point in-process (loadgen pinned to the other CPUs) with the server's
//! CPU, memory and context switches measured from /proc and its system calls counted by
//! perf (task-clock and system calls over the measured window), then stops the server.
//! Each point runs in blocks: a block runs every model once, in an order drawn afresh from
//! the bench's seed, so that the noise of a moment hits one block's models alike and the
//! report can rank models by their paired per-block ratios. Results go to OUT/raw.json
//! after every run; `loadgen report OUT` renders them.
//!
//! Modules: [`config`] (flags checked), [`suite`] (what load: one module per suite),
//! [`server`] (processes started, stopped, stopped on Ctrl-C), [`perf`] (system calls),
//! [`env`] (the machine), [`data`] (raw.json).

pub mod config;
pub mod data;
pub mod env;
pub mod interleave;
pub mod perf;
pub mod server;
pub mod suite;

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Parser;
use common::pin::CpuList;
use thiserror::Error;

use crate::opts::{BenchArgs, Opts};
use crate::probe;
use data::{BenchConfig, BenchResults, DataError, RunRecord, RunStatus};
use interleave::PointDesign;
use server::{MemoryWatch, ServerGroup};
use suite::{Point, Suite};

/// Why a bench could not run.
#[derive(Debug, Error)]
pub enum BenchError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("cannot create {path}: {source}")]
    Create { path: String, source: io::Error },
    #[error("cannot install the Ctrl-C handler: {0}")]
    Signal(io::Error),
    #[error("cannot print progress: {0}")]
    Output(#[from] io::Error),
}

/// How often an interleaved group rewrites raw.json while it runs.
const RAW_WRITE_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Runs the bench the flags ask for, printing one line per run to `out`.
pub fn run(
    args: &BenchArgs,
    command: Vec<String>,
    out: &mut dyn Write,
) -> Result<BenchResults, BenchError> {
    let config = config::check(args, command)?;
    let dir = PathBuf::from(&config.out);
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| BenchError::Create {
            path: parent.display().to_string(),
            source,
        })?;
    }
    std::fs::create_dir(&dir).map_err(|source| BenchError::Create {
        path: dir.display().to_string(),
        source,
    })?;
    server::stop_children_on_interrupt().map_err(BenchError::Signal)?;

    // Server on the first CPU this process may use, loadgen on the others.
    let (server_cpus, loadgen_cpus) = split_cpus();
    if let Some(l) = &loadgen_cpus {
        if let Err(e) = l.pin_current_thread() {
            writeln!(out, "loadgen bench: cannot pin loadgen to CPUs {l}: {e}")?;
        }
    }
    let mut notes = Vec::new();
    let perf = if config.perf { perf::available() } else { None };
    if config.perf && perf.is_none() {
        let note =
            "perf is missing or cannot count tracepoints here: syscalls are recorded as null";
        writeln!(out, "loadgen bench: {note}")?;
        notes.push(note.to_string());
    }
    if server_cpus.is_none() {
        notes.push("fewer than two CPUs: server and loadgen were not pinned apart".into());
    }
    let environment = env::current(
        perf.clone(),
        server_cpus.as_ref().map(ToString::to_string),
        loadgen_cpus.as_ref().map(ToString::to_string),
    );
    let mut results = BenchResults {
        format: data::BENCH_FORMAT,
        loadgen_version: env!("CARGO_PKG_VERSION").into(),
        config,
        environment,
        started_unix_ms: now_ms(),
        finished_unix_ms: now_ms(),
        complete: false,
        notes,
        runs: Vec::new(),
    };
    let raw = dir.join("raw.json");
    results.write(&raw)?;

    let suites: Vec<Box<dyn Suite>> = results
        .config
        .suites
        .iter()
        .filter_map(|s| suite::by_name(s))
        .collect();
    let models = results.config.models.clone();
    let seed = results.config.seed.unwrap_or_default();
    // Point by point: a fresh-server point block after block, every model once per block
    // in an order of its own; an interleaved point group by group, every server up at once.
    let mut plan: Vec<Step> = Vec::new();
    for s in &suites {
        let blocks = results.config.blocks_of(s.name());
        // The Python baselines run only the suites whose flags they implement.
        let (models, skipped): (Vec<String>, Vec<String>) = models.iter().cloned().partition(|m| {
            s.takes_python_baselines()
                || !common::testkit::is_baseline(results.config.base_model(m))
        });
        if !skipped.is_empty() {
            let note = format!(
                "the {} suite does not run the Python baselines ({}): they take none of its server flags",
                s.name(),
                skipped.join(", ")
            );
            writeln!(out, "loadgen bench: {note}")?;
            results.notes.push(note);
        }
        if models.is_empty() {
            continue;
        }
        for (i, point) in s.points(&results.config).into_iter().enumerate() {
            // Models that would refuse this point's flags are left out, with a note.
            let (here, refused) = runnable(s.as_ref(), &point, &models, &results.config);
            for note in refused {
                writeln!(out, "loadgen bench: {note}")?;
                results.notes.push(note);
            }
            match interleave::design_for(&results.config, s.as_ref(), &point, &here) {
                PointDesign::Interleaved(groups) => {
                    let n = groups.len() as u32;
                    if n > 1 {
                        let note = format!(
                            "the {} suite's {} ran interleaved in {n} groups, each with {}: {} connections to every server at once exceed loadgen's {} open files",
                            s.name(),
                            point.point,
                            results.config.reference,
                            point.conns,
                            config::MAX_CONNS
                        );
                        writeln!(out, "loadgen bench: {note}")?;
                        results.notes.push(note);
                    }
                    for (g, models) in groups.into_iter().enumerate() {
                        plan.push(Step::Group {
                            suite: s.as_ref(),
                            point: point.clone(),
                            models,
                            group: g as u32 + 1,
                            rounds: results.config.slice_rounds.unwrap_or(blocks),
                            baselines_first: i == 0 && g == 0,
                        });
                    }
                }
                PointDesign::Blocks(why) => {
                    if let Some(why) = why {
                        let note = format!(
                            "the {} suite's {} ran in blocks of fresh servers, not interleaved: {why}",
                            s.name(),
                            point.point
                        );
                        writeln!(out, "loadgen bench: {note}")?;
                        results.notes.push(note);
                    }
                    for block in 1..=blocks {
                        let order = block_order(seed, s.name(), &point.point, block, here.len());
                        for (pos, &m) in order.iter().enumerate() {
                            plan.push(Step::Run(Slot {
                                suite: s.as_ref(),
                                point: point.clone(),
                                block,
                                position: pos as u32 + 1,
                                model: here[m].clone(),
                                baselines_first: i == 0 && pos == 0,
                            }));
                        }
                    }
                }
            }
        }
    }
    let total: usize = plan.iter().map(Step::records).sum();
    let planned_s: f64 = plan.iter().map(|s| s.estimate_s(&results.config)).sum();
    let mut blocks_said = results
        .config
        .suites
        .iter()
        .map(|s| format!("{s} {}", results.config.blocks_of(s)))
        .collect::<Vec<_>>()
        .join(", ");
    if let Some(r) = results.config.slice_rounds {
        blocks_said.push_str(&format!(", interleaved points {r} rounds"));
    }
    let design_said = match results.config.slicing {
        Some(sl) if results.config.design == data::Design::Interleaved => format!(
            "ping-pong interleaved, slices of {} ms warm-up + {} ms measured",
            sl.warmup_ms, sl.measured_ms
        ),
        _ => "every point in blocks of fresh servers".into(),
    };
    writeln!(
        out,
        "loadgen bench: {total} runs ({} models; blocks/rounds: {blocks_said}; {design_said}; seed {seed}; reference {}; about {}) into {}; server CPUs {}, loadgen CPUs {}",
        models.len(),
        results.config.reference,
        clock(planned_s),
        dir.display(),
        results.environment.server_cpus.as_deref().unwrap_or("any"),
        results.environment.loadgen_cpus.as_deref().unwrap_or("any"),
    )?;
    for v in &results.config.variants {
        writeln!(
            out,
            "loadgen bench: variant {} is {} with {}",
            v.name,
            v.model,
            v.settings()
        )?;
    }
    let config = results.config.clone();
    let began = std::time::Instant::now();
    let mut last_write = began;
    let mut done = 0usize;
    let mut done_s = 0.0;
    for step in &plan {
        if step.baselines_first() {
            let (suite, block) = step.suite_and_block();
            for record in suite.baselines(&config, block) {
                writeln!(out, "[baseline] {}", progress(&record))?;
                results.runs.push(record);
                results.write(&raw)?;
            }
        }
        let step_s = step.estimate_s(&config);
        let mut emit = |record: RunRecord, share: f64| -> Result<(), BenchError> {
            done += 1;
            // Time left: the plan's estimate of what remains, scaled by how the estimate
            // of what is done compares with the time it took.
            let so_far = done_s + step_s * share;
            let pace = began.elapsed().as_secs_f64() / so_far.max(1e-9);
            let left = (planned_s - so_far).max(0.0) * pace;
            writeln!(
                out,
                "[{done}/{total}, {} left] {}",
                clock(left),
                progress(&record)
            )?;
            out.flush()?;
            results.runs.push(record);
            results.finished_unix_ms = now_ms();
            // raw.json after every fresh-server run; within an interleaved group, whose
            // slices come tens of milliseconds apart, every few seconds (rewriting a
            // file of megabytes costs tens of milliseconds) and at its end.
            if share >= 1.0 || last_write.elapsed() >= RAW_WRITE_EVERY {
                results.write(&raw)?;
                last_write = std::time::Instant::now();
            }
            Ok(())
        };
        match step {
            Step::Run(slot) => {
                let ctx = Run {
                    config: &config,
                    suite: slot.suite,
                    point: &slot.point,
                    model: &slot.model,
                    block: slot.block,
                    position: slot.position,
                    cpus: server_cpus.as_ref(),
                    perf: perf.is_some(),
                    dir: &dir,
                };
                let record = ctx.run();
                emit(record, 1.0)?;
            }
            Step::Group {
                suite,
                point,
                models,
                group,
                rounds,
                ..
            } => {
                let g = interleave::Group {
                    config: &config,
                    suite: *suite,
                    point,
                    models,
                    group: *group,
                    rounds: *rounds,
                    cpus: server_cpus.as_ref(),
                    perf: perf.is_some(),
                    dir: &dir,
                };
                let n = step.records() as f64;
                let mut k = 0.0;
                let mut failed: Option<BenchError> = None;
                g.run(&mut |record| {
                    k += 1.0;
                    if let Err(e) = emit(record, k / n) {
                        let text = e.to_string();
                        failed = Some(e);
                        return Err(std::io::Error::other(text));
                    }
                    Ok(())
                })
                .map_err(|e| failed.take().unwrap_or(BenchError::Output(e)))?;
            }
        }
        if matches!(step, Step::Group { .. }) {
            results.write(&raw)?;
        }
        done_s += step_s;
    }
    results.complete = true;
    results.write(&raw)?;
    writeln!(
        out,
        "loadgen bench: wrote {}; render it with `loadgen report {}`",
        raw.display(),
        dir.display()
    )?;
    Ok(results)
}

/// (server CPUs, loadgen CPUs): the first allowed CPU and the rest, when there are two or more.
/// Taken from the affinity this process had at the first call, before the bench pinned
/// itself, so that suites' baselines get the same split later.
pub(crate) fn split_cpus() -> (Option<CpuList>, Option<CpuList>) {
    static FIRST: std::sync::OnceLock<Option<CpuList>> = std::sync::OnceLock::new();
    let Some(allowed) = FIRST.get_or_init(|| CpuList::allowed().ok()) else {
        return (None, None);
    };
    match allowed.cpus() {
        [first, rest @ ..] if !rest.is_empty() => {
            let join = |c: &[usize]| {
                c.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            };
            (join(&[*first]).parse().ok(), join(rest).parse().ok())
        }
        _ => (None, None),
    }
}

/// One step of the plan: a fresh-server run, or a group of an interleaved point.
enum Step<'a> {
    Run(Slot<'a>),
    Group {
        suite: &'a dyn Suite,
        point: Point,
        models: Vec<String>,
        group: u32,
        rounds: u32,
        /// The suite's baselines run before it (its first point's first group).
        baselines_first: bool,
    },
}

impl Step<'_> {
    /// Records it writes: one run, or one per model per counted round.
    fn records(&self) -> usize {
        match self {
            Step::Run(_) => 1,
            Step::Group { models, rounds, .. } => models.len() * *rounds as usize,
        }
    }

    /// Its expected length in seconds, for the time left: a run's warm-up and window plus
    /// about 0.4 s to start and stop its server; a group's slices (the uncounted round
    /// included) plus a second to start its servers and open their connections.
    fn estimate_s(&self, config: &BenchConfig) -> f64 {
        match self {
            Step::Run(slot) => warmup_of(&slot.point.args).as_secs_f64() + config.duration_s + 0.4,
            Step::Group {
                point,
                models,
                rounds,
                ..
            } => {
                let sl = config.slicing.unwrap_or(data::SliceSettings {
                    warmup_ms: 20.0,
                    measured_ms: 30.0,
                    drain_limit_ms: 0.0,
                });
                let slice = (sl.warmup_ms + sl.measured_ms) / 1e3 + 0.01;
                let n = models.len() as f64;
                let perf_round = if config.perf { 1.2 } else { 0.0 };
                1.0 + point.conns as f64 * 1e-4 * n
                    + n * (slice * (f64::from(*rounds) + 1.0) + perf_round)
            }
        }
    }

    fn baselines_first(&self) -> bool {
        match self {
            Step::Run(slot) => slot.baselines_first,
            Step::Group {
                baselines_first, ..
            } => *baselines_first,
        }
    }

    fn suite_and_block(&self) -> (&dyn Suite, u32) {
        match self {
            Step::Run(slot) => (slot.suite, slot.block),
            Step::Group { suite, .. } => (*suite, 1),
        }
    }
}

/// One planned run.
struct Slot<'a> {
    suite: &'a dyn Suite,
    point: Point,
    block: u32,
    position: u32,
    model: String,
    /// The suite's baselines run before this one (each block of its first point).
    baselines_first: bool,
}

/// The models that can run `point` of `suite`, and one note per reason for those that
/// cannot (`the spread suite's p2-exclusive does not run tokio, smol (--accept exclusive:
/// ...)`), models named in their order. A variant is asked about as its model.
fn runnable(
    suite: &dyn Suite,
    point: &Point,
    models: &[String],
    config: &BenchConfig,
) -> (Vec<String>, Vec<String>) {
    let mut here = Vec::new();
    let mut refused: Vec<(String, Vec<String>)> = Vec::new();
    for m in models {
        match suite.refuses(point, config.base_model(m)) {
            None => here.push(m.clone()),
            Some(why) => match refused.iter_mut().find(|(w, _)| *w == why) {
                Some((_, ms)) => ms.push(m.clone()),
                None => refused.push((why, vec![m.clone()])),
            },
        }
    }
    let notes = refused
        .into_iter()
        .map(|(why, ms)| {
            format!(
                "the {} suite's {} does not run {} ({why}): not supported",
                suite.name(),
                point.point,
                ms.join(", ")
            )
        })
        .collect();
    (here, notes)
}

/// The order of `n` models in one block of one point: a permutation drawn from the bench's
/// seed, the suite, the point and the block, so that a recorded seed replays every order.
pub fn block_order(seed: u64, suite: &str, point: &str, block: u32, n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    crate::rng::Rng::keyed(seed, &[suite, point], u64::from(block)).shuffle(&mut order);
    order
}

/// Seconds as `1h02m`, `3m05s` or `42s`.
fn clock(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, m, _) => format!("{h}h{m:02}m"),
    }
}

/// One model at one point.
struct Run<'a> {
    config: &'a BenchConfig,
    suite: &'a dyn Suite,
    point: &'a Point,
    model: &'a str,
    block: u32,
    position: u32,
    cpus: Option<&'a CpuList>,
    perf: bool,
    dir: &'a Path,
}

impl Run<'_> {
    fn run(&self) -> RunRecord {
        let mut record = RunRecord::blank(
            self.suite.name(),
            &self.point.point,
            self.point.kind,
            self.point.conns,
            self.block,
            self.model,
        );
        record.position = Some(self.position);
        record.started_unix_ms = Some(now_ms());
        let steal_before = crate::sys::cpu_steal_ticks();
        record.args.clone_from(&self.point.args);
        let bin = self.config.server_program(self.model);
        let mut server_args: Vec<String> = if self.suite.framed() {
            vec!["--framed".into()]
        } else {
            vec![]
        };
        server_args.extend(self.point.server_args.iter().cloned());
        let variant = self.config.variant(self.model);
        if let Some(v) = variant {
            server_args.extend(v.server_args.iter().cloned());
        }
        record.server_args.clone_from(&server_args);
        // Service times: the server writes them at SIGTERM, read back after it stopped.
        // It leaves out the requests of loadgen's warm-up, as every other figure does.
        let service_file = self.suite.service_times().then(|| {
            let name = format!(
                ".service-{}-{}-{}.json",
                self.model, record.point, self.block
            );
            self.dir.join(name)
        });
        if let Some(f) = &service_file {
            server_args.extend(["--stats-file".into(), f.display().to_string()]);
            let warmup = warmup_of(&self.point.args);
            if !warmup.is_zero() {
                let ms = warmup.as_millis().to_string() + "ms";
                server_args.extend(["--stats-warmup".into(), ms]);
            }
        }
        let env = variant.map_or(&[][..], |v| &v.env[..]);
        let procs = config::server_procs_for(self.point.conns, self.config.server_procs);
        record.server_procs = procs;
        let mut server = match ServerGroup::start(&bin, procs, &server_args, env, self.cpus) {
            Ok(s) => s,
            Err(why) => {
                record.status = RunStatus::ServerFailed(why);
                return record;
            }
        };
        record.ready_line = Some(server.ready_line());
        // A prefork server's workers (`--processes`) are its children, forked before its
        // readiness line: measured with it.
        let pids = server::with_children(server.pids());
        record.rss_start_kib =
            probe::sample_all(&pids).map(|s| s.rss_pages * crate::sys::page_size() / 1024);
        let watch = MemoryWatch::start(pids.clone());
        // perf counts the measured window only: on at the warm-up's end (before the load
        // when there is none, once perf has attached), off when the load is over. The
        // per-call breakdown costs perf time to close, so only a point's first block has it.
        let warmup = warmup_of(&self.point.args);
        let perf = if self.perf {
            let out = self.dir.join(format!(".perf-{}.csv", pids[0]));
            perf::PerfStat::start(&pids, &out, self.block == 1)
        } else {
            None
        };
        let (perf, control) = match perf {
            Some((p, mut c)) if warmup.is_zero() => {
                let on = c.enable();
                (Some(p), Some(std::thread::spawn(move || (c, on))))
            }
            Some((p, mut c)) => (
                Some(p),
                Some(std::thread::spawn(move || {
                    std::thread::sleep(warmup);
                    let on = c.enable();
                    (c, on)
                })),
            ),
            None => (None, None),
        };
        let pid_list = pids.iter().map(u32::to_string).collect::<Vec<_>>();
        let mut argv = vec!["loadgen".to_string()];
        argv.extend(self.point.args.iter().cloned());
        argv.extend(config::client_spread(self.point.conns));
        argv.extend([
            "--port".into(),
            server.port().to_string(),
            "--server-pid".into(),
            pid_list.join(","),
        ]);
        argv.extend(["--summary-interval".into(), "1h".into()]);
        let outcome = Opts::try_parse_from(&argv)
            .map_err(|e| {
                e.to_string()
                    .lines()
                    .next()
                    .unwrap_or("bad flags")
                    .to_string()
            })
            .and_then(|opts| {
                crate::run_to(opts, &mut io::sink(), false).map_err(|e| e.to_string())
            });
        let ok = outcome.as_ref().map_or(0, |o| o.report.ok);
        let window = control
            .and_then(|h| h.join().ok())
            .map(|(mut c, on)| on && c.disable());
        if let Some(p) = perf {
            let counts = p.finish(ok);
            if window == Some(true) {
                record.syscalls = counts.syscalls;
                record.server_cpu_ns = counts.cpu_ns;
            }
        }
        record.steal_pct = steal_before
            .zip(crate::sys::cpu_steal_ticks())
            .and_then(|(a, b)| crate::sys::steal_pct(a, b));
        let (rss_peak, vsz_peak) = watch.finish();
        record.rss_peak_kib = Some(rss_peak);
        record.vsz_peak_kib = Some(vsz_peak);
        match outcome {
            Ok(o) => {
                let r = o.report;
                record.messages_per_s = (r.elapsed_s > 0.0).then(|| r.ok as f64 / r.elapsed_s);
                record.mb_per_s = Some(r.payload_mb_per_s);
                record.report = Some(r);
            }
            Err(why) => record.status = RunStatus::LoadFailed(why),
        }
        if let Some(exit) = server.exited() {
            record.status = RunStatus::ServerDied(exit);
        }
        server.stop();
        // A prefork server's workers each left their part of the stats file beside it.
        let processes = flag_value(&server_args, "--processes").unwrap_or(1);
        if let Some(f) = service_file.as_deref().filter(|_| processes > 1) {
            record.workers = data::Workers::take(f, processes);
        }
        record.service = service_file.and_then(|f| data::ServiceTimes::take(&f));
        record
    }
}

/// The number after `flag` among some flags (`--processes 4` -> 4), if there is one.
fn flag_value(args: &[String], flag: &str) -> Option<usize> {
    let i = args.iter().position(|a| a == flag)?;
    args.get(i + 1)?.parse().ok()
}

/// The `--warmup` among a point's loadgen flags (zero without one).
fn warmup_of(args: &[String]) -> std::time::Duration {
    args.iter()
        .position(|a| a == "--warmup")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| common::units::parse_duration(v).ok())
        .unwrap_or_default()
}

/// One line about a finished run.
fn progress(r: &RunRecord) -> String {
    let head = format!(
        "block {}{} {} {} {}:",
        r.block,
        r.position.map(|p| format!(".{p}")).unwrap_or_default(),
        r.suite,
        r.point,
        r.model
    );
    match (&r.status, &r.report) {
        (RunStatus::Ok, Some(rep)) => format!(
            "{head} {:.0} msg/s, p50 {} us, p95 {} us, errors {}, server CPU {:.0}% ({:.2} us/msg){}{}",
            r.messages_per_s.unwrap_or(0.0),
            rep.latency_us.p50,
            rep.latency_us.p95,
            rep.errors,
            r.server_cpu_pct().unwrap_or(0.0),
            r.cpu_us_per_message().unwrap_or(0.0),
            r.syscalls
                .as_ref()
                .map(|s| format!(", {:.2} syscalls/msg", s.per_message))
                .unwrap_or_default(),
            if r.had_steal() {
                format!(", steal {:.1}%", r.steal_pct.unwrap_or(0.0))
            } else {
                String::new()
            },
        ),
        (status, _) => format!(
            "{head} {status:?}{}",
            r.mb_per_s
                .map(|v| format!(", {v:.1} MB/s"))
                .unwrap_or_default()
        ),
    }
}

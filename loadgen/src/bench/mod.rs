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
//! Modules, each importing only those below it: this file (the bench, step after step) over
//! [`schedule`] (the plan's steps and orders), [`fresh`] (one fresh-server run) and
//! [`interleave`] (an interleaved point's group); [`config`] (flags checked, with [`paths`])
//! over [`suite`] (what load: one module per suite, [`point`] its typed settings, [`names`]
//! the suites' and kinds' names);
//! [`capacity`] (connections per process, spread over processes and addresses); [`server`]
//! (processes started, stopped, stopped on Ctrl-C), [`perf`] (system calls), [`env`](mod@env) (the
//! machine), [`data`] (raw.json). The bench stands on the run layer (`crate::run`, the
//! engine, the plan) and never on the summary above it (`crate::report`).

pub mod capacity;
pub mod config;
pub mod data;
pub mod env;
pub mod fresh;
pub mod interleave;
pub mod names;
pub mod paths;
pub mod perf;
pub mod point;
pub mod schedule;
pub mod server;
pub mod suite;

use std::io::{self, Write};
use std::path::PathBuf;

use thiserror::Error;

use crate::opts::BenchArgs;
use data::record::{RunRecord, RunStatus};
use data::{BenchResults, DataError};
use env::{now_ms, split_cpus};
use interleave::PointDesign;
use schedule::{Slot, Step, block_order, clock, runnable};
use suite::spec::Suite;

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
        .map(|&s| suite::by_name(s))
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
            s.takes_python_baselines() || !common::models::is_baseline(results.config.base_model(m))
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
                            capacity::MAX_CONNS
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
        .map(|&s| format!("{s} {}", results.config.blocks_of(s)))
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
                let ctx = fresh::Run {
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
            "{head} {:.0} msg/s, p50 {} us, p95 {} us, errors {}{}, server CPU {:.0}% ({:.2} us/msg){}{}",
            r.messages_per_s.unwrap_or(0.0),
            rep.latency_us.p50,
            rep.latency_us.p95,
            rep.errors,
            match rep.unsent {
                0 => String::new(),
                n => format!(" and {n} never sent"),
            },
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

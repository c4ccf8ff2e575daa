//! The interleaved design (`loadgen bench --design interleaved`, the default for the
//! ping-pong sweep and its fixed-rate point): every server of a point starts once and stays
//! up, loadgen holds the point's connections to each, and runs rounds; a round visits
//! every server once for a slice ([`driver`]), in an order drawn from the bench's seed.
//! The noise of a moment on a small shared machine then hits every model alike, where a
//! fresh server measured for a second at a time meets a different second each run.
//!
//! Before the counted rounds, one round that no verdict counts: every server's first visit
//! at the point's load (threads and buffers come up) and, with perf, the one in which its
//! system calls are counted (perf's tracepoints cost the server CPU per call, so the
//! rounds that measure CPU run without them).
//!
//! Each counted slice becomes one [`RunRecord`], whose `block` pairs it with the other
//! models' slices of the same round: the verdicts and tables read them as they read
//! fresh-server blocks.

pub mod cpu;
pub mod driver;

use std::net::SocketAddr;
use std::time::Duration;

use common::pin::CpuList;

use super::capacity::{self, MAX_CONNS};
use super::config;
use super::data::record::{RunRecord, RunStatus, SliceFigures, Syscalls};
use super::data::{BenchConfig, Design};
use super::names::{PointKind, SuiteName};
use super::perf;
use super::point::Point;
use super::schedule::block_order;
use super::server::ServerGroup;
use super::suite::spec::Suite;
use crate::probe::{self, CpuUsage, Environment, ServerUsage};
use crate::run::report::{Meta, RunInfo, RunReport, Settings};
use driver::{Driver, Load, SliceOutcome, Slicing};

/// How one point runs.
#[derive(Debug, Clone, PartialEq)]
pub enum PointDesign {
    /// Interleaved, in these groups of models (one group when all fit; each group holds
    /// the reference).
    Interleaved(Vec<Vec<String>>),
    /// Fresh servers in blocks, and why (None: the bench asked for blocks, or the suite
    /// needs a fresh start).
    Blocks(Option<String>),
}

/// The design of `point`: interleaved where the bench asks for it, the suite's point is
/// one a slice can measure (ping-pong, closed loop or fixed rate, one server process), and
/// at least the reference and one other model fit in loadgen's open files at once.
pub fn design_for(
    config: &BenchConfig,
    suite: &dyn Suite,
    point: &Point,
    models: &[String],
) -> PointDesign {
    let sliceable = suite.name() == SuiteName::PingPong
        && matches!(point.kind, PointKind::Sweep | PointKind::FixedRate);
    if config.design != Design::Interleaved || !sliceable {
        return PointDesign::Blocks(None);
    }
    if capacity::server_procs_for(point.conns, config.server_procs) > 1 {
        return PointDesign::Blocks(Some(format!(
            "{} connections need {} server processes each",
            point.conns, config.server_procs
        )));
    }
    let fit = (MAX_CONNS / point.conns.max(1)) as usize;
    if fit >= models.len() {
        return PointDesign::Interleaved(vec![models.to_vec()]);
    }
    if fit < 2 || !models.contains(&config.reference) {
        return PointDesign::Blocks(Some(format!(
            "{} connections to each of two servers exceed loadgen's {} open files",
            point.conns, MAX_CONNS
        )));
    }
    let others: Vec<String> = models
        .iter()
        .filter(|m| **m != config.reference)
        .cloned()
        .collect();
    let groups = others
        .chunks(fit - 1)
        .map(|chunk| {
            let mut g = vec![config.reference.clone()];
            g.extend(chunk.iter().cloned());
            g
        })
        .collect();
    PointDesign::Interleaved(groups)
}

/// The order of `n` servers in one round of one group of a point: drawn from the seed, the
/// suite, the point, the group and the round, so that a recorded seed replays every order.
pub fn round_order(
    seed: u64,
    suite: SuiteName,
    point: &str,
    group: u32,
    round: u32,
    n: usize,
) -> Vec<usize> {
    let key = format!("{point}/interleaved/group-{group}");
    block_order(seed, suite, &key, round, n)
}

/// One group of one interleaved point.
pub struct Group<'a> {
    /// The bench's settings.
    pub config: &'a BenchConfig,
    /// The suite.
    pub suite: &'a dyn Suite,
    /// The point.
    pub point: &'a Point,
    /// Its models, the reference first.
    pub models: &'a [String],
    /// Group number, from 1, and how many groups the point has.
    pub group: u32,
    /// Counted rounds.
    pub rounds: u32,
    /// Where the servers run.
    pub cpus: Option<&'a CpuList>,
    /// Count system calls with perf (in the uncounted first round).
    pub perf: bool,
    /// Results folder (perf's scratch files).
    pub dir: &'a std::path::Path,
}

/// A server of the group, up for the whole point.
struct Up {
    model: String,
    server: ServerGroup,
    pids: Vec<u32>,
    index: usize,
    settings: Settings,
    server_args: Vec<String>,
    ready_line: String,
    rss_start_kib: Option<u64>,
    rss_peak_kib: u64,
    vsz_peak_kib: u64,
    syscalls: Option<Syscalls>,
    /// Set once it died: its slices stop.
    dead: Option<String>,
}

/// What the group's settings say about the load: the message size, and open or closed.
fn load_of(point: &Point) -> (usize, Load) {
    let args = point.load_args();
    let load = match args.rate {
        Some(rate) if rate > 0.0 => Load::Open { rate },
        _ => Load::Closed,
    };
    (args.message_size as usize, load)
}

impl Group<'_> {
    /// Runs the group: starts its servers, opens their connections, runs the uncounted
    /// round and the counted ones, and hands each counted slice's record to `emit` as it
    /// ends (with a line of progress); then stops the servers.
    pub fn run(
        &self,
        emit: &mut dyn FnMut(RunRecord) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let slicing = self.config.slicing.unwrap_or(super::data::SliceSettings {
            warmup_ms: 20.0,
            measured_ms: 30.0,
            drain_limit_ms: config::DRAIN_LIMIT_MS,
        });
        let cut = Slicing {
            warmup: Duration::from_secs_f64(slicing.warmup_ms / 1e3),
            measured: Duration::from_secs_f64(slicing.measured_ms / 1e3),
            drain_limit: Duration::from_secs_f64(slicing.drain_limit_ms / 1e3),
        };
        let (size, load) = load_of(self.point);
        let mut driver = match Driver::new(size) {
            Ok(d) => d,
            Err(e) => {
                for m in self.models {
                    let mut r = self.record(m, 1, 1);
                    r.status = RunStatus::LoadFailed(format!("cannot start the event loop: {e}"));
                    emit(r)?;
                }
                return Ok(());
            }
        };
        let mut up: Vec<Up> = Vec::new();
        for m in self.models {
            match self.start(m, &mut driver) {
                Ok(u) => up.push(u),
                Err(why) => {
                    let mut r = self.record(m, 1, 1);
                    r.status = why;
                    emit(r)?;
                }
            }
        }
        // The uncounted round: every server's first visit at this load; perf counts
        // system calls in it.
        let order = round_order(
            self.config.seed.unwrap_or_default(),
            self.suite.name(),
            &self.point.point,
            self.group,
            0,
            up.len(),
        );
        for &i in &order {
            let u = &mut up[i];
            let counted = self
                .perf
                .then(|| {
                    let out = self.dir.join(format!(".perf-{}.csv", u.pids[0]));
                    perf::PerfStat::start(&u.pids, &out, true)
                })
                .flatten();
            match counted {
                Some((stat, mut control)) => {
                    let mut on = false;
                    let mut off = false;
                    let o = driver.slice(u.index, &u.pids, load, &cut, &mut |start| {
                        if start {
                            on = control.enable();
                        } else {
                            off = control.disable();
                        }
                    });
                    let counts = stat.finish(o.stats.tally.ok);
                    if on && off {
                        u.syscalls = counts.syscalls;
                    }
                }
                None => {
                    driver.slice(u.index, &u.pids, load, &cut, &mut |_| {});
                }
            }
        }
        for round in 1..=self.rounds {
            let order = round_order(
                self.config.seed.unwrap_or_default(),
                self.suite.name(),
                &self.point.point,
                self.group,
                round,
                up.len(),
            );
            for (pos, &i) in order.iter().enumerate() {
                let u = &mut up[i];
                if u.dead.is_some() {
                    continue;
                }
                let mut usage = (None, None);
                let pids = u.pids.clone();
                let o = driver.slice(u.index, &u.pids, load, &cut, &mut |start| {
                    let s = probe::sample_all(&pids);
                    if start { usage.0 = s } else { usage.1 = s }
                });
                let mut r = self.record(&u.model, round, pos as u32 + 1);
                self.fill(&mut r, u, o, usage);
                if let Some(exit) = u.server.exited() {
                    r.status = RunStatus::ServerDied(exit.clone());
                    u.dead = Some(exit);
                }
                emit(r)?;
            }
        }
        for u in &mut up {
            u.server.stop();
        }
        Ok(())
    }

    /// Starts `model`'s server and opens the point's connections to it.
    fn start(&self, model: &str, driver: &mut Driver) -> Result<Up, RunStatus> {
        let mut server_args = self.point.server_args.clone();
        server_args.extend(self.config.model_server_args(model));
        let variant = self.config.variant(model);
        let env = variant.map_or(&[][..], |v| &v.env[..]);
        let bin = self.config.server_program(model);
        let server = ServerGroup::start(&bin, 1, &server_args, env, self.cpus)
            .map_err(RunStatus::ServerFailed)?;
        let pids = server.pids();
        let rss_start_kib =
            probe::sample_all(&pids).map(|s| s.rss_pages * crate::sys::page_size() / 1024);
        let port = server.port();
        // What a one-server loadgen run of this point would record as its settings.
        let mut args = self.point.load_args();
        args.port = port;
        args.server_pid.clone_from(&pids);
        let settings = crate::plan::Plan::from_args(&args)
            .map(|p| Settings::of(&p))
            .map_err(|e| {
                let e = e.to_string();
                RunStatus::LoadFailed(e.lines().next().unwrap_or("bad flags").into())
            })?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let limit = Duration::from_secs(5) + Duration::from_millis(self.point.conns);
        let (index, open) = driver.add_server(addr, self.point.conns as usize, limit);
        let ready_line = server.ready_line();
        let mut u = Up {
            model: model.to_string(),
            server,
            pids,
            index,
            settings,
            server_args,
            ready_line,
            rss_start_kib,
            rss_peak_kib: 0,
            vsz_peak_kib: 0,
            syscalls: None,
            dead: None,
        };
        if open < self.point.conns as usize {
            // Its slices still run (their connections reopen each slice); the records say
            // how many were open.
            crate::out::warn(format_args!(
                "loadgen bench: {model} accepted {open} of {} connections at {}",
                self.point.conns, self.point.point
            ));
        }
        if let Some(exit) = u.server.exited() {
            u.dead = Some(exit.clone());
            return Err(RunStatus::ServerDied(exit));
        }
        Ok(u)
    }

    /// A record of this group's point for `model` in `round` at `position`.
    fn record(&self, model: &str, round: u32, position: u32) -> RunRecord {
        let mut r = RunRecord::blank(
            self.suite.name(),
            &self.point.point,
            self.point.kind,
            self.point.conns,
            (self.group - 1) * self.rounds + round,
            model,
        );
        r.position = Some(position);
        r.args = self.point.args();
        r
    }

    /// The slice's figures into its record.
    fn fill(
        &self,
        r: &mut RunRecord,
        u: &mut Up,
        o: SliceOutcome,
        usage: (Option<probe::ProcSample>, Option<probe::ProcSample>),
    ) {
        let ok = o.stats.tally.ok;
        r.started_unix_ms = Some(o.started_unix_ms);
        r.server_args.clone_from(&u.server_args);
        r.ready_line = Some(u.ready_line.clone());
        r.server_cpu_ns = o.server_cpu_ns;
        r.steal_pct = o.steal_ticks.and_then(|(a, b)| crate::sys::steal_pct(a, b));
        if o.measured_s > 0.0 {
            r.messages_per_s = Some(ok as f64 / o.measured_s);
            r.mb_per_s = Some(ok as f64 * u.settings.message_size as f64 / 1e6 / o.measured_s);
        }
        let server = usage.0.zip(usage.1).map(|(a, b)| {
            let mut s = ServerUsage::between(u.pids[0], &a, &b, b.alive);
            s.processes = u.pids.len() as u32;
            s
        });
        if let Some(s) = &server {
            u.rss_peak_kib = u.rss_peak_kib.max(s.rss_kib);
            u.vsz_peak_kib = u.vsz_peak_kib.max(s.vsz_kib);
        }
        r.rss_start_kib = u.rss_start_kib;
        r.rss_peak_kib = Some(u.rss_peak_kib);
        r.vsz_peak_kib = Some(u.vsz_peak_kib);
        if r.block == (self.group - 1) * self.rounds + 1 {
            r.syscalls = u.syscalls.clone().map(|mut s| {
                // Per message of the slice perf counted, already; kept as perf gave it.
                s.top.truncate(5);
                s
            });
        }
        let loadgen_cpu = CpuUsage {
            user_s: o.loadgen_cpu_ns as f64 / 1e9,
            ..CpuUsage::default()
        };
        let meta = Meta {
            run: RunInfo {
                settings: u.settings.clone(),
                // The bench's environment, recorded once at the top of raw.json, is every
                // slice's: not repeated in thousands of slices.
                environment: Environment::default(),
                parts: 1,
                started_unix_ms: o.started_unix_ms,
                elapsed_s: o.measured_s,
                planned_samples: None,
            },
            users: (o.connected as u64, o.connected as u64),
            intervals: Vec::new(),
            loadgen_cpu,
            server,
        };
        r.report = Some(RunReport::build(meta, &o.stats));
        r.slice = Some(SliceFigures {
            round: r.block - (self.group - 1) * self.rounds,
            group: self.group,
            warmup_s: o.warmup_s,
            measured_s: o.measured_s,
            drain_s: o.drain_s,
            loadgen_cpu_ns: o.loadgen_cpu_ns,
            connected: o.connected as u64,
            abandoned: o.abandoned,
        });
    }
}

#[cfg(test)]
mod tests;

//! One model at one point on a fresh server ([`Run`]): the server started from its build on
//! its own CPU, its readiness line awaited, its memory watched and its system calls counted
//! by perf over the measured window, the point's load run in-process through the run layer
//! (`crate::run::load`) with the point's typed settings, then the server stopped and its
//! service times gathered.

use std::io;
use std::path::Path;
use std::time::Duration;

use common::pin::CpuList;

use super::capacity;
use super::data::BenchConfig;
use super::data::record::{RunRecord, RunStatus, ServiceTimes, Workers};
use super::env::now_ms;
use super::perf;
use super::point::Point;
use super::server::{self, MemoryWatch, ServerGroup};
use super::suite::spec::Suite;
use crate::plan::Plan;
use crate::probe;
use crate::run::load;

/// One model at one point.
pub struct Run<'a> {
    pub config: &'a BenchConfig,
    pub suite: &'a dyn Suite,
    pub point: &'a Point,
    pub model: &'a str,
    pub block: u32,
    pub position: u32,
    pub cpus: Option<&'a CpuList>,
    pub perf: bool,
    pub dir: &'a Path,
}

impl Run<'_> {
    /// Starts the server, runs the point's load against it, stops it: the record.
    pub fn run(&self) -> RunRecord {
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
        record.args = self.point.args();
        let bin = self.config.server_program(self.model);
        let mut server_args: Vec<String> = if self.suite.framed() {
            vec!["--framed".into()]
        } else {
            vec![]
        };
        server_args.extend(self.point.server_args.iter().cloned());
        server_args.extend(self.config.model_server_args(self.model));
        let variant = self.config.variant(self.model);
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
            let warmup = self.point.warmup();
            if !warmup.is_zero() {
                let ms = warmup.as_millis().to_string() + "ms";
                server_args.extend(["--stats-warmup".into(), ms]);
            }
        }
        let env = variant.map_or(&[][..], |v| &v.env[..]);
        let procs = capacity::server_procs_for(self.point.conns, self.config.server_procs);
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
        let warmup = self.point.warmup();
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
        // The point's settings, spread over processes and source addresses as its
        // connections need, aimed at this server and measuring it; no `summary +` lines.
        let mut args = self.point.load_args();
        capacity::client_spread(self.point.conns, &mut args);
        args.port = server.port();
        args.server_pid.clone_from(&pids);
        args.summary_interval = Duration::from_secs(3600);
        let outcome = Plan::from_args(&args)
            .map_err(|e| e.to_string())
            .and_then(|plan| load::run(&plan, &mut io::sink(), false).map_err(|e| e.to_string()));
        let ok = outcome.as_ref().map_or(0, |r| r.ok);
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
            Ok(r) => {
                record.messages_per_s =
                    (r.run.elapsed_s > 0.0).then(|| r.ok as f64 / r.run.elapsed_s);
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
        let processes = self.point.processes;
        if let Some(f) = service_file.as_deref().filter(|_| processes > 1) {
            record.workers = Workers::take(f, processes);
        }
        record.service = service_file.and_then(|f| ServiceTimes::take(&f));
        record
    }
}

//! Command-line flags, parsed once into this "low" form (clap derive; the doc comments are
//! the help text). [`crate::plan::Plan`] checks them and turns them into what the engine uses.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use common::pin::CpuList;
use common::units::{parse_duration, parse_size};

/// Load generator for echolab's echo servers: JMeter-style thread groups (N users x L loops,
/// ramp-up) and timed ping-pong runs on an event-driven engine. Every echo is checked byte for
/// byte and every latency goes into an HDR histogram. Load only ever goes to loopback
/// addresses (127.0.0.0/8, ::1).
#[derive(Debug, Clone, Parser)]
#[command(
    name = "loadgen",
    version,
    about,
    long_about = None,
    args_conflicts_with_subcommands = true
)]
pub struct Opts {
    /// Something other than a load run.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// The load run (when no subcommand is given).
    #[command(flatten)]
    pub load: LoadArgs,
}

/// Subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Merge the JSON results of several runs (processes or machines) exactly and print the
    /// report: counts add up, histograms merge.
    Merge(MergeArgs),
    /// Run suites (ping-pong sweep, fixed rate, JMeter plans, frames, mixed, spread) over the
    /// models, each server started fresh from its release build and pinned apart from
    /// loadgen, in blocks that run every model once at a point in a shuffled order; writes
    /// OUT/raw.json after every run. Render it with `loadgen report OUT`.
    Bench(BenchArgs),
    /// Render DIR/raw.json (from `loadgen bench`) as DIR/summary.md with SVG charts, and as
    /// DIR/report.html, one self-contained page with interactive charts.
    Report(ReportArgs),
    /// Measure the loopback limit one way: one connection, one thread writing as fast as
    /// the socket takes it to loadgen's own discard sink (or to a discard server on
    /// --port), for --bytes or --duration; prints MB/s. Nothing is echoed or checked.
    Stream(StreamArgs),
    /// Read a JMeter results file (JTL, CSV) into loadgen's report: the same figures, the
    /// same JSON, so `loadgen compare` can put a JMeter run beside loadgen runs.
    ImportJtl(ImportJtlArgs),
    /// Put runs (loadgen --json files, imported JMeter runs) side by side in one Markdown
    /// table; or, given two bench folders (before and after a change), give every model at
    /// every point both share a verdict: faster, slower, equivalent or inconclusive.
    Compare(CompareArgs),
}

/// `loadgen import-jtl FILE.jtl [--json OUT] [--threads N --loops L] ...`.
#[derive(Debug, Clone, Args)]
pub struct ImportJtlArgs {
    /// JMeter's results file, CSV, with or without a header line, timestamps in ms.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// Write the report as JSON (as `loadgen --json`).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Threads of the plan [default: the distinct thread names in the file].
    #[arg(long, value_name = "N")]
    pub threads: Option<u64>,

    /// Loops of the plan [default: samples per thread, when every thread has as many].
    #[arg(long, value_name = "L")]
    pub loops: Option<u64>,

    /// Ramp-up of the plan (recorded only).
    #[arg(long, default_value = "0s", value_parser = duration_arg, value_name = "DUR")]
    pub rampup: Duration,

    /// The server's address (recorded only) [default: unknown].
    #[arg(long, value_name = "HOST:PORT")]
    pub target: Option<String>,

    /// What made the file, as the report will name it.
    #[arg(long, default_value = "jmeter", value_name = "NAME")]
    pub generator: String,

    /// JMeter's console output: its last `summary =` line is printed and checked against
    /// the file (JMeter 2.13 and 5.x formats).
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,

    /// Pass/fail thresholds, as for a load run (`loadgen --help`): checked against the
    /// imported run; a crossed one prints a line after the report and exits 3.
    #[arg(long, value_name = "LIST")]
    pub fail_if: Vec<String>,
}

/// `loadgen compare A.json B.json ...`.
#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// Reports written by `loadgen --json`, `loadgen merge --json` or `loadgen import-jtl
    /// --json`; each row is named by its file name without `.json`. Or exactly two folders
    /// written by `loadgen bench` (A, the baseline, then B).
    #[arg(required = true, num_args = 1.., value_name = "FILE|DIR")]
    pub files: Vec<PathBuf>,

    /// Two bench folders: margin of the verdicts, a fraction [default: A's --margin].
    #[arg(long, value_name = "X")]
    pub margin: Option<f64>,

    /// Two bench folders: the model both ratios are taken to [default: A's reference if B
    /// ran it, else B's if A ran it].
    #[arg(long, value_name = "MODEL")]
    pub reference: Option<String>,

    /// Two or more bench folders side by side: each model's ratio to the reference as each
    /// bench measured it (paired within the bench), and whether the intervals agree. For
    /// benches made at other hours or with other designs, whose raw figures differ with the
    /// machine's moment but whose ratios should not.
    #[arg(long)]
    pub ratios: bool,

    /// Two bench folders: also write the comparison as one self-contained HTML page to
    /// FILE: the table, sortable, and a forest plot per point and metric.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

/// `loadgen bench [--suite ..] [--models ..] [--conns ..] ...`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Suites, comma-separated: pingpong, plans, frames (1, 16 and 100 MiB frames, 2000,
    /// 200 and 100 of them times --scale, with the loopback limit from iperf3 and `loadgen
    /// stream` measured for --duration each round), mixed (5 ms of CPU and 55 ms of
    /// backend wait per request at 1 to 23 connections, then 50 with and without
    /// `--max-conns 12`; not run unless named: about 13 minutes a round at 10s), spread (2
    /// and 4 prefork workers in each accept mode under the mixed workload, each worker's
    /// share of connections and requests; not run unless named: about 5 minutes a block at
    /// 6s).
    #[arg(long, default_value = "pingpong,plans,frames", value_name = "LIST")]
    pub suite: String,

    /// Models, comma-separated (thread, epoll, tokio, ...), or `all` (the Rust models).
    /// The studies' Python servers are baselines, run only when named here (py-asyncio,
    /// py-asyncio-proto, py-asyncio-sock, py-asyncio-buffered, py-uvloop, py-uvloop-proto,
    /// py-selectors, py-thread, py-gevent) or added by --baselines.
    #[arg(long, default_value = "all", value_name = "LIST")]
    pub models: String,

    /// Add every Python baseline to --models. They run the pingpong, plans and frames
    /// suites like the models; the mixed suite skips them (they take no --cpu-work).
    #[arg(long)]
    pub baselines: bool,

    /// Folder holding the baselines' echo-py-<name> scripts [default: baselines/python of
    /// the checkout loadgen was built in (found above loadgen's own folder), else of the
    /// current directory].
    #[arg(long, value_name = "DIR")]
    pub baselines_dir: Option<PathBuf>,

    /// A model run under other settings, as a model of its own in the same shuffled
    /// blocks: `NAME=MODEL[:KEY=VALUE..][:--flag[=value]..]`, environment variables and
    /// server flags separated by `:` (`glommio-spin=glommio:ECHO_GLOMMIO_SPIN=50us`,
    /// `epoll-2=epoll:--threads=2`), and `bin=PATH` for another build of the model's
    /// program (`epoll-before=epoll:bin=/tmp/echo-epoll-main`: a change against the
    /// binary from before it, in the same blocks or slices; PATH without `:`).
    /// Repeatable. Variants join --models (or are named there); the report compares each
    /// with its model in the same blocks.
    #[arg(long = "variant", value_name = "NAME=MODEL[:..]")]
    pub variants: Vec<String>,

    /// Connection counts of the ping-pong sweep, comma-separated (at most 19900 each: one
    /// process's open files).
    #[arg(long, default_value = "10,100,1000,10000,19900", value_name = "LIST")]
    pub conns: String,

    /// Length of each timed run.
    #[arg(long, default_value = "10s", value_parser = duration_arg, value_name = "DUR")]
    pub duration: Duration,

    /// Blocks per point: a block runs every model once at the point, in a fresh shuffled
    /// order; verdicts rank models by their per-block ratio to --reference. `N` for every
    /// suite, then `SUITE=N` entries for suites that run another number
    /// (`10,plans=3,frames=3`). `--rounds` is an older name for it.
    #[arg(
        long,
        alias = "rounds",
        default_value = "10",
        value_name = "N[,SUITE=N..]"
    )]
    pub blocks: String,

    /// Seed of the shuffled orders (recorded in raw.json; give it again to replay an
    /// order) [default: from the clock].
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// Model every verdict compares the others with [default: epoll, or the first model
    /// when epoll is not run].
    #[arg(long, value_name = "MODEL")]
    pub reference: Option<String>,

    /// Margin of the verdicts, a fraction: faster or slower only when the 95% interval of
    /// the ratio clears 1 by more than it; equivalent when it lies within 1 +/- it.
    #[arg(long, default_value_t = 0.03, value_name = "X")]
    pub margin: f64,

    /// Error share, percent of samples, above which a model at a point gets no verdict on
    /// speed or cost there, only its error share.
    #[arg(long, default_value_t = 1.0, value_name = "PCT")]
    pub max_error_pct: f64,

    /// The mixed suite's sweep connection counts, comma-separated
    /// [default: 1,3,5,...,23]; its 50-connection cap comparison always runs.
    #[arg(long, value_name = "LIST")]
    pub mixed_conns: Option<String>,

    /// Scale of the plans' loop counts and of the frames suite's frame counts (0.01 for a
    /// quick run).
    #[arg(long, default_value_t = 1.0, value_name = "X")]
    pub scale: f64,

    /// Results folder, which must not exist [default: results/<date>-<host>/bench].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Offered load of the ping-pong suite's fixed-rate run (100 connections), messages/s.
    #[arg(long, default_value_t = 50_000.0, value_name = "R")]
    pub rate_fixed: f64,

    /// Server processes sharing the port (SO_REUSEPORT) for connection counts past what one
    /// process can hold (19,900 here); points within it use one. loadgen then spreads its
    /// own connections over processes and loopback source addresses too.
    #[arg(long, default_value_t = 1, value_name = "P")]
    pub server_procs: u32,

    /// Folder holding the echo-<model> binaries [default: loadgen's own folder, i.e.
    /// target/release for a release build].
    #[arg(long, value_name = "DIR")]
    pub bin_dir: Option<PathBuf>,

    /// Do not count system calls with perf.
    #[arg(long)]
    pub no_perf: bool,

    /// How the ping-pong sweep and its fixed-rate point run. `interleaved`: every server
    /// of a point starts once and stays up; loadgen opens the point's connections to each
    /// and runs --blocks rounds, each visiting every server once for a slice (--slice-warmup
    /// then --slice measured), in an order drawn afresh from --seed, so that the noise of a
    /// moment hits every model alike. A point whose connections to every server do not fit
    /// in loadgen's open files runs in groups, each with the reference, or in blocks when
    /// not even two fit. `blocks`: every run starts its server fresh and measures
    /// --duration; a block runs every model once. Plans, frames, mixed and spread always
    /// run in blocks (they need a fresh start).
    #[arg(long, value_enum, default_value = "interleaved", value_name = "DESIGN")]
    pub design: DesignArg,

    /// Interleaved design: the measured part of each slice (its sending time; it ends
    /// when the last reply of a message sent in it arrives). Short slices put the models
    /// of a round close together in time, which is what cancels this machine's noise:
    /// results/2026-12-05-vm/validation compares 30 ms to 1 s.
    #[arg(long, default_value = "30ms", value_parser = duration_arg, value_name = "DUR")]
    pub slice: Duration,

    /// Interleaved design: load at the start of every slice that no figure counts (the
    /// server's threads wake, its caches fill); at most as long as --slice.
    #[arg(long, default_value = "20ms", value_parser = duration_arg, value_name = "DUR")]
    pub slice_warmup: Duration,

    /// Interleaved design: rounds per point [default: the suite's --blocks], so that a
    /// bench can run many short rounds where it interleaves and a few blocks of fresh
    /// servers where it cannot (10,000 connections and up).
    #[arg(long, value_name = "N")]
    pub slice_rounds: Option<u32>,

    /// Add a second copy of the reference model's server, reported as
    /// `<reference>-twin` (`epoll-twin`): what "no difference" looks like in this run.
    #[arg(long)]
    pub twin: bool,
}

/// `--design`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DesignArg {
    /// Servers kept up together, visited in short shuffled slices.
    Interleaved,
    /// A fresh server per run, models shuffled within blocks.
    Blocks,
}

/// `loadgen report DIR [--readme FILE]`.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// A folder written by `loadgen bench` (holding raw.json).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,

    /// Also put a link to DIR and its main table into this Markdown file, between the
    /// lines `<!-- latest-run:begin -->` and `<!-- latest-run:end -->` (added at the end
    /// when missing).
    #[arg(long, value_name = "FILE")]
    pub readme: Option<PathBuf>,

    /// Also put this run's baselines section (every server's ratio to py-asyncio beside
    /// the ratios the studies published) into this Markdown file, between the lines
    /// `<!-- baselines:begin -->` and `<!-- baselines:end -->` (added at the end when
    /// missing). The run must have run a Python baseline.
    #[arg(long, value_name = "FILE")]
    pub baselines_readme: Option<PathBuf>,

    /// Model the verdicts compare with [default: the bench's own --reference].
    #[arg(long, value_name = "MODEL")]
    pub reference: Option<String>,

    /// Margin of the verdicts, a fraction [default: the bench's own --margin].
    #[arg(long, value_name = "X")]
    pub margin: Option<f64>,

    /// Error share, percent of samples, above which a model gets no verdict on speed or
    /// cost at a point [default: the bench's own --max-error-pct, else 1].
    #[arg(long, value_name = "PCT")]
    pub max_error_pct: Option<f64>,
}

/// `loadgen stream [--bytes 4GiB] [--duration 10s] [--chunk 1MiB] ...`.
#[derive(Debug, Clone, Args)]
pub struct StreamArgs {
    /// Stop after writing this many bytes (or at --duration, whichever comes first).
    #[arg(long, default_value = "4GiB", value_parser = size_arg, value_name = "SIZE")]
    pub bytes: u64,

    /// Stop after this long (or at --bytes, whichever comes first).
    #[arg(long, default_value = "10s", value_parser = duration_arg, value_name = "DUR")]
    pub duration: Duration,

    /// Bytes per write() (and per read() of loadgen's own sink): 128KiB is iperf3's default.
    #[arg(long, default_value = "1MiB", value_parser = size_arg, value_name = "SIZE")]
    pub chunk: u64,

    /// Send to a discard server already listening on this loopback port (one that reads and
    /// drops, such as `nc -l 127.0.0.1 9000 >/dev/null`) instead of to loadgen's own sink.
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,

    /// Host of --port: a loopback name or address (127.0.0.0/8, ::1).
    #[arg(long, default_value = "127.0.0.1", requires = "port")]
    pub host: String,

    /// Pin the writing thread to these CPUs (1, 2-3).
    #[arg(long, value_name = "CPUS")]
    pub pin: Option<CpuList>,

    /// Pin loadgen's own sink thread to these CPUs: put it on another CPU than the writer,
    /// as a bench does with a server and loadgen.
    #[arg(long, value_name = "CPUS", conflicts_with = "port")]
    pub sink_cpu: Option<CpuList>,

    /// Also write the result as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

/// `loadgen merge A.json B.json ... [--json OUT]`.
#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// JSON files written by `loadgen --json`.
    #[arg(required = true, num_args = 1.., value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Write the merged result here too.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Pass/fail thresholds, as for a load run (`loadgen --help`): checked against the
    /// merged run; a crossed one prints a line after the report and exits 3.
    #[arg(long, value_name = "LIST")]
    pub fail_if: Vec<String>,
}

/// The flags of a load run.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// Server host: a loopback name or address (127.0.0.0/8, ::1); load never goes elsewhere.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,

    /// Server port.
    #[arg(long, default_value_t = 7000)]
    pub port: u16,

    /// Virtual users (JMeter threads), each with its own connection.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub threads: u64,

    /// Samples per user (JMeter's loop count). Give this or --duration.
    #[arg(long, value_name = "L", conflicts_with = "duration")]
    pub loops: Option<u64>,

    /// Run for this long instead of a loop count (30s, 2m). Samples in flight at the end
    /// still finish, within --timeout.
    #[arg(long, value_parser = duration_arg, value_name = "DUR")]
    pub duration: Option<Duration>,

    /// Start the users evenly over this time: user k of N starts at k x DUR / N.
    #[arg(long, default_value = "0s", value_parser = duration_arg, value_name = "DUR")]
    pub rampup: Duration,

    /// With --duration: run this long first without counting (connections, caches, the
    /// server's pools warm up); samples that end before it is over are left out of every
    /// figure, and the run lasts warm-up + duration.
    #[arg(long, default_value = "0s", value_parser = duration_arg, value_name = "DUR")]
    pub warmup: Duration,

    /// Payload bytes per message (64, 1KiB, 100MiB); --framed adds an 8-byte header.
    #[arg(long, default_value = "64", value_parser = size_arg, value_name = "SIZE")]
    pub message_size: u64,

    /// Framed messages: an 8-byte big-endian length, then the payload (as in the server
    /// contract's --framed). Each echo is read whole, in pieces into one reused buffer, and
    /// every byte of it, header and payload, is compared; the report adds frames/s and
    /// payload MB/s one way.
    #[arg(long)]
    pub framed: bool,

    /// A new connection for every sample (JMeter's "Re-use connection" unchecked); the
    /// connect time then counts in each sample.
    #[arg(long)]
    pub no_reuse: bool,

    /// With --no-reuse: shut down the sending side as soon as the message is sent (the
    /// echo protocol's "Connection: close"). The server then reads the end of input right
    /// after its reply and closes at once, instead of a client round trip later; under a
    /// server's --max-conns that frees its place sooner.
    #[arg(long, requires = "no_reuse")]
    pub half_close: bool,

    /// Open loop: R requests per second in total, on a fixed schedule spread over the users;
    /// latency counts from when each request was due (coordinated omission corrected).
    #[arg(long, value_name = "R")]
    pub rate: Option<f64>,

    /// Limit for connecting and for the whole echo of one sample (a 100 MiB echo takes
    /// about 0.1 to 0.5 s over loopback).
    #[arg(long, default_value = "5s", value_parser = duration_arg, value_name = "DUR")]
    pub timeout: Duration,

    /// Event-loop threads; users are spread over them
    /// [default: the smaller of --threads and the CPUs this process may run on].
    #[arg(long, value_name = "W")]
    pub workers: Option<usize>,

    /// Bind connections round-robin to these loopback source addresses: a range
    /// (127.0.0.1-127.0.0.8) or a list (127.0.0.1,127.0.0.2). One source address reaches
    /// about 28k connections to one server port, but past ~14k each connect() costs ~1 ms
    /// instead of ~20 us (Linux hands out even ports first, then scans them all): give one
    /// address per ~12k connections.
    #[arg(long, value_name = "ADDRS")]
    pub source_addrs: Option<String>,

    /// Split the users over P child processes and merge their results exactly; needed past
    /// the per-process open-file limit.
    #[arg(long, default_value_t = 1, value_name = "P")]
    pub procs: usize,

    /// Print a `summary +` line this often.
    #[arg(long, default_value = "30s", value_parser = duration_arg, value_name = "DUR")]
    pub summary_interval: Duration,

    /// Report this server process's CPU (user and system), RSS/VSZ, threads and context
    /// switches over the run; several (`1,2,3`: --reuse-port servers) are added up.
    #[arg(long, value_name = "PID", value_delimiter = ',')]
    pub server_pid: Vec<u32>,

    /// Also write every setting, every figure and the HDR histograms as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Also write one row per `summary +` interval (at, length, samples, per second,
    /// mean/min/max latency, errors, users active, started, finished) as CSV to FILE.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Also write the run as one self-contained HTML page to FILE (opens offline): its
    /// figures, the latency percentile curve and the intervals over time.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,

    /// Pass/fail thresholds: a comma-separated list of METRIC OP VALUE, crossed when the
    /// comparison holds; e.g. 'p99>5ms,errors>0.1%,rate<10000'. METRIC: p50, p90, p95, p99,
    /// p99.9, mean, max (latency of the ok samples, VALUE with us, ms or s), errors (VALUE a
    /// share with %, or a count; with --rate, requests never sent because their connection
    /// was still busy count too), rate (ok samples/s). OP: > >= < <=. The whole report still
    /// prints, then one line per crossed threshold, and loadgen exits 3; a latency threshold
    /// of a run without ok samples is crossed. May be repeated.
    #[arg(long, value_name = "LIST")]
    pub fail_if: Vec<String>,

    /// Internal (set by --procs for its children): run only part I of P of the users.
    #[arg(long, hide = true, value_name = "I/P")]
    pub part: Option<String>,
}

impl Default for LoadArgs {
    /// Every flag at the default its `#[arg]` above gives it (written once, there): what
    /// `loadgen` with no flags runs.
    fn default() -> Self {
        Opts::parse_from(["loadgen"]).load
    }
}

pub(crate) fn size_arg(s: &str) -> Result<u64, String> {
    parse_size(s).map_err(|e| e.to_string())
}

pub(crate) fn duration_arg(s: &str) -> Result<Duration, String> {
    parse_duration(s).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use std::path::Path;

    #[test]
    fn flags_are_consistent() {
        Opts::command().debug_assert();
    }

    #[test]
    fn seed_plan_parses() {
        let o = Opts::parse_from(["loadgen", "--threads", "1000", "--loops", "2000"]);
        assert_eq!(o.load.threads, 1000);
        assert_eq!(o.load.loops, Some(2000));
        assert_eq!(o.load.port, 7000);
        assert_eq!(o.load.message_size, 64);
        assert_eq!(o.load.timeout, Duration::from_secs(5));
    }

    #[test]
    fn loops_and_duration_conflict() {
        let r = Opts::try_parse_from(["loadgen", "--loops", "5", "--duration", "1s"]);
        assert!(r.is_err());
    }

    #[test]
    fn merge_subcommand() {
        let o = Opts::parse_from(["loadgen", "merge", "a.json", "b.json", "--json", "c.json"]);
        match o.command {
            Some(Command::Merge(m)) => {
                assert_eq!(m.files.len(), 2);
                assert_eq!(m.json, Some(PathBuf::from("c.json")));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bench_and_report_subcommands() {
        let o = Opts::parse_from(["loadgen", "bench", "--models", "epoll", "--rounds", "1"]);
        match o.command {
            Some(Command::Bench(b)) => {
                assert_eq!(b.models, "epoll");
                assert_eq!(b.suite, "pingpong,plans,frames");
                assert_eq!(b.duration, Duration::from_secs(10));
            }
            other => panic!("{other:?}"),
        }
        let o = Opts::parse_from(["loadgen", "report", "results/x"]);
        assert!(matches!(o.command, Some(Command::Report(r)) if r.dir == Path::new("results/x")));
    }
}

//! The contract's flags, parsed once ("low" form, [`ServerArgs`]) and then checked and
//! turned into what a server uses ([`Config`]). Every server takes exactly these flags.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;

use crate::pin::CpuList;
use crate::units::{parse_duration, parse_size};
use crate::work::Workload;

/// An echolab echo server. Every byte read is written back, in order, on the same
/// connection. All models take the same flags; they differ only in their concurrency model.
#[derive(Debug, Clone, Parser)]
#[command(version, about, long_about = None)]
pub struct ServerArgs {
    /// Address to listen on, IP:PORT or HOST:PORT. Port 0 picks a free port (read it from
    /// the readiness line, which shows the address bound). A host name must resolve to a
    /// loopback address (localhost: the first loopback address it resolves to, 127.0.0.1 or
    /// ::1); to listen elsewhere, give the IP address.
    #[arg(long, default_value = "127.0.0.1:7000", value_parser = addr_arg)]
    pub addr: SocketAddr,

    /// Worker threads of the model: event loops, runtime workers, executors or coroutine
    /// schedulers. The thread model starts one thread per connection whatever this says;
    /// there it sets the number of accepting threads.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,

    /// Most bytes read per read call; also the most bytes a connection may have unsent
    /// before the server stops reading from it (backpressure). Where a connection owns its
    /// buffer it starts at 4 KiB and doubles when a read fills it, up to this size.
    #[arg(long, default_value = "65536", value_parser = size_arg)]
    pub buffer_size: u64,

    /// Pin the server to these CPUs (e.g. `1`, `2-3`, `0,2`). Models with several
    /// executors pin one executor per listed CPU, round-robin.
    #[arg(long, value_name = "CPUS")]
    pub pin: Option<CpuList>,

    /// Set SO_REUSEPORT, so several server processes can share one port.
    #[arg(long)]
    pub reuse_port: bool,

    /// Serve at most N connections at once; the rest wait in the listen backlog.
    #[arg(long, value_name = "N")]
    pub max_conns: Option<usize>,

    /// Framed mode: 8-byte big-endian length, then the payload; the reply is the same frame.
    #[arg(long)]
    pub framed: bool,

    /// Largest frame accepted in framed mode, at least 1 byte; a longer header closes that
    /// connection.
    #[arg(long, default_value = "256MiB", value_parser = size_arg, value_name = "SIZE")]
    pub max_frame: u64,

    /// Framed mode: CPU work per frame (a real spin), half before and half after the wait.
    #[arg(long, value_parser = duration_arg, value_name = "DUR")]
    pub cpu_work: Option<Duration>,

    /// Framed mode: wait per frame, the model's own non-blocking way.
    #[arg(long, value_parser = duration_arg, value_name = "DUR")]
    pub backend_wait: Option<Duration>,

    /// Split the backend wait into K parts.
    #[arg(long, default_value_t = 1, value_name = "K")]
    pub splits: u32,

    /// On exit, write the server's own per-request service-time percentiles (JSON) here.
    #[arg(long, value_name = "FILE")]
    pub stats_file: Option<PathBuf>,

    /// Leave out of --stats-file the requests that begin within DUR of the first one (a
    /// load generator's warm-up, when the connections open and the load settles); with
    /// --processes, within DUR of the workers' readiness, the same moment for every worker
    #[arg(long, value_parser = duration_arg, value_name = "DUR")]
    pub stats_warmup: Option<Duration>,

    /// Close a connection that has sent nothing for DUR (default: never).
    #[arg(long, value_parser = duration_arg, value_name = "DUR")]
    pub idle_timeout: Option<Duration>,

    /// Prefork: bind, then fork P worker processes before any runtime or thread starts
    /// (1: no fork). At most 1024, below the process limit (RLIMIT_NPROC), and the parent's
    /// P pipes (plus P listeners with --accept reuseport) and 16 more descriptors within the
    /// open-file limit. One readiness line once all are listening; SIGTERM stops them all;
    /// --stats-file F is merged from each worker's F.worker-<i>, which are kept.
    #[arg(long, default_value_t = 1, value_name = "P")]
    pub processes: usize,

    /// With --processes P > 1, how the workers share the port: shared (one inherited
    /// listener), exclusive (the same, with an exclusive wake-up: EPOLLEXCLUSIVE for epoll,
    /// natively for thread, glommio, uring and compio; refused by the other models), or
    /// reuseport (one SO_REUSEPORT listener per worker).
    #[arg(long, value_enum, default_value = "shared", value_name = "MODE")]
    pub accept: Accept,
}

fn size_arg(s: &str) -> Result<u64, String> {
    parse_size(s).map_err(|e| e.to_string())
}

/// `IP:PORT`, `[IPv6]:PORT`, or `HOST:PORT` with a host name that resolves to loopback.
fn addr_arg(s: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = s.parse() {
        return Ok(addr);
    }
    let (host, port) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("'{s}' is not IP:PORT or HOST:PORT"))?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("'{s}': '{port}' is not a port"))?;
    let resolved = std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
        .map_err(|e| format!("'{s}': cannot resolve {host}: {e}"))?;
    first_loopback(host, resolved)
}

/// The first loopback address among those `host` resolved to. A name that resolves
/// elsewhere is refused: load only ever goes to loopback unless the user says otherwise,
/// and an explicit IP address is how they say it.
fn first_loopback(
    host: &str,
    resolved: impl Iterator<Item = SocketAddr>,
) -> Result<SocketAddr, String> {
    let all: Vec<SocketAddr> = resolved.collect();
    match all.iter().find(|a| a.ip().is_loopback()) {
        Some(addr) => Ok(*addr),
        None if all.is_empty() => Err(format!("{host} resolves to no address")),
        None => Err(format!(
            "{host} resolves to {}, not a loopback address (give the IP address to listen \
             there)",
            all[0].ip()
        )),
    }
}

fn duration_arg(s: &str) -> Result<Duration, String> {
    parse_duration(s).map_err(|e| e.to_string())
}

/// What a connection's bytes mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every byte read is written back (the default).
    Raw,
    /// Length-prefixed frames, each echoed whole; longer than `max_frame` closes.
    Framed { max_frame: u64 },
}

/// How the workers share the listening socket (`--accept`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Accept {
    /// One listener inherited by every worker (the default).
    Shared,
    /// One listener, waited on with an exclusive wake-up (EPOLLEXCLUSIVE or equivalent).
    Exclusive,
    /// One SO_REUSEPORT listener per worker.
    Reuseport,
}

impl Accept {
    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Accept::Shared => "shared",
            Accept::Exclusive => "exclusive",
            Accept::Reuseport => "reuseport",
        }
    }
}

/// How every connection is echoed: the part of [`Config`] a connection needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EchoSettings {
    /// Raw or framed.
    pub mode: Mode,
    /// Raw mode: bytes read per read call, and the bound on unsent bytes.
    pub buffer_size: usize,
    /// Framed mode: the work each request costs, if any.
    pub workload: Option<Workload>,
    /// Close a connection whose client has sent nothing for this long (`--idle-timeout`).
    /// Only waits for input count: a connection blocked writing to a client that does
    /// not read is bounded by backpressure, not by this.
    pub idle_timeout: Option<Duration>,
}

/// What a server runs with, after every flag has been checked.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to bind.
    pub addr: SocketAddr,
    /// Worker threads of the model (at least 1).
    pub threads: usize,
    /// How connections are echoed.
    pub echo: EchoSettings,
    /// Most connections served at once (`--max-conns`); the rest wait in the backlog.
    pub max_conns: Option<usize>,
    /// Where to write service-time percentiles on exit (`--stats-file`).
    pub stats_file: Option<PathBuf>,
    /// Requests beginning this soon after the first are left out of the stats file.
    pub stats_warmup: Duration,
    /// CPUs to pin to, if asked.
    pub pin: Option<CpuList>,
    /// SO_REUSEPORT on the listening socket(s).
    pub reuse_port: bool,
    /// Worker processes (`--processes`, 1: no fork).
    pub processes: usize,
    /// How the workers share the port (`--accept`).
    pub accept: Accept,
}

/// Most worker processes (`--processes`).
pub const MAX_PROCESSES: usize = 1024;
/// Most worker threads accepted: more is a typo, not a configuration.
pub const MAX_THREADS: usize = 1024;
/// Largest read buffer accepted.
pub const MAX_BUFFER: u64 = 64 << 20;
/// `--max-frame` when not given.
pub const DEFAULT_MAX_FRAME: u64 = 256 << 20;
/// Most parts a backend wait may be split into.
pub const MAX_SPLITS: u32 = 1000;
/// Longest CPU work or backend wait per request.
pub const MAX_WORK: Duration = Duration::from_secs(60);
/// Longest `--idle-timeout` accepted.
pub const MAX_IDLE: Duration = Duration::from_secs(24 * 3600);
/// Smallest `--max-frame` accepted: 0 would accept only empty frames (and close on the
/// first byte of payload), which is no echo server.
pub const MIN_FRAME: u64 = 1;
/// Largest `--max-frame` accepted (a frame is one buffer in memory).
pub const MAX_FRAME: u64 = 1 << 40;

impl ServerArgs {
    /// Checks the flags and turns them into a [`Config`]. Flags of the contract that this
    /// build does not implement yet are refused, never silently ignored.
    pub fn into_config(self) -> anyhow::Result<Config> {
        let workload = match (self.cpu_work, self.backend_wait) {
            (None, None) if self.splits == 1 => None,
            _ if !self.framed => bail!("--cpu-work, --backend-wait and --splits need --framed"),
            (cpu, wait) => {
                if self.splits == 0 || self.splits > MAX_SPLITS {
                    bail!("--splits {}: expected 1 to {MAX_SPLITS}", self.splits);
                }
                let (cpu, wait) = (cpu.unwrap_or_default(), wait.unwrap_or_default());
                if cpu > MAX_WORK || wait > MAX_WORK {
                    bail!("--cpu-work and --backend-wait: expected at most 60s per request");
                }
                Some(Workload {
                    cpu,
                    wait,
                    splits: self.splits,
                })
            }
        };
        if self.max_frame != DEFAULT_MAX_FRAME && !self.framed {
            bail!("--max-frame applies only with --framed");
        }
        if self.framed && self.max_frame < MIN_FRAME {
            bail!(
                "--max-frame {}: expected at least {MIN_FRAME} byte",
                self.max_frame
            );
        }
        if self.max_frame > MAX_FRAME {
            bail!("--max-frame {}: expected at most 1TiB", self.max_frame);
        }
        if self.max_conns == Some(0) {
            bail!("--max-conns 0: expected at least 1");
        }
        if self.stats_file.is_some() && !self.framed {
            bail!("--stats-file needs --framed (a request is a frame)");
        }
        if self.stats_warmup.is_some() && self.stats_file.is_none() {
            bail!("--stats-warmup applies only with --stats-file");
        }
        if self.stats_warmup.is_some_and(|d| d > MAX_WORK) {
            bail!("--stats-warmup: expected at most 60s");
        }
        if self
            .idle_timeout
            .is_some_and(|d| d.is_zero() || d > MAX_IDLE)
        {
            bail!("--idle-timeout: expected more than 0 and at most 1 day");
        }
        if self.threads == 0 || self.threads > MAX_THREADS {
            bail!("--threads {}: expected 1 to {MAX_THREADS}", self.threads);
        }
        if self.buffer_size == 0 || self.buffer_size > MAX_BUFFER {
            bail!(
                "--buffer-size {}: expected 1 byte to 64MiB",
                self.buffer_size
            );
        }
        if let Some(cpus) = &self.pin {
            cpus.check_online().context("--pin")?;
        }
        if self.processes == 0 || self.processes > MAX_PROCESSES {
            bail!(
                "--processes {}: expected 1 to {MAX_PROCESSES}",
                self.processes
            );
        }
        if self.processes == 1 && self.accept != Accept::Shared {
            bail!(
                "--accept {} applies only with --processes 2 or more",
                self.accept.name()
            );
        }
        let mode = if self.framed {
            Mode::Framed {
                max_frame: self.max_frame,
            }
        } else {
            Mode::Raw
        };
        Ok(Config {
            addr: self.addr,
            threads: self.threads,
            echo: EchoSettings {
                mode,
                buffer_size: self.buffer_size as usize,
                workload,
                idle_timeout: self.idle_timeout,
            },
            max_conns: self.max_conns,
            stats_file: self.stats_file,
            stats_warmup: self.stats_warmup.unwrap_or_default(),
            pin: self.pin,
            reuse_port: self.reuse_port,
            processes: self.processes,
            accept: self.accept,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &[&str]) -> anyhow::Result<Config> {
        let argv = std::iter::once("echo-test").chain(args.iter().copied());
        ServerArgs::try_parse_from(argv)?.into_config()
    }

    #[test]
    fn defaults_follow_the_contract() {
        let c = config(&[]).unwrap();
        assert_eq!(c.addr, "127.0.0.1:7000".parse().unwrap());
        assert_eq!(c.threads, 1);
        assert_eq!(
            c.echo,
            EchoSettings {
                mode: Mode::Raw,
                buffer_size: 65536,
                workload: None,
                idle_timeout: None,
            }
        );
        assert_eq!(c.max_conns, None);
        assert!(!c.reuse_port);
        assert!(c.pin.is_none());
        assert_eq!((c.processes, c.accept), (1, Accept::Shared));
    }

    #[test]
    fn prefork_flags_are_checked() {
        let c = config(&["--processes", "4", "--accept", "reuseport"]).unwrap();
        assert_eq!((c.processes, c.accept), (4, Accept::Reuseport));
        for bad in [
            &["--processes", "0"][..],
            &["--processes", "1025"],
            &["--accept", "exclusive"],
            &["--processes", "2", "--accept", "sideways"],
        ] {
            assert!(config(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sizes_take_units() {
        assert_eq!(
            config(&["--buffer-size", "4KiB"]).unwrap().echo.buffer_size,
            4096
        );
        let framed = config(&["--framed", "--max-frame", "1MiB"]).unwrap();
        assert_eq!(framed.echo.mode, Mode::Framed { max_frame: 1 << 20 });
        let framed = config(&["--framed"]).unwrap();
        assert_eq!(
            framed.echo.mode,
            Mode::Framed {
                max_frame: 256 << 20
            }
        );
    }

    #[test]
    fn idle_timeout_is_positive() {
        let c = config(&["--idle-timeout", "10s"]).unwrap();
        assert_eq!(c.echo.idle_timeout, Some(Duration::from_secs(10)));
        for bad in ["0s", "25h", "5"] {
            assert!(config(&["--idle-timeout", bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn workload_needs_framed_mode() {
        let c = config(&[
            "--framed",
            "--cpu-work",
            "5ms",
            "--backend-wait",
            "55ms",
            "--splits",
            "5",
        ])
        .unwrap();
        let w = c.echo.workload.unwrap();
        assert_eq!(
            (w.cpu, w.wait, w.splits),
            (Duration::from_millis(5), Duration::from_millis(55), 5)
        );
        assert!(
            config(&["--framed", "--splits", "5"])
                .unwrap()
                .echo
                .workload
                .is_some()
        );
        for args in [
            &["--cpu-work", "5ms"][..],
            &["--backend-wait", "1ms"],
            &["--splits", "2"],
        ] {
            let err = config(args).unwrap_err().to_string();
            assert!(err.contains("need --framed"), "{args:?}: {err}");
        }
        assert!(config(&["--framed", "--splits", "0", "--cpu-work", "1ms"]).is_err());
        assert!(config(&["--framed", "--cpu-work", "2m"]).is_err());
        assert!(config(&["--stats-file", "/tmp/x.json"]).is_err());
        let with_file = ["--framed", "--stats-file", "/tmp/x.json", "--stats-warmup"];
        assert_eq!(
            config(&[&with_file[..], &["1s"]].concat())
                .unwrap()
                .stats_warmup,
            Duration::from_secs(1)
        );
        assert!(config(&[&with_file[..], &["2m"]].concat()).is_err());
        assert!(config(&["--framed", "--stats-warmup", "1s"]).is_err());
        assert_eq!(config(&["--max-conns", "12"]).unwrap().max_conns, Some(12));
        assert!(config(&["--max-conns", "0"]).is_err());
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(config(&["--threads", "0"]).is_err());
        assert!(config(&["--threads", "100000"]).is_err());
        assert!(config(&["--buffer-size", "0"]).is_err());
        assert!(config(&["--addr", "localhost"]).is_err());
        assert!(config(&["--cpu-work", "5"]).is_err());
        assert!(config(&["--pin", "100000"]).is_err());
        assert!(config(&["--bogus"]).is_err());
        assert!(
            config(&["--max-frame", "1MiB"]).is_err(),
            "--max-frame without --framed"
        );
        assert!(
            config(&["--framed", "--max-frame", "2TiB"]).is_err(),
            "over 1TiB"
        );
        let zero = config(&["--framed", "--max-frame", "0"]).unwrap_err();
        assert!(zero.to_string().contains("at least 1 byte"), "{zero}");
        assert!(config(&["--framed", "--max-frame", "1"]).is_ok());
    }

    #[test]
    fn addr_takes_a_loopback_name() {
        let c = config(&["--addr", "localhost:7001"]).unwrap();
        assert!(c.addr.ip().is_loopback(), "{}", c.addr);
        assert_eq!(c.addr.port(), 7001);
        assert_eq!(
            config(&["--addr", "[::1]:0"]).unwrap().addr,
            "[::1]:0".parse().unwrap()
        );
        // An IP address is taken as given, loopback or not (the user said so).
        assert_eq!(
            config(&["--addr", "0.0.0.0:0"]).unwrap().addr,
            SocketAddr::from(([0, 0, 0, 0], 0))
        );
        assert!(config(&["--addr", "localhost:http"]).is_err());
        let at = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert_eq!(
            first_loopback(
                "h",
                [at("10.0.0.1:1"), at("[::1]:1"), at("127.0.0.1:1")].into_iter()
            ),
            Ok(at("[::1]:1"))
        );
        let elsewhere = first_loopback("h", [at("10.0.0.1:1")].into_iter()).unwrap_err();
        assert!(elsewhere.contains("not a loopback address"), "{elsewhere}");
        assert!(first_loopback("h", std::iter::empty()).is_err());
    }
}

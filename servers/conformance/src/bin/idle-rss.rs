//! idle-rss: what an idle connection costs each model in server memory.
//!
//! For every model: start the server (release build), measure its RSS, open `--conns`
//! connections that never send, wait until the server holds them all, and measure again;
//! then send one 64-byte echo on each (which touches the read buffers) and measure a
//! third time. Writes `idle-rss.json` (every figure and setting) and `idle-rss.md`
//! (rendered from the JSON) into `--out`.
//!
//! Run: `make idle-rss` (10,000 connections per model, about a minute; echo-pool, which
//! serves one connection per worker, with as many as the test kit gives it workers,
//! 1,024: `common::models::serves_at_most`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use common::models::MODELS;
use common::testkit::Server;
use serde::Serialize;

/// Measure server RSS per idle connection for every model.
#[derive(Debug, Parser)]
struct Opts {
    /// Idle connections per model (one process holds at most ~19.9k here).
    #[arg(long, default_value_t = 10_000)]
    conns: usize,
    /// Models to measure (comma-separated; default: all).
    #[arg(long, value_delimiter = ',')]
    models: Vec<String>,
    /// Folder for idle-rss.json and idle-rss.md.
    #[arg(long)]
    out: PathBuf,
}

/// One model's figures.
#[derive(Debug, Serialize)]
struct Row {
    /// Model name (servers/<model>).
    model: String,
    /// Connections held open.
    conns: usize,
    /// Server RSS after start-up and one warm-up echo, KiB.
    rss_start_kib: u64,
    /// Server RSS holding `conns` connections that never sent a byte, KiB.
    rss_idle_kib: u64,
    /// Server RSS after one 64-byte echo on every connection, KiB.
    rss_after_echo_kib: u64,
    /// Server threads while holding the connections.
    threads: u64,
    /// (rss_idle - rss_start) / conns, bytes.
    bytes_per_idle_conn: u64,
    /// (rss_after_echo - rss_start) / conns, bytes.
    bytes_per_conn_after_echo: u64,
}

/// The whole run.
#[derive(Debug, Serialize)]
struct Report {
    /// What was measured, in one sentence.
    what: &'static str,
    /// Host name of the machine.
    host: String,
    /// Kernel release (uname -r).
    kernel: String,
    /// CPUs this process may use.
    cpus: String,
    /// One row per model.
    rows: Vec<Row>,
}

fn main() -> ExitCode {
    common::log::init("idle-rss");
    let opts = Opts::parse();
    match run(opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            common::log!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(opts: Opts) -> anyhow::Result<()> {
    if opts.conns == 0 || opts.conns > 19_000 {
        bail!(
            "--conns {}: expected 1 to 19000 (20000 open files per process)",
            opts.conns
        );
    }
    let models: Vec<String> = if opts.models.is_empty() {
        MODELS.iter().map(|m| m.to_string()).collect()
    } else {
        opts.models.clone()
    };
    if let Some(bad) = models.iter().find(|m| !MODELS.contains(&m.as_str())) {
        bail!("unknown model '{bad}'; models: {}", MODELS.join(" "));
    }
    let mut rows = Vec::new();
    for model in &models {
        // A pool serves only as many connections as it has workers (the rest would wait
        // unread): it is measured with that many.
        let conns = common::models::serves_at_most(model).map_or(opts.conns, |n| n.min(opts.conns));
        common::log!("{model}: {conns} connections");
        let row = measure(model, conns).with_context(|| format!("model {model}"))?;
        common::log!(
            "{model}: {} B per idle connection, {} B after one echo",
            row.bytes_per_idle_conn,
            row.bytes_per_conn_after_echo
        );
        rows.push(row);
    }
    let report = Report {
        what: "server RSS growth per connection: idle (never sent), then after one 64-byte echo",
        host: read_trimmed("/proc/sys/kernel/hostname"),
        kernel: read_trimmed("/proc/sys/kernel/osrelease"),
        cpus: common::pin::CpuList::allowed()?.to_string(),
        rows,
    };
    std::fs::create_dir_all(&opts.out)?;
    let json = opts.out.join("idle-rss.json");
    std::fs::write(&json, serde_json::to_string_pretty(&report)? + "\n")?;
    std::fs::write(opts.out.join("idle-rss.md"), render(&report))?;
    common::log!("wrote {} and idle-rss.md", json.display());
    Ok(())
}

fn measure(model: &str, conns: usize) -> anyhow::Result<Row> {
    let server = Server::start(model, &[]);
    let mut warm = TcpStream::connect(server.addr)?;
    echo(&mut warm)?;
    drop(warm);
    let base_fds = settle(|| server.open_fds() as u64, Duration::from_secs(5));
    let rss_start_kib = server.rss_kib().context("server exited")?;
    let mut clients = Vec::with_capacity(conns);
    for _ in 0..conns {
        clients.push(TcpStream::connect(server.addr).context("connect")?);
    }
    // Wait until the server has accepted every connection (one descriptor each).
    let deadline = Instant::now() + Duration::from_secs(60);
    while (server.open_fds() as u64) < base_fds + conns as u64 {
        if Instant::now() > deadline {
            bail!(
                "the server accepted only {} of {conns}",
                server.open_fds() as u64 - base_fds
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let rss_idle_kib = settle(|| server.rss_kib().unwrap_or(0), Duration::from_secs(10));
    let threads = common::testkit::proc_status_kib(server.pid(), "Threads:").unwrap_or(0);
    for client in &mut clients {
        echo(client)?;
    }
    let rss_after_echo_kib = settle(|| server.rss_kib().unwrap_or(0), Duration::from_secs(10));
    let per_conn = |kib: u64| kib.saturating_sub(rss_start_kib) * 1024 / conns as u64;
    Ok(Row {
        model: model.to_string(),
        conns,
        rss_start_kib,
        rss_idle_kib,
        rss_after_echo_kib,
        threads,
        bytes_per_idle_conn: per_conn(rss_idle_kib),
        bytes_per_conn_after_echo: per_conn(rss_after_echo_kib),
    })
}

fn echo(stream: &mut TcpStream) -> anyhow::Result<()> {
    let message = [b'x'; 64];
    stream.write_all(&message)?;
    let mut got = [0u8; 64];
    stream.read_exact(&mut got)?;
    anyhow::ensure!(got == message, "echo differs");
    Ok(())
}

/// Samples `f` every 100 ms until it returns the same value three times (or `limit`).
fn settle(f: impl Fn() -> u64, limit: Duration) -> u64 {
    let deadline = Instant::now() + limit;
    let mut last = f();
    let mut same = 0;
    while same < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        let now = f();
        same = if now == last { same + 1 } else { 0 };
        last = now;
    }
    last
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn render(report: &Report) -> String {
    let mut md = format!(
        "# Server RSS per connection\n\n{}; host {}, kernel {}, CPUs {}.\n\
         Rendered from idle-rss.json by `make idle-rss`.\n\n\
         | model | conns | threads | RSS start (KiB) | RSS idle (KiB) | B / idle conn | \
         RSS after echo (KiB) | B / conn after echo |\n|---|---:|---:|---:|---:|---:|---:|---:|\n",
        report.what, report.host, report.kernel, report.cpus
    );
    for r in &report.rows {
        md += &format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.model,
            r.conns,
            r.threads,
            r.rss_start_kib,
            r.rss_idle_kib,
            r.bytes_per_idle_conn,
            r.rss_after_echo_kib,
            r.bytes_per_conn_after_echo
        );
    }
    md
}

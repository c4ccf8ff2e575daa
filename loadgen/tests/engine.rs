//! The library driven directly (`Opts::parse_from` + `run_to`) against echo-epoll and
//! against small misbehaving servers. Behaviour only: counts, kinds, order and lower bounds,
//! and upper bounds only where the issue promises one (a run ends within its plan plus the
//! timeout), with generous slack.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::testkit::Server;
use support::*;

#[test]
fn counts_equal_threads_times_loops() {
    let server = Server::start("epoll", &[]);
    let (r, text) = run_at(
        server.addr,
        &[
            "--threads",
            "20",
            "--loops",
            "250",
            "--workers",
            "2",
            "--rampup",
            "100ms",
        ],
    );
    assert_eq!(r.run.planned_samples, Some(5000));
    assert_eq!(r.samples, 5000, "{text}");
    assert_eq!(r.ok, 5000, "{text}");
    assert_eq!(r.errors, 0);
    assert_eq!(r.bytes_sent, 5000 * 64);
    assert_eq!(r.bytes_received, 5000 * 64);
    assert_eq!((r.users_started, r.users_finished), (20, 20));
    assert_eq!(r.stats().unwrap().latency.len(), 5000);
    assert!(r.latency_us.min <= r.latency_us.p50 && r.latency_us.p50 <= r.latency_us.max);
    assert!(text.contains("summary =   5000 in "), "{text}");
    assert!(text.contains("errors: none"), "{text}");
}

#[test]
fn large_framed_messages_and_new_connections_per_sample() {
    let server = Server::start("epoll", &[]);
    // A raw echo server returns a frame unchanged, header included.
    let (r, text) = run_at(
        server.addr,
        &[
            "--threads",
            "3",
            "--loops",
            "8",
            "--framed",
            "--message-size",
            "1MiB",
        ],
    );
    assert_eq!((r.samples, r.ok), (24, 24), "{text}");
    assert_eq!(r.bytes_received, 24 * ((1 << 20) + 8));
    // Payload one way: 24 frames of 1 MiB over the run's wall time.
    let mb = r.payload_mb_per_s * r.run.elapsed_s;
    assert!((mb - 24.0 * 1.048_576).abs() < 1e-6, "{mb} MB");
    assert!((r.ok_per_s * r.run.elapsed_s - 24.0).abs() < 1e-9);
    assert!(text.contains(" frames/s ok, "), "{text}");

    let (r, text) = run_at(
        server.addr,
        &["--threads", "4", "--loops", "25", "--no-reuse"],
    );
    assert_eq!((r.samples, r.ok), (100, 100), "{text}");
}

#[test]
fn half_close_sends_the_fin_with_each_request() {
    // This server replies only once it has read the end of input.
    let (addr, _) = fake_server(echo_after_eof);
    let args = ["--threads", "2", "--loops", "5", "--no-reuse", "--framed"];
    let (r, text) = run_at(addr, &[&args[..], &["--half-close"]].concat());
    assert_eq!((r.samples, r.ok), (10, 10), "{text}");
    assert!(r.run.settings.half_close);
    assert!(text.contains("(half-closed after the request)"), "{text}");
    // Without it the client never says it is done, and every sample times out.
    let (r, text) = run_at(addr, &[&args[..], &["--timeout", "200ms"]].concat());
    assert_eq!(r.errors_by_kind.read_timeout, 10, "{text}");
}

#[test]
fn wrong_bytes_are_caught_as_mismatches() {
    let (addr, _) = fake_server(wrong_bytes);
    let (r, text) = run_at(addr, &["--threads", "4", "--loops", "25"]);
    assert_eq!(r.samples, 100);
    assert_eq!(r.ok, 0, "{text}");
    assert_eq!(r.errors_by_kind.mismatch, 100, "{text}");
    assert!(text.contains("mismatch 100"), "{text}");
}

#[test]
fn no_server_gives_refused_errors_and_a_prompt_end() {
    let addr = closed_port();
    let start = Instant::now();
    let (r, text) = run_at(
        addr,
        &["--threads", "4", "--loops", "50", "--timeout", "2s"],
    );
    assert_eq!(r.samples, 200);
    assert_eq!(r.errors_by_kind.refused, 200, "{text}");
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn a_server_that_closes_after_one_reply_fails_every_other_sample() {
    let (addr, _) = fake_server(one_reply_then_close);
    let (r, text) = run_at(addr, &["--threads", "2", "--loops", "10"]);
    // Each connection serves one sample; the next sample on it fails; then a reconnect.
    assert_eq!(r.samples, 20);
    assert_eq!(r.ok, 10, "{text}");
    let k = r.errors_by_kind;
    assert_eq!(k.early_close + k.reset, 10, "{text}");
}

#[test]
fn a_server_killed_mid_run_ends_the_run_within_the_timeout() {
    let server = Server::start("epoll", &[]);
    let pid = server.pid();
    let addr = server.addr;
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(400));
        server.signal(libc::SIGKILL);
        server // dropped (reaped) after the run
    });
    let start = Instant::now();
    let pid_s = pid.to_string();
    let (r, text) = run_at(
        addr,
        &[
            "--threads",
            "10",
            "--duration",
            "1500ms",
            "--timeout",
            "1s",
            "--server-pid",
            &pid_s,
        ],
    );
    let took = start.elapsed();
    drop(killer.join());
    assert!(r.ok > 0, "{text}");
    assert!(r.errors > 0, "{text}");
    let k = r.errors_by_kind;
    assert_eq!(
        k.refused + k.early_close + k.reset + k.read_timeout + k.other,
        r.errors
    );
    assert!(
        took < Duration::from_millis(1500 + 1000 + 3000),
        "took {took:?}"
    );
    assert!(r.server.as_ref().is_some_and(|s| !s.alive_at_end), "{text}");
}

#[test]
fn a_hung_server_costs_each_sample_one_timeout() {
    let (addr, _) = fake_server(never_reply);
    let start = Instant::now();
    let (r, text) = run_at(
        addr,
        &["--threads", "2", "--loops", "2", "--timeout", "200ms"],
    );
    assert_eq!(r.errors_by_kind.read_timeout, 4, "{text}");
    // Two samples in a row per user, each waiting out the timeout.
    assert!(start.elapsed() >= Duration::from_millis(400));

    let start = Instant::now();
    let (r, text) = run_at(
        addr,
        &[
            "--threads",
            "3",
            "--duration",
            "700ms",
            "--timeout",
            "300ms",
        ],
    );
    assert!(r.errors_by_kind.read_timeout >= 3, "{text}");
    assert_eq!(r.ok, 0);
    assert!(start.elapsed() < Duration::from_millis(700 + 300 + 3000));
}

#[test]
fn rampup_starts_users_in_order_and_not_early() {
    let (addr, log) = fake_server(logging_echo);
    let before = Instant::now();
    let (r, text) = run_at(
        addr,
        &[
            "--threads",
            "5",
            "--loops",
            "2",
            "--rampup",
            "800ms",
            "--workers",
            "1",
        ],
    );
    assert_eq!(r.ok, 10, "{text}");
    let seen = log.0.lock().unwrap().clone();
    // The first byte of user g's message is g % 251: users connect in order 0..5.
    let order: Vec<u8> = seen.iter().map(|s| s.0).collect();
    assert_eq!(order, vec![0, 1, 2, 3, 4]);
    for (k, (_, at, _)) in seen.iter().enumerate() {
        let earliest = Duration::from_millis(160 * k as u64);
        assert!(
            at.duration_since(before) >= earliest,
            "user {k} started early"
        );
    }
}

#[test]
fn source_addresses_are_bound_round_robin() {
    let (addr, log) = fake_server(logging_echo);
    let (r, text) = run_at(
        addr,
        &[
            "--threads",
            "8",
            "--loops",
            "3",
            "--source-addrs",
            "127.0.0.1-127.0.0.4",
        ],
    );
    assert_eq!(r.ok, 24, "{text}");
    let seen = log.0.lock().unwrap().clone();
    let ips: BTreeSet<_> = seen.iter().map(|s| s.2.ip().to_string()).collect();
    assert_eq!(ips.len(), 4, "{ips:?}");
    for (g, _, peer) in &seen {
        let last = peer
            .ip()
            .to_string()
            .rsplit('.')
            .next()
            .unwrap()
            .to_string();
        assert_eq!(last, (1 + g % 4).to_string(), "user {g} on {peer}");
    }
}

#[test]
fn open_loop_reports_corrected_and_raw_latency() {
    let server = Server::start("epoll", &[]);
    let (r, text) = run_at(
        server.addr,
        &[
            "--threads",
            "4",
            "--duration",
            "1s",
            "--rate",
            "200",
            "--summary-interval",
            "400ms",
        ],
    );
    let planned = r.run.planned_samples.unwrap();
    assert_eq!(planned, 200);
    // Every request due in the window went out: a reply takes microseconds, the next
    // request of a user falls due 20 ms later.
    assert_eq!((r.samples, r.unsent), (planned, 0), "{text}");
    let raw = r.raw_latency_us.expect("raw latency with --rate");
    // Per sample, due time <= send time, so corrected latency is never below raw.
    assert!(
        r.latency_us.max >= raw.max && r.latency_us.p50 >= raw.p50,
        "{text}"
    );
    assert!(text.contains("coordinated omission"), "{text}");
    // Each user's next request falls due 20 ms after the one before, long after its echo:
    // every counted request went out on its schedule, and loadgen's own lateness is known.
    let late = r.send_lateness_us.expect("send lateness with --rate");
    assert!(late.count > 0 && late.count <= r.ok, "{late:?}");
    assert!(late.p99 <= late.max, "{late:?}");
    assert!(text.contains("summary +"), "{text}");
    assert!(r.intervals.len() >= 2, "{text}");
    assert_eq!(
        r.intervals.iter().map(|i| i.samples).sum::<u64>(),
        r.samples
    );
}

#[test]
fn open_loop_counts_the_requests_a_busy_connection_never_sent() {
    // One worker serves one connection at a time, 30 ms a request: the first connection it
    // takes falls ever further behind its schedule (a request every 20 ms) and so holds the
    // worker past the end; the other three wait in the queue from their first request
    // until it closes. Their later requests fell due and were never sent.
    let server = Server::start(
        "pool",
        &["--threads", "1", "--framed", "--backend-wait", "30ms"],
    );
    let (r, text) = run_at(
        server.addr,
        &[
            "--threads",
            "4",
            "--duration",
            "1s",
            "--rate",
            "200",
            "--framed",
        ],
    );
    let planned = r.run.planned_samples.unwrap();
    assert_eq!(planned, 200);
    assert_eq!(r.samples + r.unsent, planned, "{text}");
    assert_eq!(r.errors, 0, "{text}");
    // Each waiting user sent its first request, answered after the end, and owed 49; the
    // served one owed some too.
    assert!(r.unsent > 3 * 49, "{text}");
    assert!(text.contains(&format!("{} never sent", r.unsent)), "{text}");
}

#[test]
fn warmup_samples_are_left_out_of_every_figure() {
    // Each request waits 50 ms in the server, so the 400 ms warm-up holds several samples;
    // the server's own count (--stats-file) says how many were served in all.
    let stats = std::env::temp_dir().join(format!("loadgen-warmup-{}.json", std::process::id()));
    let stats_arg = stats.to_string_lossy().into_owned();
    let mut server = Server::start(
        "epoll",
        &[
            "--framed",
            "--backend-wait",
            "50ms",
            "--stats-file",
            &stats_arg,
        ],
    );
    let started = Instant::now();
    let (r, text) = run_at(
        server.addr,
        &[
            "--framed",
            "--threads",
            "1",
            "--duration",
            "300ms",
            "--warmup",
            "400ms",
        ],
    );
    let wall = started.elapsed().as_secs_f64();
    server.signal(libc::SIGTERM);
    assert!(server.wait_exit(Duration::from_secs(2)).is_some());
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    std::fs::remove_file(&stats).unwrap();
    let served = json["requests"].as_u64().unwrap();
    assert!(r.ok >= 1 && r.errors == 0, "{text}");
    assert!(r.ok < served, "{} counted of {served} served: {text}", r.ok);
    assert_eq!(r.stats().unwrap().latency.len(), r.ok);
    assert_eq!(r.bytes_received, r.ok * (64 + 8), "{text}");
    // Elapsed time (and so every rate) counts from the end of the warm-up.
    assert!(
        r.run.elapsed_s + 0.4 <= wall,
        "elapsed {} of {wall} s",
        r.run.elapsed_s
    );
    assert!(r.run.elapsed_s >= 0.3, "elapsed {}", r.run.elapsed_s);
    assert!(text.contains("after a 400ms warm-up"), "{text}");
}

#[test]
fn merged_files_equal_the_combined_run() {
    let server = Server::start("epoll", &[]);
    let dir = std::env::temp_dir().join(format!("loadgen-merge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b, c) = (dir.join("a.json"), dir.join("b.json"), dir.join("c.json"));
    let args = |f: &std::path::Path| {
        vec![
            "--threads".to_string(),
            "5".into(),
            "--loops".into(),
            "100".into(),
            "--json".into(),
            f.display().to_string(),
        ]
    };
    for f in [&a, &b] {
        let v = args(f);
        run_at(
            server.addr,
            &v.iter().map(String::as_str).collect::<Vec<_>>(),
        );
    }
    let (combined, _) = run_at(server.addr, &["--threads", "10", "--loops", "100"]);

    let argv = [
        "loadgen",
        "merge",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--json",
        c.to_str().unwrap(),
    ];
    let mut out = Vec::new();
    let merged = loadgen::run_to(clap::Parser::parse_from(argv), &mut out, false)
        .unwrap()
        .into_report()
        .expect("a merge's report");
    let ra = loadgen::run::json::read(&a).unwrap();
    let rb = loadgen::run::json::read(&b).unwrap();
    assert_eq!(merged.samples, combined.samples);
    assert_eq!(merged.ok, ra.ok + rb.ok);
    assert_eq!(merged.run.planned_samples, combined.run.planned_samples);
    assert_eq!(merged.run.settings.threads, 10);
    assert_eq!(merged.run.parts, 2);
    assert_eq!(merged.latency_us.sum, ra.latency_us.sum + rb.latency_us.sum);
    assert_eq!(
        merged.latency_us.max,
        ra.latency_us.max.max(rb.latency_us.max)
    );
    let mut h = ra.stats().unwrap().latency;
    h.add(rb.stats().unwrap().latency).unwrap();
    assert_eq!(
        merged.stats().unwrap().latency,
        h,
        "histograms merge bucket by bucket"
    );
    assert_eq!(loadgen::run::json::read(&c).unwrap(), merged);
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("merged 2 runs"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

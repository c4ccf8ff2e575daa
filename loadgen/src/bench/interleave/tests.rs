use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::driver::{Driver, Load, Slicing};
use super::*;
use crate::bench::suite::pingpong::PingPong;
use crate::bench::suite::plans::Plans;
use crate::bench::suite::spec::Suite;

fn models(n: usize) -> Vec<String> {
    let mut m = vec!["epoll".to_string()];
    m.extend((1..n).map(|i| format!("m{i}")));
    m
}

fn interleaved() -> BenchConfig {
    let mut c = crate::bench::suite::spec::config(1.0);
    c.design = Design::Interleaved;
    c
}

fn point(conns: u64) -> Point {
    let mut p = PingPong.points(&crate::bench::suite::spec::config(1.0))[0].clone();
    p.conns = conns;
    p.point = conns.to_string();
    p
}

#[test]
fn round_orders_replay_from_the_seed() {
    let a: Vec<Vec<usize>> = (1..=20)
        .map(|r| round_order(7, SuiteName::PingPong, "100", 1, r, 11))
        .collect();
    let b: Vec<Vec<usize>> = (1..=20)
        .map(|r| round_order(7, SuiteName::PingPong, "100", 1, r, 11))
        .collect();
    assert_eq!(a, b, "the same seed gives the same orders");
    for order in &a {
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..11).collect::<Vec<_>>(), "a permutation");
    }
    let distinct: std::collections::BTreeSet<_> = a.iter().collect();
    assert!(distinct.len() > 15, "rounds draw their own orders");
    assert_ne!(a[0], round_order(8, SuiteName::PingPong, "100", 1, 1, 11));
    assert_ne!(a[0], round_order(7, SuiteName::PingPong, "100", 2, 1, 11));
}

#[test]
fn points_that_do_not_fit_run_in_groups_or_blocks() {
    let c = interleaved();
    let ms = models(11);
    // 11 x 1,000 connections fit in loadgen's 19,900 open files: one group.
    assert_eq!(
        design_for(&c, &PingPong, &point(1000), &ms),
        PointDesign::Interleaved(vec![ms.clone()])
    );
    // 5,000 each: three servers at a time, the reference in every group.
    let PointDesign::Interleaved(groups) = design_for(&c, &PingPong, &point(5000), &ms) else {
        panic!("5,000 connections run in groups");
    };
    assert_eq!(groups.len(), 5);
    assert!(groups.iter().all(|g| g[0] == "epoll" && g.len() <= 3));
    let others: Vec<&String> = groups.iter().flat_map(|g| &g[1..]).collect();
    assert_eq!(others.len(), 10, "every other model once");
    // 10,000 each: not even two fit.
    match design_for(&c, &PingPong, &point(10_000), &ms) {
        PointDesign::Blocks(Some(why)) => assert!(why.contains("open files"), "{why}"),
        other => panic!("{other:?}"),
    }
    // Past one server process, and where the bench or the suite asks for blocks.
    let mut many = c.clone();
    many.server_procs = 4;
    assert!(matches!(
        design_for(&many, &PingPong, &point(60_000), &ms),
        PointDesign::Blocks(Some(_))
    ));
    let plans = &Plans.points(&c)[0];
    assert_eq!(
        design_for(&c, &Plans, plans, &ms),
        PointDesign::Blocks(None)
    );
    let blocks = crate::bench::suite::spec::config(1.0);
    assert_eq!(
        design_for(&blocks, &PingPong, &point(100), &ms),
        PointDesign::Blocks(None)
    );
    // The fixed-rate point is interleaved too.
    let rate = PingPong.points(&c).pop().unwrap();
    assert_eq!(rate.kind, PointKind::FixedRate);
    assert!(matches!(
        design_for(&c, &PingPong, &rate, &ms),
        PointDesign::Interleaved(_)
    ));
}

/// An echo server on a free port whose replies go through `hold`: it is given the time
/// since the server started and says how long to hold the reply back.
fn echo_server(
    hold: impl Fn(Duration) -> Duration + Send + Sync + 'static,
) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let hold = Arc::new(hold);
    let born = Instant::now();
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let hold = Arc::clone(&hold);
            thread::spawn(move || {
                let _ = conn.set_nodelay(true);
                let mut buf = [0u8; 64];
                loop {
                    // One 64-byte message at a time, as the driver sends them.
                    if conn.read_exact(&mut buf).is_err() {
                        return;
                    }
                    thread::sleep(hold(born.elapsed()));
                    if conn.write_all(&buf).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

#[test]
fn a_sample_counts_only_inside_its_measured_part() {
    // Every reply held 150 ms: the warm-up's message (sent at its start) comes back after
    // the warm-up ended and is not counted; the measured part's one message goes at t0,
    // comes back in the drain and is counted; nothing else is sent.
    let addr = echo_server(|_| Duration::from_millis(150));
    let mut d = Driver::new(64).unwrap();
    let (s, open) = d.add_server(addr, 1, Duration::from_secs(5));
    assert_eq!(open, 1);
    let cut = Slicing {
        warmup: Duration::from_millis(100),
        measured: Duration::from_millis(100),
        drain_limit: Duration::from_secs(1),
    };
    let mut edges = Vec::new();
    let o = d.slice(s, &[], Load::Closed, &cut, &mut |e| edges.push(e));
    assert_eq!(edges, [true, false], "one edge before t0, one after t1");
    assert_eq!(o.stats.tally.ok, 1);
    assert_eq!(o.stats.tally.errors.total(), 0);
    assert!(o.stats.tally.min_us >= 150_000, "{:?}", o.stats.tally);
    assert!((0.15..0.30).contains(&o.measured_s), "{}", o.measured_s);
    assert!(o.drain_s > 0.0 && o.drain_s < o.measured_s);
    assert!(o.warmup_s >= 0.1);
    assert_eq!((o.connected, o.abandoned), (1, 0));
    assert_eq!(o.server_cpu_ns, None, "no server process given");
}

#[test]
fn a_reply_later_than_the_drain_is_an_error_and_never_counted_later() {
    // Replies come at once, except the first message after 200 ms of the server's life,
    // which is held 600 ms: past the drain limit of the slice it falls in.
    let held = Arc::new(AtomicBool::new(false));
    let h = Arc::clone(&held);
    let addr = echo_server(move |age| {
        if age > Duration::from_millis(200) && !h.swap(true, Ordering::SeqCst) {
            Duration::from_millis(600)
        } else {
            Duration::ZERO
        }
    });
    let mut d = Driver::new(64).unwrap();
    let (s, _) = d.add_server(addr, 4, Duration::from_secs(5));
    let cut = Slicing {
        warmup: Duration::from_millis(20),
        measured: Duration::from_millis(300),
        drain_limit: Duration::from_millis(150),
    };
    let first = d.slice(s, &[], Load::Closed, &cut, &mut |_| {});
    assert!(
        held.load(Ordering::SeqCst),
        "the slice reached the held reply"
    );
    assert_eq!(first.abandoned, 1);
    assert_eq!(first.stats.tally.errors.read_timeout, 1);
    assert_eq!(first.stats.tally.errors.total(), 1);
    assert!(first.stats.tally.ok > 0);
    // The held reply goes out while nothing waits for it; the next slice reopens the
    // connection and counts only its own samples, every byte checked.
    thread::sleep(Duration::from_millis(700));
    let second = d.slice(s, &[], Load::Closed, &cut, &mut |_| {});
    assert_eq!(
        second.connected, 4,
        "the closed connection was opened again"
    );
    assert_eq!(
        second.stats.tally.errors.total(),
        0,
        "{:?}",
        second.stats.tally
    );
    assert!(second.stats.tally.ok > 0);
    assert_eq!(second.abandoned, 0);
}

#[test]
fn the_open_loop_sends_on_schedule_and_counts_from_due_times() {
    let addr = echo_server(|_| Duration::ZERO);
    let mut d = Driver::new(64).unwrap();
    let (s, _) = d.add_server(addr, 10, Duration::from_secs(5));
    let cut = Slicing {
        warmup: Duration::from_millis(50),
        measured: Duration::from_millis(200),
        drain_limit: Duration::from_secs(1),
    };
    let o = d.slice(s, &[], Load::Open { rate: 1000.0 }, &cut, &mut |_| {});
    // 1,000/s over 200 ms: requests due at 0, 1, ..., 199 ms.
    assert_eq!(o.stats.tally.ok, 200, "{:?}", o.stats.tally);
    assert!(o.stats.raw.is_some(), "the uncorrected latency is kept");
    let per_user = o.stats.per_user.as_ref().unwrap();
    assert_eq!(per_user.samples.len(), 10);
    assert_eq!(per_user.samples.min(), 20, "each connection in turn");
    // Each connection's reply is back long before its next request falls due, so every
    // counted request went out on its schedule and its lateness is loadgen's own.
    let late = o
        .stats
        .lateness
        .as_ref()
        .expect("an open loop's send lateness");
    assert!(!late.is_empty() && late.len() <= 200, "{}", late.len());
    let report = crate::run::report::test_report(&o.stats);
    assert!(
        report
            .send_lateness_us
            .is_some_and(|l| l.count == late.len())
    );
}

#[test]
fn a_request_waiting_for_its_busy_connection_is_not_counted_as_send_lateness() {
    // One connection, a request due every millisecond, each reply held 30 ms: after the
    // first, every request waits behind the one before it (the server's delay).
    let addr = echo_server(|_| Duration::from_millis(30));
    let mut d = Driver::new(64).unwrap();
    let (s, _) = d.add_server(addr, 1, Duration::from_secs(5));
    let cut = Slicing {
        warmup: Duration::from_millis(10),
        measured: Duration::from_millis(60),
        drain_limit: Duration::from_millis(300),
    };
    let o = d.slice(s, &[], Load::Open { rate: 1000.0 }, &cut, &mut |_| {});
    assert!(o.stats.tally.ok > 1, "{:?}", o.stats.tally);
    let late = o.stats.lateness.as_ref().unwrap();
    assert_eq!(
        late.len(),
        1,
        "only the request sent at t0 went out on its schedule"
    );
    // Closed-loop slices have none.
    let o = d.slice(s, &[], Load::Closed, &cut, &mut |_| {});
    assert!(o.stats.lateness.is_none());
}

#[test]
fn two_servers_take_turns_on_their_own_connections() {
    let a = echo_server(|_| Duration::ZERO);
    let b = echo_server(|_| Duration::from_millis(5));
    let mut d = Driver::new(64).unwrap();
    let (sa, _) = d.add_server(a, 3, Duration::from_secs(5));
    let (sb, _) = d.add_server(b, 3, Duration::from_secs(5));
    let cut = Slicing {
        warmup: Duration::from_millis(20),
        measured: Duration::from_millis(100),
        drain_limit: Duration::from_secs(1),
    };
    let fast = d.slice(sa, &[], Load::Closed, &cut, &mut |_| {});
    let slow = d.slice(sb, &[], Load::Closed, &cut, &mut |_| {});
    assert_eq!(fast.connected, 3);
    assert_eq!(slow.connected, 3);
    // 3 connections held 5 ms a reply: about 60 in 100 ms, each at least 5 ms.
    assert!(slow.stats.tally.min_us >= 5_000);
    assert!(
        (30..=70).contains(&slow.stats.tally.ok),
        "{}",
        slow.stats.tally.ok
    );
    assert!(fast.stats.tally.ok > 2 * slow.stats.tally.ok);
    assert_eq!(
        fast.stats.tally.errors.total() + slow.stats.tally.errors.total(),
        0
    );
}

/// A Python echo server in a process of its own, burning `burn_us` of its CPU (by its
/// process clock) before each reply; its port and process.
fn burning_server(burn_us: u32) -> (std::process::Child, std::net::SocketAddr) {
    use std::io::BufRead;
    let script = format!(
        "import selectors, socket, time\n\
         l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(64); l.setblocking(False)\n\
         print(l.getsockname()[1], flush=True)\n\
         sel = selectors.DefaultSelector(); sel.register(l, selectors.EVENT_READ)\n\
         while True:\n\
         \x20   for key, _ in sel.select():\n\
         \x20       s = key.fileobj\n\
         \x20       if s is l:\n\
         \x20           c, _ = l.accept(); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)\n\
         \x20           sel.register(c, selectors.EVENT_READ); continue\n\
         \x20       d = s.recv(65536)\n\
         \x20       if not d: sel.unregister(s); s.close(); continue\n\
         \x20       t = time.process_time()\n\
         \x20       while time.process_time() - t < {burn}: pass\n\
         \x20       s.sendall(d)\n",
        burn = f64::from(burn_us) / 1e6
    );
    let mut child = std::process::Command::new("python3")
        .args(["-c", &script])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 (installed by scripts/deps.sh)");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line.trim().parse().unwrap();
    (child, std::net::SocketAddr::from(([127, 0, 0, 1], port)))
}

#[test]
fn a_known_added_cost_is_found_in_the_cpu_per_message() {
    // Two copies of one server, one burning 200 us more per message: interleaved, their
    // CPU per message must differ by those 200 us, and the same server twice by nothing.
    let (mut a, addr_a) = burning_server(100);
    let (mut b, addr_b) = burning_server(300);
    let (mut c, addr_c) = burning_server(100);
    let mut d = Driver::new(64).unwrap();
    let servers: Vec<(usize, u32)> = [(addr_a, a.id()), (addr_b, b.id()), (addr_c, c.id())]
        .iter()
        .map(|(addr, pid)| (d.add_server(*addr, 4, Duration::from_secs(5)).0, *pid))
        .collect();
    let cut = Slicing {
        warmup: Duration::from_millis(20),
        measured: Duration::from_millis(100),
        drain_limit: Duration::from_secs(1),
    };
    let mut per_msg = vec![Vec::new(); 3];
    for round in 0..5 {
        for (i, &(s, pid)) in servers.iter().enumerate() {
            let o = d.slice(s, &[pid], Load::Closed, &cut, &mut |_| {});
            assert_eq!(o.stats.tally.errors.total(), 0);
            let ok = o.stats.tally.ok;
            assert!(ok > 50, "round {round}: {ok} messages");
            per_msg[i].push(o.server_cpu_ns.unwrap() as f64 / 1e3 / ok as f64);
        }
    }
    for p in [&mut a, &mut b, &mut c] {
        let _ = p.kill();
        let _ = p.wait();
    }
    // The middle of the five rounds (the bench's own medians are the summary's, a layer up).
    let med = |v: &Vec<f64>| {
        let mut sorted = v.clone();
        sorted.sort_by(f64::total_cmp);
        sorted[sorted.len() / 2]
    };
    let added = med(&per_msg[1]) - med(&per_msg[0]);
    assert!(
        (180.0..230.0).contains(&added),
        "added {added:.1} us: {per_msg:?}"
    );
    let twin = med(&per_msg[2]) - med(&per_msg[0]);
    assert!(
        twin.abs() < 15.0,
        "the same server twice differs by {twin:.1} us"
    );
}

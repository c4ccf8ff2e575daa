//! The suites' sections of summary.md: the main table, `pingpong` (messages/s with
//! intervals, relative speed, latency, CPU per message, system calls, user share, RSS per
//! connection, top system calls, the fixed-rate run) and `plans` (the PyYYC table).

use std::fmt::Write as _;

use super::aggregate::Grid;
use super::markdown::{Figure, grid_table, lat, mean, ms, num, pm, table};
use crate::bench::data::{BenchResults, RunRecord};

/// The main table: messages/s per connection count, and the server's CPU at the fixed rate;
/// for a bench in blocks, each figure with its ratio to the reference and its verdict.
pub fn headline(r: &BenchResults, reference: &str, margin: f64) -> String {
    let sweep = Grid::new(r, "pingpong", "sweep");
    let fixed = Grid::new(r, "pingpong", "fixed-rate");
    if sweep.is_empty() {
        return "(no ping-pong runs)\n".into();
    }
    let mut header = vec!["model".to_string()];
    header.extend(
        sweep
            .points
            .iter()
            .map(|p| format!("msg/s @ {} conns", num(sweep.conns(p) as f64, 0))),
    );
    let fp = fixed.points.first().cloned();
    let blocked = r.config.is_blocked();
    let verdicts = |point: &str, metric| {
        blocked.then(|| super::verdict::at_point(r, "pingpong", point, metric, reference, margin))
    };
    let sweep_v: Vec<_> = sweep
        .points
        .iter()
        .map(|p| verdicts(p, super::verdict::MSG_S))
        .collect();
    let fixed_v = fp
        .as_deref()
        .and_then(|p| verdicts(p, super::verdict::CPU_MSG));
    let with = |v: &Option<super::verdict::PointVerdicts>, m: &str, figure: String| match v
        .as_ref()
        .and_then(|pv| super::ranking::brief(pv, m))
    {
        Some(b) if figure != "-" => format!("{figure} ({b})"),
        _ => figure,
    };
    if let Some(p) = &fp {
        header.push(format!("server CPU % @ {} msg/s", num(rate_of(p), 0)));
        header.push("server CPU us/msg @ fixed rate".into());
    }
    let rows: Vec<Vec<String>> = sweep
        .models
        .iter()
        .map(|m| {
            let mut row = vec![super::baselines::label(m)];
            row.extend(sweep.points.iter().zip(&sweep_v).map(|(p, v)| {
                with(
                    v,
                    m,
                    mean(sweep.cell(m, p, |r| r.messages_per_s), |v| num(v, 0)),
                )
            }));
            if let Some(p) = &fp {
                row.push(mean(fixed.cell(m, p, RunRecord::server_cpu_pct), |v| {
                    num(v, 1)
                }));
                row.push(with(
                    &fixed_v,
                    m,
                    mean(fixed.cell(m, p, fixed.cpu_us_per_message()), |v| num(v, 2)),
                ));
            }
            row
        })
        .collect();
    table(&header, &rows)
}

/// Service per connection: Jain's index, the fewest samples a connection got, starved
/// connections and the longest wait, with every starved connection called out.
fn fairness(g: &Grid, s: &mut String) {
    let fair = |r: &RunRecord| r.report.as_ref()?.fairness.clone();
    if !g.models.iter().any(|m| {
        g.points
            .iter()
            .any(|p| g.ok_runs(m, p).any(|r| fair(r).is_some()))
    }) {
        return;
    }
    let _ = writeln!(
        s,
        "### Fairness per connection\n\nJain's index of ok samples per connection over the measured window (1: every connection served alike; 1/n: one got everything), mean over blocks:\n\n{}",
        grid_table(
            g,
            |r| fair(r).map(|f| f.jain),
            |c| mean(c, |v| format!("{v:.3}"))
        )
    );
    let _ = writeln!(
        s,
        "Ok samples of the least-served connection / connections with none / longest wait for an echo in ms (the worst block for each):\n\n{}",
        {
            let mut header = vec!["model".to_string()];
            header.extend(
                g.points
                    .iter()
                    .map(|p| format!("{} conns", num(g.conns(p) as f64, 0))),
            );
            let rows: Vec<Vec<String>> = g
                .models
                .iter()
                .map(|m| {
                    let mut row = vec![m.clone()];
                    row.extend(g.points.iter().map(|p| {
                        let fs: Vec<_> = g.ok_runs(m, p).filter_map(fair).collect();
                        match (
                            fs.iter().map(|f| f.min).min(),
                            fs.iter().map(|f| f.starved).max(),
                            fs.iter().map(|f| f.max_wait_us).max(),
                        ) {
                            (Some(min), Some(starved), Some(wait)) => {
                                format!("{min} / {starved} / {}", ms(wait as f64))
                            }
                            _ => "-".into(),
                        }
                    }));
                    row
                })
                .collect();
            table(&header, &rows)
        }
    );
    let starved: Vec<String> = g
        .models
        .iter()
        .flat_map(|m| {
            g.points.iter().filter_map(move |p| {
                let worst = g.ok_runs(m, p).filter_map(fair).max_by_key(|f| f.starved)?;
                (worst.starved > 0).then(|| {
                    format!(
                        "{m} at {} connections ({} of {} got no echo in a block)",
                        num(g.conns(p) as f64, 0),
                        num(worst.starved as f64, 0),
                        num(worst.users as f64, 0)
                    )
                })
            })
        })
        .collect();
    let _ = writeln!(
        s,
        "{}\n",
        if starved.is_empty() {
            "No connection was starved: every one got at least one echo in every measured window."
                .to_string()
        } else {
            format!("Starved connections: {}.", starved.join("; "))
        }
    );
}

/// The offered rate in a fixed-rate point's name (`rate-50000`).
fn rate_of(point: &str) -> f64 {
    point.trim_start_matches("rate-").parse().unwrap_or(0.0)
}

pub(super) fn pingpong(r: &BenchResults, s: &mut String) {
    let g = Grid::new(r, "pingpong", "sweep");
    if g.is_empty() {
        return;
    }
    let rounds = r.config.blocks_of("pingpong");
    let how = if r
        .runs
        .iter()
        .any(|x| x.suite == "pingpong" && x.slice.is_some())
    {
        format!(
            "at the interleaved points {rounds} rounds of one slice per model (see How each point was measured), the servers up throughout; elsewhere {}s per run after a warm-up that opens the connections and is not counted, {rounds} block(s), each running every model once in a shuffled order",
            r.config.duration_s
        )
    } else {
        format!(
            "{}s per run after a warm-up that opens the connections and is not counted, {rounds} block(s), each running every model once in a shuffled order",
            r.config.duration_s
        )
    };
    let _ = writeln!(
        s,
        "## pingpong\n\n64-byte ping-pong, one message in flight per connection: {how}. Means and intervals below are over a model's blocks or rounds.\n"
    );
    if let Some(big) = r
        .runs
        .iter()
        .filter(|x| x.suite == "pingpong" && x.server_procs > 1)
        .min_by_key(|x| x.conns)
    {
        let _ = writeln!(
            s,
            "From {} connections on, each model ran as {} server processes sharing the port (SO_REUSEPORT, the kernel spreads connections by a hash) with CPU, memory and system calls added up, and loadgen as several processes over several loopback source addresses: one process holds at most {} connections here. kernel.pid_max is {}, a machine-wide cap on threads, so on the thread model's connections.\n",
            num(big.conns as f64, 0),
            big.server_procs,
            num(crate::bench::config::MAX_CONNS as f64, 0),
            r.environment.base.pid_max,
        );
    }
    let _ = writeln!(
        s,
        "### Messages per second (mean ± 95% interval over blocks)\n\n{}",
        grid_table(&g, |r| r.messages_per_s, |c| pm(c, 0))
    );
    let mut header = vec!["model".to_string()];
    header.extend(
        g.points
            .iter()
            .map(|p| format!("{} conns", num(g.conns(p) as f64, 0))),
    );
    let slowest: Vec<Option<f64>> = g
        .points
        .iter()
        .map(|p| {
            g.models
                .iter()
                .filter_map(|m| g.cell(m, p, |r| r.messages_per_s).map(|c| c.mean))
                .filter(|v| *v > 0.0)
                .reduce(f64::min)
        })
        .collect();
    let rows: Vec<Vec<String>> = g
        .models
        .iter()
        .map(|m| {
            let mut row = vec![m.clone()];
            for (p, low) in g.points.iter().zip(&slowest) {
                let c = g.cell(m, p, |r| r.messages_per_s);
                row.push(match (c, low) {
                    (Some(c), Some(low)) => format!("x{:.2}", c.mean / low),
                    _ => "-".into(),
                });
            }
            row
        })
        .collect();
    let _ = writeln!(
        s,
        "### Speed relative to the slowest model at each count\n\n{}",
        table(&header, &rows)
    );
    let _ = writeln!(s, "### Latency p50 / p95, ms (mean over blocks)\n\n{}", {
        let p50 = |m: &str, p: &str| g.cell(m, p, |r| lat(r, |l| l.p50));
        let p95 = |m: &str, p: &str| g.cell(m, p, |r| lat(r, |l| l.p95));
        let rows: Vec<Vec<String>> = g
            .models
            .iter()
            .map(|m| {
                let mut row = vec![m.clone()];
                row.extend(
                    g.points
                        .iter()
                        .map(|p| format!("{} / {}", mean(p50(m, p), ms), mean(p95(m, p), ms))),
                );
                row
            })
            .collect();
        table(&header, &rows)
    });
    let _ = writeln!(
        s,
        "### Server CPU microseconds (user + system) per message\n\n{}",
        grid_table(&g, g.cpu_us_per_message(), |c| mean(c, |v| num(v, 2)))
    );
    let sections: [(&str, Figure, usize); 3] = [
        (
            "Server system calls per message (perf)",
            |r| r.syscalls.as_ref().map(|s| s.per_message),
            2,
        ),
        (
            "User share of the server's CPU time, %",
            RunRecord::user_share_pct,
            0,
        ),
        (
            "Server RSS per connection, bytes (peak during the run minus before it)",
            RunRecord::rss_per_conn_bytes,
            0,
        ),
    ];
    for (title, f, d) in sections {
        let _ = writeln!(
            s,
            "### {title}\n\n{}",
            grid_table(&g, f, |c| mean(c, |v| num(v, d)))
        );
    }
    fairness(&g, s);
    if let Some(last) = g.points.last() {
        let rows: Vec<Vec<String>> = g
            .models
            .iter()
            .map(|m| {
                let top = g
                    .ok_runs(m, last)
                    .filter_map(|r| Some((r.syscalls.as_ref()?, r.report.as_ref()?.ok)))
                    .filter(|(sc, _)| !sc.top.is_empty())
                    .last();
                let text = top.map_or("-".into(), |(sc, ok)| {
                    sc.top
                        .iter()
                        .map(|(n, c)| format!("{n} {:.2}", *c as f64 / ok.max(1) as f64))
                        .collect::<Vec<_>>()
                        .join(", ")
                });
                vec![m.clone(), text]
            })
            .collect();
        let _ = writeln!(
            s,
            "### Top system calls per message at {} conns (the last good run that counted them: a point's first block)\n\n{}",
            num(g.conns(last) as f64, 0),
            table(
                &["model".into(), "calls per message (watched calls)".into()],
                &rows
            )
        );
    }
    fixed_rate(r, s);
}

fn fixed_rate(r: &BenchResults, s: &mut String) {
    let g = Grid::new(r, "pingpong", "fixed-rate");
    let Some(p) = g.points.first() else { return };
    let header: Vec<String> = [
        "model",
        "offered msg/s",
        "achieved msg/s",
        "server CPU %",
        "CPU us/msg",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "syscalls/msg",
        "errors %",
        "loadgen CPU %",
        "loadgen lateness p99 us",
    ]
    .iter()
    .map(|h| h.to_string())
    .collect();
    let rows: Vec<Vec<String>> = g
        .models
        .iter()
        .map(|m| {
            vec![
                m.clone(),
                num(rate_of(p), 0),
                pm(g.cell(m, p, |r| r.messages_per_s), 0),
                pm(g.cell(m, p, RunRecord::server_cpu_pct), 1),
                mean(g.cell(m, p, g.cpu_us_per_message()), |v| num(v, 2)),
                mean(g.cell(m, p, |r| lat(r, |l| l.p50)), ms),
                mean(g.cell(m, p, |r| lat(r, |l| l.p95)), ms),
                mean(g.cell(m, p, |r| lat(r, |l| l.p99)), ms),
                mean(
                    g.cell(m, p, |r| r.syscalls.as_ref().map(|s| s.per_message)),
                    |v| num(v, 2),
                ),
                mean(g.cell(m, p, RunRecord::error_pct), |v| num(v, 2)),
                mean(g.cell(m, p, RunRecord::loadgen_cpu_pct), |v| num(v, 1)),
                mean(g.cell(m, p, RunRecord::send_lateness_p99_us), |v| num(v, 0)),
            ]
        })
        .collect();
    let _ = writeln!(
        s,
        "### Server CPU at a fixed offered load ({} msg/s over {} connections, open loop)\n\nThe same load for every model: the CPU it needs is its cost. Latency counts from each request's due time. loadgen's own CPU share and its send lateness (the time from a request's due time to its send, with its connection free) say how well the client held the schedule; a run whose lateness p99 is over a tenth of its p99 is left out of the p99 verdicts. Means over the runs or slices.\n\n{}",
        num(rate_of(p), 0),
        g.conns(p),
        table(&header, &rows)
    );
}

pub(super) fn plans(r: &BenchResults, s: &mut String) {
    let g = Grid::new(r, "plans", "plan");
    if g.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "## plans\n\nThe PyYYC 2020 JMeter plans (threads x loops, 1 s ramp-up; loops scaled by {}), as its table: throughput, latency avg/min/max, errors, server CPU and memory.\n",
        r.config.scale
    );
    let header: Vec<String> = [
        "model",
        "throughput/s",
        "avg ms",
        "min ms",
        "max ms",
        "error %",
        "server CPU %",
        "RSS peak MiB",
        "VSZ peak MiB",
    ]
    .iter()
    .map(|h| h.to_string())
    .collect();
    for p in &g.points {
        let rows: Vec<Vec<String>> = g
            .models
            .iter()
            .map(|m| {
                let c = |f: fn(&RunRecord) -> Option<f64>| g.cell(m, p, f);
                vec![
                    m.clone(),
                    pm(c(|r| r.report.as_ref().map(|x| x.throughput_per_s)), 0),
                    mean(c(|r| r.report.as_ref().map(|x| x.latency_us.mean)), ms),
                    c(|r| lat(r, |l| l.min)).map_or("-".into(), |c| ms(c.min)),
                    c(|r| lat(r, |l| l.max)).map_or("-".into(), |c| ms(c.max)),
                    mean(c(RunRecord::error_pct), |v| num(v, 2)),
                    mean(c(RunRecord::server_cpu_pct), |v| num(v, 1)),
                    mean(c(|r| r.rss_peak_kib.map(|k| k as f64 / 1024.0)), |v| {
                        num(v, 1)
                    }),
                    mean(c(|r| r.vsz_peak_kib.map(|k| k as f64 / 1024.0)), |v| {
                        num(v, 1)
                    }),
                ]
            })
            .collect();
        let _ = writeln!(s, "### {p} (threads x loops)\n\n{}", table(&header, &rows));
    }
}

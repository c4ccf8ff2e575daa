//! The ping-pong suite's section: messages/s with intervals, speed relative to the slowest
//! model, latency, server CPU per message, system calls, user share, RSS per connection,
//! fairness per connection and the top system calls; and its three charts against
//! connections (messages/s, p95 latency, CPU per message) with 95% error bars.

use std::fmt::Write as _;

use super::{Bench, ChartFile, Section};
use crate::bench::data::{BenchResults, RunRecord};
use crate::bench::names::{PointKind, SuiteName};
use crate::md::{ms, num, table};
use crate::report::figures::{Figure, conns_header, grid_table, lat, mean, pm};
use crate::report::stats::aggregate::Grid;
use crate::report::svg::chart::Chart;

/// The section.
pub struct Pingpong;

impl Section for Pingpong {
    fn markdown(&self, b: &Bench, s: &mut String) {
        pingpong(b.results, s);
    }

    fn charts(&self, b: &Bench) -> Vec<ChartFile> {
        charts(b.results)
    }
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
            let header = conns_header(g);
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
    // Starved: served under 1% of the best-served connection's echoes (the worst block), which
    // counts a pool's waiting connections even when each got one echo at the end.
    let starved: Vec<String> = g
        .models
        .iter()
        .flat_map(|m| {
            g.points.iter().filter_map(move |p| {
                let (under, worst) = g
                    .ok_runs(m, p)
                    .filter_map(fair)
                    .filter_map(|f| Some((f.underserved(STARVED_SHARE)?, f)))
                    .max_by_key(|(under, _)| *under)?;
                (under > 0).then(|| {
                    format!(
                        "{m} at {} connections ({} of {} got under 1% of the best-served connection's echoes; Jain's index {:.3}, longest wait {} ms)",
                        num(g.conns(p) as f64, 0),
                        num(under as f64, 0),
                        num(worst.users as f64, 0),
                        worst.jain,
                        ms(worst.max_wait_us as f64)
                    )
                })
            })
        })
        .collect();
    let _ = writeln!(
        s,
        "{}\n",
        if starved.is_empty() {
            "No connection was starved: every one got at least 1% of the best-served connection's echoes in every measured window."
                .to_string()
        } else {
            format!(
                "Starved connections (the worst block for each): {}.",
                starved.join("; ")
            )
        }
    );
}

/// A connection served less than this share of the best-served connection's ok samples is
/// starved.
const STARVED_SHARE: f64 = 0.01;

fn pingpong(r: &BenchResults, s: &mut String) {
    let g = Grid::new(r, SuiteName::PingPong, PointKind::Sweep);
    if g.is_empty() {
        return;
    }
    let rounds = r.config.blocks_of(SuiteName::PingPong);
    let how = if r
        .runs
        .iter()
        .any(|x| x.suite == SuiteName::PingPong && x.slice.is_some())
    {
        format!(
            "at the interleaved points {rounds} rounds of one slice per model (see How each point was measured), the servers up throughout; elsewhere {}s per run after a warm-up that opens the connections and is not counted, {rounds} block(s), each running every model once in a shuffled order",
            r.config.duration_s
        )
    } else {
        let order = if r.config.is_blocked() {
            "in a shuffled order"
        } else {
            "in one fixed order (before blocks were shuffled)"
        };
        format!(
            "{}s per run after a warm-up that opens the connections and is not counted, {rounds} block(s), each running every model once {order}",
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
        .filter(|x| x.suite == SuiteName::PingPong && x.server_procs > 1)
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
    let header = conns_header(&g);
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
}

/// The ping-pong sweep's charts.
fn charts(r: &BenchResults) -> Vec<ChartFile> {
    let g = Grid::new(r, SuiteName::PingPong, PointKind::Sweep);
    if g.is_empty() {
        return Vec::new();
    }
    let line = |f: &dyn Fn(&RunRecord) -> Option<f64>| -> Vec<(String, Vec<(f64, f64)>)> {
        g.models
            .iter()
            .map(|m| {
                let pts = g
                    .points
                    .iter()
                    .filter_map(|p| Some((g.conns(p) as f64, g.cell(m, p, f)?.mean)))
                    .collect();
                (m.clone(), pts)
            })
            .collect()
    };
    // 95% intervals of the means over blocks, as error bars.
    let bars = |f: &dyn Fn(&RunRecord) -> Option<f64>| -> Vec<Vec<(f64, f64, f64)>> {
        g.models
            .iter()
            .map(|m| {
                g.points
                    .iter()
                    .filter_map(|p| {
                        let c = g.cell(m, p, f)?;
                        let hw = c.ci95?;
                        Some((g.conns(p) as f64, c.mean - hw, c.mean + hw))
                    })
                    .collect()
            })
            .collect()
    };
    let p95 = |r: &RunRecord| lat(r, |l| l.p95).map(|us| us / 1000.0);
    vec![
        ChartFile::shown(
            "pingpong-throughput.svg",
            "messages/s vs connections",
            &Chart {
                title: "pingpong: messages/s (mean over blocks, 95% interval)".into(),
                x_label: "connections (log scale)".into(),
                y_label: "messages/s".into(),
                log_x: true,
                log_y: false,
                series: line(&|r: &RunRecord| r.messages_per_s),
                bars: bars(&|r: &RunRecord| r.messages_per_s),
            },
        ),
        ChartFile::shown(
            "pingpong-p95.svg",
            "p95 latency vs connections",
            &Chart {
                title: "pingpong: p95 latency, ms (mean over blocks, 95% interval)".into(),
                x_label: "connections (log scale)".into(),
                y_label: "p95 latency, ms (log scale)".into(),
                log_x: true,
                log_y: true,
                series: line(&p95),
                bars: bars(&p95),
            },
        ),
        ChartFile::shown(
            "pingpong-cpu-per-msg.svg",
            "server CPU us per message vs connections",
            &Chart {
                title: "pingpong: server CPU us per message (mean, 95% interval)".into(),
                x_label: "connections (log scale)".into(),
                y_label: "us of CPU per message".into(),
                log_x: true,
                log_y: false,
                series: line(&g.cpu_us_per_message()),
                bars: bars(&g.cpu_us_per_message()),
            },
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sections::render;
    use crate::report::stats::fixtures::with_errors;

    #[test]
    fn the_sweep_in_tables_and_three_charts() {
        let r = with_errors(4);
        insta::assert_snapshot!(render(&Pingpong, &r));
        let b = Bench {
            results: &r,
            reference: "epoll",
            margin: 0.03,
        };
        let charts = Pingpong.charts(&b);
        let shown: Vec<(&str, Option<&str>)> = charts
            .iter()
            .map(|c| (c.file.as_str(), c.caption.as_deref()))
            .collect();
        assert_eq!(
            shown,
            [
                ("pingpong-throughput.svg", Some("messages/s vs connections")),
                ("pingpong-p95.svg", Some("p95 latency vs connections")),
                (
                    "pingpong-cpu-per-msg.svg",
                    Some("server CPU us per message vs connections")
                ),
            ]
        );
    }
}

//! The mixed suite's paragraphs, their figures rendered from the data: what the
//! `--max-conns` cap does and does not buy (Little's law), what the thread model does
//! differently from the cooperative ones, and how many workers a pool whose workers block
//! needs.

use std::fmt::Write as _;

use super::runs::{MixedRuns, PREEMPTIVE, requests_per_s, service};
use crate::bench::data::{BenchResults, RunRecord};
use crate::bench::suite::mixed::{CAP, CAP_CONNS, CPU_MS, WAIT_MS, amdahl, capped_point};
use crate::md::{ms_or_dash, num};
use crate::report::figures::{lat, median};

/// The median over models of a cap point's figure.
pub(super) fn cap_median(
    x: &MixedRuns,
    p: &str,
    f: impl Fn(&RunRecord) -> Option<f64> + Copy,
) -> Option<f64> {
    median(
        x.models()
            .iter()
            .filter_map(|m| x.at_cap(m, p, f))
            .collect(),
    )
}

pub(super) fn cap_paragraph(x: &MixedRuns, s: &mut String) {
    let (uncapped, capped) = (CAP_CONNS.to_string(), capped_point());
    let (Some(rps_u), Some(rps_c)) = (
        cap_median(x, &uncapped, requests_per_s),
        cap_median(x, &capped, requests_per_s),
    ) else {
        return;
    };
    let d = |v: Option<f64>| ms_or_dash(v);
    let e2e =
        |p: &str, f: fn(&crate::run::report::Latency) -> u64| cap_median(x, p, move |r| lat(r, f));
    let svc =
        |p: &str, f: fn(&crate::bench::data::ServiceTimes) -> u64| cap_median(x, p, service(f));
    let little_ms = CAP_CONNS as f64 / rps_u * 1000.0;
    let _ = writeln!(
        s,
        "**What the cap does and does not buy.** One server CPU does at most {max} requests/s of this work. At {n} connections it is saturated with or without the cap, so throughput stays where it was ({u} requests/s uncapped, {c} with `--max-conns {CAP}`; medians over the models), and by Little's law so does the time a client waits end to end: {n} requests in the system at {u} requests/s is {little} ms each (measured end-to-end p50: {e2e_u} ms uncapped, {e2e_c} ms capped). What the cap changes is where that wait is spent. Uncapped, all {n} requests are inside the server and their CPU parts take turns, so each one's service time stretches (server p50/p99 {su50}/{su99} ms). Capped, the server holds only as many connections as keep its CPU busy ({CAP} = {total}/{cpu}); the other {rest} wait in the listen backlog, where they cost the server nothing, and the requests it does take are served in close to their unloaded {total} ms (server p50/p99 {sc50}/{sc99} ms). The cap counts connections, not requests: with connections kept open, the first {CAP} clients would keep their places for good and the others would wait in the backlog until those left, which is why these runs open a connection per request. That is worth having when the overflow can go somewhere else: a connection still in one worker's backlog can be taken by another worker process or host behind the balancer, and a request that has not started can time out or be retried elsewhere cheaply, while a request inside an overloaded server only gets slower. On one server with nowhere else to send it, the cap buys neither throughput nor end-to-end latency; the backlog wait replaces the wait inside the server (and a client's connect timeout now has to cover it).\n",
        max = num(1000.0 / CPU_MS, 0),
        n = CAP_CONNS,
        u = num(rps_u, 1),
        c = num(rps_c, 1),
        little = num(little_ms, 0),
        e2e_u = d(e2e(&uncapped, |l| l.p50)),
        e2e_c = d(e2e(&capped, |l| l.p50)),
        su50 = d(svc(&uncapped, |v| v.p50_us)),
        su99 = d(svc(&uncapped, |v| v.p99_us)),
        sc50 = d(svc(&capped, |v| v.p50_us)),
        sc99 = d(svc(&capped, |v| v.p99_us)),
        total = num(CPU_MS + WAIT_MS, 0),
        cpu = num(CPU_MS, 0),
        rest = CAP_CONNS - CAP,
    );
}

pub(super) fn thread_paragraph(x: &MixedRuns, s: &mut String) {
    let Some(top) = x.top().cloned() else { return };
    let models = x.models();
    if !models.iter().any(|m| m == PREEMPTIVE) {
        return;
    }
    let coop: Vec<&String> = models.iter().filter(|m| *m != PREEMPTIVE).collect();
    // The busiest sweep point below the knee: the CPU is not saturated yet, so any
    // difference is in how the CPU parts are shared, not in how much CPU there is.
    let (_, bound) = amdahl();
    let below = x
        .sweep
        .points
        .iter()
        .rfind(|p| (x.sweep.conns(p) as f64) < bound)
        .cloned()
        .unwrap_or_else(|| top.clone());
    let thread = |p: &str, f: &dyn Fn(&RunRecord) -> Option<f64>| x.at(PREEMPTIVE, p, f);
    let coop_median = |p: &str, f: &dyn Fn(&RunRecord) -> Option<f64>| {
        median(coop.iter().filter_map(|m| x.at(m, p, f)).collect())
    };
    let p50 = |r: &RunRecord| lat(r, |l| l.p50);
    let p99 = |r: &RunRecord| lat(r, |l| l.p99);
    let svc50 = service(|v| v.p50_us);
    let svc99 = service(|v| v.p99_us);
    let uncapped = CAP_CONNS.to_string();
    let fig = |v: Option<f64>| v.map_or("-".into(), |v| num(v, 2));
    let _ = writeln!(
        s,
        "**What the thread model does differently.** In the cooperative models a request's CPU part runs to its end on the event-loop thread (or coroutine scheduler): while it spins, no other connection's timer or reply is handled, so a wait that ends during someone else's spin is extended until that spin yields, and the CPU parts are served one after another in the order they became ready. In the thread model each connection is an OS thread, and the kernel preempts a spinning thread when another thread's sleep ends (a thread that just woke is owed CPU time) or when its time slice is up. The one CPU is then shared in slices: a request's CPU part is stretched by the others' rather than queued behind them, and when two CPU parts overlap both finish late, where first come, first served delays only the second. Nothing waits for a cooperative yield, but every request pays for the overlaps, and each preemption is a context switch. Below the knee, at {below} connections, thread's service time p50/p99 was {sb50}/{sb99} ms against {cb50}/{cb99} ms for the cooperative models (median); the CPU that does the spinning is the same one either way, so the bound is the same, and at {top_n} connections thread reached x{sp_t} against x{sp_c}, with end-to-end p50/p99 {p50_t}/{p99_t} ms against {p50_c}/{p99_c} ms. Uncapped at {cap_n} connections, where every request shares the CPU with {others} others, its service-time p99 was {svc_t} ms against {svc_c} ms.\n",
        below = num(x.sweep.conns(&below) as f64, 0),
        sb50 = ms_or_dash(thread(&below, &svc50)),
        sb99 = ms_or_dash(thread(&below, &svc99)),
        cb50 = ms_or_dash(coop_median(&below, &svc50)),
        cb99 = ms_or_dash(coop_median(&below, &svc99)),
        top_n = num(x.sweep.conns(&top) as f64, 0),
        sp_t = fig(x.speedup(PREEMPTIVE, &top)),
        sp_c = fig(median(
            coop.iter().filter_map(|m| x.speedup(m, &top)).collect()
        )),
        p50_t = ms_or_dash(thread(&top, &p50)),
        p99_t = ms_or_dash(thread(&top, &p99)),
        p50_c = ms_or_dash(coop_median(&top, &p50)),
        p99_c = ms_or_dash(coop_median(&top, &p99)),
        cap_n = CAP_CONNS,
        others = CAP_CONNS - 1,
        svc_t = ms_or_dash(x.at_cap(PREEMPTIVE, &uncapped, svc99)),
        svc_c = ms_or_dash(median(
            coop.iter()
                .filter_map(|m| x.at_cap(m, &uncapped, svc99))
                .collect()
        )),
    );
}

/// The pools whose workers sleep through the backend wait (`common::models::workers_block`)
/// and whose workers, so bounded, serve fewer requests a second than the CPU could: each
/// with its bound and its measured peak, and the workers the CPU's rate would need.
pub(super) fn pool_paragraph(r: &BenchResults, x: &MixedRuns, s: &mut String) {
    let total = CPU_MS + WAIT_MS;
    let cpu_rate = 1000.0 / CPU_MS;
    let pools: Vec<String> = x
        .models()
        .iter()
        .filter(|m| common::models::workers_block(r.config.base_model(m)))
        .filter_map(|m| {
            let workers = x
                .sweep
                .points
                .iter()
                .flat_map(|p| x.sweep.ok_runs(m, p))
                .find_map(|run| run.ready_line.as_deref())
                .and_then(common::readiness::ready_threads)?;
            let bound = workers as f64 * 1000.0 / total;
            (bound < cpu_rate).then(|| {
                format!(
                    "{m} with {workers} worker{}, about {} requests/s (measured peak {})",
                    if workers == 1 { "" } else { "s" },
                    num(bound, 1),
                    x.uncapped_peak(m).map_or("-".into(), |v| num(v, 1)),
                )
            })
        })
        .collect();
    if pools.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "**Pools whose workers block.** A worker of pool or reactor-pool is a plain thread that sleeps through its request's {wait} ms backend wait, so W workers have at most W requests in service and finish about W / {total} ms a second, however many connections wait: {list}. The CPU's {cpu_rate} requests/s would need as many workers as requests in flight at that rate, {cpu_rate}/s x {total} ms = {need} (Little's law), and a thread each; the event-driven models overlap the waits on timers in one thread instead.\n",
        wait = num(WAIT_MS, 0),
        total = num(total, 0),
        list = pools.join("; "),
        cpu_rate = num(cpu_rate, 0),
        need = num((cpu_rate * total / 1000.0).ceil(), 0),
    );
}

//! The spread suite's findings, rendered from its figures: which (model, workers, accept
//! mode) slots ran hot or crowded, and what each accept mode did against `shared` in the
//! same slots.

use std::fmt::Write as _;

use common::prefork::Accept;

use super::runs::{Figures, HOT, Slot, SpreadRuns, ratio};
use crate::bench::suite::spread::ACCEPTS;
use crate::md::ms_or_dash;
use crate::report::figures::median;

/// `epoll shared at 2 workers (requests 1.92, connections 2.00)`.
pub(super) fn slot_words(model: &str, accept: Accept, processes: u32, f: &Figures) -> String {
    format!(
        "{model} {} at {processes} workers (requests {}, connections {})",
        accept.name(),
        ratio(f.requests_max_mean),
        ratio(f.conns_max_mean)
    )
}

/// The paragraph that names the hot slots and says what each mode did.
pub(super) fn findings(x: &SpreadRuns, one_cpu: bool, s: &mut String) {
    let (mut hot, mut crowded) = (Vec::new(), Vec::new());
    let (mut all, mut evener) = (0, 0);
    for &p in &x.processes {
        for m in &x.models {
            for accept in ACCEPTS {
                if let Slot::Figures(f) = x.slot(m, p, accept) {
                    if f.hot() {
                        hot.push(slot_words(m, accept, p, &f));
                    }
                    if f.crowded() {
                        crowded.push(slot_words(m, accept, p, &f));
                    }
                    if let (Some(r), Some(c)) = (f.requests_max_mean, f.conns_max_mean) {
                        all += 1;
                        evener += usize::from(r < c);
                    }
                }
            }
        }
    }
    let _ = writeln!(
        s,
        "**Where one worker ran hot.** A worker runs hot here when its share of the requests is at least {HOT} times the even share 1/P (requests max/mean ≥ {HOT}; 2 is all of them at 2 workers, 4 at 4), and is crowded when its share of the connections is. {} {} The requests were spread more evenly than the connections in {evener} of {all} slots.{}\n",
        if hot.is_empty() {
            "No worker ran hot in any model or mode.".to_string()
        } else {
            format!("One ran hot in {} slot(s): {}.", hot.len(), hot.join("; "))
        },
        if crowded.is_empty() {
            "None was crowded.".to_string()
        } else {
            format!(
                "One was crowded in {} slot(s): {}.",
                crowded.len(),
                crowded.join("; ")
            )
        },
        if one_cpu {
            " Every worker here shares the one server CPU, so the kernel's scheduler, not the accept mode, divides the CPU time between them: the requests' shares say how it did, the connections' shares how the accept mode spread the connections."
        } else {
            ""
        }
    );
    let _ = writeln!(s, "**What each accept mode does about it.**\n");
    for accept in ACCEPTS {
        let mut slots = Vec::new();
        let mut unsupported = Vec::new();
        for m in &x.models {
            for &p in &x.processes {
                match x.slot(m, p, accept) {
                    Slot::Figures(f) => slots.push((m.clone(), p, f)),
                    Slot::NotSupported if !unsupported.contains(m) => unsupported.push(m.clone()),
                    _ => {}
                }
            }
        }
        let mut line = format!("- `{}`: ", accept.name());
        if slots.is_empty() {
            line.push_str("no figures");
        } else {
            let hot: Vec<String> = slots
                .iter()
                .filter(|(_, _, f)| f.hot())
                .map(|(m, p, _)| format!("{m} at {p}"))
                .collect();
            let _ = write!(
                line,
                "one worker hot in {} of {} (model, workers) slots{}",
                hot.len(),
                slots.len(),
                if hot.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", hot.join(", "))
                }
            );
            let med = |f: fn(&Figures) -> Option<f64>| {
                median(slots.iter().filter_map(|(_, _, x)| f(x)).collect())
            };
            let range = |f: fn(&Figures) -> Option<f64>| {
                let v: Vec<f64> = slots.iter().filter_map(|(_, _, x)| f(x)).collect();
                let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                (!v.is_empty()).then(|| format!("{lo:.2}-{hi:.2}"))
            };
            let _ = write!(
                line,
                "; requests max/mean {} (median over the slots; range {}), connections max/mean {} (range {}); p50 {} ms, p99 {} ms (medians)",
                ratio(med(|f| f.requests_max_mean)),
                range(|f| f.requests_max_mean).unwrap_or_else(|| "-".into()),
                ratio(med(|f| f.conns_max_mean)),
                range(|f| f.conns_max_mean).unwrap_or_else(|| "-".into()),
                ms_or_dash(med(|f| f.p50_us)),
                ms_or_dash(med(|f| f.p99_us)),
            );
            if accept != Accept::Shared {
                line.push_str(&against_shared(x, &slots));
            }
        }
        if !unsupported.is_empty() {
            let _ = write!(line, "; not supported by {}", unsupported.join(", "));
        }
        let _ = writeln!(s, "{line}.");
    }
    s.push('\n');
}

/// `; against shared in the same 10 slots: requests max/mean 1.05 vs 1.60, p99 ...`.
pub(super) fn against_shared(x: &SpreadRuns, slots: &[(String, u32, Figures)]) -> String {
    let mut pairs: Vec<(&Figures, Figures)> = Vec::new();
    for (m, p, f) in slots {
        if let Slot::Figures(shared) = x.slot(m, *p, Accept::Shared) {
            pairs.push((f, shared));
        }
    }
    if pairs.is_empty() {
        return String::new();
    }
    let med = |f: fn(&Figures) -> Option<f64>, which: bool| {
        median(
            pairs
                .iter()
                .filter_map(|(a, b)| f(if which { a } else { b }))
                .collect(),
        )
    };
    let fewer_hot = pairs.iter().filter(|(a, b)| b.hot() && !a.hot()).count();
    let more_hot = pairs.iter().filter(|(a, b)| a.hot() && !b.hot()).count();
    format!(
        "; against `shared` in the same {} slots: requests max/mean {} vs {}, connections max/mean {} vs {}, p99 {} vs {} ms; cooled {} slot(s) that ran hot under `shared`, heated {} that did not",
        pairs.len(),
        ratio(med(|f| f.requests_max_mean, true)),
        ratio(med(|f| f.requests_max_mean, false)),
        ratio(med(|f| f.conns_max_mean, true)),
        ratio(med(|f| f.conns_max_mean, false)),
        ms_or_dash(med(|f| f.p99_us, true)),
        ms_or_dash(med(|f| f.p99_us, false)),
        fewer_hot,
        more_hot,
    )
}

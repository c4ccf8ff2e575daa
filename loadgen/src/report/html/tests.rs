use std::path::Path;

use super::*;
use crate::bench::names::SuiteName;
use crate::html::{Block, LineChart};

fn fixture(name: &str) -> BenchResults {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/benches")
        .join(name)
        .join("raw.json");
    BenchResults::read(&path).expect("the fixture bench")
}

/// Every block of a list, switches opened.
fn flatten<'a>(blocks: &'a [Block], out: &mut Vec<&'a Block>) {
    for b in blocks {
        match b {
            Block::Switch(s) => s.options.iter().for_each(|o| flatten(&o.blocks, out)),
            b => out.push(b),
        }
    }
}

fn section_blocks<'a>(p: &'a crate::html::Page, id: &str) -> Vec<&'a Block> {
    let s = p
        .sections
        .iter()
        .find(|s| s.id == id)
        .unwrap_or_else(|| panic!("section {id}"));
    let mut out = Vec::new();
    flatten(&s.blocks, &mut out);
    out
}

fn charts<'a>(blocks: &[&'a Block]) -> Vec<&'a LineChart> {
    blocks
        .iter()
        .filter_map(|b| match b {
            Block::Line(c) => Some(c),
            _ => None,
        })
        .collect()
}

#[test]
fn a_verdict_table_per_point_and_metric_with_a_row_per_model() {
    let r = fixture("interleaved");
    let p = page(&r, &r.config.reference, r.config.margin);
    assert_eq!(p.page, "bench");
    let all = crate::report::stats::verdict::all(&r, &r.config.reference, r.config.margin);
    let tables: Vec<_> = section_blocks(&p, "verdicts")
        .into_iter()
        .filter_map(|b| match b {
            Block::Table(t) if t.class == "verdicts" => Some(t),
            _ => None,
        })
        .collect();
    assert_eq!(tables.len(), all.len());
    for (t, pv) in tables.iter().zip(&all) {
        assert_eq!(t.rows.len(), pv.rows.len());
        assert!(t.attrs.contains(&("data-point".into(), pv.point.clone())));
        assert!(
            t.attrs
                .contains(&("data-metric".into(), pv.metric.key.into()))
        );
    }
}

#[test]
fn percentile_curves_rise_to_the_largest_latency_of_the_runs() {
    let r = fixture("interleaved");
    let p = page(&r, &r.config.reference, r.config.margin);
    let blocks = section_blocks(&p, "latency");
    let chart = charts(&blocks)
        .into_iter()
        .find(|c| c.name == "latency-pingpong-100")
        .expect("the chart of pingpong 100");
    let s = chart.series.iter().find(|s| s.name == "epoll").unwrap();
    assert!(s.y.windows(2).all(|w| w[0] <= w[1]), "{:?}", s.y);
    let max = r
        .runs
        .iter()
        .filter(|x| x.point == "100" && x.model == "epoll")
        .filter_map(|x| x.report.as_ref())
        .map(|rep| rep.latency_us.max)
        .max()
        .unwrap();
    assert_eq!(*s.y.last().unwrap(), max as f64);
    assert_eq!(s.x[0], 0.0);
}

#[test]
fn over_time_has_one_entry_per_slice() {
    let r = fixture("interleaved");
    let p = page(&r, &r.config.reference, r.config.margin);
    let blocks = section_blocks(&p, "over-time");
    let chart = charts(&blocks)
        .into_iter()
        .find(|c| c.name == "time-pingpong-100-throughput")
        .expect("throughput over time at pingpong 100");
    for s in &chart.series {
        let slices = r
            .runs
            .iter()
            .filter(|x| x.suite == SuiteName::PingPong && x.point == "100" && x.model == s.name)
            .filter(|x| x.status == RunStatus::Ok && x.messages_per_s.is_some())
            .count();
        assert_eq!(s.x.len(), slices, "{}", s.name);
        assert_eq!(s.y.len(), slices);
        assert!(s.x.windows(2).all(|w| w[0] <= w[1]));
    }
    assert_eq!(
        charts(&blocks)
            .iter()
            .filter(|c| c.name.starts_with("time-pingpong-100-"))
            .count(),
        4,
        "throughput, server CPU, loadgen CPU and steal"
    );
}

#[test]
fn sections_absent_from_the_bench_are_absent_from_the_page() {
    let r = fixture("mixed");
    let p = page(&r, &r.config.reference, r.config.margin);
    let ids: Vec<&str> = p.sections.iter().map(|s| s.id.as_str()).collect();
    assert!(ids.contains(&"mixed"), "{ids:?}");
    assert!(
        !ids.contains(&"frames") && !ids.contains(&"sweep"),
        "{ids:?}"
    );
    let r = fixture("interleaved");
    let p = page(&r, &r.config.reference, r.config.margin);
    let ids: Vec<&str> = p.sections.iter().map(|s| s.id.as_str()).collect();
    assert!(
        ids.contains(&"frames") && !ids.contains(&"mixed"),
        "{ids:?}"
    );
}

#[test]
fn the_problems_list_names_runs_with_errors() {
    let r = fixture("errors");
    let p = page(&r, &r.config.reference, r.config.margin);
    let blocks = section_blocks(&p, "problems");
    let Some(Block::Table(t)) = blocks.first() else {
        panic!("a table of problems")
    };
    let bad = r
        .runs
        .iter()
        .filter(|x| x.status != RunStatus::Ok || x.report.as_ref().is_some_and(|p| p.errors > 0))
        .count();
    assert_eq!(t.rows.len(), bad);
    assert!(bad > 0);
}

#[test]
fn the_header_names_the_machine_and_the_design() {
    let r = fixture("interleaved");
    let p = page(&r, &r.config.reference, r.config.margin);
    let names: Vec<&str> = p.header.iter().map(|(k, _)| k.as_str()).collect();
    for k in ["CPU", "kernel", "pinning", "steal", "design", "command"] {
        assert!(names.contains(&k), "{k} in {names:?}");
    }
    let design = &p.header.iter().find(|(k, _)| k == "design").unwrap().1;
    assert!(
        design.contains(&r.config.seed.unwrap().to_string()),
        "{design}"
    );
    assert_eq!(p.links[0].href, "raw.json");
    assert_eq!(p.links[1].href, "runs.csv");
}

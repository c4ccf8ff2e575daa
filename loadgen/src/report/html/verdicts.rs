//! The verdicts, point by point: for each metric a forest plot of every model's ratio to
//! the reference with its interval, and the sortable table behind it (class `verdicts`,
//! with `data-point` and `data-metric`); a switch chooses the metric. And the baselines'
//! ratios beside the ones the studies published.

use crate::bench::data::BenchResults;
use crate::html::{self, Block, Cell, Forest, ForestRow, Section, SwitchOption, Table};
use crate::report::figures::label;
use crate::report::stats::verdict::{self, MSG_S, PointVerdicts};
use crate::report::studies;

/// The verdicts' section; None for a bench without blocks (no verdicts).
pub fn section(results: &BenchResults, reference: &str, margin: f64) -> Option<Section> {
    let all = verdict::all(results, reference, margin);
    if all.is_empty() {
        return None;
    }
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < all.len() {
        let (suite, point) = (all[i].suite, all[i].point.clone());
        let mut options = Vec::new();
        while i < all.len() && all[i].suite == suite && all[i].point == point {
            options.push(SwitchOption {
                name: all[i].metric.label.to_string(),
                blocks: point_blocks(&all[i], margin),
            });
            i += 1;
        }
        blocks.push(Block::Heading {
            text: format!("{suite} {point} ({} connections)", all[i - 1].conns),
        });
        blocks.extend(html::switch("metric", options));
    }
    Some(Section {
        id: "verdicts".into(),
        title: "Verdicts".into(),
        text: vec![format!(
            "Each model's ratio to {reference} over the blocks both ran (geometric mean, 95% \
             interval); the shaded band is the margin of {}%. Click a column to sort.",
            margin * 100.0
        )],
        blocks,
    })
}

/// A point's forest plot and table for one metric.
pub fn point_blocks(pv: &PointVerdicts, margin: f64) -> Vec<Block> {
    let name = format!("forest-{}-{}-{}", pv.suite, pv.point, pv.metric.key);
    let forest = Forest {
        name,
        title: format!(
            "{} {}: {} relative to {}",
            pv.suite, pv.point, pv.metric.label, pv.reference
        ),
        label: format!("{} / {}", pv.metric.label, pv.reference),
        margin,
        rows: pv
            .rows
            .iter()
            .filter_map(|r| {
                let iv = r.interval?;
                let two = iv.n >= 2;
                Some(ForestRow {
                    label: label(&r.model),
                    ratio: iv.ratio,
                    lo: two.then_some(iv.lo),
                    hi: two.then_some(iv.hi),
                    verdict: r.verdict_cell(&pv.metric),
                })
            })
            .collect(),
    };
    let rows = pv
        .rows
        .iter()
        .map(|r| {
            let iv = r.interval.filter(|iv| iv.n >= 2);
            vec![
                Cell::from(label(&r.model)),
                Cell::from(r.interval.map(|iv| iv.ratio)),
                Cell::from(iv.map(|iv| iv.lo)),
                Cell::from(iv.map(|iv| iv.hi)),
                Cell::from(r.verdict_cell(&pv.metric)),
                Cell::from(r.wins as u64),
                Cell::from(r.blocks as u64),
                Cell::from(r.missing as u64),
                if r.tier > 0 {
                    Cell::from(r.tier as u64)
                } else {
                    Cell::None
                },
                Cell::from(r.error_pct),
            ]
        })
        .collect();
    let table = Table {
        class: "verdicts".into(),
        attrs: vec![
            ("data-suite".into(), pv.suite.to_string()),
            ("data-point".into(), pv.point.clone()),
            ("data-metric".into(), pv.metric.key.into()),
        ],
        columns: [
            "model", "ratio", "low", "high", "verdict", "wins", "blocks", "missing", "tier",
            "errors %",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    };
    let mut out = Vec::new();
    if !forest.rows.is_empty() {
        out.push(Block::Forest(forest));
    }
    out.push(Block::Table(table));
    out
}

/// The Python baselines' ratios as this bench measured them beside the ratios the studies
/// published; None when no pair of a published ratio ran here.
pub fn baselines(results: &BenchResults, margin: f64) -> Option<Section> {
    let ran = |m: &str| results.runs.iter().any(|r| r.model == m);
    let rows: Vec<Vec<Cell>> = studies::all()
        .iter()
        .filter(|p| ran(p.model) && ran(p.unit))
        .map(|p| {
            let pv = verdict::at_point(results, p.suite, p.point, MSG_S, p.unit, margin);
            let iv = pv
                .rows
                .iter()
                .find(|r| r.model == p.model)
                .and_then(|r| r.interval);
            let two = iv.filter(|iv| iv.n >= 2);
            vec![
                Cell::from(format!("{} {}", p.suite, p.point)),
                Cell::from(format!("{} / {}", p.model, p.unit)),
                Cell::from(iv.map(|iv| iv.ratio)),
                Cell::from(two.map(|iv| iv.lo)),
                Cell::from(two.map(|iv| iv.hi)),
                Cell::from(iv.map(|iv| iv.n as f64)),
                Cell::from(p.ratio()),
                Cell::from(format!("{} / {}", p.theirs, p.their_unit)),
                Cell::from(p.source.citation),
            ]
        })
        .collect();
    if rows.is_empty() {
        return None;
    }
    Some(Section {
        id: "baselines".into(),
        title: "Baselines beside the studies".into(),
        text: vec![
            "Messages/s ratios measured here (paired within blocks, 95% interval) beside the \
             ratio the study published for the same pair of servers."
                .into(),
        ],
        blocks: vec![Block::Table(Table {
            class: "baselines".into(),
            attrs: vec![],
            columns: [
                "point",
                "pair",
                "ratio here",
                "low",
                "high",
                "blocks",
                "published",
                "their pair",
                "source",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        })],
    })
}

//! The comparison of two benches as a page (`loadgen compare A B --html FILE`): the table
//! of every model, point and metric both ran (B's ratio to the reference over A's, with
//! its interval and verdict), sortable, and a forest plot per point and metric. The
//! figures are [`super::changes`]'s; `crate::html` draws them.

use std::path::Path;

use super::{CompareError, Comparison};
use crate::html::{self, Block, Cell, Forest, ForestRow, Page, Section, Table};
use crate::report::figures::label;

/// Checks that `path` can be written, before anything is read.
pub fn check_writable(path: &Path) -> Result<(), CompareError> {
    crate::out::check_writable(path).map_err(|source| CompareError::Html {
        path: path.display().to_string(),
        source,
    })
}

/// Writes the comparison's page to `path`.
pub fn write(
    a: &str,
    b: &str,
    c: &Comparison,
    margin: f64,
    path: &Path,
) -> Result<(), CompareError> {
    std::fs::write(path, html::render(&page(a, b, c, margin))).map_err(|source| {
        CompareError::Html {
            path: path.display().to_string(),
            source,
        }
    })
}

/// The comparison's page: `a` is the baseline, `b` the bench compared with it.
pub fn page(a: &str, b: &str, c: &Comparison, margin: f64) -> Page {
    let rows: Vec<Vec<Cell>> = c
        .rows
        .iter()
        .map(|x| {
            let two = x.interval.n >= 2;
            vec![
                Cell::from(label(&x.model)),
                Cell::from(format!("{} {}", x.suite, x.point)),
                Cell::from(x.metric.label),
                Cell::from(x.a.ratio),
                Cell::from(x.b.ratio),
                Cell::from(x.interval.ratio),
                Cell::from(two.then_some(x.interval.lo)),
                Cell::from(two.then_some(x.interval.hi)),
                Cell::from(x.verdict.word(&x.metric)),
            ]
        })
        .collect();
    let mut blocks = vec![Block::Table(Table {
        class: "comparison".into(),
        attrs: vec![],
        columns: [
            "model",
            "point",
            "metric",
            "A: ratio to reference",
            "B: ratio to reference",
            "B / A",
            "low",
            "high",
            "verdict",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    })];
    let mut keys: Vec<(String, String, &str)> = Vec::new();
    for x in &c.rows {
        let k = (x.suite.to_string(), x.point.clone(), x.metric.key);
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    for (suite, point, metric) in keys {
        let here: Vec<_> = c
            .rows
            .iter()
            .filter(|x| x.suite.to_string() == suite && x.point == point && x.metric.key == metric)
            .collect();
        let label_of = here[0].metric.label;
        blocks.push(Block::Forest(Forest {
            name: format!("forest-{suite}-{point}-{metric}"),
            title: format!(
                "{suite} {point}: {label_of}, B's ratio to {} over A's",
                c.reference
            ),
            label: "B / A".into(),
            margin,
            rows: here
                .iter()
                .map(|x| {
                    let two = x.interval.n >= 2;
                    ForestRow {
                        label: label(&x.model),
                        ratio: x.interval.ratio,
                        lo: two.then_some(x.interval.lo),
                        hi: two.then_some(x.interval.hi),
                        verdict: x.verdict.word(&x.metric).into(),
                    }
                })
                .collect(),
        }));
    }
    let mut text = vec![format!(
        "Each model's ratio to {} as A and B measured it (paired within each bench), and B's \
         over A's with its 95% interval; the band is the margin of {}%.",
        c.reference,
        margin * 100.0
    )];
    if !c.unshared.is_empty() {
        text.push(format!(
            "Ran in one bench only, not compared: {}.",
            c.unshared.join(", ")
        ));
    }
    Page {
        page: "compare",
        title: "echolab: B against A".into(),
        header: vec![
            ("A (baseline)".into(), a.into()),
            ("B".into(), b.into()),
            ("reference".into(), c.reference.clone()),
            (
                "decisive".into(),
                format!("{} of {} rows better or worse", c.decisive(), c.rows.len()),
            ),
        ],
        links: vec![],
        sections: vec![Section {
            id: "comparison".into(),
            title: "Comparison".into(),
            text,
            blocks,
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::compare_benches::changes;
    use crate::report::stats::fixtures::synthetic;

    #[test]
    fn a_row_and_a_forest_row_per_model_point_and_metric() {
        let a = synthetic(8);
        let mut b = synthetic(8);
        for x in b.runs.iter_mut().filter(|x| x.model != a.config.reference) {
            x.messages_per_s = x.messages_per_s.map(|v| v * 1.2);
        }
        let c = changes(&a, &b, 0.03, None).unwrap();
        let p = page("a", "b", &c, 0.03);
        assert_eq!(p.page, "compare");
        let blocks = &p.sections[0].blocks;
        let Block::Table(t) = &blocks[0] else {
            panic!("the table first")
        };
        assert_eq!(t.rows.len(), c.rows.len());
        let forest_rows: usize = blocks
            .iter()
            .map(|b| match b {
                Block::Forest(f) => f.rows.len(),
                _ => 0,
            })
            .sum();
        assert_eq!(forest_rows, c.rows.len());
        assert!(!c.rows.is_empty());
    }
}

//! The bench summary as a user reads it: `loadgen report` run on small fixed benches, and
//! `loadgen compare` on two of them, checked against committed snapshots (insta).
//!
//! The fixtures in fixtures/benches/ are cut out of committed results by
//! scripts/summary-fixtures.py: a few models, points and blocks each, so that together they
//! render every section of summary.md at least once (interleaved ping-pong with its twin,
//! fixed rate, plans and frames with the loopback rows; variants; errors; Python baselines;
//! mixed; spread). A changed table, verdict or chart shows up as a snapshot diff: review it
//! and accept it with `INSTA_UPDATE=always cargo test -p loadgen --test summary` when the
//! change is intended.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A fresh folder with a copy of each named fixture bench in it.
fn scratch(test: &str, fixtures: &[&str]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("loadgen-summary-{}-{test}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/benches");
    for name in fixtures {
        fs::create_dir_all(dir.join(name)).expect("scratch folder");
        fs::copy(
            here.join(name).join("raw.json"),
            dir.join(name).join("raw.json"),
        )
        .expect("copy the fixture");
    }
    dir
}

/// Runs loadgen in `dir`; its stdout, after asserting that it exited 0 with nothing on
/// stderr.
fn loadgen(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run loadgen");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "loadgen {args:?}: {stderr}");
    assert!(
        stderr.is_empty(),
        "loadgen {args:?} wrote to stderr: {stderr}"
    );
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

/// Renders one fixture: its summary.md, then the names of the files the report wrote.
fn render(name: &str) -> (PathBuf, String) {
    let dir = scratch(name, &[name]);
    loadgen(&dir, &["report", name]);
    let bench = dir.join(name);
    let summary = fs::read_to_string(bench.join("summary.md")).expect("summary.md written");
    let mut files: Vec<String> = fs::read_dir(&bench)
        .expect("read the bench folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|f| f != "raw.json" && f != "summary.md")
        .collect();
    files.sort();
    let listing = format!(
        "{summary}\n---- files beside summary.md ----\n{}\n",
        files.join("\n")
    );
    (bench, listing)
}

fn svg(bench: &Path, file: &str) -> String {
    fs::read_to_string(bench.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

#[test]
fn interleaved_bench_with_a_twin_fixed_rate_plans_and_frames() {
    let (bench, summary) = render("interleaved");
    insta::assert_snapshot!("interleaved", summary);
    insta::assert_snapshot!(
        "interleaved-throughput-svg",
        svg(&bench, "pingpong-throughput.svg")
    );
    insta::assert_snapshot!(
        "interleaved-forest-svg",
        svg(&bench, "forest-pingpong-100-msg-s.svg")
    );
    insta::assert_snapshot!("interleaved-runs-csv", runs_csv(&bench));
}

/// runs.csv's header, its first two rows (slices of an interleaved point) and its last (a
/// fresh-server run), after checking that it has a row per record of raw.json and that
/// every row has every column.
fn runs_csv(bench: &Path) -> String {
    let text = fs::read_to_string(bench.join("runs.csv")).expect("runs.csv written");
    let raw: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(bench.join("raw.json")).expect("raw.json"))
            .expect("raw.json parses");
    let rows = loadgen::csv::parse(&text);
    assert_eq!(rows.len(), 1 + raw["runs"].as_array().expect("runs").len());
    assert!(rows.iter().all(|r| r.len() == rows[0].len()));
    let lines: Vec<&str> = text.lines().collect();
    let last = lines.last().expect("a row");
    format!("{}\n...\n{last}\n", lines[..3].join("\n"))
}

#[test]
fn variants_of_one_model_as_rows() {
    insta::assert_snapshot!("variants", render("variants").1);
}

#[test]
fn models_over_the_error_limit_get_errors_not_speed() {
    insta::assert_snapshot!("errors", render("errors").1);
}

#[test]
fn python_baselines_beside_the_studies() {
    insta::assert_snapshot!("baselines", render("baselines").1);
}

#[test]
fn mixed_work_sweep_and_caps() {
    let (bench, summary) = render("mixed");
    insta::assert_snapshot!("mixed", summary);
    insta::assert_snapshot!("mixed-speedup-svg", svg(&bench, "mixed-speedup-epoll.svg"));
}

#[test]
fn spread_over_processes_and_accept_modes() {
    insta::assert_snapshot!("spread", render("spread").1);
}

/// The JSON inside `<script type="application/json" id="echolab-data">`, parsed.
fn page_data(html: &str) -> serde_json::Value {
    let open = r#"<script type="application/json" id="echolab-data">"#;
    let start = html.find(open).expect("the data script") + open.len();
    let end = start + html[start..].find("</script>").expect("its end");
    serde_json::from_str(&html[start..end]).expect("the data script holds JSON")
}

/// Asserts what makes a page self-contained (html-contract.md, items 1 and 2): the policy
/// that blocks every request, the data as JSON, no http(s) address in a src or href.
fn assert_self_contained(html: &str, page: &str) {
    assert!(html.contains(
        r#"<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">"#
    ));
    assert_eq!(page_data(html)["page"], page);
    for attr in ["src=", "href="] {
        for (at, _) in html.match_indices(attr) {
            let value = html[at + attr.len()..].trim_start_matches(['"', '\'']);
            assert!(
                !value.starts_with("http://") && !value.starts_with("https://"),
                "an external address at {}",
                &html[at..(at + 60).min(html.len())]
            );
        }
    }
}

#[test]
fn every_bench_gets_a_self_contained_page() {
    let names = [
        "interleaved",
        "interleaved-again",
        "variants",
        "errors",
        "baselines",
        "mixed",
        "spread",
    ];
    let dir = scratch("html", &names);
    for name in names {
        loadgen(&dir, &["report", name]);
        let html = fs::read_to_string(dir.join(name).join("report.html")).expect("report.html");
        assert_self_contained(&html, "bench");
        let data = page_data(&html);
        assert!(
            data["sections"].as_array().is_some_and(|s| !s.is_empty()),
            "{name}: a page with sections"
        );
        assert!(html.contains(r#""href":"raw.json""#) && html.contains(r#""href":"runs.csv""#));
    }
}

#[test]
fn compare_two_benches_by_their_ratios_to_a_shared_reference() {
    let dir = scratch("compare", &["interleaved", "interleaved-again"]);
    let verdicts = loadgen(&dir, &["compare", "interleaved", "interleaved-again"]);
    insta::assert_snapshot!("compare", verdicts);
    // With --html, the same Markdown and a page of the same comparison.
    let with_page = loadgen(
        &dir,
        &[
            "compare",
            "interleaved",
            "interleaved-again",
            "--html",
            "compare.html",
        ],
    );
    assert_eq!(with_page, verdicts);
    let html = fs::read_to_string(dir.join("compare.html")).expect("compare.html");
    assert_self_contained(&html, "compare");
    let ratios = loadgen(
        &dir,
        &["compare", "--ratios", "interleaved", "interleaved-again"],
    );
    insta::assert_snapshot!("compare-ratios", ratios);
}

#[test]
fn a_rendered_summary_moves_with_its_reference_and_margin() {
    let dir = scratch("flags", &["variants"]);
    loadgen(
        &dir,
        &[
            "report",
            "variants",
            "--reference",
            "epoll-copy",
            "--margin",
            "0.01",
        ],
    );
    let summary = fs::read_to_string(dir.join("variants/summary.md")).expect("summary.md");
    insta::assert_snapshot!("variants-reference-epoll-copy-margin-1pct", summary);
}

//! `loadgen compare A.json B.json ...`: runs side by side in one Markdown table, one row per
//! run, whatever made them: loadgen's own `--json` files and JMeter runs read by
//! `loadgen import-jtl` (the `generator` column says which). Made for comparing the two load
//! generators on the same server with the same plan.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::json::{self, JsonError};
use super::report::RunReport;
use crate::md::{ms, num, table};

/// `loadgen compare` with report files: reads them and returns the table.
pub fn compare_files(files: &[PathBuf]) -> Result<String, JsonError> {
    let mut runs = Vec::new();
    for f in files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().trim_end_matches(".json").to_string())
            .unwrap_or_else(|| f.display().to_string());
        runs.push((name, json::read(f)?));
    }
    Ok(markdown(&runs))
}

/// The table, then a note on how the figures compare; `runs` are (name, report).
pub fn markdown(runs: &[(String, RunReport)]) -> String {
    let header: Vec<String> = [
        "run",
        "generator",
        "target",
        "threads x loops",
        "samples",
        "errors",
        "throughput/s",
        "avg ms",
        "min ms",
        "max ms",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "wall s",
    ]
    .iter()
    .map(|h| h.to_string())
    .collect();
    let rows: Vec<Vec<String>> = runs.iter().map(|(name, r)| row(name, r)).collect();
    let mut s = table(&header, &rows);
    let _ = writeln!(
        s,
        "\nLatencies are those of the ok samples (JMeter's own Avg also averages failed ones). \
         JMeter measures whole milliseconds, loadgen microseconds, so JMeter's sub-millisecond \
         echoes read as 0. Throughput is samples over the wall time: for JMeter, from the first \
         sample's start to the last one's end in the JTL."
    );
    s
}

fn row(name: &str, r: &RunReport) -> Vec<String> {
    let s = &r.run.settings;
    let stop = match (s.loops, s.duration_s) {
        (Some(l), _) => num(l as f64, 0),
        (None, Some(d)) => format!("{d} s"),
        _ => "?".into(),
    };
    let pct = if r.samples == 0 {
        0.0
    } else {
        r.errors as f64 * 100.0 / r.samples as f64
    };
    let l = &r.latency_us;
    let lat = |v: f64| if r.ok == 0 { "-".into() } else { ms(v) };
    vec![
        name.replace('|', "/"),
        s.generator.replace('|', "/"),
        s.target.clone(),
        format!("{} x {stop}", num(s.threads as f64, 0)),
        num(r.samples as f64, 0),
        format!("{} ({pct:.2}%)", num(r.errors as f64, 0)),
        num(r.throughput_per_s, 0),
        lat(l.mean),
        lat(l.min as f64),
        lat(l.max as f64),
        lat(l.p50 as f64),
        lat(l.p95 as f64),
        lat(l.p99 as f64),
        format!("{:.3}", r.run.elapsed_s),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jtl::{ImportOptions, import_from};

    #[test]
    fn one_row_per_run() {
        let jtl = "timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,bytes\n\
                   1000,2,echo,200,OK,users 1-1,text,true,64\n\
                   1003,1,echo,500,java.net.ConnectException: Connection refused,users 1-1,,false,0\n";
        let opts = ImportOptions {
            generator: "jmeter 2.13".into(),
            target: Some("127.0.0.1:7000".into()),
            ..ImportOptions::default()
        };
        let r = import_from(jtl.as_bytes(), "a.jtl", &opts).unwrap();
        let t = markdown(&[("jmeter".into(), r.clone()), ("b|c".into(), r)]);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("| run | generator | target |"), "{t}");
        assert_eq!(
            lines[2],
            "| jmeter | jmeter 2.13 | 127.0.0.1:7000 | 1 x 2 | 2 | 1 (50.00%) | 500 | 2.00 | 2.00 | 2.00 | 2.00 | 2.00 | 2.00 | 0.004 |"
        );
        assert!(lines[3].starts_with("| b/c |"), "{t}");
    }
}

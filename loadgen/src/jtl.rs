//! JMeter's results file (JTL, CSV) read into a [`RunReport`], so that a JMeter run of the
//! bundled plan (jmeter/echo.jmx) sits beside loadgen runs of the same server:
//! `loadgen import-jtl FILE.jtl --json jmeter.json`, then `loadgen compare`.
//!
//! The CSV may have a header line (jmeter/echolab.properties asks for one) or not (JMeter
//! 2.13's default). Without one, the columns are JMeter's default order, whose first eight
//! are the same in 2.13 and 5.x: timeStamp, elapsed, label, responseCode, responseMessage,
//! threadName, dataType, success. Quoted fields may hold commas, doubled quotes and line
//! breaks (an assertion's failure message has all three). Timestamps must be epoch
//! milliseconds (JMeter's default `timestamp_format=ms`).
//!
//! Figures are computed as loadgen computes its own: latencies of the ok samples only (JMeter's
//! own Avg includes failed samples), errors by kind, throughput over the wall time from the
//! first sample's start to the last sample's end. JMeter's times are whole milliseconds, kept
//! as microseconds (x 1000) in the histogram, so a sub-millisecond echo reads as 0.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

use thiserror::Error;

use crate::csv;
use crate::probe::{CpuUsage, Environment};
use crate::run::report::{Meta, RunInfo, RunReport, Settings};
use crate::stats::{ErrorKind, Recorder};

/// A results file that cannot be imported.
#[derive(Debug, Error)]
pub enum JtlError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: io::Error },
    #[error("{path}, record {record}: {what}")]
    Format {
        path: String,
        record: u64,
        what: String,
    },
    #[error("{0} holds no samples")]
    Empty(String),
    #[error("no `summary =` line in {0}: JMeter did not run the plan (see its log)")]
    NoSummary(String),
    #[error(
        "JMeter's summary counts {summary} samples ({summary_errors} errors), the JTL {jtl} ({jtl_errors})"
    )]
    Disagree {
        summary: u64,
        summary_errors: u64,
        jtl: u64,
        jtl_errors: u64,
    },
}

/// What the JTL does not say about the run.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Threads of the plan [default: the distinct thread names in the file].
    pub threads: Option<u64>,
    /// Loops of the plan [default: samples per thread, when every thread has as many].
    pub loops: Option<u64>,
    /// Ramp-up of the plan, seconds.
    pub rampup_s: f64,
    /// The server address, as recorded in the report.
    pub target: Option<String>,
    /// What made the file (`jmeter`, `jmeter 2.13`).
    pub generator: String,
}

/// Where the columns loadgen reads are.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Columns {
    timestamp: usize,
    elapsed: usize,
    response_code: Option<usize>,
    response_message: Option<usize>,
    thread: Option<usize>,
    success: usize,
    bytes: Option<usize>,
    sent_bytes: Option<usize>,
}

impl Columns {
    /// JMeter's default order (no header line): the first eight columns, the same in 2.13
    /// and 5.x; what follows depends on the version and settings, so it is not used.
    const DEFAULT: Columns = Columns {
        timestamp: 0,
        elapsed: 1,
        response_code: Some(3),
        response_message: Some(4),
        thread: Some(5),
        success: 7,
        bytes: None,
        sent_bytes: None,
    };

    /// The columns named in a header line; None when `fields` is not one.
    fn from_header(fields: &[String]) -> Option<Result<Columns, String>> {
        if fields.first().map(String::as_str) != Some("timeStamp") {
            return None;
        }
        let at = |name: &str| fields.iter().position(|f| f == name);
        let need = |name: &str| at(name).ok_or(format!("the header has no `{name}` column"));
        Some((|| {
            Ok(Columns {
                timestamp: need("timeStamp")?,
                elapsed: need("elapsed")?,
                response_code: at("responseCode"),
                response_message: at("responseMessage"),
                thread: at("threadName"),
                success: need("success")?,
                bytes: at("bytes"),
                sent_bytes: at("sentBytes"),
            })
        })())
    }
}

/// The kind of a failed JMeter sample, from its response code and message.
///
/// TCPClientImpl reports socket errors as code 500 with the exception as the message; a
/// reply that arrived but failed the response assertion keeps code 200. A server that closes
/// before the whole echo also yields a (short) reply that fails the assertion, so it counts
/// as a mismatch here, where loadgen would say early-close.
pub fn classify(code: &str, message: &str) -> ErrorKind {
    let m = message.to_ascii_lowercase();
    if m.contains("connection refused") {
        ErrorKind::Refused
    } else if m.contains("connect timed out") {
        ErrorKind::ConnectTimeout
    } else if m.contains("read timed out") {
        ErrorKind::ReadTimeout
    } else if m.contains("connection reset") || m.contains("broken pipe") {
        ErrorKind::Reset
    } else if code == "200" {
        ErrorKind::Mismatch
    } else {
        ErrorKind::Other
    }
}

/// Reads a JTL file into a report.
pub fn import(path: &Path, opts: &ImportOptions) -> Result<RunReport, JtlError> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|source| JtlError::Read {
        path: name.clone(),
        source,
    })?;
    import_from(BufReader::new(file), &name, opts)
}

/// Reads JTL text from `input` (`name` is used in messages).
pub fn import_from(
    input: impl BufRead,
    name: &str,
    opts: &ImportOptions,
) -> Result<RunReport, JtlError> {
    let mut reader = csv::Reader::new(input);
    let mut fields = Vec::new();
    let mut rec = Recorder::new(false);
    let mut per_thread: HashMap<String, u64> = HashMap::new();
    let (mut first_ms, mut last_ms) = (u64::MAX, 0u64);
    let (mut bytes_received, mut bytes_sent, mut message_size) = (0u64, 0u64, None);
    let mut columns = None;
    let mut record = 0u64;
    let read_err = |source| JtlError::Read {
        path: name.to_string(),
        source,
    };
    while reader.next_record(&mut fields).map_err(read_err)? {
        record += 1;
        let bad = |what: String| JtlError::Format {
            path: name.to_string(),
            record,
            what,
        };
        let cols = match columns {
            Some(c) => c,
            None => match Columns::from_header(&fields) {
                Some(header) => {
                    columns = Some(header.map_err(bad)?);
                    continue;
                }
                None => *columns.insert(Columns::DEFAULT),
            },
        };
        let get = |i: Option<usize>| i.and_then(|i| fields.get(i)).map_or("", String::as_str);
        let number = |i: usize, what: &str| -> Result<u64, JtlError> {
            let text = get(Some(i));
            text.trim().parse().map_err(|_| {
                bad(format!(
                    "{what} `{text}` is not a whole number (timestamps must be epoch \
                     milliseconds: jmeter.save.saveservice.timestamp_format=ms)"
                ))
            })
        };
        let start = number(cols.timestamp, "timeStamp")?;
        let elapsed = number(cols.elapsed, "elapsed")?;
        let ok = match get(Some(cols.success)) {
            "true" => true,
            "false" => false,
            other => return Err(bad(format!("success `{other}` is not true or false"))),
        };
        first_ms = first_ms.min(start);
        last_ms = last_ms.max(start + elapsed);
        *per_thread.entry(get(cols.thread).to_string()).or_insert(0) += 1;
        let bytes = cols.bytes.and_then(|i| get(Some(i)).parse::<u64>().ok());
        bytes_received += bytes.unwrap_or(0);
        bytes_sent += cols
            .sent_bytes
            .and_then(|i| get(Some(i)).parse::<u64>().ok())
            .unwrap_or(0);
        if ok {
            rec.ok(elapsed * 1000, elapsed * 1000);
            message_size = message_size.or(bytes);
        } else {
            rec.error(classify(
                get(cols.response_code),
                get(cols.response_message),
            ));
        }
    }
    let stats = rec.total;
    let samples = stats.tally.samples();
    if samples == 0 {
        return Err(JtlError::Empty(name.to_string()));
    }
    let threads = opts.threads.unwrap_or(per_thread.len() as u64);
    let loops = opts.loops.or_else(|| {
        let mut counts = per_thread.values();
        let first = *counts.next()?;
        (counts.all(|c| *c == first) && per_thread.len() as u64 == threads).then_some(first)
    });
    let target = opts.target.clone().unwrap_or_else(|| "unknown".into());
    let settings = Settings {
        host: target.rsplit_once(':').map_or(&*target, |(h, _)| h).into(),
        target,
        threads,
        loops,
        rampup_s: opts.rampup_s,
        // What the JTL cannot say, as echolab's plan does it.
        message_size: message_size.unwrap_or(64),
        reuse: true,
        procs: 1,
        generator: if opts.generator.is_empty() {
            "jmeter".into()
        } else {
            opts.generator.clone()
        },
        ..Settings::default()
    };
    let meta = Meta {
        run: RunInfo {
            settings,
            environment: Environment::current(),
            parts: 1,
            started_unix_ms: first_ms,
            elapsed_s: last_ms.saturating_sub(first_ms) as f64 / 1000.0,
            planned_samples: loops.map(|l| l * threads),
        },
        users: (per_thread.len() as u64, per_thread.len() as u64),
        intervals: Vec::new(),
        loadgen_cpu: CpuUsage::default(),
        server: None,
    };
    let mut stats = stats;
    stats.bytes_received = bytes_received;
    stats.bytes_sent = bytes_sent;
    Ok(RunReport::build(meta, &stats))
}

/// The JMeter console output's last `summary =` line, read back; None when there is none
/// (JMeter exits 0 even when the plan did not load: this line is how to tell it ran).
pub fn final_summary(console: &str) -> Option<crate::run::text::SummaryLine> {
    console
        .lines()
        .rev()
        .filter_map(crate::run::text::parse_summary_line)
        .find(|s| s.kind == '=')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> ImportOptions {
        ImportOptions {
            generator: "jmeter".into(),
            ..ImportOptions::default()
        }
    }

    /// Written by JMeter 2.13 with jmeter/echolab.properties (header, failure messages).
    const WITH_HEADER: &str = "\
timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,failureMessage,bytes,grpThreads,allThreads,Latency
1795299933120,20,echo,200,OK,users 1-1,text,true,,64,1,1,0
1795299933148,8,echo,200,OK,users 1-1,text,true,,64,1,1,0
1795299933624,1,echo,200,OK,users 1-2,text,true,,64,1,1,0
1795299938812,14,echo,200,OK,users 1-2,text,false,\"Test failed: text expected to equal /

****** received  : [[[e]]]cholab, \"\"quoted\"\"


/\",64,1,1,0
";

    #[test]
    fn reads_a_header_and_multiline_fields() {
        let r = import_from(WITH_HEADER.as_bytes(), "t.jtl", &opts()).unwrap();
        assert_eq!((r.samples, r.ok, r.errors), (4, 3, 1));
        assert_eq!(r.errors_by_kind.mismatch, 1);
        assert_eq!((r.run.settings.threads, r.run.settings.loops), (2, Some(2)));
        assert_eq!(r.run.planned_samples, Some(4));
        assert_eq!(r.latency_us.min, 1000);
        assert_eq!(r.latency_us.max, 20_000);
        assert_eq!(r.latency_us.sum, 29_000);
        assert_eq!(r.run.settings.message_size, 64);
        assert_eq!(r.bytes_received, 256);
        assert_eq!(r.run.started_unix_ms, 1795299933120);
        assert!((r.run.elapsed_s - 5.706).abs() < 1e-9);
        assert_eq!(r.run.settings.generator, "jmeter");
    }

    #[test]
    fn reads_jmeter_213_default_columns_without_a_header() {
        // 2.13's default: no header, no failureMessage column.
        let text = "\
1795299941276,11,echo,500,java.net.ConnectException: Connection refused,users 1-1,,false,0,1,1,0
1795299941291,0,echo,500,\"java.net.SocketTimeoutException: Read timed out\",users 1-1,,false,0,1,1,0
1795299941296,3,echo,200,OK,users 1-1,text,true,64,1,1,0
";
        let r = import_from(text.as_bytes(), "t.jtl", &opts()).unwrap();
        assert_eq!((r.samples, r.ok), (3, 1));
        assert_eq!(r.errors_by_kind.refused, 1);
        assert_eq!(r.errors_by_kind.read_timeout, 1);
        assert_eq!((r.run.settings.threads, r.run.settings.loops), (1, Some(3)));
        // Without a header the bytes column is not known.
        assert_eq!(r.bytes_received, 0);
    }

    #[test]
    fn reads_jmeter_5_columns() {
        let text = "\
timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,failureMessage,bytes,sentBytes,grpThreads,allThreads,URL,Latency,IdleTime,Connect
1700000000000,2,echo,200,,users 1-1,text,true,,64,64,1,1,null,2,0,1
1700000000003,1,echo,200,,users 1-1,text,true,,64,64,1,1,null,1,0,0
";
        let r = import_from(text.as_bytes(), "t.jtl", &opts()).unwrap();
        assert_eq!((r.samples, r.ok, r.errors), (2, 2, 0));
        assert_eq!((r.bytes_sent, r.bytes_received), (128, 128));
        assert!((r.run.elapsed_s - 0.004).abs() < 1e-9);
    }

    #[test]
    fn the_plan_given_overrides_what_is_inferred() {
        let o = ImportOptions {
            threads: Some(10),
            loops: Some(100),
            target: Some("127.0.0.1:7000".into()),
            ..opts()
        };
        let r = import_from(WITH_HEADER.as_bytes(), "t.jtl", &o).unwrap();
        assert_eq!(r.run.planned_samples, Some(1000));
        assert_eq!(r.run.settings.host, "127.0.0.1");
    }

    #[test]
    fn bad_files_say_where() {
        assert!(matches!(
            import_from("".as_bytes(), "e.jtl", &opts()),
            Err(JtlError::Empty(_))
        ));
        let header_only = WITH_HEADER.lines().next().unwrap();
        assert!(matches!(
            import_from(header_only.as_bytes(), "e.jtl", &opts()),
            Err(JtlError::Empty(_))
        ));
        let dated = "2026/11/21 22:25:33.120,20,echo,200,OK,users 1-1,text,true\n";
        let e = import_from(dated.as_bytes(), "d.jtl", &opts()).unwrap_err();
        assert!(e.to_string().contains("d.jtl, record 1"), "{e}");
        assert!(e.to_string().contains("timestamp_format=ms"), "{e}");
        let no_success = "timeStamp,elapsed,label\n1,2,x\n";
        let e = import_from(no_success.as_bytes(), "h.jtl", &opts()).unwrap_err();
        assert!(e.to_string().contains("`success`"), "{e}");
    }

    #[test]
    fn final_summary_of_both_versions() {
        let v213 = "Creating summariser <summary>\n\
            summary +      1 in   0.2s =    5.9/s Avg:    20 Min:    20 Max:    20 Err:     0 (0.00%) Active: 1 Started: 1 Finished: 0\n\
            summary +      9 in   0.5s =   18.4/s Avg:     1 Min:     0 Max:     8 Err:     0 (0.00%) Active: 0 Started: 2 Finished: 2\n\
            summary =     10 in     1s =   15.2/s Avg:     3 Min:     0 Max:    20 Err:     0 (0.00%)\n\
            Tidying up ...    @ Sat Nov 21 22:25:33 UTC 2026 (1795299933629)\n";
        let s = final_summary(v213).unwrap();
        assert_eq!((s.samples, s.elapsed_s, s.errors), (10, 1, 0));
        assert_eq!(s.rate, Some(15.2));
        let v5 = "summary =   1000 in 00:00:02 =  498.5/s Avg:     0 Min:     0 Max:    31 Err:     0 (0.00%)\n";
        let s = final_summary(v5).unwrap();
        assert_eq!((s.samples, s.elapsed_s, s.max_ms), (1000, 2, 31));
        assert!(final_summary("Error in NonGUIDriver java.lang.Exception\n").is_none());
    }

    #[test]
    fn is_not_merged_with_loadgen_runs() {
        let jmeter = import_from(WITH_HEADER.as_bytes(), "t.jtl", &opts()).unwrap();
        let mut other = jmeter.clone();
        other.run.settings.generator = "loadgen".into();
        let e = crate::merge::merge(&[jmeter.clone(), other]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot merge runs with different load generators"
        );
        assert_eq!(
            crate::merge::merge(&[jmeter.clone(), jmeter])
                .unwrap()
                .samples,
            8
        );
    }

    #[test]
    fn subcommand_flags() {
        use clap::Parser;
        let o = crate::opts::Opts::parse_from([
            "loadgen",
            "import-jtl",
            "a.jtl",
            "--threads",
            "10",
            "--loops",
            "100",
            "--rampup",
            "1s",
            "--summary",
            "console.txt",
            "--json",
            "a.json",
        ]);
        match o.command {
            Some(crate::opts::Command::ImportJtl(a)) => {
                assert_eq!((a.threads, a.loops), (Some(10), Some(100)));
                assert_eq!(a.generator, "jmeter");
                assert_eq!(a.rampup.as_secs(), 1);
            }
            other => panic!("{other:?}"),
        }
        let o = crate::opts::Opts::parse_from(["loadgen", "compare", "a.json", "b.json"]);
        assert!(matches!(o.command, Some(crate::opts::Command::Compare(c)) if c.files.len() == 2));
    }

    #[test]
    fn error_kinds() {
        assert_eq!(
            classify("500", "java.net.SocketTimeoutException: connect timed out"),
            ErrorKind::ConnectTimeout
        );
        assert_eq!(
            classify("500", "java.net.SocketException: Connection reset"),
            ErrorKind::Reset
        );
        assert_eq!(classify("500", "java.io.IOException"), ErrorKind::Other);
        assert_eq!(classify("200", "OK"), ErrorKind::Mismatch);
    }
}

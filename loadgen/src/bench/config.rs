//! `loadgen bench`'s flags checked and turned into a [`BenchConfig`]: known suites and
//! models, connection counts one process can hold, server binaries present, a results
//! folder that does not exist yet. Anything wrong is one clear error before a server starts.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use common::models::{BASELINES, MODELS, is_baseline};
use thiserror::Error;

// MAX_CONNS is re-exported for the summary, which names it as this file's.
pub use super::capacity::MAX_CONNS;
use super::capacity::{MAX_SERVER_PROCS, procs_needed, procs_suffice};
use super::data::{BenchConfig, Design, SliceSettings, Variant};
use super::names::SuiteName;
use super::paths::{default_baselines_dir, default_bin_dir, default_out, is_executable};
use crate::opts::BenchArgs;

/// Bench settings that cannot be used.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("unknown suite '{0}'; suites: {list}", list = SuiteName::list(", "))]
    UnknownSuite(String),
    #[error(
        "unknown model '{0}'; models: all, {list}; baselines: {baselines}",
        list = MODELS.join(", "),
        baselines = BASELINES.join(", ")
    )]
    UnknownModel(String),
    #[error("'{0}' is not a connection count (1 to {MAX_CONNS})")]
    BadConns(String),
    #[error(
        "{0} connections is more than {1} server process(es) can hold ({MAX_CONNS} each, \
         spread by SO_REUSEPORT's hash): give --server-procs {2}"
    )]
    TooManyConns(u64, u32, u32),
    #[error("--server-procs must be 1 to {MAX_SERVER_PROCS}")]
    BadServerProcs,
    #[error("--{0} must be positive")]
    NotPositive(&'static str),
    #[error("--blocks: '{0}' is not N or SUITE=N with N from 1")]
    BadBlocks(String),
    #[error("--reference: '{0}' is not one of the models run ({1})")]
    UnknownReference(String, String),
    #[error("--margin must be a fraction above 0 and below 1 (0.03 is 3%)")]
    BadMargin,
    #[error("--max-error-pct must be a percentage from 0 to 100")]
    BadMaxErrorPct,
    #[error("{0} exists already; give another --out")]
    OutExists(String),
    #[error(
        "{path} not found: build the servers first with `cargo build --release` (or give --bin-dir)"
    )]
    MissingBinary { path: String },
    #[error(
        "{path} not found or not executable: give --baselines-dir (the checkout's baselines/python)"
    )]
    MissingBaseline { path: String },
    #[error("--variant '{0}': {1}")]
    BadVariant(String, String),
    #[error("--variant '{0}': bin={1} is not an executable file")]
    VariantBin(String, String),
    #[error(
        "--slice ({0} ms) is shorter than --slice-warmup ({1} ms): a slice would be mostly warm-up"
    )]
    SliceShorterThanWarmup(f64, f64),
    #[error(
        "--twin needs a reference: give --reference MODEL (epoll, the default reference, is not among the models)"
    )]
    TwinWithoutReference,
    #[error("--twin: the name '{0}' is taken")]
    TwinTaken(String),
}

/// The interleaved design's longest wait for outstanding replies, at each slice's quiesce
/// and drain: far beyond any echo's latency at the points it runs.
pub const DRAIN_LIMIT_MS: f64 = 2000.0;

/// Server flags the bench sets itself, which a variant may not give.
const BENCH_SERVER_FLAGS: [&str; 6] = [
    "--addr",
    "--pin",
    "--stats-file",
    "--stats-warmup",
    "--reuse-port",
    "--framed",
];

/// `NAME=MODEL[:bin=PATH][:KEY=VALUE..][:--flag[=value]..]`, checked against the models
/// and the variants before it (`taken`). The build at PATH is checked in [`check`].
fn parse_variant(spec: &str, taken: &[Variant]) -> Result<Variant, ConfigError> {
    let bad = |why: String| ConfigError::BadVariant(spec.to_string(), why);
    let (name, rest) = spec.split_once('=').ok_or_else(|| {
        bad("expected NAME=MODEL[:bin=PATH][:KEY=VALUE..][:--flag[=value]..]".into())
    })?;
    let name = name.trim();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(bad(format!(
            "the name '{name}' must be lower-case letters, digits and '-'"
        )));
    }
    if MODELS.contains(&name) || is_baseline(name) || taken.iter().any(|v| v.name == name) {
        return Err(bad(format!("the name '{name}' is taken")));
    }
    let mut items = rest.split(':');
    let model = items.next().unwrap_or_default().trim();
    if !(MODELS.contains(&model) || is_baseline(model)) {
        return Err(bad(format!(
            "unknown model '{model}'; models: {}",
            MODELS.join(", ")
        )));
    }
    let mut v = Variant {
        name: name.into(),
        model: model.into(),
        env: Vec::new(),
        server_args: Vec::new(),
        bin: None,
    };
    for item in items.map(str::trim) {
        if let Some(path) = item.strip_prefix("bin=") {
            if path.is_empty() || v.bin.is_some() {
                return Err(bad("bin= takes one path".into()));
            }
            v.bin = Some(path.into());
            continue;
        }
        if item.starts_with("--") {
            let flag = item.split('=').next().unwrap_or(item);
            if BENCH_SERVER_FLAGS.contains(&flag) {
                return Err(bad(format!("{flag} is set by the bench itself")));
            }
            v.server_args.push(item.into());
            continue;
        }
        let key_ok = |k: &str| {
            k.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        match item.split_once('=') {
            Some((k, val)) if key_ok(k) => v.env.push((k.into(), val.into())),
            _ => {
                return Err(bad(format!("'{item}' is neither KEY=VALUE nor a --flag")));
            }
        }
    }
    if v.env.is_empty() && v.server_args.is_empty() && v.bin.is_none() {
        return Err(bad("no setting: it would run its model unchanged".into()));
    }
    Ok(v)
}

/// Checks the flags. `command` is the command line to record.
pub fn check(args: &BenchArgs, command: Vec<String>) -> Result<BenchConfig, ConfigError> {
    let suites = list(&args.suite)
        .map(suite_named)
        .collect::<Result<Vec<_>, _>>()?;
    let mut variants: Vec<Variant> = Vec::new();
    for spec in &args.variants {
        let v = parse_variant(spec, &variants)?;
        variants.push(v);
    }
    let is_variant = |m: &str| variants.iter().any(|v| v.name == m);
    let mut models: Vec<String> = if args.models.trim() == "all" {
        MODELS.iter().map(|m| m.to_string()).collect()
    } else {
        list(&args.models)
            .map(|m| {
                (MODELS.contains(&m) || is_baseline(m) || is_variant(m))
                    .then(|| m.to_string())
                    .ok_or_else(|| ConfigError::UnknownModel(m.into()))
            })
            .collect::<Result<Vec<_>, _>>()?
    };
    if args.baselines {
        for b in BASELINES {
            if !models.iter().any(|m| m == b) {
                models.push(b.to_string());
            }
        }
    }
    for v in &variants {
        if !models.contains(&v.name) {
            models.push(v.name.clone());
        }
    }
    if !(1..=MAX_SERVER_PROCS).contains(&args.server_procs) {
        return Err(ConfigError::BadServerProcs);
    }
    let conns = list(&args.conns)
        .map(|c| match c.replace('_', "").parse::<u64>() {
            Ok(0) | Err(_) => Err(ConfigError::BadConns(c.into())),
            Ok(n) if !procs_suffice(n, args.server_procs) => Err(ConfigError::TooManyConns(
                n,
                args.server_procs,
                procs_needed(n),
            )),
            Ok(n) => Ok(n),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if suites.is_empty() {
        return Err(ConfigError::UnknownSuite(args.suite.clone()));
    }
    if models.is_empty() {
        return Err(ConfigError::UnknownModel(args.models.clone()));
    }
    if conns.is_empty() {
        return Err(ConfigError::BadConns(args.conns.clone()));
    }
    if args.duration.is_zero() {
        return Err(ConfigError::NotPositive("duration"));
    }
    let (blocks, suite_blocks) = parse_blocks(&args.blocks)?;
    let suite_blocks = suite_blocks
        .into_iter()
        .map(|(s, n)| Ok((suite_named(&s)?, n)))
        .collect::<Result<BTreeMap<_, _>, ConfigError>>()?;
    let reference = match &args.reference {
        Some(m) if models.contains(m) => m.clone(),
        Some(m) => return Err(ConfigError::UnknownReference(m.clone(), models.join(", "))),
        None if models.iter().any(|m| m == "epoll") => "epoll".into(),
        None if args.twin => return Err(ConfigError::TwinWithoutReference),
        None => models[0].clone(),
    };
    let twin = if args.twin {
        let name = format!("{reference}-twin");
        if models.contains(&name) || variants.iter().any(|v| v.name == name) {
            return Err(ConfigError::TwinTaken(name));
        }
        // A copy of the reference as it runs: a variant reference's settings come along.
        let of = variants.iter().find(|v| v.name == reference);
        variants.push(Variant {
            name: name.clone(),
            model: of.map_or_else(|| reference.clone(), |v| v.model.clone()),
            env: of.map(|v| v.env.clone()).unwrap_or_default(),
            server_args: of.map(|v| v.server_args.clone()).unwrap_or_default(),
            bin: of.and_then(|v| v.bin.clone()),
        });
        let at = models.iter().position(|m| *m == reference).unwrap_or(0);
        models.insert(at + 1, name.clone());
        Some(name)
    } else {
        None
    };
    if args.slice.is_zero() {
        return Err(ConfigError::NotPositive("slice"));
    }
    if args.slice < args.slice_warmup {
        return Err(ConfigError::SliceShorterThanWarmup(
            args.slice.as_secs_f64() * 1e3,
            args.slice_warmup.as_secs_f64() * 1e3,
        ));
    }
    if args.slice_rounds == Some(0) {
        return Err(ConfigError::NotPositive("slice-rounds"));
    }
    let design = match args.design {
        crate::opts::DesignArg::Interleaved => Design::Interleaved,
        crate::opts::DesignArg::Blocks => Design::Blocks,
    };
    if !(args.margin > 0.0 && args.margin < 1.0) {
        return Err(ConfigError::BadMargin);
    }
    if !(0.0..=100.0).contains(&args.max_error_pct) {
        return Err(ConfigError::BadMaxErrorPct);
    }
    let mixed_conns = args
        .mixed_conns
        .as_ref()
        .map(|l| {
            list(l)
                .map(|c| match c.parse::<u64>() {
                    Ok(n) if (1..=MAX_CONNS).contains(&n) => Ok(n),
                    _ => Err(ConfigError::BadConns(c.into())),
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let seed = args.seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    });
    if !(args.scale > 0.0 && args.scale.is_finite()) {
        return Err(ConfigError::NotPositive("scale"));
    }
    if !(args.rate_fixed > 0.0 && args.rate_fixed.is_finite()) {
        return Err(ConfigError::NotPositive("rate-fixed"));
    }
    let out = args.out.clone().unwrap_or_else(default_out);
    if out.exists() {
        return Err(ConfigError::OutExists(out.display().to_string()));
    }
    // Another build must be there and runnable; its path is kept absolute, since the
    // servers start from wherever the bench runs.
    for v in variants.iter_mut().filter(|v| v.bin.is_some()) {
        let given = v.bin.clone().unwrap_or_default();
        let spec = args
            .variants
            .iter()
            .find(|s| s.split('=').next().map(str::trim) == Some(v.name.as_str()))
            .cloned()
            .unwrap_or_else(|| v.name.clone());
        let path = Path::new(&given);
        if !is_executable(path) {
            return Err(ConfigError::VariantBin(spec, given));
        }
        let absolute = path
            .canonicalize()
            .map_err(|_| ConfigError::VariantBin(spec, given.clone()))?;
        v.bin = Some(absolute.display().to_string());
    }
    let bin_dir = args.bin_dir.clone().unwrap_or_else(default_bin_dir);
    let base = |m: &str| -> String {
        variants
            .iter()
            .find(|v| v.name == m)
            .map_or_else(|| m.to_string(), |v| v.model.clone())
    };
    let baselines_dir = models.iter().any(|m| is_baseline(&base(m))).then(|| {
        args.baselines_dir
            .clone()
            .unwrap_or_else(default_baselines_dir)
    });
    for m in models.iter().filter(|m| {
        variants
            .iter()
            .find(|v| &v.name == *m)
            .is_none_or(|v| v.bin.is_none())
    }) {
        let m = base(m);
        let m = m.as_str();
        if is_baseline(m) {
            let dir = baselines_dir.as_deref().unwrap_or(Path::new("."));
            let path = dir.join(format!("echo-{m}"));
            if !is_executable(&path) {
                return Err(ConfigError::MissingBaseline {
                    path: path.display().to_string(),
                });
            }
            continue;
        }
        let path = bin_dir.join(format!("echo-{m}"));
        if !path.is_file() {
            return Err(ConfigError::MissingBinary {
                path: path.display().to_string(),
            });
        }
    }
    Ok(BenchConfig {
        suites,
        models,
        conns,
        duration_s: args.duration.as_secs_f64(),
        blocks,
        suite_blocks,
        seed: Some(seed),
        reference,
        margin: args.margin,
        max_error_pct: args.max_error_pct,
        mixed_conns,
        scale: args.scale,
        rate_fixed: args.rate_fixed,
        bin_dir: bin_dir.display().to_string(),
        baselines_dir: baselines_dir.map(|d| d.display().to_string()),
        out: out.display().to_string(),
        perf: !args.no_perf,
        server_procs: args.server_procs,
        variants,
        design,
        slicing: (design == Design::Interleaved).then_some(SliceSettings {
            warmup_ms: args.slice_warmup.as_secs_f64() * 1e3,
            measured_ms: args.slice.as_secs_f64() * 1e3,
            drain_limit_ms: DRAIN_LIMIT_MS,
        }),
        slice_rounds: args.slice_rounds,
        twin,
        command,
    })
}

/// The suite called `name`.
fn suite_named(name: &str) -> Result<SuiteName, ConfigError> {
    name.parse()
        .map_err(|_| ConfigError::UnknownSuite(name.to_string()))
}

/// `N[,SUITE=N..]`: the blocks of every suite and those of the named ones.
fn parse_blocks(spec: &str) -> Result<(u32, BTreeMap<String, u32>), ConfigError> {
    let bad = |s: &str| ConfigError::BadBlocks(s.to_string());
    let count = |s: &str| match s.trim().parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(bad(s)),
    };
    let mut all = None;
    let mut per_suite = BTreeMap::new();
    for item in list(spec) {
        match item.split_once('=') {
            Some((suite, n)) => {
                per_suite.insert(suite.trim().to_string(), count(n)?);
            }
            None if all.is_none() => all = Some(count(item)?),
            None => return Err(bad(item)),
        }
    }
    Ok((all.ok_or_else(|| bad(spec))?, per_suite))
}

/// The non-empty items of a comma-separated list.
fn list(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').map(str::trim).filter(|x| !x.is_empty())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::opts::{Command, Opts};
    use clap::Parser;

    fn args(extra: &[&str]) -> BenchArgs {
        let mut v = vec![
            "loadgen",
            "bench",
            "--out",
            "/nonexistent/x",
            "--bin-dir",
            "/",
        ];
        v.extend_from_slice(extra);
        match Opts::parse_from(v).command {
            Some(Command::Bench(b)) => b,
            _ => unreachable!(),
        }
    }

    fn err(extra: &[&str]) -> String {
        check(&args(extra), vec![]).unwrap_err().to_string()
    }

    #[test]
    fn bad_input_is_one_clear_error() {
        assert!(err(&["--models", "epoll,nope"]).starts_with("unknown model 'nope'"));
        assert!(err(&["--suite", "nope"]).starts_with("unknown suite 'nope'"));
        assert!(err(&["--conns", "10,60000"]).contains("60000 connections is more than"));
        assert!(err(&["--conns", "60000", "--server-procs", "3"]).contains("--server-procs 4"));
        assert!(err(&["--server-procs", "0"]).contains("--server-procs must be 1 to"));
        assert!(err(&["--conns", "ten"]).contains("'ten' is not a connection count"));
        assert!(err(&["--rounds", "0"]).contains("--blocks: '0'"));
        assert!(err(&["--blocks", "10,nope=3"]).starts_with("unknown suite 'nope'"));
        assert!(err(&["--blocks", "plans=3"]).contains("--blocks"));
        assert!(err(&["--blocks", "3,4"]).contains("--blocks: '4'"));
        assert!(err(&["--reference", "thread", "--models", "epoll"]).contains("--reference"));
        assert!(err(&["--margin", "0"]).contains("--margin"));
        assert!(err(&["--margin=-0.1"]).contains("--margin"));
        assert!(err(&["--max-error-pct", "101"]).contains("--max-error-pct"));
        assert!(err(&["--mixed-conns", "0"]).contains("'0' is not a connection count"));
        assert!(err(&["--models", "epoll"]).contains("cargo build --release"));
        assert!(err(&["--models", "py-nope"]).contains("baselines: py-asyncio,"));
        assert!(
            err(&["--models", "py-asyncio", "--baselines-dir", "/nonexistent"])
                .contains("/nonexistent/echo-py-asyncio not found")
        );
        for (spec, says) in [
            ("x", "expected NAME=MODEL"),
            ("Big=epoll:--threads=2", "must be lower-case"),
            ("epoll=epoll:--threads=2", "'epoll' is taken"),
            ("e2=nope:--threads=2", "unknown model 'nope'"),
            ("e2=epoll", "no setting"),
            ("e2=epoll:--addr=127.0.0.1:1", "--addr is set by the bench"),
            ("e2=epoll:1X=2", "'1X=2' is neither"),
            ("e2=epoll:bin=", "bin= takes one path"),
            ("e2=epoll:bin=/a:bin=/b", "bin= takes one path"),
        ] {
            let e = err(&["--variant", spec]);
            assert!(e.starts_with(&format!("--variant '{spec}': ")), "{e}");
            assert!(e.contains(says), "{spec}: {e}");
        }
        assert!(err(&["--variant", "e2=epoll:A=1", "--variant", "e2=epoll:A=2"]).contains("taken"));
        let exists = check(
            &{
                let mut a = args(&[]);
                a.out = Some(PathBuf::from("/"));
                a
            },
            vec![],
        );
        assert!(exists.unwrap_err().to_string().contains("exists already"));
    }

    #[test]
    fn baselines_are_named_or_added_and_found_in_the_checkout() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let dir = root.join("baselines/python");
        let bins = tempdir_with(&["echo-epoll", "echo-tokio"]);
        let run = |extra: &[&str]| {
            let mut a = args(extra);
            a.bin_dir = Some(bins.clone());
            a.baselines_dir = Some(dir.clone());
            check(&a, vec![]).unwrap()
        };
        let c = run(&["--models", "epoll,py-asyncio"]);
        assert_eq!(c.models, ["epoll", "py-asyncio"]);
        assert_eq!(c.server_program("py-asyncio"), dir.join("echo-py-asyncio"));
        assert_eq!(c.server_program("epoll"), bins.join("echo-epoll"));
        let c = run(&["--models", "epoll,tokio,py-gevent", "--baselines"]);
        assert_eq!(c.models.len(), 2 + BASELINES.len());
        assert_eq!(c.models[2], "py-gevent", "named ones keep their place");
        let c = run(&["--models", "epoll,tokio"]);
        assert_eq!(c.baselines_dir, None, "no baseline, no folder recorded");
        // loadgen's own checkout is found from its executable (this test's, here).
        assert_eq!(
            default_baselines_dir().canonicalize().unwrap(),
            dir.canonicalize().unwrap()
        );
    }

    #[test]
    fn variants_join_the_models_and_run_their_models_program() {
        let bins = tempdir_with(&["echo-epoll", "echo-glommio"]);
        let run = |extra: &[&str]| {
            let mut a = args(extra);
            a.bin_dir = Some(bins.clone());
            check(&a, vec![])
        };
        let spin = "glommio-spin=glommio:ECHO_GLOMMIO_SPIN=50us";
        let c = run(&[
            "--models",
            "epoll,glommio",
            "--variant",
            spin,
            "--variant",
            "epoll-2=epoll:--threads=2:X=a=b",
        ])
        .unwrap();
        assert_eq!(c.models, ["epoll", "glommio", "glommio-spin", "epoll-2"]);
        assert_eq!(c.server_program("glommio-spin"), bins.join("echo-glommio"));
        assert_eq!(c.base_model("glommio-spin"), "glommio");
        assert_eq!(c.base_model("epoll"), "epoll");
        let v = c.variant("epoll-2").unwrap();
        assert_eq!(v.env, [("X".to_string(), "a=b".to_string())]);
        assert_eq!(v.server_args, ["--threads=2"]);
        assert_eq!(v.settings(), "X=a=b --threads=2");
        let c = run(&["--models", "glommio-spin,epoll", "--variant", spin]).unwrap();
        assert_eq!(
            c.models,
            ["glommio-spin", "epoll"],
            "named ones keep their place"
        );
        let c = run(&[
            "--models",
            "epoll",
            "--variant",
            spin,
            "--reference",
            "glommio-spin",
        ]);
        assert_eq!(c.unwrap().reference, "glommio-spin");
        let e = run(&["--models", "epoll", "--variant", "t=tokio:--threads=2"]).unwrap_err();
        assert!(e.to_string().contains("echo-tokio not found"), "{e}");
    }

    #[test]
    fn a_bin_variant_runs_another_build_of_its_model() {
        use std::os::unix::fs::PermissionsExt;
        let bins = tempdir_with(&["echo-epoll", "old-echo-tokio"]);
        let old = bins.join("old-echo-tokio");
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o755)).unwrap();
        let run = |extra: &[&str]| {
            let mut a = args(extra);
            a.bin_dir = Some(bins.clone());
            check(&a, vec![])
        };
        // echo-tokio itself is not in the bin dir: only the other build is needed.
        let spec = format!("tokio-before=tokio:bin={}:--threads=2", old.display());
        let c = run(&["--models", "epoll", "--variant", &spec, "--twin"]).unwrap();
        assert_eq!(c.models, ["epoll", "epoll-twin", "tokio-before"]);
        assert_eq!(
            c.server_program("tokio-before"),
            old.canonicalize().unwrap()
        );
        assert_eq!(c.server_program("epoll"), bins.join("echo-epoll"));
        assert_eq!(c.base_model("tokio-before"), "tokio");
        let v = c.variant("tokio-before").unwrap();
        assert_eq!(
            v.settings(),
            format!("bin={} --threads=2", old.canonicalize().unwrap().display())
        );
        // A build as the reference: its twin runs the same build.
        let spec = format!("epoll-before=epoll:bin={}", old.display());
        let c = run(&[
            "--models",
            "epoll",
            "--variant",
            &spec,
            "--reference",
            "epoll-before",
            "--twin",
        ])
        .unwrap();
        assert_eq!(
            c.server_program("epoll-before-twin"),
            old.canonicalize().unwrap()
        );
        let e = run(&["--models", "epoll", "--variant", "e=epoll:bin=/nonexistent"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--variant 'e=epoll:bin=/nonexistent': bin=/nonexistent is not an executable file"
        );
        let e = run(&[
            "--models",
            "epoll",
            "--variant",
            &format!("e=epoll:bin={}", bins.join("echo-epoll").display()),
        ])
        .unwrap_err();
        assert!(e.to_string().ends_with("is not an executable file"), "{e}");
    }

    #[test]
    fn the_twin_follows_its_reference_and_slices_are_checked() {
        let bins = tempdir_with(&["echo-epoll", "echo-tokio", "echo-glommio"]);
        let run = |extra: &[&str]| {
            let mut a = args(extra);
            a.bin_dir = Some(bins.clone());
            check(&a, vec![])
        };
        let c = run(&["--models", "tokio,epoll", "--twin"]).unwrap();
        assert_eq!(c.models, ["tokio", "epoll", "epoll-twin"]);
        assert_eq!(c.twin.as_deref(), Some("epoll-twin"));
        assert_eq!(c.base_model("epoll-twin"), "epoll");
        assert_eq!(c.design, Design::Interleaved);
        let sl = c.slicing.unwrap();
        assert_eq!((sl.warmup_ms, sl.measured_ms), (20.0, 30.0));
        // A variant reference's twin runs with the same settings.
        let c = run(&[
            "--models",
            "epoll",
            "--variant",
            "g=glommio:ECHO_GLOMMIO_SPIN=1ms",
            "--reference",
            "g",
            "--twin",
        ])
        .unwrap();
        let t = c.variant("g-twin").unwrap();
        assert_eq!((t.model.as_str(), t.env.len()), ("glommio", 1));
        let e = run(&["--models", "tokio", "--twin"]).unwrap_err();
        assert!(e.to_string().starts_with("--twin needs a reference"), "{e}");
        let e = run(&[
            "--models",
            "epoll",
            "--slice",
            "10ms",
            "--slice-warmup",
            "20ms",
        ])
        .unwrap_err();
        assert!(e.to_string().contains("shorter than --slice-warmup"), "{e}");
        let e = run(&["--models", "epoll", "--slice", "0s", "--slice-warmup", "0s"]).unwrap_err();
        assert!(e.to_string().contains("--slice must be positive"), "{e}");
        let e = run(&["--models", "epoll", "--slice-rounds", "0"]).unwrap_err();
        assert!(
            e.to_string().contains("--slice-rounds must be positive"),
            "{e}"
        );
        let c = run(&["--models", "epoll", "--slice-rounds", "40"]).unwrap();
        assert_eq!(c.slice_rounds, Some(40));
        let c = run(&["--models", "epoll", "--design", "blocks"]).unwrap();
        assert_eq!((c.design, c.slicing), (Design::Blocks, None));
    }

    /// A fresh folder holding empty files with these names.
    fn tempdir_with(names: &[&str]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "loadgen-config-{}-{}",
            std::process::id(),
            names.join("-")
        ));
        std::fs::create_dir_all(&dir).unwrap();
        for n in names {
            std::fs::write(dir.join(n), b"").unwrap();
        }
        dir
    }

    #[test]
    fn blocks_per_suite() {
        let (all, per) = parse_blocks("10, plans=3,frames=4").unwrap();
        assert_eq!(all, 10);
        assert_eq!(per.get("plans"), Some(&3));
        assert_eq!(per.get("frames"), Some(&4));
        assert_eq!(parse_blocks("12").unwrap(), (12, BTreeMap::new()));
    }
}

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
mod tests;

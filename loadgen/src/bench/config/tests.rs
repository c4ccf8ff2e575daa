//! The bench's flags checked: bad input refused with one line, settings as planned.

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
fn a_pool_runs_with_its_default_workers_unless_its_variant_sizes_it() {
    let bins = tempdir_with(&["echo-pool", "echo-epoll"]);
    let mut a = args(&[
        "--models",
        "epoll,pool",
        "--variant",
        "pool-8=pool:--threads=8",
        "--variant",
        "pool-capped=pool:--max-conns=9",
    ]);
    a.bin_dir = Some(bins.clone());
    let c = check(&a, vec![]).unwrap();
    assert_eq!(c.model_server_args("epoll"), Vec::<String>::new());
    assert_eq!(c.model_server_args("pool"), ["--threads", "1024"]);
    assert_eq!(c.model_server_args("pool-8"), ["--threads=8"]);
    assert_eq!(
        c.model_server_args("pool-capped"),
        ["--threads", "1024", "--max-conns=9"]
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

//! The fault suite at CI size: every case for every model (see src/faults/), plus
//! loadgen against misbehaving servers. `make faults` runs the full size.

use conformance::faults::{self, CaseResult, Size};

fn assert_passed(results: &[CaseResult]) {
    let failed: Vec<String> = results
        .iter()
        .filter(|r| !r.passed)
        .map(|r| format!("{} {}: {}", r.model, r.case, r.failures.join("; ")))
        .collect();
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

macro_rules! faults {
    ($($module:ident => $model:literal),* $(,)?) => {$(
        #[test]
        fn $module() {
            super::assert_passed(&super::faults::run_model($model, super::Size::Ci, &[]));
        }
    )*};
}

mod every_case {
    faults! {
        thread => "thread",
        epoll => "epoll",
        tokio => "tokio",
        tokio_callback => "tokio-callback",
        async_std => "async-std",
        smol => "smol",
        glommio => "glommio",
        may => "may",
        uring => "uring",
        compio => "compio",
        pool => "pool",
        reactor_pool => "reactor-pool",
    }
}

#[test]
fn loadgen_against_bad_servers() {
    assert_passed(&[faults::run_loadgen(Size::Ci)]);
}

//! The `loadgen` binary: parse the flags, run, print the error chain, exit with the code.
//! Everything else is in the library (`loadgen::run`).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let opts = match loadgen::Opts::try_parse() {
        Ok(opts) => opts,
        Err(e) if !e.use_stderr() => {
            // --help and --version.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // One line, not clap's usage block: the first line names the problem.
            let rendered = e.to_string();
            let first = rendered.lines().next().unwrap_or("invalid arguments");
            loadgen::out::warn(format_args!("loadgen: {first} (see --help)"));
            return ExitCode::from(loadgen::EXIT_USAGE);
        }
    };
    match loadgen::run(opts) {
        Ok(outcome) => ExitCode::from(outcome.exit_code()),
        Err(e) => {
            let code = e.exit_code();
            let e = anyhow::Error::from(e);
            loadgen::out::warn(format_args!("loadgen: error: {e:#}"));
            ExitCode::from(code)
        }
    }
}

//! mfarole: run a command with temporary AWS credentials from STS (MFA sessions and assumed
//! roles) in one step. [`run_main`] parses, runs, and turns the one error into one line on
//! stderr and an exit status; everything else lives in the modules below. It is a library only
//! so that the coverage-guided fuzz harness (`tests/afl/`) can reach the parsers through
//! [`fuzz_targets`]; the program is `src/main.rs`.

#![forbid(unsafe_code)]

mod app;
mod cache;
mod child;
mod cli;
mod config;
mod creds;
mod environ;
mod error;
mod exec;
#[cfg(test)]
mod fuzz;
pub mod fuzz_targets;
mod ini;
mod list;
mod log;
mod mfa;
mod output;
mod pipeline;
mod plan;
mod server;
mod source;
mod sts;
mod units;

use std::process::ExitCode;

/// The whole program: what `main` returns.
pub fn run_main() -> ExitCode {
    // While mfarole holds keys and codes, no core dump and no same-user ptrace. The kernel
    // makes the command dumpable again when it is exec'd.
    let _ = rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
    let env = environ::Environ::capture();
    let result = cli::parse(std::env::args_os().skip(1)).and_then(|cmd| app::run(cmd, &env));
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("mfarole: {err}");
            ExitCode::from(err.code())
        }
    }
}

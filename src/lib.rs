//! mfarole: run a command with temporary AWS credentials from STS (MFA sessions and assumed
//! roles) in one step. [`run_main`] parses, runs, and turns the one error into one line on
//! stderr and an exit status; everything else lives in the modules below. It is a library only
//! so that the coverage-guided fuzz harness (`tests/afl/`) can reach the parsers through
//! [`fuzz_targets`]; the program is `src/main.rs`.

#![forbid(unsafe_code)]

mod advice;
mod app;
mod atomic;
mod attributes;
mod cache;
mod child;
mod clear;
mod cli;
mod config;
mod console;
mod creds;
mod environ;
mod error;
mod exec;
#[cfg(test)]
mod fuzz;
#[doc(hidden)]
pub mod fuzz_targets;
mod ini;
mod list;
mod localtime;
mod log;
mod mfa;
mod net;
mod output;
mod partition;
mod pipeline;
mod plan;
mod profile;
mod redact;
mod resolve;
mod server;
mod settings;
mod shlex;
mod source;
mod sts;
mod token_file;
mod units;
mod url;

/// The whole program: the exit status `main` passes to `exit`.
pub fn run_main() -> u8 {
    if !standard_fds_open() {
        return error::EXIT_FAILURE;
    }
    // While mfarole holds keys and codes, no core dump and no same-user ptrace. The kernel
    // makes the command dumpable again when it is exec'd.
    let _ = rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
    let env = environ::Environ::capture();
    let result = cli::parse(std::env::args_os().skip(1)).and_then(|cmd| app::run(cmd, &env));
    match result {
        Ok(code) => code,
        Err(err) => {
            if !err.is_quiet() {
                log::say(&err.to_string());
            }
            if matches!(err, error::Error::Interrupted) {
                mfa::pass_interrupt_on();
            }
            err.code()
        }
    }
}

/// Makes sure descriptors 0, 1 and 2 are open, as std's start-up would (see `src/main.rs`):
/// started with one closed, the next file mfarole opens would take its number, and a cache
/// file could end up receiving what is meant for stderr. A closed one becomes `/dev/null`
/// (`open` takes the lowest free number, and they are checked in order), or, in a root without
/// `/dev` (a `FROM scratch` image run by hand), the root directory, which no write can reach
/// either. `false` only when not even that can be opened.
fn standard_fds_open() -> bool {
    open_if_closed(std::io::stdin())
        && open_if_closed(std::io::stdout())
        && open_if_closed(std::io::stderr())
}

fn open_if_closed(fd: impl std::os::fd::AsFd) -> bool {
    use std::os::fd::IntoRawFd;
    if rustix::io::fcntl_getfd(fd) != Err(rustix::io::Errno::BADF) {
        return true;
    }
    let filler = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .or_else(|_| std::fs::File::open("/"));
    // Kept open for the life of the process, under the number it filled (close-on-exec: the
    // command gets the descriptors it was given).
    filler.map(|f| _ = f.into_raw_fd()).is_ok()
}

//! mfarole: run a command with temporary AWS credentials from STS, MFA and assumed roles, in
//! one step. Everything lives in the library; see `src/lib.rs`.
//!
//! Why `main` is entered from the C runtime rather than through std's start-up (`no_main`):
//! that start-up installs a stack-overflow guard for the main thread, and on glibc finding the
//! main thread's stack means reading and parsing `/proc/self/maps`, plus a signal stack and
//! four `sigaction`s. On the cached path, where mfarole only reads three small files and
//! `exec`s, that was 80–100 µs of a run, the largest single part of mfarole's own time
//! (`tests/bench.sh`). Of std's start-up mfarole needs two things, done here and in
//! [`mfarole::run_main`]: SIGPIPE caught (so a closed pipe or a server that hangs up is an
//! error mfarole reports, not a silent death), and descriptors 0–2 open (so a file mfarole opens
//! can never become its stderr). What is given up: a stack overflow ends in SIGSEGV without
//! std's message. Arguments and the environment still come from std, which on glibc reads
//! them without `lang_start` (glibc hands them to initialisers before `main`). Elsewhere
//! (musl, the BSDs, macOS) std's `main` stays: there `std::env::args` would be empty without it.

#![cfg_attr(all(target_os = "linux", target_env = "gnu"), no_main)]
#![deny(unsafe_code)]

#[cfg(all(target_os = "linux", target_env = "gnu"))]
use std::ffi::{c_char, c_int};

/// The C runtime's entry point.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)] // The one name the C runtime calls must not be mangled.
#[unsafe(no_mangle)]
extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    ignore_sigpipe();
    // `exit` flushes stdout as returning from std's `main` would.
    std::process::exit(c_int::from(mfarole::run_main()))
}

/// Where std's start-up runs, it has set SIGPIPE to ignored and opened descriptors 0–2.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(mfarole::run_main())
}

/// As std's start-up does, in effect: with a handler that does nothing, a write to a closed
/// pipe or socket fails with `EPIPE` instead of ending mfarole. Unlike an ignored signal, a
/// handled one is back to its default in any command mfarole runs or `exec`s.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn ignore_sigpipe() {
    static SEEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    // Fails only for signals that cannot be caught, which SIGPIPE is not.
    let _ = signal_hook::flag::register(signal_hook::consts::SIGPIPE, &SEEN);
}

//! mfarole: run a command with temporary AWS credentials from STS, MFA and assumed roles, in
//! one step. Everything lives in the library; see `src/lib.rs`.

#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    mfarole::run_main()
}

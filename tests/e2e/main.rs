//! mfarole's integration tests, in one test binary so that the support code is built once:
//! the built binary run with a scrubbed environment and a sandbox home, against moto as STS
//! (IAM auth enforced) or in-test stand-ins, on a real terminal through tmux where it prompts.
//! One module per theme; `cargo test --test e2e MODULE::` runs one of them.

mod support;

mod attributes;
mod cache;
mod clear;
mod config;
mod console;
mod container;
mod docs;
mod exec;
mod faults;
mod hardening;
mod hints;
mod list;
mod login;
mod mfa;
mod packaging;
mod probes;
mod profile_arg;
mod server;
mod settings;
mod shells;
mod soak;
mod sources;
mod sso;
mod toolchain;

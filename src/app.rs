//! Runs a parsed command: credentials from the [`pipeline`](crate::pipeline), then exec or
//! print. This is the only module that prints to stdout, and only for commands whose job is
//! to print (`env`, `list`, `completions`, help).

use std::ffi::OsString;
use std::io::{IsTerminal, Write};

use time::OffsetDateTime;

use crate::cache::{self, Cache};
use crate::cli::{Command, Options};
use crate::config::{Config, Files};
use crate::environ::Environ;
use crate::error::{Error, Result};
use crate::log::Log;
use crate::pipeline::{get_credentials, resolve};

/// Runs a parsed command. Returns only when there is no child to exec into (or on error), with
/// the exit status: 0, or the child's under `exec --server`.
pub fn run(cmd: Command, env: &Environ) -> Result<u8> {
    let served = match cmd {
        Command::Exec {
            opts,
            profile,
            program,
            args,
        } if opts.server => {
            let log = Log::new(opts.verbose);
            let got = get_credentials(&opts, &profile, env, &log)?;
            let program = program.unwrap_or_else(|| shell(env));
            return crate::server::run(&opts, &profile, got, program, args, env, &log);
        }
        other => other,
    };
    run_plain(served, env).map(|()| 0)
}

fn shell(env: &Environ) -> OsString {
    env.path("SHELL")
        .map(OsString::from)
        .unwrap_or_else(|| "/bin/sh".into())
}

fn run_plain(cmd: Command, env: &Environ) -> Result<()> {
    match cmd {
        Command::Help(sub) => print_out(&crate::cli::help(sub)),
        Command::Version => print_out(concat!("mfarole ", env!("CARGO_PKG_VERSION"), "\n")),
        Command::Exec {
            opts,
            profile,
            program,
            args,
        } => {
            let log = Log::new(opts.verbose);
            let got = get_credentials(&opts, &profile, env, &log)?;
            let child = crate::exec::child_env(
                env,
                &got.credentials,
                got.region.as_deref(),
                &profile,
                &got.nesting,
            );
            let program = match program {
                Some(p) => p,
                None => {
                    let shell = shell(env);
                    if std::io::stderr().is_terminal() {
                        eprintln!(
                            "mfarole: starting {} with credentials for '{profile}'{}; exit to return",
                            shell.to_string_lossy(),
                            got.credentials
                                .expiration
                                .map(|e| format!(" (until {})", cache::show_time(e)))
                                .unwrap_or_default()
                        );
                    }
                    shell
                }
            };
            log.verbose(format_args!("exec {}", program.to_string_lossy()));
            Err(crate::exec::exec(&program, &args, child))
        }
        Command::Env {
            opts,
            profile,
            format,
        } => {
            let log = Log::new(opts.verbose);
            let got = get_credentials(&opts, &profile, env, &log)?;
            print_out(&crate::output::render(
                format,
                &got.credentials,
                got.region.as_deref(),
            ))
        }
        Command::List { verbose, names } => {
            let log = Log::new(verbose);
            let config = Config::load(&Files::from_env(env))?;
            if names {
                let mut out = config.names().join("\n");
                out.push('\n');
                return print_out(&out);
            }
            let cache = Cache::open(env, cache::Settings::from_env(env)?, &log);
            print_out(&crate::list::render(&config, env, &cache))
        }
        Command::Clear { profile, verbose } => {
            let log = Log::new(verbose);
            let cache = Cache::open(env, cache::Settings::from_env(env)?, &log);
            let removed = match profile {
                None => cache.clear(None)?,
                Some(p) => {
                    let config = Config::load(&Files::from_env(env))?;
                    let now = OffsetDateTime::now_utc();
                    let plan = resolve(&config, &p, &Options::default(), env, now)?.plan;
                    let keys: Vec<String> =
                        plan.steps.iter().map(|s| s.cache_key.clone()).collect();
                    cache.clear(Some(&keys))?
                }
            };
            log.verbose(format_args!("removed {removed} cached entries"));
            Ok(())
        }
        Command::Completions(shell) => print_out(&crate::output::completions(shell)),
    }
}

fn print_out(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        // `mfarole list | head -1` is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::io("cannot write to stdout", e)),
    }
}

//! Runs a parsed command: the settings stage, credentials from the
//! [`pipeline`](crate::pipeline), then exec or print. This is the only module that prints to
//! stdout, and only for commands whose job is to print (`env`, `list`, `completions`, help).
//! Help, version and completions come before the settings are read, so they cannot fail on a
//! bad variable.

use std::ffi::OsString;
use std::io::{IsTerminal, Write};

use crate::cache::{self, Cache};
use crate::cli::{Command, Format, Named, Options};
use crate::config::Config;
use crate::environ::Environ;
use crate::error::{Error, Result};
use crate::log::Log;
use crate::pipeline::{Run, get_credentials};
use crate::settings::Settings;

/// Runs a parsed command. Returns only when there is no child to exec into (or on error), with
/// the exit status: 0, or the child's under `exec --server`.
pub fn run(cmd: Command, env: &Environ) -> Result<u8> {
    let settings = || Settings::from_env(env);
    match cmd {
        Command::Help(sub) => print_out(&crate::cli::help(sub)).map(|()| 0),
        Command::Version => print_out(&version()).map(|()| 0),
        Command::Completions(shell) => print_out(&crate::output::completions(shell)).map(|()| 0),
        Command::Exec {
            opts,
            profile,
            program,
            args,
        } => {
            let settings = settings()?;
            let profile = profile_of(profile, &settings, &opts, "exec")?;
            exec(&settings, env, &opts, &profile, program, args)
        }
        Command::Env {
            opts,
            profile,
            format,
        } => {
            let printed = settings().and_then(|s| {
                let profile = profile_of(profile, &s, &opts, "env")?;
                print_env(&s, &opts, &profile, format)
            });
            if printed.is_err() && matches!(format, Format::Sh | Format::Fish) {
                // What a shell evaluates must fail too (see `output::FAILED`); a terminal is
                // read by a person, who has the error.
                if !std::io::stdout().is_terminal() {
                    let _ = print_out(crate::output::FAILED);
                }
            }
            printed.map(|()| 0)
        }
        Command::Console {
            opts,
            profile,
            console,
        } => {
            let settings = settings()?;
            let profile = profile_of(profile, &settings, &opts, "console")?;
            let log = Log::new(opts.verbose);
            match crate::console::run(ctx(&opts, &settings, &log), &profile, &console)? {
                Some(url) => print_out(&url).map(|()| 0),
                None => Ok(0),
            }
        }
        Command::List {
            verbose,
            profile,
            names,
            json,
        } => list(&settings()?, verbose, profile, names, json).map(|()| 0),
        Command::Clear { profile, verbose } => clear(&settings()?, profile, verbose).map(|()| 0),
    }
}

/// `mfarole 0.1.0 (static)`: the version, and whether this is the static build (no loader, no
/// library: the release archive and the `.deb`) or the usual dynamic one (`cargo install`), as
/// people paste this line into bug reports.
fn version() -> String {
    let build = if cfg!(target_feature = "crt-static") {
        "static"
    } else {
        "dynamic"
    };
    format!("mfarole {} ({build})\n", env!("CARGO_PKG_VERSION"))
}

fn ctx<'a>(opts: &'a Options, settings: &'a Settings, log: &'a Log) -> Run<'a> {
    Run {
        opts,
        settings,
        log,
    }
}

/// The profile of `exec`, `env` or `console`: the one named on the command line, else the
/// environment's
/// (`AWS_DEFAULT_PROFILE`, else `AWS_PROFILE`, as botocore reads them); `-v` says which.
fn profile_of(
    named: Option<Named>,
    settings: &Settings,
    opts: &Options,
    command: &str,
) -> Result<String> {
    let log = Log::new(opts.verbose);
    if let Some(named) = named {
        let how = if named.flag {
            "--profile"
        } else {
            "the command line"
        };
        log.verbose(format_args!("profile '{}' from {how}", named.name));
        return Ok(named.name);
    }
    let Some(default) = &settings.default_profile else {
        let usage = match command {
            "exec" => "mfarole exec PROFILE -- COMMAND",
            "console" => "mfarole console PROFILE",
            _ => "mfarole env PROFILE",
        };
        return Err(Error::Usage(format!(
            "{command} needs a PROFILE: {usage}, or --profile PROFILE, or AWS_PROFILE set"
        )));
    };
    if let Some(ignored) = &default.ignored {
        log.warn(format_args!(
            "AWS_DEFAULT_PROFILE={} and AWS_PROFILE={ignored} name different profiles; using '{}', as the AWS CLI does (unset one of them)",
            default.name, default.name
        ));
    }
    log.verbose(format_args!(
        "profile '{}' from {} (none on the command line)",
        default.name, default.variable
    ));
    Ok(default.name.clone())
}

/// `env`: credentials, printed in `format`, with the variables `exec` gives a command.
fn print_env(settings: &Settings, opts: &Options, profile: &str, format: Format) -> Result<()> {
    let log = Log::new(opts.verbose);
    let got = get_credentials(ctx(opts, settings, &log), profile)?;
    if format != Format::Process {
        crate::pipeline::say_no_region(ctx(opts, settings, &log), profile, &got);
    }
    // A shell that evaluates this is not nested one deeper, as exec's command is: its
    // environment's profile is replaced, so re-evaluating every hour never reaches the limit.
    let outer = &settings.outer.nesting;
    let mut nesting: Vec<&str> = outer[..outer.len().saturating_sub(1)]
        .iter()
        .map(String::as_str)
        .collect();
    nesting.push(profile);
    let context = crate::output::Context {
        profile,
        nesting: &nesting.join(","),
    };
    print_out(&crate::output::render(
        format,
        &got.credentials,
        got.region.as_deref(),
        &context,
    ))
}

/// `exec`: credentials, then the command replaces mfarole (or, with `--server`, runs as its
/// child served by the local endpoint).
fn exec(
    settings: &Settings,
    env: &Environ,
    opts: &Options,
    profile: &str,
    program: Option<OsString>,
    args: Vec<OsString>,
) -> Result<u8> {
    let log = Log::new(opts.verbose);
    let got = get_credentials(ctx(opts, settings, &log), profile)?;
    crate::pipeline::say_no_region(ctx(opts, settings, &log), profile, &got);
    let shell = || settings.shell.clone().unwrap_or_else(|| "/bin/sh".into());
    if opts.server {
        let program = program.unwrap_or_else(shell);
        return crate::server::run(ctx(opts, settings, &log), profile, got, program, args, env);
    }
    let child = crate::exec::child_env(
        env,
        &got.credentials,
        got.region.as_deref(),
        profile,
        &got.nesting,
    );
    let program = match program {
        Some(p) => p,
        None => {
            let shell = shell();
            if std::io::stderr().is_terminal() {
                let line = format!(
                    "starting {} with credentials for '{profile}'{}; exit to return",
                    shell.to_string_lossy(),
                    got.credentials
                        .expiration
                        .map(|e| format!(" (until {})", cache::show_time(e)))
                        .unwrap_or_default()
                );
                crate::log::say(&line);
            }
            shell
        }
    };
    log.verbose(format_args!("exec {}", program.to_string_lossy()));
    Err(crate::exec::exec(&program, &args, child))
}

fn list(
    settings: &Settings,
    verbose: bool,
    profile: Option<String>,
    names: bool,
    json: bool,
) -> Result<()> {
    let log = Log::new(verbose);
    let config = Config::load(&settings.files)?;
    if names {
        let mut out = config.names().join("\n");
        out.push('\n');
        return print_out(&out);
    }
    if json {
        return print_out(&crate::list::render_json(&config, settings));
    }
    let cache = Cache::open(&settings.cache, &log);
    match profile {
        Some(p) => print_out(&crate::list::render_one(&config, settings, &cache, &p)?),
        None => print_out(&crate::list::render(&config, settings, &cache)),
    }
}

fn clear(settings: &Settings, profile: Option<String>, verbose: bool) -> Result<()> {
    crate::clear::run(settings, profile.as_deref(), &Log::new(verbose))
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

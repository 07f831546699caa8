//! Puts the steps in order: config → chain → plan → cache → STS → credentials, then exec or
//! print. This is the only module that prints to stdout, and only for commands whose job is
//! to print (`env`, `list`, `completions`, help).
//!
//! The cached path is kept short on purpose: with a fresh final step, a run reads two small
//! files and one cache entry, builds no HTTP client and asks nothing.

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::time::SystemTime;

use time::OffsetDateTime;

use crate::cache::{self, Cache};
use crate::cli::{Command, Options};
use crate::config::{Chain, Config, Files};
use crate::creds::Credentials;
use crate::environ::Environ;
use crate::error::{Error, Result};
use crate::log::Log;
use crate::mfa;
use crate::plan::{self, Action, Plan};
use crate::sts::{self, Client, Endpoint, NetConfig};

/// How deep `mfarole exec` may nest inside another mfarole environment.
pub const MAX_NESTING: usize = 4;

/// Runs a parsed command. Returns only when there is no child to exec into (or on error).
pub fn run(cmd: Command, env: &Environ) -> Result<()> {
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
                    let shell = env
                        .path("SHELL")
                        .map(OsString::from)
                        .unwrap_or_else(|| "/bin/sh".into());
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

/// Credentials for a run, and what the child's environment needs besides them.
pub struct Got {
    pub credentials: Credentials,
    pub region: Option<String>,
    /// The nesting list for the child (`MFAROLE_NESTING`).
    pub nesting: String,
}

/// A profile made ready to run: no network, no cache.
pub(crate) struct Resolved {
    pub chain: Chain,
    pub plan: Plan,
    pub endpoint: Endpoint,
    /// `--region`, `AWS_REGION`, `AWS_DEFAULT_REGION`, then the profile chain's.
    pub region: Option<String>,
}

/// Profile → chain, region, endpoint and plan. `now` dates the default session name.
pub(crate) fn resolve(
    config: &Config,
    profile: &str,
    opts: &Options,
    env: &Environ,
    now: OffsetDateTime,
) -> Result<Resolved> {
    let chain = config.resolve(profile, env)?;
    let region = opts
        .region
        .clone()
        .or_else(|| env.get("AWS_REGION").map(str::to_string))
        .or_else(|| env.get("AWS_DEFAULT_REGION").map(str::to_string))
        .or_else(|| chain.region.clone());
    let endpoint = Endpoint::resolve(env, chain.endpoint_url.as_deref(), region.as_deref())?;
    let user = env.get("LOGNAME").or_else(|| env.get("USER"));
    let plan = plan::plan(
        &chain,
        &plan::Options {
            duration: opts.duration,
            no_session: opts.no_session,
        },
        &endpoint.key(),
        &plan::default_session_name(user, now),
    )?;
    Ok(Resolved {
        chain,
        plan,
        endpoint,
        region,
    })
}

/// Refuses loops and deep nesting of mfarole inside mfarole; returns the child's list.
fn check_nesting(profile: &str, env: &Environ) -> Result<String> {
    let outer: Vec<&str> = env
        .get("MFAROLE_NESTING")
        .map(|n| n.split(',').filter(|p| !p.is_empty()).collect())
        .unwrap_or_default();
    if outer.contains(&profile) {
        return Err(Error::Setting(format!(
            "already inside an mfarole environment for '{profile}' ({}); exit it first",
            outer.join(" > ")
        )));
    }
    if outer.len() >= MAX_NESTING {
        return Err(Error::Setting(format!(
            "mfarole environments are nested {} deep ({}); exit some first",
            outer.len(),
            outer.join(" > ")
        )));
    }
    let mut list = outer;
    list.push(profile);
    Ok(list.join(","))
}

/// The heart of `exec` and `env`: credentials for `profile`, from the cache where fresh, else
/// from STS, resuming the plan after its last fresh cached step.
pub fn get_credentials(opts: &Options, profile: &str, env: &Environ, log: &Log) -> Result<Got> {
    let started = SystemTime::now();
    let nesting = check_nesting(profile, env)?;
    let config = Config::load(&Files::from_env(env))?;
    let now = OffsetDateTime::now_utc();
    let Resolved {
        chain,
        plan,
        endpoint,
        region,
    } = resolve(&config, profile, opts, env, now)?;
    // Inside an mfarole environment the inherited AWS_* keys are the parent's temporary
    // credentials, not a source: refuse to build on them.
    if chain.source.from_environment && env.get("MFAROLE_PROFILE").is_some() {
        return Err(Error::profile(
            &chain.source.profile,
            "uses credential_source = Environment, but the environment holds the temporary credentials of the mfarole that runs this; run it outside mfarole",
        ));
    }
    log.verbose(format_args!(
        "profile '{profile}': source '{}' (key {}){}, endpoint {} ({}), region {}",
        chain.source.profile,
        chain.source.credentials.masked_id(),
        if chain.source.from_environment {
            " from the environment"
        } else {
            ""
        },
        endpoint.url,
        endpoint.origin,
        region.as_deref().unwrap_or("none")
    ));
    if let Some(why) = &plan.passthrough {
        log.verbose(format_args!("{why}"));
        return Ok(Got {
            credentials: chain.source.credentials.clone(),
            region,
            nesting,
        });
    }
    for (i, step) in plan.steps.iter().enumerate() {
        log.verbose(format_args!(
            "plan {}: {}{}{} — {}",
            i + 1,
            step_name(&chain, &step.action),
            if step.mfa { " with MFA" } else { "" },
            step.duration
                .map(|d| format!(" for {}", plan::show_duration(d)))
                .unwrap_or_default(),
            step.reason
        ));
    }
    let cache = Cache::open(env, cache::Settings::from_env(env)?, log);

    // Resume after the last fresh cached step.
    let mut start = 0;
    let mut current = chain.source.credentials.clone();
    if opts.refresh {
        log.verbose(format_args!("--refresh: not using cached credentials"));
    } else {
        for (i, step) in plan.steps.iter().enumerate().rev() {
            if let Some(hit) = cache.get_fresh(&step.cache_key, now, None) {
                log.verbose(format_args!(
                    "step {} ({}) from the cache, valid until {}",
                    i + 1,
                    step_name(&chain, &step.action),
                    hit.credentials
                        .expiration
                        .map(cache::show_time)
                        .unwrap_or_default()
                ));
                start = i + 1;
                current = hit.credentials;
                break;
            }
        }
    }
    if start == plan.steps.len() {
        return Ok(Got {
            credentials: current,
            region,
            nesting,
        });
    }

    let client = Client::new(endpoint, NetConfig::from_env(env)?, log)?;
    let process_timeout = match env.get("MFAROLE_MFA_PROCESS_TIMEOUT") {
        None => std::time::Duration::from_secs(60),
        Some(v) => plan::parse_duration(v)
            .filter(|&s| s > 0)
            .map(|s| std::time::Duration::from_secs(u64::from(s)))
            .ok_or_else(|| {
                Error::Setting(format!(
                    "MFAROLE_MFA_PROCESS_TIMEOUT={} is not a duration like 30s or 2m; fix or unset it",
                    crate::error::clean(v, 20)
                ))
            })?,
    };
    for (i, step) in plan.steps.iter().enumerate().skip(start) {
        let lock = cache.lock(&step.cache_key)?;
        // Whoever held the lock may have just done this step for us. Under --refresh only an
        // entry written since this run started counts.
        let since = opts.refresh.then_some(started);
        // The clock again on purpose: waiting for the lock may have taken minutes.
        if let Some(hit) = cache.get_fresh(&step.cache_key, OffsetDateTime::now_utc(), since) {
            log.verbose(format_args!(
                "step {} was just done by another mfarole: using its result",
                i + 1
            ));
            current = hit.credentials;
            continue;
        }
        if lock.as_ref().is_some_and(|l| l.waited)
            && let Some(failure) = cache.failed_since(&step.cache_key, started)
        {
            // The run we waited for failed (STS down, a rejected code, Ctrl-C at its prompt):
            // fail the same way now rather than replay its prompt or its retries.
            return Err(failure);
        }
        let issued = match run_step(&client, &chain, step, &current, opts, process_timeout) {
            Ok(issued) => issued,
            Err(e) => {
                cache.mark_failed(&step.cache_key, &e);
                return Err(e);
            }
        };
        log.verbose(format_args!(
            "step {} done: key {}{}, valid until {}",
            i + 1,
            issued.credentials.masked_id(),
            issued
                .arn
                .as_deref()
                .map(|a| format!(" ({a})"))
                .unwrap_or_default(),
            issued
                .credentials
                .expiration
                .map(cache::show_time)
                .unwrap_or_default()
        ));
        cache.put(&step.cache_key, &issued);
        current = issued.credentials;
    }
    Ok(Got {
        credentials: current,
        region,
        nesting,
    })
}

fn step_name(chain: &Chain, action: &Action) -> String {
    match action {
        Action::GetSessionToken => "GetSessionToken".to_string(),
        Action::AssumeRole(i) => format!("AssumeRole {}", chain.hops[*i].role_arn),
    }
}

/// How many times a typed code is asked for when STS rejects it.
const PROMPT_ATTEMPTS: u32 = 3;

/// One STS call, with the MFA code when the step needs one; typed codes that STS rejects are
/// asked for again, up to three times in all.
fn run_step(
    client: &Client,
    chain: &Chain,
    step: &plan::Step,
    creds: &Credentials,
    opts: &Options,
    process_timeout: std::time::Duration,
) -> Result<crate::creds::Issued> {
    let mut params: Vec<(&'static str, String)> = Vec::new();
    let profile = match &step.action {
        Action::GetSessionToken => chain.source.profile.clone(),
        Action::AssumeRole(i) => {
            let hop = &chain.hops[*i];
            params.push(("RoleArn", hop.role_arn.clone()));
            params.push((
                "RoleSessionName",
                step.session_name.clone().unwrap_or_default(),
            ));
            if let Some(ext) = &hop.external_id {
                params.push(("ExternalId", ext.clone()));
            }
            hop.profile.clone()
        }
    };
    if let Some(d) = step.duration {
        params.push(("DurationSeconds", d.to_string()));
    }
    let device = match (&chain.mfa, step.mfa) {
        (Some(device), true) => device,
        _ => {
            return client.call(&sts::Request {
                action: step.action.name(),
                profile: &profile,
                params,
                credentials: creds,
                carries_mfa: false,
            });
        }
    };
    let source = mfa::Source {
        device,
        flag: opts.mfa_token.as_deref(),
        process_timeout,
    };
    let mut again: Option<String> = None;
    let mut attempt = 1;
    loop {
        let code = match source.get(again.as_deref()) {
            Ok(code) => code,
            Err(Error::Mfa(why))
                if source.origin() == mfa::Origin::Prompt
                    && attempt < PROMPT_ATTEMPTS
                    && why.starts_with("what was typed") =>
            {
                again = Some(format!(
                    "{why}; try again ({}/{PROMPT_ATTEMPTS})",
                    attempt + 1
                ));
                attempt += 1;
                continue;
            }
            Err(e) => return Err(e),
        };
        let mut with_code = params.clone();
        with_code.push(("SerialNumber", device.serial.clone()));
        with_code.push(("TokenCode", code.as_str().to_string()));
        let result = client.call(&sts::Request {
            action: step.action.name(),
            profile: &profile,
            params: with_code,
            credentials: creds,
            carries_mfa: true,
        });
        match result {
            Err(Error::Sts(ref f))
                if source.origin() == mfa::Origin::Prompt
                    && attempt < PROMPT_ATTEMPTS
                    && f.code == "AccessDenied"
                    && f.message.to_ascii_lowercase().contains("mfa") =>
            {
                again = Some(format!(
                    "STS rejected the code ({}); enter the next code ({}/{PROMPT_ATTEMPTS})",
                    crate::error::clean(&f.message, 120),
                    attempt + 1
                ));
                attempt += 1;
            }
            other => return other,
        }
    }
}

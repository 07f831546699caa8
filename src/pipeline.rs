//! The credential pipeline: profile → chain → plan → cache → STS → credentials. It resolves a
//! profile (no network), then resumes the plan after its last fresh cached step, taking each
//! step's lock so that parallel runs share one call and one prompt, and shares a holder's
//! failure with the runs that waited for it. It prints nothing but `--verbose` lines.
//!
//! The cached path is kept short on purpose: with a fresh final step, a run reads two small
//! files and one cache entry, builds no HTTP client and asks nothing.

use std::time::SystemTime;

use time::OffsetDateTime;

use crate::cache::{self, Cache};
use crate::cli::Options;
use crate::config::{Chain, Config, Files, SourceKind};
use crate::creds::Credentials;
use crate::environ::Environ;
use crate::error::{Error, Result};
use crate::log::Log;
use crate::mfa;
use crate::plan::{self, Action, Plan};
use crate::sts::{self, Client, Endpoint, NetConfig};
use crate::units;

/// How deep `mfarole exec` may nest inside another mfarole environment.
pub const MAX_NESTING: usize = 4;

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
    let region = requested_region(opts, env).or_else(|| chain.region.clone());
    let endpoint = Endpoint::resolve(env, chain.endpoint_url.as_deref(), region.as_deref())?;
    let user = env.get("LOGNAME").or_else(|| env.get("USER"));
    let plan = plan::plan(
        &chain,
        &plan::Options {
            duration: opts.duration,
            no_session: opts.no_session,
        },
        &endpoint.key(),
        &units::default_session_name(user, now),
    )?;
    Ok(Resolved {
        chain,
        plan,
        endpoint,
        region,
    })
}

/// The region asked for outside the config: `--region`, `AWS_REGION`, `AWS_DEFAULT_REGION`.
fn requested_region(opts: &Options, env: &Environ) -> Option<String> {
    opts.region
        .clone()
        .or_else(|| env.get("AWS_REGION").map(str::to_string))
        .or_else(|| env.get("AWS_DEFAULT_REGION").map(str::to_string))
}

/// Refuses loops and deep nesting of mfarole inside mfarole; returns the child's list.
fn check_nesting(profile: &str, env: &Environ) -> Result<String> {
    let outer: Vec<&str> = env
        .get("MFAROLE_NESTING")
        .map(|n| n.split(',').filter(|p| !p.is_empty()).collect())
        .unwrap_or_default();
    // The same profile directly inside itself (a Makefile run from `mfarole exec P` whose
    // targets run `mfarole exec P -- ...`) is fine: it only counts toward the depth limit. A
    // profile met again further out is a loop.
    let same = outer.last() == Some(&profile);
    if !same && outer.contains(&profile) {
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

/// Inside an mfarole environment for the same profile, the credentials it holds, when they
/// are still fresh and nothing on the command line asks for others: no file, no cache, no
/// STS call and no prompt.
fn inherited(
    opts: &Options,
    profile: &str,
    env: &Environ,
    margin: std::time::Duration,
) -> Option<Credentials> {
    if env.get("MFAROLE_PROFILE") != Some(profile)
        || opts.refresh
        || opts.duration.is_some()
        || opts.no_session
    {
        return None;
    }
    let expiration = env.get("AWS_CREDENTIAL_EXPIRATION").and_then(|e| {
        OffsetDateTime::parse(e, &time::format_description::well_known::Rfc3339).ok()
    })?;
    if expiration - margin <= OffsetDateTime::now_utc() {
        return None;
    }
    let credentials = Credentials {
        access_key_id: env.get("AWS_ACCESS_KEY_ID")?.to_string(),
        secret_access_key: env.get("AWS_SECRET_ACCESS_KEY")?.to_string(),
        session_token: Some(env.get("AWS_SESSION_TOKEN")?.to_string()),
        expiration: Some(expiration),
    };
    credentials.bad_part().is_none().then_some(credentials)
}

/// The heart of `exec` and `env`: credentials for `profile`, from the cache where fresh, else
/// from STS, resuming the plan after its last fresh cached step.
pub fn get_credentials(opts: &Options, profile: &str, env: &Environ, log: &Log) -> Result<Got> {
    get_credentials_fresh_for(opts, profile, env, log, None)
}

/// [`get_credentials`], where cached credentials count as fresh only if they stay valid for
/// `margin` more (when that is longer than the usual margin): how `exec --server` renews well
/// before the SDKs' own refresh windows.
pub fn get_credentials_fresh_for(
    opts: &Options,
    profile: &str,
    env: &Environ,
    log: &Log,
    margin: Option<std::time::Duration>,
) -> Result<Got> {
    let started = SystemTime::now();
    if env
        .get(crate::source::RUNNING)
        .is_some_and(|running| running.split(',').any(|p| p == profile))
    {
        return Err(Error::profile(
            profile,
            "its credential_process runs mfarole for this same profile, which would never end; point credential_process at the secret store itself",
        ));
    }
    let nesting = check_nesting(profile, env)?;
    let mut settings = cache::Settings::from_env(env)?;
    if let Some(m) = margin {
        settings.margin = settings.margin.max(m);
    }
    if let Some(credentials) = inherited(opts, profile, env, settings.margin) {
        log.verbose(format_args!(
            "inside an mfarole environment for '{profile}' whose credentials are fresh: using them"
        ));
        let region = requested_region(opts, env);
        return Ok(Got {
            credentials,
            region,
            nesting,
        });
    }
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
    if chain.source.is_environment() && env.get("MFAROLE_PROFILE").is_some() {
        return Err(Error::profile(
            &chain.source.profile,
            "uses credential_source = Environment, but the environment holds the temporary credentials of the mfarole that runs this; run it outside mfarole",
        ));
    }
    log.verbose(format_args!(
        "profile '{profile}': source '{}' ({}{}), endpoint {} ({}), region {}",
        chain.source.profile,
        chain.source.kind.describe(),
        chain
            .source
            .kind
            .known()
            .map(|c| format!(", key {}", c.masked_id()))
            .unwrap_or_default(),
        endpoint.url,
        endpoint.origin,
        region.as_deref().unwrap_or("none")
    ));
    if let (Some(why), Some(known)) = (&plan.passthrough, chain.source.kind.known()) {
        log.verbose(format_args!("{why}"));
        return Ok(Got {
            credentials: known.clone(),
            region,
            nesting,
        });
    }
    for (i, step) in plan.steps.iter().enumerate() {
        log.verbose(format_args!(
            "plan {}: {}{}{} — {}",
            i + 1,
            step.action.describe(),
            if step.mfa { " with MFA" } else { "" },
            step.duration
                .map(|d| format!(" for {}", units::show_duration(d)))
                .unwrap_or_default(),
            step.reason
        ));
    }
    let cache = Cache::open(env, settings, log);

    // Resume after the last fresh cached step.
    let mut start = 0;
    let mut current = chain.source.kind.known().cloned();
    if opts.refresh {
        log.verbose(format_args!("--refresh: not using cached credentials"));
    } else {
        for (i, step) in plan.steps.iter().enumerate().rev() {
            if let Some(hit) = cache.get_fresh(&step.cache_key, now, None) {
                log.verbose(format_args!(
                    "step {} ({}) from the cache, valid until {}",
                    i + 1,
                    step.action.describe(),
                    hit.credentials
                        .expiration
                        .map(cache::show_time)
                        .unwrap_or_default()
                ));
                start = i + 1;
                current = Some(hit.credentials);
                break;
            }
        }
    }
    if start == plan.steps.len()
        && let Some(credentials) = current
    {
        return Ok(Got {
            credentials,
            region,
            nesting,
        });
    }

    let client = Client::new(endpoint, NetConfig::from_env(env)?, log)?;
    let process_timeout = match env.get("MFAROLE_MFA_PROCESS_TIMEOUT") {
        None => std::time::Duration::from_secs(60),
        Some(v) => units::parse_duration(v)
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
            current = Some(hit.credentials);
            continue;
        }
        if lock.as_ref().is_some_and(|l| l.waited)
            && let Some(failure) = cache.failed_since(&step.cache_key, started)
        {
            // The run we waited for failed (STS down, a rejected code, Ctrl-C at its prompt):
            // fail the same way now rather than replay its prompt or its retries.
            return Err(failure);
        }
        let ctx = StepContext {
            client: &client,
            chain: &chain,
            opts,
            env,
            cache: &cache,
            log,
            process_timeout,
        };
        let issued = match run_step(&ctx, step, current.as_ref()) {
            Ok(issued) => issued,
            Err(e) => {
                cache.mark_failed(&step.cache_key, &e);
                return Err(e);
            }
        };
        log.verbose(format_args!(
            "step {} done: key {}{}{}",
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
                .map(|e| format!(", valid until {}", cache::show_time(e)))
                .unwrap_or_else(|| ", long-term".to_string())
        ));
        if issued.credentials.expiration.is_some() {
            cache.put(&step.cache_key, &issued);
        } else {
            // Long-term keys (from a credential_process) are never written to disk.
            log.verbose(format_args!("step {} not cached: long-term keys", i + 1));
        }
        current = Some(issued.credentials);
    }
    let credentials = current.expect("a plan whose source is fetched has a first step");
    Ok(Got {
        credentials,
        region,
        nesting,
    })
}

/// What every step may need besides its own call.
struct StepContext<'a> {
    client: &'a Client<'a>,
    chain: &'a Chain,
    opts: &'a Options,
    env: &'a Environ,
    cache: &'a Cache<'a>,
    log: &'a Log,
    process_timeout: std::time::Duration,
}

/// How many times a typed code is asked for when STS rejects it.
const PROMPT_ATTEMPTS: u32 = 3;

/// One STS call, with the MFA code when the step needs one; typed codes that STS rejects are
/// asked for again, up to three times in all.
fn run_step(
    ctx: &StepContext,
    step: &plan::Step,
    creds: Option<&Credentials>,
) -> Result<crate::creds::Issued> {
    let (client, chain, opts) = (ctx.client, ctx.chain, ctx.opts);
    if let Action::Fetch { profile, kind } = &step.action {
        return match kind {
            SourceKind::WebIdentity(w) => web_identity(client, profile, w, step),
            kind => crate::source::fetch(
                profile,
                kind,
                ctx.env,
                ctx.cache,
                ctx.process_timeout,
                ctx.log,
            ),
        };
    }
    let creds = creds.expect("a fetch step comes before the first call");
    if matches!(step.action, Action::GetSessionToken { .. }) && !creds.is_long_term() {
        return Err(Error::profile(
            step.action.profile(),
            "its credential_process gave temporary credentials (a session token), which cannot call GetSessionToken for mfa_serial; have it give the long-term keys, or remove mfa_serial",
        ));
    }
    let mut params: Vec<(&'static str, String)> = Vec::new();
    let profile = step.action.profile().to_string();
    if let Action::AssumeRole(call) = &step.action {
        params.push(("RoleArn", call.role_arn.clone()));
        params.push((
            "RoleSessionName",
            step.session_name.clone().unwrap_or_default(),
        ));
        if let Some(ext) = &call.external_id {
            params.push(("ExternalId", ext.clone()));
        }
    }
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
                credentials: Some(creds),
                carries_mfa: false,
            });
        }
    };
    let source = mfa::Source {
        device,
        flag: opts.mfa_token.as_deref(),
        process_timeout: ctx.process_timeout,
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
            credentials: Some(creds),
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

/// AssumeRoleWithWebIdentity: the token file read now (it is rotated by whoever writes it),
/// sent unsigned.
fn web_identity(
    client: &Client,
    profile: &str,
    w: &crate::config::WebIdentity,
    step: &plan::Step,
) -> Result<crate::creds::Issued> {
    let token = std::fs::read_to_string(&w.token_file).map_err(|e| Error::Source {
        profile: profile.to_string(),
        what: "web identity token file",
        message: format!(
            "{} cannot be read: {}",
            w.token_file.display(),
            crate::error::io_text(&e)
        ),
    })?;
    let token = token.trim();
    if token.is_empty() {
        return Err(Error::Source {
            profile: profile.to_string(),
            what: "web identity token file",
            message: format!("{} is empty", w.token_file.display()),
        });
    }
    client.call(&sts::Request {
        action: "AssumeRoleWithWebIdentity",
        profile,
        params: vec![
            ("RoleArn", w.role_arn.clone()),
            (
                "RoleSessionName",
                step.session_name.clone().unwrap_or_default(),
            ),
            ("WebIdentityToken", token.to_string()),
        ],
        credentials: None,
        carries_mfa: false,
    })
}

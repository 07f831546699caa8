//! The credential pipeline: profile → chain → plan → cache → steps → credentials, in three
//! parts that read top to bottom in [`get_credentials_fresh_for`]:
//!
//! 1. preflight: the guards (a `credential_process` that is this same run, nesting), and the
//!    fresh credentials of an mfarole environment for the same profile;
//! 2. resolve: the files, the chain, the endpoint and the plan (no network, no cache);
//! 3. [`execute`]: resume the plan after its last fresh cached step, then run each remaining
//!    step under its lock, so that parallel runs share one call and one prompt, sharing a
//!    holder's failure with the runs that waited for it.
//!
//! It prints nothing but `--verbose` lines. The cached path is kept short on purpose: with a
//! fresh final step, a run reads two small files and one cache entry, builds no HTTP client
//! and asks nothing.

use std::time::{Duration, SystemTime};

use time::OffsetDateTime;

use crate::cache::{self, Cache};
pub use crate::resolve::Run;
use crate::resolve::{Resolved, requested_region, resolve};

use crate::config::Config;
use crate::creds::{Credentials, Issued, account_of_arn};
use crate::error::{Error, Result};
use crate::log::Log;
use crate::mfa::CodeSource;
use crate::plan::{Action, Plan, Step};
use crate::settings::{CacheSettings, Settings};
use crate::sts::{self, Client};
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

/// Says once, on stderr, that the command will get no region, and where one can be set: the
/// AWS CLI would fail later with "You must specify a region". For `exec` and `env` (not
/// `env --format process`, whose caller has a region of its own, nor `list`).
pub fn say_no_region(run: Run, profile: &str, got: &Got) {
    if got.region.is_some() {
        return;
    }
    let section = match profile {
        "default" => "[default]".to_string(),
        p => format!("[profile {p}]"),
    };
    let file = &run.settings.files.config;
    let file = match file.as_os_str().is_empty() {
        true => "a config file (AWS_CONFIG_FILE is empty)".to_string(),
        false => file.display().to_string(),
    };
    run.log.warn(format_args!(
        "no region for '{profile}', so the command gets no AWS_REGION and most AWS commands will fail; add region = REGION to {section} in {file}, or pass --region or set AWS_REGION",
    ));
}

/// The heart of `exec` and `env`: credentials for `profile`, from the cache where fresh, else
/// from STS, resuming the plan after its last fresh cached step.
pub fn get_credentials(run: Run, profile: &str) -> Result<Got> {
    get_credentials_fresh_for(run, profile, None)
}

/// A look at the source's credentials once they are known (given, fetched, or a fetch from the
/// cache), before any STS call is signed with them; an `Err` stops the run there.
pub type SeeSource<'a> = &'a dyn Fn(&Credentials) -> Result<()>;

/// [`get_credentials`], walking the plan from its first step (each step still from the cache
/// where fresh) so that the source's credentials are always known, and handing them to `see`
/// before the step after the source. For `console`, where what a `credential_process` gave
/// (long-term keys or a session) decides what `-d` means, and only its output tells. The
/// cost: such a process runs even when the role after it is cached. Never the credentials of
/// an outer mfarole environment, which do not show the source.
pub fn get_credentials_seeing_source(run: Run, profile: &str, see: SeeSource) -> Result<Got> {
    get_credentials_with(run, profile, None, Some(see))
}

/// [`get_credentials`], where cached credentials count as fresh only if they stay valid for
/// `margin` more (when that is longer than the usual margin): how `exec --server` renews well
/// before the SDKs' own refresh windows.
pub fn get_credentials_fresh_for(run: Run, profile: &str, margin: Option<Duration>) -> Result<Got> {
    get_credentials_with(run, profile, margin, None)
}

fn get_credentials_with(
    run: Run,
    profile: &str,
    margin: Option<Duration>,
    see: Option<SeeSource>,
) -> Result<Got> {
    let started = SystemTime::now();
    let nesting = preflight(run.settings, profile)?;
    let mut cache_settings = run.settings.cache.clone();
    cache_settings.margin = cache_settings.margin.max(margin.unwrap_or_default());
    let outer = match see {
        Some(_) => None,
        None => inherited(run, profile, cache_settings.margin),
    };
    if let Some(credentials) = outer {
        run.log.verbose(format_args!(
            "inside an mfarole environment for '{profile}' whose credentials are fresh: using them{}",
            match run.opts.mfa_token {
                Some(_) => " (--mfa-token is not used)",
                None => "",
            }
        ));
        let region = requested_region(run.opts, run.settings);
        return Ok(Got {
            credentials,
            region,
            nesting,
        });
    }
    let config = Config::load(&run.settings.files)?;
    if run.log.is_verbose() {
        run.log
            .verbose(format_args!("config files: {}", config.files_note()));
    }
    let resolved = resolve(
        &config,
        profile,
        run.opts,
        run.settings,
        OffsetDateTime::now_utc(),
    )?;
    let chain = &resolved.chain;
    for note in &chain.notes {
        run.log.warn(format_args!("{note}"));
    }
    crate::advice::say_unused_attribute_vars(run, &resolved);
    chain.source.check(&chain.source_profile, run.settings)?;
    log_plan(run.log, profile, &resolved);
    crate::advice::say_code_not_needed(run, &resolved);
    let known = chain.source.known().cloned();
    if let (Some(see), Some(known)) = (see, &known) {
        see(known)?;
    }
    let resume = Resume {
        refresh: run.opts.refresh,
        started,
        see,
    };
    let credentials = match (&resolved.plan.passthrough, known) {
        (Some(why), Some(known)) => {
            run.log.verbose(format_args!("{why}"));
            known
        }
        (_, known) => run_plan(run, &resolved, known, &cache_settings, resume)?,
    };
    Ok(Got {
        credentials,
        region: resolved.region,
        nesting,
    })
}

/// Runs the plan with the cache: each step under its lock, its failure explained
/// ([`crate::advice`]). Says why a new MFA code is needed when an MFA session is cached, and
/// under `-v` that `--mfa-token` went unused when the step with MFA came from the cache.
fn run_plan(
    run: Run,
    resolved: &Resolved,
    known: Option<Credentials>,
    cache_settings: &CacheSettings,
    resume: Resume,
) -> Result<Credentials> {
    let cache = Cache::open(cache_settings, run.log);
    let mut client = None;
    let code_step_ran = std::cell::Cell::new(false);
    let mut step = |step: &Step, creds: Option<&Credentials>| {
        if step.mfa.is_some() {
            code_step_ran.set(true);
            crate::advice::say_why_new_code(run, resolved, &cache, step);
        }
        let client = match &client {
            Some(c) => c,
            None => client.insert(Client::new(
                resolved.endpoint.clone(),
                &run.settings.net,
                run.log,
            )?),
        };
        run_step(run, resolved, &cache, client, step, creds).map_err(|e| {
            let failed = crate::advice::Failed {
                chain: &resolved.chain,
                step,
                signed_with: creds,
                asked: run.opts.duration,
            };
            crate::advice::explain(e, &failed)
        })
    };
    let clock = OffsetDateTime::now_utc;
    let credentials = execute(
        &resolved.plan,
        known,
        &cache,
        &clock,
        resume,
        &mut step,
        run.log,
    )?;
    if !code_step_ran.get() {
        crate::advice::say_code_unused(run, &resolved.plan);
    }
    Ok(credentials)
}

/// The guards that come before any file is read: a `credential_process` that runs mfarole
/// for this same profile, and nesting of mfarole environments. Returns the child's nesting
/// list.
fn preflight(settings: &Settings, profile: &str) -> Result<String> {
    if settings
        .outer
        .running_processes
        .iter()
        .any(|p| p == profile)
    {
        return Err(Error::profile(
            profile,
            "its credential_process runs mfarole for this same profile, which would never end; point credential_process at the secret store itself",
        ));
    }
    check_nesting(profile, &settings.outer.nesting)
}

/// Refuses loops and deep nesting of mfarole inside mfarole; returns the child's list.
fn check_nesting(profile: &str, outer: &[String]) -> Result<String> {
    // The same profile directly inside itself (a Makefile run from `mfarole exec P` whose
    // targets run `mfarole exec P -- ...`) is fine: it only counts toward the depth limit. A
    // profile met again further out is a loop.
    let same = outer.last().is_some_and(|p| p == profile);
    if !same && outer.iter().any(|p| p == profile) {
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
    let mut list = outer.to_vec();
    list.push(profile.to_string());
    Ok(list.join(","))
}

/// Inside an mfarole environment for the same profile, the credentials it holds, when they
/// are still fresh and nothing on the command line asks for others: no file, no cache, no
/// STS call and no prompt.
fn inherited(run: Run, profile: &str, margin: Duration) -> Option<Credentials> {
    let (opts, settings) = (run.opts, run.settings);
    if settings.outer.profile.as_deref() != Some(profile)
        || opts.refresh
        || opts.duration.is_some()
        || opts.no_session
    {
        return None;
    }
    let expiration = settings.outer.expiration.as_deref().and_then(|e| {
        OffsetDateTime::parse(e, &time::format_description::well_known::Rfc3339).ok()
    })?;
    if expiration - margin <= OffsetDateTime::now_utc() {
        return None;
    }
    let keys = &settings.environment;
    let credentials = Credentials {
        access_key_id: keys.access_key_id.clone()?,
        secret_access_key: keys.secret_access_key.clone()?,
        session_token: Some(keys.session_token.clone()?),
        expiration: Some(expiration),
        account_id: keys.account_id.clone(),
    };
    credentials.bad_part().is_none().then_some(credentials)
}

/// `-v`: where the credentials come from, and the plan, step by step.
fn log_plan(log: &Log, profile: &str, resolved: &Resolved) {
    if !log.is_verbose() {
        return;
    }
    let (chain, endpoint) = (&resolved.chain, &resolved.endpoint);
    log.verbose(format_args!(
        "profile '{profile}': source '{}' ({}{}), endpoint {} ({}), region {}",
        chain.source_profile,
        chain.source.kind(),
        chain
            .source
            .known()
            .map(|c| format!(", key {}", c.masked_id()))
            .unwrap_or_default(),
        endpoint.url,
        endpoint.origin,
        resolved.region.as_deref().unwrap_or("none")
    ));
    for (i, step) in resolved.plan.steps.iter().enumerate() {
        log.verbose(format_args!(
            "plan {}: {}{}{} — {}",
            i + 1,
            step.action.describe(),
            if step.mfa.is_some() { " with MFA" } else { "" },
            step.duration
                .map(|d| format!(" for {}", units::show_duration(d)))
                .unwrap_or_default(),
            step.reason
        ));
    }
}

/// How a run treats what the cache holds.
#[derive(Clone, Copy)]
struct Resume<'a> {
    /// `--refresh`: nothing cached before this run counts.
    refresh: bool,
    /// When this run started: under `--refresh`, an entry written since (by a parallel run)
    /// counts, and a failure marked since is shared.
    started: SystemTime,
    /// [`get_credentials_seeing_source`]: walk from the first step, and show the fetched
    /// source's credentials to this before the next step.
    see: Option<SeeSource<'a>>,
}

/// Runs `plan` with the cache: resumes after the last fresh cached step, then runs each
/// remaining step under its lock, checking again once the lock is held (whoever held it may
/// have just done the step), and sharing the failure of a holder it waited for. `known`: the
/// source's credentials when they need no step. `clock` is read for each freshness check
/// (waiting for a lock may take minutes).
fn execute(
    plan: &Plan,
    known: Option<Credentials>,
    cache: &Cache,
    clock: &dyn Fn() -> OffsetDateTime,
    resume: Resume,
    run_step: &mut dyn FnMut(&Step, Option<&Credentials>) -> Result<Issued>,
    log: &Log,
) -> Result<Credentials> {
    let (start, mut current) = match (resume.refresh, resume.see) {
        (true, _) => {
            log.verbose(format_args!("--refresh: not using cached credentials"));
            (0, known)
        }
        (false, Some(_)) => (0, known),
        (false, None) => resume_point(plan, cache, clock()).unwrap_or((0, known)),
    };
    // The step whose cached credentials sign the next request, if they came from the cache.
    let mut signer_cached = start.checked_sub(1);
    for (i, step) in plan.steps.iter().enumerate().skip(start) {
        let lock = lock_step(cache, step)?;
        let since = resume.refresh.then_some(resume.started);
        // Resuming, `resume_point` has looked at this step already and said why it is stale.
        let again = resume.see.is_none() && !resume.refresh;
        let hit = match again {
            true => cache.get_fresh_again(&step.cache_key, clock(), since),
            false => cache.get_fresh(&step.cache_key, clock(), since),
        };
        if let Some(hit) = hit {
            // Walking from the start, a hit is the cache's; resuming, another run's.
            match resume.see {
                Some(_) => log.verbose(format_args!(
                    "step {} ({}) from the cache",
                    i + 1,
                    step.action.describe()
                )),
                None => log.verbose(format_args!(
                    "step {} was just done by another mfarole: using its result",
                    i + 1
                )),
            }
            let mut credentials = hit.credentials;
            fill_account(step, current.as_ref(), &mut credentials);
            see_source(resume, step, &credentials)?;
            current = Some(credentials);
            signer_cached = Some(i);
            continue;
        }
        if lock.as_ref().is_some_and(|l| l.waited)
            && let Some(failure) = cache.failed_since(&step.cache_key, resume.started)
        {
            // The run we waited for failed (STS down, a rejected code, Ctrl-C at its prompt):
            // fail the same way now rather than replay its prompt or its retries.
            return Err(failure);
        }
        let mut issued = run_step(step, current.as_ref()).map_err(|e| {
            let e = drop_refused_session(e, signer_cached.map(|p| &plan.steps[p]), cache);
            cache.mark_failed(&step.cache_key, &e);
            e
        })?;
        signer_cached = None;
        fill_account(step, current.as_ref(), &mut issued.credentials);
        log_done(log, i, &issued);
        keep(cache, log, i, step, &issued);
        see_source(resume, step, &issued.credentials)?;
        current = Some(issued.credentials);
    }
    // By construction: a source that is not known has a fetch step.
    Ok(current.expect("a plan whose source is fetched has a first step"))
}

/// Takes `step`'s lock, waiting for a run that holds it. A source whose own file is its cache
/// locks that file itself, and only when it must refresh: waiting here would queue runs that
/// hold usable credentials. Giving up on a step that needs an MFA code says that the holder
/// may be at its prompt.
fn lock_step(cache: &Cache, step: &Step) -> Result<Option<crate::cache::Lock>> {
    match &step.action {
        Action::Fetch { source, .. } if !source.cached() => Ok(None),
        _ => cache.lock(&step.cache_key).map_err(|e| match e {
            Error::LockTimeout { path, seconds, .. } => Error::LockTimeout {
                path,
                seconds,
                prompt: step.mfa.is_some(),
            },
            other => other,
        }),
    }
}

/// Writes step `i`'s result to the cache, unless its source keeps its own or it is long-term
/// keys.
fn keep(cache: &Cache, log: &Log, i: usize, step: &Step, issued: &Issued) {
    if let Action::Fetch { source, .. } = &step.action
        && !source.cached()
    {
        // The source's own file is the cache (an `aws login` session).
        log.verbose(format_args!(
            "step {} not cached: its source keeps its own",
            i + 1
        ));
    } else if issued.credentials.expiration.is_some() {
        cache.put(&step.cache_key, issued);
    } else {
        // Long-term keys (from a credential_process) are never written to disk.
        log.verbose(format_args!("step {} not cached: long-term keys", i + 1));
    }
}

/// STS refused a request signed with a cached session as expired or unknown
/// (`ExpiredToken`, `InvalidClientTokenId`): the session ended before the expiry mfarole
/// noted (revoked, or this machine's clock is behind), so every later run would meet the same
/// refusal. The entry of `signer` is removed, and the error says so: the next run gets a new
/// session (asking for a code when one is needed).
fn drop_refused_session(e: Error, signer: Option<&Step>, cache: &Cache) -> Error {
    match (e, signer) {
        (Error::Sts(mut failure), Some(signer))
            if matches!(
                failure.code.as_str(),
                "ExpiredToken" | "InvalidClientTokenId"
            ) =>
        {
            let step = crate::error::clean(&signer.action.describe(), 120);
            let then = match cache.clear(Some(std::slice::from_ref(&signer.cache_key))) {
                Ok(_) => {
                    "(revoked, or this machine's clock is behind): it is removed, run again for a new one"
                }
                Err(_) => "(revoked, or this machine's clock is behind): run again with --refresh",
            };
            failure.hint = Some(format!(
                "STS no longer takes the cached session of step '{step}' that signed it {then}"
            ));
            Error::Sts(failure)
        }
        (e, _) => e,
    }
}

/// Hands a fetched source's credentials to [`Resume::see`], if any.
fn see_source(resume: Resume, step: &Step, credentials: &Credentials) -> Result<()> {
    match (resume.see, &step.action) {
        (Some(see), Action::Fetch { .. }) => see(credentials),
        _ => Ok(()),
    }
}

/// GetSessionToken's answer names no account: a session is of the caller's account, which the
/// caller's credentials tell (`aws_account_id`, a process's `AccountId`), else the account in
/// the ARN of the user's MFA device (`mfa_serial`), an IAM resource of the same account.
fn fill_account(step: &Step, caller: Option<&Credentials>, issued: &mut Credentials) {
    if issued.account_id.is_some() || !matches!(step.action, Action::GetSessionToken { .. }) {
        return;
    }
    issued.account_id = caller
        .and_then(|c| c.account_id.clone())
        .or_else(|| step.mfa.as_ref().and_then(|m| account_of_arn(&m.serial)));
}

/// The step after the last fresh cached one, with its credentials.
fn resume_point(
    plan: &Plan,
    cache: &Cache,
    now: OffsetDateTime,
) -> Option<(usize, Option<Credentials>)> {
    plan.steps.iter().enumerate().rev().find_map(|(i, step)| {
        let hit = cache.get_fresh(&step.cache_key, now, None)?;
        cache.log().verbose(format_args!(
            "step {} ({}) from the cache, valid until {}",
            i + 1,
            step.action.describe(),
            hit.credentials
                .expiration
                .map(cache::show_time)
                .unwrap_or_default()
        ));
        let mut credentials = hit.credentials;
        // An entry of an older mfarole holds no account: what the step itself tells.
        fill_account(step, None, &mut credentials);
        Some((i + 1, Some(credentials)))
    })
}

fn log_done(log: &Log, i: usize, issued: &Issued) {
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
}

/// One step: a source's fetch, or an STS call with the previous step's credentials, with the
/// MFA code when the step carries a device (typed codes asked again by [`CodeSource`]).
fn run_step(
    run: Run,
    resolved: &Resolved,
    cache: &Cache,
    client: &Client,
    step: &Step,
    creds: Option<&Credentials>,
) -> Result<Issued> {
    let profile = step.action.profile();
    let call = match &step.action {
        Action::Fetch { source, .. } => {
            return source.fetch(&crate::source::Fetch {
                profile,
                settings: run.settings,
                cache,
                sts: client,
                log: run.log,
                session_name: &resolved.session_name,
                region: resolved.region.as_deref(),
            });
        }
        Action::GetSessionToken { .. } => None,
        Action::AssumeRole(call) => Some(call),
    };
    // By construction: a plan whose source is fetched starts with the fetch.
    let creds = creds.expect("the source's credentials come before the first STS call");
    if call.is_none() && !creds.is_long_term() {
        return Err(Error::profile(
            profile,
            "its credential_process gave temporary credentials (a session token), which cannot call GetSessionToken for mfa_serial; have it give the long-term keys, or remove mfa_serial",
        ));
    }
    let mut params: Vec<(&'static str, String)> = Vec::new();
    if let Some(call) = call {
        params.push(("RoleArn", call.role_arn.clone()));
        params.push((
            "RoleSessionName",
            step.session_name.clone().unwrap_or_default(),
        ));
        if let Some(ext) = &call.external_id {
            params.push(("ExternalId", ext.clone()));
        }
    }
    let attributes = call.map(|c| c.attributes.params()).unwrap_or_default();
    if let Some(d) = step.duration {
        params.push(("DurationSeconds", d.to_string()));
    }
    let request = |params: Vec<(&'static str, String)>, carries_mfa| sts::Request {
        action: step.action.name(),
        profile,
        params,
        numbered: &attributes,
        credentials: Some(creds),
        carries_mfa,
    };
    let Some(device) = &step.mfa else {
        return client.call(&request(params, false));
    };
    // The codes sent for this device before; one run at a time gets, sends and notes one.
    let memory = cache.used_codes(&device.serial, &creds.secret_access_key);
    let _device = memory.lock()?;
    let codes = CodeSource {
        device,
        flag: run.opts.mfa_token.as_deref(),
        process_timeout: run.settings.mfa_process_timeout,
        memory: Some(&memory),
        log: run.log,
    };
    codes.with_code(|code| {
        let mut with_code = params.clone();
        with_code.push(("SerialNumber", device.serial.clone()));
        with_code.push(("TokenCode", code.as_str().to_string()));
        client.call(&request(with_code, true))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::CacheSettings;
    use std::cell::{Cell, RefCell};

    fn creds(id: &str, expires: Option<OffsetDateTime>) -> Credentials {
        Credentials {
            access_key_id: id.into(),
            secret_access_key: "s".into(),
            session_token: expires.map(|_| "t".into()),
            expiration: expires,
            account_id: None,
        }
    }

    fn step(key: &str) -> Step {
        Step {
            action: Action::GetSessionToken {
                profile: "p".into(),
            },
            mfa: None,
            duration: None,
            session_name: None,
            reason: String::new(),
            cache_key: key.into(),
        }
    }

    fn plan(keys: &[&str]) -> Plan {
        Plan {
            steps: keys.iter().map(|k| step(k)).collect(),
            passthrough: None,
        }
    }

    struct Fixture {
        dir: std::path::PathBuf,
        log: Log,
        settings: CacheSettings,
    }

    impl Fixture {
        fn new(tag: &str) -> Fixture {
            let dir =
                std::env::temp_dir().join(format!("mfarole-pipeline-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            Fixture {
                settings: CacheSettings {
                    dir: Some(dir.clone()),
                    margin: Duration::from_secs(300),
                    lock_timeout: Duration::from_secs(5),
                },
                dir,
                log: Log::default(),
            }
        }

        fn cache(&self) -> Cache<'_> {
            Cache::open(&self.settings, &self.log)
        }
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn t0() -> OffsetDateTime {
        time::macros::datetime!(2026-11-30 12:00:00 UTC)
    }

    /// Runs `plan` with a fake STS that issues `ASIA<key>` valid for an hour after the fake
    /// clock, recording which steps ran with which parent key.
    fn run_with(
        fx: &Fixture,
        plan: &Plan,
        known: Option<Credentials>,
        now: &Cell<OffsetDateTime>,
        refresh: bool,
    ) -> (Result<Credentials>, Vec<(String, Option<String>)>) {
        let ran = RefCell::new(Vec::new());
        let cache = fx.cache();
        let mut fake = |step: &Step, parent: Option<&Credentials>| {
            ran.borrow_mut().push((
                step.cache_key.clone(),
                parent.map(|c| c.access_key_id.clone()),
            ));
            if step.cache_key.starts_with("fail") {
                return Err(Error::Setting("STS is down".into()));
            }
            Ok(Issued {
                credentials: creds(
                    &format!("ASIA{}", step.cache_key),
                    Some(now.get() + time::Duration::hours(1)),
                ),
                arn: None,
            })
        };
        let clock = || now.get();
        let resume = Resume {
            refresh,
            started: SystemTime::now(),
            see: None,
        };
        let got = execute(plan, known, &cache, &clock, resume, &mut fake, &fx.log);
        (got, ran.into_inner())
    }

    #[test]
    fn a_cold_run_runs_every_step_in_order_each_signed_with_the_last() {
        let fx = Fixture::new("cold");
        let now = Cell::new(t0());
        let p = plan(&["gst", "ar1", "ar2"]);
        let (got, ran) = run_with(&fx, &p, Some(creds("AKIAKEYS", None)), &now, false);
        assert_eq!(got.unwrap().access_key_id, "ASIAar2");
        assert_eq!(
            ran,
            [
                ("gst".into(), Some("AKIAKEYS".into())),
                ("ar1".into(), Some("ASIAgst".into())),
                ("ar2".into(), Some("ASIAar1".into())),
            ]
        );
    }

    #[test]
    fn a_warm_run_resumes_after_the_last_fresh_step() {
        let fx = Fixture::new("warm");
        let now = Cell::new(t0());
        let p = plan(&["gst", "ar1", "ar2"]);
        run_with(&fx, &p, Some(creds("AKIAKEYS", None)), &now, false)
            .0
            .unwrap();
        // All fresh: nothing runs.
        let (got, ran) = run_with(&fx, &p, Some(creds("AKIAKEYS", None)), &now, false);
        assert_eq!(got.unwrap().access_key_id, "ASIAar2");
        assert!(ran.is_empty());
        // A new last role: only it runs, signed with the cached one before it.
        let p2 = plan(&["gst", "ar1", "ar3"]);
        let (_, ran) = run_with(&fx, &p2, Some(creds("AKIAKEYS", None)), &now, false);
        assert_eq!(ran, [("ar3".into(), Some("ASIAar1".into()))]);
    }

    #[test]
    fn entries_inside_the_margin_are_not_fresh() {
        let fx = Fixture::new("margin");
        let now = Cell::new(t0());
        let p = plan(&["gst", "ar1"]);
        run_with(&fx, &p, Some(creds("AKIAKEYS", None)), &now, false)
            .0
            .unwrap();
        // 56 minutes later the entries (1 h) are inside the 5-minute margin: all run again.
        now.set(t0() + time::Duration::minutes(56));
        let (_, ran) = run_with(&fx, &p, Some(creds("AKIAKEYS", None)), &now, false);
        assert_eq!(ran.len(), 2);
        // 54 minutes after that second run they are still fresh.
        now.set(now.get() + time::Duration::minutes(54));
        let (_, ran) = run_with(&fx, &p, Some(creds("AKIAKEYS", None)), &now, false);
        assert!(ran.is_empty());
    }

    #[test]
    fn refresh_runs_every_step_even_when_cached() {
        let fx = Fixture::new("refresh");
        let now = Cell::new(t0());
        let p = plan(&["gst", "ar1"]);
        run_with(&fx, &p, Some(creds("AKIAKEYS", None)), &now, false)
            .0
            .unwrap();
        let (_, ran) = run_with(&fx, &p, Some(creds("AKIAKEYS", None)), &now, true);
        assert_eq!(ran.len(), 2);
    }

    #[test]
    fn a_failure_stops_the_plan_and_is_marked_for_waiters() {
        let fx = Fixture::new("fail");
        let now = Cell::new(t0());
        let p = plan(&["gst", "fail-ar1", "ar2"]);
        let (got, ran) = run_with(&fx, &p, Some(creds("AKIAKEYS", None)), &now, false);
        assert_eq!(got.unwrap_err().to_string(), "STS is down");
        assert_eq!(ran.len(), 2, "ar2 never ran");
        let marked = fx
            .cache()
            .failed_since("fail-ar1", SystemTime::UNIX_EPOCH)
            .expect("marker");
        assert_eq!(marked.to_string(), "STS is down");
        // The step before the failure was cached: the next run starts at the failed step.
        let (_, ran) = run_with(&fx, &p, Some(creds("AKIAKEYS", None)), &now, false);
        assert_eq!(ran[0], ("fail-ar1".into(), Some("ASIAgst".into())));
    }

    #[test]
    fn long_term_keys_from_a_step_are_never_cached() {
        let fx = Fixture::new("longterm");
        let cache = fx.cache();
        let p = plan(&["process"]);
        let mut fake = |_: &Step, _: Option<&Credentials>| {
            Ok(Issued {
                credentials: creds("AKIAPROCESS", None),
                arn: None,
            })
        };
        let resume = Resume {
            refresh: false,
            started: SystemTime::now(),
            see: None,
        };
        let got = execute(&p, None, &cache, &t0, resume, &mut fake, &fx.log).unwrap();
        assert_eq!(got.access_key_id, "AKIAPROCESS");
        assert!(cache.get("process").is_none());
    }

    #[test]
    fn nesting_rules() {
        let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(check_nesting("a", &[]).unwrap(), "a");
        assert_eq!(check_nesting("a", &list(&["a"])).unwrap(), "a,a");
        assert!(check_nesting("a", &list(&["a", "b"])).is_err());
        assert!(check_nesting("e", &list(&["a", "b", "c", "d"])).is_err());
    }
}

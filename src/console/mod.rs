//! `mfarole console PROFILE`: the AWS web console signed in as the profile, in one step, the way
//! AWS's "Enable custom identity broker access to the AWS console" describes it (aws-vault's
//! `login`, granted's `assume -c`).
//!
//! The order of things, each a value handed to the next:
//! 1. resolve the profile (no network) and decide what kind of credentials it gives
//!    ([`Kind`]), which decides what `-d` means; `-d` is judged here, before any request —
//!    but for a role on a `credential_process`, whose output alone says whether it gave
//!    long-term keys: there the bounds of any role are judged here, the kind's rule after
//!    the fetch and before any STS call;
//! 2. the sign-in and console hosts of the region's partition ([`crate::partition`]), or
//!    `AWS_ENDPOINT_URL_SIGNIN`, the destination, and `BROWSER` read (not under `--print`);
//! 3. credentials through the pipeline, as `exec` gets them (cache, locks, one MFA prompt);
//!    an IAM user's long-term keys then get a federated session (GetFederationToken);
//! 4. a sign-in token from `<base>/federation` ([`signin`]), and the login URL;
//! 5. the URL to stdout (`--print`) or to a browser ([`browser`]).
//!
//! The login URL is a bearer credential (15 minutes to use it, a console session of up to
//! 12 h or 36 h): it goes to stdout under `--print` or into the browser's argv, and nowhere
//! else — not `-v`, not an error. The session keys go only into the getSigninToken request.

mod browser;
mod signin;

use time::OffsetDateTime;

use crate::cli::{ConsoleArgs, Options};
use crate::config::Config;
use crate::creds::Credentials;
use crate::error::{Error, Result};
use crate::pipeline::{get_credentials, get_credentials_seeing_source};
use crate::plan::Action;
use crate::resolve::{Resolved, Run, resolve};
use crate::units::show_duration;

/// What kind of credentials the profile gives, which decides how they reach the console and
/// what `-d` sets (AWS's rules, "Enable custom identity broker access to the AWS console").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A role assumed with an IAM user's long-term keys: the sign-in token may carry
    /// `SessionDuration` (900–43200 s).
    Role,
    /// A role assumed with temporary credentials (an MFA session, another role, a fetched
    /// source): "role chaining", for which AWS fails a request with `SessionDuration`; the
    /// console lasts as long as the role session.
    ChainedRole,
    /// No role, and the source may give an IAM user's long-term keys: GetFederationToken
    /// first, whose `DurationSeconds` (900–129600 s) is the console's length.
    Keys,
    /// No role, and temporary credentials that mfarole did not make (`aws_session_token`, SSO,
    /// web identity, a container or instance role): sent as they are.
    AsIs,
}

/// Runs `console` for `profile`. Prints only the URL, and only under `--print`.
pub fn run(run: Run, profile: &str, args: &ConsoleArgs) -> Result<Option<String>> {
    // The credentials' own duration is not -d's: -d is the console's (see `Kind`).
    let plan_opts = Options {
        duration: None,
        ..run.opts.clone()
    };
    let config = Config::load(&run.settings.files)?;
    let resolved = resolve(
        &config,
        profile,
        &plan_opts,
        run.settings,
        OffsetDateTime::now_utc(),
    )?;
    let kind = classify(&resolved);
    // A role whose kind the fetch tells: the bounds of any role now (a chained one takes none).
    let why = |k| temporary(k, &resolved);
    check_duration(kind.unwrap_or(Kind::Role), profile, run.opts.duration, &why)?;
    let region = resolved.region.as_deref();
    let hosts = signin::Hosts::pick(&run.settings.endpoints, region)?;
    let destination = signin::destination(&hosts, region, args.service.as_deref())?;
    let browser = match args.print {
        true => None,
        false => Some(browser::Browser::read(run.settings.browser.as_deref())?),
    };
    let (credentials, kind) = credentials(run, &plan_opts, profile, &resolved, kind)?;
    let session_duration = match kind {
        Kind::Role => run.opts.duration,
        _ => None,
    };
    say_session(run, kind, &credentials, session_duration);
    let agent = crate::net::agent(&run.settings.net, crate::net::Route::Remote)?;
    let token = signin::signin_token(
        &agent,
        &hosts,
        profile,
        &credentials,
        session_duration,
        run.log,
    )
    .map_err(|e| refused_because(e, kind, profile))?;
    let mut url = signin::login_url(&hosts, &destination, &token);
    if args.logout_first {
        url = signin::logout_then(&hosts, &url);
    }
    if args.print {
        url.push('\n');
        return Ok(Some(url));
    }
    if let Some(browser) = browser {
        browser.open(&url, run.log)?;
    }
    Ok(None)
}

/// The kind of credentials the resolved profile gives (see [`Kind`]); `None` for a role
/// assumed right after a fetch that may give long-term keys (`credential_process`): the
/// fetch's output tells ([`after_fetch`]).
fn classify(resolved: &Resolved) -> Option<Kind> {
    let chain = &resolved.chain;
    let long_term_source = chain.source.known().is_some_and(Credentials::is_long_term);
    if chain.hops.is_empty() {
        return Some(if long_term_source || chain.source.may_be_long_term() {
            Kind::Keys
        } else {
            Kind::AsIs
        });
    }
    // Assumed with long-term keys only when the role is the first STS step (with the MFA
    // code itself, or none): a GetSessionToken or another role before it makes it chained.
    let is_role = |s: &crate::plan::Step| matches!(s.action, Action::AssumeRole(_));
    match resolved.plan.steps.as_slice() {
        [only] if is_role(only) && long_term_source => Some(Kind::Role),
        [fetch, role]
            if matches!(fetch.action, Action::Fetch { .. })
                && is_role(role)
                && chain.source.may_be_long_term() =>
        {
            None
        }
        _ => Some(Kind::ChainedRole),
    }
}

/// The kind of a role assumed with what the source's fetch gave.
fn after_fetch(source: &Credentials) -> Kind {
    match source.is_long_term() {
        true => Kind::Role,
        false => Kind::ChainedRole,
    }
}

/// What the temporary credentials are, for the error that refuses `-d`: `(what, advice)`.
fn temporary(kind: Kind, resolved: &Resolved) -> (String, &'static str) {
    let chain = &resolved.chain;
    let long_term_source = chain.source.known().is_some_and(Credentials::is_long_term);
    let via_session = resolved
        .plan
        .steps
        .iter()
        .any(|s| matches!(s.action, Action::GetSessionToken { .. }));
    let no_session =
        "Drop -d, or use --no-session to assume the role with the MFA code and the user's own keys";
    match (kind, chain.source.kind()) {
        (Kind::ChainedRole, _) if via_session => ("an MFA session".into(), no_session),
        (Kind::ChainedRole, _) if long_term_source => ("another role".into(), "Drop -d"),
        (Kind::ChainedRole, "credential_process") if chain.hops.len() == 1 => (
            "its credential_process gave a session token, not long-term keys".into(),
            "Drop -d",
        ),
        (Kind::ChainedRole, source) if chain.hops.len() == 1 => {
            (format!("from {source}"), "Drop -d")
        }
        (Kind::ChainedRole, _) => ("another role".into(), "Drop -d"),
        (_, "web identity") => (
            "the role session of mfarole's own AssumeRoleWithWebIdentity (web_identity_token_file)"
                .into(),
            "drop -d",
        ),
        (_, "credential_process") => (
            "its credential_process gave a session token".into(),
            "drop -d",
        ),
        (_, "keys" | "environment") => ("a session token issued elsewhere".into(), "drop -d"),
        (_, source) => (format!("from {source}, issued elsewhere"), "drop -d"),
    }
}

/// What the temporary credentials of a kind are, and what to do ([`temporary`]).
type Why<'a> = dyn Fn(Kind) -> (String, &'static str) + 'a;

/// `-d` for the kind at hand, judged before any request (for a role on a `credential_process`,
/// after the fetch and before any STS call): AWS's limits, or why it cannot be set. AWS's
/// rule ("Enable custom identity broker access to the AWS console", getSigninToken):
/// SessionDuration only for a role assumed with an IAM user's long-term keys.
fn check_duration(kind: Kind, profile: &str, duration: Option<u32>, why: &Why) -> Result<()> {
    let Some(d) = duration else {
        return Ok(());
    };
    let (low, high, what) = match kind {
        Kind::Role => (
            900,
            43_200,
            "the console session of a role (SessionDuration)",
        ),
        Kind::Keys => (900, 129_600, "a federation token (GetFederationToken)"),
        Kind::ChainedRole => {
            let (what, advice) = why(kind);
            return Err(Error::profile(
                profile,
                format!(
                    "-d {} cannot set its console session: its role is assumed with temporary credentials ({what}), and AWS refuses SessionDuration for such a chained role; the console lasts as long as the role session (duration_seconds, at most 1h). {advice}",
                    show_duration(d)
                ),
            ));
        }
        Kind::AsIs => {
            let (what, advice) = why(kind);
            return Err(Error::profile(
                profile,
                format!(
                    "-d {} cannot set its console session: its credentials are temporary ({what}), and AWS takes SessionDuration only for a role assumed with an IAM user's long-term keys; the console lasts as long as they do; {advice}",
                    show_duration(d)
                ),
            ));
        }
    };
    if (low..=high).contains(&d) {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "-d {} is outside {}–{} for {what}",
        show_duration(d),
        show_duration(low),
        show_duration(high)
    ))
    .for_command("console"))
}

/// Credentials for the console through the pipeline (cache, locks, one prompt); long-term
/// keys become a federated session. Returns the kind they turned out to be.
fn credentials(
    run: Run,
    plan_opts: &Options,
    profile: &str,
    resolved: &Resolved,
    kind: Option<Kind>,
) -> Result<(Credentials, Kind)> {
    let plan_run = Run {
        opts: plan_opts,
        ..run
    };
    let Some(kind) = kind else {
        // The fetch's output decides, judged before the AssumeRole signed with it.
        let seen = std::cell::Cell::new(Kind::ChainedRole);
        let see = |source: &Credentials| {
            let kind = after_fetch(source);
            seen.set(kind);
            check_duration(kind, profile, run.opts.duration, &|k| {
                temporary(k, resolved)
            })
        };
        let got = get_credentials_seeing_source(plan_run, profile, &see)?;
        return Ok((got.credentials, seen.get()));
    };
    if kind != Kind::Keys {
        return Ok((get_credentials(plan_run, profile)?.credentials, kind));
    }
    if run.opts.mfa_token.is_some() {
        run.log.warn(format_args!(
            "--mfa-token is not used: '{}' has no role, and its console needs no MFA code (long-term keys sign in through a federation token, GetFederationToken, which takes none)",
            crate::error::clean(profile, 64)
        ));
    }
    // The keys themselves, not an MFA session: GetFederationToken refuses session credentials.
    run.log.verbose(format_args!(
        "console: GetFederationToken takes only an IAM user's own keys, so they are asked for as with --no-session"
    ));
    let keys_opts = Options {
        no_session: true,
        mfa_token: None,
        ..plan_opts.clone()
    };
    let keys = get_credentials(
        Run {
            opts: &keys_opts,
            ..run
        },
        profile,
    )?
    .credentials;
    if !keys.is_long_term() {
        check_duration(Kind::AsIs, profile, run.opts.duration, &|k| {
            temporary(k, resolved)
        })?;
        return Ok((keys, Kind::AsIs));
    }
    let name = crate::units::federation_name(&resolved.session_name);
    let client = crate::sts::Client::new(resolved.endpoint.clone(), &run.settings.net, run.log)?;
    let issued = client
        .federation_token(profile, &keys, &name, run.opts.duration)
        .map_err(|e| federation_refused(e, resolved))?;
    run.log.verbose(format_args!(
        "federated session '{name}' for '{profile}': key {}",
        issued.credentials.masked_id()
    ));
    Ok((issued.credentials, Kind::Keys))
}

/// GetFederationToken's `AccessDenied`: what the usual cause is and what to do.
fn federation_refused(e: Error, resolved: &Resolved) -> Error {
    let Error::Sts(mut failure) = e else {
        return e;
    };
    if failure.code == "AccessDenied" {
        let mfa = if resolved.chain.mfa.is_some() {
            "the user's policies may require MFA, which GetFederationToken cannot carry (an MFA session cannot call it); "
        } else {
            ""
        };
        failure.hint = Some(format!(
            "{mfa}open the console through a role instead: a profile with role_arn and source_profile = {}",
            resolved.chain.source_profile
        ));
    }
    Error::Sts(failure)
}

/// The sign-in service's refusal, with what it most likely means for this kind.
fn refused_because(e: Error, kind: Kind, profile: &str) -> Error {
    let Error::Profile { message, .. } = &e else {
        return e;
    };
    let why = match kind {
        // Temporary credentials issued elsewhere: an MFA session is one cause, a session that
        // expired, was revoked or was pasted wrong is another; say both, assert neither.
        Kind::AsIs => {
            "the credentials may have expired or been revoked (get new ones, or --refresh); and if they come from GetSessionToken (an MFA session without a role), they cannot open the console at all: use a profile with role_arn, or the IAM user's long-term keys (mfarole then asks GetFederationToken)"
        }
        Kind::Role | Kind::ChainedRole | Kind::Keys => {
            "the session may have been revoked or the role may not allow console sign-in; try again with --refresh"
        }
    };
    Error::profile(profile, format!("{message}; {why}"))
}

/// `-v`: which credentials, and how long the console session lasts.
fn say_session(run: Run, kind: Kind, credentials: &Credentials, session: Option<u32>) {
    if !run.log.is_verbose() {
        return;
    }
    let until = credentials
        .expiration
        .map(crate::cache::show_time)
        .unwrap_or_else(|| "?".into());
    let (what, length) = match (kind, session) {
        (Kind::Role, Some(d)) => (
            "a role assumed with long-term keys",
            format!("{} (SessionDuration)", show_duration(d)),
        ),
        (Kind::Role, None) => (
            "a role assumed with long-term keys",
            "the sign-in service's default (no SessionDuration; -d sets it)".to_string(),
        ),
        (Kind::ChainedRole, _) => (
            "a chained role (assumed with temporary credentials): no SessionDuration",
            format!("as long as the role session, until {until}"),
        ),
        (Kind::Keys, _) => (
            "a federation token (GetFederationToken): no SessionDuration",
            format!("as long as the federation token, until {until}"),
        ),
        (Kind::AsIs, _) => (
            "temporary credentials as they are: no SessionDuration",
            format!("at most until they expire, {until}"),
        ),
    };
    run.log.verbose(format_args!(
        "console: key {}, {what}; console session: {length}",
        credentials.masked_id()
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn why(_: Kind) -> (String, &'static str) {
        ("an MFA session".into(), "Drop -d")
    }

    fn check_duration(kind: Kind, profile: &str, d: Option<u32>) -> Result<()> {
        super::check_duration(kind, profile, d, &why)
    }

    #[test]
    fn durations_are_judged_per_kind() {
        assert!(check_duration(Kind::Role, "p", Some(900)).is_ok());
        assert!(check_duration(Kind::Role, "p", Some(43_200)).is_ok());
        let e = check_duration(Kind::Role, "p", Some(43_201)).unwrap_err();
        assert!(e.to_string().contains("outside 15m–12h"), "{e}");
        assert!(check_duration(Kind::Role, "p", Some(899)).is_err());
        assert!(check_duration(Kind::Keys, "p", Some(129_600)).is_ok());
        let e = check_duration(Kind::Keys, "p", Some(129_601)).unwrap_err();
        assert!(e.to_string().contains("15m–36h"), "{e}");
        let e = check_duration(Kind::ChainedRole, "p", Some(3600)).unwrap_err();
        assert!(e.to_string().contains("chained role"), "{e}");
        assert!(check_duration(Kind::AsIs, "p", Some(3600)).is_err());
        for kind in [Kind::Role, Kind::ChainedRole, Kind::Keys, Kind::AsIs] {
            assert!(check_duration(kind, "p", None).is_ok());
        }
    }
}

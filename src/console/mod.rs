//! `mfarole console PROFILE`: the AWS web console signed in as the profile, in one step, the way
//! AWS's "Enable custom identity broker access to the AWS console" describes it (aws-vault's
//! `login`, granted's `assume -c`).
//!
//! The order of things, each a value handed to the next:
//! 1. resolve the profile (no network) and decide what kind of credentials it gives
//!    ([`Kind`]), which decides what `-d` means; `-d` is judged here, before any request;
//! 2. the sign-in and console hosts of the region's partition ([`crate::partition`]), or
//!    `AWS_ENDPOINT_URL_SIGNIN`, and the destination;
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

use crate::cli::Options;
use crate::config::Config;
use crate::creds::Credentials;
use crate::error::{Error, Result};
use crate::pipeline::get_credentials;
use crate::plan::Action;
use crate::resolve::{Resolved, Run, resolve};
use crate::units::show_duration;

/// What `console` adds to the options of `exec`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsoleArgs {
    /// `--service NAME|PATH`: the console page to open instead of the console home.
    pub service: Option<String>,
    /// `--print`: the URL to stdout, no browser.
    pub print: bool,
    /// `--logout-first`: through the console's logout URL, so that a signed-in browser
    /// switches identity.
    pub logout_first: bool,
}

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
    check_duration(kind, profile, run.opts.duration)?;
    let region = resolved.region.as_deref();
    let hosts = signin::Hosts::pick(&run.settings.endpoints, region)?;
    let destination = signin::destination(&hosts, region, args.service.as_deref())?;
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
    browser::open(run.settings.browser.as_deref(), &url, run.log)?;
    Ok(None)
}

/// The kind of credentials the resolved profile gives (see [`Kind`]).
fn classify(resolved: &Resolved) -> Kind {
    let chain = &resolved.chain;
    let long_term_source = chain.source.known().is_some_and(Credentials::is_long_term);
    if chain.hops.is_empty() {
        return if long_term_source || chain.source.may_be_long_term() {
            Kind::Keys
        } else {
            Kind::AsIs
        };
    }
    // Assumed with long-term keys only when the role is the plan's one step (with the MFA
    // code itself, or none): a GetSessionToken or a fetch before it makes it chained.
    let steps = &resolved.plan.steps;
    match steps.as_slice() {
        [only] if matches!(only.action, Action::AssumeRole(_)) && long_term_source => Kind::Role,
        _ => Kind::ChainedRole,
    }
}

/// `-d` for the kind at hand, judged before any request: AWS's limits, or why it cannot be
/// set.
fn check_duration(kind: Kind, profile: &str, duration: Option<u32>) -> Result<()> {
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
            return Err(Error::profile(
                profile,
                format!(
                    "-d {} cannot set its console session: its role is assumed with temporary credentials (an MFA session or another role), and AWS refuses SessionDuration for such a chained role; the console lasts as long as the role session (duration_seconds, at most 1h). Drop -d, or use --no-session to assume the role with the MFA code and the user's own keys",
                    show_duration(d)
                ),
            ));
        }
        Kind::AsIs => {
            return Err(Error::profile(
                profile,
                format!(
                    "-d {} cannot set its console session: its credentials are temporary and were issued elsewhere, and the console lasts as long as they do; drop -d",
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
    )))
}

/// Credentials for the console through the pipeline (cache, locks, one prompt); long-term
/// keys become a federated session. Returns the kind they turned out to be.
fn credentials(
    run: Run,
    plan_opts: &Options,
    profile: &str,
    resolved: &Resolved,
    kind: Kind,
) -> Result<(Credentials, Kind)> {
    if kind != Kind::Keys {
        let got = get_credentials(
            Run {
                opts: plan_opts,
                ..run
            },
            profile,
        )?;
        return Ok((got.credentials, kind));
    }
    // The keys themselves, not an MFA session: GetFederationToken refuses session credentials.
    let keys_opts = Options {
        no_session: true,
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
        check_duration(Kind::AsIs, profile, run.opts.duration)?;
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

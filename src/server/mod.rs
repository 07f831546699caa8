//! `exec --server`: for commands that outlive their credentials. mfarole stays as COMMAND's
//! parent and serves it the standard container credentials endpoint on 127.0.0.1, renewing the
//! credentials in the background well before they expire (from the cached MFA session, so no
//! new prompt while it lasts), sharing the cache and locks with every other run.
//!
//! What the child sees, and why: no key variables; `AWS_CONTAINER_CREDENTIALS_FULL_URI` and
//! the token both as `AWS_CONTAINER_AUTHORIZATION_TOKEN` and as a `..._TOKEN_FILE` (the SDKs
//! differ on which wins; both say the same); `AWS_CONFIG_FILE` and
//! `AWS_SHARED_CREDENTIALS_FILE` pointing at a private config that holds only the region,
//! because every SDK asks the shared files' `[default]` profile (keys, a role, a process, SSO)
//! before the container endpoint, and any of those would shadow it. `AWS_PROFILE`, the web
//! identity variables (also asked first) and `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` are
//! removed.
//!
//! Signals: SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1/2 and SIGWINCH sent to mfarole are passed
//! to the child; those the terminal sends reach the child directly (it is in mfarole's
//! process group), so they are not passed twice. Ctrl-Z stops both; `fg` continues both.
//! mfarole exits with the child's status, 128+N when it was killed by signal N.

pub(crate) mod http;
mod private;

use std::ffi::OsString;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH};
use signal_hook::iterator::SignalsInfo;
use signal_hook::iterator::exfiltrator::WithOrigin;
use time::OffsetDateTime;

use crate::cli::Options;
use crate::creds::Credentials;
use crate::environ::Environ;
use crate::error::{Error, Result};
use crate::log::Log;
use crate::pipeline::{Got, Run, get_credentials_fresh_for};

use private::PrivateDir;

/// Renew this long before expiry by default (botocore starts refreshing 15 min before), at
/// most half the credentials' lifetime.
const DEFAULT_LEAD: Duration = Duration::from_secs(20 * 60);

/// Never renew more often than this, whatever the credentials' lifetime or the margin: at most
/// 360 renewals an hour, for a source that gives credentials of under 20 s.
const RENEWAL_FLOOR: Duration = Duration::from_secs(10);

/// How long before expiry to renew credentials that were valid for `lifetime` when they came:
/// `MFAROLE_SERVER_MARGIN` (else 20 min), at most half the lifetime, as the man page says. (An
/// explicit margin was once used whole: with 900 s credentials and `20m`, AssumeRole was called
/// every 2 s.)
fn lead(explicit: Option<Duration>, lifetime: time::Duration) -> Duration {
    let half = Duration::try_from(lifetime / 2).unwrap_or(Duration::ZERO);
    explicit.unwrap_or(DEFAULT_LEAD).min(half)
}

/// How long to sleep before renewing credentials that expire at `expires`, got at `issued`:
/// until `lead` before expiry, and never less than [`RENEWAL_FLOOR`] after they came.
fn wait(
    expires: OffsetDateTime,
    lead: Duration,
    issued: OffsetDateTime,
    now: OffsetDateTime,
) -> Duration {
    let until_wake = Duration::try_from(expires - lead - now).unwrap_or(Duration::ZERO);
    let floor_left = Duration::try_from(issued + RENEWAL_FLOOR - now).unwrap_or(Duration::ZERO);
    until_wake.max(floor_left)
}

/// Variables of the parent that would make the child's SDK look elsewhere first.
const SHADOWING: &[&str] = &[
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
];

/// Runs `program` as a child served by the endpoint; returns its exit status.
pub fn run(
    run: Run,
    profile: &str,
    got: Got,
    program: OsString,
    args: Vec<OsString>,
    env: &Environ,
) -> Result<u8> {
    let log = run.log;
    let endpoint =
        http::Listener::bind().map_err(|e| Error::io("cannot listen on 127.0.0.1", e))?;
    let private = PrivateDir::create(&endpoint.token, got.region.as_deref())?;
    let url = endpoint.url();
    log.verbose(format_args!(
        "serving credentials for '{profile}' at {url} (127.0.0.1 only)"
    ));
    let vars = child_vars(env, &got, profile, &url, &endpoint.token, &private);
    let state = Arc::new(Mutex::new(http::State {
        credentials: Some(got.credentials.clone()),
        problem: None,
    }));
    // Every thread is started before the child exists: none can fail to start while it runs
    // and leave it without its endpoint.
    {
        let state = state.clone();
        spawn("endpoint", move || endpoint.serve(state))?;
    }
    let forward = spawn_forwarder()?;
    spawn_renewal(&state, run, profile, got.credentials)?;
    let mut child = vars
        .apply(Command::new(&program).args(&args))
        .spawn()
        .map_err(|source| Error::Exec {
            program: crate::error::clean(&program.to_string_lossy(), 100),
            source,
        })?;
    let _ = forward.send(child.id());
    let status = child
        .wait()
        .map_err(|e| Error::io("cannot wait for the command", e))?;
    drop(private);
    Ok(exit_status(status))
}

/// Starts a thread, or says why it cannot be.
fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<()> {
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(f)
        .map(drop)
        .map_err(|e| Error::io(format!("cannot start the {name} thread"), e))
}

/// The thread that passes signals on to the child, once it is told the child's pid. It
/// subscribes now, before the child exists, so that no signal can end mfarole in between.
fn spawn_forwarder() -> Result<std::sync::mpsc::Sender<u32>> {
    let mut signals = SignalsInfo::<WithOrigin>::new([
        SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH,
    ])
    .map_err(|e| Error::io("cannot watch signals", e))?;
    let (tell, told) = std::sync::mpsc::channel::<u32>();
    spawn("signals", move || {
        let Ok(pid) = told.recv() else { return };
        let pid = rustix::process::Pid::from_raw(pid as i32);
        for origin in signals.forever() {
            // A signal from the terminal went to the whole foreground group, the child too.
            let from_terminal = origin.process.is_none()
                && matches!(origin.signal, SIGINT | SIGQUIT | SIGWINCH | SIGHUP);
            if from_terminal {
                continue;
            }
            if let (Some(pid), Ok(sig)) = (pid, signal_of(origin.signal)) {
                let _ = rustix::process::kill_process(pid, sig);
            }
        }
    })?;
    Ok(tell)
}

/// The child's status as a shell reports it: its code, or 128+N when signal N ended it.
fn exit_status(status: std::process::ExitStatus) -> u8 {
    match (
        status.code(),
        std::os::unix::process::ExitStatusExt::signal(&status),
    ) {
        (Some(code), _) => code as u8,
        (None, Some(sig)) => 128u8.saturating_add(sig as u8),
        (None, None) => crate::error::EXIT_FAILURE,
    }
}

/// Starts the thread that keeps `state` fresh (see [`renew`]), with its own copies of what
/// the run knows.
fn spawn_renewal(
    state: &Arc<Mutex<http::State>>,
    run: Run,
    profile: &str,
    first: Credentials,
) -> Result<()> {
    let state = state.clone();
    let (opts, profile) = (renewal_options(run.opts), profile.to_string());
    let settings = run.settings.clone();
    let verbose = run.log.is_verbose();
    spawn("renewal", move || {
        let log = Log::new(verbose);
        let run = Run {
            opts: &opts,
            settings: &settings,
            log: &log,
        };
        renew(&state, first, run, &profile);
    })
}

fn signal_of(n: i32) -> std::result::Result<rustix::process::Signal, ()> {
    use rustix::process::Signal;
    Ok(match n {
        SIGINT => Signal::INT,
        SIGTERM => Signal::TERM,
        SIGHUP => Signal::HUP,
        SIGQUIT => Signal::QUIT,
        SIGUSR1 => Signal::USR1,
        SIGUSR2 => Signal::USR2,
        SIGWINCH => Signal::WINCH,
        _ => return Err(()),
    })
}

/// A renewal never reuses a code given with `-t` (single-use) and never forces --refresh.
fn renewal_options(opts: &Options) -> Options {
    Options {
        mfa_token: None,
        refresh: false,
        ..opts.clone()
    }
}

/// Keeps the served credentials valid: wakes `lead` before they expire, renews them through
/// the pipeline (cache, lock, MFA session: a prompt only when that session is gone), and on
/// failure keeps serving what is still valid and tries again.
fn renew(state: &Mutex<http::State>, first: Credentials, run: Run, profile: &str) {
    let (log, explicit) = (run.log, run.settings.server_margin);
    let mut current = first;
    let mut issued = OffsetDateTime::now_utc();
    loop {
        let Some(expires) = current.expiration else {
            return; // long-term keys do not expire
        };
        let lead = lead(explicit, expires - issued);
        std::thread::sleep(wait(expires, lead, issued, OffsetDateTime::now_utc()));
        set_problem(
            state,
            Some("mfarole is renewing the credentials (it may be asking for an MFA code on its terminal)".into()),
        );
        match get_credentials_fresh_for(run, profile, Some(lead)) {
            Ok(got) => {
                log.verbose(format_args!(
                    "renewed the served credentials: key {}, valid until {}",
                    got.credentials.masked_id(),
                    got.credentials
                        .expiration
                        .map(crate::cache::show_time)
                        .unwrap_or_default()
                ));
                let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
                s.credentials = Some(got.credentials.clone());
                s.problem = None;
                drop(s);
                current = got.credentials;
                issued = OffsetDateTime::now_utc();
            }
            Err(e) => {
                log.warn(format_args!(
                    "cannot renew the served credentials: {e}; trying again in 30s"
                ));
                set_problem(
                    state,
                    Some(format!("mfarole cannot renew the credentials: {e}")),
                );
                std::thread::sleep(Duration::from_secs(30));
            }
        }
    }
}

fn set_problem(state: &Mutex<http::State>, problem: Option<String>) {
    state.lock().unwrap_or_else(|e| e.into_inner()).problem = problem;
}

/// The child's environment: the parent's, minus every credential and anything that would be
/// asked before the container endpoint, plus the endpoint, the token and the private config.
fn child_vars(
    env: &Environ,
    got: &Got,
    profile: &str,
    url: &str,
    token: &str,
    private: &PrivateDir,
) -> crate::exec::ChildEnv {
    let mut set = vec![
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", url.to_string()),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", token.to_string()),
        (
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            private.token_file.to_string_lossy().into_owned(),
        ),
        (
            "AWS_CONFIG_FILE",
            private.config.to_string_lossy().into_owned(),
        ),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            private.credentials.to_string_lossy().into_owned(),
        ),
    ];
    // The account stays the same across renewals (the same role or user).
    if let Some(account) = &got.credentials.account_id {
        set.push(("AWS_ACCOUNT_ID", account.clone()));
    }
    crate::exec::with_context(
        env,
        SHADOWING,
        set,
        got.region.as_deref(),
        profile,
        &got.nesting,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_explicit_margin_is_capped_at_half_the_lifetime_and_renewals_have_a_floor() {
        let min = |m: i64| time::Duration::minutes(m);
        let secs = Duration::from_secs;
        // The margin of the report: 20m on 900 s credentials renewed every 2 s.
        assert_eq!(lead(Some(secs(1200)), min(15)), secs(450));
        assert_eq!(lead(None, min(15)), secs(450));
        assert_eq!(lead(None, min(60)), DEFAULT_LEAD);
        assert_eq!(lead(Some(secs(300)), min(60)), secs(300));
        let now = OffsetDateTime::now_utc();
        assert_eq!(wait(now + min(15), secs(450), now, now), secs(450));
        // Credentials of 4 s (or already expired) are renewed no sooner than the floor.
        let short = now + time::Duration::seconds(4);
        assert_eq!(
            wait(short, lead(None, short - now), now, now),
            RENEWAL_FLOOR
        );
        assert_eq!(wait(now - min(1), Duration::ZERO, now, now), RENEWAL_FLOOR);
        // After a failed renewal, long past the floor, the next try is at once.
        let later = now + min(20);
        assert_eq!(wait(now + min(15), secs(450), now, later), Duration::ZERO);
    }
}

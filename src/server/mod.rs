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

use std::ffi::OsString;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
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

/// Renew this long before expiry by default (botocore starts refreshing 15 min before), at
/// most half the credentials' lifetime.
const DEFAULT_LEAD: Duration = Duration::from_secs(20 * 60);

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
    {
        let state = state.clone();
        std::thread::spawn(move || endpoint.serve(state));
    }
    // Subscribe before the child exists, so that no signal can end mfarole in between.
    let mut signals = SignalsInfo::<WithOrigin>::new([
        SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH,
    ])
    .map_err(|e| Error::io("cannot watch signals", e))?;
    let mut child = vars
        .apply(Command::new(&program).args(&args))
        .spawn()
        .map_err(|source| Error::Exec {
            program: crate::error::clean(&program.to_string_lossy(), 100),
            source,
        })?;
    let pid = rustix::process::Pid::from_raw(child.id() as i32);
    std::thread::spawn(move || {
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
    });
    spawn_renewal(&state, run, profile, got.credentials);
    let status = child
        .wait()
        .map_err(|e| Error::io("cannot wait for the command", e))?;
    drop(private);
    Ok(exit_status(status))
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
fn spawn_renewal(state: &Arc<Mutex<http::State>>, run: Run, profile: &str, first: Credentials) {
    let state = state.clone();
    let (opts, profile) = (renewal_options(run.opts), profile.to_string());
    let settings = run.settings.clone();
    let verbose = run.log.is_verbose();
    std::thread::spawn(move || {
        let log = Log::new(verbose);
        let run = Run {
            opts: &opts,
            settings: &settings,
            log: &log,
        };
        renew(&state, first, run, &profile);
    });
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
        let lifetime = (expires - issued).max(time::Duration::ZERO);
        let lead = explicit.unwrap_or_else(|| {
            DEFAULT_LEAD.min(Duration::try_from(lifetime / 2).unwrap_or(DEFAULT_LEAD))
        });
        let wake = expires - lead;
        let wait = (wake - OffsetDateTime::now_utc()).max(time::Duration::seconds(2));
        std::thread::sleep(Duration::try_from(wait).unwrap_or(Duration::from_secs(2)));
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
    let set = vec![
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
    crate::exec::with_context(
        env,
        SHADOWING,
        set,
        got.region.as_deref(),
        profile,
        &got.nesting,
    )
}

/// A directory of mode 0700 under the temporary directory, holding the token file and the
/// child's config files (0600); removed when the command ends.
struct PrivateDir {
    dir: PathBuf,
    token_file: PathBuf,
    config: PathBuf,
    credentials: PathBuf,
}

impl PrivateDir {
    fn create(token: &str, region: Option<&str>) -> Result<PrivateDir> {
        let dir = std::env::temp_dir().join(format!(
            "mfarole-server-{}",
            http::random_hex(8).map_err(|e| Error::io("cannot make a random name", e))?
        ));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        let made = PrivateDir {
            token_file: dir.join("token"),
            config: dir.join("config"),
            credentials: dir.join("credentials"),
            dir,
        };
        let config = match region {
            Some(r) => format!("[default]\nregion = {r}\n"),
            None => "[default]\n".to_string(),
        };
        for (path, text) in [
            (&made.token_file, token),
            (&made.config, config.as_str()),
            (&made.credentials, ""),
        ] {
            write_new(path, text)
                .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
        }
        Ok(made)
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn write_new(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)?;
    f.write_all(text.as_bytes())
}

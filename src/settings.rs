//! The settings stage: every `MFAROLE_*` and `AWS_*` variable mfarole reads, parsed once, up
//! front, into one typed [`Settings`] that is passed down (ripgrep's second argument stage).
//!
//! Why up front: a setting read where it is used is read late, and some were read only on a
//! cache miss, so a bad `MFAROLE_TIMEOUT` passed while credentials were cached and failed an
//! hour later. Here every variable of mfarole's own, and every generic AWS one (timeouts,
//! attempts, endpoints, files, the region), is parsed before anything else happens, so a bad
//! value fails the same way whether the cache is warm or not. Durations have one parser and
//! one message.
//!
//! The variables of one credential source (the container endpoint, instance metadata, web
//! identity) are kept here as they were given, each in its source's group, and judged by the
//! source itself when a profile uses it, at resolution, which every run does, warm cache or
//! not: a malformed `AWS_CONTAINER_CREDENTIALS_FULL_URI` must not break a profile that never
//! asks the container, which is botocore's behaviour too.
//!
//! Reads only the [`Environ`] snapshot: no file, no clock, no network.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use crate::environ::Environ;
use crate::error::{Error, Result, clean};

/// The variable that carries the profiles whose `credential_process` is running (mfarole sets
/// it for the process, so that a process that is mfarole for the same profile stops at once).
pub const RUNNING: &str = "MFAROLE_CREDENTIAL_PROCESS";

/// Everything mfarole takes from its environment besides the command line.
#[derive(Debug, Clone)]
pub struct Settings {
    pub files: Files,
    pub cache: CacheSettings,
    pub net: NetSettings,
    /// `MFAROLE_MFA_PROCESS_TIMEOUT`: how long `mfa_process` may take (default 60 s).
    pub mfa_process_timeout: Duration,
    /// `MFAROLE_CREDENTIAL_PROCESS_TIMEOUT`: how long `credential_process` may take
    /// (default 60 s).
    pub credential_process_timeout: Duration,
    /// `MFAROLE_SERVER_MARGIN`: how long before expiry `exec --server` renews.
    pub server_margin: Option<Duration>,
    /// `AWS_REGION`, else `AWS_DEFAULT_REGION`.
    pub region: Option<String>,
    /// `AWS_DEFAULT_PROFILE`, else `AWS_PROFILE` (botocore's order): the profile of `exec` and
    /// `env` when the command line names none.
    pub default_profile: Option<DefaultProfile>,
    pub endpoints: EndpointSettings,
    /// `LOGNAME`, else `USER`: the first part of the default RoleSessionName.
    pub user: Option<String>,
    /// `HOME`; without it `~` is `/` (see [`Files`]).
    pub home: Option<PathBuf>,
    /// `SHELL`, for `exec` without a command.
    pub shell: Option<OsString>,
    /// `AWS_LOGIN_CACHE_DIRECTORY` (`$VAR` and `~` expanded as botocore's
    /// `get_login_token_cache_directory` does), else `~/.aws/login/cache`: where `aws login`
    /// keeps its sessions.
    pub login_cache_dir: PathBuf,
    /// `TZ`: the time zone `list` shows times in ([`crate::localtime`]); else /etc/localtime.
    pub tz: Option<String>,
    /// `BROWSER`: the browser commands `console` tries, as Python's `webbrowser` and
    /// xdg-open read it ([`crate::console`]).
    pub browser: Option<String>,
    pub outer: Outer,
    pub environment: EnvironmentKeys,
    pub container: ContainerVars,
    pub imds: ImdsVars,
    pub web_identity: WebIdentityVars,
    /// `AWS_SOURCE_IDENTITY`, `AWS_SESSION_TAGS`, `AWS_TRANSITIVE_TAGS`: for the role of the
    /// profile named on the command line, where it sets none ([`crate::attributes`]).
    pub target_attributes: crate::attributes::TargetVars,
}

/// Where the two shared files are: `AWS_CONFIG_FILE`, `AWS_SHARED_CREDENTIALS_FILE`, else
/// `~/.aws/config` and `~/.aws/credentials`.
#[derive(Debug, Clone)]
pub struct Files {
    pub config: PathBuf,
    pub credentials: PathBuf,
    /// Where each path came from, for the message that says a file is missing:
    /// `AWS_CONFIG_FILE`, or "" for the default under `HOME`, or "HOME is unset".
    pub config_from: &'static str,
    pub credentials_from: &'static str,
}

/// The profile the environment names, and which variable names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultProfile {
    pub name: String,
    pub variable: &'static str,
    /// `AWS_PROFILE` when `AWS_DEFAULT_PROFILE` wins over it and it names another profile:
    /// the AWS CLI ignores it too, and a warning says so.
    pub ignored: Option<String>,
}

impl DefaultProfile {
    fn from_env(env: &Environ) -> Option<DefaultProfile> {
        let (first, second) = (env.get("AWS_DEFAULT_PROFILE"), env.get("AWS_PROFILE"));
        let (name, variable) = match (first, second) {
            (Some(name), _) => (name, "AWS_DEFAULT_PROFILE"),
            (None, Some(name)) => (name, "AWS_PROFILE"),
            (None, None) => return None,
        };
        Some(DefaultProfile {
            name: name.to_string(),
            variable,
            ignored: second
                .filter(|s| first.is_some_and(|f| f != *s))
                .map(str::to_string),
        })
    }
}

/// The cache's place and patience.
#[derive(Debug, Clone)]
pub struct CacheSettings {
    /// `MFAROLE_CACHE_DIR`, else `$XDG_CACHE_HOME/mfarole` (absolute only, as the XDG spec
    /// says), else `$HOME/.cache/mfarole`; `None`: run without cache.
    pub dir: Option<PathBuf>,
    /// `MFAROLE_REFRESH_MARGIN` (default 5 min): cached credentials that expire sooner are
    /// renewed. 0 allowed.
    pub margin: Duration,
    /// `MFAROLE_LOCK_TIMEOUT` (default 3 min): the longest wait for another run's lock. 0
    /// allowed (fail at once when another run holds it).
    pub lock_timeout: Duration,
}

/// How mfarole talks HTTP(S): see [`crate::net`].
#[derive(Debug, Clone)]
pub struct NetSettings {
    /// `MFAROLE_CONNECT_TIMEOUT` (default 5 s).
    pub connect_timeout: Duration,
    /// `MFAROLE_TIMEOUT` (default 15 s): one whole attempt, connect to last byte.
    pub timeout: Duration,
    /// `AWS_MAX_ATTEMPTS` (default 3, 1 to 10).
    pub attempts: u32,
    /// `AWS_CA_BUNDLE`: extra trusted roots (PEM) for every HTTPS request.
    pub ca_bundle: Option<PathBuf>,
}

/// Endpoint URLs given in the environment, in the SDKs' names.
#[derive(Debug, Clone, Default)]
pub struct EndpointSettings {
    /// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`: every configured URL below (and the
    /// profile's `endpoint_url`) is ignored.
    pub ignore_configured: bool,
    /// `AWS_ENDPOINT_URL`: every service.
    pub all: Option<String>,
    /// `AWS_ENDPOINT_URL_STS`.
    pub sts: Option<String>,
    /// `AWS_ENDPOINT_URL_SSO`: the IAM Identity Center portal.
    pub sso: Option<String>,
    /// `AWS_ENDPOINT_URL_SSO_OIDC`: its token service.
    pub sso_oidc: Option<String>,
    /// `AWS_ENDPOINT_URL_SIGNIN`: the AWS sign-in service's base URL, taken as given (the
    /// console federation endpoint is `<base>/federation`; `aws login` talks to it too). What
    /// else applies (`AWS_ENDPOINT_URL`, `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`) is each user's
    /// to say.
    pub signin_endpoint: Option<String>,
    /// `AWS_USE_FIPS_ENDPOINT` (else the profile's `use_fips_endpoint`): `true` or not.
    pub use_fips: Option<bool>,
    /// `AWS_USE_DUALSTACK_ENDPOINT` (else the profile's `use_dualstack_endpoint`).
    pub use_dualstack: Option<bool>,
    /// `AWS_STS_REGIONAL_ENDPOINTS` (else the profile's `sts_regional_endpoints`): `regional`
    /// (the default) or `legacy`.
    pub sts_regional: Option<String>,
}

impl EndpointSettings {
    /// The endpoint variables, read once with the rest ([`Settings::from_env`]).
    fn from_env(env: &Environ) -> EndpointSettings {
        let get = |name: &str| env.get(name).map(str::to_string);
        // Set, even to nothing: for the variables botocore reads so.
        let set = |name: &str| env.raw(name).map(|v| v.to_string_lossy().into_owned());
        EndpointSettings {
            ignore_configured: env.flag("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"),
            all: get("AWS_ENDPOINT_URL"),
            sts: get("AWS_ENDPOINT_URL_STS"),
            sso: get("AWS_ENDPOINT_URL_SSO"),
            sso_oidc: get("AWS_ENDPOINT_URL_SSO_OIDC"),
            signin_endpoint: get("AWS_ENDPOINT_URL_SIGNIN"),
            // botocore's `ensure_boolean`: `true` in any case is true, anything else false,
            // empty too (set, it wins over the profile's setting).
            use_fips: set("AWS_USE_FIPS_ENDPOINT").map(|v| v.eq_ignore_ascii_case("true")),
            use_dualstack: set("AWS_USE_DUALSTACK_ENDPOINT")
                .map(|v| v.eq_ignore_ascii_case("true")),
            // Set but empty: the default, `regional`, over the profile's setting.
            sts_regional: set("AWS_STS_REGIONAL_ENDPOINTS")
                .map(|v| if v.is_empty() { "regional".into() } else { v }),
        }
    }

    /// The URL configured for one service (`AWS_ENDPOINT_URL_<SERVICE>`, else
    /// `AWS_ENDPOINT_URL`), unless configured URLs are ignored.
    pub fn configured<'a>(&'a self, service: Option<&'a str>) -> Option<&'a str> {
        if self.ignore_configured {
            return None;
        }
        service.or(self.all.as_deref())
    }
}

/// What an mfarole that runs this one left in the environment.
#[derive(Debug, Clone, Default)]
pub struct Outer {
    /// `MFAROLE_PROFILE`: the profile of the mfarole environment we are in.
    pub profile: Option<String>,
    /// `MFAROLE_NESTING`: the profiles of the mfarole environments around us, outermost first.
    pub nesting: Vec<String>,
    /// `MFAROLE_CREDENTIAL_PROCESS`: the profiles whose `credential_process` is running us.
    pub running_processes: Vec<String>,
    /// `AWS_CREDENTIAL_EXPIRATION`, as given.
    pub expiration: Option<String>,
}

/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` (else the older
/// `AWS_SECURITY_TOKEN`), as given. Never shown.
#[derive(Clone, Default)]
pub struct EnvironmentKeys {
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    /// `AWS_ACCOUNT_ID`, when it is an account id (botocore's `EnvProvider` reads it with the
    /// keys; anything else is not passed on).
    pub account_id: Option<String>,
}

impl std::fmt::Debug for EnvironmentKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvironmentKeys")
            .field("access_key_id", &self.access_key_id.is_some())
            .field("secret_access_key", &self.secret_access_key.is_some())
            .field("session_token", &self.session_token.is_some())
            .finish()
    }
}

/// The ECS/EKS container endpoint's variables, judged by `source::container`.
#[derive(Clone, Default)]
pub struct ContainerVars {
    pub relative_uri: Option<String>,
    pub full_uri: Option<String>,
    pub token_file: Option<PathBuf>,
    /// `AWS_CONTAINER_AUTHORIZATION_TOKEN`: a secret, never shown.
    pub token: Option<String>,
}

impl std::fmt::Debug for ContainerVars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContainerVars")
            .field("relative_uri", &self.relative_uri)
            .field("full_uri", &self.full_uri)
            .field("token_file", &self.token_file)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The instance metadata variables, judged by `source::imds` with the profile's settings.
#[derive(Debug, Clone, Default)]
pub struct ImdsVars {
    pub endpoint: Option<String>,
    pub endpoint_mode: Option<String>,
    pub timeout: Option<String>,
    pub attempts: Option<String>,
    /// `AWS_EC2_METADATA_DISABLED=true`.
    pub disabled: bool,
}

/// `AWS_WEB_IDENTITY_TOKEN_FILE`, `AWS_ROLE_ARN`, `AWS_ROLE_SESSION_NAME`: for the profile
/// named on the command line only, as botocore's default chain has them.
#[derive(Debug, Clone, Default)]
pub struct WebIdentityVars {
    pub token_file: Option<String>,
    pub role_arn: Option<String>,
    pub session_name: Option<String>,
}

impl Settings {
    /// Reads and checks every setting. Errors name the variable and say what to do.
    pub fn from_env(env: &Environ) -> Result<Settings> {
        let get = |name: &str| env.get(name).map(str::to_string);
        Ok(Settings {
            files: Files::from_env(env),
            cache: CacheSettings::from_env(env)?,
            net: NetSettings::from_env(env)?,
            mfa_process_timeout: duration(env, "MFAROLE_MFA_PROCESS_TIMEOUT", 60, Zero::Refused)?,
            credential_process_timeout: duration(
                env,
                "MFAROLE_CREDENTIAL_PROCESS_TIMEOUT",
                60,
                Zero::Refused,
            )?,
            server_margin: match env.get("MFAROLE_SERVER_MARGIN") {
                None => None,
                Some(_) => Some(duration(env, "MFAROLE_SERVER_MARGIN", 0, Zero::Refused)?),
            },
            region: get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION")),
            default_profile: DefaultProfile::from_env(env),
            endpoints: EndpointSettings::from_env(env),
            user: get("LOGNAME").or_else(|| get("USER")),
            home: env.home(),
            shell: env.path("SHELL").map(OsString::from),
            login_cache_dir: match env.path("AWS_LOGIN_CACHE_DIRECTORY") {
                Some(dir) => expand_path(dir, env),
                None => env
                    .home()
                    .unwrap_or_else(|| "/".into())
                    .join(".aws/login/cache"),
            },
            tz: get("TZ"),
            browser: get("BROWSER"),
            outer: Outer::from_env(env),
            environment: EnvironmentKeys {
                access_key_id: get("AWS_ACCESS_KEY_ID"),
                secret_access_key: get("AWS_SECRET_ACCESS_KEY"),
                session_token: get("AWS_SESSION_TOKEN").or_else(|| get("AWS_SECURITY_TOKEN")),
                account_id: get("AWS_ACCOUNT_ID").filter(|a| crate::creds::is_account_id(a)),
            },
            container: ContainerVars {
                relative_uri: get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"),
                full_uri: get("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
                token_file: env.path("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"),
                token: get("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
            },
            imds: ImdsVars {
                endpoint: get("AWS_EC2_METADATA_SERVICE_ENDPOINT"),
                endpoint_mode: get("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE"),
                timeout: get("AWS_METADATA_SERVICE_TIMEOUT"),
                attempts: get("AWS_METADATA_SERVICE_NUM_ATTEMPTS"),
                disabled: env.flag("AWS_EC2_METADATA_DISABLED"),
            },
            web_identity: WebIdentityVars {
                token_file: get("AWS_WEB_IDENTITY_TOKEN_FILE"),
                role_arn: get("AWS_ROLE_ARN"),
                session_name: get("AWS_ROLE_SESSION_NAME"),
            },
            target_attributes: crate::attributes::TargetVars {
                source_identity: get("AWS_SOURCE_IDENTITY"),
                session_tags: get("AWS_SESSION_TAGS"),
                transitive_tags: get("AWS_TRANSITIVE_TAGS"),
            },
        })
    }

    /// Settings for unit tests: the defaults of an empty environment.
    #[cfg(test)]
    pub fn for_tests(pairs: &[(&str, &str)]) -> Settings {
        Settings::from_env(&Environ::from_pairs(pairs)).expect("valid test settings")
    }
}

impl Files {
    /// Without `HOME`, `~` is `/`, as container runtimes set it for a user with no passwd
    /// entry (never the working directory, which could hold anyone's `.aws`). A path given in
    /// a variable is expanded as botocore's `raw_config_parse` does: `$VAR` and `${VAR}`
    /// first, then a leading `~` (see [`expand_path`]).
    fn from_env(env: &Environ) -> Files {
        let aws_dir = env.home().unwrap_or_else(|| "/".into()).join(".aws");
        let default = if env.home().is_some() {
            ""
        } else {
            "HOME is unset"
        };
        // Set but empty: botocore reads no file at all (`load_config('')` finds none), where
        // an unset variable means the default file.
        let path = |name: &'static str, file: &str| match env.path(name) {
            Some(p) => (expand_path(p, env), name),
            None if env.raw(name).is_some() => (PathBuf::new(), name),
            None => (aws_dir.join(file), default),
        };
        let (config, config_from) = path("AWS_CONFIG_FILE", "config");
        let (credentials, credentials_from) = path("AWS_SHARED_CREDENTIALS_FILE", "credentials");
        Files {
            config,
            credentials,
            config_from,
            credentials_from,
        }
    }
}

/// Python's `os.path.expandvars` then `os.path.expanduser` (posixpath): `$NAME` and `${NAME}`
/// (NAME of `[A-Za-z0-9_]`) replaced when set, left as written when not; then `~` or `~/...`
/// at the start becomes `HOME`. `~user` is left as written (it would need the user
/// database). A path that is not UTF-8 is used as it is.
pub fn expand_path(path: PathBuf, env: &Environ) -> PathBuf {
    let Some(text) = path.to_str() else {
        return path;
    };
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let word = |s: &str| {
            s.bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                .count()
        };
        let (name, len) = match after.strip_prefix('{') {
            Some(inner) => match inner.find('}') {
                Some(end) => (&inner[..end], end + 2),
                None => ("", 0),
            },
            None => (&after[..word(after)], word(after)),
        };
        match env.path(name).filter(|_| len > 0 && !name.is_empty()) {
            Some(value) => out.push_str(&value.to_string_lossy()),
            None => out.push_str(&rest[at..at + 1 + len]),
        }
        rest = &after[len..];
    }
    out.push_str(rest);
    if let Some(tail) = out.strip_prefix('~')
        && (tail.is_empty() || tail.starts_with('/'))
        && let Some(home) = env.home()
    {
        let home = home.to_string_lossy();
        let home = home.trim_end_matches('/');
        return PathBuf::from(format!(
            "{}{tail}",
            if home.is_empty() { "/" } else { home }
        ));
    }
    PathBuf::from(out)
}

impl CacheSettings {
    fn from_env(env: &Environ) -> Result<CacheSettings> {
        Ok(CacheSettings {
            dir: cache_dir(env),
            margin: duration(env, "MFAROLE_REFRESH_MARGIN", 300, Zero::Allowed)?,
            lock_timeout: duration(env, "MFAROLE_LOCK_TIMEOUT", 180, Zero::Allowed)?,
        })
    }
}

impl NetSettings {
    fn from_env(env: &Environ) -> Result<NetSettings> {
        Ok(NetSettings {
            connect_timeout: duration(env, "MFAROLE_CONNECT_TIMEOUT", 5, Zero::Refused)?,
            timeout: duration(env, "MFAROLE_TIMEOUT", 15, Zero::Refused)?,
            attempts: attempts(env)?,
            ca_bundle: env.path("AWS_CA_BUNDLE"),
        })
    }
}

impl Outer {
    fn from_env(env: &Environ) -> Outer {
        let list = |name: &str| -> Vec<String> {
            env.get(name)
                .map(|v| {
                    v.split(',')
                        .filter(|p| !p.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        Outer {
            profile: env.get("MFAROLE_PROFILE").map(str::to_string),
            nesting: list("MFAROLE_NESTING"),
            running_processes: list(RUNNING),
            expiration: env.get("AWS_CREDENTIAL_EXPIRATION").map(str::to_string),
        }
    }
}

/// Whether 0 is a meaningful value of a duration.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Zero {
    Allowed,
    Refused,
}

/// The one parser of durations from the environment: `300`, `45s`, `5m`, `1h30m`
/// ([`crate::units::parse_duration`]); `default` in seconds when unset.
fn duration(env: &Environ, name: &str, default: u64, zero: Zero) -> Result<Duration> {
    let Some(text) = env.get(name) else {
        return Ok(Duration::from_secs(default));
    };
    match crate::units::parse_duration(text) {
        Some(0) if zero == Zero::Refused => Err(Error::Setting(format!(
            "{name}={} must be longer than 0; fix or unset it",
            clean(text, 20)
        ))),
        Some(secs) => Ok(Duration::from_secs(u64::from(secs))),
        None => Err(Error::Setting(format!(
            "{name}={} is not a duration like 30s, 5m or 1h30m; fix or unset it",
            clean(text, 20)
        ))),
    }
}

fn attempts(env: &Environ) -> Result<u32> {
    let Some(text) = env.get("AWS_MAX_ATTEMPTS") else {
        return Ok(3);
    };
    text.parse::<u32>()
        .ok()
        .filter(|n| (1..=10).contains(n))
        .ok_or_else(|| {
            Error::Setting(format!(
                "AWS_MAX_ATTEMPTS={} is not a number from 1 to 10; fix or unset it",
                clean(text, 20)
            ))
        })
}

fn cache_dir(env: &Environ) -> Option<PathBuf> {
    if let Some(dir) = env.path("MFAROLE_CACHE_DIR") {
        return Some(dir);
    }
    if let Some(xdg) = env.path("XDG_CACHE_HOME").filter(|p| p.is_absolute()) {
        return Some(xdg.join("mfarole"));
    }
    env.home().map(|h| h.join(".cache").join("mfarole"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(pairs: &[(&str, &str)]) -> String {
        Settings::from_env(&Environ::from_pairs(pairs))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn defaults() {
        let s = Settings::for_tests(&[("HOME", "/h")]);
        assert_eq!(s.cache.margin, Duration::from_secs(300));
        assert_eq!(s.cache.lock_timeout, Duration::from_secs(180));
        assert_eq!(s.net.attempts, 3);
        assert_eq!(s.mfa_process_timeout, Duration::from_secs(60));
        assert_eq!(s.credential_process_timeout, Duration::from_secs(60));
        assert_eq!(s.server_margin, None);
        assert_eq!(s.files.config, PathBuf::from("/h/.aws/config"));
        assert_eq!(s.cache.dir, Some(PathBuf::from("/h/.cache/mfarole")));
        let s = Settings::for_tests(&[]);
        assert_eq!(s.files.credentials, PathBuf::from("/.aws/credentials"));
        assert_eq!(s.cache.dir, None);
    }

    #[test]
    fn every_duration_has_one_rule_and_one_message() {
        for name in [
            "MFAROLE_REFRESH_MARGIN",
            "MFAROLE_LOCK_TIMEOUT",
            "MFAROLE_CONNECT_TIMEOUT",
            "MFAROLE_TIMEOUT",
            "MFAROLE_MFA_PROCESS_TIMEOUT",
            "MFAROLE_CREDENTIAL_PROCESS_TIMEOUT",
            "MFAROLE_SERVER_MARGIN",
        ] {
            assert_eq!(
                err(&[(name, "soon")]),
                format!("{name}=soon is not a duration like 30s, 5m or 1h30m; fix or unset it")
            );
            let ok = Settings::from_env(&Environ::from_pairs(&[(name, "1h30m")]));
            assert!(ok.is_ok(), "{name}");
        }
        for name in ["MFAROLE_REFRESH_MARGIN", "MFAROLE_LOCK_TIMEOUT"] {
            assert!(Settings::from_env(&Environ::from_pairs(&[(name, "0")])).is_ok());
        }
        for name in [
            "MFAROLE_TIMEOUT",
            "MFAROLE_MFA_PROCESS_TIMEOUT",
            "MFAROLE_SERVER_MARGIN",
        ] {
            assert!(
                err(&[(name, "0")]).contains("must be longer than 0"),
                "{name}"
            );
        }
        assert!(err(&[("AWS_MAX_ATTEMPTS", "0")]).contains("1 to 10"));
    }

    #[test]
    fn file_paths_expand_as_botocore_expands_them() {
        let env = Environ::from_pairs(&[("HOME", "/h/"), ("D", "alt"), ("E", "x")]);
        let x = |p: &str| expand_path(PathBuf::from(p), &env);
        // Each expected value: posixpath.expanduser(posixpath.expandvars(p)) with that env.
        assert_eq!(x("~/alt/config"), PathBuf::from("/h/alt/config"));
        assert_eq!(x("~"), PathBuf::from("/h"));
        assert_eq!(x("$HOME/$D/config"), PathBuf::from("/h//alt/config"));
        assert_eq!(x("${D}x/$E.ini"), PathBuf::from("altx/x.ini"));
        assert_eq!(x("$NOPE/${NOPE}/$"), PathBuf::from("$NOPE/${NOPE}/$"));
        assert_eq!(x("~other/c"), PathBuf::from("~other/c"));
        assert_eq!(x("/a~/b"), PathBuf::from("/a~/b"));
        let s = Settings::for_tests(&[("HOME", "/h"), ("AWS_CONFIG_FILE", "~/alt/config")]);
        assert_eq!(s.files.config, PathBuf::from("/h/alt/config"));
    }

    #[test]
    fn control_characters_are_not_echoed() {
        let e = err(&[("MFAROLE_TIMEOUT", "\x1b[31mred")]);
        assert!(!e.contains('\x1b'), "{e:?}");
    }

    #[test]
    fn endpoints_and_region() {
        let s = Settings::for_tests(&[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
            ("AWS_ENDPOINT_URL_SSO", "http://127.0.0.1:2"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
        ]);
        assert_eq!(
            s.endpoints.configured(s.endpoints.sso.as_deref()),
            Some("http://127.0.0.1:2")
        );
        assert_eq!(
            s.endpoints.configured(s.endpoints.sts.as_deref()),
            Some("http://127.0.0.1:1")
        );
        assert_eq!(s.region.as_deref(), Some("eu-west-1"));
        let s = Settings::for_tests(&[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
            ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"),
        ]);
        assert_eq!(s.endpoints.configured(None), None);
    }

    #[test]
    fn the_default_profile_is_read_as_botocore_reads_it() {
        let d = |pairs: &[(&str, &str)]| Settings::for_tests(pairs).default_profile;
        assert_eq!(d(&[]), None);
        assert_eq!(d(&[("AWS_PROFILE", "")]), None);
        let p = d(&[("AWS_PROFILE", "dev")]).unwrap();
        assert_eq!(
            (p.name.as_str(), p.variable, p.ignored),
            ("dev", "AWS_PROFILE", None)
        );
        // botocore asks AWS_DEFAULT_PROFILE first (`aws configure get` agrees).
        let p = d(&[("AWS_PROFILE", "dev"), ("AWS_DEFAULT_PROFILE", "old")]).unwrap();
        assert_eq!(
            (p.name.as_str(), p.variable),
            ("old", "AWS_DEFAULT_PROFILE")
        );
        assert_eq!(p.ignored.as_deref(), Some("dev"));
        let p = d(&[("AWS_PROFILE", "old"), ("AWS_DEFAULT_PROFILE", "old")]).unwrap();
        assert_eq!(p.ignored, None);
    }

    #[test]
    fn secrets_do_not_show_in_debug() {
        let s = Settings::for_tests(&[
            ("AWS_SECRET_ACCESS_KEY", "topsecret"),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "tokensecret"),
        ]);
        let shown = format!("{s:?}");
        assert!(!shown.contains("topsecret") && !shown.contains("tokensecret"));
    }
}

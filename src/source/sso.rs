//! IAM Identity Center: the access token that `aws sso login` left in the AWS CLI's token cache
//! (`~/.aws/sso/cache/SHA1.json`), exchanged for role credentials with the portal's
//! GetRoleCredentials (unsigned, the token as a bearer header). A token close to expiry is
//! refreshed as the AWS CLI does (SSO OIDC CreateToken, refresh-token grant) under a lock, so
//! that `make -j8` refreshes once, and the CLI's file is rewritten atomically with its own
//! mode. mfarole never opens a browser: without a usable token it names the exact
//! `aws sso login` command. The token and the client secret are never shown.
//!
//! The profile: `sso_session` naming an `[sso-session]` section (which holds `sso_start_url`
//! and `sso_region`), or the legacy form with both in the profile; and `sso_account_id` +
//! `sso_role_name` in the profile.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use time::OffsetDateTime;
use ureq::http::Uri;

use crate::cache::Cache;
use crate::creds::{Credentials, Issued};
use crate::error::{Error, Result};
use crate::log::Log;
use crate::net::Route;
use crate::profile::Profile;
use crate::settings::Settings;
use crate::token_file::{self, Owner, Problem};
use crate::url::PlainHttp;

use super::{Fetch, Lookup, Provider, Source};

/// An IAM Identity Center profile, resolved: which role of which account, and where the AWS
/// CLI keeps the login's token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sso {
    /// `sso_session`; `None` for the legacy form (`sso_start_url` in the profile).
    pub session: Option<String>,
    pub start_url: String,
    pub region: String,
    pub account_id: String,
    pub role_name: String,
    /// `~/.aws/sso/cache/SHA1.json`: of the session name, or of the start URL (legacy).
    pub token_file: PathBuf,
}

impl Sso {
    /// The command that makes a new login for this profile.
    pub fn login_command(&self, profile: &str) -> String {
        match &self.session {
            Some(s) => format!("aws sso login --sso-session {s}"),
            None => format!("aws sso login --profile {profile}"),
        }
    }
}

/// A profile with `sso_account_id` or `sso_role_name` is an IAM Identity Center profile, and
/// then needs all four settings, `sso_start_url` and `sso_region` from the `[sso-session]`
/// that `sso_session` names (botocore's `SSOProvider._load_sso_config`).
pub fn own(profile: &Profile, lookup: &Lookup) -> Result<Option<Source>> {
    if profile.get("sso_account_id").is_none() && profile.get("sso_role_name").is_none() {
        return Ok(None);
    }
    use sha1::Digest;
    let need = |p: &Profile, key: &str, what: &str| {
        p.get(key).map(str::to_string).ok_or_else(|| {
            Error::profile(
                &profile.name,
                format!("uses IAM Identity Center but {what} has no {key}"),
            )
        })
    };
    let (session, start_url, region) = match profile.get("sso_session") {
        Some(name) => {
            let shown = crate::error::clean(name, 60);
            let Some(section) = lookup.sso_sessions.get(name) else {
                return Err(Error::profile(
                    &profile.name,
                    format!(
                        "has sso_session = {shown}, but the config file has no [sso-session {shown}] section"
                    ),
                ));
            };
            let what = format!("[sso-session {shown}]");
            for key in ["sso_start_url", "sso_region"] {
                if let (Some(mine), Some(theirs)) = (profile.get(key), section.get(key))
                    && mine != theirs
                {
                    return Err(Error::profile(
                        &profile.name,
                        format!("sets {key} to another value than {what} does; keep one"),
                    ));
                }
            }
            (
                Some(name.to_string()),
                need(section, "sso_start_url", &what)?,
                need(section, "sso_region", &what)?,
            )
        }
        None => (
            None,
            need(profile, "sso_start_url", "the profile")?,
            need(profile, "sso_region", "the profile")?,
        ),
    };
    let account_id = need(profile, "sso_account_id", "the profile")?;
    let role_name = need(profile, "sso_role_name", "the profile")?;
    let key = session.as_deref().unwrap_or(&start_url);
    let name: String = sha1::Sha1::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let home = lookup.settings.home.clone().unwrap_or_else(|| "/".into());
    Ok(Some(Source::Sso(Sso {
        session,
        start_url,
        region,
        account_id,
        role_name,
        token_file: home.join(".aws/sso/cache").join(format!("{name}.json")),
    })))
}

impl Provider for Sso {
    fn kind(&self) -> &'static str {
        "IAM Identity Center"
    }

    fn call(&self) -> &'static str {
        "GetRoleCredentials"
    }

    fn describe(&self) -> String {
        format!(
            "GetRoleCredentials {} in account {}",
            self.role_name, self.account_id
        )
    }

    fn reason(&self) -> String {
        "IAM Identity Center: the login's token exchanged for the role (GetRoleCredentials)".into()
    }

    fn cache_key(&self, _: &str, _: &str) -> String {
        format!(
            "v1 sso url={} account={} role={}",
            self.start_url, self.account_id, self.role_name
        )
    }

    fn fetch(&self, ctx: &Fetch) -> Result<Issued> {
        let mut issued = fetch(
            ctx.profile,
            self,
            ctx.settings,
            ctx.cache,
            ctx.log,
            ctx.fail("IAM Identity Center"),
        )?;
        // The account asked for is the account of the credentials (botocore's `SSOProvider`).
        issued.credentials.account_id =
            Some(self.account_id.clone()).filter(|a| crate::creds::is_account_id(a));
        Ok(issued)
    }

    fn status(&self, now: OffsetDateTime) -> Option<String> {
        Some(login_status(self, now))
    }
}

/// As botocore: a token that expires within this is refreshed when it can be.
const REFRESH_WINDOW: time::Duration = time::Duration::minutes(15);

fn fetch(
    profile: &str,
    sso: &Sso,
    settings: &Settings,
    cache: &Cache,
    log: &Log,
    fail: impl Fn(String) -> Error,
) -> Result<Issued> {
    let login = || sso.login_command(profile);
    let path = &sso.token_file;
    log.verbose(format_args!(
        "IAM Identity Center: token file {} ({})",
        path.display(),
        sso.session
            .as_deref()
            .map_or("legacy sso_start_url".to_string(), |s| format!(
                "sso-session {s}"
            ))
    ));
    let mut token =
        read_token(path).map_err(|why| fail(format!("{why}; run '{}' (AWS CLI v2)", login())))?;
    let now = OffsetDateTime::now_utc();
    if token.expires_at - REFRESH_WINDOW <= now {
        // One refresh for every run that needs this login: the others wait, then re-read.
        let _lock = cache.lock(&format!("v1 sso-token file={}", path.display()))?;
        token = read_token(path)
            .map_err(|why| fail(format!("{why}; run '{}' (AWS CLI v2)", login())))?;
        let now = OffsetDateTime::now_utc();
        if token.expires_at - REFRESH_WINDOW <= now {
            match refresh(sso, settings, &token, log) {
                Ok(fresh) => {
                    save(path, &fresh, log, &login());
                    token = fresh;
                }
                Err(r) if token.expires_at > now + time::Duration::seconds(30) => {
                    log.verbose(format_args!(
                        "the token could not be refreshed ({}{}); it is still valid",
                        r.why,
                        r.said
                            .as_deref()
                            .map_or(String::new(), |s| format!(": {s}"))
                    ))
                }
                Err(r) => {
                    let why = format!(
                        "login expired at {} and cannot be refreshed ({}); run '{}' (AWS CLI v2)",
                        crate::cache::show_time(token.expires_at),
                        r.why,
                        login()
                    );
                    return Err(r.error(why, &fail));
                }
            }
        }
    }
    role_credentials(sso, settings, &token.access_token, log).map_err(|r| {
        let why = match r.login_may_help {
            true => format!(
                "{}; run '{}' (AWS CLI v2) if the login is no longer valid",
                r.why,
                login()
            ),
            false => format!("{}; try again later", r.why),
        };
        r.error(why, &fail)
    })
}

/// For `list`: whether the login of an SSO profile is still valid, without a secret.
fn login_status(sso: &Sso, now: OffsetDateTime) -> String {
    match read_token(&sso.token_file) {
        Ok(t) if t.expires_at > now => {
            format!(
                "login valid until {}",
                crate::cache::show_time(t.expires_at)
            )
        }
        Ok(t) if t.json.contains_key("refreshToken") => format!(
            "login expired {} (refreshable)",
            crate::cache::show_time(t.expires_at)
        ),
        Ok(t) => format!("login expired {}", crate::cache::show_time(t.expires_at)),
        Err(_) => "no usable login".to_string(),
    }
}

/// The parts of the AWS CLI's token cache file that matter; the whole file is kept as JSON
/// so that a rewrite keeps every field the CLI wrote.
pub(crate) struct Token {
    pub(crate) access_token: String,
    pub(crate) expires_at: OffsetDateTime,
    json: serde_json::Map<String, serde_json::Value>,
}

/// The AWS CLI's token file, by the rules of every token file ([`token_file`]): never blocked by
/// a FIFO, a regular file, at most 256 KiB; a symlink followed, as botocore does, to a file
/// that must be the user's own; read once more when it does not parse (the CLI rewriting it).
fn read_token(path: &Path) -> std::result::Result<Token, String> {
    let shown = token_file::shown(path);
    token_file::read_parsed(path, 256 * 1024, Owner::Me, |bytes| {
        parse_token(bytes, &shown)
    })
    .map_err(|problem| match problem {
        Problem::Missing => format!("no login found ({shown} does not exist)"),
        Problem::Bad(why) => why,
        other => format!("{shown} {other}"),
    })
}

/// The token file's contents, as the AWS CLI writes them; `shown` names the file in errors.
pub(crate) fn parse_token(text: &[u8], shown: &str) -> std::result::Result<Token, String> {
    let json: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(text)
        .map_err(|_| format!("{shown} is not a token cache file the AWS CLI wrote"))?;
    let access_token = json
        .get("accessToken")
        .and_then(|v| v.as_str())
        .filter(|t| !t.is_empty() && !t.contains(['\r', '\n']))
        .ok_or_else(|| format!("{shown} holds no accessToken"))?
        .to_string();
    let expires_at = json
        .get("expiresAt")
        .and_then(|v| v.as_str())
        .and_then(parse_expiry)
        .ok_or_else(|| format!("{shown} holds no readable expiresAt"))?;
    Ok(Token {
        access_token,
        expires_at,
        json,
    })
}

/// RFC 3339, or the `2019-11-14T04:05:45UTC` form that earlier AWS CLI versions wrote.
fn parse_expiry(text: &str) -> Option<OffsetDateTime> {
    crate::sts::xml::parse_time(text).or_else(|| {
        let t = text.strip_suffix("UTC")?;
        crate::sts::xml::parse_time(&format!("{t}Z"))
    })
}

/// The configured URL of `service` (`AWS_ENDPOINT_URL_SSO[_OIDC]`, `AWS_ENDPOINT_URL`), else
/// AWS's, judged as every URL that gets a secret is ([`crate::url`]).
fn endpoint(configured: Option<&str>, default: String) -> std::result::Result<String, String> {
    let url = configured.map_or(default, |u| u.trim_end_matches('/').to_string());
    crate::url::judge(&url, PlainHttp::Loopback)
        .map(|_| url.clone())
        .map_err(|why| format!("{} {why}", crate::url::shown(&url)))
}

/// `base` + `rest`, judged again whole: the request goes to the URL that was judged.
fn request_uri(base: &str, rest: &str) -> std::result::Result<Uri, String> {
    let url = format!("{base}{rest}");
    crate::url::judge(&url, PlainHttp::Loopback)
        .map_err(|why| format!("{} {why}", crate::url::shown(&url)))
}

/// The portal and the token service are remote AWS services: proxies, `AWS_CA_BUNDLE` and
/// the timeouts as for STS.
fn agent(settings: &Settings) -> std::result::Result<ureq::Agent, String> {
    crate::net::agent(&settings.net, Route::Remote).map_err(|e| e.to_string())
}

/// The portal's or OIDC's error `{"message"}` (or `error_description`, `error`), cleaned, for
/// the error to quote ([`Error::quoting`]: shown, never stored in a failure marker). A message
/// that quotes one of `secrets` (the bearer token; the client secret and refresh token sent to
/// CreateToken) is not shown ([`crate::redact`]).
fn portal_message(body: &[u8], secrets: &[&str]) -> Option<String> {
    let message = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("message")
                .or_else(|| v.get("Message"))
                .or_else(|| v.get("error_description"))
                .or_else(|| v.get("error"))
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })?;
    let shown = match crate::redact::shown(&message, secrets) {
        Some(m) => crate::error::clean(&m, 120),
        None => "(its message quotes a secret of the request: not shown)".into(),
    };
    (!shown.is_empty()).then_some(shown)
}

/// Why a request to the portal or OIDC failed, what the service said ([`portal_message`]),
/// and whether a new `aws sso login` may be the cure (not for throttling, the service's own
/// failures or the network).
struct Refused {
    why: String,
    said: Option<String>,
    login_may_help: bool,
}

impl From<String> for Refused {
    fn from(why: String) -> Refused {
        Refused {
            why,
            said: None,
            login_may_help: true,
        }
    }
}

impl Refused {
    /// The same, with a new login not suggested (throttling, 5xx, the network).
    fn not_a_login_matter(self) -> Refused {
        Refused {
            login_may_help: false,
            ..self
        }
    }

    /// The error of `fail` for `why` (this refusal's words, with what to do), quoting what the
    /// service said.
    fn error(self, why: String, fail: &impl Fn(String) -> Error) -> Error {
        match self.said {
            Some(said) => fail(why).quoting(said),
            None => fail(why),
        }
    }
}

/// GetRoleCredentials, retried as the SDKs' standard mode retries it (throttling, 5xx and
/// the network: [`crate::settings::NetSettings::attempts`] in all, with backoff).
fn role_credentials(
    sso: &Sso,
    settings: &Settings,
    token: &str,
    log: &Log,
) -> std::result::Result<Issued, Refused> {
    let endpoints = &settings.endpoints;
    let base = endpoint(
        endpoints.configured(endpoints.sso.as_deref()),
        format!("https://portal.sso.{}.amazonaws.com", sso.region),
    )?;
    let uri = request_uri(
        &base,
        &format!(
            "/federation/credentials?account_id={}&role_name={}",
            encode(&sso.account_id),
            encode(&sso.role_name)
        ),
    )?;
    let agent = agent(settings)?;
    let attempts = settings.net.attempts;
    crate::net::retrying(attempts, |attempt| {
        log.verbose(format_args!(
            "GetRoleCredentials {} in account {} → {base} (attempt {attempt}/{attempts})",
            sso.role_name, sso.account_id
        ));
        let answer = agent
            .get(uri.clone())
            .header("x-amz-sso_bearer_token", token)
            .call();
        let mut response = answer.map_err(|e| {
            let why = format!(
                "GetRoleCredentials at {base}: {}",
                crate::net::transport_text(&e)
            );
            (Refused::from(why).not_a_login_matter(), true)
        })?;
        let status = response.status().as_u16();
        let body = super::read_body(&mut response).map_err(|e| {
            let why = format!(
                "GetRoleCredentials at {base}: no whole answer ({})",
                crate::error::io_text(&e)
            );
            (Refused::from(why), false)
        })?;
        match status {
            200 => parse_role_credentials(&body, &base).map_err(|why| (why.into(), false)),
            429 | 500.. => Err((refusal(sso, &base, status, &body, token), true)),
            _ => Err((
                Refused {
                    login_may_help: true,
                    ..refusal(sso, &base, status, &body, token)
                },
                false,
            )),
        }
    })
}

/// Why the portal said no, and what it said (never the bearer `token`); a new login is not
/// the cure unless the caller says so.
fn refusal(sso: &Sso, base: &str, status: u16, body: &[u8], token: &str) -> Refused {
    let why = match status {
        401 => "refused the login's token (401)".to_string(),
        403 => format!(
            "refused role {} in account {} (403)",
            crate::error::clean(&sso.role_name, 64),
            crate::error::clean(&sso.account_id, 20),
        ),
        s => format!("GetRoleCredentials at {base} answered {s}"),
    };
    Refused {
        why,
        said: portal_message(body, &[token]),
        login_may_help: false,
    }
}

/// GetRoleCredentials' `roleCredentials`, checked.
fn parse_role_credentials(body: &[u8], base: &str) -> std::result::Result<Issued, String> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Role {
        access_key_id: String,
        secret_access_key: String,
        session_token: String,
        expiration: i64,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Answer {
        role_credentials: Role,
    }
    let answer: Answer = serde_json::from_slice(body)
        .map_err(|_| format!("GetRoleCredentials at {base} gave no roleCredentials"))?;
    let r = answer.role_credentials;
    let expiration =
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(r.expiration) * 1_000_000)
            .map_err(|_| "GetRoleCredentials gave an expiration out of range".to_string())?;
    let credentials = Credentials {
        access_key_id: r.access_key_id,
        secret_access_key: r.secret_access_key,
        session_token: Some(r.session_token),
        expiration: Some(expiration),
        account_id: None,
    };
    if let Some(part) = credentials.bad_part() {
        return Err(format!(
            "GetRoleCredentials gave a {part} with a control character"
        ));
    }
    if expiration <= OffsetDateTime::now_utc() {
        return Err("GetRoleCredentials gave credentials that already expired".into());
    }
    Ok(Issued {
        credentials,
        arn: None,
    })
}

/// Percent-encoding for a query value (RFC 3986 unreserved kept).
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// CreateToken with the refresh-token grant: the new token, for [`save`] to write.
fn refresh(
    sso: &Sso,
    settings: &Settings,
    token: &Token,
    log: &Log,
) -> std::result::Result<Token, Refused> {
    let field = |k: &str| {
        token
            .json
            .get(k)
            .and_then(|v| v.as_str())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("the cache file has no {k}"))
    };
    let (client_id, client_secret, refresh_token) = (
        field("clientId")?,
        field("clientSecret")?,
        field("refreshToken")?,
    );
    if let Some(reg) = token
        .json
        .get("registrationExpiresAt")
        .and_then(|v| v.as_str())
        && parse_expiry(reg).is_some_and(|t| t <= OffsetDateTime::now_utc())
    {
        return Err(String::from("the client registration expired").into());
    }
    let endpoints = &settings.endpoints;
    let base = endpoint(
        endpoints.configured(endpoints.sso_oidc.as_deref()),
        format!("https://oidc.{}.amazonaws.com", sso.region),
    )?;
    log.verbose(format_args!(
        "refreshing the login's token: CreateToken → {base}/token"
    ));
    let body = serde_json::json!({
        "clientId": client_id,
        "clientSecret": client_secret,
        "grantType": "refresh_token",
        "refreshToken": refresh_token,
    })
    .to_string();
    let mut response = agent(settings)?
        .post(request_uri(&base, "/token")?)
        .header("content-type", "application/json")
        .send(&body)
        .map_err(|e| format!("CreateToken at {base}: {}", crate::net::transport_text(&e)))?;
    let status = response.status().as_u16();
    let answer = super::read_body(&mut response).map_err(|e| crate::error::io_text(&e))?;
    if status != 200 {
        return Err(Refused {
            why: format!("CreateToken answered {status}"),
            said: portal_message(&answer, &[client_secret, refresh_token, client_id]),
            login_may_help: true,
        });
    }
    Ok(renewed(token, &answer)?)
}

/// Writes a refreshed token back to the CLI's file. When that fails (a read-only cache
/// directory), the run still uses the token it holds: CreateToken may have spent the refresh
/// token on disk, so failing the run would leave the user nothing but a new login. It says so,
/// and what to do when this token ends. (The rule for every file mfarole rewrites for another
/// tool.)
fn save(path: &Path, fresh: &Token, log: &Log, login: &str) {
    let text = serde_json::Value::Object(fresh.json.clone()).to_string();
    if let Err(e) = rewrite(path, &text) {
        log.warn(format_args!(
            "cannot update {} with the refreshed login ({}); this run uses it, but the file keeps the old one: when this login expires at {}, run '{login}' (AWS CLI v2)",
            token_file::shown(path),
            crate::error::io_text(&e),
            crate::cache::show_time(fresh.expires_at)
        ));
    }
}

/// The token file's contents after CreateToken answered `answer`: every field the CLI wrote,
/// with the new access token, its expiry, and the refresh token when it was rotated.
fn renewed(token: &Token, answer: &[u8]) -> std::result::Result<Token, String> {
    let v: serde_json::Value =
        serde_json::from_slice(answer).map_err(|_| "CreateToken gave no JSON".to_string())?;
    let access = v
        .get("accessToken")
        .and_then(|t| t.as_str())
        .filter(|t| !t.is_empty() && !t.contains(['\r', '\n']))
        .ok_or("CreateToken gave no accessToken")?;
    let expires_in = v
        .get("expiresIn")
        .and_then(|t| t.as_i64())
        .filter(|&n| n > 0)
        .ok_or("CreateToken gave no expiresIn")?;
    let expires_at = (OffsetDateTime::now_utc() + time::Duration::seconds(expires_in))
        .replace_nanosecond(0)
        .map_err(|e| e.to_string())?;
    let mut json = token.json.clone();
    json.insert("accessToken".into(), access.into());
    json.insert(
        "expiresAt".into(),
        expires_at
            .format(&time::format_description::well_known::Rfc3339)
            .map_err(|e| e.to_string())?
            .into(),
    );
    if let Some(rt) = v
        .get("refreshToken")
        .and_then(|t| t.as_str())
        .filter(|t| !t.is_empty())
    {
        json.insert("refreshToken".into(), rt.into());
    }
    Ok(Token {
        access_token: access.to_string(),
        expires_at,
        json,
    })
}

/// Replaces the CLI's file with a new one of the same mode (at most 0600). A symlinked file
/// (read only when its target is the user's) is replaced at its target, so the link stays.
fn rewrite(path: &Path, text: &str) -> std::io::Result<()> {
    let target = std::fs::canonicalize(path)?;
    let mode = std::fs::metadata(&target)?.permissions().mode() & 0o777;
    crate::atomic::write_private(&target, text.as_bytes(), mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_expiry_forms_parse() {
        let a = parse_expiry("2019-11-14T04:05:45Z").unwrap();
        assert_eq!(parse_expiry("2019-11-14T04:05:45UTC"), Some(a));
        assert!(parse_expiry("tomorrow").is_none());
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(encode("Admin Access/x"), "Admin%20Access%2Fx");
    }
}

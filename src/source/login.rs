//! An `aws login` session (AWS CLI v2.32+): the user signed in once in a browser with their
//! console credentials and MFA (a passkey or a security key, which GetSessionToken does not
//! take), and the CLI keeps short-lived credentials (at most 15 minutes) and a refresh token
//! in `${AWS_LOGIN_CACHE_DIRECTORY:-~/.aws/login/cache}/SHA256.json`, SHA256 being the hex
//! digest of the profile's `login_session` value (botocore `generate_login_cache_key`).
//!
//! The contract is botocore's `LoginProvider` and `LoginCredentialFetcher` (botocore 1.43,
//! `credentials.py`) and the AWS CLI's `awscli/customizations/login`:
//! - credentials with more than 5 minutes left are used as they are, with no network;
//! - otherwise Sign-In's `CreateOAuth2Token` (`POST {endpoint}/v1/token`, JSON `{clientId,
//!   grantType: "refresh_token", refreshToken}`, unsigned) with a `DPoP` header: an ES256 JWT
//!   signed with the session's P-256 key (`dpopKey`), whose header carries the public key as a
//!   JWK and whose claims are `htm`, `htu` (the request URL), `iat` and a fresh `jti` (RFC
//!   9449). The answer's `accessToken`, `expiresIn` and the rotated `refreshToken` are written
//!   back to the same file, every other field kept, so that the CLI and botocore go on using it.
//!
//! What mfarole adds: the refresh runs under mfarole's lock (N parallel runs make one), and
//! since the CLI and botocore take no lock, a refresh refused as a spent grant re-reads the
//! file: another program that rotated the token meanwhile left what this run needs. The
//! credentials are not kept in mfarole's cache: the login file is the cache, and `aws logout`
//! (which deletes it) must end the session for mfarole at once. The refresh token, the DPoP
//! key, the id token and the credentials are never shown.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::creds::{Credentials, Issued};
use crate::error::{Error, Result};
use crate::log::Log;
use crate::net::Route;
use crate::profile::Profile;
use crate::settings::Settings;
use crate::token_file::{self, Owner, Problem};
use crate::url::PlainHttp;

use super::{Fetch, Lookup, Provider, Source};

/// A profile with `login_session`, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    /// The profile that holds `login_session`: the one `aws login --profile` names.
    pub profile: String,
    /// `login_session`: the signed-in principal's ARN as `aws login` wrote it (not a secret).
    pub session: String,
    /// The session's file in the login cache.
    pub cache_file: PathBuf,
}

impl Login {
    /// The command that makes a new session for this profile.
    pub fn login_command(&self) -> String {
        match self.profile.as_str() {
            "default" => "aws login".to_string(),
            p => format!("aws login --profile {p}"),
        }
    }
}

/// A profile with `login_session` is an `aws login` profile (botocore's `LoginProvider.load`,
/// which comes after the credentials file's keys and before `credential_process`).
pub fn own(profile: &Profile, lookup: &Lookup) -> Result<Option<Source>> {
    let Some(session) = profile.get("login_session") else {
        return Ok(None);
    };
    if session.is_empty() {
        return Err(Error::profile(
            &profile.name,
            "has an empty login_session; run 'aws login' for it (AWS CLI v2.32 or later)",
        ));
    }
    use sha2::Digest;
    let name: String = sha2::Sha256::digest(session.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(Some(Source::Login(Login {
        profile: profile.name.clone(),
        session: session.to_string(),
        cache_file: lookup.settings.login_cache_dir.join(format!("{name}.json")),
    })))
}

impl Provider for Login {
    fn kind(&self) -> &'static str {
        "aws login"
    }

    fn describe(&self) -> String {
        format!(
            "the aws login session {}",
            crate::error::clean(&self.session, 120)
        )
    }

    fn reason(&self) -> String {
        "aws login: the session's credentials from the AWS CLI's login cache, refreshed when due"
            .into()
    }

    fn cache_key(&self, _: &str, _: &str) -> String {
        format!(
            "v1 login session={} file={}",
            self.session,
            self.cache_file.display()
        )
    }

    fn cached(&self) -> bool {
        false
    }

    fn fetch(&self, ctx: &Fetch) -> Result<Issued> {
        let fail = ctx.fail("aws login session");
        let login = self.login_command();
        fetch(self, ctx).map_err(|why| match why {
            Why::Login(why) => fail(format!("{why}; run '{login}' (AWS CLI v2.32 or later)")),
            Why::Other(why) => fail(why),
        })
    }

    fn status(&self, now: OffsetDateTime) -> Option<String> {
        Some(match read_session(&self.cache_file) {
            Ok(s) if s.expires_at - WINDOW > now => {
                format!(
                    "login valid until {}",
                    crate::cache::show_time(s.expires_at)
                )
            }
            Ok(s) => format!(
                "login credentials due {} (refreshable)",
                crate::cache::show_time(s.expires_at)
            ),
            Err(_) => format!("no usable login: needs '{}'", self.login_command()),
        })
    }
}

/// botocore's `_REFRESH_THRESHOLD`: credentials with less left are refreshed.
const WINDOW: time::Duration = time::Duration::minutes(5);

/// Credentials with at least this much left are used rather than waiting for another run's
/// refresh for longer than [`LOCK_PATIENCE`].
const STILL_USABLE: time::Duration = time::Duration::seconds(60);
const LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_secs(2);

/// After the service refuses a refresh token as spent, how long to watch the file for the
/// program that spent it (the AWS CLI, botocore) to write what it got: its refresh may still be
/// on the wire when mfarole's is refused.
const SPENT_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);

/// Why a fetch failed: `Login` when only a new `aws login` helps (the hint is added).
enum Why {
    Login(String),
    Other(String),
}

fn fetch(login: &Login, ctx: &Fetch) -> std::result::Result<Issued, Why> {
    let (path, log) = (&login.cache_file, ctx.log);
    log.verbose(format_args!(
        "aws login session {}: file {}",
        crate::error::clean(&login.session, 120),
        token_file::shown(path)
    ));
    let session = read_session(path).map_err(Why::Login)?;
    if session.expires_at - WINDOW > OffsetDateTime::now_utc() {
        log.verbose(format_args!(
            "its credentials are valid until {}: no refresh",
            crate::cache::show_time(session.expires_at)
        ));
        return Ok(session.issued());
    }
    // One refresh for every run that needs this session: the others wait, then re-read. A
    // run whose credentials still work does not wait for another's refresh (a sign-in service
    // that hangs would otherwise queue every run of `make -j8` behind it): it uses them.
    let key = format!("v1 login-file file={}", path.display());
    let _lock = if session.expires_at - STILL_USABLE > OffsetDateTime::now_utc() {
        match ctx.cache.lock_within(&key, LOCK_PATIENCE) {
            Err(Error::LockTimeout { .. }) => {
                log.verbose(format_args!(
                    "another mfarole is refreshing this session; using its credentials, valid until {}",
                    crate::cache::show_time(session.expires_at)
                ));
                return Ok(session.issued());
            }
            other => other,
        }
    } else {
        ctx.cache.lock(&key)
    }
    .map_err(|e| Why::Other(e.to_string()))?;
    let mut sent = None;
    // Twice at most: a second time when another program rotated the token meanwhile.
    for _ in 0..2 {
        let session = read_session(path).map_err(Why::Login)?;
        if session.expires_at - WINDOW > OffsetDateTime::now_utc() {
            log.verbose(format_args!(
                "the session was refreshed meanwhile (by another run or program): valid until {}",
                crate::cache::show_time(session.expires_at)
            ));
            return Ok(session.issued());
        }
        if sent.is_some() && sent.as_deref() == Some(session.refresh_token.as_str()) {
            break; // the file did not change: the refusal stands
        }
        match refresh(&session, ctx) {
            Ok(fresh) => {
                save(path, &fresh, log, &login.login_command());
                return Ok(fresh.issued());
            }
            Err(Refusal::Spent(why)) => {
                log.verbose(format_args!(
                    "{why}; reading the file again, in case another program refreshed it"
                ));
                wait_for_rewrite(path, &session.refresh_token);
                sent = Some(session.refresh_token.clone());
            }
            Err(Refusal::Ended(why)) => return Err(Why::Login(why)),
            Err(Refusal::Failed(why) | Refusal::Unusable(why))
                if session.expires_at > OffsetDateTime::now_utc() =>
            {
                log.warn(format_args!(
                    "cannot refresh the aws login session ({why}); using its credentials, valid until {}",
                    crate::cache::show_time(session.expires_at)
                ));
                return Ok(session.issued());
            }
            // Only a new `aws login` writes a usable key; the rest may pass.
            Err(Refusal::Unusable(why)) => return Err(Why::Login(unrefreshable(&session, &why))),
            Err(Refusal::Failed(why)) => return Err(Why::Other(unrefreshable(&session, &why))),
        }
    }
    Err(Why::Login(
        "was refused: the sign-in service no longer takes its refresh token (INVALID_REQUEST), and no other program has refreshed it".into(),
    ))
}

fn unrefreshable(session: &Session, why: &str) -> String {
    format!(
        "expired at {} and cannot be refreshed: {why}",
        crate::cache::show_time(session.expires_at)
    )
}

/// The login cache file: what mfarole needs of it, and the whole of it as JSON, so that a
/// rewrite keeps every field the CLI wrote.
struct Session {
    credentials: Credentials,
    expires_at: OffsetDateTime,
    client_id: String,
    refresh_token: String,
    dpop_key: String,
    json: Map<String, Value>,
}

/// Shows no secret: the credentials masked, the expiry; never the tokens or the key.
impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("credentials", &self.credentials)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl Session {
    fn issued(&self) -> Issued {
        Issued {
            credentials: self.credentials.clone(),
            arn: None,
        }
    }
}

/// Waits up to [`SPENT_PATIENCE`] for the file to hold another refresh token than `spent`.
fn wait_for_rewrite(path: &Path, spent: &str) {
    let started = std::time::Instant::now();
    while started.elapsed() < SPENT_PATIENCE {
        if read_session(path).is_ok_and(|s| s.refresh_token != spent) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// The login cache file, by the rules of every token file ([`token_file`]): a regular file of
/// the user's own, at most 64 KiB, read once more when it does not parse (the CLI rewrites it
/// in place).
fn read_session(path: &Path) -> std::result::Result<Session, String> {
    let shown = token_file::shown(path);
    token_file::read_parsed(path, 64 * 1024, Owner::Me, |bytes| {
        parse_session(bytes, &shown)
    })
    .map_err(|problem| match problem {
        Problem::Missing => format!("is not there ({shown} does not exist)"),
        Problem::Bad(why) => why,
        other => format!("{shown} {other}"),
    })
}

/// The file's contents, as `aws login` writes them; `shown` names the file in errors, which
/// never quote a value.
fn parse_session(text: &[u8], shown: &str) -> std::result::Result<Session, String> {
    let json: Map<String, Value> = serde_json::from_slice(text)
        .map_err(|_| format!("{shown} is not a login cache file the AWS CLI wrote"))?;
    // botocore's `_REQUIRED_TOKEN_FIELDS`.
    for key in ["accessToken", "refreshToken", "dpopKey", "clientId"] {
        if !json.contains_key(key) {
            return Err(format!("{shown} has no {key}"));
        }
    }
    let text = |v: Option<&Value>, key: &str| {
        v.and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .ok_or_else(|| format!("{shown} has no usable {key}"))
    };
    let access = json.get("accessToken");
    let field = |key: &str| {
        text(
            access.and_then(|a| a.get(key)),
            &format!("accessToken.{key}"),
        )
    };
    let expires_at = crate::sts::xml::parse_time(&field("expiresAt")?)
        .ok_or_else(|| format!("{shown} has an accessToken.expiresAt that is not a time"))?;
    let credentials = Credentials {
        access_key_id: field("accessKeyId")?,
        secret_access_key: field("secretAccessKey")?,
        session_token: Some(field("sessionToken")?),
        expiration: Some(expires_at),
        account_id: field("accountId")
            .ok()
            .filter(|a| crate::creds::is_account_id(a)),
    };
    if let Some(part) = credentials.bad_part() {
        return Err(format!("{shown} has a {part} with a control character"));
    }
    Ok(Session {
        credentials,
        expires_at,
        client_id: text(json.get("clientId"), "clientId")?,
        refresh_token: text(json.get("refreshToken"), "refreshToken")?,
        dpop_key: text(json.get("dpopKey"), "dpopKey")?,
        json,
    })
}

/// Why a refresh did not give new credentials.
enum Refusal {
    /// `INVALID_REQUEST` to a well-formed request: what a refresh token already spent gets.
    Spent(String),
    /// The session is over (`TOKEN_EXPIRED`, `USER_CREDENTIALS_CHANGED`): a new login is needed.
    Ended(String),
    /// Anything else: permissions, throttling, the service, the network, the answer.
    Failed(String),
    /// The file cannot sign a refresh (its `dpopKey` is not a P-256 key): only a new
    /// `aws login` writes a usable one.
    Unusable(String),
}

/// The sign-in service's URL: `AWS_ENDPOINT_URL_SIGNIN` (else `AWS_ENDPOINT_URL`) as given,
/// else the region's (botocore's `signin` endpoint rules, [`crate::partition`]).
fn endpoint(settings: &Settings, region: Option<&str>) -> std::result::Result<String, String> {
    let e = &settings.endpoints;
    let url = match e.configured(e.signin_endpoint.as_deref()) {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => {
            let region = region.ok_or(
                "needs a refresh, and no region says which sign-in service to ask; add region = REGION to the profile, or set AWS_REGION",
            )?;
            crate::partition::Partition::of_region(Some(region)).regional_signin(region)
        }
    };
    crate::url::judge(&url, PlainHttp::Loopback)
        .map(|_| url.clone())
        .map_err(|why| format!("the sign-in endpoint {} {why}", crate::url::shown(&url)))
}

/// CreateOAuth2Token with the refresh-token grant, retried as the SDKs' standard mode does
/// (throttling, 5xx and the network; a fresh DPoP proof each time, whose `jti` is single-use).
fn refresh(session: &Session, ctx: &Fetch) -> std::result::Result<Session, Refusal> {
    let settings = ctx.settings;
    let base = endpoint(settings, ctx.region).map_err(Refusal::Failed)?;
    let url = format!("{base}/v1/token");
    let uri = crate::url::judge(&url, PlainHttp::Loopback)
        .map_err(|why| Refusal::Failed(format!("{} {why}", crate::url::shown(&url))))?;
    let key = dpop::Key::from_pem(&session.dpop_key).map_err(Refusal::Unusable)?;
    let agent = crate::net::agent(&settings.net, Route::Remote)
        .map_err(|e| Refusal::Failed(e.to_string()))?;
    let body = serde_json::json!({
        "clientId": session.client_id,
        "grantType": "refresh_token",
        "refreshToken": session.refresh_token,
    })
    .to_string();
    let attempts = settings.net.attempts;
    crate::net::retrying(attempts, |attempt| {
        ctx.log.verbose(format_args!(
            "refreshing the aws login session: CreateOAuth2Token → {url} (attempt {attempt}/{attempts})"
        ));
        let final_ = |why: String| (Refusal::Failed(why), false);
        let proof = key.proof("POST", &url).map_err(final_)?;
        let answer = agent
            .post(uri.clone())
            .header("content-type", "application/json")
            .header("DPoP", &proof)
            .send(&body);
        let mut response = answer.map_err(|e| {
            let why = format!(
                "CreateOAuth2Token at {base}: {}",
                crate::net::transport_text(&e)
            );
            (Refusal::Failed(why), true)
        })?;
        let status = response.status().as_u16();
        let kind = response
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = super::read_body(&mut response)
            .map_err(|e| final_(format!("CreateOAuth2Token: {}", crate::error::io_text(&e))))?;
        if status == 200 {
            return renewed(session, &text).map_err(final_);
        }
        let retry = status == 429 || status >= 500;
        Err((refusal(status, kind.as_deref(), &text, session), retry))
    })
}

/// What a refusal means, decided on the body's `error` field as botocore decides
/// (`LoginCredentialFetcher.refresh_credentials`), with the status only where the field is
/// shared (throttling answers `INVALID_REQUEST` too). The message is shown cleaned, and not at
/// all if it quotes the refresh token.
fn refusal(status: u16, kind: Option<&str>, body: &[u8], session: &Session) -> Refusal {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let error = v.get("error").and_then(Value::as_str).unwrap_or("");
    let kind = kind
        .or_else(|| v.get("__type").and_then(Value::as_str))
        .map(|k| k.split([':', '#']).next_back().unwrap_or(k))
        .unwrap_or("");
    let message = v
        .get("message")
        .and_then(Value::as_str)
        .filter(|m| !m.contains(&session.refresh_token) && !m.contains(&session.client_id))
        .map(|m| format!(": {}", crate::error::clean(m, 120)))
        .unwrap_or_default();
    let said = |what: &str| {
        // Only names that look like the service's codes are shown: the field is the
        // answer's text, and one that echoed the refresh token would print it (found by
        // fuzzing).
        let code = |s: &str| {
            !s.is_empty()
                && s.len() <= 40
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        };
        let name = [kind, error]
            .into_iter()
            .filter(|s| code(s))
            .collect::<Vec<_>>()
            .join(" ");
        format!(
            "{what} ({status}{}{}{message})",
            if name.is_empty() { "" } else { " " },
            name
        )
    };
    match error {
        _ if status == 429 => Refusal::Failed(said(
            "the sign-in service is throttling refreshes; try again in a minute",
        )),
        _ if status >= 500 => Refusal::Failed(said("the sign-in service failed; try again later")),
        "TOKEN_EXPIRED" | "USER_CREDENTIALS_CHANGED" => {
            Refusal::Ended(said("has ended or its credentials changed"))
        }
        "INSUFFICIENT_PERMISSIONS" => Refusal::Failed(said(
            "the user lacks permission for signin:CreateOAuth2Token; ask an administrator to allow it",
        )),
        "INVALID_REQUEST" if status == 400 => {
            Refusal::Spent(said("the sign-in service refused the refresh token"))
        }
        _ => Refusal::Failed(said("the sign-in service refused the refresh")),
    }
}

/// The file's contents after CreateOAuth2Token answered `answer` (its `tokenOutput`): new
/// credentials with `expiresAt` = now + `expiresIn` and the old `accountId`, the rotated
/// refresh token, every other field as it was (botocore's `refresh_credentials` does the same).
fn renewed(session: &Session, answer: &[u8]) -> std::result::Result<Session, String> {
    let v: Value =
        serde_json::from_slice(answer).map_err(|_| "CreateOAuth2Token gave no JSON".to_string())?;
    let get = |key: &str| {
        v.get("accessToken")
            .and_then(|a| a.get(key))
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| format!("CreateOAuth2Token gave no accessToken.{key}"))
    };
    let expires_in = v
        .get("expiresIn")
        .and_then(Value::as_i64)
        .filter(|&n| n > 0)
        .ok_or("CreateOAuth2Token gave no expiresIn")?;
    let refresh_token = v
        .get("refreshToken")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or("CreateOAuth2Token gave no refreshToken")?;
    // Checked: an answer's expiresIn is not trusted to keep the date within range.
    let expires_at = OffsetDateTime::now_utc()
        .checked_add(time::Duration::seconds(expires_in))
        .ok_or("CreateOAuth2Token gave an expiresIn out of range")?
        .replace_nanosecond(0)
        .map_err(|e| e.to_string())?;
    let mut access = Map::new();
    access.insert("accessKeyId".into(), get("accessKeyId")?.into());
    access.insert("secretAccessKey".into(), get("secretAccessKey")?.into());
    access.insert("sessionToken".into(), get("sessionToken")?.into());
    if let Some(account) = session.json["accessToken"].get("accountId") {
        access.insert("accountId".into(), account.clone());
    }
    access.insert(
        "expiresAt".into(),
        expires_at
            .format(&time::format_description::well_known::Rfc3339)
            .map_err(|e| e.to_string())?
            .into(),
    );
    let mut json = session.json.clone();
    json.insert("accessToken".into(), Value::Object(access));
    json.insert("refreshToken".into(), refresh_token.into());
    let text = serde_json::to_vec(&json).map_err(|e| e.to_string())?;
    parse_session(&text, "the refreshed session")
}

/// Writes a refreshed session back to the CLI's file, atomically with the file's own mode (at
/// most 0600). When that fails (a read-only directory), the run still uses what it holds: the
/// refresh spent the token on disk, so failing would leave nothing but a new login. It says
/// so, and what to do when these credentials end (the rule of every file mfarole rewrites for
/// another tool; see `sso.rs`).
fn save(path: &Path, fresh: &Session, log: &Log, login: &str) {
    let text = Value::Object(fresh.json.clone()).to_string();
    let written = std::fs::canonicalize(path).and_then(|target| {
        let mode = std::fs::metadata(&target)?.permissions().mode() & 0o777;
        crate::atomic::write_private(&target, text.as_bytes(), mode)
    });
    match written {
        Ok(()) => log.verbose(format_args!(
            "refreshed: valid until {}; {} rewritten",
            crate::cache::show_time(fresh.expires_at),
            token_file::shown(path)
        )),
        Err(e) => log.warn(format_args!(
            "cannot update {} with the refreshed aws login session ({}); this run uses it, but the file keeps a spent refresh token: after {}, run '{login}'",
            token_file::shown(path),
            crate::error::io_text(&e),
            crate::cache::show_time(fresh.expires_at)
        )),
    }
}

/// DPoP proofs (RFC 9449) as botocore's `_build_dpop_header` makes them: ES256 with RustCrypto's
/// `p256` (RFC 6979 nonces, so no random source is needed to sign), the key as a JWK.
mod dpop {
    use base64ct::{Base64, Base64UrlUnpadded, Encoding};
    use p256::ecdsa::{Signature, SigningKey, signature::Signer};

    /// The session's key. Its `Debug` shows nothing.
    pub struct Key(SigningKey);

    impl std::fmt::Debug for Key {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Key(<redacted>)")
        }
    }

    impl Key {
        /// A PEM P-256 private key, SEC1 (`EC PRIVATE KEY`, what the AWS CLI writes) or PKCS#8
        /// (`PRIVATE KEY`): read as botocore reads it, the armour lines dropped and the rest
        /// decoded as DER of either form. Errors never quote the key.
        pub fn from_pem(pem: &str) -> Result<Key, String> {
            let body: String = pem
                .lines()
                .filter(|l| !l.starts_with("-----BEGIN") && !l.starts_with("-----END"))
                .map(str::trim)
                .collect();
            let der = Base64::decode_vec(&body)
                .map_err(|_| "the session's dpopKey is not a PEM key".to_string())?;
            let secret = p256::SecretKey::from_der(&der).map_err(|_| {
                "the session's dpopKey is not a P-256 private key (SEC1 or PKCS#8)".to_string()
            })?;
            Ok(Key(SigningKey::from(secret)))
        }

        /// The public key as a JWK (RFC 7518 §6.2.1).
        fn jwk(&self) -> serde_json::Value {
            let point = self.0.verifying_key().to_sec1_point(false);
            let coordinate = |c: Option<&[u8]>| Base64UrlUnpadded::encode_string(c.unwrap_or(&[]));
            serde_json::json!({
                "kty": "EC",
                "x": coordinate(point.x().map(|x| x.as_slice())),
                "y": coordinate(point.y().map(|y| y.as_slice())),
                "crv": "P-256",
            })
        }

        /// A proof for one request: `method` to `url`, now, with a new `jti`.
        pub fn proof(&self, method: &str, url: &str) -> Result<String, String> {
            let iat = time::OffsetDateTime::now_utc().unix_timestamp();
            self.proof_at(method, url, iat, &jti()?)
        }

        pub(super) fn proof_at(
            &self,
            method: &str,
            url: &str,
            iat: i64,
            jti: &str,
        ) -> Result<String, String> {
            let header = serde_json::json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk()});
            let claims = serde_json::json!({"htm": method, "htu": url, "iat": iat, "jti": jti});
            let part =
                |v: &serde_json::Value| Base64UrlUnpadded::encode_string(v.to_string().as_bytes());
            let input = format!("{}.{}", part(&header), part(&claims));
            let signature: Signature = self.0.sign(input.as_bytes());
            Ok(format!(
                "{input}.{}",
                Base64UrlUnpadded::encode_string(&signature.to_bytes())
            ))
        }
    }

    /// A random UUID (version 4), as botocore's `uuid.uuid4()`: the proof's single-use id.
    fn jti() -> Result<String, String> {
        let mut b = [0u8; 16];
        rustix::rand::getrandom(&mut b, rustix::rand::GetRandomFlags::empty())
            .map_err(|e| format!("no random bytes for the DPoP proof: {e}"))?;
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
        Ok(format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..]
        ))
    }
}

/// The properties the fuzzers check of everything here that reads bytes from elsewhere
/// ([`crate::fuzz_targets::login`]): a login cache file (`data`), a CreateOAuth2Token answer
/// and an error answer (`data` again, against a fixed session). What parses writes back and
/// parses to the same session; a renewal keeps every field of the file but the ones it
/// replaces; no error, refusal or message holds the session's secrets or a control character.
#[doc(hidden)]
pub fn fuzz(data: &[u8]) {
    const FILE: &str = r#"{"accessToken":{"accessKeyId":"ASIAFUZZ","secretAccessKey":"fuzzsecretkey","sessionToken":"fuzzsessiontoken","accountId":"123456789012","expiresAt":"2030-01-01T00:00:00Z"},"tokenType":"aws_sigv4","clientId":"fuzzclientid","refreshToken":"fuzzrefreshtoken","idToken":"fuzzidtoken","dpopKey":"fuzzdpopkey","extra":{"kept":[1]}}"#;
    let secrets = [
        "fuzzsecretkey",
        "fuzzsessiontoken",
        "fuzzrefreshtoken",
        "fuzzidtoken",
        "fuzzdpopkey",
    ];
    let clean = |text: &str| {
        assert!(!text.chars().any(char::is_control), "{text:?}");
        for s in secrets {
            assert!(!text.contains(s), "{text:?} holds {s}");
        }
    };
    match parse_session(data, "f") {
        Ok(s) => {
            let again = parse_session(Value::Object(s.json.clone()).to_string().as_bytes(), "f")
                .expect("what parsed writes back and parses");
            assert_eq!(again.credentials, s.credentials);
            assert_eq!(again.refresh_token, s.refresh_token);
        }
        Err(why) => clean(&why),
    }
    let session = parse_session(FILE.as_bytes(), "f").expect("the fixed session parses");
    match renewed(&session, data) {
        Ok(fresh) => {
            for key in session.json.keys() {
                assert!(fresh.json.contains_key(key), "{key} dropped");
            }
            assert_eq!(fresh.json["extra"], session.json["extra"]);
            assert_eq!(fresh.client_id, session.client_id);
            assert!(!fresh.refresh_token.is_empty());
        }
        Err(why) => clean(&why),
    }
    let status = 400 + u16::from(data.first().copied().unwrap_or(0)) % 200;
    match refusal(status, None, data, &session) {
        Refusal::Spent(why)
        | Refusal::Ended(why)
        | Refusal::Failed(why)
        | Refusal::Unusable(why) => clean(&why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64ct::{Base64UrlUnpadded, Encoding};
    use p256::ecdsa::{Signature, VerifyingKey, signature::Verifier};

    /// The PKCS#8 key of the AWS CLI's login provider test cases
    /// (`tests/unit/botocore/login/login-provider-test-cases.json`).
    const PKCS8: &str = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg+PNauWi/ihtwHHbq\n1tgc8Vgpwx0qQlNSN38y+z0igWehRANCAAR2Ntw6BXJ1v8jb9XjzKZJ+gL5f/3Jq\nIqiH2PUGKWxoFwNlcNB83FivEXEzlTbuCQK5OezOYb3gbvHuzKkB0nDX\n-----END PRIVATE KEY-----";

    fn session_json(expires_at: &str) -> Value {
        serde_json::json!({
            "accessToken": {
                "accessKeyId": "ASIAOLD", "secretAccessKey": "old-secret",
                "sessionToken": "old-token", "accountId": "012345678901",
                "expiresAt": expires_at,
            },
            "tokenType": "aws_sigv4",
            "clientId": "arn:aws:signin:::devtools/same-device",
            "refreshToken": "refresh-secret",
            "idToken": "id.token.here",
            "dpopKey": PKCS8,
            "extra": {"kept": true},
        })
    }

    #[test]
    fn a_proof_verifies_with_the_key_in_its_header() {
        let key = dpop::Key::from_pem(PKCS8).unwrap();
        let proof = key
            .proof_at(
                "POST",
                "https://us-east-1.signin.aws.amazon.com/v1/token",
                1700000000,
                "id-1",
            )
            .unwrap();
        let parts: Vec<&str> = proof.split('.').collect();
        assert_eq!(parts.len(), 3);
        let decode = |p: &str| -> Value {
            serde_json::from_slice(&Base64UrlUnpadded::decode_vec(p).unwrap()).unwrap()
        };
        let (header, claims) = (decode(parts[0]), decode(parts[1]));
        assert_eq!(
            (header["typ"].as_str(), header["alg"].as_str()),
            (Some("dpop+jwt"), Some("ES256"))
        );
        assert_eq!(
            claims["htu"],
            "https://us-east-1.signin.aws.amazon.com/v1/token"
        );
        assert_eq!(
            (
                claims["htm"].as_str(),
                claims["iat"].as_i64(),
                claims["jti"].as_str()
            ),
            (Some("POST"), Some(1700000000), Some("id-1"))
        );
        // The public key of the test case's private key, as its JWK coordinates.
        assert_eq!(
            header["jwk"]["x"],
            "djbcOgVydb_I2_V48ymSfoC-X_9yaiKoh9j1BilsaBc"
        );
        let mut point = vec![4u8];
        point.extend(Base64UrlUnpadded::decode_vec(header["jwk"]["x"].as_str().unwrap()).unwrap());
        point.extend(Base64UrlUnpadded::decode_vec(header["jwk"]["y"].as_str().unwrap()).unwrap());
        let public = VerifyingKey::from_sec1_bytes(&point).unwrap();
        let signature =
            Signature::from_slice(&Base64UrlUnpadded::decode_vec(parts[2]).unwrap()).unwrap();
        let input = format!("{}.{}", parts[0], parts[1]);
        public.verify(input.as_bytes(), &signature).unwrap();
        assert!(public.verify(b"other", &signature).is_err());
        assert!(!format!("{key:?}").contains("MIG"));
    }

    #[test]
    fn both_pem_forms_are_keys_and_bad_keys_are_not_quoted() {
        // The same key as SEC1, the AWS CLI's own form (`openssl ec -in pkcs8.pem`).
        let sec1 = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIPjzWrlov4obcBx26tbYHPFYKcMdKkJTUjd/Mvs9IoFnoAoGCCqGSM49\nAwEHoUQDQgAEdjbcOgVydb/I2/V48ymSfoC+X/9yaiKoh9j1BilsaBcDZXDQfNxY\nrxFxM5U27gkCuTnszmG94G7x7sypAdJw1w==\n-----END EC PRIVATE KEY-----\n";
        let a = dpop::Key::from_pem(PKCS8)
            .unwrap()
            .proof_at("POST", "u", 1, "j")
            .unwrap();
        let b = dpop::Key::from_pem(sec1)
            .unwrap()
            .proof_at("POST", "u", 1, "j")
            .unwrap();
        // RFC 6979: the same key signs the same input the same way.
        assert_eq!(a, b);
        for bad in [
            "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWJ5dGVz\n-----END PRIVATE KEY-----",
            "not pem at all",
        ] {
            let e = dpop::Key::from_pem(bad).unwrap_err();
            assert!(!e.contains("c2Vj") && !e.contains("not pem"), "{e}");
        }
    }

    #[test]
    fn the_file_is_read_as_botocore_reads_it() {
        let text = session_json("2026-11-25T12:00:00Z").to_string();
        let s = parse_session(text.as_bytes(), "F").unwrap();
        assert_eq!(s.credentials.access_key_id, "ASIAOLD");
        assert_eq!(s.credentials.account_id.as_deref(), Some("012345678901"));
        assert_eq!(s.refresh_token, "refresh-secret");
        for key in ["accessToken", "refreshToken", "dpopKey", "clientId"] {
            let mut v = session_json("2026-11-25T12:00:00Z");
            v.as_object_mut().unwrap().remove(key);
            let e = parse_session(v.to_string().as_bytes(), "F").unwrap_err();
            assert_eq!(e, format!("F has no {key}"));
        }
        let e = parse_session(b"{\"refreshToken\": \"refresh-secret\"", "F").unwrap_err();
        assert!(!e.contains("refresh-secret"), "{e}");
    }

    #[test]
    fn a_refresh_keeps_every_other_field() {
        let text = session_json("2026-11-25T12:00:00Z").to_string();
        let s = parse_session(text.as_bytes(), "F").unwrap();
        let answer = br#"{"accessToken":{"accessKeyId":"ASIANEW","secretAccessKey":"new-secret","sessionToken":"new-token"},"tokenType":"aws_sigv4","expiresIn":900,"refreshToken":"refresh-2"}"#;
        let fresh = renewed(&s, answer).unwrap();
        assert_eq!(fresh.credentials.access_key_id, "ASIANEW");
        assert_eq!(
            fresh.credentials.account_id.as_deref(),
            Some("012345678901")
        );
        assert_eq!(fresh.refresh_token, "refresh-2");
        for key in ["idToken", "dpopKey", "clientId", "tokenType", "extra"] {
            assert_eq!(fresh.json[key], s.json[key], "{key}");
        }
        let left = fresh.expires_at - OffsetDateTime::now_utc();
        assert!(left > time::Duration::seconds(890) && left <= time::Duration::seconds(900));
        let e = renewed(
            &s,
            br#"{"accessToken":{"accessKeyId":"A"},"expiresIn":900,"refreshToken":"r"}"#,
        );
        assert!(e.is_err());
        // An expiresIn past the calendar's end is an error, not a panic.
        let far = br#"{"accessToken":{"accessKeyId":"A","secretAccessKey":"s","sessionToken":"t"},"expiresIn":99999999999999,"refreshToken":"r"}"#;
        assert!(renewed(&s, far).is_err());
    }

    #[test]
    fn refusals_are_decided_by_the_error_field() {
        let text = session_json("2026-11-25T12:00:00Z").to_string();
        let s = parse_session(text.as_bytes(), "F").unwrap();
        let r = |status, kind, body: &str| refusal(status, kind, body.as_bytes(), &s);
        let body = |e: &str| format!(r#"{{"error":"{e}","message":"m"}}"#);
        assert!(matches!(
            r(401, Some("AccessDeniedException"), &body("TOKEN_EXPIRED")),
            Refusal::Ended(_)
        ));
        assert!(matches!(
            r(403, None, &body("USER_CREDENTIALS_CHANGED")),
            Refusal::Ended(_)
        ));
        // Decided on the field, not the status.
        assert!(matches!(
            r(403, None, &body("TOKEN_EXPIRED")),
            Refusal::Ended(_)
        ));
        assert!(matches!(
            r(400, Some("ValidationException"), &body("INVALID_REQUEST")),
            Refusal::Spent(_)
        ));
        // Throttling answers INVALID_REQUEST too: not a spent token.
        assert!(matches!(
            r(429, Some("TooManyRequestsError"), &body("INVALID_REQUEST")),
            Refusal::Failed(_)
        ));
        assert!(matches!(
            r(500, None, &body("server_error")),
            Refusal::Failed(_)
        ));
        match r(
            403,
            Some("AccessDeniedException"),
            &body("INSUFFICIENT_PERMISSIONS"),
        ) {
            // Said once: the caller adds "cannot be refreshed" (it was said twice).
            Refusal::Failed(m) => assert!(
                m.contains("signin:CreateOAuth2Token") && !m.contains("cannot be refreshed"),
                "{m}"
            ),
            _ => panic!("insufficient permissions is not the session's end"),
        }
        match r(
            400,
            None,
            r#"{"error":"INVALID_REQUEST","message":"bad refresh-secret"}"#,
        ) {
            Refusal::Spent(m) => assert!(!m.contains("refresh-secret"), "{m}"),
            _ => panic!("a spent token"),
        }
    }
}

//! The STS Query API over HTTPS: where to send requests, how to send them, and what the
//! answers mean.
//!
//! Requests are form-encoded POSTs signed with SigV4 ([`sign`]), sent with a blocking `ureq`
//! agent that has timeouts (ureq has none by default) and keeps error bodies (it drops them by
//! default). Throttling, 5xx answers and connection failures are retried as the AWS SDKs'
//! standard mode does: three attempts with jittered exponential backoff. A request that carries
//! an MFA code is only retried when it cannot have reached STS, because a code is single-use.

mod endpoint;
mod sign;
pub mod xml;

pub use endpoint::Endpoint;

use std::io::Read;
use std::time::{Instant, SystemTime};

use ureq::http::Uri;

use crate::creds::{Credentials, Issued};
use crate::error::{Error, Result, StsFailure, clean};
use crate::log::Log;
use crate::net::Route;
use crate::settings::NetSettings;

/// One STS request to make.
pub struct Request<'a> {
    pub action: &'static str,
    /// The profile the request is made for, for messages.
    pub profile: &'a str,
    pub params: Vec<(&'static str, String)>,
    /// Parameters whose names are made at run time (`Tags.member.N.Key`), after `params`.
    pub numbered: &'a [(String, String)],
    /// `None`: an unsigned request (AssumeRoleWithWebIdentity).
    pub credentials: Option<&'a Credentials>,
    /// Carries a single-use MFA code: not retried once it may have reached STS.
    pub carries_mfa: bool,
}

pub struct Client<'a> {
    agent: ureq::Agent,
    endpoint: Endpoint,
    attempts: u32,
    log: &'a Log,
}

/// What went wrong with one attempt, and whether another may help.
enum Failure {
    /// Not sent: safe to retry even with an MFA code.
    NotSent(Error),
    /// Sent (or maybe sent), and worth another try.
    Retryable(Error),
    Final(Error),
}

impl<'a> Client<'a> {
    /// A client for `endpoint`, with the one HTTP agent ([`crate::net`]). Fails only when
    /// `AWS_CA_BUNDLE` cannot be used.
    pub fn new(endpoint: Endpoint, net: &NetSettings, log: &'a Log) -> Result<Client<'a>> {
        Ok(Client {
            agent: crate::net::agent(net, Route::Remote)?,
            endpoint,
            attempts: net.attempts,
            log,
        })
    }

    /// Sends the request with retries and returns the issued credentials.
    pub fn call(&self, req: &Request) -> Result<Issued> {
        let body = form_encode(
            [("Action", req.action), ("Version", "2011-06-15")]
                .into_iter()
                .chain(req.params.iter().map(|(k, v)| (*k, v.as_str())))
                .chain(req.numbered.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        );
        let started = Instant::now();
        let mut attempt = 1;
        loop {
            self.log.verbose(format_args!(
                "{} for '{}' → {} (attempt {attempt}/{}, {})",
                req.action,
                req.profile,
                self.endpoint.url,
                self.attempts,
                req.credentials
                    .map_or("unsigned".to_string(), |c| format!("key {}", c.masked_id()))
            ));
            let failure = match self.attempt(req, &body) {
                Ok(issued) => return Ok(issued),
                Err(f) => f,
            };
            if let Failure::NotSent(Error::Sts(f))
            | Failure::Retryable(Error::Sts(f))
            | Failure::Final(Error::Sts(f)) = &failure
                && let Some(id) = &f.request_id
            {
                // For AWS support; too long for the one line of the error.
                self.log.verbose(format_args!("STS request id {id}"));
            }
            let (error, retry) = match failure {
                Failure::NotSent(e) => (e, true),
                Failure::Retryable(e) if req.carries_mfa => {
                    return Err(mfa_maybe_used(e));
                }
                Failure::Retryable(e) => (e, true),
                Failure::Final(e) => (e, false),
            };
            if !retry || attempt >= self.attempts {
                if attempt > 1 {
                    self.log.verbose(format_args!(
                        "giving up after {attempt} attempts in {:.1}s",
                        started.elapsed().as_secs_f64()
                    ));
                }
                return Err(error);
            }
            let delay = crate::net::backoff(attempt);
            self.log
                .verbose(format_args!("{error}; retrying in {}ms", delay.as_millis()));
            std::thread::sleep(delay);
            attempt += 1;
        }
    }

    /// GetFederationToken, signed with an IAM user's long-term `keys` (the only credentials
    /// that may call it; STS API reference), for `console`: a federated session whose
    /// permissions are the user's own, since the inline `Policy` allows everything and a
    /// federated session gets the intersection of it and the user's policies (aws-vault's
    /// `login` does the same). `name` is 2–32 characters ([`crate::units::federation_name`]);
    /// `duration` 900–129600 s (STS's default: 43200).
    pub fn federation_token(
        &self,
        profile: &str,
        keys: &Credentials,
        name: &str,
        duration: Option<u32>,
    ) -> Result<Issued> {
        const ALLOW_ALL: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
        let mut params = vec![
            ("Name", name.to_string()),
            ("Policy", ALLOW_ALL.to_string()),
        ];
        if let Some(d) = duration {
            params.push(("DurationSeconds", d.to_string()));
        }
        self.call(&Request {
            action: "GetFederationToken",
            profile,
            params,
            numbered: &[],
            credentials: Some(keys),
            carries_mfa: false,
        })
    }

    /// One attempt: sign and send, read the answer whole, judge it.
    fn attempt(&self, req: &Request, body: &str) -> std::result::Result<Issued, Failure> {
        let transport = |message: String| Error::Transport {
            action: req.action,
            profile: req.profile.to_string(),
            endpoint: self.endpoint.url.clone(),
            message,
        };
        let (mut response, signature) = self.send(req, body, &transport)?;
        // What this request holds that an answer must not be seen to repeat.
        let secrets = req.secrets(signature.as_deref());
        let status = response.status().as_u16();
        let date = response
            .headers()
            .get("date")
            .and_then(|d| d.to_str().ok())
            .map(str::to_string);
        let text = read_answer(&mut response, &transport)?;
        if status == 200 {
            let issued = xml::parse_success(&text).map_err(|why| {
                self.log
                    .verbose(format_args!("unreadable answer: {}", clean(&why, 200)));
                Failure::Retryable(bad_response(req, status, &text, &secrets))
            })?;
            return match issued.credentials.expiration {
                Some(expiration) if expiration <= time::OffsetDateTime::now_utc() => Err(
                    Failure::Final(transport(already_expired(expiration, date.as_deref()))),
                ),
                _ => Ok(issued),
            };
        }
        Err(judge_error(req, status, &text, date.as_deref(), &secrets))
    }

    /// Signs (unless the request is unsigned) and sends the form body; the response, and the
    /// signature that went with it.
    fn send(
        &self,
        req: &Request,
        body: &str,
        transport: &dyn Fn(String) -> Error,
    ) -> std::result::Result<(ureq::http::Response<ureq::Body>, Option<String>), Failure> {
        let host = self
            .endpoint
            .url
            .parse::<Uri>()
            .ok()
            .and_then(|u| u.authority().map(|a| a.as_str().to_string()))
            .unwrap_or_default();
        let content_type = "application/x-www-form-urlencoded; charset=utf-8";
        let signed = match req.credentials {
            // AssumeRoleWithWebIdentity is unsigned: the token is the proof.
            None => Vec::new(),
            Some(credentials) => sign::sign_post(
                credentials,
                &self.endpoint.region,
                &self.endpoint.url,
                &[("content-type", content_type), ("host", &host)],
                body.as_bytes(),
                SystemTime::now(),
            )
            .map_err(|e| Failure::Final(transport(format!("cannot sign the request: {e}"))))?,
        };
        let mut request = self
            .agent
            .post(&self.endpoint.url)
            .header("content-type", content_type);
        for (name, value) in &signed {
            request = request.header(name, value);
        }
        let signature = signed
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("authorization"))
            .find_map(|(_, value)| value.split("Signature=").nth(1))
            .map(str::to_string);
        request
            .send(body)
            .map(|response| (response, signature))
            .map_err(|e| classify_transport(e, transport))
    }
}

/// The answer's text, at most 1 MiB; a timeout is final, a broken-off answer retryable.
fn read_answer(
    response: &mut ureq::http::Response<ureq::Body>,
    transport: &dyn Fn(String) -> Error,
) -> std::result::Result<String, Failure> {
    let mut bytes = Vec::new();
    let read = response
        .body_mut()
        .as_reader()
        .take(1 << 20)
        .read_to_end(&mut bytes);
    match read {
        Ok(_) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        Err(e)
            if e.kind() == std::io::ErrorKind::TimedOut
                || e.to_string().to_ascii_lowercase().contains("timeout") =>
        {
            Err(Failure::Final(transport(
                "no complete answer within the timeout (MFAROLE_TIMEOUT)".into(),
            )))
        }
        Err(e) => Err(Failure::Retryable(transport(format!(
            "the answer broke off: {}",
            clean(&crate::error::io_text(&e), 100)
        )))),
    }
}

impl Request<'_> {
    /// Whether the request is signed with temporary credentials.
    fn signed_by_a_session(&self) -> bool {
        self.credentials
            .is_some_and(|c| c.session_token.as_ref().is_some_and(|t| !t.is_empty()))
    }

    /// The request's secrets: the signing keys, the session token, the `signature` sent, the
    /// MFA code and the web identity token. An answer that echoes them is not shown
    /// ([`crate::redact`]).
    fn secrets<'s>(&'s self, signature: Option<&'s str>) -> Vec<&'s str> {
        let mut secrets: Vec<&str> = self
            .params
            .iter()
            .filter(|(name, _)| matches!(*name, "TokenCode" | "WebIdentityToken"))
            .map(|(_, value)| value.as_str())
            .chain(signature)
            .collect();
        if let Some(c) = self.credentials {
            secrets.push(&c.secret_access_key);
            secrets.extend(c.session_token.as_deref());
        }
        secrets
    }
}

/// Withheld in place of a message that quotes a secret of the request.
const ECHOED: &str = "(the answer quotes a secret of the request: not shown)";

fn bad_response(req: &Request, status: u16, text: &str, secrets: &[&str]) -> Error {
    Error::BadResponse {
        action: req.action,
        profile: req.profile.to_string(),
        status,
        excerpt: crate::redact::shown(text, secrets).map_or(ECHOED.into(), |t| clean(&t, 80)),
    }
}

/// A non-200 answer: STS's error document (either shape), or anything else. Throttling was
/// refused before it was acted on (the code is unused); 5xx may be retried.
fn judge_error(
    req: &Request,
    status: u16,
    text: &str,
    date: Option<&str>,
    secrets: &[&str],
) -> Failure {
    let Some(sts) = xml::parse_error(text) else {
        let e = bad_response(req, status, text, secrets);
        return if status == 429 || status >= 500 {
            Failure::Retryable(e)
        } else {
            Failure::Final(e)
        };
    };
    let throttled = matches!(
        sts.code.as_str(),
        "Throttling" | "ThrottlingException" | "RequestLimitExceeded" | "TooManyRequestsException"
    ) || status == 429;
    let hint = clock_hint(&sts.code, &sts.message, date)
        .or_else(|| skew_hint(date))
        .or_else(|| hint_for(&sts.code, &sts.message, req.signed_by_a_session()));
    let e = Error::Sts(Box::new(StsFailure {
        action: req.action,
        profile: req.profile.to_string(),
        code: crate::redact::shown(&sts.code, secrets).map_or(String::new(), |c| clean(&c, 60)),
        message: crate::redact::shown(&sts.message, secrets)
            .map_or(ECHOED.into(), |m| clean(&m, 300)),
        request_id: sts.request_id.map(|r| clean(&r, 80)),
        hint,
    }));
    if throttled {
        Failure::NotSent(e)
    } else if status >= 500 {
        Failure::Retryable(e)
    } else {
        Failure::Final(e)
    }
}

fn classify_transport(e: ureq::Error, transport: &dyn Fn(String) -> Error) -> Failure {
    use ureq::Timeout;
    // The handshake failed, so nothing (no MFA code) was sent; another try would meet the
    // same plain-HTTP server.
    if crate::net::answered_plain_http(&e.to_string()) {
        return Failure::Final(transport(crate::net::PLAIN_HTTP.into()));
    }
    match e {
        ureq::Error::HostNotFound => Failure::NotSent(transport("host not found".into())),
        ureq::Error::ConnectionFailed => Failure::NotSent(transport("cannot connect".into())),
        ureq::Error::Timeout(Timeout::Connect | Timeout::Resolve) => Failure::NotSent(transport(
            "timed out connecting (MFAROLE_CONNECT_TIMEOUT)".into(),
        )),
        // A server that accepted and then went silent would most likely do it again: one
        // timeout is the whole wait the user is given.
        ureq::Error::Timeout(_) => Failure::Final(transport(
            "no complete answer within the timeout (MFAROLE_TIMEOUT)".into(),
        )),
        ureq::Error::Io(io) if matches!(io.kind(), std::io::ErrorKind::ConnectionRefused) => {
            Failure::NotSent(transport("connection refused".into()))
        }
        // rustls reports certificate problems as I/O errors of the handshake.
        ureq::Error::Io(io) if crate::net::looks_like_tls(&io.to_string()) => {
            Failure::Final(tls_failure(&io.to_string(), transport))
        }
        ureq::Error::Io(io) => Failure::Retryable(transport(crate::error::io_text(&io))),
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::Pem(_) => {
            Failure::Final(tls_failure(&e.to_string(), transport))
        }
        other => Failure::Retryable(transport(clean(&other.to_string(), 160))),
    }
}

fn tls_failure(text: &str, transport: &dyn Fn(String) -> Error) -> Error {
    transport(crate::net::tls_text(text))
}

fn mfa_maybe_used(e: Error) -> Error {
    match e {
        Error::Transport {
            action,
            profile,
            endpoint,
            message,
        } => Error::Transport {
            action,
            profile,
            endpoint,
            message: format!(
                "{message}; not retried because the MFA code may have been used: run again with a new code"
            ),
        },
        Error::Sts(mut failure) => {
            failure.hint = Some(
                "not retried because the MFA code may have been used: run again with a new code"
                    .into(),
            );
            Error::Sts(failure)
        }
        other => other,
    }
}

/// What to do about STS's error `code`. `session`: the request was signed with temporary
/// credentials (a session token), which changes what an unknown or expired token means.
fn hint_for(code: &str, message: &str, session: bool) -> Option<String> {
    let m = message.to_ascii_lowercase();
    if m.contains("mfa") && (m.contains("invalid") || m.contains("failed")) {
        return Some("the MFA code was wrong or already used: wait for the next code".into());
    }
    match (code, session) {
        ("InvalidClientTokenId", false) => Some(
            "the access key id is unknown to STS: check the keys in the credentials file".into(),
        ),
        ("InvalidClientTokenId", true) => Some(
            "STS does not take the session that signed the request (revoked, or of another partition): get new credentials for the source".into(),
        ),
        ("SignatureDoesNotMatch", _) => Some(
            "the secret access key does not match the key id: check the credentials file".into(),
        ),
        ("ExpiredToken", true) => Some(
            "the session that signed the request has expired: get new credentials for the source"
                .into(),
        ),
        _ => None,
    }
}

/// When the server's `Date` is more than five minutes from our clock, says by how much.
fn skew_hint(date: Option<&str>) -> Option<String> {
    let skew = date_skew(date?)?;
    (skew.abs() >= 300).then(|| clock_off(skew))
}

/// Our clock minus the server's, in seconds, from its `Date` header.
fn date_skew(date: &str) -> Option<i64> {
    let server = httpdate(date)?;
    Some((time::OffsetDateTime::now_utc() - server).whole_seconds())
}

/// Credentials that STS says expired already (as botocore refuses them: "refreshed
/// credentials are still expired"): never handed to a command that would fail with them. STS
/// gives at least 15 minutes, so this is nearly always this machine's clock running ahead.
fn already_expired(expiration: time::OffsetDateTime, date: Option<&str>) -> String {
    let clock = date
        .and_then(date_skew)
        .filter(|skew| *skew >= 300)
        .map_or_else(
            || "this machine's clock is probably ahead: fix the system time (NTP)".to_string(),
            clock_off,
        );
    format!(
        "the credentials it gave expired at {} already; {clock}",
        crate::cache::show_time(expiration)
    )
}

fn clock_off(skew: i64) -> String {
    let dir = if skew > 0 { "ahead of" } else { "behind" };
    let secs = u32::try_from(skew.unsigned_abs()).unwrap_or(u32::MAX);
    format!(
        "this machine's clock is {} {dir} the server's: fix the system time (NTP)",
        crate::units::show_duration(secs)
    )
}

/// An answer that says the request's time is wrong (`RequestExpired`, or
/// `SignatureDoesNotMatch: Signature expired: ...` / `Signature not yet current: ...`) is about
/// the clock, whatever the `Date` header says (a proxy may write its own, or none): says so,
/// with the offset when the message or the `Date` tells it.
fn clock_hint(code: &str, message: &str, date: Option<&str>) -> Option<String> {
    let m = message.to_ascii_lowercase();
    let about_time = matches!(code, "RequestExpired" | "RequestTimeTooSkewed")
        || m.contains("signature expired")
        || m.contains("signature not yet current")
        || m.contains("request has expired");
    if !about_time {
        return None;
    }
    let skew = message_skew(message).or_else(|| date.and_then(date_skew));
    Some(match skew {
        Some(skew) if skew.abs() >= 60 => clock_off(skew),
        _ => "STS judged the request's time wrong: check this machine's clock and time zone (NTP)"
            .into(),
    })
}

/// Our clock minus STS's, from the times STS's message quotes: `Signature expired:
/// 20261130T101010Z is now earlier than 20261130T102510Z (20261130T103010Z - 5 min.)`, the
/// first being our request's time and the one in parentheses STS's own.
fn message_skew(message: &str) -> Option<i64> {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let stamps: Vec<time::OffsetDateTime> = message
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| w.len() == 16)
        .filter_map(|w| time::PrimitiveDateTime::parse(w, &format).ok())
        .map(time::PrimitiveDateTime::assume_utc)
        .collect();
    match stamps.as_slice() {
        [ours, _, server] => Some((*ours - *server).whole_seconds()),
        _ => None,
    }
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
fn httpdate(text: &str) -> Option<time::OffsetDateTime> {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::PrimitiveDateTime::parse(text.trim(), &format)
        .ok()
        .map(|t| t.assume_utc())
}

/// `application/x-www-form-urlencoded` as Python's `quote_plus` writes it (moto re-encodes the
/// body that way before it checks the signature; real STS accepts it too).
pub fn form_encode<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.enumerate() {
        if i > 0 {
            out.push('&');
        }
        encode_into(&mut out, k);
        out.push('=');
        encode_into(&mut out, v);
    }
    out
}

fn encode_into(out: &mut String, s: &str) {
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_matches_quote_plus() {
        let s =
            form_encode([("RoleArn", "arn:aws:iam::1:role/a b"), ("X", "~-_.+=&é")].into_iter());
        assert_eq!(
            s,
            "RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fa+b&X=~-_.%2B%3D%26%C3%A9"
        );
    }

    #[test]
    fn skew_is_reported_past_five_minutes() {
        let now = time::OffsetDateTime::now_utc();
        let fmt = time::macros::format_description!(
            "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
        );
        let ahead = (now + time::Duration::hours(2)).format(&fmt).unwrap();
        let hint = skew_hint(Some(&ahead)).unwrap();
        assert!(hint.contains("behind the server's"), "{hint}");
        assert!(
            hint.starts_with("this machine's clock is 1h59m")
                || hint.starts_with("this machine's clock is 2h"),
            "{hint}"
        );
        assert_eq!(skew_hint(Some(&now.format(&fmt).unwrap())), None);
        assert_eq!(skew_hint(Some("garbage")), None);
    }

    #[test]
    fn an_answer_about_time_is_about_the_clock_whatever_the_date_says() {
        let fmt = time::macros::format_description!(
            "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
        );
        let now = time::OffsetDateTime::now_utc().format(&fmt).unwrap();
        let expired = "Signature expired: 20261130T100000Z is now earlier than \
                       20261130T101500Z (20261130T102000Z - 5 min.)";
        let hint = clock_hint("SignatureDoesNotMatch", expired, Some(&now)).unwrap();
        assert_eq!(
            hint,
            "this machine's clock is 20m behind the server's: fix the system time (NTP)"
        );
        let ahead = "Signature not yet current: 20261130T110000Z is still later than \
                     20261130T100500Z (20261130T100000Z + 5 min.)";
        let hint = clock_hint("SignatureDoesNotMatch", ahead, None).unwrap();
        assert!(
            hint.starts_with("this machine's clock is 1h ahead of"),
            "{hint}"
        );
        let hint = clock_hint("RequestExpired", "Request has expired.", Some(&now)).unwrap();
        assert!(hint.contains("check this machine's clock"), "{hint}");
        // Without a time in the message, the Date header tells the offset.
        let late = (time::OffsetDateTime::now_utc() + time::Duration::minutes(30))
            .format(&fmt)
            .unwrap();
        let hint = clock_hint("RequestExpired", "Request has expired.", Some(&late)).unwrap();
        assert!(hint.contains("behind the server's"), "{hint}");
        // A wrong secret is not about the clock.
        assert_eq!(
            clock_hint(
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match",
                None
            ),
            None
        );
    }
}

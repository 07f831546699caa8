//! How mfarole talks HTTP(S), decided once: every request it makes (STS, the container
//! endpoint, instance metadata, the IAM Identity Center portal and its token service) goes
//! through an agent built by [`agent`], so that `AWS_CA_BUNDLE`, proxies and timeouts mean the
//! same thing everywhere. (Three agents built three ways let an SSO user behind a
//! TLS-inspecting proxy fail where an STS user did not.)
//!
//! The rules, as the AWS SDKs have them: remote AWS services go through `HTTPS_PROXY` /
//! `NO_PROXY` (ureq reads them); the link-local and loopback credential services (container
//! endpoint, IMDS) never do. Every agent keeps error bodies (ureq drops them by default),
//! follows no redirect (a redirect could carry a token elsewhere) and has timeouts (ureq has
//! none by default).

use std::io::Read;
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::error::{Error, Result, clean, io_text};
use crate::settings::NetSettings;

/// Where a request goes, which decides the proxy and the timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// An AWS service over the network: proxies honoured, `MFAROLE_CONNECT_TIMEOUT` and
    /// `MFAROLE_TIMEOUT`.
    Remote,
    /// A credential service on this host or its link-local network: never proxied, with the
    /// service's own timeout (the SDKs': 2 s for the container endpoint, 1 s for IMDS).
    Local(Duration),
}

/// The one builder of HTTP agents. Fails only when `AWS_CA_BUNDLE` cannot be used.
pub fn agent(net: &NetSettings, route: Route) -> Result<ureq::Agent> {
    let mut tls = ureq::tls::TlsConfig::builder();
    if let Some(path) = &net.ca_bundle {
        tls = tls.root_certs(load_ca_bundle(path)?);
    }
    let (connect, whole) = match route {
        Route::Remote => (net.connect_timeout, net.timeout),
        Route::Local(t) => (t, t),
    };
    let mut config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(connect))
        .timeout_global(Some(whole))
        .max_redirects(0)
        .user_agent(concat!("mfarole/", env!("CARGO_PKG_VERSION")))
        .tls_config(tls.build());
    if let Route::Local(_) = route {
        config = config.proxy(None);
    }
    Ok(config.build().new_agent())
}

/// The roots of `AWS_CA_BUNDLE`, which must hold at least one PEM certificate.
fn load_ca_bundle(path: &Path) -> Result<ureq::tls::RootCerts> {
    let shown = clean(&path.display().to_string(), 200);
    let bad = |why: String| {
        Error::Setting(format!(
            "AWS_CA_BUNDLE={shown} {why}; point it at the PEM file of your CA or unset it"
        ))
    };
    let pem = std::fs::read(path).map_err(|e| bad(format!("cannot be read: {}", io_text(&e))))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(_) => {
                return Err(bad("is not a PEM file".into()));
            }
        }
    }
    if certs.is_empty() {
        return Err(bad("holds no PEM certificate".into()));
    }
    Ok(ureq::tls::RootCerts::new_with_certs(&certs))
}

/// Reads an answer of at most `limit` bytes; a longer one is an error that says so (cut at
/// the limit, it was reported as JSON that ended too soon).
pub fn read_body(
    response: &mut ureq::http::Response<ureq::Body>,
    limit: u64,
) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    response
        .body_mut()
        .as_reader()
        .take(limit + 1)
        .read_to_end(&mut out)?;
    if out.len() as u64 > limit {
        return Err(std::io::Error::other(format!(
            "the answer is longer than the limit ({limit} bytes)"
        )));
    }
    Ok(out)
}

/// What a transport failure was, in a few words, with the hint for TLS failures.
pub fn transport_text(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => "timed out".into(),
        ureq::Error::ConnectionFailed => "cannot connect".into(),
        ureq::Error::HostNotFound => "host not found".into(),
        other if answered_plain_http(&other.to_string()) => PLAIN_HTTP.into(),
        ureq::Error::Io(io) if looks_like_tls(&io.to_string()) => tls_text(&io.to_string()),
        ureq::Error::Io(io) => io_text(io),
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::Pem(_) => {
            tls_text(&e.to_string())
        }
        other => clean(&other.to_string(), 80),
    }
}

/// rustls reports certificate problems as I/O errors of the handshake.
pub fn looks_like_tls(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    ["certificate", "tls", "handshake", "peer sent", "alert"]
        .iter()
        .any(|w| t.contains(w))
}

/// An `https://` URL whose server answered the TLS handshake in plain HTTP (rustls:
/// "received corrupt message of type InvalidContentType").
pub fn answered_plain_http(text: &str) -> bool {
    text.contains("InvalidContentType")
}

/// What to say about it: nothing was sent, so no MFA code was used.
pub const PLAIN_HTTP: &str = "the server answered in plain HTTP, not TLS (nothing was sent): check the URL's port, or use http:// (allowed for loopback only)";

/// A TLS failure and what to do about the usual cause.
pub fn tls_text(text: &str) -> String {
    format!(
        "TLS failed ({}); if the endpoint uses a private CA, point AWS_CA_BUNDLE at its PEM file",
        clean(text, 120)
    )
}

/// Exponential backoff with "equal jitter": half of 2^attempt × 100 ms (capped at 2 s) fixed,
/// the other half random, so that parallel runs that failed together do not retry together
/// and no retry comes back immediately.
pub fn backoff(attempt: u32) -> Duration {
    let cap = (100u64 << attempt.min(5)).min(2000);
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0) as u64
        ^ u64::from(std::process::id()).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    Duration::from_millis(cap / 2 + seed % (cap / 2 + 1))
}

/// Makes `attempt` (given its number, from 1) up to `attempts` times, as the SDKs' standard
/// retry mode: a failure it marks retryable (throttling, 5xx, the network) is tried again
/// after [`backoff`]; any other, or the last, is returned. (STS's own loop, which must not
/// resend an MFA code, is [`crate::sts::Client::call`].)
pub fn retrying<T, E>(
    attempts: u32,
    mut attempt: impl FnMut(u32) -> std::result::Result<T, (E, bool)>,
) -> std::result::Result<T, E> {
    let mut n = 1;
    loop {
        match attempt(n) {
            Ok(done) => return Ok(done),
            Err((e, retry)) if !retry || n >= attempts => return Err(e),
            Err(_) => std::thread::sleep(backoff(n)),
        }
        n += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_bounded() {
        for a in 1..10 {
            let d = backoff(a);
            assert!(d <= Duration::from_secs(2), "{d:?}");
            assert!(d >= Duration::from_millis(100), "{d:?}");
        }
    }

    #[test]
    fn retrying_stops_at_a_final_failure_or_the_last_attempt() {
        let mut tries = 0;
        let r: std::result::Result<(), u32> = retrying(3, |n| {
            tries += 1;
            Err((n, true))
        });
        assert_eq!((r, tries), (Err(3), 3));
        let r: std::result::Result<(), u32> = retrying(3, |n| Err((n, false)));
        assert_eq!(r, Err(1));
        assert_eq!(
            retrying(3, |n| if n < 2 { Err(((), true)) } else { Ok(n) }),
            Ok(2)
        );
    }

    #[test]
    fn an_answer_past_the_limit_says_so() {
        let answer = |len: usize| {
            ureq::http::Response::builder()
                .body(ureq::Body::builder().data(vec![b'x'; len]))
                .unwrap()
        };
        assert_eq!(read_body(&mut answer(64), 64).unwrap().len(), 64);
        let e = read_body(&mut answer(65), 64).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the answer is longer than the limit (64 bytes)"
        );
    }

    fn net(ca: Option<&str>) -> NetSettings {
        NetSettings {
            connect_timeout: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            attempts: 1,
            ca_bundle: ca.map(Into::into),
        }
    }

    #[test]
    fn a_bad_ca_bundle_is_named_for_every_route() {
        for route in [Route::Remote, Route::Local(Duration::from_secs(1))] {
            let e = agent(&net(Some("/nonexistent/ca.pem")), route)
                .err()
                .unwrap()
                .to_string();
            assert!(
                e.starts_with("AWS_CA_BUNDLE=/nonexistent/ca.pem cannot be read"),
                "{e}"
            );
        }
        assert!(agent(&net(None), Route::Remote).is_ok());
    }
}

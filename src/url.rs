//! The one judgement of a URL that mfarole sends a secret to: the STS endpoint (keys, codes),
//! the container endpoint (its authorization token), the IAM Identity Center portal (the
//! bearer token) and its token service (the client secret and the refresh token).
//!
//! Why one function, and why this parser: each place once judged its URL on the text, with its
//! own rules, while the request was made from what ureq's parser (`http::Uri`) understood. The
//! two disagreed: `http://[::1]@0.0.0.0:PORT/`, `http://127.0.0.1:1@0.0.0.0:PORT` and
//! `HTTP://0.0.0.0:PORT` passed as loopback and the secret went in the clear to a host mfarole
//! itself called "not loopback". Here the URL is parsed once, by the parser that makes the
//! request, and the caller sends the parsed [`Uri`] it gets back, so the host judged is the
//! host asked. User info (`user:password@`) is refused: nothing mfarole talks to needs it, and
//! it is what hides the real host from a reader. The scheme is compared without regard to
//! case, as every HTTP client does.
//!
//! Plain http is allowed only to a host that cannot be on the way to another machine: a
//! loopback address (`127.0.0.0/8`, `::1`, `::ffff:127.x.y.z`) or the name `localhost`
//! exactly; for the container endpoint also the ECS and EKS link-local hosts. Everything else,
//! `0.0.0.0`, `localhost.` (a name the resolver may send to DNS), `2130706433` (a number some
//! resolvers read as an address), needs https.

use std::net::IpAddr;

use ureq::http::Uri;

/// Who may be sent a secret over plain http.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlainHttp {
    /// Loopback only (STS, the IAM Identity Center endpoints).
    Loopback,
    /// Loopback and the ECS/EKS container credential hosts (169.254.170.2, 169.254.170.23,
    /// fd00:ec2::23).
    LoopbackOrContainerHost,
}

/// The ECS and EKS container credential hosts, reached over plain http by design.
const CONTAINER_HOSTS: [&str; 3] = ["169.254.170.2", "169.254.170.23", "fd00:ec2::23"];

/// Parses `text` as ureq will and says whether a secret may be sent to it. `Err` is why not, in
/// words that follow the URL in a message ("… uses plain http to …; use https").
pub fn judge(text: &str, plain: PlainHttp) -> Result<Uri, &'static str> {
    const NOT_A_URL: &str = "is not an http(s) URL";
    if text.contains('#') {
        return Err("has a fragment (#...), which no endpoint uses; remove it");
    }
    let uri: Uri = text.parse().map_err(|_| NOT_A_URL)?;
    let authority = uri.authority().ok_or(NOT_A_URL)?;
    if authority.as_str().contains('@') {
        return Err(
            "holds user info (text before '@' in the host part), which hides the real host; remove it",
        );
    }
    let host = uri.host().filter(|h| !h.is_empty()).ok_or(NOT_A_URL)?;
    let scheme = uri.scheme_str().ok_or(NOT_A_URL)?;
    if scheme.eq_ignore_ascii_case("https") {
        return Ok(uri);
    }
    if !scheme.eq_ignore_ascii_case("http") {
        return Err(NOT_A_URL);
    }
    if plain_allowed(host, plain) {
        return Ok(uri);
    }
    Err(match plain {
        PlainHttp::Loopback => {
            "uses plain http to a host that is not loopback, which would send secrets in the clear; use https"
        }
        PlainHttp::LoopbackOrContainerHost => {
            "uses plain http to a host that is neither loopback nor the ECS/EKS endpoint; use https"
        }
    })
}

/// Whether plain http may go to `host` (as `Uri::host` gives it: IPv6 in brackets).
fn plain_allowed(host: &str, plain: PlainHttp) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let Ok(ip) = bare.parse::<IpAddr>() else {
        return false;
    };
    if ip.to_canonical().is_loopback() {
        return true;
    }
    plain == PlainHttp::LoopbackOrContainerHost
        && CONTAINER_HOSTS
            .iter()
            .any(|a| a.parse::<IpAddr>().is_ok_and(|allowed| allowed == ip))
}

/// A URL as messages show it: cleaned, cut, and without user info (which may be a password).
pub fn shown(text: &str) -> String {
    let without = match text.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            match rest[..end].rfind('@') {
                Some(at) => format!("{scheme}://…@{}", &rest[at + 1..]),
                None => text.to_string(),
            }
        }
        None => text.to_string(),
    };
    crate::error::clean(&without, 100)
}

#[cfg(test)]
mod tests {
    use super::*;
    use PlainHttp::{Loopback, LoopbackOrContainerHost as Container};

    /// The table every place that sends a secret shares: (URL, allowed for STS and SSO,
    /// allowed for the container endpoint).
    const TABLE: &[(&str, bool, bool)] = &[
        // Loopback, every spelling of the scheme.
        ("http://127.0.0.1:8080/creds", true, true),
        ("HTTP://127.0.0.1:8080/creds", true, true),
        ("HtTp://127.0.0.2/", true, true),
        ("http://localhost:1/", true, true),
        ("http://LOCALHOST:1/", true, true),
        ("http://[::1]:1/x", true, true),
        ("http://[::ffff:127.0.0.1]/", true, true),
        // Names and numbers that are not loopback to every resolver.
        ("http://localhost./", false, false),
        ("http://localhost.:1/", false, false),
        ("http://LOCALHOST./", false, false),
        ("http://sub.localhost/", false, false),
        ("http://localhost.evil.example/", false, false),
        ("http://2130706433/", false, false),
        ("http://127.1/", false, false),
        ("http://0x7f.0.0.1/", false, false),
        ("http://0.0.0.0:1/", false, false),
        ("HTTP://0.0.0.0:1/", false, false),
        ("http://[::]:1/", false, false),
        ("http://[::1%25lo]/", false, false),
        ("http://10.0.0.1/", false, false),
        // User info hides the real host: refused, whatever the scheme.
        ("http://[::1]@0.0.0.0:1/creds", false, false),
        ("http://127.0.0.1:1@0.0.0.0:1", false, false),
        ("http://localhost@evil.example/", false, false),
        ("http://127.0.0.1%2f@evil.example/", false, false),
        ("https://user:pw@sts.amazonaws.com/", false, false),
        ("http://127.0.0.1#@evil.example/", false, false),
        // The container hosts: plain http for the container endpoint only.
        ("http://169.254.170.2/v2/creds", false, true),
        ("http://169.254.170.23/v1/creds", false, true),
        ("http://[fd00:ec2::23]/v1/creds", false, true),
        ("http://169.254.169.254/", false, false),
        // https anywhere.
        ("https://sts.amazonaws.com/", true, true),
        ("HTTPS://0.0.0.0/", true, true),
        ("https://[2001:db8::1]:443/", true, true),
        // Not URLs mfarole sends to.
        ("ftp://127.0.0.1/", false, false),
        ("127.0.0.1:5000", false, false),
        ("http://", false, false),
        ("http://:80/", false, false),
        ("http://127.0.0.1/a b", false, false),
        ("http://127.0.0.1/\u{1b}[31m", false, false),
        ("", false, false),
    ];

    #[test]
    fn every_place_that_sends_a_secret_judges_urls_by_one_table() {
        for &(url, sts, container) in TABLE {
            assert_eq!(judge(url, Loopback).is_ok(), sts, "{url} (loopback)");
            assert_eq!(
                judge(url, Container).is_ok(),
                container,
                "{url} (container)"
            );
        }
    }

    #[test]
    fn the_host_judged_is_the_host_parsed() {
        let uri = judge("HTTP://127.0.0.1:9/x?y=1", Loopback).unwrap();
        assert_eq!((uri.host(), uri.port_u16()), (Some("127.0.0.1"), Some(9)));
        assert!(
            judge("http://127.0.0.1:1@0.0.0.0:1", Loopback)
                .unwrap_err()
                .contains("user info")
        );
        assert!(
            judge("http://0.0.0.0:1", Loopback)
                .unwrap_err()
                .contains("use https")
        );
    }

    #[test]
    fn shown_urls_lose_their_user_info() {
        assert_eq!(
            shown("https://user:secretpw@host:1/p@q"),
            "https://…@host:1/p@q"
        );
        assert_eq!(shown("http://127.0.0.1/\u{1b}[2J"), "http://127.0.0.1/ [2J");
        assert_eq!(shown("not a url"), "not a url");
    }
}

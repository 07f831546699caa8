//! The properties every parser of untrusted input must keep, one function a target, each
//! taking raw bytes and panicking when a property breaks. Used by the mutation loop in the
//! unit tests (`src/fuzz.rs`) and by the coverage-guided harness (`tests/afl/`), so both check
//! the same things.

use std::path::Path;

/// INI and profile resolution: what parses renders back to text that parses to the same
/// sections; every error (syntax, resolution, planning) is one clean line; whatever resolves
/// plans without a panic.
pub fn ini(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(sections) = crate::ini::parse(&text) {
        let mut rendered = String::new();
        for s in &sections {
            assert!(!s.name.is_empty());
            rendered.push_str(&format!("[{}]\n", s.name));
            for e in &s.entries {
                assert!(!e.key.is_empty());
                assert_eq!(e.key, e.key.to_ascii_lowercase());
                // A value with line breaks came from continuation lines: render it so.
                rendered.push_str(&format!("{} = {}\n", e.key, e.value.replace('\n', "\n  ")));
            }
        }
        let again = crate::ini::parse(&rendered).expect("a rendered config parses");
        let shape = |v: &[crate::ini::Section]| -> Vec<(String, Vec<(String, String)>)> {
            v.iter()
                .map(|s| {
                    let entries = s.entries.iter().map(|e| (e.key.clone(), e.value.clone()));
                    (s.name.clone(), entries.collect())
                })
                .collect()
        };
        assert_eq!(shape(&again), shape(&sections), "rendered:\n{rendered}");
    }
    let clean_line = |e: &crate::error::Error| {
        let shown = e.to_string();
        assert!(!shown.chars().any(char::is_control), "{shown:?}");
    };
    let p = Path::new("f");
    match crate::config::Config::parse(Some((&text, p)), Some((&text, p))) {
        Err(e) => clean_line(&e),
        Ok(config) => {
            let settings = crate::settings::Settings::from_env(&Default::default())
                .expect("an empty environment has valid settings");
            for name in config.names() {
                match config.resolve(&name, &settings) {
                    Err(e) => clean_line(&e),
                    Ok(chain) => {
                        if let Err(e) =
                            crate::plan::plan(&chain, &crate::plan::Overrides::default(), "e", "n")
                        {
                            clean_line(&e);
                        }
                    }
                }
            }
        }
    }
}

/// STS answers: parsed credentials are printable; shown error text has no control characters.
pub fn xml(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(issued) = crate::sts::xml::parse_success(&text) {
        let c = issued.credentials;
        for v in [
            &c.access_key_id,
            &c.secret_access_key,
            c.session_token.as_ref().unwrap(),
        ] {
            assert!(!v.is_empty() && !v.chars().any(char::is_control));
        }
    }
    if let Some(e) = crate::sts::xml::parse_error(&text) {
        assert!(!e.code.is_empty());
        let shown = crate::error::clean(&e.message, 300);
        assert!(!shown.chars().any(char::is_control));
    }
}

/// Cache entries: whatever parses writes back and parses to the same entry.
pub fn cache(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let key =
        "v1 gst src=AKIA mfa=arn:aws:iam::1:mfa/j dur=- ep=https://sts.amazonaws.com/ us-east-1";
    if let Ok(issued) = crate::cache::parse_entry(&text, key) {
        // Whatever parsed must write back and parse to the same thing.
        let again = crate::cache::format_entry(key, &issued).expect("a parsed entry can be stored");
        assert_eq!(crate::cache::parse_entry(&again, key).unwrap(), issued);
    }
}

/// The JSON credential answers of processes and endpoints: an error never quotes the answer.
pub fn json(data: &[u8]) {
    let now = time::macros::datetime!(2026-11-25 12:00:00 UTC);
    match crate::source::parse_credentials(data, now) {
        Ok(c) => {
            assert!(!c.access_key_id.is_empty() && !c.secret_access_key.is_empty());
            assert!(c.bad_part().is_none());
            assert!(c.expiration.is_none_or(|e| e > now));
        }
        Err(why) => {
            // An error never quotes the answer: no secret of the seeds reaches it.
            for secret in ["secretvalue", "tokenvalue"] {
                assert!(!why.contains(secret), "{why}");
            }
            assert!(!why.chars().any(char::is_control), "{why:?}");
        }
    }
}

/// The AWS CLI's SSO token cache file: a parsed token is usable in a header; an error never
/// quotes the token.
pub fn sso_token(data: &[u8]) {
    match crate::source::sso::parse_token(data, "f") {
        Ok(t) => assert!(!t.access_token.is_empty() && !t.access_token.contains(['\r', '\n'])),
        Err(why) => {
            assert!(!why.contains("seedaccesstoken"), "{why}");
            assert!(!why.chars().any(char::is_control), "{why:?}");
        }
    }
}

/// A request to the `exec --server` endpoint: credentials go out only for a GET of the exact
/// path with the exact token and a loopback Host, and nothing else ever carries them.
pub fn endpoint_request(data: &[u8]) {
    use crate::server::http::{State, decide, parse_request};
    let state = std::sync::Mutex::new(State {
        credentials: Some(crate::creds::Credentials {
            access_key_id: "ASIASERVED".into(),
            secret_access_key: "servedsecret".into(),
            session_token: Some("servedtoken".into()),
            expiration: Some(time::OffsetDateTime::now_utc() + time::Duration::hours(1)),
            account_id: Some("123456789012".into()),
        }),
        problem: None,
    });
    let Ok(r) = parse_request(&mut std::io::BufReader::new(data)) else {
        return;
    };
    let (status, _, body) = decide(
        &r.method,
        &r.target,
        r.host.as_deref(),
        r.authorization.as_deref(),
        "/mfarole/path",
        "tok3n",
        8080,
        &state,
    );
    let allowed = r.method == "GET"
        && r.target == "/mfarole/path"
        && r.authorization.as_deref() == Some("tok3n")
        && r.host.as_deref().is_some_and(|h| {
            let name = h.strip_suffix(":8080").unwrap_or(h);
            name == "127.0.0.1" || name.eq_ignore_ascii_case("localhost")
        });
    assert_eq!(
        status == 200,
        allowed,
        "{status} for {:?} {:?}",
        r.target,
        r.host
    );
    assert_eq!(body.contains("servedsecret"), allowed);
}

/// The judgement of every URL mfarole sends a secret to: what it accepts has a host and no user
/// info, is http(s), and over plain http goes only to a host that a second, independent reading
/// of the parsed host finds to be loopback (or, for the container endpoint, its link-local
/// hosts); the host judged is the host ureq's parser gives. What messages show of any URL is
/// one line without control characters and without user info.
pub fn url(data: &[u8]) {
    use crate::url::{PlainHttp, judge, shown};
    let text = String::from_utf8_lossy(data);
    for plain in [PlainHttp::Loopback, PlainHttp::LoopbackOrContainerHost] {
        let Ok(uri) = judge(&text, plain) else {
            continue;
        };
        let authority = uri.authority().expect("a judged URL has an authority");
        assert!(!authority.as_str().contains('@'), "{text:?}");
        let host = uri.host().expect("a judged URL has a host");
        assert!(!host.is_empty());
        let again: ureq::http::Uri = text.parse().expect("a judged URL parses");
        assert_eq!(again.host(), Some(host));
        let scheme = uri.scheme_str().unwrap_or("").to_ascii_lowercase();
        assert!(scheme == "https" || scheme == "http", "{text:?}");
        if scheme == "http" {
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            let ip = bare.parse::<std::net::IpAddr>().ok();
            let container = ["169.254.170.2", "169.254.170.23", "fd00:ec2::23"]
                .iter()
                .any(|a| a.parse::<std::net::IpAddr>().ok() == ip && ip.is_some());
            let loopback = bare.eq_ignore_ascii_case("localhost")
                || ip.is_some_and(|ip| ip.to_canonical().is_loopback());
            assert!(
                loopback || (plain == PlainHttp::LoopbackOrContainerHost && container),
                "plain http to {host} for {text:?}"
            );
        }
    }
    let line = shown(&text);
    assert!(!line.chars().any(char::is_control), "{line:?}");
    if let Some((_, rest)) = line.split_once("://") {
        let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
        if let Some(at) = authority.rfind('@') {
            assert_eq!(&authority[..at], "…", "user info shown: {line:?}");
        }
    }
}

/// The token files another program writes (web identity, container authorization) and the
/// container endpoint's error answer: a parsed token is never empty (the web identity one has
/// no surrounding white space, the container one is the file's text as is); the reader gives
/// the file whole when within its limit and says "larger" otherwise; an error body shown to the
/// user never holds 8 characters in a row of the token it was sent (first line of the input).
pub fn token_files(data: &[u8]) {
    use crate::source::{container, web_identity};
    if let Ok(t) = web_identity::parse_token(data) {
        assert!(!t.is_empty() && t.trim() == t, "{t:?}");
    }
    match container::parse_token(data) {
        Ok(t) => assert_eq!(t.as_bytes(), data),
        Err(why) => assert!(why == "is empty" || why == "is not text", "{why}"),
    }
    let (token, body) = match data.iter().position(|&b| b == b'\n') {
        Some(at) => (String::from_utf8_lossy(&data[..at]), &data[at + 1..]),
        None => (String::from_utf8_lossy(data), &b""[..]),
    };
    if let Some(shown) = container::error_text(body, Some(&token)) {
        assert!(!shown.chars().any(char::is_control), "{shown:?}");
        let chars: Vec<char> = token.chars().collect();
        if chars.len() >= 8 && !chars.iter().any(|c| c.is_whitespace() || c.is_control()) {
            for w in chars.windows(8) {
                let w: String = w.iter().collect();
                assert!(!shown.contains(&w), "{shown:?} quotes {w:?} of the token");
            }
        }
    }
    token_file_read(data);
}

/// [`crate::token_file::read`] on a file holding `data`, with a 64-byte limit.
fn token_file_read(data: &[u8]) {
    use crate::token_file::{Owner, Problem, read};
    thread_local! {
        static PATH: std::path::PathBuf = std::env::temp_dir()
            .join(format!("mfarole-fuzz-token-{}", std::process::id()));
    }
    PATH.with(|path| {
        std::fs::write(path, data).expect("the fuzz token file can be written");
        match read(path, 64, Owner::Me) {
            Ok(bytes) => assert_eq!(bytes, data),
            Err(Problem::TooLarge(64)) => assert!(data.len() > 64),
            Err(e) => panic!("{e}"),
        }
    });
}

/// The `aws login` cache file, the sign-in service's token answer and its error answer: see
/// [`crate::source::login::fuzz`].
pub fn login(data: &[u8]) {
    crate::source::login::fuzz(data);
}

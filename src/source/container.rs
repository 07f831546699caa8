//! The ECS/EKS container credentials endpoint (`credential_source = EcsContainer`): a GET to
//! the URL the environment names, with the `Authorization` header from
//! `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` (read each time, since EKS rotates it) else
//! `AWS_CONTAINER_AUTHORIZATION_TOKEN`. Three attempts, 2 s each, as the SDKs do; a token
//! holding CR or LF is refused (it could add headers). The URL is the SDKs' choice: the
//! relative URI on the ECS agent's address first, then the full URI, which may use plain http
//! only to a loopback address or the ECS/EKS link-local hosts (anything else could read the
//! credentials on the way).

use std::time::Duration;

use time::OffsetDateTime;

use crate::creds::Issued;
use crate::error::{Error, Result};
use crate::log::Log;
use crate::net::Route;
use crate::profile::Profile;
use crate::settings::{ContainerVars, Settings};
use crate::token_file::{self, Owner, Problem};
use crate::url::PlainHttp;

use super::{Fetch, Lookup, Provider, Source};

const ATTEMPTS: u32 = 3;
const TIMEOUT: Duration = Duration::from_secs(2);
/// A token file longer than this is not a token.
const TOKEN_LIMIT: u64 = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub url: String,
}

pub fn named(profile: &Profile, lookup: &Lookup) -> Result<Source> {
    Ok(Source::Container(Container {
        url: container_url(&profile.name, &lookup.settings.container)?,
    }))
}

impl Provider for Container {
    fn kind(&self) -> &'static str {
        "container credentials"
    }

    fn describe(&self) -> String {
        format!("container credentials from {}", self.url)
    }

    fn reason(&self) -> String {
        "credential_source = EcsContainer: the container credentials endpoint".into()
    }

    fn cache_key(&self, _: &str, _: &str) -> String {
        format!("v1 container url={}", self.url)
    }

    fn fetch(&self, ctx: &Fetch) -> Result<Issued> {
        fetch(
            &self.url,
            ctx.settings,
            ctx.log,
            ctx.fail("container credentials endpoint"),
        )
    }
}

/// The URL as the SDKs pick it.
fn container_url(profile: &str, vars: &ContainerVars) -> Result<String> {
    if let Some(rel) = &vars.relative_uri {
        if !rel.starts_with('/') || rel.chars().any(|c| c.is_control() || c == ' ') {
            return Err(Error::Setting(format!(
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI={} is not a path; fix or unset it",
                crate::error::clean(rel, 80)
            )));
        }
        return Ok(format!("http://169.254.170.2{rel}"));
    }
    let Some(full) = &vars.full_uri else {
        return Err(Error::profile(
            profile,
            "has credential_source = EcsContainer, but neither AWS_CONTAINER_CREDENTIALS_RELATIVE_URI nor AWS_CONTAINER_CREDENTIALS_FULL_URI is set (is this an ECS task or an EKS pod?)",
        ));
    };
    crate::url::judge(full, PlainHttp::LoopbackOrContainerHost)
        .map(|_| full.to_string())
        .map_err(|why| {
            Error::Setting(format!(
                "AWS_CONTAINER_CREDENTIALS_FULL_URI={} {why}",
                crate::url::shown(full)
            ))
        })
}

fn fetch(
    url: &str,
    settings: &Settings,
    log: &Log,
    fail: impl Fn(String) -> Error,
) -> Result<Issued> {
    // Judged again here, so that what is sent to is what was judged (the relative URI too).
    let uri = crate::url::judge(url, PlainHttp::LoopbackOrContainerHost)
        .map_err(|why| fail(format!("URL {} {why}", crate::url::shown(url))))?;
    let url = crate::url::shown(url);
    let token = authorization(&settings.container).map_err(&fail)?;
    let agent = crate::net::agent(&settings.net, Route::Local(TIMEOUT))?;
    let mut last = (String::new(), None);
    for attempt in 1..=ATTEMPTS {
        log.verbose(format_args!(
            "container credentials: GET {url} (attempt {attempt}/{ATTEMPTS}{})",
            if token.is_some() {
                ", with the authorization token"
            } else {
                ""
            }
        ));
        match once(&agent, &uri, &url, token.as_deref()).map_err(&fail)? {
            Attempt::Got(issued) => return Ok(issued),
            Attempt::Again(why, said) => last = (why, said),
            Attempt::Stop(why, said) => {
                last = (why, said);
                break;
            }
        }
        if attempt < ATTEMPTS {
            std::thread::sleep(Duration::from_millis(100 << attempt));
        }
    }
    Err(match last {
        (why, None) => fail(why),
        (why, Some(said)) => fail(why).quoting(said),
    })
}

/// What one request came to: credentials, or why not (with what the endpoint said, which is
/// shown but never stored), and whether another attempt may help.
enum Attempt {
    Got(Issued),
    Again(String, Option<String>),
    Stop(String, Option<String>),
}

/// One GET; `Err` is a failure no retry mends.
fn once(
    agent: &ureq::Agent,
    uri: &ureq::http::Uri,
    url: &str,
    token: Option<&str>,
) -> std::result::Result<Attempt, String> {
    let mut request = agent.get(uri.clone()).header("accept", "application/json");
    if let Some(t) = token {
        request = request.header("authorization", t);
    }
    let mut response = match request.call() {
        Ok(response) => response,
        Err(e) => {
            let why = format!("{} ({url})", crate::net::transport_text(&e));
            return Ok(Attempt::Again(why, None));
        }
    };
    let status = response.status().as_u16();
    let body = super::read_body(&mut response).map_err(|e| {
        format!(
            "answer from {url} could not be read whole: {}",
            crate::error::io_text(&e)
        )
    })?;
    if status == 200 {
        let credentials = super::parse_credentials(&body, OffsetDateTime::now_utc())
            .map_err(|why| format!("at {url} {why}"))?;
        return Ok(Attempt::Got(Issued {
            credentials,
            arn: None,
        }));
    }
    let why = format!("at {url} answered {status}");
    let said = error_text(&body, token);
    Ok(if status < 500 && status != 429 {
        Attempt::Stop(why, said)
    } else {
        Attempt::Again(why, said)
    })
}

/// The token, read fresh: the file wins over the variable, as in the SDKs.
fn authorization(vars: &ContainerVars) -> std::result::Result<Option<String>, String> {
    let token = match &vars.token_file {
        Some(path) => Some(read_token_file(path).map_err(|why| {
            format!(
                "token file {} (AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE) {why}",
                token_file::shown(path)
            )
        })?),
        None => vars.token.clone(),
    };
    match token {
        Some(t) if t.contains(['\r', '\n']) => Err(
            "authorization token holds a line break (CR or LF), which would forge headers; fix the token"
                .into(),
        ),
        other => Ok(other.filter(|t| !t.is_empty())),
    }
}

/// The token file as the SDKs read it (whole, not trimmed), by the rules of every token file
/// ([`token_file`]); an empty one is read once more (its writer may be rewriting it).
fn read_token_file(path: &std::path::Path) -> std::result::Result<String, Problem> {
    token_file::read_parsed(path, TOKEN_LIMIT, Owner::Anyone, parse_token)
}

/// The token in the file's bytes, whole (the SDKs do not trim it); errors are mfarole's words.
pub(crate) fn parse_token(bytes: &[u8]) -> std::result::Result<String, String> {
    match String::from_utf8(bytes.to_vec()) {
        Ok(t) if t.is_empty() => Err("is empty".to_string()),
        Ok(t) => Ok(t),
        Err(_) => Err("is not text".to_string()),
    }
}

/// The endpoint's `{"code","message"}` error, cleaned and cut; nothing when it is not that
/// shape. An endpoint may echo the request, token included: a message that holds any 8
/// characters of the token in a row is not shown at all, a shorter token is blanked out where
/// it stands alone.
pub(crate) fn error_text(body: &[u8], token: Option<&str>) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct E {
        code: Option<String>,
        message: Option<String>,
    }
    let E { code, message } = serde_json::from_slice::<E>(body).ok()?;
    let text = format!(
        "{} {}",
        code.as_deref().unwrap_or(""),
        message.as_deref().unwrap_or("")
    );
    let Some(text) = crate::redact::shown(&text, &[token.unwrap_or("")]) else {
        return Some("(its message quotes the authorization token: not shown)".into());
    };
    let shown = crate::error::clean(&text, 160);
    (!shown.is_empty()).then_some(shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_with_a_line_break_is_refused() {
        let vars = |t: &str| ContainerVars {
            token: Some(t.into()),
            ..Default::default()
        };
        assert!(
            authorization(&vars("abc\r\nX-Evil: 1"))
                .unwrap_err()
                .contains("line break")
        );
        assert_eq!(authorization(&vars("abc")).unwrap().as_deref(), Some("abc"));
    }

    #[test]
    fn error_bodies_are_shown_cleaned() {
        assert_eq!(
            error_text(
                br#"{"code":"AccessDenied","message":"bad\u001b[31m token"}"#,
                None
            )
            .as_deref(),
            Some("AccessDenied bad [31m token")
        );
        assert_eq!(error_text(b"<html>", None), None);
        let long = format!(r#"{{"message":"{}"}}"#, "x".repeat(500));
        assert_eq!(
            error_text(long.as_bytes(), None).unwrap().chars().count(),
            161
        );
    }

    #[test]
    fn an_echoed_token_is_never_shown() {
        let token = "Bearer-0123456789abcdef";
        for body in [
            r#"{"code":"Unauthorized","message":"token Bearer-0123456789abcdef is not valid"}"#,
            r#"{"code":"Unauthorized","message":"token 0123456789ab… is not valid"}"#,
            r#"{"code":"Bearer-0123456789abcdef"}"#,
        ] {
            let shown = error_text(body.as_bytes(), Some(token)).unwrap();
            assert!(!shown.contains("01234567"), "{shown}");
        }
        assert_eq!(
            error_text(br#"{"message":"abc wrong, abcd"}"#, Some("abc")).as_deref(),
            Some("… wrong, abcd")
        );
        assert_eq!(
            error_text(br#"{"message":"bad token"}"#, Some("tok")).as_deref(),
            Some("bad token")
        );
    }
}

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

use super::{Fetch, Lookup, Provider, Source};

const ATTEMPTS: u32 = 3;
const TIMEOUT: Duration = Duration::from_secs(2);

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
    let shown = crate::error::clean(full, 100);
    let bad =
        |why: &str| Error::Setting(format!("AWS_CONTAINER_CREDENTIALS_FULL_URI={shown} {why}"));
    let (scheme, rest) = full
        .split_once("://")
        .ok_or_else(|| bad("is not an http(s) URL"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    if host.is_empty() || full.chars().any(|c| c.is_control() || c == ' ') {
        return Err(bad("is not an http(s) URL"));
    }
    match scheme.to_ascii_lowercase().as_str() {
        "https" => Ok(full.to_string()),
        "http" if host_allowed(host) => Ok(full.to_string()),
        "http" => Err(bad(
            "uses plain http to a host that is neither loopback nor the ECS/EKS endpoint; use https",
        )),
        _ => Err(bad("is not an http(s) URL")),
    }
}

fn host_allowed(host: &str) -> bool {
    use std::net::IpAddr;
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match host.parse::<IpAddr>() {
        Ok(ip) if ip.is_loopback() => true,
        Ok(ip) => ["169.254.170.2", "169.254.170.23", "fd00:ec2::23"]
            .iter()
            .any(|a| a.parse::<IpAddr>().is_ok_and(|allowed| allowed == ip)),
        Err(_) => false,
    }
}

fn fetch(
    url: &str,
    settings: &Settings,
    log: &Log,
    fail: impl Fn(String) -> Error,
) -> Result<Issued> {
    let token = authorization(&settings.container).map_err(&fail)?;
    let agent = crate::net::agent(&settings.net, Route::Local(TIMEOUT))?;
    let mut last = String::new();
    for attempt in 1..=ATTEMPTS {
        log.verbose(format_args!(
            "container credentials: GET {url} (attempt {attempt}/{ATTEMPTS}{})",
            if token.is_some() {
                ", with the authorization token"
            } else {
                ""
            }
        ));
        let mut request = agent.get(url).header("accept", "application/json");
        if let Some(t) = &token {
            request = request.header("authorization", t.as_str());
        }
        match request.call() {
            Err(e) => last = format!("{} ({url})", super::transport_text(&e)),
            Ok(mut response) => {
                let status = response.status().as_u16();
                let body = super::read_body(&mut response).map_err(|e| {
                    fail(format!(
                        "answer from {url} broke off: {}",
                        crate::error::io_text(&e)
                    ))
                })?;
                if status == 200 {
                    let credentials = super::parse_credentials(&body, OffsetDateTime::now_utc())
                        .map_err(|why| fail(format!("at {url} {why}")))?;
                    return Ok(Issued {
                        credentials,
                        arn: None,
                    });
                }
                last = format!("at {url} answered {status}{}", error_text(&body));
                if status < 500 && status != 429 {
                    break;
                }
            }
        }
        if attempt < ATTEMPTS {
            std::thread::sleep(Duration::from_millis(100 << attempt));
        }
    }
    Err(fail(last))
}

/// The token, read fresh: the file wins over the variable, as in the SDKs.
fn authorization(vars: &ContainerVars) -> std::result::Result<Option<String>, String> {
    let token = match &vars.token_file {
        Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
            format!(
                "token file {} (AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE) cannot be read: {}",
                path.display(),
                crate::error::io_text(&e)
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

/// The endpoint's `{"code","message"}` error, cleaned; nothing when it is not that shape.
fn error_text(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct E {
        code: Option<String>,
        message: Option<String>,
    }
    match serde_json::from_slice::<E>(body) {
        Ok(E { code, message }) if code.is_some() || message.is_some() => format!(
            ": {} {}",
            crate::error::clean(code.as_deref().unwrap_or(""), 40),
            crate::error::clean(message.as_deref().unwrap_or(""), 120)
        )
        .trim_end()
        .to_string(),
        _ => String::new(),
    }
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
            error_text(br#"{"code":"AccessDenied","message":"bad\u001b[31m token"}"#),
            ": AccessDenied bad [31m token"
        );
        assert_eq!(error_text(b"<html>"), "");
    }
}

//! The ECS/EKS container credentials endpoint: a GET to the URL the config resolved, with the
//! `Authorization` header from `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` (read each time, since
//! EKS rotates it) else `AWS_CONTAINER_AUTHORIZATION_TOKEN`. Three attempts, 2 s each, as the
//! SDKs do; a token holding CR or LF is refused (it could add headers).

use std::time::Duration;

use time::OffsetDateTime;

use crate::creds::Issued;
use crate::environ::Environ;
use crate::error::{Error, Result};
use crate::log::Log;

const ATTEMPTS: u32 = 3;
const TIMEOUT: Duration = Duration::from_secs(2);

pub fn fetch(
    url: &str,
    env: &Environ,
    log: &Log,
    fail: impl Fn(String) -> Error,
) -> Result<Issued> {
    let token = authorization(env).map_err(&fail)?;
    let agent = super::local_agent(TIMEOUT);
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
fn authorization(env: &Environ) -> std::result::Result<Option<String>, String> {
    let token = match env.path("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") {
        Some(path) => Some(std::fs::read_to_string(&path).map_err(|e| {
            format!(
                "token file {} (AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE) cannot be read: {}",
                path.display(),
                crate::error::io_text(&e)
            )
        })?),
        None => env
            .get("AWS_CONTAINER_AUTHORIZATION_TOKEN")
            .map(str::to_string),
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
        let env = Environ::from_pairs(&[("AWS_CONTAINER_AUTHORIZATION_TOKEN", "abc\r\nX-Evil: 1")]);
        assert!(authorization(&env).unwrap_err().contains("line break"));
        let env = Environ::from_pairs(&[("AWS_CONTAINER_AUTHORIZATION_TOKEN", "abc")]);
        assert_eq!(authorization(&env).unwrap().as_deref(), Some("abc"));
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

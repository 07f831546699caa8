//! The first credentials of a chain when they are fetched at run time: a `credential_process`,
//! the ECS/EKS container credentials endpoint, the EC2 instance metadata service, or an IAM
//! Identity Center login. (A web
//! identity token is exchanged with STS itself, by the STS client.) Each answers with the same
//! JSON shape, parsed here once, and each failure is one [`Error::Source`] that names the
//! profile and the source and never holds a secret or the answer's body.

mod container;
mod imds;
mod process;
pub(crate) mod sso;

use std::time::Duration;

use serde::Deserialize;
use time::OffsetDateTime;

use crate::config::SourceKind;
use crate::creds::{Credentials, Issued};
use crate::environ::Environ;
use crate::error::{Error, Result};
use crate::log::Log;

pub use process::RUNNING;
pub use sso::login_status;

/// Fetches the credentials of a source that is not an STS call. `timeout` bounds a process;
/// `cache` holds the lock that makes parallel runs refresh an SSO login once.
pub fn fetch(
    profile: &str,
    kind: &SourceKind,
    env: &Environ,
    cache: &crate::cache::Cache,
    timeout: Duration,
    log: &Log,
) -> Result<Issued> {
    let fail = |what: &'static str| {
        move |message: String| Error::Source {
            profile: profile.to_string(),
            what,
            message,
        }
    };
    let issued = match kind {
        SourceKind::Process(cmd) => {
            process::run(cmd, profile, env, timeout, fail("credential_process"))?
        }
        SourceKind::Container { url } => {
            container::fetch(url, env, log, fail("container credentials endpoint"))?
        }
        SourceKind::InstanceMetadata(imds) => imds::fetch(imds, log, fail("instance metadata"))?,
        SourceKind::Sso(sso) => {
            sso::fetch(profile, sso, env, cache, log, fail("IAM Identity Center"))?
        }
        SourceKind::Keys(_) | SourceKind::Environment(_) | SourceKind::WebIdentity(_) => {
            unreachable!("not fetched here")
        }
    };
    Ok(issued)
}

/// The JSON all three answer with: the process contract (`Version`, `SessionToken`) and the
/// endpoints' (`Token`, `Code`). Unknown fields are ignored.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct JsonCredentials {
    version: Option<serde_json::Value>,
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
    session_token: Option<String>,
    token: Option<String>,
    expiration: Option<String>,
    code: Option<String>,
}

/// Parses an answer into credentials; `Err` says what is wrong without quoting the body.
pub(crate) fn parse_credentials(
    body: &[u8],
    now: OffsetDateTime,
) -> std::result::Result<Credentials, String> {
    let json: JsonCredentials = serde_json::from_slice(body)
        .map_err(|e| format!("gave no JSON credentials ({})", json_error(&e)))?;
    // The Code is not echoed: it is the answer's text, and anything may stand there (found
    // by fuzzing: a Code holding the token was shown in the error).
    if json.code.as_deref().is_some_and(|code| code != "Success") {
        return Err("answered a Code other than Success".into());
    }
    let field = |name: &str, v: Option<String>| {
        v.filter(|v| !v.is_empty())
            .ok_or_else(|| format!("gave JSON without {name}"))
    };
    let credentials = Credentials {
        access_key_id: field("AccessKeyId", json.access_key_id)?,
        secret_access_key: field("SecretAccessKey", json.secret_access_key)?,
        session_token: json.session_token.or(json.token).filter(|t| !t.is_empty()),
        expiration: match json.expiration.as_deref() {
            None | Some("") => None,
            Some(text) => Some(
                crate::sts::xml::parse_time(text)
                    .ok_or("gave an Expiration that is not an RFC 3339 time")?,
            ),
        },
    };
    if let Some(part) = credentials.bad_part() {
        return Err(format!("gave a {part} with a control character"));
    }
    if let Some(exp) = credentials.expiration
        && exp <= now
    {
        return Err(format!(
            "gave credentials that expired at {}",
            crate::cache::show_time(exp)
        ));
    }
    if credentials.expiration.is_some() && credentials.session_token.is_none() {
        return Err("gave temporary credentials (an Expiration) without a session token".into());
    }
    // Version is the process contract's; checked there, tolerated here.
    let _ = json.version;
    Ok(credentials)
}

/// serde_json's message without the input it quotes (it may be a secret).
fn json_error(e: &serde_json::Error) -> String {
    format!(
        "{:?} at line {} column {}",
        e.classify(),
        e.line(),
        e.column()
    )
    .to_lowercase()
}

/// A blocking HTTP agent for the local credential services: short timeouts, no proxy (the
/// SDKs never send these requests through one), error bodies kept.
fn local_agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(timeout))
        .timeout_global(Some(timeout))
        .max_redirects(0)
        .proxy(None)
        .user_agent(concat!("mfarole/", env!("CARGO_PKG_VERSION")))
        .build()
        .new_agent()
}

/// Reads at most 64 KiB of an answer.
fn read_body(response: &mut ureq::http::Response<ureq::Body>) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    response
        .body_mut()
        .as_reader()
        .take(64 * 1024)
        .read_to_end(&mut out)?;
    Ok(out)
}

/// What a transport failure was, in a few words.
fn transport_text(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => "timed out".into(),
        ureq::Error::ConnectionFailed => "cannot connect".into(),
        ureq::Error::HostNotFound => "host not found".into(),
        ureq::Error::Io(io) => crate::error::io_text(io),
        other => crate::error::clean(&other.to_string(), 80),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> OffsetDateTime {
        time::macros::datetime!(2026-11-25 12:00:00 UTC)
    }

    #[test]
    fn endpoint_and_process_shapes_parse() {
        let c = parse_credentials(
            br#"{"AccessKeyId":"ASIA1","SecretAccessKey":"s","Token":"t","Expiration":"2026-11-25T13:00:00Z","RoleArn":"x"}"#,
            now(),
        )
        .unwrap();
        assert_eq!(c.session_token.as_deref(), Some("t"));
        let c = parse_credentials(
            br#"{"Version":1,"AccessKeyId":"AKIA1","SecretAccessKey":"s"}"#,
            now(),
        )
        .unwrap();
        assert!(c.is_long_term() && c.expiration.is_none());
    }

    #[test]
    fn bad_answers_are_explained_without_their_body() {
        for (body, want) in [
            (&b"not json secretvalue"[..], "gave no JSON"),
            (br#"{"AccessKeyId":"A"}"#, "without SecretAccessKey"),
            (br#"{"Code":"Failure","AccessKeyId":"A","SecretAccessKey":"secretvalue"}"#, "Code other than Success"),
            (br#"{"Code":"S secretvalue","AccessKeyId":"A","SecretAccessKey":"s"}"#, "Code other than Success"),
            (br#"{"AccessKeyId":"A","SecretAccessKey":"s","Token":"t","Expiration":"2020-01-01T00:00:00Z"}"#, "expired"),
            (br#"{"AccessKeyId":"A","SecretAccessKey":"s","Token":"t","Expiration":"soon"}"#, "RFC 3339"),
            (br#"{"AccessKeyId":"A","SecretAccessKey":"s\u0000x"}"#, "control character"),
        ] {
            let e = parse_credentials(body, now()).unwrap_err();
            assert!(e.contains(want), "{e}");
            assert!(!e.contains("secretvalue"), "{e}");
        }
    }
}

//! The EC2 instance metadata service (`credential_source = Ec2InstanceMetadata`), IMDSv2
//! only: PUT a session token, then GET the role name, then its credentials, each request with
//! the token. Timeouts and attempts are the SDKs' (`metadata_service_timeout` 1 s,
//! `metadata_service_num_attempts` 1), so that a laptop without IMDS fails in about a second,
//! saying where it looked. Each setting comes from its environment variable first, then the
//! profile, then the SDKs' default.

use std::time::Duration;

use time::OffsetDateTime;

use crate::creds::Issued;
use crate::error::{Error, Result};
use crate::log::Log;
use crate::net::Route;
use crate::profile::Profile;
use crate::settings::{ImdsVars, NetSettings};

use super::{Fetch, Lookup, Provider, Source};

/// Where and how patiently to ask the instance metadata service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imds {
    pub endpoint: String,
    pub timeout: Duration,
    pub attempts: u32,
    /// `AWS_EC2_METADATA_DISABLED=true`: refused when the step would run.
    pub disabled: bool,
}

pub fn named(profile: &Profile, lookup: &Lookup) -> Result<Source> {
    Ok(Source::InstanceMetadata(settings(
        profile,
        &lookup.settings.imds,
    )?))
}

impl Provider for Imds {
    fn kind(&self) -> &'static str {
        "instance metadata"
    }

    fn describe(&self) -> String {
        format!("instance metadata at {}", self.endpoint)
    }

    fn reason(&self) -> String {
        "credential_source = Ec2InstanceMetadata: the instance's role, by IMDSv2".into()
    }

    fn cache_key(&self, _: &str, _: &str) -> String {
        format!("v1 imds url={}", self.endpoint)
    }

    fn fetch(&self, ctx: &Fetch) -> Result<Issued> {
        fetch(
            self,
            &ctx.settings.net,
            ctx.log,
            ctx.fail("instance metadata"),
        )
    }
}

/// The variable first, then the profile's setting, then the SDKs' defaults (IPv4, 1 s, 1
/// attempt).
fn settings(profile: &Profile, vars: &ImdsVars) -> Result<Imds> {
    let pick = |var: &'static str, value: &Option<String>, key: &str| {
        value
            .as_ref()
            .map(|v| (var.to_string(), v.clone()))
            .or_else(|| {
                profile.get(key).map(|v| {
                    (
                        format!("{key} in profile '{}'", profile.name),
                        v.to_string(),
                    )
                })
            })
    };
    let bad = |(name, value): (String, String), want: &str| {
        Error::Setting(format!(
            "{name} = {} is not {want}; fix or unset it",
            crate::error::clean(&value, 60)
        ))
    };
    let endpoint = match pick(
        "AWS_EC2_METADATA_SERVICE_ENDPOINT",
        &vars.endpoint,
        "ec2_metadata_service_endpoint",
    ) {
        Some((_, v)) if v.starts_with("http://") || v.starts_with("https://") => {
            v.trim_end_matches('/').to_string()
        }
        Some(other) => return Err(bad(other, "an http(s) URL")),
        None => match pick(
            "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
            &vars.endpoint_mode,
            "ec2_metadata_service_endpoint_mode",
        ) {
            None => "http://169.254.169.254".to_string(),
            Some((_, m)) if m.eq_ignore_ascii_case("ipv4") => "http://169.254.169.254".to_string(),
            Some((_, m)) if m.eq_ignore_ascii_case("ipv6") => "http://[fd00:ec2::254]".to_string(),
            Some(other) => return Err(bad(other, "IPv4 or IPv6")),
        },
    };
    let timeout = match pick(
        "AWS_METADATA_SERVICE_TIMEOUT",
        &vars.timeout,
        "metadata_service_timeout",
    ) {
        None => Duration::from_secs(1),
        Some(p) => match p.1.parse::<f64>() {
            Ok(t) if t > 0.0 && t <= 300.0 => Duration::from_secs_f64(t),
            _ => return Err(bad(p, "a number of seconds")),
        },
    };
    let attempts = match pick(
        "AWS_METADATA_SERVICE_NUM_ATTEMPTS",
        &vars.attempts,
        "metadata_service_num_attempts",
    ) {
        None => 1,
        Some(p) => match p.1.parse::<u32>() {
            Ok(n) if (1..=10).contains(&n) => n,
            _ => return Err(bad(p, "a number from 1 to 10")),
        },
    };
    Ok(Imds {
        endpoint,
        timeout,
        attempts,
        disabled: vars.disabled,
    })
}

const TOKEN_TTL: &str = "21600";

/// One conversation with the service.
struct Session<'a> {
    imds: &'a Imds,
    agent: &'a ureq::Agent,
    log: &'a Log,
}

impl Session<'_> {
    /// One request, with the configured attempts for 5xx answers and transport failures:
    /// the status and body, or why there was none.
    fn ask(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
    ) -> std::result::Result<(u16, Vec<u8>), String> {
        let (imds, agent) = (self.imds, self.agent);
        let url = format!("{}{path}", imds.endpoint);
        let mut last = String::new();
        for attempt in 1..=imds.attempts {
            self.log.verbose(format_args!(
                "instance metadata: {method} {url} (attempt {attempt}/{})",
                imds.attempts
            ));
            let result = match method {
                "PUT" => agent
                    .put(&url)
                    .header("x-aws-ec2-metadata-token-ttl-seconds", TOKEN_TTL)
                    .send_empty(),
                _ => agent
                    .get(&url)
                    .header("x-aws-ec2-metadata-token", token.unwrap_or_default())
                    .call(),
            };
            match result {
                Ok(mut r) => {
                    let status = r.status().as_u16();
                    let body = super::read_body(&mut r).map_err(|e| crate::error::io_text(&e))?;
                    if status < 500 {
                        return Ok((status, body));
                    }
                    last = format!("answered {status}");
                }
                Err(e) => last = crate::net::transport_text(&e),
            }
            if attempt < imds.attempts {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Err(last)
    }
}

fn fetch(
    imds: &Imds,
    net: &NetSettings,
    log: &Log,
    fail: impl Fn(String) -> Error,
) -> Result<Issued> {
    if imds.disabled {
        return Err(fail(
            "is turned off by AWS_EC2_METADATA_DISABLED; unset it or use another credential_source"
                .into(),
        ));
    }
    let agent = crate::net::agent(net, Route::Local(imds.timeout))?;
    let base = &imds.endpoint;
    // "Not on EC2?" only when nothing answered: a service that answered is there.
    let unanswered = || {
        format!(
            "at {base} ({}s timeout, {} attempt{}); not on EC2? set AWS_EC2_METADATA_SERVICE_ENDPOINT or use another credential_source",
            imds.timeout.as_secs_f64(),
            imds.attempts,
            if imds.attempts == 1 { "" } else { "s" }
        )
    };
    let where_ = || format!("at {base}");
    let session = Session {
        imds,
        agent: &agent,
        log,
    };
    let ask = |method: &str, path: &str, token: Option<&str>| session.ask(method, path, token);
    let (status, token) = ask("PUT", "/latest/api/token", None)
        .map_err(|why| fail(format!("gave no session token: {why} {}", unanswered())))?;
    if status != 200 {
        return Err(fail(format!(
            "refused a session token (status {status}) {}; mfarole uses IMDSv2 only",
            where_()
        )));
    }
    let token = String::from_utf8(token)
        .ok()
        .map(|t| t.trim().to_string())
        // IMDS's tokens are about 56 characters; one of kilobytes is not IMDS's.
        .filter(|t| !t.is_empty() && t.len() <= 1024 && !t.chars().any(char::is_control))
        .ok_or_else(|| {
            fail(format!(
                "gave a session token that is not usable {}",
                where_()
            ))
        })?;
    let path = "/latest/meta-data/iam/security-credentials/";
    let (status, names) =
        ask("GET", path, Some(&token)).map_err(|why| fail(format!("{why} {}", unanswered())))?;
    let role = role_name(status, &names).map_err(|why| fail(format!("{why} {}", where_())))?;
    let (status, body) = ask("GET", &format!("{path}{role}"), Some(&token))
        .map_err(|why| fail(format!("{why} {}", unanswered())))?;
    if status != 200 {
        return Err(fail(format!(
            "answered {status} for the credentials of role {} {}",
            crate::error::clean(&role, 64),
            where_()
        )));
    }
    let credentials = super::parse_credentials(&body, OffsetDateTime::now_utc())
        .map_err(|why| fail(format!("at {base} {why}")))?;
    Ok(Issued {
        credentials,
        arn: None,
    })
}

/// The instance's role, from the answer to `GET .../security-credentials/` (its first line).
fn role_name(status: u16, names: &[u8]) -> std::result::Result<String, String> {
    let role = String::from_utf8_lossy(names)
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string);
    match (status, role) {
        (200, Some(r)) if is_role_name(&r) => Ok(r),
        (200, Some(r)) => Err(format!(
            "gave a role name that is not an IAM role name ('{}')",
            crate::error::clean(&r, 64)
        )),
        (404, _) | (200, None) => Err("has no IAM role for this instance".into()),
        (s, _) => Err(format!("answered {s} for the role name")),
    }
}

/// An IAM role name: 1–64 of letters, digits and `+=,.@_-` (IAM API reference, `roleNameType`).
/// Anything else (`../x`, a space, a control character) is not one, and would change the
/// path of the next request.
fn is_role_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
        && name.bytes().any(|b| b != b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_iam_role_names_make_the_next_path() {
        for ok in ["web", "my-role_1", "a+b=c,d.e@f", &"r".repeat(64)] {
            assert!(is_role_name(ok), "{ok}");
        }
        let long = "r".repeat(65);
        for bad in [
            "",
            "..",
            ".",
            "../../evil",
            "a b",
            "a\x1b[31m",
            "a/b",
            "a?b",
            &long,
        ] {
            assert!(!is_role_name(bad), "{bad}");
        }
    }
}

//! The EC2 instance metadata service, IMDSv2 only: PUT a session token, then GET the role name,
//! then its credentials, each request with the token. Timeouts and attempts are the SDKs'
//! (`metadata_service_timeout` 1 s, `metadata_service_num_attempts` 1), so that a laptop
//! without IMDS fails in about a second, saying where it looked.

use std::time::Duration;

use time::OffsetDateTime;

use crate::config::Imds;
use crate::creds::Issued;
use crate::error::{Error, Result};
use crate::log::Log;

const TOKEN_TTL: &str = "21600";

pub fn fetch(imds: &Imds, log: &Log, fail: impl Fn(String) -> Error) -> Result<Issued> {
    if imds.disabled {
        return Err(fail(
            "is turned off by AWS_EC2_METADATA_DISABLED; unset it or use another credential_source"
                .into(),
        ));
    }
    let agent = super::local_agent(imds.timeout);
    let base = &imds.endpoint;
    let where_ = || {
        format!(
            "at {base} ({}s timeout, {} attempt{}); not on EC2? set AWS_EC2_METADATA_SERVICE_ENDPOINT or use another credential_source",
            imds.timeout.as_secs_f64(),
            imds.attempts,
            if imds.attempts == 1 { "" } else { "s" }
        )
    };
    let ask = |method: &str,
               path: &str,
               token: Option<&str>|
     -> std::result::Result<(u16, Vec<u8>), String> {
        let url = format!("{base}{path}");
        let mut last = String::new();
        for attempt in 1..=imds.attempts {
            log.verbose(format_args!(
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
                Err(e) => last = super::transport_text(&e),
            }
            if attempt < imds.attempts {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Err(last)
    };
    let (status, token) = ask("PUT", "/latest/api/token", None)
        .map_err(|why| fail(format!("gave no session token: {why} {}", where_())))?;
    if status != 200 {
        return Err(fail(format!(
            "refused a session token (status {status}) {}; mfarole uses IMDSv2 only",
            where_()
        )));
    }
    let token = String::from_utf8(token)
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty() && !t.contains(['\r', '\n']))
        .ok_or_else(|| {
            fail(format!(
                "gave a session token that is not usable {}",
                where_()
            ))
        })?;
    let path = "/latest/meta-data/iam/security-credentials/";
    let (status, names) =
        ask("GET", path, Some(&token)).map_err(|why| fail(format!("{why} {}", where_())))?;
    let role = String::from_utf8_lossy(&names)
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string);
    let role = match (status, role) {
        (200, Some(r)) if !r.contains(['/', '?', '#']) => r,
        (404, _) | (200, None) => {
            return Err(fail(format!(
                "has no IAM role for this instance {}",
                where_()
            )));
        }
        (s, _) => return Err(fail(format!("answered {s} for the role name {}", where_()))),
    };
    let (status, body) = ask("GET", &format!("{path}{role}"), Some(&token))
        .map_err(|why| fail(format!("{why} {}", where_())))?;
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

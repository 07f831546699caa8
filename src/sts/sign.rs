//! SigV4 for STS Query requests. Every `aws-sigv4` type stays inside this file, so that the
//! rest of the program deals in plain header pairs and an upgrade of that crate touches one
//! place.

use std::time::SystemTime;

use aws_credential_types::Credentials as AwsCredentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;

use crate::creds::Credentials;

/// The headers to add to a `POST` of `body` to `url` so that STS accepts it: `authorization`,
/// `x-amz-date`, and `x-amz-security-token` for temporary credentials. `headers` are the ones
/// the request already carries and that are signed with it.
pub fn sign_post(
    creds: &Credentials,
    region: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    now: SystemTime,
) -> Result<Vec<(String, String)>, String> {
    let identity = AwsCredentials::new(
        &creds.access_key_id,
        &creds.secret_access_key,
        creds.session_token.clone(),
        None,
        "mfarole",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(now)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let request = SignableRequest::new(
        "POST",
        url,
        headers.iter().copied(),
        SignableBody::Bytes(body),
    )
    .map_err(|e| e.to_string())?;
    let (instructions, _signature) = sign(request, &params)
        .map_err(|e| e.to_string())?
        .into_parts();
    let (headers, _params) = instructions.into_parts();
    Ok(headers
        .into_iter()
        .map(|h| (h.name().to_string(), h.value().to_string()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn creds(token: Option<&str>) -> Credentials {
        Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: token.map(str::to_string),
            expiration: None,
            account_id: None,
        }
    }

    #[test]
    fn signs_with_date_and_scope() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let h = sign_post(
            &creds(None),
            "eu-west-1",
            "https://sts.eu-west-1.amazonaws.com/",
            &[
                (
                    "content-type",
                    "application/x-www-form-urlencoded; charset=utf-8",
                ),
                ("host", "sts.eu-west-1.amazonaws.com"),
            ],
            b"Action=GetSessionToken&Version=2011-06-15",
            now,
        )
        .unwrap();
        let get = |n: &str| h.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        assert_eq!(get("x-amz-date").as_deref(), Some("20231114T221320Z"));
        let auth = get("authorization").unwrap();
        assert!(
            auth.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/eu-west-1/sts/aws4_request"
            ),
            "{auth}"
        );
        assert!(
            auth.contains("SignedHeaders=content-type;host;x-amz-date"),
            "{auth}"
        );
        assert!(get("x-amz-security-token").is_none());
    }

    #[test]
    fn session_token_is_sent_and_signed() {
        let h = sign_post(
            &creds(Some("TOKEN")),
            "us-east-1",
            "https://sts.amazonaws.com/",
            &[("host", "sts.amazonaws.com")],
            b"",
            SystemTime::now(),
        )
        .unwrap();
        assert!(
            h.iter()
                .any(|(k, v)| k == "x-amz-security-token" && v == "TOKEN")
        );
        let auth = &h.iter().find(|(k, _)| k == "authorization").unwrap().1;
        assert!(auth.contains("x-amz-security-token"), "{auth}");
    }
}

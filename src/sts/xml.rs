//! STS's XML answers: the two success documents and both error shapes.
//!
//! Real STS wraps an error as `ErrorResponse/Error`; moto's auth layer (and some proxies in
//! front of STS) as `ErrorResponse/Errors/Error`. We accept both and never decide by
//! Content-Type. Text is trimmed, because real answers are pretty-printed.

use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::creds::{Credentials, Issued};

#[derive(Deserialize)]
struct XmlCredentials {
    #[serde(rename = "AccessKeyId")]
    access_key_id: String,
    #[serde(rename = "SecretAccessKey")]
    secret_access_key: String,
    #[serde(rename = "SessionToken")]
    session_token: String,
    #[serde(rename = "Expiration")]
    expiration: String,
}

#[derive(Deserialize)]
struct XmlRoleUser {
    #[serde(rename = "Arn")]
    arn: String,
}

#[derive(Deserialize)]
struct XmlResult {
    #[serde(rename = "Credentials")]
    credentials: XmlCredentials,
    #[serde(rename = "AssumedRoleUser")]
    assumed_role_user: Option<XmlRoleUser>,
    /// GetFederationToken's `FederatedUser` (its `Arn` is `…:federated-user/NAME`).
    #[serde(rename = "FederatedUser")]
    federated_user: Option<XmlRoleUser>,
}

#[derive(Deserialize)]
struct SuccessDoc {
    #[serde(
        rename = "GetSessionTokenResult",
        alias = "AssumeRoleResult",
        alias = "AssumeRoleWithWebIdentityResult",
        alias = "GetFederationTokenResult"
    )]
    result: XmlResult,
}

#[derive(Deserialize, Default)]
struct XmlError {
    #[serde(rename = "Code", default)]
    code: String,
    #[serde(rename = "Message", default)]
    message: String,
}

#[derive(Deserialize)]
struct XmlErrors {
    #[serde(rename = "Error")]
    error: XmlError,
}

#[derive(Deserialize)]
struct ErrorDoc {
    #[serde(rename = "Error")]
    error: Option<XmlError>,
    #[serde(rename = "Errors")]
    errors: Option<XmlErrors>,
    #[serde(rename = "RequestId", alias = "RequestID")]
    request_id: Option<String>,
}

/// An STS error document, trimmed, not yet cleaned for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StsError {
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
}

/// Parses a successful GetSessionToken or AssumeRole answer. `Err` says what was missing.
pub fn parse_success(body: &str) -> Result<Issued, String> {
    let doc: SuccessDoc = quick_xml::de::from_str(body).map_err(|e| e.to_string())?;
    let c = doc.result.credentials;
    let field = |name: &str, v: String| {
        let v = v.trim().to_string();
        if v.is_empty() || v.chars().any(|c| c.is_control()) {
            Err(format!("{name} is empty or not printable"))
        } else {
            Ok(v)
        }
    };
    let expiration = parse_time(c.expiration.trim())
        .ok_or_else(|| "Expiration is not an RFC 3339 time".to_string())?;
    let arn = doc
        .result
        .assumed_role_user
        .or(doc.result.federated_user)
        .map(|u| u.arn.trim().to_string())
        .filter(|a| !a.is_empty());
    Ok(Issued {
        credentials: Credentials {
            access_key_id: field("AccessKeyId", c.access_key_id)?,
            secret_access_key: field("SecretAccessKey", c.secret_access_key)?,
            session_token: Some(field("SessionToken", c.session_token)?),
            expiration: Some(expiration),
            // The role's account, from its ARN; GetSessionToken's is filled in by the pipeline.
            account_id: arn.as_deref().and_then(crate::creds::account_of_arn),
        },
        arn,
    })
}

/// Parses either error shape; `None` when the body is not an STS error document.
pub fn parse_error(body: &str) -> Option<StsError> {
    let doc: ErrorDoc = quick_xml::de::from_str(body).ok()?;
    let error = doc.error.or(doc.errors.map(|e| e.error))?;
    let code = error.code.trim().to_string();
    if code.is_empty() {
        return None;
    }
    Some(StsError {
        code,
        message: error.message.trim().to_string(),
        request_id: doc
            .request_id
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty()),
    })
}

/// RFC 3339, with or without fractional seconds (moto adds microseconds), in any offset.
pub fn parse_time(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GST: &str = r#"<GetSessionTokenResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetSessionTokenResult>
    <Credentials>
      <SessionToken>
       AQoEXAMPLEH4aoAH0gNCAPy
      </SessionToken>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
      <Expiration>2011-07-11T19:55:29.611Z</Expiration>
      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>
    </Credentials>
  </GetSessionTokenResult>
  <ResponseMetadata><RequestId>58c5dbae-abef-11e0-8cfe-09039844ac7d</RequestId></ResponseMetadata>
</GetSessionTokenResponse>"#;

    const AR: &str = r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
<AssumeRoleResult>
<AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/demo/jones</Arn><AssumedRoleId>ARO123EXAMPLE123:jones</AssumedRoleId></AssumedRoleUser>
<Credentials><AccessKeyId>ASIAROLE</AccessKeyId><SecretAccessKey>sec</SecretAccessKey><SessionToken>tok</SessionToken><Expiration>2019-11-09T13:34:41Z</Expiration></Credentials>
<PackedPolicySize>6</PackedPolicySize>
</AssumeRoleResult>
<ResponseMetadata><RequestId>c6104cbe</RequestId></ResponseMetadata>
</AssumeRoleResponse>"#;

    #[test]
    fn session_token_answer_with_whitespace() {
        let i = parse_success(GST).unwrap();
        assert_eq!(i.credentials.access_key_id, "ASIAIOSFODNN7EXAMPLE");
        assert_eq!(
            i.credentials.session_token.as_deref(),
            Some("AQoEXAMPLEH4aoAH0gNCAPy")
        );
        assert_eq!(
            i.credentials.expiration.unwrap().unix_timestamp(),
            1310414129
        );
        assert_eq!(i.arn, None);
    }

    #[test]
    fn assume_role_answer_has_the_arn() {
        let i = parse_success(AR).unwrap();
        assert_eq!(
            i.arn.as_deref(),
            Some("arn:aws:sts::123456789012:assumed-role/demo/jones")
        );
        assert_eq!(i.credentials.secret_access_key, "sec");
    }

    /// The shape of the STS API reference's GetFederationToken example.
    const GFT: &str = r#"<GetFederationTokenResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetFederationTokenResult>
    <Credentials>
      <SessionToken>fedtok</SessionToken>
      <SecretAccessKey>fedsec</SecretAccessKey>
      <Expiration>2011-07-15T23:28:33.359Z</Expiration>
      <AccessKeyId>ASIAFED</AccessKeyId>
    </Credentials>
    <FederatedUser>
      <Arn>arn:aws:sts::123456789012:federated-user/jones-2026</Arn>
      <FederatedUserId>123456789012:jones-2026</FederatedUserId>
    </FederatedUser>
    <PackedPolicySize>6</PackedPolicySize>
  </GetFederationTokenResult>
  <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata>
</GetFederationTokenResponse>"#;

    #[test]
    fn federation_token_answer_has_the_federated_user() {
        let i = parse_success(GFT).unwrap();
        assert_eq!(i.credentials.access_key_id, "ASIAFED");
        assert_eq!(i.credentials.session_token.as_deref(), Some("fedtok"));
        assert_eq!(
            i.arn.as_deref(),
            Some("arn:aws:sts::123456789012:federated-user/jones-2026")
        );
        assert_eq!(i.credentials.account_id.as_deref(), Some("123456789012"));
    }

    #[test]
    fn success_missing_parts_is_an_error() {
        assert!(parse_success("<GetSessionTokenResponse><GetSessionTokenResult></GetSessionTokenResult></GetSessionTokenResponse>").is_err());
        let bad_time = AR.replace("2019-11-09T13:34:41Z", "tomorrow");
        assert!(parse_success(&bad_time).unwrap_err().contains("Expiration"));
        let empty = AR.replace(
            "<AccessKeyId>ASIAROLE</AccessKeyId>",
            "<AccessKeyId> </AccessKeyId>",
        );
        assert!(parse_success(&empty).is_err());
        assert!(parse_success("<html>nope</html>").is_err());
        assert!(parse_success("").is_err());
    }

    #[test]
    fn real_sts_error_shape() {
        let e = parse_error(
            r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error>
    <Type>Sender</Type>
    <Code>AccessDenied</Code>
    <Message>MultiFactorAuthentication failed with invalid MFA one time pass code.</Message>
  </Error>
  <RequestId>4f3a</RequestId>
</ErrorResponse>"#,
        )
        .unwrap();
        assert_eq!(e.code, "AccessDenied");
        assert!(e.message.starts_with("MultiFactorAuthentication failed"));
        assert_eq!(e.request_id.as_deref(), Some("4f3a"));
    }

    #[test]
    fn moto_error_shape() {
        let e = parse_error("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse><Errors><Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match</Message></Error></Errors><RequestId>7a62c49f</RequestId></ErrorResponse>").unwrap();
        assert_eq!(e.code, "SignatureDoesNotMatch");
        assert_eq!(e.request_id.as_deref(), Some("7a62c49f"));
    }

    #[test]
    fn non_errors_are_none() {
        assert_eq!(
            parse_error("<html><body>502 Bad Gateway</body></html>"),
            None
        );
        assert_eq!(parse_error("not xml at all <<<"), None);
        assert_eq!(
            parse_error("<ErrorResponse><Error><Message>m</Message></Error></ErrorResponse>"),
            None
        );
        assert_eq!(parse_error(""), None);
    }

    #[test]
    fn times_with_and_without_fractions() {
        assert!(parse_time("2026-11-24T20:00:00Z").is_some());
        assert!(parse_time("2026-11-24T20:00:00.123456Z").is_some());
        assert!(parse_time("2026-11-24T20:00:00+01:00").is_some());
        assert!(parse_time("2026-11-24 20:00:00").is_none());
    }
}

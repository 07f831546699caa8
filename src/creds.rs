//! AWS credentials as values, and the one place that decides how a key id may be shown.
//!
//! `Debug` is written by hand so that no `{:?}` anywhere can print a secret: the key id is
//! masked to its last four characters and the secret and token are never shown.

use std::fmt;
use time::OffsetDateTime;

#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Present for temporary credentials (STS results, or a session token in the config).
    pub session_token: Option<String>,
    /// When temporary credentials stop working; `None` for long-term keys.
    pub expiration: Option<OffsetDateTime>,
    /// The 12-digit AWS account the credentials belong to, when mfarole knows it (an assumed
    /// role's ARN, the SSO account, `aws_account_id` in the shared files, `AccountId` in a
    /// process or endpoint answer). The child gets it as `AWS_ACCOUNT_ID`, which the SDKs read
    /// to route to account-based endpoints without a call (botocore's `account_id`
    /// credential feature). Not a secret.
    pub account_id: Option<String>,
}

impl Credentials {
    /// The key id as it may appear in logs and errors: `…ABCD`.
    pub fn masked_id(&self) -> String {
        mask(&self.access_key_id)
    }

    /// The expiration as the AWS tools write it (`AWS_CREDENTIAL_EXPIRATION`, the process
    /// and container formats): UTC, whole seconds, RFC 3339.
    pub fn expiration_rfc3339(&self) -> Option<String> {
        self.expiration?
            .to_offset(time::UtcOffset::UTC)
            .replace_nanosecond(0)
            .ok()?
            .format(&time::format_description::well_known::Rfc3339)
            .ok()
    }

    /// The first part (`access_key_id`, `secret_access_key`, `session_token`) that holds a
    /// control character such as a NUL byte. Real keys never do; such a value cannot be put
    /// in an environment or printed for a shell, so it is refused where it is read.
    pub fn bad_part(&self) -> Option<&'static str> {
        let bad = |v: &str| v.chars().any(char::is_control);
        if bad(&self.access_key_id) {
            Some("access_key_id")
        } else if bad(&self.secret_access_key) {
            Some("secret_access_key")
        } else if self.session_token.as_deref().is_some_and(bad) {
            Some("session_token")
        } else {
            None
        }
    }

    /// Long-term IAM user keys: the only ones that may call GetSessionToken.
    pub fn is_long_term(&self) -> bool {
        self.session_token.is_none()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.masked_id())
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .field("expiration", &self.expiration)
            .field("account_id", &self.account_id)
            .finish()
    }
}

/// Whether `text` is an AWS account id: exactly 12 ASCII digits (the AWS glossary's
/// "account ID"; botocore passes on whatever it reads, but a child given anything else would
/// route to an endpoint that does not exist).
pub fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// The account of an ARN (`arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`), as botocore's
/// `AssumeRoleCredentialFetcher._add_account_id_to_response` takes it from the assumed role's
/// ARN; `None` when the ARN has none (a hardware MFA serial is not an ARN).
pub fn account_of_arn(arn: &str) -> Option<String> {
    let mut parts = arn.splitn(6, ':');
    if parts.next() != Some("arn") {
        return None;
    }
    let account = parts.nth(3)?;
    parts.next()?;
    is_account_id(account).then(|| account.to_string())
}

/// Shows at most the last four characters of an identifier.
pub fn mask(id: &str) -> String {
    let n = id.chars().count();
    let tail: String = id.chars().skip(n.saturating_sub(4)).collect();
    format!("…{tail}")
}

/// Credentials plus what STS said about whom they belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    pub credentials: Credentials,
    /// `AssumedRoleUser/Arn` for AssumeRole; `None` for GetSessionToken.
    pub arn: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let c = Credentials {
            access_key_id: "AKIAEXAMPLEKEY12WXYZ".into(),
            secret_access_key: "s3cr3t-value".into(),
            session_token: Some("tok3n-value".into()),
            expiration: None,
            account_id: None,
        };
        let shown = format!("{c:?}");
        assert!(shown.contains("…WXYZ"));
        assert!(!shown.contains("AKIAEXAMPLE"));
        assert!(!shown.contains("s3cr3t"));
        assert!(!shown.contains("tok3n"));
    }

    #[test]
    fn control_characters_are_found_in_every_part() {
        let ok = Credentials {
            access_key_id: "AKIA".into(),
            secret_access_key: "s/+=".into(),
            session_token: Some("t".into()),
            expiration: None,
            account_id: None,
        };
        assert_eq!(ok.bad_part(), None);
        let nul = Credentials {
            session_token: Some("a\0b".into()),
            ..ok.clone()
        };
        assert_eq!(nul.bad_part(), Some("session_token"));
        let nl = Credentials {
            secret_access_key: "a\nb".into(),
            ..ok
        };
        assert_eq!(nl.bad_part(), Some("secret_access_key"));
    }

    #[test]
    fn accounts_come_from_arns_with_twelve_digits() {
        let arn = "arn:aws:sts::123456789012:assumed-role/admin/jones";
        assert_eq!(account_of_arn(arn).as_deref(), Some("123456789012"));
        let mfa = "arn:aws-cn:iam::210987654321:mfa/jones";
        assert_eq!(account_of_arn(mfa).as_deref(), Some("210987654321"));
        for no in [
            "GAHT12345678",
            "arn:aws:iam::12345:mfa/x",
            "arn:aws:iam::123456789012",
            "",
        ] {
            assert_eq!(account_of_arn(no), None, "{no}");
        }
        assert!(is_account_id("000000000000") && !is_account_id("12345678901a"));
    }

    #[test]
    fn mask_short_ids() {
        assert_eq!(mask("ab"), "…ab");
        assert_eq!(mask(""), "…");
    }
}

//! Keys in the shared files: `aws_access_key_id` and `aws_secret_access_key` (and
//! `aws_session_token` for keys that are already temporary), the credentials file winning
//! over the config file for the same key. Known when the config is read: no fetch, never
//! cached (they are the user's own).

use crate::creds::{Credentials, Issued};
use crate::error::{Error, Result};
use crate::profile::{File, Profile};

use super::{Fetch, Lookup, Provider, Source};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys(pub Credentials);

/// Keys in the credentials file: botocore's `SharedCredentialProvider`, asked before a
/// `credential_process`.
pub fn own_credentials_file(profile: &Profile, _: &Lookup) -> Result<Option<Source>> {
    keys_in(profile, File::Credentials)
}

/// Keys in the config file: botocore's `ConfigProvider`, asked after a `credential_process`.
pub fn own_config_file(profile: &Profile, _: &Lookup) -> Result<Option<Source>> {
    keys_in(profile, File::Config)
}

/// `aws_account_id` of a profile, as botocore's `SharedCredentialProvider`, `ConfigProvider`
/// and `ProcessProvider` read it beside the credentials. Errors: a value that is not the 12
/// digits of an account, which the SDKs would put into an endpoint's host name.
pub(crate) fn account_setting(profile: &Profile, value: Option<&str>) -> Result<Option<String>> {
    match value {
        None => Ok(None),
        Some(a) if crate::creds::is_account_id(a) => Ok(Some(a.to_string())),
        Some(a) => Err(Error::profile(
            &profile.name,
            format!(
                "aws_account_id = {} is not an AWS account id (12 digits); fix or remove it",
                crate::error::clean(a, 40)
            ),
        )),
    }
}

/// The keys one file gives a profile: `None` when it has no `aws_access_key_id`, an error when
/// the secret is missing from the same file or a value no key can hold. The session token is
/// `aws_security_token`, else `aws_session_token` (botocore's `TOKENS`, in that order).
fn keys_in(profile: &Profile, file: File) -> Result<Option<Source>> {
    let Some(id) = profile.get_in(file, "aws_access_key_id") else {
        return Ok(None);
    };
    let Some(secret) = profile.get_in(file, "aws_secret_access_key") else {
        let which = match file {
            File::Config => "config",
            File::Credentials => "credentials",
        };
        return Err(Error::profile(
            &profile.name,
            format!(
                "has aws_access_key_id but no aws_secret_access_key in the {which} file; put both in one file"
            ),
        ));
    };
    let token = profile
        .get_in(file, "aws_security_token")
        .or_else(|| profile.get_in(file, "aws_session_token"));
    let creds = Credentials {
        access_key_id: id.to_string(),
        secret_access_key: secret.to_string(),
        session_token: token.map(str::to_string),
        expiration: None,
        account_id: account_setting(profile, profile.get_in(file, "aws_account_id"))?,
    };
    if let Some(part) = creds.bad_part() {
        return Err(Error::profile(
            &profile.name,
            format!(
                "aws_{part} holds a control character (a NUL byte or a line break, say), which no AWS key has; fix that value in the credentials or config file"
            ),
        ));
    }
    Ok(Some(Source::Keys(Keys(creds))))
}

impl Provider for Keys {
    fn kind(&self) -> &'static str {
        "keys"
    }

    fn known(&self) -> Option<&Credentials> {
        Some(&self.0)
    }

    fn may_be_long_term(&self) -> bool {
        self.0.is_long_term()
    }

    fn cache_key(&self, profile: &str, _: &str) -> String {
        format!("v1 keys profile={profile} id={}", self.0.access_key_id)
    }

    fn fetch(&self, _: &Fetch) -> Result<Issued> {
        Ok(Issued {
            credentials: self.0.clone(),
            arn: None,
        })
    }

    fn via(&self, profile: &str) -> String {
        profile.to_string()
    }
}

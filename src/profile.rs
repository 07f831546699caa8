//! One profile's settings as the shared files give them, and the checks of values that more
//! than one part of mfarole reads (a role ARN, a RoleSessionName).
//!
//! A leaf below both the config (which builds profiles from the files) and the credential
//! sources (which read their own settings from a profile), so that neither has to know the
//! other's business.

use std::collections::HashMap;

use crate::error::{Error, Result, clean};

/// Which of the two shared files a setting came from. botocore asks for keys in the
/// credentials file before a `credential_process`, and for keys in the config file after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum File {
    Config,
    Credentials,
}

/// One profile's settings from both files (or one `[sso-session]` or `[services]` section),
/// the credentials file winning where both set a key, as botocore's `full_config` merges
/// them.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    pub name: String,
    config: HashMap<String, String>,
    credentials: HashMap<String, String>,
}

impl Profile {
    pub fn new(name: String) -> Profile {
        Profile {
            name,
            config: HashMap::new(),
            credentials: HashMap::new(),
        }
    }

    /// Sets a key (lowercased by the INI reader) as `file` gives it.
    pub fn set(&mut self, file: File, key: String, value: String) {
        match file {
            File::Config => self.config.insert(key, value),
            File::Credentials => self.credentials.insert(key, value),
        };
    }

    /// A setting's value; empty values count as unset, and so does a nested block (`s3 =`
    /// followed by indented lines), which botocore reads as a map, never as a string.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.credentials
            .get(key)
            .or_else(|| self.config.get(key))
            .map(String::as_str)
            .filter(|v| !v.is_empty() && !v.starts_with('\n'))
    }

    /// A setting's value as one file gives it.
    pub fn get_in(&self, file: File, key: &str) -> Option<&str> {
        let map = match file {
            File::Config => &self.config,
            File::Credentials => &self.credentials,
        };
        map.get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty() && !v.starts_with('\n'))
    }

    /// A nested block's settings (`sts =` then `  endpoint_url = ...`).
    pub fn nested(&self, key: &str) -> Option<Vec<(String, String)>> {
        let value = self.credentials.get(key).or_else(|| self.config.get(key))?;
        value
            .starts_with('\n')
            .then(|| crate::ini::nested(value))
            .flatten()
    }

    /// Every setting and its value, the credentials file's winning, sorted by key.
    pub fn settings(&self) -> Vec<(&str, &str)> {
        let mut all: Vec<(&str, &str)> = self
            .config
            .iter()
            .filter(|(k, _)| !self.credentials.contains_key(*k))
            .chain(self.credentials.iter())
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        all.sort();
        all
    }

    /// A profile that only carries settings for others (a `[default]` with a region, say):
    /// nothing that gives or asks for credentials.
    pub fn is_settings_only(&self) -> bool {
        const CREDENTIAL_KEYS: &[&str] = &[
            "aws_access_key_id",
            "aws_secret_access_key",
            "aws_session_token",
            "role_arn",
            "source_profile",
            "credential_source",
            "credential_process",
            "web_identity_token_file",
            "sso_session",
            "sso_start_url",
            "sso_account_id",
            "sso_role_name",
            "login_session",
            "mfa_serial",
        ];
        CREDENTIAL_KEYS.iter().all(|k| self.get(k).is_none())
    }

    /// `role_arn`, checked to be an ARN.
    pub fn role_arn(&self) -> Result<Option<&str>> {
        match self.get("role_arn") {
            Some(arn) => check_arn(&self.name, arn).map(|()| Some(arn)),
            None => Ok(None),
        }
    }

    /// `role_session_name`, checked as STS checks it.
    pub fn role_session_name(&self) -> Result<Option<&str>> {
        let name = self.get("role_session_name");
        check_session_name(&self.name, name)?;
        Ok(name)
    }
}

/// A role ARN must at least be an ARN; STS says the rest.
pub fn check_arn(profile: &str, role_arn: &str) -> Result<()> {
    if role_arn.starts_with("arn:") {
        return Ok(());
    }
    Err(Error::profile(
        profile,
        format!(
            "role_arn = {} is not an ARN (arn:aws:iam::ACCOUNT:role/NAME)",
            clean(role_arn, 80)
        ),
    ))
}

/// RoleSessionName: 2 to 64 characters of `[\w+=,.@-]` (the STS API reference).
pub fn check_session_name(profile: &str, name: Option<&str>) -> Result<()> {
    match name {
        Some(n) if !crate::units::valid_session_name(n) => Err(Error::profile(
            profile,
            "role_session_name must be 2 to 64 characters of A-Z a-z 0-9 _+=,.@-",
        )),
        _ => Ok(()),
    }
}

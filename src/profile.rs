//! One profile's settings as the shared files give them, and the checks of values that more
//! than one part of mfarole reads (a role ARN, a RoleSessionName).
//!
//! A leaf below both the config (which builds profiles from the files) and the credential
//! sources (which read their own settings from a profile), so that neither has to know the
//! other's business.

use std::collections::HashMap;

use crate::error::{Error, Result, clean};

/// One profile's settings, merged from both files (or one `[sso-session]` section).
#[derive(Debug, Clone, Default)]
pub struct Profile {
    pub name: String,
    settings: HashMap<String, String>,
}

impl Profile {
    pub fn new(name: String) -> Profile {
        Profile {
            name,
            settings: HashMap::new(),
        }
    }

    /// Sets a key (lowercased by the INI reader); a later value wins.
    pub fn set(&mut self, key: String, value: String) {
        self.settings.insert(key, value);
    }

    /// A setting's value; empty values count as unset.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.settings
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
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

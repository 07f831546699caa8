//! Keys in the shared files: `aws_access_key_id` and `aws_secret_access_key` (and
//! `aws_session_token` for keys that are already temporary), the credentials file winning
//! over the config file for the same key. Known when the config is read: no fetch, never
//! cached (they are the user's own).

use crate::creds::{Credentials, Issued};
use crate::error::{Error, Result};
use crate::profile::Profile;

use super::{Fetch, Lookup, Provider, Source};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys(pub Credentials);

/// A profile with keys is its own source.
pub fn own(profile: &Profile, _: &Lookup) -> Result<Option<Source>> {
    own_keys(profile)
}

/// The keys of a profile: `None` when it sets neither key, an error when it sets one only or
/// a value no key can hold.
pub fn own_keys(profile: &Profile) -> Result<Option<Source>> {
    let id = profile.get("aws_access_key_id");
    let secret = profile.get("aws_secret_access_key");
    let (id, secret) = match (id, secret) {
        (None, None) => return Ok(None),
        (Some(id), Some(secret)) => (id, secret),
        (Some(_), None) => {
            return Err(Error::profile(
                &profile.name,
                "has aws_access_key_id but no aws_secret_access_key",
            ));
        }
        (None, Some(_)) => {
            return Err(Error::profile(
                &profile.name,
                "has aws_secret_access_key but no aws_access_key_id",
            ));
        }
    };
    let creds = Credentials {
        access_key_id: id.to_string(),
        secret_access_key: secret.to_string(),
        session_token: profile.get("aws_session_token").map(str::to_string),
        expiration: None,
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

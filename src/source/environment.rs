//! `credential_source = Environment`: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
//! `AWS_SESSION_TOKEN` (else `AWS_SECURITY_TOKEN`) of mfarole's own environment. Known when the
//! run starts: no fetch, never cached.

use crate::creds::{Credentials, Issued};
use crate::error::{Error, Result};
use crate::profile::Profile;
use crate::settings::Settings;

use super::{Fetch, Lookup, Provider, Source};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment(pub Credentials);

/// The keys of the environment, both of which must be set.
pub fn named(profile: &Profile, lookup: &Lookup) -> Result<Source> {
    let keys = &lookup.settings.environment;
    let (Some(id), Some(secret)) = (&keys.access_key_id, &keys.secret_access_key) else {
        return Err(Error::profile(
            &profile.name,
            "has credential_source = Environment, but AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set",
        ));
    };
    let credentials = Credentials {
        access_key_id: id.clone(),
        secret_access_key: secret.clone(),
        session_token: keys.session_token.clone(),
        expiration: None,
        account_id: keys.account_id.clone(),
    };
    if let Some(part) = credentials.bad_part() {
        return Err(Error::profile(
            &profile.name,
            format!(
                "has credential_source = Environment, but AWS_{} holds a control character, which no AWS key has; set it again",
                part.to_ascii_uppercase()
            ),
        ));
    }
    Ok(Source::Environment(Environment(credentials)))
}

impl Provider for Environment {
    fn kind(&self) -> &'static str {
        "environment"
    }

    fn known(&self) -> Option<&Credentials> {
        Some(&self.0)
    }

    fn may_be_long_term(&self) -> bool {
        self.0.is_long_term()
    }

    fn cache_key(&self, _: &str, _: &str) -> String {
        format!("v1 environment id={}", self.0.access_key_id)
    }

    fn fetch(&self, _: &Fetch) -> Result<Issued> {
        Ok(Issued {
            credentials: self.0.clone(),
            arn: None,
        })
    }

    /// Inside an mfarole environment the inherited `AWS_*` keys are the parent's temporary
    /// credentials, not a source: refuse to build on them.
    fn check(&self, profile: &str, settings: &Settings) -> Result<()> {
        if settings.outer.profile.is_some() {
            return Err(Error::profile(
                profile,
                "uses credential_source = Environment, but the environment holds the temporary credentials of the mfarole that runs this; run it outside mfarole",
            ));
        }
        Ok(())
    }

    fn assumed_with(&self, _: &str) -> String {
        "the credentials from the environment".into()
    }

    fn via(&self, _: &str) -> String {
        "environment".into()
    }
}

//! The child's environment, and replacing mfarole with the child.
//!
//! The child inherits mfarole's environment minus every variable that could make an AWS tool
//! pick other credentials (a profile name, stale keys), plus the new credentials, their
//! expiration and the region. mfarole then `exec`s, so the child has mfarole's PID, its
//! signals and its exit status, and no mfarole process is left holding secrets.

use std::ffi::{OsStr, OsString};
use std::os::unix::process::CommandExt;
use std::process::Command;

use crate::creds::Credentials;
use crate::environ::Environ;
use crate::error::Error;

/// Removed from what the child inherits, so that nothing but our credentials is used.
pub const REMOVED: &[&str] = &[
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_ACCOUNT_ID",
    "AWS_CREDENTIAL_FILE",
    "AWS_SDK_LOAD_CONFIG",
];

/// How the child's environment differs from mfarole's own, which it otherwise inherits.
///
/// A difference rather than a whole environment because mfarole never changes its own
/// environment, and because `Command` then copies the inherited variables once instead of
/// three times: on the cached path that copying was the largest part of mfarole's own work.
#[derive(Debug)]
pub struct ChildEnv {
    /// Inherited names the child must not see.
    removed: Vec<OsString>,
    /// Set, replacing any inherited value.
    set: Vec<(OsString, OsString)>,
}

impl ChildEnv {
    /// `cmd` inheriting mfarole's environment with this difference.
    pub fn apply<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        for k in &self.removed {
            cmd.env_remove(k);
        }
        cmd.envs(self.set.iter().map(|(k, v)| (k, v)))
    }

    /// The whole environment the child gets when mfarole's is `base` (tests).
    #[cfg(test)]
    pub fn over(&self, base: &Environ) -> Vec<(OsString, OsString)> {
        let mut vars: Vec<_> = base
            .vars()
            .iter()
            .filter(|(k, _)| !self.removed.contains(k) && !self.set.iter().any(|(s, _)| s == k))
            .cloned()
            .collect();
        vars.extend(self.set.iter().cloned());
        vars
    }
}

/// The environment for the child: `base` minus [`REMOVED`], plus the credentials.
pub fn child_env(
    base: &Environ,
    creds: &Credentials,
    region: Option<&str>,
    profile: &str,
    nesting: &str,
) -> ChildEnv {
    let set: Vec<(&str, String)> = credential_vars(creds);
    with_context(base, &[], set, region, profile, nesting)
}

/// `base` minus [`REMOVED`] and `also_removed`, then `set`, the region and mfarole's own
/// variables: what every child of mfarole gets, however its credentials reach it.
pub fn with_context(
    base: &Environ,
    also_removed: &[&str],
    set: Vec<(&str, String)>,
    region: Option<&str>,
    profile: &str,
    nesting: &str,
) -> ChildEnv {
    let removed = base
        .vars()
        .iter()
        .map(|(k, _)| k)
        .filter(|k| {
            let k = k.to_str().unwrap_or("");
            REMOVED.contains(&k)
                || also_removed.contains(&k)
                || (region.is_some() && (k == "AWS_REGION" || k == "AWS_DEFAULT_REGION"))
        })
        .cloned()
        .collect();
    let mut vars: Vec<(OsString, OsString)> = Vec::with_capacity(set.len() + 4);
    let mut put = |k: &str, v: &str| vars.push((k.into(), v.into()));
    for (k, v) in &set {
        put(k, v);
    }
    if let Some(region) = region {
        put("AWS_REGION", region);
        put("AWS_DEFAULT_REGION", region);
    }
    put("MFAROLE_PROFILE", profile);
    put("MFAROLE_NESTING", nesting);
    ChildEnv { removed, set: vars }
}

/// The credential variables, in the order the AWS tools document them.
pub fn credential_vars(creds: &Credentials) -> Vec<(&'static str, String)> {
    let mut out = vec![
        ("AWS_ACCESS_KEY_ID", creds.access_key_id.clone()),
        ("AWS_SECRET_ACCESS_KEY", creds.secret_access_key.clone()),
    ];
    if let Some(token) = &creds.session_token {
        out.push(("AWS_SESSION_TOKEN", token.clone()));
    }
    if let Some(exp) = creds.expiration_rfc3339() {
        out.push(("AWS_CREDENTIAL_EXPIRATION", exp));
    }
    // Set only when known; an inherited one (of other credentials) is in REMOVED.
    if let Some(account) = &creds.account_id {
        out.push(("AWS_ACCOUNT_ID", account.clone()));
    }
    out
}

/// Replaces this process with `program`. Returns only on failure.
pub fn exec(program: &OsStr, args: &[OsString], env: ChildEnv) -> Error {
    let source = env.apply(Command::new(program).args(args)).exec();
    Error::Exec {
        program: crate::error::clean(&program.to_string_lossy(), 100),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials {
            access_key_id: "ASIANEW".into(),
            secret_access_key: "newsecret".into(),
            session_token: Some("newtoken".into()),
            expiration: Some(time::macros::datetime!(2026-11-24 20:00:00.123456 UTC)),
            account_id: None,
        }
    }

    fn get(env: &[(OsString, OsString)], k: &str) -> Vec<String> {
        env.iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.to_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn stale_credentials_and_profiles_are_replaced() {
        let base = Environ::from_pairs(&[
            ("PATH", "/bin"),
            ("AWS_PROFILE", "old"),
            ("AWS_DEFAULT_PROFILE", "old"),
            ("AWS_ACCESS_KEY_ID", "AKIAOLD"),
            ("AWS_SECRET_ACCESS_KEY", "oldsecret"),
            ("AWS_SECURITY_TOKEN", "oldtoken"),
            ("AWS_REGION", "us-west-1"),
            ("MFAROLE_PROFILE", "outer"),
        ]);
        let env = child_env(&base, &creds(), Some("eu-west-1"), "admin", "admin").over(&base);
        assert_eq!(get(&env, "PATH"), ["/bin"]);
        assert!(get(&env, "AWS_PROFILE").is_empty());
        assert!(get(&env, "AWS_DEFAULT_PROFILE").is_empty());
        assert!(get(&env, "AWS_SECURITY_TOKEN").is_empty());
        assert_eq!(get(&env, "AWS_ACCESS_KEY_ID"), ["ASIANEW"]);
        assert_eq!(get(&env, "AWS_SECRET_ACCESS_KEY"), ["newsecret"]);
        assert_eq!(get(&env, "AWS_SESSION_TOKEN"), ["newtoken"]);
        assert_eq!(
            get(&env, "AWS_CREDENTIAL_EXPIRATION"),
            ["2026-11-24T20:00:00Z"]
        );
        assert_eq!(get(&env, "AWS_REGION"), ["eu-west-1"]);
        assert_eq!(get(&env, "AWS_DEFAULT_REGION"), ["eu-west-1"]);
        assert_eq!(get(&env, "MFAROLE_PROFILE"), ["admin"]);
    }

    #[test]
    fn region_is_left_alone_when_unknown() {
        let base = Environ::from_pairs(&[("AWS_DEFAULT_REGION", "ap-south-1")]);
        let env = child_env(&base, &creds(), None, "p", "p").over(&base);
        assert_eq!(get(&env, "AWS_DEFAULT_REGION"), ["ap-south-1"]);
        assert!(get(&env, "AWS_REGION").is_empty());
    }

    #[test]
    fn long_term_keys_have_no_token_or_expiration() {
        let c = Credentials {
            session_token: None,
            expiration: None,
            ..creds()
        };
        let names: Vec<_> = credential_vars(&c).into_iter().map(|(k, _)| k).collect();
        assert_eq!(names, ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]);
    }
}

//! The AWS shared config (`~/.aws/config` and `~/.aws/credentials`) and the resolution of a
//! profile into a [`Chain`]: where the first credentials come from, and which roles are assumed
//! on top of them, in order.
//!
//! The rules are the AWS CLI's, so a profile that works there works here: config sections are
//! `[default]` and `[profile NAME]`, credentials sections are `[NAME]`, and the credentials file
//! wins where both set a key. A source profile that holds keys is used for its keys even when it
//! also has a `role_arn` (as botocore does), which is also what makes `source_profile = self`
//! legal. mfarole only reads these files; it never writes them.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::creds::Credentials;
use crate::environ::Environ;
use crate::error::{Error, Result};
use crate::ini;

/// The most roles one chain may assume in turn. Real chains have two or three; the bound
/// keeps a generated or hostile config from making thousands of STS calls.
pub const MAX_ROLES: usize = 32;

/// Where the two files are, from `AWS_CONFIG_FILE`, `AWS_SHARED_CREDENTIALS_FILE` and `HOME`.
#[derive(Debug, Clone)]
pub struct Files {
    pub config: PathBuf,
    pub credentials: PathBuf,
}

impl Files {
    /// Without `HOME`, `~` is `/`, as container runtimes set it for a user with no passwd
    /// entry (never the working directory, which could hold anyone's `.aws`).
    pub fn from_env(env: &Environ) -> Files {
        let aws_dir = env.home().unwrap_or_else(|| "/".into()).join(".aws");
        Files {
            config: env
                .path("AWS_CONFIG_FILE")
                .unwrap_or_else(|| aws_dir.join("config")),
            credentials: env
                .path("AWS_SHARED_CREDENTIALS_FILE")
                .unwrap_or_else(|| aws_dir.join("credentials")),
        }
    }
}

/// One profile's settings, merged from both files.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    pub name: String,
    settings: HashMap<String, String>,
}

impl Profile {
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

    fn has_keys(&self) -> bool {
        self.get("aws_access_key_id").is_some() || self.get("aws_secret_access_key").is_some()
    }

    fn static_credentials(&self) -> Result<Credentials> {
        let id = self.get("aws_access_key_id");
        let secret = self.get("aws_secret_access_key");
        match (id, secret) {
            (Some(id), Some(secret)) => {
                let creds = Credentials {
                    access_key_id: id.to_string(),
                    secret_access_key: secret.to_string(),
                    session_token: self.get("aws_session_token").map(str::to_string),
                    expiration: None,
                };
                match creds.bad_part() {
                    None => Ok(creds),
                    Some(part) => Err(Error::profile(
                        &self.name,
                        format!(
                            "aws_{part} holds a control character (a NUL byte or a line break, say), which no AWS key has; fix that value in the credentials or config file"
                        ),
                    )),
                }
            }
            (Some(_), None) => Err(Error::profile(
                &self.name,
                "has aws_access_key_id but no aws_secret_access_key",
            )),
            _ => Err(Error::profile(
                &self.name,
                "has aws_secret_access_key but no aws_access_key_id",
            )),
        }
    }
}

/// All profiles of both files.
#[derive(Debug, Clone, Default)]
pub struct Config {
    profiles: BTreeMap<String, Profile>,
}

impl Config {
    /// Reads both files; a missing file is an empty one (the CLI agrees).
    pub fn load(files: &Files) -> Result<Config> {
        let config = read_optional(&files.config)?;
        let credentials = read_optional(&files.credentials)?;
        Config::parse(
            config.as_deref().map(|t| (t, files.config.as_path())),
            credentials
                .as_deref()
                .map(|t| (t, files.credentials.as_path())),
        )
    }

    /// Builds the profile map from the files' text; the paths are for error messages.
    pub fn parse(
        config: Option<(&str, &Path)>,
        credentials: Option<(&str, &Path)>,
    ) -> Result<Config> {
        let mut profiles: BTreeMap<String, Profile> = BTreeMap::new();
        let syntax = |path: &Path, e: ini::SyntaxError| Error::ConfigSyntax {
            path: path.to_path_buf(),
            line: e.line,
            message: e.message,
        };
        if let Some((text, path)) = config {
            for section in ini::parse(text).map_err(|e| syntax(path, e))? {
                let name = if section.name == "default" {
                    "default".to_string()
                } else if let Some(rest) = section.name.strip_prefix("profile") {
                    if !rest.starts_with([' ', '\t']) || rest.trim().is_empty() {
                        continue; // e.g. [profiles] — not a profile, the CLI ignores it too
                    }
                    rest.trim().to_string()
                } else {
                    continue; // [sso-session x], [services x], ...
                };
                merge(&mut profiles, name, section.entries);
            }
        }
        if let Some((text, path)) = credentials {
            for section in ini::parse(text).map_err(|e| syntax(path, e))? {
                merge(&mut profiles, section.name, section.entries);
            }
        }
        Ok(Config { profiles })
    }

    pub fn names(&self) -> Vec<String> {
        self.profiles.keys().cloned().collect()
    }

    pub fn get(&self, name: &str) -> Option<&Profile> {
        self.profiles.get(name)
    }

    fn need(&self, name: &str, referenced_by: Option<&str>) -> Result<&Profile> {
        self.get(name).ok_or_else(|| Error::ProfileNotFound {
            name: name.to_string(),
            referenced_by: referenced_by.map(str::to_string),
            available: self.names(),
        })
    }

    /// Follows `source_profile` links from `target` down to the first credentials.
    pub fn resolve(&self, target: &str, env: &Environ) -> Result<Chain> {
        let mut visited: Vec<&Profile> = Vec::new();
        let mut hops = Vec::new();
        let mut name = target.to_string();
        let mut referenced_by: Option<String> = None;
        let source = loop {
            let profile = self.need(&name, referenced_by.as_deref())?;
            if visited.iter().any(|p| p.name == name) {
                let mut chain: Vec<String> = visited.iter().map(|p| p.name.clone()).collect();
                chain.push(name);
                return Err(Error::ProfileLoop { chain });
            }
            visited.push(profile);
            let is_source = referenced_by.is_some();
            if is_source && profile.has_keys() {
                break Source::profile(profile)?;
            }
            let Some(role_arn) = profile.get("role_arn") else {
                if profile.has_keys() {
                    break Source::profile(profile)?;
                }
                return Err(no_credentials(profile));
            };
            hops.push(Hop::from_profile(profile, role_arn)?);
            if hops.len() > MAX_ROLES {
                return Err(Error::profile(
                    target,
                    format!(
                        "chains more than {MAX_ROLES} roles through source_profile ({} > {} > ... > {}); no real setup needs that many, shorten the chain",
                        crate::error::clean(target, 40),
                        crate::error::clean(&visited[1].name, 40),
                        crate::error::clean(&profile.name, 40),
                    ),
                ));
            }
            match (
                profile.get("source_profile"),
                profile.get("credential_source"),
            ) {
                (Some(_), Some(_)) => {
                    return Err(Error::profile(
                        &profile.name,
                        "sets both source_profile and credential_source; keep one",
                    ));
                }
                (Some(next), None) => {
                    if next == profile.name && profile.has_keys() {
                        break Source::profile(profile)?;
                    }
                    referenced_by = Some(profile.name.clone());
                    name = next.to_string();
                }
                (None, Some(cs)) if cs.eq_ignore_ascii_case("Environment") => {
                    break Source::environment(&profile.name, env)?;
                }
                (None, Some(cs)) => {
                    return Err(Error::profile(
                        &profile.name,
                        format!(
                            "credential_source = {} is not supported; mfarole supports Environment, or use source_profile",
                            crate::error::clean(cs, 40)
                        ),
                    ));
                }
                (None, None) => {
                    return Err(Error::profile(
                        &profile.name,
                        "has role_arn but neither source_profile nor credential_source",
                    ));
                }
            }
        };
        hops.reverse();
        let first = |key: &str| {
            visited
                .iter()
                .find_map(|p| p.get(key).map(|v| (p.name.clone(), v.to_string())))
        };
        let target_profile = visited[0];
        let mfa = first("mfa_serial").map(|(profile, serial)| {
            let process = visited
                .iter()
                .find(|p| p.name == profile)
                .and_then(|p| p.get("mfa_process"))
                .or_else(|| visited.iter().find_map(|p| p.get("mfa_process")))
                .map(str::to_string);
            MfaDevice {
                serial,
                process,
                profile,
            }
        });
        Ok(Chain {
            target: target.to_string(),
            source,
            hops,
            mfa,
            region: first("region").map(|(_, v)| v),
            endpoint_url: first("endpoint_url").map(|(_, v)| v),
            duration: parse_duration_setting(target_profile)?,
        })
    }
}

/// Adds a section's settings to a profile; a later value wins (a later duplicate in one file,
/// and the credentials file, read last, over the config file).
fn merge(profiles: &mut BTreeMap<String, Profile>, name: String, entries: Vec<ini::Entry>) {
    let profile = profiles.entry(name.clone()).or_insert_with(|| Profile {
        name,
        settings: HashMap::new(),
    });
    for entry in entries {
        profile.settings.insert(entry.key, entry.value);
    }
}

fn no_credentials(profile: &Profile) -> Error {
    let uses = [
        "credential_process",
        "sso_session",
        "sso_start_url",
        "web_identity_token_file",
    ]
    .into_iter()
    .find(|k| profile.get(k).is_some());
    match uses {
        Some(key) => Error::profile(
            &profile.name,
            format!(
                "uses {key}, which mfarole does not support; give it aws_access_key_id/aws_secret_access_key, or a role_arn with source_profile"
            ),
        ),
        None => Error::profile(
            &profile.name,
            "has no credentials; set aws_access_key_id and aws_secret_access_key (in the credentials file), or role_arn with source_profile",
        ),
    }
}

fn parse_duration_setting(profile: &Profile) -> Result<Option<u32>> {
    let Some(text) = profile.get("duration_seconds") else {
        return Ok(None);
    };
    match text.parse::<u32>() {
        Ok(n) if (900..=129_600).contains(&n) => Ok(Some(n)),
        _ => Err(Error::profile(
            &profile.name,
            format!(
                "duration_seconds = {} is not a number of seconds from 900 to 129600",
                crate::error::clean(text, 20)
            ),
        )),
    }
}

fn read_optional(path: &Path) -> Result<Option<String>> {
    match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => Ok(Some(text)),
            Err(e) => {
                let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
                let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
                Err(Error::ConfigSyntax {
                    path: path.to_path_buf(),
                    line,
                    message: "not valid UTF-8 text".into(),
                })
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::ConfigIo {
            path: path.to_path_buf(),
            source: e,
        }),
    }
}

/// Where the first credentials of a chain come from.
#[derive(Debug, Clone)]
pub struct Source {
    /// The profile holding the keys, or the role profile whose `credential_source` is used.
    pub profile: String,
    pub from_environment: bool,
    pub credentials: Credentials,
}

impl Source {
    fn profile(profile: &Profile) -> Result<Source> {
        Ok(Source {
            profile: profile.name.clone(),
            from_environment: false,
            credentials: profile.static_credentials()?,
        })
    }

    fn environment(profile: &str, env: &Environ) -> Result<Source> {
        let id = env.get("AWS_ACCESS_KEY_ID");
        let secret = env.get("AWS_SECRET_ACCESS_KEY");
        let (Some(id), Some(secret)) = (id, secret) else {
            return Err(Error::profile(
                profile,
                "has credential_source = Environment, but AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set",
            ));
        };
        let credentials = Credentials {
            access_key_id: id.to_string(),
            secret_access_key: secret.to_string(),
            session_token: env
                .get("AWS_SESSION_TOKEN")
                .or_else(|| env.get("AWS_SECURITY_TOKEN"))
                .map(str::to_string),
            expiration: None,
        };
        if let Some(part) = credentials.bad_part() {
            return Err(Error::profile(
                profile,
                format!(
                    "has credential_source = Environment, but AWS_{} holds a control character, which no AWS key has; set it again",
                    part.to_ascii_uppercase()
                ),
            ));
        }
        Ok(Source {
            profile: profile.to_string(),
            from_environment: true,
            credentials,
        })
    }
}

/// One AssumeRole: the role profile and what it asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    pub profile: String,
    pub role_arn: String,
    pub external_id: Option<String>,
    /// `role_session_name` from the profile; a generated name is used without it.
    pub session_name: Option<String>,
    /// `duration_seconds` of this role profile.
    pub duration: Option<u32>,
}

impl Hop {
    fn from_profile(profile: &Profile, role_arn: &str) -> Result<Hop> {
        if !role_arn.starts_with("arn:") {
            return Err(Error::profile(
                &profile.name,
                format!(
                    "role_arn = {} is not an ARN (arn:aws:iam::ACCOUNT:role/NAME)",
                    crate::error::clean(role_arn, 80)
                ),
            ));
        }
        let session_name = profile.get("role_session_name").map(str::to_string);
        if let Some(name) = &session_name
            && !crate::units::valid_session_name(name)
        {
            return Err(Error::profile(
                &profile.name,
                "role_session_name must be 2 to 64 characters of A-Z a-z 0-9 _+=,.@-",
            ));
        }
        Ok(Hop {
            profile: profile.name.clone(),
            role_arn: role_arn.to_string(),
            external_id: profile.get("external_id").map(str::to_string),
            session_name,
            duration: parse_duration_setting(profile)?,
        })
    }
}

/// The MFA device of a chain and how to get its codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaDevice {
    pub serial: String,
    /// `mfa_process`: a command whose stdout is the code.
    pub process: Option<String>,
    /// The profile that declares `mfa_serial`.
    pub profile: String,
}

/// A profile resolved down to its first credentials.
#[derive(Debug, Clone)]
pub struct Chain {
    pub target: String,
    pub source: Source,
    /// Roles to assume, first (signed with the source) to last (the target).
    pub hops: Vec<Hop>,
    /// The first `mfa_serial` from the target down to the source.
    pub mfa: Option<MfaDevice>,
    /// The first `region` from the target down to the source.
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    /// `duration_seconds` of the target profile.
    pub duration: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(config: &str, credentials: &str) -> Config {
        Config::parse(
            Some((config, Path::new("config"))),
            Some((credentials, Path::new("credentials"))),
        )
        .unwrap()
    }

    fn env() -> Environ {
        Environ::from_pairs(&[])
    }

    const CREDS: &str = "[jones]\naws_access_key_id = AKIA1\naws_secret_access_key = s1\n";

    #[test]
    fn plain_keys_profile() {
        let c = cfg(
            "[profile jones]\nmfa_serial = arn:aws:iam::1:mfa/jones\nregion = eu-west-1\n",
            CREDS,
        );
        let chain = c.resolve("jones", &env()).unwrap();
        assert!(chain.hops.is_empty());
        assert_eq!(chain.source.credentials.access_key_id, "AKIA1");
        assert_eq!(chain.mfa.unwrap().serial, "arn:aws:iam::1:mfa/jones");
        assert_eq!(chain.region.as_deref(), Some("eu-west-1"));
    }

    #[test]
    fn credentials_file_wins_over_config() {
        let c = cfg(
            "[profile jones]\naws_access_key_id = OLD\naws_secret_access_key = old\n",
            CREDS,
        );
        let chain = c.resolve("jones", &env()).unwrap();
        assert_eq!(chain.source.credentials.access_key_id, "AKIA1");
    }

    #[test]
    fn role_chain_is_ordered_from_source_to_target() {
        let c = cfg(
            "[profile a]\nrole_arn = arn:aws:iam::2:role/a\nsource_profile = jones\nmfa_serial = arn:m\n\
             [profile b]\nrole_arn = arn:aws:iam::3:role/b\nsource_profile = a\nexternal_id = x1\n\
             [profile c]\nrole_arn = arn:aws:iam::4:role/c\nsource_profile = b\nduration_seconds = 1800\n",
            CREDS,
        );
        let chain = c.resolve("c", &env()).unwrap();
        let roles: Vec<_> = chain.hops.iter().map(|h| h.role_arn.as_str()).collect();
        assert_eq!(
            roles,
            [
                "arn:aws:iam::2:role/a",
                "arn:aws:iam::3:role/b",
                "arn:aws:iam::4:role/c"
            ]
        );
        assert_eq!(chain.hops[1].external_id.as_deref(), Some("x1"));
        assert_eq!(chain.duration, Some(1800));
        assert_eq!(chain.source.profile, "jones");
        let mfa = chain.mfa.unwrap();
        assert_eq!((mfa.serial.as_str(), mfa.profile.as_str()), ("arn:m", "a"));
    }

    #[test]
    fn source_profile_with_keys_and_role_uses_its_keys() {
        let c = cfg(
            "[profile jones]\nrole_arn = arn:aws:iam::9:role/x\nsource_profile = jones\n\
             [profile r]\nrole_arn = arn:aws:iam::2:role/r\nsource_profile = jones\n",
            CREDS,
        );
        let chain = c.resolve("r", &env()).unwrap();
        assert_eq!(chain.hops.len(), 1);
        // Self-reference with keys is legal: the profile assumes its own role with its keys.
        let chain = c.resolve("jones", &env()).unwrap();
        assert_eq!(chain.hops.len(), 1);
        assert_eq!(chain.source.profile, "jones");
    }

    #[test]
    fn loops_are_named() {
        let c = cfg(
            "[profile a]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = b\n\
             [profile b]\nrole_arn = arn:aws:iam::1:role/b\nsource_profile = a\n",
            "",
        );
        let e = c.resolve("a", &env()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "source_profile loop: a -> b -> a; make one profile in the chain hold keys or use credential_source"
        );
    }

    #[test]
    fn missing_profile_lists_the_others() {
        let c = cfg("[default]\nregion = x\n[profile b]\n", CREDS);
        let e = c.resolve("nope", &env()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "profile 'nope' is not in the config; profiles: b, default, jones"
        );
        let c = cfg(
            "[profile a]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = gone\n",
            "",
        );
        let e = c.resolve("a", &env()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("profile 'gone' (the source_profile of 'a')")
        );
    }

    #[test]
    fn environment_source() {
        let c = cfg(
            "[profile e]\nrole_arn = arn:aws:iam::1:role/e\ncredential_source = Environment\n",
            "",
        );
        let e = c.resolve("e", &env()).unwrap_err();
        assert!(e.to_string().contains("AWS_ACCESS_KEY_ID"));
        let with = Environ::from_pairs(&[
            ("AWS_ACCESS_KEY_ID", "AKIAENV"),
            ("AWS_SECRET_ACCESS_KEY", "sec"),
        ]);
        let chain = c.resolve("e", &with).unwrap();
        assert!(chain.source.from_environment);
        assert_eq!(chain.source.credentials.access_key_id, "AKIAENV");
    }

    #[test]
    fn bad_settings_are_explained() {
        let c = cfg(
            "[profile both]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = jones\ncredential_source = Environment\n\
             [profile none]\nrole_arn = arn:aws:iam::1:role/a\n\
             [profile imds]\nrole_arn = arn:aws:iam::1:role/a\ncredential_source = Ec2InstanceMetadata\n\
             [profile empty]\nregion = x\n\
             [profile half]\naws_access_key_id = A\n\
             [profile dur]\naws_access_key_id = A\naws_secret_access_key = B\nduration_seconds = 1h\n\
             [profile notarn]\nrole_arn = myrole\nsource_profile = jones\n\
             [profile proc]\ncredential_process = /bin/x\n",
            CREDS,
        );
        let msg = |p: &str| c.resolve(p, &env()).unwrap_err().to_string();
        assert!(msg("both").contains("both source_profile and credential_source"));
        assert!(msg("none").contains("neither source_profile nor credential_source"));
        assert!(msg("imds").contains("Ec2InstanceMetadata is not supported"));
        assert!(msg("empty").contains("has no credentials"));
        assert!(msg("half").contains("no aws_secret_access_key"));
        assert!(msg("dur").contains("duration_seconds = 1h"));
        assert!(msg("notarn").contains("is not an ARN"));
        assert!(msg("proc").contains("uses credential_process"));
    }

    #[test]
    fn non_profile_sections_are_ignored() {
        let c = cfg(
            "[sso-session x]\nsso_region = y\n[profiles]\na = b\n[profile  spaced ]\nregion = r\n",
            "",
        );
        assert_eq!(c.names(), ["spaced"]);
    }

    #[test]
    fn syntax_error_names_file_and_line() {
        let e =
            Config::parse(Some(("[default]\nbroken\n", Path::new("/x/config"))), None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "/x/config:2: expected '[section]' or 'key = value'"
        );
    }
}

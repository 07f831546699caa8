//! The AWS shared config (`~/.aws/config` and `~/.aws/credentials`) and the resolution of a
//! profile into a [`Chain`]: where the first credentials come from, and which roles are assumed
//! on top of them, in order.
//!
//! The rules are the AWS CLI's, so a profile that works there works here: config sections are
//! `[default]` and `[profile NAME]`, credentials sections are `[NAME]`, and the credentials file
//! wins where both set a key. A source profile that holds keys is used for its keys even when it
//! also has a `role_arn` (as botocore does), which is also what makes `source_profile = self`
//! legal. mfarole only reads these files; it never writes them.
//!
//! This module knows how profiles link to each other, not what any credential source needs:
//! it asks [`crate::source`] which source a profile is.

use std::collections::BTreeMap;
use std::path::Path;

use crate::attributes::RoleAttributes;
use crate::error::{Error, Result};
use crate::ini;
use crate::mfa::MfaDevice;
use crate::profile::{File, Profile};
use crate::settings::{Files, Settings};
use crate::source::{Lookup, Source};

/// The most roles one chain may assume in turn. Real chains have two or three; the bound
/// keeps a generated or hostile config from making thousands of STS calls.
pub const MAX_ROLES: usize = 32;

/// All profiles of both files.
#[derive(Debug, Clone, Default)]
pub struct Config {
    profiles: BTreeMap<String, Profile>,
    /// `[sso-session NAME]` sections of the config file.
    sso_sessions: BTreeMap<String, Profile>,
    /// `[services NAME]` sections of the config file.
    services: BTreeMap<String, Profile>,
    /// The two files as [`Config::load`] found them (none for [`Config::parse`]).
    read: Vec<FileRead>,
}

/// One of the two files, as it was found: for the messages that say why no profile is
/// there, and for the permission check of `list`.
#[derive(Debug, Clone)]
pub struct FileRead {
    pub path: std::path::PathBuf,
    /// The variable that named it, or why the default was used ([`Files`]).
    pub from: &'static str,
    /// Its mode bits; `None`: there is no such file.
    pub mode: Option<u32>,
    /// Whether it holds any section.
    pub sections: bool,
}

impl FileRead {
    /// `/x/config (AWS_CONFIG_FILE) does not exist`, `/h/.aws/config has no profile`.
    fn describe(&self) -> String {
        let from = match self.from {
            "" => String::new(),
            from => format!(" ({from})"),
        };
        let state = match (self.mode, self.sections) {
            (None, _) => "does not exist",
            (Some(_), false) => "has no profile",
            (Some(_), true) => "was read",
        };
        if self.path.as_os_str().is_empty() {
            return format!("no file ({} is set but empty)", self.from);
        }
        format!("{}{from} {state}", self.path.display())
    }
}

/// What a config section is, by the start of its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Profile,
    SsoSession,
    Services,
}

/// The kind and name of a config section, as botocore's `build_profile_map` and
/// `_parse_section` read its header.
fn section_kind(header: &str) -> Option<(Kind, String)> {
    if header == "default" {
        return Some((Kind::Profile, "default".into()));
    }
    let kind = [
        ("profile", Kind::Profile),
        ("sso-session", Kind::SsoSession),
        ("services", Kind::Services),
    ]
    .into_iter()
    .find(|(prefix, _)| header.starts_with(prefix))?
    .1;
    match crate::shlex::split(header).ok()?.as_slice() {
        [_, name] => Some((kind, name.clone())),
        _ => None,
    }
}

impl Config {
    /// Reads both files; a missing file is an empty one (the CLI agrees).
    pub fn load(files: &Files) -> Result<Config> {
        let (config, config_mode) = read_optional(&files.config)?;
        let (credentials, credentials_mode) = read_optional(&files.credentials)?;
        let mut out = Config::parse(
            config.as_deref().map(|t| (t, files.config.as_path())),
            credentials
                .as_deref()
                .map(|t| (t, files.credentials.as_path())),
        )?;
        let has_sections = |text: Option<&str>| {
            text.is_some_and(|t| t.lines().any(|l| l.trim_start().starts_with('[')))
        };
        out.read = vec![
            FileRead {
                path: files.config.clone(),
                from: files.config_from,
                mode: config_mode,
                sections: has_sections(config.as_deref()),
            },
            FileRead {
                path: files.credentials.clone(),
                from: files.credentials_from,
                mode: credentials_mode,
                sections: has_sections(credentials.as_deref()),
            },
        ];
        Ok(out)
    }

    /// The two files as they were found, config first.
    pub fn files(&self) -> &[FileRead] {
        &self.read
    }

    /// What was read, for the messages that find no profile: `/x/config (AWS_CONFIG_FILE)
    /// does not exist, and /.aws/credentials (HOME is unset) does not exist`.
    pub fn files_note(&self) -> String {
        let parts: Vec<String> = self.read.iter().map(FileRead::describe).collect();
        parts.join(", and ")
    }

    /// Builds the profile map from the files' text; the paths are for error messages.
    ///
    /// As botocore's `build_profile_map` and `Session.full_config`: a config section whose
    /// name starts with `profile`, `sso-session` or `services` and splits (`shlex`) into
    /// exactly two words names the second; `[default]` is the profile `default`; a later
    /// section for the same name replaces the earlier one (`[default]` and
    /// `[profile default]`); every other section is ignored. Credentials sections are profile
    /// names as written, and add to (and win over) the config file's settings.
    pub fn parse(
        config: Option<(&str, &Path)>,
        credentials: Option<(&str, &Path)>,
    ) -> Result<Config> {
        let mut out = Config::default();
        let syntax = |path: &Path, e: ini::SyntaxError| Error::ConfigSyntax {
            path: path.to_path_buf(),
            line: e.line,
            message: e.message,
        };
        if let Some((text, path)) = config {
            for section in ini::parse(text).map_err(|e| syntax(path, e))? {
                let (map, name) = match section_kind(&section.name) {
                    Some((Kind::Profile, name)) => (&mut out.profiles, name),
                    Some((Kind::SsoSession, name)) => (&mut out.sso_sessions, name),
                    Some((Kind::Services, name)) => (&mut out.services, name),
                    None => continue,
                };
                let mut profile = Profile::new(name.clone());
                for entry in section.entries {
                    profile.set(File::Config, entry.key, entry.value);
                }
                map.insert(name, profile);
            }
        }
        if let Some((text, path)) = credentials {
            for section in ini::parse(text).map_err(|e| syntax(path, e))? {
                let name = section.name;
                let profile = out
                    .profiles
                    .entry(name.clone())
                    .or_insert_with(|| Profile::new(name));
                for entry in section.entries {
                    profile.set(File::Credentials, entry.key, entry.value);
                }
            }
        }
        Ok(out)
    }

    /// Whether a profile holds a secret written in `file` (`aws_secret_access_key`,
    /// `aws_session_token`, `aws_security_token`), as the parser read it: for `list`'s warning
    /// about a file open to others.
    pub fn holds_secret(&self, file: File) -> bool {
        const SECRETS: [&str; 3] = [
            "aws_secret_access_key",
            "aws_session_token",
            "aws_security_token",
        ];
        self.profiles
            .values()
            .any(|p| SECRETS.iter().any(|k| p.get_in(file, k).is_some()))
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
            files: self.files_note(),
        })
    }

    /// Follows `source_profile` links from `target` down to the first credentials.
    pub fn resolve(&self, target: &str, settings: &Settings) -> Result<Chain> {
        let mut walk = Walk {
            config: self,
            settings,
            visited: Vec::new(),
            hops: Vec::new(),
            notes: Vec::new(),
        };
        let (source_profile, source) = walk.down(target)?;
        let Walk {
            visited,
            mut hops,
            mut notes,
            ..
        } = walk;
        hops.reverse();
        crate::attributes::check_chain(hops.iter().map(|h| (h.profile.as_str(), &h.attributes)))?;
        for p in visited
            .iter()
            .filter(|p| !hops.iter().any(|h| h.profile == p.name))
        {
            if let Some(key) = crate::attributes::KEYS.iter().find(|k| p.get(k).is_some()) {
                notes.push(format!(
                    "{key} in profile '{}' is not used: no AssumeRole is made for that profile, and STS takes it on AssumeRole only",
                    crate::error::clean(&p.name, 60)
                ));
            }
        }
        let duration = parse_duration_setting(visited[0], &mut notes)?;
        // The target's duration is read as a hop too: say each note once.
        let mut seen = std::collections::HashSet::new();
        notes.retain(|n| seen.insert(n.clone()));
        let first = |key: &str| {
            visited
                .iter()
                .find_map(|p| p.get(key).map(|v| (p.name.clone(), v.to_string())))
        };
        let own = |key: &str| visited.first().and_then(|p| p.get(key)).map(str::to_string);
        let mfa = first("mfa_serial").map(|(profile, serial)| {
            // The device's own profile's mfa_process first, then the first in the chain.
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
        if mfa.is_none()
            && let Some(p) = visited.iter().find(|p| p.get("mfa_process").is_some())
        {
            notes.push(format!(
                "mfa_process in profile '{}' is not used: no profile of the chain sets mfa_serial; add mfa_serial = <your MFA device's ARN> next to it",
                crate::error::clean(&p.name, 60)
            ));
        }
        Ok(Chain {
            target: target.to_string(),
            source_profile,
            source,
            hops,
            mfa,
            region: first("region").map(|(_, v)| v),
            endpoint: self.endpoint(&visited)?,
            ignore_configured_endpoint_urls: first("ignore_configured_endpoint_urls")
                .is_some_and(|(_, v)| v.eq_ignore_ascii_case("true")),
            // The profile named only, as botocore reads them (from its session's profile).
            use_fips_endpoint: own("use_fips_endpoint").map(|v| v.eq_ignore_ascii_case("true")),
            use_dualstack_endpoint: own("use_dualstack_endpoint")
                .map(|v| v.eq_ignore_ascii_case("true")),
            sts_regional_endpoints: own("sts_regional_endpoints"),
            duration,
            notes,
        })
    }

    /// The STS endpoint the config names, botocore's `ConfiguredEndpointProvider` order after
    /// the environment: the `sts` block of the `[services NAME]` section that `services`
    /// names, then `endpoint_url`; each the first along the chain from the target.
    fn endpoint(&self, visited: &[&Profile]) -> Result<Option<ConfiguredUrl>> {
        if let Some(p) = visited.iter().find(|p| p.get("services").is_some()) {
            let name = p.get("services").unwrap_or_default();
            let Some(section) = self.services.get(name) else {
                return Err(Error::profile(
                    &p.name,
                    format!(
                        "has services = {}, but the config file has no [services {0}] section",
                        crate::error::clean(name, 60)
                    ),
                ));
            };
            let url = section.nested("sts").and_then(|block| {
                block
                    .into_iter()
                    .find(|(k, v)| k == "endpoint_url" && !v.is_empty())
            });
            if let Some((_, url)) = url {
                return Ok(Some(ConfiguredUrl {
                    url,
                    origin: format!("[services {}]", crate::error::clean(name, 60)),
                }));
            }
        }
        Ok(visited.iter().find_map(|p| {
            p.get("endpoint_url").map(|url| ConfiguredUrl {
                url: url.to_string(),
                origin: format!("endpoint_url of '{}'", crate::error::clean(&p.name, 60)),
            })
        }))
    }
}

/// An endpoint URL from the config, and where it was set (for `-v`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfiguredUrl {
    pub url: String,
    pub origin: String,
}

/// One walk down a chain of `source_profile` links.
struct Walk<'a> {
    config: &'a Config,
    settings: &'a Settings,
    /// The profiles met, target first.
    visited: Vec<&'a Profile>,
    /// The roles met, target first.
    hops: Vec<Hop>,
    /// Settings that were ignored, and why.
    notes: Vec<String>,
}

impl<'a> Walk<'a> {
    /// Walks from `target` to the profile that gives the first credentials; returns that
    /// profile's name and its source. The rules are botocore's `AssumeRoleProvider`: a
    /// profile with `role_arn` (and no `web_identity_token_file`) assumes its role, except
    /// that a source profile holding keys is asked for its own credentials; every other
    /// profile is its own source ([`crate::source::own`]).
    fn down(&mut self, target: &str) -> Result<(String, Source)> {
        let mut name = target.to_string();
        let mut referenced_by: Option<String> = None;
        loop {
            let profile = self.visit(&name, referenced_by.as_deref())?;
            let is_source = referenced_by.is_some();
            let role = profile.get("role_arn").is_some()
                && profile.get("web_identity_token_file").is_none();
            if !role || (is_source && crate::source::has_keys(profile)) {
                return self.own(profile, !is_source);
            }
            self.hop(target, profile)?;
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
                (None, None) => return Err(no_credentials(profile)),
                // `source_profile = self` is legal with keys: its own role, its own keys.
                (Some(next), _) if next == profile.name && crate::source::has_keys(profile) => {
                    return self.own(profile, false);
                }
                (Some(next), _) => {
                    (referenced_by, name) = (Some(profile.name.clone()), next.to_string());
                }
                (None, Some(cs)) => {
                    let source = crate::source::named(profile, cs, &self.lookup(false))?;
                    return Ok((profile.name.clone(), source));
                }
            }
        }
    }

    fn lookup(&self, target: bool) -> Lookup<'a> {
        Lookup {
            settings: self.settings,
            sso_sessions: &self.config.sso_sessions,
            target,
        }
    }

    /// The credentials `profile` holds itself; `target`: the profile named on the command
    /// line, for which the environment's web identity counts.
    fn own(&self, profile: &Profile, target: bool) -> Result<(String, Source)> {
        match crate::source::own(profile, &self.lookup(target))? {
            Some(source) => Ok((profile.name.clone(), source)),
            None => Err(no_credentials(profile)),
        }
    }

    /// The profile `name`, refused when it was met before (a loop).
    fn visit(&mut self, name: &str, referenced_by: Option<&str>) -> Result<&'a Profile> {
        let profile = self.config.need(name, referenced_by)?;
        if self.visited.iter().any(|p| p.name == name) {
            let mut chain: Vec<String> = self.visited.iter().map(|p| p.name.clone()).collect();
            chain.push(name.to_string());
            return Err(Error::ProfileLoop { chain });
        }
        self.visited.push(profile);
        Ok(profile)
    }

    /// Adds the role of `profile`, within the bound of [`MAX_ROLES`].
    fn hop(&mut self, target: &str, profile: &Profile) -> Result<()> {
        let settings = (profile.name == target).then_some(self.settings);
        self.hops
            .push(Hop::from_profile(profile, settings, &mut self.notes)?);
        if self.hops.len() > MAX_ROLES {
            return Err(Error::profile(
                target,
                format!(
                    "chains more than {MAX_ROLES} roles through source_profile ({} > {} > ... > {}); no real setup needs that many, shorten the chain",
                    crate::error::clean(target, 40),
                    crate::error::clean(&self.visited[1].name, 40),
                    crate::error::clean(&profile.name, 40),
                ),
            ));
        }
        Ok(())
    }
}

fn no_credentials(profile: &Profile) -> Error {
    if profile.get("role_arn").is_some() {
        return Error::profile(
            &profile.name,
            "has role_arn but neither source_profile, credential_source nor web_identity_token_file",
        );
    }
    Error::profile(
        &profile.name,
        "has no credentials; set aws_access_key_id and aws_secret_access_key (in the credentials file), credential_process, role_arn with source_profile, sso_session (aws configure sso), or login_session (aws login)",
    )
}

/// `duration_seconds`, as botocore's `AssumeRoleProvider` reads it: a value Python's `int()`
/// does not take is ignored (with a note); a number outside what STS allows is an error here,
/// where STS would refuse it.
fn parse_duration_setting(profile: &Profile, notes: &mut Vec<String>) -> Result<Option<u32>> {
    let Some(text) = profile.get("duration_seconds") else {
        return Ok(None);
    };
    let digits = text
        .trim()
        .strip_prefix('+')
        .unwrap_or(text.trim())
        .replace('_', "");
    let Ok(n) = digits.parse::<i64>() else {
        notes.push(format!(
            "duration_seconds = {} in profile '{}' is not a whole number of seconds, so it is ignored (as the AWS CLI ignores it); text after a value is part of it",
            crate::error::clean(text, 40),
            crate::error::clean(&profile.name, 60)
        ));
        return Ok(None);
    };
    match u32::try_from(n) {
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

/// A file's text and mode; `(None, None)` when there is no such file.
fn read_optional(path: &Path) -> Result<(Option<String>, Option<u32>)> {
    use std::io::Read;
    use std::os::unix::fs::MetadataExt;
    let read = std::fs::File::open(path).and_then(|mut f| {
        let mode = f.metadata()?.mode();
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes)?;
        Ok((bytes, mode))
    });
    match read {
        Ok((bytes, mode)) => match String::from_utf8(bytes) {
            Ok(text) => Ok((Some(text), Some(mode))),
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
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((None, None)),
        Err(e) => Err(Error::ConfigIo {
            path: path.to_path_buf(),
            source: e,
        }),
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
    /// Its source identity and session tags.
    pub attributes: RoleAttributes,
}

impl Hop {
    /// `target`: the profile named on the command line, whose unset `role_session_name`,
    /// `source_identity`, `session_tags` and `transitive_session_tags` the environment fills
    /// in (`AWS_ROLE_SESSION_NAME`, `AWS_SOURCE_IDENTITY`, `AWS_SESSION_TAGS`,
    /// `AWS_TRANSITIVE_TAGS`: aws-vault's variables; unlike aws-vault, never over the
    /// profile's own values, see [`crate::attributes`]).
    fn from_profile(
        profile: &Profile,
        target: Option<&Settings>,
        notes: &mut Vec<String>,
    ) -> Result<Hop> {
        let role_arn = profile.role_arn()?.unwrap_or_default();
        let mut session_name = profile.role_session_name()?.map(str::to_string);
        if session_name.is_none()
            && let Some(name) = target.and_then(|s| s.web_identity.session_name.as_deref())
        {
            if !crate::units::valid_session_name(name) {
                return Err(Error::profile(
                    &profile.name,
                    "AWS_ROLE_SESSION_NAME must be 2 to 64 characters of A-Z a-z 0-9 _+=,.@-",
                ));
            }
            session_name = Some(name.to_string());
        }
        Ok(Hop {
            profile: profile.name.clone(),
            role_arn: role_arn.to_string(),
            external_id: profile.get("external_id").map(str::to_string),
            session_name,
            duration: parse_duration_setting(profile, notes)?,
            attributes: RoleAttributes::read(profile, target.map(|s| &s.target_attributes))?,
        })
    }
}

/// A profile resolved down to its first credentials.
#[derive(Debug, Clone)]
pub struct Chain {
    pub target: String,
    /// The profile that names the source (holds the keys, or the way to get them).
    pub source_profile: String,
    pub source: Source,
    /// Roles to assume, first (signed with the source) to last (the target).
    pub hops: Vec<Hop>,
    /// The first `mfa_serial` from the target down to the source.
    pub mfa: Option<MfaDevice>,
    /// The first `region` from the target down to the source.
    pub region: Option<String>,
    /// The STS endpoint the config names ([`Config::endpoint`]).
    pub endpoint: Option<ConfiguredUrl>,
    /// `ignore_configured_endpoint_urls = true`, the first along the chain.
    pub ignore_configured_endpoint_urls: bool,
    /// `use_fips_endpoint`, `use_dualstack_endpoint` and `sts_regional_endpoints` of the
    /// target profile (the environment's variables win: [`crate::sts::Endpoint`]).
    pub use_fips_endpoint: Option<bool>,
    pub use_dualstack_endpoint: Option<bool>,
    pub sts_regional_endpoints: Option<String>,
    /// `duration_seconds` of the target profile.
    pub duration: Option<u32>,
    /// Settings botocore ignores and so does mfarole, each said once on stderr.
    pub notes: Vec<String>,
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

    fn env() -> Settings {
        Settings::for_tests(&[])
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
        assert_eq!(chain.source.known().unwrap().access_key_id, "AKIA1");
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
        assert_eq!(chain.source.known().unwrap().access_key_id, "AKIA1");
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
        assert_eq!(chain.source_profile, "jones");
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
        assert_eq!(chain.source_profile, "jones");
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
        let with = Settings::for_tests(&[
            ("AWS_ACCESS_KEY_ID", "AKIAENV"),
            ("AWS_SECRET_ACCESS_KEY", "sec"),
        ]);
        let chain = c.resolve("e", &with).unwrap();
        assert!(matches!(chain.source, Source::Environment(_)));
        assert_eq!(chain.source.known().unwrap().access_key_id, "AKIAENV");
    }

    #[test]
    fn bad_settings_are_explained() {
        let c = cfg(
            "[profile both]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = jones\ncredential_source = Environment\n\
             [profile none]\nrole_arn = arn:aws:iam::1:role/a\n\
             [profile imds]\nrole_arn = arn:aws:iam::1:role/a\ncredential_source = Ec2InstanceMetadata\nmetadata_service_timeout = soon\n\
             [profile ecs]\nrole_arn = arn:aws:iam::1:role/a\ncredential_source = EcsContainer\n\
             [profile other]\nrole_arn = arn:aws:iam::1:role/a\ncredential_source = Vault\n\
             [profile web]\nweb_identity_token_file = /t\n\
             [profile empty]\nregion = x\n\
             [profile half]\naws_access_key_id = A\n\
             [profile dur]\naws_access_key_id = A\naws_secret_access_key = B\nduration_seconds = 1h\n\
             [profile notarn]\nrole_arn = myrole\nsource_profile = jones\n\
             [profile proc]\ncredential_process = /bin/x\n",
            CREDS,
        );
        let msg = |p: &str| c.resolve(p, &env()).unwrap_err().to_string();
        assert!(msg("both").contains("both source_profile and credential_source"));
        assert!(
            msg("none")
                .contains("neither source_profile, credential_source nor web_identity_token_file")
        );
        assert!(msg("imds").contains("metadata_service_timeout in profile 'imds' = soon"));
        assert!(msg("ecs").contains("neither AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"));
        assert!(msg("other").contains("Vault is not one of Environment, EcsContainer"));
        assert!(msg("web").contains("no role_arn"));
        assert!(msg("empty").contains("has no credentials"));
        assert!(msg("half").contains("no aws_secret_access_key"));
        let dur = c.resolve("dur", &env()).unwrap();
        assert_eq!(dur.duration, None);
        assert!(dur.notes[0].contains("duration_seconds = 1h in profile 'dur'"));
        assert!(msg("notarn").contains("is not an ARN"));
        let proc = c.resolve("proc", &env()).unwrap();
        assert!(matches!(&proc.source, Source::Process(p) if p.command == "/bin/x"));
    }

    #[test]
    fn container_endpoints_follow_the_sdks_rules() {
        let c = cfg(
            "[profile ecs]\nrole_arn = arn:aws:iam::1:role/a\ncredential_source = EcsContainer\n",
            "",
        );
        let url = |pairs: &[(&str, &str)]| match c.resolve("ecs", &Settings::for_tests(pairs)) {
            Ok(chain) => match chain.source {
                Source::Container(c) => Ok(c.url),
                other => panic!("{other:?}"),
            },
            Err(e) => Err(e.to_string()),
        };
        let rel = (
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "/v2/credentials/x",
        );
        let full = |u: &'static str| ("AWS_CONTAINER_CREDENTIALS_FULL_URI", u);
        assert_eq!(
            url(&[rel]).unwrap(),
            "http://169.254.170.2/v2/credentials/x"
        );
        assert_eq!(
            url(&[rel, full("http://127.0.0.1:9/x")]).unwrap(),
            "http://169.254.170.2/v2/credentials/x",
            "the relative URI comes first"
        );
        for ok in [
            "http://127.0.0.1:9/x",
            "http://localhost/x",
            "http://[::1]:80/x",
            "http://169.254.170.23/v1/credentials",
            "http://[fd00:ec2::23]/v1/credentials",
            "https://creds.example.com/x",
        ] {
            assert_eq!(url(&[full(ok)]).unwrap(), ok);
        }
        for bad in [
            "http://10.0.0.1/x",
            "http://example.com/x",
            "ftp://127.0.0.1/",
            "nonsense",
        ] {
            assert!(url(&[full(bad)]).is_err(), "{bad}");
        }
    }

    #[test]
    fn web_identity_from_the_profile_or_the_environment() {
        let c = cfg(
            "[profile ci]\nrole_arn = arn:aws:iam::1:role/ci\nweb_identity_token_file = /var/token\nrole_session_name = build\n\
             [profile up]\nrole_arn = arn:aws:iam::1:role/up\nsource_profile = ci\n\
             [default]\nregion = eu-west-1\n",
            "",
        );
        let chain = c.resolve("up", &env()).unwrap();
        let Source::WebIdentity(w) = &chain.source else {
            panic!("{:?}", chain.source)
        };
        assert_eq!(w.token_file, Path::new("/var/token"));
        assert_eq!(w.session_name.as_deref(), Some("build"));
        assert_eq!(chain.hops.len(), 1);
        // The environment's token and role, for the profile named on the command line only.
        let e = Settings::for_tests(&[
            ("AWS_WEB_IDENTITY_TOKEN_FILE", "/env/token"),
            ("AWS_ROLE_ARN", "arn:aws:iam::1:role/env"),
        ]);
        let chain = c.resolve("default", &e).unwrap();
        let Source::WebIdentity(w) = &chain.source else {
            panic!()
        };
        assert_eq!(
            (w.token_file.to_str(), w.role_arn.as_str()),
            (Some("/env/token"), "arn:aws:iam::1:role/env")
        );
        let chain = c.resolve("up", &e).unwrap();
        let Source::WebIdentity(w) = &chain.source else {
            panic!()
        };
        assert_eq!(
            w.token_file,
            Path::new("/var/token"),
            "not for a source profile"
        );
    }

    #[test]
    fn resolution_rules_of_the_shared_suites_as_botocore_applies_them() {
        // The later of [default] and [profile default] replaces the other (botocore; the
        // suite would keep [profile default] either way).
        let c = cfg(
            "[profile default]\nregion = a\n[default]\noutput = json\n",
            "",
        );
        let d = c.get("default").unwrap();
        assert_eq!((d.get("region"), d.get("output")), (None, Some("json")));
        let c = cfg(
            "[default]\noutput = json\n[profile default]\nregion = a\n",
            "",
        );
        let d = c.get("default").unwrap();
        assert_eq!((d.get("region"), d.get("output")), (Some("a"), None));
        // The same section twice in one file is refused, as configparser's strict mode
        // (and so the AWS CLI) refuses it; two headers that name one profile replace.
        let e = Config::parse(
            Some((
                "[profile foo]\nname = value\n[profile foo]\nname = value2\n",
                Path::new("config"),
            )),
            None,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("config:3: [profile foo] appears again"),
            "{e}"
        );
        let c = cfg(
            "[profile foo]\nname = value\n[profile 'foo']\nname2 = x\n",
            "",
        );
        let f = c.get("foo").unwrap();
        assert_eq!((f.get("name"), f.get("name2")), (None, Some("x")));
        // Config sections without the prefix are not profiles; in the credentials file
        // `[profile foo]` names a profile called "profile foo", never foo.
        let c = cfg(
            "[foo]\nregion = r\n[profile bar]\nregion = r\n",
            "[profile bar]\naws_access_key_id = A\naws_secret_access_key = B\n",
        );
        assert!(c.get("foo").is_none());
        assert!(c.get("bar").unwrap().get("aws_access_key_id").is_none());
        // The credentials file wins over the config for the same key.
        let c = cfg("[profile foo]\nname = value\n", "[foo]\nname = value2\n");
        assert_eq!(c.get("foo").unwrap().get("name"), Some("value2"));
        // Continuation lines join with a newline; a credential_process may be split so.
        let c = cfg(
            "[profile foo]\ncredential_process = tool\n   --flag x  \n\t--other\n",
            "",
        );
        assert_eq!(
            c.get("foo").unwrap().get("credential_process"),
            Some("tool\n--flag x\n--other")
        );
        // Sub-settings of an empty value are not a continuation.
        let c = cfg(
            "[profile foo]\ns3 =\n  max_concurrent_requests = 10\nregion = r\n",
            "",
        );
        assert_eq!(c.get("foo").unwrap().get("region"), Some("r"));
        // Comments: whole lines, and after a section header; text after a value is kept
        // (botocore reads no inline comments; the suite would strip ` # ...`).
        let c = cfg("# c\n[profile foo] ; c\nname = value # not a comment\n", "");
        assert_eq!(
            c.get("foo").unwrap().get("name"),
            Some("value # not a comment")
        );
        // Profile names are trimmed; tabs separate the prefix.
        let c = cfg("[profile \tfoo \t]\n[profile\tbar]\n", "");
        assert_eq!(c.names(), ["bar", "foo"]);
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

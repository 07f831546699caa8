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
    /// `[sso-session NAME]` sections of the config file.
    sso_sessions: BTreeMap<String, Profile>,
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
        let mut sso_sessions: BTreeMap<String, Profile> = BTreeMap::new();
        let syntax = |path: &Path, e: ini::SyntaxError| Error::ConfigSyntax {
            path: path.to_path_buf(),
            line: e.line,
            message: e.message,
        };
        if let Some((text, path)) = config {
            // `[default]` and `[profile default]` are the same profile; as in botocore, a
            // section of one form replaces what the other form said before it (the shared
            // SDK test suite would always prefer `[profile default]`).
            let mut default_prefixed: Option<bool> = None;
            for section in ini::parse(text).map_err(|e| syntax(path, e))? {
                let prefixed_default = section
                    .name
                    .strip_prefix("profile")
                    .is_some_and(|rest| rest.starts_with([' ', '\t']) && rest.trim() == "default");
                if section.name == "default" || prefixed_default {
                    if default_prefixed.is_some_and(|p| p != prefixed_default) {
                        profiles.remove("default");
                    }
                    default_prefixed = Some(prefixed_default);
                }
                let name = if section.name == "default" {
                    "default".to_string()
                } else if let Some(rest) = section.name.strip_prefix("profile") {
                    if !rest.starts_with([' ', '\t']) || rest.trim().is_empty() {
                        continue; // e.g. [profiles] — not a profile, the CLI ignores it too
                    }
                    rest.trim().to_string()
                } else {
                    if let Some(rest) = section.name.strip_prefix("sso-session")
                        && rest.starts_with([' ', '\t'])
                        && !rest.trim().is_empty()
                    {
                        merge(&mut sso_sessions, rest.trim().to_string(), section.entries);
                    }
                    continue; // [services x], ...
                };
                merge(&mut profiles, name, section.entries);
            }
        }
        if let Some((text, path)) = credentials {
            for section in ini::parse(text).map_err(|e| syntax(path, e))? {
                merge(&mut profiles, section.name, section.entries);
            }
        }
        Ok(Config {
            profiles,
            sso_sessions,
        })
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
            let assumes = profile.get("role_arn").is_some()
                && (profile.get("source_profile").is_some()
                    || profile.get("credential_source").is_some());
            if !assumes {
                // A profile that is its own first credentials: keys, a web identity token, a
                // process, in botocore's order (the environment's web identity only for the
                // profile named on the command line, as botocore's default chain has it).
                if let Some(source) = Source::own(profile, &self.sso_sessions, env, !is_source)? {
                    break source;
                }
                return Err(no_credentials(profile));
            }
            let role_arn = profile.get("role_arn").unwrap_or_default();
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
                (None, Some(cs)) => break Source::credential_source(profile, cs, env)?,
                (None, None) => unreachable!("checked above"),
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
    // Also used for [sso-session] sections, which have the same shape.
    let profile = profiles.entry(name.clone()).or_insert_with(|| Profile {
        name,
        settings: HashMap::new(),
    });
    for entry in entries {
        profile.settings.insert(entry.key, entry.value);
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
        "has no credentials; set aws_access_key_id and aws_secret_access_key (in the credentials file), credential_process, or role_arn with source_profile",
    )
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
    /// The profile holding the keys or the way to get them, or the role profile whose
    /// `credential_source` is used.
    pub profile: String,
    pub kind: SourceKind,
}

/// How the first credentials are had: known when the config is read (keys), or fetched at
/// run time (a process, an endpoint, a token exchanged with STS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind {
    /// Keys from the credentials or config file.
    Keys(Credentials),
    /// `credential_source = Environment`: `AWS_ACCESS_KEY_ID` and friends.
    Environment(Credentials),
    /// `credential_process`: the command line as written.
    Process(String),
    /// `credential_source = EcsContainer`: the ECS/EKS container credentials endpoint, from
    /// `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` or `..._FULL_URI`.
    Container { url: String },
    /// `credential_source = Ec2InstanceMetadata`: IMDSv2.
    InstanceMetadata(Imds),
    /// `web_identity_token_file` + `role_arn`: AssumeRoleWithWebIdentity.
    WebIdentity(WebIdentity),
    /// IAM Identity Center: the token `aws sso login` left, exchanged for role credentials.
    Sso(Sso),
}

/// An IAM Identity Center profile, resolved: which role of which account, and where the AWS
/// CLI keeps the login's token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sso {
    /// `sso_session`; `None` for the legacy form (`sso_start_url` in the profile).
    pub session: Option<String>,
    pub start_url: String,
    pub region: String,
    pub account_id: String,
    pub role_name: String,
    /// `~/.aws/sso/cache/SHA1.json`: of the session name, or of the start URL (legacy).
    pub token_file: PathBuf,
}

impl Sso {
    /// The command that makes a new login for this profile.
    pub fn login_command(&self, profile: &str) -> String {
        match &self.session {
            Some(s) => format!("aws sso login --sso-session {s}"),
            None => format!("aws sso login --profile {profile}"),
        }
    }
}

/// Where and how patiently to ask the instance metadata service: the environment variable
/// first, then the profile's setting, then the SDKs' defaults (IPv4, 1 s, 1 attempt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imds {
    pub endpoint: String,
    pub timeout: std::time::Duration,
    pub attempts: u32,
    /// `AWS_EC2_METADATA_DISABLED=true`: refused when the step would run.
    pub disabled: bool,
}

/// A web identity token exchanged for a role: the file is read each time the step runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebIdentity {
    pub token_file: PathBuf,
    pub role_arn: String,
    pub session_name: Option<String>,
}

impl SourceKind {
    /// The credentials, when they are known without fetching.
    pub fn known(&self) -> Option<&Credentials> {
        match self {
            SourceKind::Keys(c) | SourceKind::Environment(c) => Some(c),
            _ => None,
        }
    }

    /// What the source is, for `list` and `--verbose`.
    pub fn describe(&self) -> &'static str {
        match self {
            SourceKind::Keys(_) => "keys",
            SourceKind::Environment(_) => "environment",
            SourceKind::Process(_) => "credential_process",
            SourceKind::Container { .. } => "container credentials",
            SourceKind::InstanceMetadata(_) => "instance metadata",
            SourceKind::WebIdentity(_) => "web identity",
            SourceKind::Sso(_) => "IAM Identity Center",
        }
    }
}

impl Source {
    fn profile(profile: &Profile) -> Result<Source> {
        Ok(Source {
            profile: profile.name.clone(),
            kind: SourceKind::Keys(profile.static_credentials()?),
        })
    }

    pub fn is_environment(&self) -> bool {
        matches!(self.kind, SourceKind::Environment(_))
    }

    /// The first credentials a profile holds itself, in botocore's order: a web identity
    /// token (the environment's `AWS_WEB_IDENTITY_TOKEN_FILE` first, for the profile named on
    /// the command line), keys, then `credential_process`. `None`: it holds none.
    fn own(
        profile: &Profile,
        sessions: &BTreeMap<String, Profile>,
        env: &Environ,
        target: bool,
    ) -> Result<Option<Source>> {
        let from_env = |k: &str| env.get(k).filter(|_| target);
        let token_file = from_env("AWS_WEB_IDENTITY_TOKEN_FILE")
            .or_else(|| profile.get("web_identity_token_file"));
        if let Some(file) = token_file {
            let Some(role_arn) = from_env("AWS_ROLE_ARN").or_else(|| profile.get("role_arn"))
            else {
                return Err(Error::profile(
                    &profile.name,
                    "has a web identity token file but no role_arn (or AWS_ROLE_ARN) to exchange it for",
                ));
            };
            check_arn(&profile.name, role_arn)?;
            let session_name = from_env("AWS_ROLE_SESSION_NAME")
                .or_else(|| profile.get("role_session_name"))
                .map(str::to_string);
            check_session_name(&profile.name, session_name.as_deref())?;
            return Ok(Some(Source {
                profile: profile.name.clone(),
                kind: SourceKind::WebIdentity(WebIdentity {
                    token_file: PathBuf::from(file),
                    role_arn: role_arn.to_string(),
                    session_name,
                }),
            }));
        }
        if profile.get("sso_session").is_some() || profile.get("sso_start_url").is_some() {
            return Ok(Some(Source {
                profile: profile.name.clone(),
                kind: SourceKind::Sso(sso(profile, sessions, env)?),
            }));
        }
        if profile.has_keys() {
            return Source::profile(profile).map(Some);
        }
        if let Some(command) = profile.get("credential_process") {
            return Ok(Some(Source {
                profile: profile.name.clone(),
                kind: SourceKind::Process(command.to_string()),
            }));
        }
        Ok(None)
    }

    /// `credential_source = Environment | EcsContainer | Ec2InstanceMetadata`.
    fn credential_source(profile: &Profile, value: &str, env: &Environ) -> Result<Source> {
        let kind = if value.eq_ignore_ascii_case("Environment") {
            return Source::environment(&profile.name, env);
        } else if value.eq_ignore_ascii_case("EcsContainer") {
            SourceKind::Container {
                url: container_url(&profile.name, env)?,
            }
        } else if value.eq_ignore_ascii_case("Ec2InstanceMetadata") {
            SourceKind::InstanceMetadata(imds_settings(profile, env)?)
        } else {
            return Err(Error::profile(
                &profile.name,
                format!(
                    "credential_source = {} is not one of Environment, EcsContainer, Ec2InstanceMetadata",
                    crate::error::clean(value, 40)
                ),
            ));
        };
        Ok(Source {
            profile: profile.name.clone(),
            kind,
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
            kind: SourceKind::Environment(credentials),
        })
    }
}

/// An IAM Identity Center profile: `sso_session` naming an `[sso-session]` section (which holds
/// `sso_start_url` and `sso_region`), or the legacy form with both in the profile; and
/// `sso_account_id` + `sso_role_name` in the profile. The token file is named as the AWS CLI
/// names it.
fn sso(profile: &Profile, sessions: &BTreeMap<String, Profile>, env: &Environ) -> Result<Sso> {
    use sha1::Digest;
    let need = |p: &Profile, key: &str, what: &str| {
        p.get(key).map(str::to_string).ok_or_else(|| {
            Error::profile(
                &profile.name,
                format!("uses IAM Identity Center but {what} has no {key}"),
            )
        })
    };
    let (session, start_url, region) = match profile.get("sso_session") {
        Some(name) => {
            let Some(section) = sessions.get(name) else {
                return Err(Error::profile(
                    &profile.name,
                    format!(
                        "has sso_session = {}, but the config file has no [sso-session {}] section",
                        crate::error::clean(name, 60),
                        crate::error::clean(name, 60)
                    ),
                ));
            };
            let what = format!("[sso-session {}]", crate::error::clean(name, 60));
            (
                Some(name.to_string()),
                need(section, "sso_start_url", &what)?,
                need(section, "sso_region", &what)?,
            )
        }
        None => (
            None,
            need(profile, "sso_start_url", "the profile")?,
            need(profile, "sso_region", "the profile")?,
        ),
    };
    let account_id = need(profile, "sso_account_id", "the profile")?;
    let role_name = need(profile, "sso_role_name", "the profile")?;
    let key = session.as_deref().unwrap_or(&start_url);
    let name: String = sha1::Sha1::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let home = env.home().unwrap_or_else(|| "/".into());
    Ok(Sso {
        session,
        start_url,
        region,
        account_id,
        role_name,
        token_file: home.join(".aws/sso/cache").join(format!("{name}.json")),
    })
}

/// The container credentials endpoint, as the SDKs pick it: the relative URI on the ECS
/// agent's address first, then the full URI, which may use plain http only to a loopback
/// address or the ECS/EKS link-local hosts (anything else could read the credentials on
/// the way).
fn container_url(profile: &str, env: &Environ) -> Result<String> {
    if let Some(rel) = env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
        if !rel.starts_with('/') || rel.chars().any(|c| c.is_control() || c == ' ') {
            return Err(Error::Setting(format!(
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI={} is not a path; fix or unset it",
                crate::error::clean(rel, 80)
            )));
        }
        return Ok(format!("http://169.254.170.2{rel}"));
    }
    let Some(full) = env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI") else {
        return Err(Error::profile(
            profile,
            "has credential_source = EcsContainer, but neither AWS_CONTAINER_CREDENTIALS_RELATIVE_URI nor AWS_CONTAINER_CREDENTIALS_FULL_URI is set (is this an ECS task or an EKS pod?)",
        ));
    };
    let shown = crate::error::clean(full, 100);
    let bad =
        |why: &str| Error::Setting(format!("AWS_CONTAINER_CREDENTIALS_FULL_URI={shown} {why}"));
    let (scheme, rest) = full
        .split_once("://")
        .ok_or_else(|| bad("is not an http(s) URL"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    if host.is_empty() || full.chars().any(|c| c.is_control() || c == ' ') {
        return Err(bad("is not an http(s) URL"));
    }
    match scheme.to_ascii_lowercase().as_str() {
        "https" => Ok(full.to_string()),
        "http" if container_host_allowed(host) => Ok(full.to_string()),
        "http" => Err(bad(
            "uses plain http to a host that is neither loopback nor the ECS/EKS endpoint; use https",
        )),
        _ => Err(bad("is not an http(s) URL")),
    }
}

fn container_host_allowed(host: &str) -> bool {
    use std::net::IpAddr;
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match host.parse::<IpAddr>() {
        Ok(ip) if ip.is_loopback() => true,
        Ok(ip) => ["169.254.170.2", "169.254.170.23", "fd00:ec2::23"]
            .iter()
            .any(|a| a.parse::<IpAddr>().is_ok_and(|allowed| allowed == ip)),
        Err(_) => false,
    }
}

fn imds_settings(profile: &Profile, env: &Environ) -> Result<Imds> {
    let pick = |var: &str, key: &str| {
        env.get(var)
            .map(|v| (var.to_string(), v.to_string()))
            .or_else(|| {
                profile.get(key).map(|v| {
                    (
                        format!("{key} in profile '{}'", profile.name),
                        v.to_string(),
                    )
                })
            })
    };
    let bad = |(name, value): (String, String), want: &str| {
        Error::Setting(format!(
            "{name} = {} is not {want}; fix or unset it",
            crate::error::clean(&value, 60)
        ))
    };
    let endpoint = match pick(
        "AWS_EC2_METADATA_SERVICE_ENDPOINT",
        "ec2_metadata_service_endpoint",
    ) {
        Some((_, v)) if v.starts_with("http://") || v.starts_with("https://") => {
            v.trim_end_matches('/').to_string()
        }
        Some(other) => return Err(bad(other, "an http(s) URL")),
        None => match pick(
            "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
            "ec2_metadata_service_endpoint_mode",
        ) {
            None => "http://169.254.169.254".to_string(),
            Some((_, m)) if m.eq_ignore_ascii_case("ipv4") => "http://169.254.169.254".to_string(),
            Some((_, m)) if m.eq_ignore_ascii_case("ipv6") => "http://[fd00:ec2::254]".to_string(),
            Some(other) => return Err(bad(other, "IPv4 or IPv6")),
        },
    };
    let timeout = match pick("AWS_METADATA_SERVICE_TIMEOUT", "metadata_service_timeout") {
        None => std::time::Duration::from_secs(1),
        Some(p) => match p.1.parse::<f64>() {
            Ok(t) if t > 0.0 && t <= 300.0 => std::time::Duration::from_secs_f64(t),
            _ => return Err(bad(p, "a number of seconds")),
        },
    };
    let attempts = match pick(
        "AWS_METADATA_SERVICE_NUM_ATTEMPTS",
        "metadata_service_num_attempts",
    ) {
        None => 1,
        Some(p) => match p.1.parse::<u32>() {
            Ok(n) if (1..=10).contains(&n) => n,
            _ => return Err(bad(p, "a number from 1 to 10")),
        },
    };
    Ok(Imds {
        endpoint,
        timeout,
        attempts,
        disabled: env.flag("AWS_EC2_METADATA_DISABLED"),
    })
}

fn check_arn(profile: &str, role_arn: &str) -> Result<()> {
    if role_arn.starts_with("arn:") {
        return Ok(());
    }
    Err(Error::profile(
        profile,
        format!(
            "role_arn = {} is not an ARN (arn:aws:iam::ACCOUNT:role/NAME)",
            crate::error::clean(role_arn, 80)
        ),
    ))
}

fn check_session_name(profile: &str, name: Option<&str>) -> Result<()> {
    match name {
        Some(n) if !crate::units::valid_session_name(n) => Err(Error::profile(
            profile,
            "role_session_name must be 2 to 64 characters of A-Z a-z 0-9 _+=,.@-",
        )),
        _ => Ok(()),
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
        check_arn(&profile.name, role_arn)?;
        let session_name = profile.get("role_session_name").map(str::to_string);
        check_session_name(&profile.name, session_name.as_deref())?;
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
        assert_eq!(chain.source.kind.known().unwrap().access_key_id, "AKIA1");
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
        assert_eq!(chain.source.kind.known().unwrap().access_key_id, "AKIA1");
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
        assert!(chain.source.is_environment());
        assert_eq!(chain.source.kind.known().unwrap().access_key_id, "AKIAENV");
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
        assert!(msg("dur").contains("duration_seconds = 1h"));
        assert!(msg("notarn").contains("is not an ARN"));
        let proc = c.resolve("proc", &env()).unwrap();
        assert_eq!(proc.source.kind, SourceKind::Process("/bin/x".into()));
    }

    #[test]
    fn container_endpoints_follow_the_sdks_rules() {
        let c = cfg(
            "[profile ecs]\nrole_arn = arn:aws:iam::1:role/a\ncredential_source = EcsContainer\n",
            "",
        );
        let url = |pairs: &[(&str, &str)]| match c.resolve("ecs", &Environ::from_pairs(pairs)) {
            Ok(chain) => match chain.source.kind {
                SourceKind::Container { url } => Ok(url),
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
        let SourceKind::WebIdentity(w) = &chain.source.kind else {
            panic!("{:?}", chain.source.kind)
        };
        assert_eq!(w.token_file, Path::new("/var/token"));
        assert_eq!(w.session_name.as_deref(), Some("build"));
        assert_eq!(chain.hops.len(), 1);
        // The environment's token and role, for the profile named on the command line only.
        let e = Environ::from_pairs(&[
            ("AWS_WEB_IDENTITY_TOKEN_FILE", "/env/token"),
            ("AWS_ROLE_ARN", "arn:aws:iam::1:role/env"),
        ]);
        let chain = c.resolve("default", &e).unwrap();
        let SourceKind::WebIdentity(w) = &chain.source.kind else {
            panic!()
        };
        assert_eq!(
            (w.token_file.to_str(), w.role_arn.as_str()),
            (Some("/env/token"), "arn:aws:iam::1:role/env")
        );
        let chain = c.resolve("up", &e).unwrap();
        let SourceKind::WebIdentity(w) = &chain.source.kind else {
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
        // The same form twice merges, the later value winning.
        let c = cfg(
            "[profile foo]\nname = value\n[profile foo]\nname = value2\nname2 = x\n",
            "",
        );
        let f = c.get("foo").unwrap();
        assert_eq!((f.get("name"), f.get("name2")), (Some("value2"), Some("x")));
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

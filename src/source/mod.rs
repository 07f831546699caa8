//! Where the first credentials of a chain come from: one file per source, each owning its
//! settings (read from its profile and from [`Settings`]), its cache key and reason, its `-v`
//! and `list` wording, and its fetch. Everything else (the config, the plan, the pipeline,
//! `list`) asks a [`Source`] through the [`Provider`] trait and matches no source kind.
//!
//! Adding a source is one new file that implements [`Provider`] and has a constructor, one
//! arm of [`Source`], one line in [`Source::provider`], and its constructor in [`OWN`] (a
//! profile that is its own source) or [`NAMED`] (a `credential_source` value).
//!
//! The sources fetched over HTTP answer with the same JSON shape, parsed here once; every
//! failure of a source is one [`Error::Source`] that names the profile and the source and
//! never holds a secret or the answer's body.

pub(crate) mod container;
pub(crate) mod environment;
pub(crate) mod imds;
pub(crate) mod keys;
pub(crate) mod login;
pub(crate) mod process;
pub(crate) mod sso;
pub(crate) mod web_identity;

use serde::Deserialize;
use time::OffsetDateTime;

use crate::cache::Cache;
use crate::creds::{Credentials, Issued};
use crate::error::{Error, Result};
use crate::log::Log;
use crate::profile::Profile;
use crate::settings::Settings;

/// The first credentials of a chain: one arm per source, each the resolved settings of its
/// own file. `Source` derefs to [`Provider`], so callers never match on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Keys(keys::Keys),
    Environment(environment::Environment),
    Process(process::Process),
    Container(container::Container),
    InstanceMetadata(imds::Imds),
    WebIdentity(web_identity::WebIdentity),
    Sso(sso::Sso),
    Login(login::Login),
}

impl Source {
    /// The one `match` over the kinds.
    pub fn provider(&self) -> &(dyn Provider + 'static) {
        match self {
            Source::Keys(s) => s,
            Source::Environment(s) => s,
            Source::Process(s) => s,
            Source::Container(s) => s,
            Source::InstanceMetadata(s) => s,
            Source::WebIdentity(s) => s,
            Source::Sso(s) => s,
            Source::Login(s) => s,
        }
    }
}

/// A source is used through its provider: `source.kind()`, `source.fetch(..)`.
impl std::ops::Deref for Source {
    type Target = dyn Provider;
    fn deref(&self) -> &(dyn Provider + 'static) {
        self.provider()
    }
}

/// What the rest of mfarole may ask of a source.
pub trait Provider {
    /// What the source is, for `list` and `-v`: `keys`, `credential_process`, ...
    fn kind(&self) -> &'static str;

    /// The credentials, when they are known without fetching (keys in a file or the
    /// environment): the plan then has no step for the source.
    fn known(&self) -> Option<&Credentials> {
        None
    }

    /// Whether the credentials may be long-term keys, the only ones GetSessionToken takes.
    fn may_be_long_term(&self) -> bool {
        false
    }

    /// The fetch's name, as `-v` and the STS-style errors say it.
    fn call(&self) -> &'static str {
        "fetch"
    }

    /// `-v`'s words for the fetch: `container credentials from URL`.
    fn describe(&self) -> String {
        self.kind().to_string()
    }

    /// Why the fetch is a step of the plan, for `-v`.
    fn reason(&self) -> String {
        format!("the {} of the profile", self.kind())
    }

    /// Every input that decides the fetched credentials, never a secret. `endpoint` is the STS
    /// endpoint's part of a key, for the sources that call STS.
    fn cache_key(&self, profile: &str, endpoint: &str) -> String;

    /// The credentials, fetched now (for a known source: the keys themselves).
    fn fetch(&self, ctx: &Fetch) -> Result<Issued>;

    /// Refuses a source that cannot work in this environment, before anything is read.
    fn check(&self, _profile: &str, _settings: &Settings) -> Result<()> {
        Ok(())
    }

    /// What a role on top is assumed with, for `-v`: `the keys of 'jones'`.
    fn assumed_with(&self, profile: &str) -> String {
        format!("the {} of '{profile}'", self.kind())
    }

    /// How `list` names the source of a role: the profile, and the kind when it is fetched.
    fn via(&self, profile: &str) -> String {
        format!("{profile} ({})", self.kind())
    }

    /// Extra `list` words about the source's own state (an SSO login's validity).
    fn status(&self, _now: OffsetDateTime) -> Option<String> {
        None
    }

    /// Whether mfarole's cache may keep the fetched credentials. `false` for a source whose
    /// own file is the cache (an `aws login` session, which `aws logout` must end at once).
    fn cached(&self) -> bool {
        true
    }
}

/// What a fetch may use besides its own settings.
pub struct Fetch<'a> {
    /// The profile that names the source.
    pub profile: &'a str,
    pub settings: &'a Settings,
    /// Holds the lock that makes parallel runs refresh an SSO login once.
    pub cache: &'a Cache<'a>,
    /// The STS client, for web identity.
    pub sts: &'a crate::sts::Client<'a>,
    pub log: &'a Log,
    /// The RoleSessionName to send when the profile names none.
    pub session_name: &'a str,
    /// The run's region (`--region`, `AWS_REGION`, the profiles'): the session's region of
    /// botocore, which picks the regional service of an `aws login` refresh.
    pub region: Option<&'a str>,
}

impl Fetch<'_> {
    /// The one error of a source: the profile, the source (`what`) and how it failed.
    pub fn fail(&self, what: &'static str) -> impl Fn(String) -> Error + '_ {
        move |message| Error::Source {
            profile: self.profile.to_string(),
            what,
            message,
        }
    }
}

/// What a source reads besides its own profile.
pub struct Lookup<'a> {
    pub settings: &'a Settings,
    /// `[sso-session NAME]` sections of the config file.
    pub sso_sessions: &'a std::collections::BTreeMap<String, Profile>,
    /// Whether the profile is the one named on the command line (the environment's web
    /// identity is for it only, as in botocore's default chain).
    pub target: bool,
}

type Own = fn(&Profile, &Lookup) -> Result<Option<Source>>;

/// The sources a profile can be itself, in the order of botocore's
/// `ProfileProviderBuilder.providers`: a web identity token, an IAM Identity Center login,
/// keys in the credentials file, an `aws login` session, a `credential_process`, keys in the
/// config file.
const OWN: &[Own] = &[
    web_identity::own,
    sso::own,
    keys::own_credentials_file,
    login::own,
    process::own,
    keys::own_config_file,
];

type Named = fn(&Profile, &Lookup) -> Result<Source>;

/// The `credential_source` values and their sources (compared case-insensitively, as
/// botocore does).
const NAMED: &[(&str, Named)] = &[
    ("Environment", environment::named),
    ("EcsContainer", container::named),
    ("Ec2InstanceMetadata", imds::named),
];

/// The first credentials a profile holds itself; `None`: it holds none.
pub fn own(profile: &Profile, lookup: &Lookup) -> Result<Option<Source>> {
    for own in OWN {
        if let Some(source) = own(profile, lookup)? {
            return Ok(Some(source));
        }
    }
    Ok(None)
}

/// Whether a profile holds keys (`_has_static_credentials`): a source profile that does is
/// asked for its own credentials even when it also has a role.
pub fn has_keys(profile: &Profile) -> bool {
    profile.get("aws_access_key_id").is_some() || profile.get("aws_secret_access_key").is_some()
}

/// `credential_source = VALUE` of a role profile. The names are case-sensitive, as botocore's
/// `CanonicalNameCredentialSourcer.is_supported` compares them.
pub fn named(profile: &Profile, value: &str, lookup: &Lookup) -> Result<Source> {
    if let Some((_, make)) = NAMED.iter().find(|(name, _)| *name == value) {
        return make(profile, lookup);
    }
    let names: Vec<&str> = NAMED.iter().map(|(n, _)| *n).collect();
    let hint = match NAMED.iter().find(|(n, _)| n.eq_ignore_ascii_case(value)) {
        Some((n, _)) => format!(" (the names are case-sensitive: write {n})"),
        None => String::new(),
    };
    Err(Error::profile(
        &profile.name,
        format!(
            "credential_source = {} is not one of {}{hint}",
            crate::error::clean(value, 40),
            names.join(", ")
        ),
    ))
}

/// The JSON all three answer with: the process contract (`Version`, `SessionToken`) and the
/// endpoints' (`Token`, `Code`). Unknown fields are ignored.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct JsonCredentials {
    version: Option<serde_json::Value>,
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
    session_token: Option<String>,
    token: Option<String>,
    expiration: Option<String>,
    code: Option<String>,
    /// Any JSON: a number here must not make the whole answer unreadable (botocore takes
    /// whatever stands there).
    account_id: Option<serde_json::Value>,
}

/// Parses an answer into credentials; `Err` says what is wrong without quoting the body.
pub(crate) fn parse_credentials(
    body: &[u8],
    now: OffsetDateTime,
) -> std::result::Result<Credentials, String> {
    let json: JsonCredentials = serde_json::from_slice(body)
        .map_err(|e| format!("gave no JSON credentials ({})", json_error(&e)))?;
    // The Code is not echoed: it is the answer's text, and anything may stand there (found
    // by fuzzing: a Code holding the token was shown in the error).
    if json.code.as_deref().is_some_and(|code| code != "Success") {
        return Err("answered a Code other than Success".into());
    }
    let field = |name: &str, v: Option<String>| {
        v.filter(|v| !v.is_empty())
            .ok_or_else(|| format!("gave JSON without {name}"))
    };
    let credentials = Credentials {
        access_key_id: field("AccessKeyId", json.access_key_id)?,
        secret_access_key: field("SecretAccessKey", json.secret_access_key)?,
        session_token: json.session_token.or(json.token).filter(|t| !t.is_empty()),
        expiration: match json.expiration.as_deref() {
            None | Some("") => None,
            Some(text) => Some(
                crate::sts::xml::parse_time(text)
                    .ok_or("gave an Expiration that is not an RFC 3339 time")?,
            ),
        },
        // Optional in every contract (botocore reads it from process and container answers);
        // anything but an account id is not passed on.
        account_id: json
            .account_id
            .map(|a| match a {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            })
            .filter(|a| crate::creds::is_account_id(a)),
    };
    if let Some(part) = credentials.bad_part() {
        return Err(format!("gave a {part} with a control character"));
    }
    if let Some(exp) = credentials.expiration
        && exp <= now
    {
        return Err(format!(
            "gave credentials that expired at {}",
            crate::cache::show_time(exp)
        ));
    }
    if credentials.expiration.is_some() && credentials.session_token.is_none() {
        return Err("gave temporary credentials (an Expiration) without a session token".into());
    }
    // Version is the process contract's; checked there, tolerated here.
    let _ = json.version;
    Ok(credentials)
}

/// serde_json's message without the input it quotes (it may be a secret).
fn json_error(e: &serde_json::Error) -> String {
    format!(
        "{:?} at line {} column {}",
        e.classify(),
        e.line(),
        e.column()
    )
    .to_lowercase()
}

/// Reads at most 64 KiB of an answer.
fn read_body(response: &mut ureq::http::Response<ureq::Body>) -> std::io::Result<Vec<u8>> {
    crate::net::read_body(response, 64 * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> OffsetDateTime {
        time::macros::datetime!(2026-11-25 12:00:00 UTC)
    }

    #[test]
    fn endpoint_and_process_shapes_parse() {
        let c = parse_credentials(
            br#"{"AccessKeyId":"ASIA1","SecretAccessKey":"s","Token":"t","Expiration":"2026-11-25T13:00:00Z","RoleArn":"x"}"#,
            now(),
        )
        .unwrap();
        assert_eq!(c.session_token.as_deref(), Some("t"));
        let c = parse_credentials(
            br#"{"Version":1,"AccessKeyId":"AKIA1","SecretAccessKey":"s"}"#,
            now(),
        )
        .unwrap();
        assert!(c.is_long_term() && c.expiration.is_none());
    }

    #[test]
    fn an_account_id_of_any_json_type_never_makes_the_answer_unreadable() {
        let with = |account: &str| {
            let body = format!(
                r#"{{"Version":1,"AccessKeyId":"AKIA1","SecretAccessKey":"s","AccountId":{account}}}"#
            );
            parse_credentials(body.as_bytes(), now())
                .unwrap()
                .account_id
        };
        assert_eq!(with("222222222222").as_deref(), Some("222222222222"));
        assert_eq!(with(r#""222222222222""#).as_deref(), Some("222222222222"));
        assert_eq!(with(r#""nope""#), None);
        assert_eq!(with("null"), None);
        assert_eq!(with("{}"), None);
    }

    #[test]
    fn bad_answers_are_explained_without_their_body() {
        for (body, want) in [
            (&b"not json secretvalue"[..], "gave no JSON"),
            (br#"{"AccessKeyId":"A"}"#, "without SecretAccessKey"),
            (br#"{"Code":"Failure","AccessKeyId":"A","SecretAccessKey":"secretvalue"}"#, "Code other than Success"),
            (br#"{"Code":"S secretvalue","AccessKeyId":"A","SecretAccessKey":"s"}"#, "Code other than Success"),
            (br#"{"AccessKeyId":"A","SecretAccessKey":"s","Token":"t","Expiration":"2020-01-01T00:00:00Z"}"#, "expired"),
            (br#"{"AccessKeyId":"A","SecretAccessKey":"s","Token":"t","Expiration":"soon"}"#, "RFC 3339"),
            (br#"{"AccessKeyId":"A","SecretAccessKey":"s\u0000x"}"#, "control character"),
        ] {
            let e = parse_credentials(body, now()).unwrap_err();
            assert!(e.contains(want), "{e}");
            assert!(!e.contains("secretvalue"), "{e}");
        }
    }
}

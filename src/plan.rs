//! The decision of which STS calls to make, in what order, and which of them carries the MFA
//! code: a [`Chain`] and the command-line options in, an immutable [`Plan`] out.
//!
//! The rules (also in the README and the man page):
//! - no role: GetSessionToken with the long-term keys, with MFA when `mfa_serial` is set. Keys
//!   that are already temporary, or `--no-session`, are passed through as they are.
//! - roles with MFA: GetSessionToken with MFA first, then every AssumeRole signed with that
//!   session, whose "MFA present" carries over. One code then serves every role of the same
//!   source for the session's lifetime. The exceptions call AssumeRole with the code directly:
//!   `--no-session`, a role duration over one hour (STS caps roles assumed from a session at one
//!   hour), and source credentials that are already temporary (they cannot call
//!   GetSessionToken).
//! - roles without MFA: AssumeRole, hop after hop.
//!
//! Each step has a cache key built from every input that decides its credentials, so that a
//! change in the config or a rotated key never serves stale credentials, and a reason that
//! `--verbose` prints.

use crate::config::{Chain, SourceKind};
use crate::error::{Error, Result};
use crate::units::show_duration;

/// The longest role session that STS allows when the role is assumed with session credentials.
pub const CHAINED_ROLE_MAX: u32 = 3600;

/// What the command line adds to the profile.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub duration: Option<u32>,
    pub no_session: bool,
}

/// What one step asks STS for. Each carries its whole call, so that a step can be run,
/// cached, printed and tested without going back to the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The first credentials, fetched at run time (a process, an endpoint, a token).
    Fetch {
        /// The profile that names the source.
        profile: String,
        kind: SourceKind,
    },
    /// With the source's long-term keys.
    GetSessionToken {
        /// The profile that holds the keys (for messages).
        profile: String,
    },
    AssumeRole(RoleCall),
}

/// One AssumeRole call: the role, its external id, and the role profile (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleCall {
    pub profile: String,
    pub role_arn: String,
    pub external_id: Option<String>,
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Fetch { kind, .. } => match kind {
                SourceKind::WebIdentity(_) => "AssumeRoleWithWebIdentity",
                SourceKind::Process(_) => "credential_process",
                SourceKind::Sso(_) => "GetRoleCredentials",
                _ => "fetch",
            },
            Action::GetSessionToken { .. } => "GetSessionToken",
            Action::AssumeRole(_) => "AssumeRole",
        }
    }

    /// The profile the call is made for, as messages name it.
    pub fn profile(&self) -> &str {
        match self {
            Action::Fetch { profile, .. } | Action::GetSessionToken { profile } => profile,
            Action::AssumeRole(call) => &call.profile,
        }
    }

    /// `GetSessionToken` or `AssumeRole ARN`, for `--verbose`.
    pub fn describe(&self) -> String {
        match self {
            Action::Fetch { kind, .. } => match kind {
                SourceKind::WebIdentity(w) => format!("AssumeRoleWithWebIdentity {}", w.role_arn),
                SourceKind::Container { url } => format!("container credentials from {url}"),
                SourceKind::InstanceMetadata(i) => format!("instance metadata at {}", i.endpoint),
                SourceKind::Sso(s) => {
                    format!(
                        "GetRoleCredentials {} in account {}",
                        s.role_name, s.account_id
                    )
                }
                other => other.describe().to_string(),
            },
            Action::GetSessionToken { .. } => "GetSessionToken".to_string(),
            Action::AssumeRole(call) => format!("AssumeRole {}", call.role_arn),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub action: Action,
    /// Whether this request carries `SerialNumber` and `TokenCode`.
    pub mfa: bool,
    pub duration: Option<u32>,
    /// The RoleSessionName to send (AssumeRole only).
    pub session_name: Option<String>,
    /// Why this step is here, for `--verbose`.
    pub reason: String,
    /// Every input that decides the credentials (no secret: the key id, not the key).
    pub cache_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// In order; the last step's credentials go to the child. Empty: the source's credentials
    /// are used as they are.
    pub steps: Vec<Step>,
    /// Why the plan is empty, when it is.
    pub passthrough: Option<String>,
}

/// Makes the plan. `endpoint` is the STS URL and signing region, part of every cache key.
pub fn plan(
    chain: &Chain,
    opts: &Options,
    endpoint: &str,
    default_session_name: &str,
) -> Result<Plan> {
    let duration = opts.duration.or(chain.duration);
    let mfa_serial = chain.mfa.as_ref().map(|m| m.serial.as_str());
    let mut steps = Vec::new();
    // Keys known now are named by their id; a fetched source by its step. Only keys can
    // call GetSessionToken: a process may give long-term keys, the other sources never do.
    let (src_key, may_be_long_term) = match chain.source.kind.known() {
        Some(c) => (format!("src={}", c.access_key_id), c.is_long_term()),
        None => {
            let step = fetch_step(chain, endpoint, default_session_name);
            let key = format!("src=[{}]", digest(&step.cache_key));
            steps.push(step);
            (key, matches!(chain.source.kind, SourceKind::Process(_)))
        }
    };
    let fetched = !steps.is_empty();

    if chain.hops.is_empty() {
        if fetched && (opts.no_session || mfa_serial.is_none() || !may_be_long_term) {
            // The fetched credentials go to the command as they are, as the AWS CLI uses them.
            return Ok(Plan {
                steps,
                passthrough: None,
            });
        }
        if opts.no_session {
            return Ok(passthrough(
                "--no-session: the profile's keys are passed through as they are",
            ));
        }
        if !may_be_long_term {
            return Ok(passthrough(
                "the profile's credentials are already temporary (aws_session_token): passed through",
            ));
        }
        check_duration(&chain.target, "GetSessionToken", duration, 900, 129_600)?;
        steps.push(Step {
            action: Action::GetSessionToken {
                profile: chain.source.profile.clone(),
            },
            mfa: mfa_serial.is_some(),
            duration,
            session_name: None,
            reason: match mfa_serial {
                Some(_) => "long-term keys with mfa_serial: an MFA session".into(),
                None => "long-term keys: a session, so that the command never sees them".into(),
            },
            cache_key: format!(
                "v1 gst {src_key} mfa={} dur={} ep={endpoint}",
                mfa_serial.unwrap_or("-"),
                opt(duration)
            ),
        });
        return Ok(Plan {
            steps,
            passthrough: None,
        });
    }

    let last = chain.hops.len() - 1;
    check_duration(&chain.target, "AssumeRole", duration, 900, 43_200)?;
    let hop_duration = |i: usize| {
        if i == last {
            duration
        } else {
            chain.hops[i].duration
        }
    };
    let mut parent = src_key;
    let mut first_plain = 0;
    if let Some(serial) = mfa_serial {
        let why_direct = if opts.no_session {
            Some("--no-session")
        } else if duration.is_some_and(|d| d > CHAINED_ROLE_MAX) {
            Some("a role duration over 1h cannot be had from a session")
        } else if !may_be_long_term {
            Some("the source credentials are temporary and cannot call GetSessionToken")
        } else {
            None
        };
        let step = match why_direct {
            None => Step {
                action: Action::GetSessionToken {
                profile: chain.source.profile.clone(),
            },
                mfa: true,
                duration: None,
                session_name: None,
                reason: "MFA session first: its MFA carries over to the role, and one code serves every role of this source".into(),
                cache_key: format!("v1 gst {parent} mfa={serial} dur=- ep={endpoint}"),
            },
            Some(why) => {
                first_plain = 1;
                let reason = format!("AssumeRole with the MFA code ({why})");
                role_step(chain, 0, true, hop_duration(0), &parent, endpoint, default_session_name, reason)
            }
        };
        parent = step.cache_key.clone();
        steps.push(step);
    }
    for i in first_plain..=last {
        let reason = if i > 0 {
            format!("role chained from '{}'", chain.hops[i - 1].profile)
        } else if chain.source.is_environment() {
            "role assumed with the credentials from the environment".to_string()
        } else if fetched && steps.len() == 1 {
            format!(
                "role assumed with the {} of '{}'",
                chain.source.kind.describe(),
                chain.source.profile
            )
        } else if steps.is_empty() {
            format!("role assumed with the keys of '{}'", chain.source.profile)
        } else {
            "role assumed with the MFA session".to_string()
        };
        let step = role_step(
            chain,
            i,
            false,
            hop_duration(i),
            &parent,
            endpoint,
            default_session_name,
            reason,
        );
        parent = step.cache_key.clone();
        steps.push(step);
    }
    Ok(Plan {
        steps,
        passthrough: None,
    })
}

#[allow(clippy::too_many_arguments)]
fn role_step(
    chain: &Chain,
    i: usize,
    mfa: bool,
    duration: Option<u32>,
    parent: &str,
    endpoint: &str,
    default_session_name: &str,
    reason: String,
) -> Step {
    let hop = &chain.hops[i];
    let mfa_serial = if mfa {
        chain.mfa.as_ref().map_or("-", |m| m.serial.as_str())
    } else {
        "-"
    };
    Step {
        action: Action::AssumeRole(RoleCall {
            profile: hop.profile.clone(),
            role_arn: hop.role_arn.clone(),
            external_id: hop.external_id.clone(),
        }),
        mfa,
        duration,
        session_name: Some(
            hop.session_name
                .clone()
                .unwrap_or_else(|| default_session_name.to_string()),
        ),
        reason,
        cache_key: format!(
            "v2 ar parent={} role={} ext={} mfa={mfa_serial} dur={} name={} ep={endpoint}",
            digest(parent),
            hop.role_arn,
            hop.external_id.as_deref().unwrap_or("-"),
            opt(duration),
            hop.session_name.as_deref().unwrap_or("-"),
        ),
    }
}

/// The parent's key in a child's key: a SHA-256 prefix, so that a key stays the same small
/// size at any depth (embedding the parent made keys grow with every hop) while two
/// different parents still cannot meet.
fn digest(key: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(key.as_bytes())[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The first step of a source fetched at run time, keyed by everything that names it.
fn fetch_step(chain: &Chain, endpoint: &str, default_session_name: &str) -> Step {
    let profile = chain.source.profile.clone();
    let kind = chain.source.kind.clone();
    let (cache_key, reason, session_name) = match &kind {
        SourceKind::Process(cmd) => (
            format!("v1 process profile={profile} cmd={cmd}"),
            "credential_process: its output is cached only when it says when it expires"
                .to_string(),
            None,
        ),
        SourceKind::Container { url } => (
            format!("v1 container url={url}"),
            "credential_source = EcsContainer: the container credentials endpoint".to_string(),
            None,
        ),
        SourceKind::InstanceMetadata(imds) => (
            format!("v1 imds url={}", imds.endpoint),
            "credential_source = Ec2InstanceMetadata: the instance's role, by IMDSv2".to_string(),
            None,
        ),
        SourceKind::WebIdentity(w) => (
            format!(
                "v1 web role={} name={} file={} ep={endpoint}",
                w.role_arn,
                w.session_name.as_deref().unwrap_or("-"),
                w.token_file.display()
            ),
            "a web identity token exchanged for its role (unsigned)".to_string(),
            Some(
                w.session_name
                    .clone()
                    .unwrap_or_else(|| default_session_name.to_string()),
            ),
        ),
        SourceKind::Sso(sso) => (
            format!(
                "v1 sso url={} account={} role={}",
                sso.start_url, sso.account_id, sso.role_name
            ),
            "IAM Identity Center: the login's token exchanged for the role (GetRoleCredentials)"
                .to_string(),
            None,
        ),
        SourceKind::Keys(_) | SourceKind::Environment(_) => {
            unreachable!("keys are known, not fetched")
        }
    };
    Step {
        action: Action::Fetch { profile, kind },
        mfa: false,
        duration: None,
        session_name,
        reason,
        cache_key,
    }
}

fn passthrough(why: &str) -> Plan {
    Plan {
        steps: Vec::new(),
        passthrough: Some(why.to_string()),
    }
}

fn opt(v: Option<u32>) -> String {
    v.map_or("-".to_string(), |d| d.to_string())
}

fn check_duration(profile: &str, action: &str, d: Option<u32>, min: u32, max: u32) -> Result<()> {
    match d {
        Some(d) if d < min || d > max => Err(Error::profile(
            profile,
            format!(
                "a duration of {} is outside what {action} allows ({} to {})",
                show_duration(d),
                show_duration(min),
                show_duration(max)
            ),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Source};
    use crate::creds::Credentials;
    use crate::environ::Environ;
    use std::path::Path;

    const FILES: &str = "\
[profile user]
mfa_serial = arn:aws:iam::1:mfa/jones
[profile nomfa]
[profile admin]
role_arn = arn:aws:iam::2:role/admin
source_profile = user
[profile plainrole]
role_arn = arn:aws:iam::2:role/plain
source_profile = nomfa
[profile deep]
role_arn = arn:aws:iam::3:role/deep
source_profile = admin
external_id = ext-1
";
    const CREDS: &str = "[user]\naws_access_key_id = AKIAUSER\naws_secret_access_key = s\n\
                         [nomfa]\naws_access_key_id = AKIANOMFA\naws_secret_access_key = s\n";

    fn chain(profile: &str) -> Chain {
        Config::parse(Some((FILES, Path::new("c"))), Some((CREDS, Path::new("k"))))
            .unwrap()
            .resolve(profile, &Environ::from_pairs(&[]))
            .unwrap()
    }

    fn shape(plan: &Plan) -> Vec<String> {
        plan.steps
            .iter()
            .map(|s| {
                let name = match &s.action {
                    Action::Fetch { kind, .. } => format!("FETCH:{}", kind.describe()),
                    Action::GetSessionToken { .. } => "GST".to_string(),
                    Action::AssumeRole(call) => {
                        format!("AR{}", call.role_arn.rsplit('/').next().unwrap())
                    }
                };
                if s.mfa { format!("{name}+mfa") } else { name }
            })
            .collect()
    }

    fn run(profile: &str, opts: Options) -> Plan {
        plan(
            &chain(profile),
            &opts,
            "https://sts.amazonaws.com/ us-east-1",
            "jones-2026",
        )
        .unwrap()
    }

    #[test]
    fn flow1_session_token_with_mfa() {
        let p = run("user", Options::default());
        assert_eq!(shape(&p), ["GST+mfa"]);
        assert!(!run("nomfa", Options::default()).steps[0].mfa);
    }

    #[test]
    fn no_session_passes_keys_through_without_role() {
        let p = run(
            "user",
            Options {
                no_session: true,
                ..Default::default()
            },
        );
        assert!(p.steps.is_empty());
        assert!(p.passthrough.unwrap().contains("--no-session"));
    }

    #[test]
    fn flow2_role_with_mfa_goes_through_a_session() {
        assert_eq!(
            shape(&run("admin", Options::default())),
            ["GST+mfa", "ARadmin"]
        );
    }

    #[test]
    fn flow2_direct_mfa_on_no_session_or_long_duration() {
        let p = run(
            "admin",
            Options {
                no_session: true,
                ..Default::default()
            },
        );
        assert_eq!(shape(&p), ["ARadmin+mfa"]);
        let p = run(
            "admin",
            Options {
                duration: Some(7200),
                ..Default::default()
            },
        );
        assert_eq!(shape(&p), ["ARadmin+mfa"]);
        assert_eq!(p.steps[0].duration, Some(7200));
        let p = run(
            "admin",
            Options {
                duration: Some(3600),
                ..Default::default()
            },
        );
        assert_eq!(shape(&p), ["GST+mfa", "ARadmin"]);
    }

    #[test]
    fn role_without_mfa_is_one_assume_role() {
        assert_eq!(shape(&run("plainrole", Options::default())), ["ARplain"]);
    }

    #[test]
    fn chains_assume_hop_after_hop() {
        let p = run("deep", Options::default());
        assert_eq!(shape(&p), ["GST+mfa", "ARadmin", "ARdeep"]);
        let p = run(
            "deep",
            Options {
                no_session: true,
                ..Default::default()
            },
        );
        assert_eq!(shape(&p), ["ARadmin+mfa", "ARdeep"]);
    }

    #[test]
    fn temporary_source_keys_cannot_get_a_session() {
        let mut c = chain("admin");
        c.source = Source {
            kind: SourceKind::Keys(Credentials {
                session_token: Some("t".into()),
                ..c.source.kind.known().unwrap().clone()
            }),
            ..c.source
        };
        let p = plan(&c, &Options::default(), "e", "n").unwrap();
        assert_eq!(shape(&p), ["ARadmin+mfa"]);
    }

    #[test]
    fn cache_keys_chain_and_change_with_inputs() {
        let p = run("deep", Options::default());
        let [gst, ar0, ar1] = &p.steps[..] else {
            panic!()
        };
        assert!(gst.cache_key.contains("src=AKIAUSER"));
        assert!(
            ar0.cache_key
                .contains(&format!("parent={}", digest(&gst.cache_key)))
        );
        assert!(
            ar1.cache_key
                .contains(&format!("parent={}", digest(&ar0.cache_key)))
        );
        assert!(
            ar1.cache_key.len() < 400,
            "keys stay bounded: {}",
            ar1.cache_key
        );
        assert!(ar1.cache_key.contains("ext=ext-1"));
        // The generated session name is not part of the key.
        let other = plan(
            &chain("deep"),
            &Options::default(),
            "https://sts.amazonaws.com/ us-east-1",
            "other-name",
        )
        .unwrap();
        assert_eq!(other.steps[2].cache_key, ar1.cache_key);
        // The endpoint and the duration are.
        let other = plan(
            &chain("deep"),
            &Options::default(),
            "http://127.0.0.1:1/ us-east-1",
            "n",
        )
        .unwrap();
        assert_ne!(other.steps[0].cache_key, gst.cache_key);
        let d = run(
            "deep",
            Options {
                duration: Some(1800),
                ..Default::default()
            },
        );
        assert_eq!(d.steps[0].cache_key, gst.cache_key, "session is shared");
        assert_ne!(d.steps[2].cache_key, ar1.cache_key);
    }

    #[test]
    fn one_mfa_session_serves_every_role_of_a_source() {
        let a = run("admin", Options::default());
        let u = run("user", Options::default());
        // The plain profile asks for the default duration too, so both share the session.
        assert_eq!(a.steps[0].cache_key, u.steps[0].cache_key);
    }

    #[test]
    fn durations_out_of_range_are_refused() {
        let e = plan(
            &chain("admin"),
            &Options {
                duration: Some(600),
                ..Default::default()
            },
            "e",
            "n",
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("outside what AssumeRole allows (15m to 12h)"),
            "{e}"
        );
        let e = plan(
            &chain("user"),
            &Options {
                duration: Some(200_000),
                ..Default::default()
            },
            "e",
            "n",
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("GetSessionToken allows (15m to 36h)"),
            "{e}"
        );
    }
}

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

use crate::attributes::RoleAttributes;
use crate::config::Chain;
use crate::creds::Credentials;
use crate::error::{Error, Result};
use crate::mfa::MfaDevice;
use crate::source::Source;
use crate::units::show_duration;

/// The longest role session that STS allows when the role is assumed with session credentials.
pub const CHAINED_ROLE_MAX: u32 = 3600;

/// What the command line asks of the plan, over the profile's settings.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub duration: Option<u32>,
    pub no_session: bool,
}

/// What one step asks for. Each carries its whole call, so that a step can be run, cached,
/// printed and tested without going back to the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The first credentials, fetched at run time (a process, an endpoint, a token).
    Fetch {
        /// The profile that names the source.
        profile: String,
        source: Source,
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
    /// Source identity and session tags, sent on this call only (AWS carries them on).
    pub attributes: RoleAttributes,
}

impl Action {
    /// The call's name, as STS and errors say it.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Fetch { source, .. } => source.call(),
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
            Action::Fetch { source, .. } => source.describe(),
            Action::GetSessionToken { .. } => "GetSessionToken".to_string(),
            Action::AssumeRole(call) if call.attributes.is_empty() => {
                format!("AssumeRole {}", call.role_arn)
            }
            Action::AssumeRole(call) => format!(
                "AssumeRole {} ({})",
                call.role_arn,
                call.attributes.describe()
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub action: Action,
    /// The device whose code this request carries (`SerialNumber` and `TokenCode`).
    pub mfa: Option<MfaDevice>,
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

/// What planning knows besides the chain: the command line, the STS endpoint's part of every
/// cache key, and the RoleSessionName for profiles that name none.
struct Planner<'a> {
    chain: &'a Chain,
    asked: &'a Overrides,
    endpoint: &'a str,
    session_name: &'a str,
    /// `--duration`, else the target profile's `duration_seconds`.
    duration: Option<u32>,
}

/// Makes the plan. `endpoint` is the STS URL and signing region, part of every cache key.
pub fn plan(
    chain: &Chain,
    asked: &Overrides,
    endpoint: &str,
    default_session_name: &str,
) -> Result<Plan> {
    let planner = Planner {
        chain,
        asked,
        endpoint,
        session_name: default_session_name,
        duration: asked.duration.or(chain.duration),
    };
    let mut steps = Vec::new();
    // Keys known now are named by their id and a digest of their secret; a fetched source by
    // its step.
    let src_key = match chain.source.known() {
        Some(c) => format!("src={} sk={}", c.access_key_id, secret_digest(c)),
        None => {
            let step = planner.fetch_step();
            let key = format!("src=[{}]", digest(&step.cache_key));
            steps.push(step);
            key
        }
    };
    if chain.hops.is_empty() {
        planner.session(steps, &src_key)
    } else {
        planner.roles(steps, src_key)
    }
}

impl Planner<'_> {
    /// No role: GetSessionToken with long-term keys, or the credentials as they are.
    fn session(&self, mut steps: Vec<Step>, src_key: &str) -> Result<Plan> {
        let (chain, duration) = (self.chain, self.duration);
        let mfa = chain.mfa.as_ref();
        let may_be_long_term = chain.source.may_be_long_term();
        if !steps.is_empty() && (self.asked.no_session || mfa.is_none() || !may_be_long_term) {
            // The fetched credentials go to the command as they are, as the AWS CLI uses them.
            return Ok(Plan {
                steps,
                passthrough: None,
            });
        }
        if self.asked.no_session {
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
                profile: chain.source_profile.clone(),
            },
            mfa: mfa.cloned(),
            duration,
            session_name: None,
            reason: match mfa {
                Some(_) => "long-term keys with mfa_serial: an MFA session".into(),
                None => "long-term keys: a session, so that the command never sees them".into(),
            },
            cache_key: format!(
                "v1 gst {src_key} mfa={} dur={} ep={}",
                mfa.map_or("-", |m| m.serial.as_str()),
                opt(duration),
                self.endpoint
            ),
        });
        Ok(Plan {
            steps,
            passthrough: None,
        })
    }

    /// Roles: with MFA, a session first (or the code on the first role), then hop after hop.
    fn roles(&self, mut steps: Vec<Step>, src_key: String) -> Result<Plan> {
        let chain = self.chain;
        check_duration(&chain.target, "AssumeRole", self.duration, 900, 43_200)?;
        let fetched = !steps.is_empty();
        let mut parent = src_key;
        let mut first_plain = 0;
        if let Some(device) = &chain.mfa {
            let step = match self.why_direct() {
                None => Step {
                    action: Action::GetSessionToken {
                        profile: chain.source_profile.clone(),
                    },
                    mfa: Some(device.clone()),
                    duration: None,
                    session_name: None,
                    reason: "MFA session first: its MFA carries over to the role, and one code serves every role of this source".into(),
                    cache_key: format!(
                        "v1 gst {parent} mfa={} dur=- ep={}",
                        device.serial, self.endpoint
                    ),
                },
                Some(why) => {
                    first_plain = 1;
                    let reason = format!("AssumeRole with the MFA code ({why})");
                    self.role_step(0, Some(device), &parent, reason)
                }
            };
            parent = step.cache_key.clone();
            steps.push(step);
        }
        for i in first_plain..chain.hops.len() {
            if i > 0 {
                self.check_chained(i)?;
            }
            let reason = if i > 0 {
                format!("role chained from '{}'", chain.hops[i - 1].profile)
            } else if steps.len() == usize::from(fetched) {
                format!(
                    "role assumed with {}",
                    chain.source.assumed_with(&chain.source_profile)
                )
            } else {
                "role assumed with the MFA session".to_string()
            };
            let step = self.role_step(i, None, &parent, reason);
            parent = step.cache_key.clone();
            steps.push(step);
        }
        Ok(Plan {
            steps,
            passthrough: None,
        })
    }

    /// Why the first role must be assumed with the code itself rather than through an MFA
    /// session; `None` when a session can be had.
    fn why_direct(&self) -> Option<&'static str> {
        if self.asked.no_session {
            Some("--no-session")
        } else if self.duration.is_some_and(|d| d > CHAINED_ROLE_MAX) {
            Some("a role duration over 1h cannot be had from a session")
        } else if !self.chain.source.may_be_long_term() {
            Some("the source credentials are temporary and cannot call GetSessionToken")
        } else {
            None
        }
    }

    /// Hop `i` is assumed with the previous role's credentials, which STS caps at 1h ("role
    /// chaining"): a longer duration is refused here, before any request or MFA code is spent
    /// on the hops before it.
    fn check_chained(&self, i: usize) -> Result<()> {
        let hop = &self.chain.hops[i];
        let last = i == self.chain.hops.len() - 1;
        let duration = if last { self.duration } else { hop.duration };
        let Some(d) = duration.filter(|d| *d > CHAINED_ROLE_MAX) else {
            return Ok(());
        };
        let (asked, fix) = match self.asked.duration {
            Some(_) if last => (format!("-d {}", show_duration(d)), "-d 1h".to_string()),
            _ => (
                format!("duration_seconds = {d}"),
                format!("duration_seconds = {CHAINED_ROLE_MAX}"),
            ),
        };
        Err(Error::profile(
            &hop.profile,
            format!(
                "its role is assumed with the credentials of role '{}', and STS gives such a chained role at most 1h, but {asked} asks more: ask for {fix} or less",
                crate::error::clean(&self.chain.hops[i - 1].profile, 64)
            ),
        ))
    }

    /// The AssumeRole of hop `i`, signed with the credentials of the step keyed `parent`.
    fn role_step(&self, i: usize, mfa: Option<&MfaDevice>, parent: &str, reason: String) -> Step {
        let hop = &self.chain.hops[i];
        let duration = if i == self.chain.hops.len() - 1 {
            self.duration
        } else {
            hop.duration
        };
        Step {
            action: Action::AssumeRole(RoleCall {
                profile: hop.profile.clone(),
                role_arn: hop.role_arn.clone(),
                external_id: hop.external_id.clone(),
                attributes: hop.attributes.clone(),
            }),
            mfa: mfa.cloned(),
            duration,
            session_name: Some(
                hop.session_name
                    .clone()
                    .unwrap_or_else(|| self.session_name.to_string()),
            ),
            reason,
            cache_key: format!(
                "v2 ar parent={} role={} ext={} mfa={} dur={} name={} ep={}{}",
                digest(parent),
                hop.role_arn,
                hop.external_id.as_deref().unwrap_or("-"),
                mfa.map_or("-", |m| m.serial.as_str()),
                opt(duration),
                hop.session_name.as_deref().unwrap_or("-"),
                self.endpoint,
                // Another source identity or tag set is another session; without any, the
                // key is what it was before mfarole sent them (no new prompt on upgrade).
                match hop.attributes.is_empty() {
                    true => String::new(),
                    false => format!(" attrs={}", digest(&hop.attributes.describe())),
                },
            ),
        }
    }

    /// The first step of a source fetched at run time, keyed by everything that names it.
    fn fetch_step(&self) -> Step {
        let chain = self.chain;
        let source: &Source = &chain.source;
        Step {
            action: Action::Fetch {
                profile: chain.source_profile.clone(),
                source: source.clone(),
            },
            mfa: None,
            duration: None,
            session_name: None,
            reason: source.reason(),
            cache_key: source.cache_key(&chain.source_profile, self.endpoint),
        }
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

/// What a cache key holds of known keys' secret parts: a SHA-256 of them under a label of
/// mfarole's own, cut to 128 bits, never the secret. Without it a profile with the right key id
/// and a wrong secret was served the right one's cached MFA session (and its `-t` code was
/// silently dropped); with it a wrong secret never meets the right one's entry and goes to STS,
/// which refuses it. The secret is 40 random characters, so the digest cannot be turned back.
fn secret_digest(c: &Credentials) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(b"mfarole cache key: the source's secret, v1\0");
    h.update(c.secret_access_key.as_bytes());
    h.update(b"\0");
    h.update(c.session_token.as_deref().unwrap_or("").as_bytes());
    h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
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
    use crate::config::Config;
    use crate::settings::Settings;
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
            .resolve(profile, &Settings::for_tests(&[]))
            .unwrap()
    }

    fn shape(plan: &Plan) -> Vec<String> {
        plan.steps
            .iter()
            .map(|s| {
                let name = match &s.action {
                    Action::Fetch { source, .. } => format!("FETCH:{}", source.kind()),
                    Action::GetSessionToken { .. } => "GST".to_string(),
                    Action::AssumeRole(call) => {
                        format!("AR{}", call.role_arn.rsplit('/').next().unwrap())
                    }
                };
                if s.mfa.is_some() {
                    format!("{name}+mfa")
                } else {
                    name
                }
            })
            .collect()
    }

    fn run(profile: &str, opts: Overrides) -> Plan {
        plan(
            &chain(profile),
            &opts,
            "https://sts.amazonaws.com/ us-east-1",
            "jones-2026",
        )
        .unwrap()
    }

    /// A role assumed with another role's credentials is capped at 1h by STS: a longer one is
    /// refused before any request, naming the setting to change (issue 22, item 7).
    #[test]
    fn a_chained_role_longer_than_an_hour_is_refused_before_any_request() {
        let long = Overrides {
            duration: Some(7200),
            no_session: false,
        };
        let e = plan(&chain("deep"), &long, "ep", "n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "profile 'deep': its role is assumed with the credentials of role 'admin', and STS gives such a chained role at most 1h, but -d 2h asks more: ask for -d 1h or less"
        );
        // The first role of the chain may last longer (assumed with the code directly).
        assert!(plan(&chain("admin"), &long, "ep", "n").is_ok());
        let hour = Overrides {
            duration: Some(3600),
            no_session: false,
        };
        assert!(plan(&chain("deep"), &hour, "ep", "n").is_ok());
    }

    #[test]
    fn flow1_session_token_with_mfa() {
        let p = run("user", Overrides::default());
        assert_eq!(shape(&p), ["GST+mfa"]);
        assert!(run("nomfa", Overrides::default()).steps[0].mfa.is_none());
    }

    #[test]
    fn no_session_passes_keys_through_without_role() {
        let p = run(
            "user",
            Overrides {
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
            shape(&run("admin", Overrides::default())),
            ["GST+mfa", "ARadmin"]
        );
    }

    #[test]
    fn flow2_direct_mfa_on_no_session_or_long_duration() {
        let p = run(
            "admin",
            Overrides {
                no_session: true,
                ..Default::default()
            },
        );
        assert_eq!(shape(&p), ["ARadmin+mfa"]);
        let p = run(
            "admin",
            Overrides {
                duration: Some(7200),
                ..Default::default()
            },
        );
        assert_eq!(shape(&p), ["ARadmin+mfa"]);
        assert_eq!(p.steps[0].duration, Some(7200));
        let p = run(
            "admin",
            Overrides {
                duration: Some(3600),
                ..Default::default()
            },
        );
        assert_eq!(shape(&p), ["GST+mfa", "ARadmin"]);
    }

    #[test]
    fn role_without_mfa_is_one_assume_role() {
        assert_eq!(shape(&run("plainrole", Overrides::default())), ["ARplain"]);
    }

    #[test]
    fn chains_assume_hop_after_hop() {
        let p = run("deep", Overrides::default());
        assert_eq!(shape(&p), ["GST+mfa", "ARadmin", "ARdeep"]);
        let p = run(
            "deep",
            Overrides {
                no_session: true,
                ..Default::default()
            },
        );
        assert_eq!(shape(&p), ["ARadmin+mfa", "ARdeep"]);
    }

    #[test]
    fn temporary_source_keys_cannot_get_a_session() {
        let creds = CREDS.replace(
            "[user]\naws_access_key_id = AKIAUSER\n",
            "[user]\naws_access_key_id = AKIAUSER\naws_session_token = t\n",
        );
        let c = Config::parse(
            Some((FILES, Path::new("c"))),
            Some((&creds, Path::new("k"))),
        )
        .unwrap()
        .resolve("admin", &Settings::for_tests(&[]))
        .unwrap();
        let p = plan(&c, &Overrides::default(), "e", "n").unwrap();
        assert_eq!(shape(&p), ["ARadmin+mfa"]);
    }

    #[test]
    fn cache_keys_chain_and_change_with_inputs() {
        let p = run("deep", Overrides::default());
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
            &Overrides::default(),
            "https://sts.amazonaws.com/ us-east-1",
            "other-name",
        )
        .unwrap();
        assert_eq!(other.steps[2].cache_key, ar1.cache_key);
        // The endpoint and the duration are.
        let other = plan(
            &chain("deep"),
            &Overrides::default(),
            "http://127.0.0.1:1/ us-east-1",
            "n",
        )
        .unwrap();
        assert_ne!(other.steps[0].cache_key, gst.cache_key);
        let d = run(
            "deep",
            Overrides {
                duration: Some(1800),
                ..Default::default()
            },
        );
        assert_eq!(d.steps[0].cache_key, gst.cache_key, "session is shared");
        assert_ne!(d.steps[2].cache_key, ar1.cache_key);
    }

    #[test]
    fn a_wrong_secret_never_shares_the_right_ones_cache_key() {
        let with = |creds: &str| {
            let c = Config::parse(Some((FILES, Path::new("c"))), Some((creds, Path::new("k"))))
                .unwrap()
                .resolve("admin", &Settings::for_tests(&[]))
                .unwrap();
            plan(&c, &Overrides::default(), "e", "n").unwrap()
        };
        let right = with(CREDS);
        let wrong = with(&CREDS.replacen(
            "aws_secret_access_key = s\n",
            "aws_secret_access_key = t0psecretvalue\n",
            1,
        ));
        assert_ne!(right.steps[0].cache_key, wrong.steps[0].cache_key);
        assert_ne!(right.steps[1].cache_key, wrong.steps[1].cache_key);
        assert!(wrong.steps[0].cache_key.contains("src=AKIAUSER sk="));
        assert!(!wrong.steps[0].cache_key.contains("t0psecretvalue"));
        // The same keys give the same key: the cache still serves them.
        assert_eq!(right.steps[0].cache_key, with(CREDS).steps[0].cache_key);
    }

    #[test]
    fn one_mfa_session_serves_every_role_of_a_source() {
        let a = run("admin", Overrides::default());
        let u = run("user", Overrides::default());
        // The plain profile asks for the default duration too, so both share the session.
        assert_eq!(a.steps[0].cache_key, u.steps[0].cache_key);
    }

    #[test]
    fn durations_out_of_range_are_refused() {
        let e = plan(
            &chain("admin"),
            &Overrides {
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
            &Overrides {
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

//! What to do about a failed step when STS's answer alone cannot say it: the hints that need
//! the profile's chain and the command line (which profile to add `mfa_serial` to, which
//! duration to ask for and where it was set, whose session keys expired); and what a run says
//! about an MFA code: that `--mfa-token` is not needed, or why a new code is needed although
//! an MFA session is cached.
//!
//! STS's own words are judged in [`crate::sts`] (a wrong code, an unknown key, the clock);
//! here a step's error gets the hint that names the user's own settings. Nothing here reads a
//! file (but the cache entry of an MFA session) or the network.

use time::OffsetDateTime;

use crate::cache::Cache;
use crate::config::Chain;
use crate::creds::Credentials;
use crate::error::{Error, StsFailure, clean};
use crate::plan::{Action, CHAINED_ROLE_MAX, Overrides, Plan, Step};
use crate::resolve::{Resolved, Run};
use crate::units::show_duration;

/// Under `-v`: which of `AWS_SOURCE_IDENTITY`, `AWS_SESSION_TAGS`, `AWS_TRANSITIVE_TAGS` this
/// run does not send, and why: the target profile sets its own (which wins, see
/// [`crate::attributes`]; aws-vault lets the variable win, so users coming from it are told),
/// or no AssumeRole is made for it. Only `-v`: the variables are often exported for every run
/// of a shell.
pub(crate) fn say_unused_attribute_vars(run: Run, resolved: &Resolved) {
    if !run.log.is_verbose() {
        return;
    }
    let vars = run.settings.target_attributes.set();
    let chain = &resolved.chain;
    let profile = clean(&chain.target, 60);
    let Some(hop) = chain.hops.last().filter(|h| h.profile == chain.target) else {
        if !vars.is_empty() {
            run.log.verbose(format_args!(
                "{} not used: no AssumeRole is made for profile '{profile}', and STS takes them on AssumeRole only",
                vars.join(", ")
            ));
        }
        return;
    };
    let from = hop.attributes.from;
    for (var, key, profile_has) in [
        (
            "AWS_SOURCE_IDENTITY",
            "source_identity",
            from.0 == "source_identity",
        ),
        ("AWS_SESSION_TAGS", "session_tags", from.1 == "session_tags"),
    ] {
        if profile_has && vars.contains(&var) {
            run.log.verbose(format_args!(
                "{var} not used: profile '{profile}' sets {key}, which wins"
            ));
        }
    }
}

/// `--mfa-token` given for a run that needs no code at all: said without `-v`, since the user
/// may think the code did something (a role's MFA, say).
pub(crate) fn say_code_not_needed(run: Run, resolved: &Resolved) {
    if run.opts.mfa_token.is_none() || resolved.plan.steps.iter().any(|s| s.mfa.is_some()) {
        return;
    }
    let why = match (&resolved.chain.mfa, &resolved.plan.passthrough) {
        (None, _) => "no profile of its chain sets mfa_serial".to_string(),
        (Some(_), Some(why)) => why.clone(),
        (Some(_), None) => "no step of its plan carries MFA".to_string(),
    };
    run.log.warn(format_args!(
        "--mfa-token is not used: this run of '{}' needs no MFA code ({why})",
        clean(&resolved.chain.target, 64)
    ));
}

/// `--mfa-token` given, and the step that would carry it came from the cache (or from the
/// mfarole that held its lock): said under `-v`, as the code may be meant for a later step.
pub(crate) fn say_code_unused(run: Run, plan: &Plan) {
    if run.opts.mfa_token.is_none() {
        return;
    }
    if let Some((i, step)) = plan.steps.iter().enumerate().find(|(_, s)| s.mfa.is_some()) {
        run.log.verbose(format_args!(
            "--mfa-token is not used: step {} ({} with MFA) and the steps after it were cached",
            i + 1,
            step.action.describe()
        ));
    }
}

/// Before a step that needs a code, when the profile's usual MFA session is cached and fresh
/// but this run cannot use it (`-d`, `--no-session`): says why a new code is needed.
pub(crate) fn say_why_new_code(run: Run, resolved: &Resolved, cache: &Cache, step: &Step) {
    let asked = run.opts.duration;
    if asked.is_none() && !run.opts.no_session {
        return;
    }
    let Ok(usual) = crate::plan::plan(
        &resolved.chain,
        &Overrides::default(),
        &resolved.endpoint.key(),
        &resolved.session_name,
    ) else {
        return;
    };
    let session = usual
        .steps
        .iter()
        .find(|s| s.mfa.is_some() && matches!(s.action, Action::GetSessionToken { .. }));
    let Some(session) = session.filter(|s| s.cache_key != step.cache_key) else {
        return;
    };
    let now = OffsetDateTime::now_utc();
    let Some(expires) = cache
        .get_fresh(&session.cache_key, now, None)
        .and_then(|hit| hit.credentials.expiration)
    else {
        return;
    };
    let secs = (expires - now).whole_seconds();
    let left = u32::try_from(secs).unwrap_or(0);
    let why = match (&step.action, asked) {
        (_, _) if run.opts.no_session => "--no-session does not use it".to_string(),
        (Action::AssumeRole(_), Some(d)) => format!(
            "a role for longer than 1h (-d {}) cannot be assumed with it; ask for -d 1h or less to use it",
            show_duration(d)
        ),
        (_, Some(d)) if left < d => {
            format!("it ends sooner than the {} asked with -d", show_duration(d))
        }
        (_, Some(d)) => format!(
            "-d {} asks for a session of another length",
            show_duration(d)
        ),
        (_, None) => return,
    };
    run.log.note(format_args!(
        "a new MFA code is needed although an MFA session is cached (until {}, {}): {why}",
        crate::cache::show_time(expires),
        crate::units::show_left(secs)
    ));
}

/// What a failed step was, for its hint.
pub(crate) struct Failed<'a> {
    pub chain: &'a Chain,
    pub step: &'a Step,
    /// The credentials the step was signed with.
    pub signed_with: Option<&'a Credentials>,
    /// `--duration`, when given.
    pub asked: Option<u32>,
}

/// `err` with the hint that names the user's settings, when one applies.
pub(crate) fn explain(err: Error, failed: &Failed) -> Error {
    match err {
        Error::Sts(mut f) => {
            if let Some(hint) = hint(&f, failed) {
                f.hint = Some(hint);
            }
            Error::Sts(f)
        }
        other => other,
    }
}

fn hint(f: &StsFailure, failed: &Failed) -> Option<String> {
    match f.code.as_str() {
        "AccessDenied" if f.message.contains("sts:TagSession") => {
            trust_permission(failed, "sts:TagSession", "session tags")
        }
        "AccessDenied" if f.message.contains("sts:SetSourceIdentity") => {
            trust_permission(failed, "sts:SetSourceIdentity", "a source identity")
        }
        "PackedPolicyTooLarge" => Some(
            "AWS packs the session tags (and any session policy) into a size limit it does not publish: send fewer or shorter tags (session_tags, AWS_SESSION_TAGS)".into(),
        ),
        "AccessDenied" if !f.is_wrong_mfa_code() => mfa_required(f, failed),
        "ValidationError" if f.message.contains("DurationSeconds") => too_long(f, failed),
        "ExpiredToken" => expired_keys(failed),
        _ => None,
    }
}

/// A role whose trust policy lacks the action that session tags (`sts:TagSession`) or a
/// source identity (`sts:SetSourceIdentity`) need: sent on this call, or carried to it from an
/// earlier role of the chain (AWS needs the permission on every later role too).
fn trust_permission(failed: &Failed, action: &str, what: &str) -> Option<String> {
    let Action::AssumeRole(call) = &failed.step.action else {
        return None;
    };
    let tags = action == "sts:TagSession";
    let sets = |a: &crate::attributes::RoleAttributes| match tags {
        true => !a.tags.is_empty(),
        false => a.source_identity.is_some(),
    };
    let hops = &failed.chain.hops;
    let at = hops.iter().position(|h| h.profile == call.profile)?;
    // The setting to remove: the profile's key, or the variable it came from.
    let (why, setting) = if sets(&call.attributes) {
        let from = match tags {
            true => call.attributes.from.1,
            false => call.attributes.from.0,
        };
        (
            format!(
                "profile '{}' sends {what} ({from})",
                clean(&call.profile, 64)
            ),
            from,
        )
    } else {
        // What an earlier role passes on: its source identity, its transitive tags.
        let carries = |a: &crate::attributes::RoleAttributes| match tags {
            true => !a.transitive.is_empty(),
            false => a.source_identity.is_some(),
        };
        let hop = hops[..at].iter().rev().find(|h| carries(&h.attributes))?;
        let (what, from) = match tags {
            true => ("the transitive session tags", "transitive_session_tags"),
            false => ("the source identity", hop.attributes.from.0),
        };
        (
            format!(
                "{what} of profile '{}' carried over to it",
                clean(&hop.profile, 64)
            ),
            from,
        )
    };
    Some(format!(
        "{why}, and the trust policy of {} does not allow {action}: add \"{action}\" to the actions its trust policy allows these credentials, or remove {setting}",
        clean(&call.role_arn, 120)
    ))
}

/// A role whose trust policy needs MFA, assumed by a chain that sets no `mfa_serial`.
fn mfa_required(f: &StsFailure, failed: &Failed) -> Option<String> {
    let chain = failed.chain;
    if chain.mfa.is_some() || !matches!(failed.step.action, Action::AssumeRole(_)) {
        return None;
    }
    let whose = if chain.source_profile == chain.target {
        format!("profile '{}'", clean(&chain.target, 64))
    } else {
        format!(
            "profile '{}' (or its source '{}')",
            clean(&chain.target, 64),
            clean(&chain.source_profile, 64)
        )
    };
    let m = f.message.to_ascii_lowercase();
    Some(if m.contains("multifactorauth") {
        format!(
            "the role's trust policy requires MFA and no profile of the chain sets mfa_serial: add mfa_serial = <your MFA device's ARN> to {whose}"
        )
    } else {
        format!(
            "the role's trust policy does not let these credentials assume it; if it requires MFA, add mfa_serial = <your MFA device's ARN> to {whose}"
        )
    })
}

/// A duration over the role's maximum, or over the 1-hour limit of role chaining.
fn too_long(f: &StsFailure, failed: &Failed) -> Option<String> {
    let (step, chain) = (failed.step, failed.chain);
    let Action::AssumeRole(call) = &step.action else {
        return None;
    };
    let asked = step.duration?;
    let last = chain.hops.last().is_some_and(|h| h.profile == call.profile);
    let setting = match failed.asked {
        Some(_) if last => format!("-d {}", show_duration(asked)),
        _ => format!(
            "duration_seconds = {asked} of profile '{}'",
            clean(&call.profile, 64)
        ),
    };
    let fix = |limit: u32| match failed.asked {
        Some(_) if last => format!("-d {}", show_duration(limit)),
        _ => format!("duration_seconds = {limit}"),
    };
    if f.message.to_ascii_lowercase().contains("chaining") {
        return Some(format!(
            "a role assumed with temporary credentials lasts at most 1h, and {setting} asks more: ask for {} or less",
            fix(CHAINED_ROLE_MAX)
        ));
    }
    Some(format!(
        "{setting} is longer than the role's maximum session duration (1h unless raised in IAM, 12h at most): ask for {} or less, or raise the role's maximum",
        fix(CHAINED_ROLE_MAX)
    ))
}

/// `ExpiredToken` for a step signed with the session keys of the files or the environment.
fn expired_keys(failed: &Failed) -> Option<String> {
    let chain = failed.chain;
    let known = chain.source.known()?;
    let signed = failed.signed_with?;
    if known.session_token.is_none() || signed.access_key_id != known.access_key_id {
        return None;
    }
    let profile = clean(&chain.source_profile, 64);
    Some(match chain.source.kind() {
        "environment" => format!(
            "the keys in AWS_ACCESS_KEY_ID and AWS_SESSION_TOKEN (the source of '{profile}') are session keys that have expired: export new ones"
        ),
        _ => format!(
            "the keys of profile '{profile}' are session keys (they have aws_session_token) that have expired: put new ones, or long-term keys without aws_session_token, in the credentials file"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::plan::{Overrides, Plan};
    use crate::settings::Settings;
    use std::path::Path;

    const CONFIG: &str = "\
[profile plain]
role_arn = arn:aws:iam::1:role/plain
source_profile = smith
[profile long]
role_arn = arn:aws:iam::1:role/plain
source_profile = smith
duration_seconds = 7200
[profile temp]
role_arn = arn:aws:iam::1:role/plain
source_profile = stale
[profile mfa]
role_arn = arn:aws:iam::1:role/plain
source_profile = smith
mfa_serial = arn:aws:iam::1:mfa/smith
[profile tagged]
role_arn = arn:aws:iam::1:role/tagged
source_profile = smith
source_identity = smith
session_tags = team=infra
transitive_session_tags = team
[profile after]
role_arn = arn:aws:iam::1:role/after
source_profile = tagged
";
    const CREDENTIALS: &str = "\
[smith]
aws_access_key_id = AKIASMITH
aws_secret_access_key = s
[stale]
aws_access_key_id = ASIASTALE
aws_secret_access_key = s
aws_session_token = t
";

    fn sts(code: &str, message: &str) -> Error {
        Error::Sts(Box::new(StsFailure {
            action: "AssumeRole",
            profile: "p".into(),
            code: code.into(),
            message: message.into(),
            request_id: None,
            hint: None,
        }))
    }

    /// The hint `err` gets at the last step of `profile`'s plan, with `-d` as given.
    fn hint_of(profile: &str, asked: Option<u32>, err: Error) -> Option<String> {
        let config = Config::parse(
            Some((CONFIG, Path::new("config"))),
            Some((CREDENTIALS, Path::new("credentials"))),
        )
        .unwrap();
        let chain = config.resolve(profile, &Settings::for_tests(&[])).unwrap();
        let overrides = Overrides {
            duration: asked,
            no_session: false,
        };
        let plan: Plan = crate::plan::plan(&chain, &overrides, "ep", "name").unwrap();
        let step = plan.steps.last().unwrap();
        let failed = Failed {
            chain: &chain,
            step,
            signed_with: chain.source.known(),
            asked,
        };
        match explain(err, &failed) {
            Error::Sts(f) => f.hint,
            other => panic!("{other}"),
        }
    }

    #[test]
    fn a_trust_policy_without_tag_session_or_set_source_identity_is_named() {
        let denied = |action: &str| {
            sts(
                "AccessDenied",
                &format!(
                    "User: arn:aws:iam::1:user/smith is not authorized to perform: {action} on resource: arn:aws:iam::1:role/x"
                ),
            )
        };
        let hint = hint_of("tagged", None, denied("sts:TagSession")).unwrap();
        assert!(hint.starts_with("profile 'tagged' sends session tags (session_tags), and the trust policy of arn:aws:iam::1:role/tagged does not allow sts:TagSession"), "{hint}");
        assert!(hint.ends_with("or remove session_tags"), "{hint}");
        let hint = hint_of("after", None, denied("sts:SetSourceIdentity")).unwrap();
        assert!(hint.starts_with("the source identity of profile 'tagged' carried over to it, and the trust policy of arn:aws:iam::1:role/after"), "{hint}");
        let hint = hint_of("after", None, denied("sts:TagSession")).unwrap();
        assert!(
            hint.starts_with("the transitive session tags of profile 'tagged'"),
            "{hint}"
        );
        let big = hint_of("tagged", None, sts("PackedPolicyTooLarge", "too big")).unwrap();
        assert!(big.contains("fewer or shorter tags"), "{big}");
    }

    #[test]
    fn a_role_that_needs_mfa_names_where_mfa_serial_goes() {
        let denied = "User: arn:aws:iam::1:user/smith is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::1:role/plain (aws:MultiFactorAuthPresent)";
        let hint = hint_of("plain", None, sts("AccessDenied", denied)).unwrap();
        assert_eq!(
            hint,
            "the role's trust policy requires MFA and no profile of the chain sets mfa_serial: add mfa_serial = <your MFA device's ARN> to profile 'plain' (or its source 'smith')"
        );
        // With mfa_serial set, the code or the device is what is wrong: no such hint.
        assert_eq!(hint_of("mfa", None, sts("AccessDenied", denied)), None);
        // A wrong code is judged by STS's words, not here.
        let wrong = "MultiFactorAuthentication failed with invalid MFA one time pass code.";
        assert_eq!(hint_of("plain", None, sts("AccessDenied", wrong)), None);
    }

    #[test]
    fn a_duration_over_the_role_maximum_names_the_setting_to_change() {
        let max = "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.";
        let hint = hint_of("plain", Some(7200), sts("ValidationError", max)).unwrap();
        assert_eq!(
            hint,
            "-d 2h is longer than the role's maximum session duration (1h unless raised in IAM, 12h at most): ask for -d 1h or less, or raise the role's maximum"
        );
        let hint = hint_of("long", None, sts("ValidationError", max)).unwrap();
        assert!(
            hint.starts_with("duration_seconds = 7200 of profile 'long' is longer")
                && hint.contains("ask for duration_seconds = 3600 or less"),
            "{hint}"
        );
        let chained = "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.";
        let hint = hint_of("temp", Some(7200), sts("ValidationError", chained)).unwrap();
        assert_eq!(
            hint,
            "a role assumed with temporary credentials lasts at most 1h, and -d 2h asks more: ask for -d 1h or less"
        );
    }

    #[test]
    fn expired_session_keys_of_the_files_are_named() {
        let expired = "The security token included in the request is expired";
        let hint = hint_of("temp", None, sts("ExpiredToken", expired)).unwrap();
        assert_eq!(
            hint,
            "the keys of profile 'stale' are session keys (they have aws_session_token) that have expired: put new ones, or long-term keys without aws_session_token, in the credentials file"
        );
        // Long-term keys cannot expire: nothing to say about them here.
        assert_eq!(hint_of("plain", None, sts("ExpiredToken", expired)), None);
    }
}

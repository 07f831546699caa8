//! Who is behind a role session: the source identity and the session tags an AssumeRole
//! carries, read from a role profile (aws-vault's keys and formats: `source_identity`,
//! `session_tags = k1=v1,k2=v2`, `transitive_session_tags = k1,k2`) and, for the profile named
//! on the command line only, from `AWS_SOURCE_IDENTITY`, `AWS_SESSION_TAGS` and
//! `AWS_TRANSITIVE_TAGS` where the profile sets none. aws-vault reads the same variables but
//! lets them win over the profile; here the profile wins, as issue 25 decided: a profile is
//! what a team hands out for its trust policies, and a variable left exported in a shell must
//! not silently change what CloudTrail records for a profile that says it.
//!
//! Everything AWS would refuse is refused here, before any request or MFA code is spent, with
//! the limits of the STS API reference (AssumeRole: `SourceIdentity`, `Tags`,
//! `TransitiveTagKeys`) and of "Passing session tags in AWS STS" (IAM User Guide): at most 50
//! tags, keys 1–128 and values 0–256 characters of `[\p{L}\p{Z}\p{N}_.:/=+\-@]`, no `aws:`
//! prefix, no two keys that differ only in case, transitive keys among the tags. On a chain of
//! roles, a source identity once set cannot change, and a transitive tag cannot get a new
//! value ("Chaining roles with session tags"): both are checked along the chain.
//!
//! Tag values and the source identity are not secrets (they are written into every CloudTrail
//! event of the session), so `-v` and `list` show them.

use crate::error::{Error, Result};
use crate::profile::Profile;

/// The profile keys read here.
pub const KEYS: [&str; 3] = ["source_identity", "session_tags", "transitive_session_tags"];

/// At most this many session tags, and transitive keys, per AssumeRole.
const MAX_TAGS: usize = 50;

/// What one AssumeRole says about who is behind it. Empty for most profiles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleAttributes {
    /// `SourceIdentity`.
    pub source_identity: Option<String>,
    /// `Tags.member.N.Key` / `.Value`, in the order written.
    pub tags: Vec<(String, String)>,
    /// `TransitiveTagKeys.member.N`.
    pub transitive: Vec<String>,
    /// Where the source identity and the tags were read (`source_identity` or
    /// `AWS_SOURCE_IDENTITY`, `session_tags` or `AWS_SESSION_TAGS`), for the chain's errors to
    /// name the setting the user wrote; empty when unset.
    pub from: (&'static str, &'static str),
}

/// The environment's values for the target profile (`AWS_SOURCE_IDENTITY`,
/// `AWS_SESSION_TAGS`, `AWS_TRANSITIVE_TAGS`), as given.
#[derive(Debug, Clone, Default)]
pub struct TargetVars {
    pub source_identity: Option<String>,
    pub session_tags: Option<String>,
    pub transitive_tags: Option<String>,
}

impl TargetVars {
    /// The variables that are set, by name.
    pub fn set(&self) -> Vec<&'static str> {
        [
            ("AWS_SOURCE_IDENTITY", &self.source_identity),
            ("AWS_SESSION_TAGS", &self.session_tags),
            ("AWS_TRANSITIVE_TAGS", &self.transitive_tags),
        ]
        .into_iter()
        .filter(|(_, v)| v.is_some())
        .map(|(k, _)| k)
        .collect()
    }
}

impl RoleAttributes {
    pub fn is_empty(&self) -> bool {
        self.source_identity.is_none() && self.tags.is_empty() && self.transitive.is_empty()
    }

    /// The profile's attributes; for the target profile, `vars` fill in what it leaves unset.
    ///
    /// Errors: a value AWS would refuse, naming the profile and where the value came from.
    pub fn read(profile: &Profile, vars: Option<&TargetVars>) -> Result<RoleAttributes> {
        let pick = |key: &'static str, var: &'static str, env: Option<&Option<String>>| match (
            profile.get(key),
            env.and_then(Option::as_ref),
        ) {
            (Some(v), _) => Some((v.to_string(), key)),
            (None, Some(v)) => Some((v.clone(), var)),
            (None, None) => None,
        };
        let fail =
            |from: &str, why: String| Error::profile(&profile.name, format!("{from}: {why}"));
        for key in KEYS {
            if profile.get(key).is_none() && profile.nested(key).is_some() {
                return Err(fail(
                    key,
                    "its value is on indented lines below it, which the AWS CLI reads as a nested block, not as a value: write it on one line (k1=v1,k2=v2)".into(),
                ));
            }
        }
        let si = pick(
            "source_identity",
            "AWS_SOURCE_IDENTITY",
            vars.map(|v| &v.source_identity),
        );
        let tags = pick(
            "session_tags",
            "AWS_SESSION_TAGS",
            vars.map(|v| &v.session_tags),
        );
        let transitive = pick(
            "transitive_session_tags",
            "AWS_TRANSITIVE_TAGS",
            vars.map(|v| &v.transitive_tags),
        );
        let mut out = RoleAttributes::default();
        if let Some((v, from)) = si {
            check_source_identity(&v).map_err(|why| fail(from, why))?;
            out.source_identity = Some(v);
            out.from.0 = from;
        }
        if let Some((v, from)) = tags {
            out.tags = parse_tags(&v).map_err(|why| fail(from, why))?;
            out.from.1 = from;
        }
        if let Some((v, from)) = transitive {
            out.transitive = parse_keys(&v).map_err(|why| fail(from, why))?;
            for key in &out.transitive {
                if !out.tags.iter().any(|(k, _)| same_key(k, key)) {
                    return Err(fail(
                        from,
                        format!(
                            "{} is not one of the session tags; a transitive key must be a key of {}",
                            shown(key),
                            match out.from.1 {
                                "" =>
                                    "the session tags (session_tags or AWS_SESSION_TAGS), and none are set",
                                tags_from => tags_from,
                            }
                        ),
                    ));
                }
            }
        }
        Ok(out)
    }

    /// The AssumeRole form fields.
    pub fn params(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(si) = &self.source_identity {
            out.push(("SourceIdentity".to_string(), si.clone()));
        }
        for (i, (k, v)) in self.tags.iter().enumerate() {
            out.push((format!("Tags.member.{}.Key", i + 1), k.clone()));
            out.push((format!("Tags.member.{}.Value", i + 1), v.clone()));
        }
        for (i, k) in self.transitive.iter().enumerate() {
            out.push((format!("TransitiveTagKeys.member.{}", i + 1), k.clone()));
        }
        out
    }

    /// For `-v`, `list` and the cache key: `source identity jones, tags team=infra
    /// cost=42, transitive team`; empty when there are none.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(si) = &self.source_identity {
            parts.push(format!("source identity {si}"));
        }
        if !self.tags.is_empty() {
            let tags: Vec<String> = self.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
            parts.push(format!("tags {}", tags.join(",")));
        }
        if !self.transitive.is_empty() {
            parts.push(format!("transitive {}", self.transitive.join(",")));
        }
        parts.join(", ")
    }
}

/// Checks the attributes of a chain's roles, first to last, as AWS will: a source identity,
/// once set, carries to every later role and cannot change; a transitive tag carries too, and
/// a later role cannot give its key another value. `hops`: (profile, attributes).
pub fn check_chain<'a>(
    hops: impl IntoIterator<Item = (&'a str, &'a RoleAttributes)>,
) -> Result<()> {
    let mut identity: Option<(&str, &str)> = None;
    let mut carried: Vec<(&str, &str, &str)> = Vec::new(); // key, value, profile
    for (profile, attrs) in hops {
        if let Some(si) = &attrs.source_identity {
            match identity {
                Some((earlier, set)) if set != si => {
                    return Err(Error::profile(
                        profile,
                        format!(
                            "{} {} differs from {} set by '{}' earlier in the chain, and AWS never changes a source identity once set; remove it or make them equal",
                            attrs.from.0,
                            shown(si),
                            shown(set),
                            crate::error::clean(earlier, 64)
                        ),
                    ));
                }
                Some(_) => {}
                None => identity = Some((profile, si)),
            }
        }
        for (k, v) in &attrs.tags {
            if let Some((_, was, earlier)) = carried
                .iter()
                .find(|(ck, _, _)| same_key(ck, k))
                .filter(|(_, was, _)| *was != v)
            {
                return Err(Error::profile(
                    profile,
                    format!(
                        "{} {} = {} would change the transitive tag that '{}' set to {}, which AWS refuses; remove it here or drop it from that profile's transitive_session_tags",
                        attrs.from.1,
                        shown(k),
                        shown(v),
                        crate::error::clean(earlier, 64),
                        shown(was)
                    ),
                ));
            }
        }
        for key in &attrs.transitive {
            if let Some((k, v)) = attrs.tags.iter().find(|(k, _)| same_key(k, key)) {
                carried.push((k, v, profile));
            }
        }
    }
    Ok(())
}

/// `SourceIdentity`: 2–64 characters of `[\w+=,.@-]` (AssumeRole API reference; its rule
/// against an `aws:` prefix cannot apply, `:` is not among them).
fn check_source_identity(v: &str) -> std::result::Result<(), String> {
    if crate::units::valid_session_name(v) {
        return Ok(());
    }
    Err(format!(
        "{} is not a source identity: 2 to 64 characters of A-Z a-z 0-9 _+=,.@-",
        shown(v)
    ))
}

/// `k1=v1,k2=v2` (aws-vault's format; white space around keys and values is dropped).
fn parse_tags(text: &str) -> std::result::Result<Vec<(String, String)>, String> {
    let mut tags: Vec<(String, String)> = Vec::new();
    for item in text.split(',').map(str::trim) {
        if item.is_empty() {
            continue;
        }
        let Some((k, v)) = item.split_once('=') else {
            return Err(format!(
                "{} has no '=': write key=value,key=value",
                shown(item)
            ));
        };
        let (k, v) = (k.trim(), v.trim());
        check_tag_part(k, 1, 128, "key")?;
        check_tag_part(v, 0, 256, "value")?;
        if let Some((other, _)) = tags.iter().find(|(o, _)| same_key(o, k)) {
            return Err(format!(
                "the keys {} and {} are the same to AWS, which compares tag keys without case; keep one",
                shown(other),
                shown(k)
            ));
        }
        tags.push((k.to_string(), v.to_string()));
    }
    if tags.len() > MAX_TAGS {
        return Err(format!(
            "{} tags, and AWS allows at most {MAX_TAGS} session tags",
            tags.len()
        ));
    }
    Ok(tags)
}

/// Whether AWS takes two tag keys for one: it compares them without case ("Tag keys are not
/// case sensitive", IAM User Guide), for every script, not only ASCII.
fn same_key(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b) || a.to_lowercase() == b.to_lowercase()
}

/// `k1,k2`.
fn parse_keys(text: &str) -> std::result::Result<Vec<String>, String> {
    let mut keys: Vec<String> = Vec::new();
    for k in text.split(',').map(str::trim).filter(|k| !k.is_empty()) {
        check_tag_part(k, 1, 128, "key")?;
        if !keys.iter().any(|o| same_key(o, k)) {
            keys.push(k.to_string());
        }
    }
    if keys.len() > MAX_TAGS {
        return Err(format!(
            "{} keys, and AWS allows at most {MAX_TAGS}",
            keys.len()
        ));
    }
    Ok(keys)
}

/// A tag key or value: `min`–`max` characters of letters, digits, spaces and `_.:/=+-@`; a
/// key never starts with `aws:`.
fn check_tag_part(v: &str, min: usize, max: usize, what: &str) -> std::result::Result<(), String> {
    let n = v.chars().count();
    if n < min || n > max {
        return Err(format!(
            "the tag {what} {} has {n} characters; AWS allows {min} to {max}",
            shown(v)
        ));
    }
    // \p{L} and \p{N}, approximated by Rust's alphabetic and numeric (a few more characters,
    // which AWS then refuses itself); \p{Z} is exactly the white space that is not a control
    // character (the no-break and ideographic spaces among them).
    let allowed = |c: char| {
        c.is_alphanumeric() || (c.is_whitespace() && !c.is_control()) || "_.:/=+-@".contains(c)
    };
    if let Some(bad) = v.chars().find(|c| !allowed(*c)) {
        return Err(format!(
            "the tag {what} {} holds {}, which AWS does not allow (letters, digits, spaces and _.:/=+-@ only)",
            shown(v),
            crate::error::clean(&format!("{bad:?}"), 12)
        ));
    }
    if what == "key" && v.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:")) {
        return Err(format!(
            "the tag key {} starts with aws:, which AWS keeps for itself",
            shown(v)
        ));
    }
    Ok(())
}

fn shown(v: &str) -> String {
    format!("'{}'", crate::error::clean(v, 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(lines: &str) -> Profile {
        let text = format!("[profile p]\n{lines}");
        let config =
            crate::config::Config::parse(Some((&text, std::path::Path::new("config"))), None)
                .unwrap();
        config.get("p").unwrap().clone()
    }

    #[test]
    fn the_profile_wins_over_the_environment_which_fills_in() {
        let vars = TargetVars {
            source_identity: Some("from-env".into()),
            session_tags: Some("team=env".into()),
            transitive_tags: Some("team".into()),
        };
        let p = profile("source_identity = jones\n");
        let a = RoleAttributes::read(&p, Some(&vars)).unwrap();
        assert_eq!(a.source_identity.as_deref(), Some("jones"));
        assert_eq!(a.tags, [("team".to_string(), "env".to_string())]);
        assert_eq!(a.transitive, ["team"]);
        let not_target = RoleAttributes::read(&p, None).unwrap();
        assert!(not_target.tags.is_empty());
        let params = a.params();
        assert_eq!(params[0], ("SourceIdentity".into(), "jones".into()));
        assert_eq!(params[1], ("Tags.member.1.Key".into(), "team".into()));
        assert_eq!(
            params[3],
            ("TransitiveTagKeys.member.1".into(), "team".into())
        );
    }

    #[test]
    fn what_aws_refuses_is_refused_with_the_setting_named() {
        let fifty_one: Vec<String> = (0..51).map(|i| format!("k{i}=v")).collect();
        let long_key = format!("{}=v", "k".repeat(129));
        for (lines, want) in [
            (
                "source_identity = j\n",
                "source_identity: 'j' is not a source identity",
            ),
            (
                "source_identity = aws:me\n",
                "'aws:me' is not a source identity",
            ),
            ("session_tags = team\n", "has no '='"),
            ("session_tags = aws:x=1\n", "starts with aws:"),
            ("session_tags = Team=a,team=b\n", "the same to AWS"),
            ("session_tags = t=a;b\n", "does not allow"),
            (
                &format!("session_tags = {}\n", fifty_one.join(",")),
                "51 tags",
            ),
            (
                &format!("session_tags = {long_key}\n"),
                "has 129 characters",
            ),
            (
                "session_tags = a=1\ntransitive_session_tags = b\n",
                "is not one of the session tags",
            ),
        ] {
            let e = RoleAttributes::read(&profile(lines), None)
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{lines}: {e}");
            assert!(e.contains("'p'"), "{e}");
        }
        let from_env = |vars: TargetVars| {
            RoleAttributes::read(&profile(""), Some(&vars))
                .unwrap_err()
                .to_string()
        };
        let e = from_env(TargetVars {
            session_tags: Some("x".into()),
            ..Default::default()
        });
        assert!(e.contains("AWS_SESSION_TAGS: 'x' has no '='"), "{e}");
        let e = from_env(TargetVars {
            transitive_tags: Some("team".into()),
            ..Default::default()
        });
        assert!(e.contains("AWS_TRANSITIVE_TAGS: 'team' is not one of the session tags; a transitive key must be a key of the session tags (session_tags or AWS_SESSION_TAGS), and none are set"), "{e}");
        let ok = RoleAttributes::read(&profile("session_tags = cost center = 42 , empty=\n"), None);
        assert_eq!(
            ok.unwrap().tags,
            [
                ("cost center".into(), "42".into()),
                ("empty".into(), String::new())
            ]
        );
    }

    #[test]
    fn aws_s_spaces_and_any_script_s_case_are_as_aws_has_them() {
        // \p{Z}: the no-break and the ideographic space are allowed.
        let tags = parse_tags("k=a\u{a0}b,場所=東京\u{3000}本社").unwrap();
        assert_eq!(tags[1].1, "東京\u{3000}本社");
        assert!(parse_tags("k=a\tb").unwrap_err().contains("does not allow"));
        let e = parse_tags("Äpfel=1,äpfel=2").unwrap_err();
        assert!(e.contains("the same to AWS"), "{e}");
    }

    #[test]
    fn a_value_on_indented_lines_is_refused_not_dropped() {
        let p = profile("session_tags =\n  team=infra,\n  env=prod\n");
        let e = RoleAttributes::read(&p, None).unwrap_err().to_string();
        assert!(
            e.contains("session_tags: its value is on indented lines"),
            "{e}"
        );
    }

    #[test]
    fn a_chain_keeps_its_source_identity_and_transitive_tags() {
        let first = RoleAttributes {
            source_identity: Some("jones".into()),
            tags: vec![("team".into(), "infra".into()), ("cc".into(), "1".into())],
            transitive: vec!["team".into()],
            from: ("source_identity", "session_tags"),
        };
        let same = RoleAttributes {
            source_identity: Some("jones".into()),
            tags: vec![("TEAM".into(), "infra".into()), ("cc".into(), "2".into())],
            ..Default::default()
        };
        check_chain([("a", &first), ("b", &same)]).unwrap();
        let other = RoleAttributes {
            source_identity: Some("smith".into()),
            ..Default::default()
        };
        let e = check_chain([("a", &first), ("b", &other)])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("'b'") && e.contains("'smith'") && e.contains("'a'"),
            "{e}"
        );
        let retag = RoleAttributes {
            tags: vec![("Team".into(), "web".into())],
            ..Default::default()
        };
        let e = check_chain([("a", &first), ("b", &retag)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("transitive tag that 'a' set to 'infra'"), "{e}");
        // Not transitive: a later role may tag it anew.
        let cc = RoleAttributes {
            tags: vec![("cc".into(), "9".into())],
            ..Default::default()
        };
        check_chain([("a", &first), ("b", &cc)]).unwrap();
    }

    #[test]
    fn a_chain_error_names_the_variable_a_value_came_from() {
        // The profile of the later role sets neither: the values are the environment's, and
        // the error must not send the user looking for a source_identity in that profile.
        let first = RoleAttributes::read(
            &profile("source_identity = jones\nsession_tags = team=infra\ntransitive_session_tags = team\n"),
            None,
        )
        .unwrap();
        let vars = TargetVars {
            source_identity: Some("smith".into()),
            session_tags: Some("team=web".into()),
            ..Default::default()
        };
        let target = RoleAttributes::read(&profile(""), Some(&vars)).unwrap();
        let e = check_chain([("a", &first), ("p", &target)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("AWS_SOURCE_IDENTITY 'smith' differs"), "{e}");
        let vars = TargetVars {
            session_tags: Some("team=web".into()),
            ..Default::default()
        };
        let target = RoleAttributes::read(&profile(""), Some(&vars)).unwrap();
        let e = check_chain([("a", &first), ("p", &target)])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("AWS_SESSION_TAGS 'team' = 'web' would change"),
            "{e}"
        );
        let own = RoleAttributes::read(&profile("source_identity = smith\n"), None).unwrap();
        let e = check_chain([("a", &first), ("p", &own)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("source_identity 'smith' differs"), "{e}");
    }
}

//! `mfarole list`: every profile, what it needs, and whether its final credentials are cached
//! and fresh; with `--json`, what mfarole read of each profile, for scripts and for the
//! differential test against botocore (`tests/e2e/config.rs`). It resolves each profile and its plan exactly as `exec` would (so the cache key
//! is the one `exec` uses), but asks nothing and sends nothing, and never prints a secret.

use time::OffsetDateTime;

use crate::cache::{self, Cache};
use crate::cli::Options;
use crate::config::Config;
use crate::pipeline::{Resolved, resolve};
use crate::settings::Settings;

/// `mfarole list`: one line a profile, no secret, no network.
pub fn render(config: &Config, settings: &Settings, cache: &Cache) -> String {
    if config.names().is_empty() {
        // A header alone would not say why: name the files and what was found.
        cache.log().note(format_args!(
            "no profiles to list: {}; write one (see CONFIGURATION in 'man mfarole')",
            config.files_note()
        ));
        return String::new();
    }
    let now = OffsetDateTime::now_utc();
    let mut rows: Vec<[String; 3]> = Vec::new();
    for name in config.names() {
        if config.get(&name).is_some_and(|p| p.is_settings_only()) {
            // `[default]` with only a region is a normal config, not a broken profile.
            rows.push([
                crate::error::clean(&name, 200),
                "settings only".into(),
                "-".into(),
            ]);
            continue;
        }
        let (needs, cached) = match resolve(config, &name, &Options::default(), settings, now) {
            Err(e) => (
                format!("error: {}", crate::error::clean(&e.to_string(), 120)),
                String::new(),
            ),
            Ok(Resolved { chain, plan, .. }) => {
                let mfa = if chain.mfa.is_some() { " + MFA" } else { "" };
                let kind = chain.source.kind();
                let needs = match chain.hops.last() {
                    None => format!("{kind}{mfa}"),
                    Some(hop) => {
                        let via = chain.source.via(&chain.source_profile);
                        let hops = if chain.hops.len() > 1 {
                            format!(" ({} hops)", chain.hops.len())
                        } else {
                            String::new()
                        };
                        format!("role {}{hops} via {via}{mfa}", hop.role_arn)
                    }
                };
                let mut cached = match plan.steps.last() {
                    None => "-".to_string(),
                    Some(step) => match cache
                        .get(&step.cache_key)
                        .and_then(|i| i.credentials.expiration)
                    {
                        Some(exp) if exp - cache.margin() > now => {
                            format!("fresh until {}", cache::show_time(exp))
                        }
                        Some(exp) => format!("expired {}", cache::show_time(exp)),
                        None => "-".to_string(),
                    },
                };
                if let Some(status) = chain.source.status(now) {
                    cached = format!("{cached}; {status}");
                }
                (needs, cached)
            }
        };
        let clean = |t: &str| crate::error::clean(t, 200);
        rows.push([clean(&name), clean(&needs), cached]);
    }
    let w0 = rows.iter().map(|r| r[0].len()).max().unwrap_or(0).max(7);
    // Error rows have no CACHED value: they do not widen the column.
    let w1 = rows
        .iter()
        .filter(|r| !r[2].is_empty())
        .map(|r| r[1].chars().count())
        .max()
        .unwrap_or(0)
        .max(5);
    let mut out = format!("{:w0$}  {:w1$}  CACHED\n", "PROFILE", "NEEDS");
    for [a, b, c] in rows {
        out.push_str(format!("{a:w0$}  {b:w1$}  {c}").trim_end());
        out.push('\n');
    }
    out
}

/// `mfarole list --json`: per profile, its settings as read (secrets as `<secret>`, key ids
/// masked), the source and roles it resolves to, the region, the notes about ignored
/// settings, or the error. No network, no cache, no secret.
pub fn render_json(config: &Config, settings: &Settings) -> String {
    #[derive(serde::Serialize)]
    struct View {
        name: String,
        settings: std::collections::BTreeMap<String, String>,
        source: Option<&'static str>,
        source_profile: Option<String>,
        roles: Vec<String>,
        region: Option<String>,
        notes: Vec<String>,
        error: Option<String>,
    }
    let now = OffsetDateTime::now_utc();
    let views: Vec<View> = config
        .names()
        .into_iter()
        .map(|name| {
            let profile = config.get(&name).expect("a listed name");
            // Nested blocks (`s3 =` and indented lines) are maps in botocore, not settings.
            let shown = profile
                .settings()
                .into_iter()
                .filter(|(_, v)| !v.starts_with('\n'))
                .map(|(k, v)| (k.to_string(), shown_value(k, v)))
                .collect();
            let mut view = View {
                name: name.clone(),
                settings: shown,
                source: None,
                source_profile: None,
                roles: Vec::new(),
                region: None,
                notes: Vec::new(),
                error: None,
            };
            if profile.is_settings_only() {
                return view;
            }
            match resolve(config, &name, &Options::default(), settings, now) {
                Err(e) => view.error = Some(e.to_string()),
                Ok(Resolved { chain, region, .. }) => {
                    view.source = Some(chain.source.kind());
                    view.source_profile = Some(chain.source_profile.clone());
                    view.roles = chain.hops.iter().map(|h| h.role_arn.clone()).collect();
                    view.region = region;
                    view.notes = chain.notes;
                }
            }
            view
        })
        .collect();
    let mut out = serde_json::to_string_pretty(&views).expect("strings serialize");
    out.push('\n');
    out
}

/// A setting's value as `--json` shows it: secrets hidden, key ids masked, the rest as read.
fn shown_value(key: &str, value: &str) -> String {
    match key {
        "aws_secret_access_key" | "aws_session_token" | "aws_security_token" => "<secret>".into(),
        "aws_access_key_id" => crate::creds::mask(value),
        _ => value.to_string(),
    }
}

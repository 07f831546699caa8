//! `mfarole list`: every profile, what it needs, and whether its final credentials are cached
//! and fresh; with `--json`, what mfarole read of each profile, for scripts and for the
//! differential test against botocore (`tests/e2e/config.rs`). It resolves each profile and its plan exactly as `exec` would (so the cache key
//! is the one `exec` uses), but asks nothing and sends nothing, and never prints a secret.

use time::OffsetDateTime;

use crate::cache::Cache;
use crate::cli::Options;
use crate::config::{Chain, Config};
use crate::localtime::LocalZone;
use crate::resolve::{Resolved, resolve};
use crate::settings::Settings;
use crate::units::show_duration;

/// What `list` needs besides the config: the settings, the cache, the clock and the zone.
struct Lister<'a> {
    config: &'a Config,
    settings: &'a Settings,
    cache: &'a Cache<'a>,
    now: OffsetDateTime,
    zone: LocalZone,
    /// The `-d` durations of the cache's entries: sessions made with them are shown too.
    durations: std::collections::BTreeSet<u32>,
}

impl<'a> Lister<'a> {
    fn new(config: &'a Config, settings: &'a Settings, cache: &'a Cache<'a>) -> Lister<'a> {
        flag_open_files(config, cache.log());
        Lister {
            config,
            settings,
            cache,
            now: OffsetDateTime::now_utc(),
            zone: LocalZone::load(settings.tz.as_deref()),
            durations: cache.durations(),
        }
    }

    /// The profile resolved as `exec` would resolve it, with `-d` when given.
    fn resolve(&self, name: &str, duration: Option<u32>) -> crate::error::Result<Resolved> {
        let opts = Options {
            duration,
            ..Options::default()
        };
        resolve(self.config, name, &opts, self.settings, self.now)
    }

    /// A cached entry's state: `fresh until 2026-11-30 22:05 CET (47m left)`, `due for
    /// refresh (until ..., 3m left)` inside the refresh margin (the next run renews it), or
    /// `expired ...`; `None` when nothing is cached.
    fn state(&self, key: &str) -> Option<String> {
        let expires = self.cache.get(key)?.credentials.expiration?;
        let shown = self.zone.show(expires);
        let left = crate::units::show_left((expires - self.now).whole_seconds());
        Some(if expires <= self.now {
            format!("expired {shown}")
        } else if expires - self.cache.margin() <= self.now {
            format!("due for refresh (until {shown}, {left})")
        } else {
            format!("fresh until {shown} ({left})")
        })
    }

    /// The sessions cached for `name` with a `-d` other than its own, still valid:
    /// `-d 2h: fresh until ...`.
    fn other_durations(&self, name: &str, own: &Resolved) -> Vec<(u32, Resolved, String)> {
        let own_key = own.plan.steps.last().map(|s| s.cache_key.as_str());
        let mut out = Vec::new();
        for &d in &self.durations {
            let Ok(other) = self.resolve(name, Some(d)) else {
                continue;
            };
            let Some(last) = other.plan.steps.last() else {
                continue;
            };
            if Some(last.cache_key.as_str()) == own_key {
                continue;
            }
            if let Some(state) = self
                .state(&last.cache_key)
                .filter(|s| !s.starts_with("expired"))
            {
                out.push((d, other, state));
            }
        }
        out
    }

    /// The CACHED column of one profile.
    fn cached(&self, name: &str, resolved: &Resolved) -> String {
        let mut cached = resolved
            .plan
            .steps
            .last()
            .and_then(|step| self.state(&step.cache_key))
            .unwrap_or_else(|| "-".into());
        for (d, _, state) in self.other_durations(name, resolved) {
            cached.push_str(&format!("; -d {}: {state}", show_duration(d)));
        }
        if let Some(status) = resolved.chain.source.status(self.now) {
            cached = format!("{cached}; {status}");
        }
        cached
    }
}

/// What a profile needs: `keys + MFA`, `role ARN via jones (keys) + MFA`.
fn needs(chain: &Chain) -> String {
    let mfa = if chain.mfa.is_some() { " + MFA" } else { "" };
    let kind = chain.source.kind();
    match chain.hops.last() {
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
    }
}

/// A file that holds a secret key (the credentials file, or the config file when keys were
/// written there) and that others can read or write is flagged, as OpenSSH flags a private
/// key file (it refuses one). Only regular files: `/dev/null` as an empty credentials file
/// holds nothing.
fn flag_open_files(config: &Config, log: &crate::log::Log) {
    const REGULAR: u32 = 0o100000;
    let kinds = [
        crate::profile::File::Config,
        crate::profile::File::Credentials,
    ];
    for (file, _) in config
        .files()
        .iter()
        .zip(kinds)
        .filter(|(_, kind)| config.holds_secret(*kind))
    {
        if let Some(mode) = file
            .mode
            .filter(|m| m & 0o170000 == REGULAR && m & 0o077 != 0)
        {
            log.warn(format_args!(
                "{} is open to others (mode {:o}) and holds your keys: run chmod 600 on it",
                file.path.display(),
                mode & 0o777
            ));
        }
    }
}

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
    let lister = Lister::new(config, settings, cache);
    let clean = |t: &str| crate::error::clean(t, 200);
    let mut rows: Vec<[String; 3]> = Vec::new();
    for name in config.names() {
        if config.get(&name).is_some_and(|p| p.is_settings_only()) {
            // `[default]` with only a region is a normal config, not a broken profile.
            rows.push([clean(&name), "settings only".into(), "-".into()]);
            continue;
        }
        let (needs, cached) = match lister.resolve(&name, None) {
            Err(e) => (format!("error: {}", clean_error(&e)), String::new()),
            Ok(resolved) => (needs(&resolved.chain), lister.cached(&name, &resolved)),
        };
        rows.push([clean(&name), clean(&needs), cached]);
    }
    table(rows)
}

fn clean_error(e: &crate::error::Error) -> String {
    crate::error::clean(&e.to_string(), 120)
}

fn table(rows: Vec<[String; 3]>) -> String {
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

/// `mfarole list PROFILE`: the profile's chain, and each step of its plan with what the cache
/// holds for it; then the sessions cached with another `-d`. An error when the profile cannot
/// be resolved (as `exec` would fail).
pub fn render_one(
    config: &Config,
    settings: &Settings,
    cache: &Cache,
    name: &str,
) -> crate::error::Result<String> {
    let lister = Lister::new(config, settings, cache);
    let resolved = lister.resolve(name, None)?;
    let chain = &resolved.chain;
    let clean = |t: &str| crate::error::clean(t, 200);
    let mut out = format!("{}: {}\n", clean(name), clean(&needs(chain)));
    out.push_str(&format!(
        "  region {}, STS endpoint {}\n",
        resolved.region.as_deref().map_or("none".into(), clean),
        resolved.endpoint.url
    ));
    if let Some(status) = chain.source.status(lister.now) {
        out.push_str(&format!("  {status}\n"));
    }
    out.push_str(&steps(&lister, &resolved));
    for (d, other, _) in lister.other_durations(name, &resolved) {
        out.push_str(&format!("  with -d {}:\n", show_duration(d)));
        out.push_str(&steps(&lister, &other));
    }
    Ok(out)
}

/// One line a step: what it asks, for which profile, and what the cache holds for it.
fn steps(lister: &Lister, resolved: &Resolved) -> String {
    let mut out = String::new();
    if let Some(why) = &resolved.plan.passthrough {
        out.push_str(&format!("  no STS call: {why}\n"));
    }
    for (i, step) in resolved.plan.steps.iter().enumerate() {
        let state = lister
            .state(&step.cache_key)
            .unwrap_or_else(|| "not cached".into());
        out.push_str(&format!(
            "  {}. {}{}{} for '{}': {state}\n",
            i + 1,
            crate::error::clean(&step.action.describe(), 200),
            if step.mfa.is_some() { " with MFA" } else { "" },
            step.duration
                .map(|d| format!(" ({})", show_duration(d)))
                .unwrap_or_default(),
            crate::error::clean(step.action.profile(), 64),
        ));
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

//! `mfarole clear [PROFILE]`: removes cached sessions and says what went. For a profile: the
//! steps of its plan (and of the plans with the other `-d` durations the cache holds, which
//! `list` shows), with, for a step other profiles use too (an MFA session shared by every role
//! of a source), the names of those profiles; and the lock files of those steps. Without a
//! profile: everything, lock files included, but the locks that a running mfarole holds.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use crate::cache::{Cache, Cleared};
use crate::cli::Options;
use crate::config::Config;
use crate::error::{Result, clean};
use crate::log::Log;
use crate::plan::Step;
use crate::resolve::resolve;
use crate::settings::Settings;

pub fn run(settings: &Settings, profile: Option<&str>, log: &Log) -> Result<()> {
    let cache = Cache::open(&settings.cache, log);
    let Some(profile) = profile else {
        let cleared = cache.clear(None)?;
        log.note(format_args!("{}", summary(&cleared, "")));
        return Ok(());
    };
    let config = Config::load(&settings.files)?;
    let now = OffsetDateTime::now_utc();
    let plan_with = |name: &str, duration: Option<u32>| {
        let opts = Options {
            duration,
            ..Options::default()
        };
        resolve(&config, name, &opts, settings, now).map(|r| r.plan.steps)
    };
    // Its own plan must resolve (an error says why); the `-d` variants where they do.
    let mut steps: Vec<Step> = plan_with(profile, None)?;
    for d in cache.durations() {
        for step in plan_with(profile, Some(d)).unwrap_or_default() {
            if !steps.iter().any(|s| s.cache_key == step.cache_key) {
                steps.push(step);
            }
        }
    }
    let keys: Vec<String> = steps.iter().map(|s| s.cache_key.clone()).collect();
    let cleared = cache.clear(Some(&keys))?;
    // Who else uses each removed step: the other profiles' plans, as `exec` makes them.
    let mut users: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for name in config.names().iter().filter(|n| n.as_str() != profile) {
        for step in plan_with(name, None).unwrap_or_default() {
            if let Some(key) = cleared.keys.iter().find(|k| **k == step.cache_key) {
                users.entry(key.as_str()).or_default().push(clean(name, 64));
            }
        }
    }
    let what: Vec<String> = steps
        .iter()
        .filter(|s| cleared.keys.contains(&s.cache_key))
        .map(|s| describe(s, users.get(s.cache_key.as_str())))
        .collect();
    let of = format!(" of '{}'", clean(profile, 64));
    let mut line = summary(&cleared, &of);
    if !what.is_empty() {
        line = format!("{line}: {}", what.join("; "));
    }
    log.note(format_args!("{line}"));
    Ok(())
}

/// `removed 2 cached sessions of 'admin' and 2 lock files (1 lock file left: a running
/// mfarole holds it)`; `of` is ` of 'admin'` or empty.
fn summary(cleared: &Cleared, of: &str) -> String {
    let mut line = match cleared.entries {
        0 => format!("no cached sessions{of} to remove"),
        1 => format!("removed 1 cached session{of}"),
        n => format!("removed {n} cached sessions{of}"),
    };
    if cleared.locks > 0 {
        line.push_str(&format!(
            " and {} lock file{}",
            cleared.locks,
            if cleared.locks == 1 { "" } else { "s" }
        ));
    }
    if cleared.held > 0 {
        line.push_str(&format!(
            " ({} lock file{} left: a running mfarole holds {})",
            cleared.held,
            if cleared.held == 1 { "" } else { "s" },
            if cleared.held == 1 { "it" } else { "them" }
        ));
    }
    line
}

/// `GetSessionToken with MFA for 'jones', shared with 'chain1', 'session-only'`.
fn describe(step: &Step, users: Option<&Vec<String>>) -> String {
    let mut text = format!(
        "{}{}{} for '{}'",
        clean(&step.action.describe(), 200),
        if step.mfa.is_some() { " with MFA" } else { "" },
        step.duration
            .map(|d| format!(" ({})", crate::units::show_duration(d)))
            .unwrap_or_default(),
        clean(step.action.profile(), 64)
    );
    if let Some(users) = users {
        let names: Vec<String> = users.iter().map(|n| format!("'{n}'")).collect();
        text.push_str(&format!(", shared with {}", names.join(", ")));
    }
    text
}

//! `mfarole list`: every profile, what it needs, and whether its final credentials are cached
//! and fresh. It resolves each profile and its plan exactly as `exec` would (so the cache key
//! is the one `exec` uses), but asks nothing and sends nothing, and never prints a secret.

use time::OffsetDateTime;

use crate::cache::{self, Cache};
use crate::cli::Options;
use crate::config::Config;
use crate::pipeline::{Resolved, resolve};
use crate::settings::Settings;

/// `mfarole list`: one line a profile, no secret, no network.
pub fn render(config: &Config, settings: &Settings, cache: &Cache) -> String {
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

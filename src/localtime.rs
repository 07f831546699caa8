//! The local time zone, for `list` (and the notes that say until when a session lasts): the
//! zone `TZ` names, else `/etc/localtime`, else UTC; read as glibc reads them.
//!
//! Why not libc's `localtime_r` (or the `time` crate's `local-offset`, which calls it): it
//! reads `TZ` from the process environment by itself, behind the settings stage that reads
//! every variable once; and with threads running it races with `setenv`, which is why `time`
//! refuses to call it in a multithreaded process and answers "indeterminate offset" instead.
//! Here the TZif file or the POSIX rule is read and applied by [jiff](https://docs.rs/jiff),
//! which needs neither libc nor the environment, so the same code works in a static build in a
//! `FROM scratch` image (where there is no zone file: UTC).

use std::path::Path;

use jiff::tz::TimeZone;
use time::OffsetDateTime;

/// Where `TZ=Europe/Paris` is looked for, as glibc's default `TZDIR`.
const ZONEINFO: &str = "/usr/share/zoneinfo";
/// A TZif file is a few KiB; a zone with every transition since 1900 is under 4 KiB.
const MAX_TZIF: u64 = 256 * 1024;

/// A time zone, ready to show times in.
pub struct LocalZone {
    tz: TimeZone,
}

impl LocalZone {
    /// The zone of `tz` (the `TZ` variable, read by the settings stage), else
    /// `/etc/localtime`, else UTC. `TZ` is read as glibc reads it: `:NAME` or `NAME` is a file
    /// (absolute, or under `/usr/share/zoneinfo`), else a POSIX rule such as
    /// `CET-1CEST,M3.5.0,M10.5.0/3`.
    pub fn load(tz: Option<&str>) -> LocalZone {
        LocalZone {
            tz: zone(tz).unwrap_or(TimeZone::UTC),
        }
    }

    /// `2026-11-30 22:05 CET`: to the minute, with the zone's abbreviation (or its offset,
    /// `UTC+05:30`, where the zone has none).
    pub fn show(&self, t: OffsetDateTime) -> String {
        let Ok(ts) = jiff::Timestamp::from_second(t.unix_timestamp()) else {
            return crate::cache::show_time(t);
        };
        let info = self.tz.to_offset_info(ts);
        let seconds = info.offset().seconds();
        let Ok(offset) = time::UtcOffset::from_whole_seconds(seconds) else {
            return crate::cache::show_time(t);
        };
        let local = t.to_offset(offset);
        let name = match info.abbreviation() {
            "" => format!(
                "UTC{}{:02}:{:02}",
                if seconds < 0 { '-' } else { '+' },
                seconds.unsigned_abs() / 3600,
                seconds.unsigned_abs() % 3600 / 60
            ),
            abbreviation => crate::error::clean(abbreviation, 10),
        };
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02} {name}",
            local.year(),
            u8::from(local.month()),
            local.day(),
            local.hour(),
            local.minute(),
        )
    }
}

fn zone(tz: Option<&str>) -> Option<TimeZone> {
    let Some(value) = tz else {
        return tzif(Path::new("/etc/localtime"));
    };
    let name = value.strip_prefix(':').unwrap_or(value);
    if name.starts_with('/') {
        return tzif(Path::new(name));
    }
    // A name, never a way out of the zone directory.
    let plain = !name.is_empty() && name.split('/').all(|p| !p.is_empty() && p != "..");
    if plain && let Some(zone) = tzif(&Path::new(ZONEINFO).join(name)) {
        return Some(zone);
    }
    TimeZone::posix(value).ok()
}

/// A TZif file, read without blocking (a FIFO named by `TZ` must not hang `list`).
fn tzif(path: &Path) -> Option<TimeZone> {
    let bytes = crate::token_file::read(path, MAX_TZIF, crate::token_file::Owner::Anyone).ok()?;
    TimeZone::tzif(&path.to_string_lossy(), &bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> OffsetDateTime {
        OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap()
    }

    #[test]
    fn posix_rules_and_zone_files() {
        let paris = "CET-1CEST,M3.5.0,M10.5.0/3";
        let z = LocalZone::load(Some(paris));
        assert_eq!(z.show(at("2026-11-30T21:05:09Z")), "2026-11-30 22:05 CET");
        assert_eq!(z.show(at("2026-07-01T21:05:09Z")), "2026-07-01 23:05 CEST");
        let z = LocalZone::load(Some("<+0530>-5:30"));
        assert_eq!(z.show(at("2026-11-30T21:05:09Z")), "2026-12-01 02:35 +0530");
        // Nothing usable: UTC, never a failure.
        for bad in [
            "",
            "Nowhere/Nothing",
            "../../etc/passwd",
            "/dev/zero",
            ":/nonexistent",
        ] {
            let z = LocalZone::load(Some(bad));
            assert_eq!(
                z.show(at("2026-11-30T21:05:09Z")),
                "2026-11-30 21:05 UTC",
                "{bad}"
            );
        }
        if Path::new("/usr/share/zoneinfo/America/New_York").exists() {
            for name in ["America/New_York", ":America/New_York"] {
                let z = LocalZone::load(Some(name));
                assert_eq!(z.show(at("2026-11-30T21:05:09Z")), "2026-11-30 16:05 EST");
                assert_eq!(z.show(at("2026-07-01T21:05:09Z")), "2026-07-01 17:05 EDT");
            }
        }
    }
}

//! The small shared vocabulary of mfarole: durations as users write them (`1h30m`) and as
//! messages show them, and RoleSessionNames as STS accepts them. A leaf: it imports nothing of
//! ours, so the command line, the config, the plan, the cache and the STS client may all use
//! it without tying themselves to each other.

use time::OffsetDateTime;

/// Parses `3600`, `45m`, `1h`, `1h30m`, `90s` into seconds.
pub fn parse_duration(text: &str) -> Option<u32> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(n) = text.parse::<u32>() {
        return Some(n);
    }
    let mut total: u64 = 0;
    let mut number = String::new();
    let mut last_unit = u64::MAX;
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        // Units must come once each, largest first: "1h30m", not "30m1h" or "1h1h".
        if number.is_empty() || unit >= last_unit {
            return None;
        }
        last_unit = unit;
        total = total.checked_add(number.parse::<u64>().ok()?.checked_mul(unit)?)?;
        number.clear();
    }
    if !number.is_empty() {
        return None;
    }
    u32::try_from(total).ok()
}

/// Seconds as `1h`, `45m`, `1h30m`, or `90s`.
pub fn show_duration(secs: u32) -> String {
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// What is left of a session, to the minute, as `list` and the notes say it: `47m left`,
/// `11h59m left`, `less than 1m left`.
pub fn show_left(secs: i64) -> String {
    let secs = u32::try_from(secs).unwrap_or(if secs < 0 { 0 } else { u32::MAX });
    if secs < 60 {
        return "less than 1m left".into();
    }
    format!("{} left", show_duration(secs - secs % 60))
}

/// What STS accepts as a RoleSessionName.
pub fn valid_session_name(name: &str) -> bool {
    (2..=64).contains(&name.len()) && name.bytes().all(session_name_byte)
}

fn session_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b)
}

/// GetFederationToken's `Name` made from a RoleSessionName: 2 to 32 of the same characters
/// (STS API reference, GetFederationToken: `[\w+=,.@-]*`, length 2–32). A longer name keeps
/// its end, where the default name's time stamp is, and as much of its start as fits.
pub fn federation_name(session_name: &str) -> String {
    let clean = session_name_chars(session_name);
    let name = if clean.len() <= 32 {
        clean
    } else {
        // Default names end in a 20-character "-YYYY-MM-DD-HH-MM-SS".
        format!("{}{}", &clean[..12], &clean[clean.len() - 20..])
    };
    match name.len() {
        0 => "mfarole".to_string(),
        1 => format!("{name}-mfarole"),
        _ => name,
    }
}

/// `text` with each character STS does not allow in a session name as `-`: one a character,
/// not one a byte of its UTF-8 (`é` was `--`).
fn session_name_chars(text: &str) -> String {
    text.chars()
        .map(|c| match u8::try_from(c) {
            Ok(b) if session_name_byte(b) => c,
            _ => '-',
        })
        .collect()
}

/// The seed document's `$LOGNAME-YYYY-MM-DD-HH-MM-SS`, cleaned to what STS allows.
pub fn default_session_name(user: Option<&str>, now: OffsetDateTime) -> String {
    let user = session_name_chars(user.unwrap_or("mfarole"));
    let user = if user.is_empty() {
        "mfarole".into()
    } else {
        user
    };
    let stamp = format!(
        "{:04}-{:02}-{:02}-{:02}-{:02}-{:02}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    // Keep the stamp whole: cut the user part so that the name fits in 64.
    let room = 64 - stamp.len() - 1;
    let user: String = user.chars().take(room).collect();
    format!("{user}-{stamp}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("3600"), Some(3600));
        assert_eq!(parse_duration("45m"), Some(2700));
        assert_eq!(parse_duration("1h"), Some(3600));
        assert_eq!(parse_duration("12h"), Some(43200));
        assert_eq!(parse_duration("1h30m"), Some(5400));
        assert_eq!(parse_duration("90s"), Some(90));
        for bad in [
            "",
            "h",
            "1x",
            "30m1h",
            "1h1h",
            "-5",
            "1.5h",
            "99999999999999h",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        assert_eq!(show_duration(5400), "1h30m");
        assert_eq!(show_duration(0), "0s");
        assert_eq!(show_left(47 * 60 + 59), "47m left");
        assert_eq!(show_left(12 * 3600 - 20), "11h59m left");
        assert_eq!(show_left(3600), "1h left");
        assert_eq!(show_left(59), "less than 1m left");
        assert_eq!(show_left(-5), "less than 1m left");
    }

    #[test]
    fn session_names_are_cleaned_and_bounded() {
        let now = time::macros::datetime!(2026-11-24 19:05:09 UTC);
        assert_eq!(
            default_session_name(Some("jones"), now),
            "jones-2026-11-24-19-05-09"
        );
        assert_eq!(
            default_session_name(Some("Jöne s/x"), now),
            "J-ne-s-x-2026-11-24-19-05-09"
        );
        assert_eq!(
            default_session_name(None, now),
            "mfarole-2026-11-24-19-05-09"
        );
        let long = default_session_name(Some(&"a".repeat(100)), now);
        assert_eq!(long.len(), 64);
        assert!(valid_session_name(&long));
        assert!(long.ends_with("-2026-11-24-19-05-09"));
        assert!(!valid_session_name("a"));
        assert!(!valid_session_name("has space"));
    }

    #[test]
    fn federation_names_fit_in_32() {
        let now = time::macros::datetime!(2026-11-24 19:05:09 UTC);
        let short = default_session_name(Some("jones"), now);
        assert_eq!(federation_name(&short), short);
        let long = federation_name(&default_session_name(Some(&"a".repeat(100)), now));
        assert_eq!(long, "aaaaaaaaaaaa-2026-11-24-19-05-09");
        assert_eq!(long.len(), 32);
        assert_eq!(federation_name("x"), "x-mfarole");
        assert_eq!(federation_name("a b"), "a-b");
        for name in [short, long] {
            let name = federation_name(&name);
            assert!((2..=32).contains(&name.len()) && valid_session_name(&name));
        }
    }
}

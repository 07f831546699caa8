//! `mfarole list` (issue 22, item 12): times in the local time zone with what is left, a
//! session inside the refresh margin shown as due for refresh, sessions made with another
//! `-d`, one profile in detail with `list PROFILE`, and a credentials file open to others
//! flagged. moto as STS (auth enforced) makes the sessions.

use crate::support::{Moto, Out, Sandbox, rfc3339_in};
use std::os::unix::fs::PermissionsExt;

/// A fixed zone without summer time, so that the expected text does not depend on the date.
const TZ: &str = "<+0530>-5:30";

/// `now + offset` as `list` shows it in [`TZ`]: `2026-11-30 22:05 +0530`, for the two
/// minutes the run may straddle.
fn shown_in(offset: i64) -> [String; 2] {
    let at = |o: i64| {
        let t = rfc3339_in(o + 5 * 3600 + 1800);
        format!("{} {} +0530", &t[..10], &t[11..16])
    };
    [at(offset - 60), at(offset)]
}

fn row<'a>(stdout: &'a str, profile: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(profile))
        .unwrap_or_else(|| panic!("no row for {profile}:\n{stdout}"))
}

#[test]
fn times_are_local_with_what_is_left_and_the_margin_is_due_for_refresh() {
    let sb = Sandbox::new(Moto::shared()).env("TZ", TZ);
    sb.run(&["exec", "-t", "123456", "admin", "--", "true"])
        .ok();
    let out = sb.run(&["list"]);
    out.ok();
    let admin = row(&out.stdout, "admin");
    let [a, b] = shown_in(3600);
    assert!(
        admin.ends_with(&format!("fresh until {a} (59m left)"))
            || admin.ends_with(&format!("fresh until {b} (59m left)")),
        "{admin}"
    );
    assert!(
        row(&out.stdout, "jones").contains("(11h59m left)"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("UTC"), "{}", out.stdout);
    // Inside the refresh margin the session is still valid: due for refresh, not expired.
    let out = sb
        .command(&["list"])
        .env("MFAROLE_REFRESH_MARGIN", "2h")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let admin = row(&stdout, "admin");
    assert!(admin.contains("due for refresh (until "), "{admin}");
    assert!(admin.ends_with(", 59m left)"), "{admin}");
    assert!(!admin.contains("expired"), "{admin}");
}

#[test]
fn sessions_made_with_another_duration_are_shown() {
    let sb = Sandbox::new(Moto::shared()).env("TZ", TZ);
    sb.run(&["exec", "-t", "123456", "admin", "--", "true"])
        .ok();
    sb.run(&["exec", "-t", "234567", "-d", "2h", "admin", "--", "true"])
        .ok();
    let out = sb.run(&["list"]);
    out.ok();
    let admin = row(&out.stdout, "admin");
    assert!(admin.contains("(59m left); -d 2h: fresh until "), "{admin}");
    assert!(admin.ends_with("(1h59m left)"), "{admin}");
    // admin-long asks for 2h itself: the same session, its own.
    let long = row(&out.stdout, "admin-long");
    assert!(
        long.contains("fresh until ") && long.ends_with("(1h59m left)"),
        "{long}"
    );
}

#[test]
fn list_profile_shows_its_chain_and_each_step() {
    let moto = Moto::shared();
    let sb = Sandbox::new(moto).env("TZ", TZ);
    sb.run(&["exec", "-t", "123456", "admin", "--", "true"])
        .ok();
    sb.run(&["exec", "-t", "234567", "-d", "2h", "admin", "--", "true"])
        .ok();
    let admin = moto.get("roles.admin");
    for args in [&["list", "admin"][..], &["list", "--profile", "admin"]] {
        let out = sb.run(args);
        out.ok();
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert_eq!(lines.len(), 6, "{}", out.stdout);
        assert_eq!(lines[0], format!("admin: role {admin} via jones + MFA"));
        assert!(lines[1].starts_with("  region us-east-1, STS endpoint http://"));
        assert!(
            lines[2].starts_with("  1. GetSessionToken with MFA for 'jones': fresh until ")
                && lines[2].ends_with("(11h59m left)"),
            "{}",
            lines[2]
        );
        assert!(
            lines[3].starts_with(&format!(
                "  2. AssumeRole {admin} for 'admin': fresh until "
            )) && lines[3].ends_with("(59m left)"),
            "{}",
            lines[3]
        );
        assert_eq!(lines[4], "  with -d 2h:");
        assert!(
            lines[5].starts_with(&format!(
                "  1. AssumeRole {admin} with MFA (2h) for 'admin': fresh until "
            )) && lines[5].ends_with("(1h59m left)"),
            "{}",
            lines[5]
        );
    }
    let out = sb.run(&["list", "plain"]);
    out.ok()
        .stdout_has("  1. AssumeRole arn:aws:iam::123456789012:role/plain for 'plain': not cached");
    sb.run(&["list", "nope"])
        .code(125)
        .one_error_line()
        .stderr_has("profile 'nope' is not in the config; profiles: ");
    sb.run(&["list", "admin", "--json"])
        .code(125)
        .stderr_has("list takes one of PROFILE, --names and --json");
}

#[test]
fn a_credentials_file_open_to_others_is_flagged() {
    let sb = Sandbox::new(Moto::shared());
    let set = |mode| {
        std::fs::set_permissions(&sb.credentials, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    set(0o644);
    let out = sb.run(&["list"]);
    out.ok().one_error_line().stderr_has(&format!(
        "mfarole: warning: {} is open to others (mode 644) and holds your keys: run chmod 600 on it",
        sb.credentials.display()
    ));
    set(0o600);
    let out = sb.run(&["list"]);
    out.ok();
    assert_eq!(out.stderr, "");
    // The keys written in the config file instead, which is open; the credentials file is
    // empty and open too: only the file that holds keys is named.
    sb.write_config(
        "[profile k]\naws_access_key_id = AKIAEXAMPLEEXAMPLE01\nAWS_Secret_Access_Key: not-a-real-secret\n",
    );
    sb.write_credentials("");
    set(0o644);
    std::fs::set_permissions(&sb.config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = sb.run(&["list"]);
    out.ok().one_error_line().stderr_has(&format!(
        "mfarole: warning: {} is open to others (mode 644) and holds your keys",
        sb.config.display()
    ));
    // /dev/null as the credentials file holds nothing.
    let mut cmd = sb.command(&["list"]);
    cmd.env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
    std::fs::set_permissions(&sb.config, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = Out::of(&["list"], cmd.output().unwrap());
    out.ok();
    assert_eq!(out.stderr, "");
}

//! Issue 22: the usual mistakes of a new user, each answered with one line that says what is
//! wrong and what to do. moto as STS where it can give the answer; a stand-in STS (`FakeSts`)
//! for the answers moto never gives (a trust policy's MFA condition, a role's maximum session
//! duration, an expired session token).

use crate::support::{FakeSts, Moto, Reply, Sandbox, ar_ok, sts_error};

fn sandbox() -> Sandbox {
    Sandbox::new(Moto::shared())
}

/// A sandbox whose STS is `fake` (the keys are moto's, never checked there).
fn against(fake: &FakeSts) -> Sandbox {
    sandbox().env("AWS_ENDPOINT_URL", &fake.url)
}

/// Item 4: a role whose trust policy needs MFA, assumed by a chain without `mfa_serial`.
#[test]
fn a_role_that_needs_mfa_without_mfa_serial_says_where_to_add_it() {
    let fake = FakeSts::start(|_, _| {
        Reply::Http(
            403,
            vec![],
            sts_error(
                "AccessDenied",
                "User: arn:aws:iam::123456789012:user/smith is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::123456789012:role/plain with the condition aws:MultiFactorAuthPresent.",
            ),
        )
    });
    against(&fake)
        .run(&["exec", "plain", "--", "true"])
        .code(125)
        .one_error_line()
        .stderr_has("failed: AccessDenied: User: arn:aws:iam::123456789012:user/smith is not authorized")
        .stderr_has("MultiFactorAuthPresent; the role's trust policy requires MFA and no profile of the chain sets mfa_serial: add mfa_serial = <your MFA device's ARN> to profile 'plain' (or its source 'smith')");
    // moto's own trust denial (it checks principals, not conditions): the same advice, as a
    // possibility.
    sandbox()
        .run(&["exec", "nobody", "--", "true"])
        .code(125)
        .one_error_line()
        .stderr_has("AssumeRole for profile 'nobody' failed: AccessDenied")
        .stderr_has("if it requires MFA, add mfa_serial = <your MFA device's ARN> to profile 'nobody' (or its source 'smith')");
}

/// Item 4: `mfa_process` without `mfa_serial` is pointed out, not silently unused.
#[test]
fn mfa_process_without_mfa_serial_is_pointed_out() {
    let moto = Moto::shared();
    let sb = Sandbox::new(moto);
    sb.append_config(&format!(
        "\n[profile with-process]\nrole_arn = {}\nsource_profile = smith\nmfa_process = echo 123456\n",
        moto.get("roles.plain")
    ));
    let out = sb.run(&["exec", "with-process", "--", "true"]);
    out.ok().stderr_has(
        "mfarole: warning: mfa_process in profile 'with-process' is not used: no profile of the chain sets mfa_serial; add mfa_serial = <your MFA device's ARN> next to it",
    );
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
}

/// Item 7: a duration over the role's maximum says the limit and what to ask for, from `-d`
/// or from the profile's `duration_seconds`.
#[test]
fn a_duration_over_the_role_maximum_says_what_to_ask_for() {
    let fake = FakeSts::start(|_, _| {
        Reply::Http(
            400,
            vec![],
            sts_error(
                "ValidationError",
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
            ),
        )
    });
    let sb = against(&fake);
    let out = sb.run(&["exec", "-d", "2h", "plain", "--", "true"]);
    out.code(125).one_error_line();
    assert_eq!(
        out.stderr.trim_end(),
        "mfarole: AssumeRole for profile 'plain' failed: ValidationError: The requested DurationSeconds exceeds the MaxSessionDuration set for this role; -d 2h is longer than the role's maximum session duration (1h unless raised in IAM, 12h at most): ask for -d 1h or less, or raise the role's maximum"
    );
    sb.run(&["exec", "-t", "123456", "admin-long", "--", "true"])
        .code(125)
        .one_error_line()
        .stderr_has("; duration_seconds = 7200 of profile 'admin-long' is longer than the role's maximum session duration (1h unless raised in IAM, 12h at most): ask for duration_seconds = 3600 or less");
}

/// Item 7: a chained role asked for more than STS's 1-hour limit is refused before any
/// request (no MFA code spent on the hops before it).
#[test]
fn a_chained_role_over_an_hour_is_refused_before_any_request() {
    let fake = FakeSts::start(|_, _| Reply::Http(200, vec![], ar_ok()));
    let out = against(&fake).run(&["exec", "-d", "2h", "hop2", "--", "true"]);
    out.code(125).one_error_line();
    assert_eq!(
        out.stderr.trim_end(),
        "mfarole: profile 'hop2': its role is assumed with the credentials of role 'chain1', and STS gives such a chained role at most 1h, but -d 2h asks more: ask for -d 1h or less"
    );
    assert_eq!(fake.count(), 0);
}

/// Item 7: `ExpiredToken` for keys from the files says they are session keys that expired.
#[test]
fn expired_session_keys_in_the_files_say_so() {
    let fake = FakeSts::start(|_, _| {
        Reply::Http(
            400,
            vec![],
            sts_error(
                "ExpiredToken",
                "The security token included in the request is expired",
            ),
        )
    });
    let sb = against(&fake);
    sb.append_credentials(
        "\n[stale]\naws_access_key_id = ASIASTALEKEY\naws_secret_access_key = s\naws_session_token = t\n",
    );
    sb.append_config("\n[profile stale-role]\nrole_arn = arn:aws:iam::123456789012:role/plain\nsource_profile = stale\n");
    let out = sb.run(&["exec", "stale-role", "--", "true"]);
    out.code(125).one_error_line();
    assert_eq!(
        out.stderr.trim_end(),
        "mfarole: AssumeRole for profile 'stale-role' failed: ExpiredToken: The security token included in the request is expired; the keys of profile 'stale' are session keys (they have aws_session_token) that have expired: put new ones, or long-term keys without aws_session_token, in the credentials file"
    );
}

/// Item 6: config files that are not there are named, with where their path came from
/// (`HOME` unset, `AWS_CONFIG_FILE`), by the error and by `list`, which no longer prints a
/// lone header.
#[test]
fn missing_config_files_are_named() {
    let sb = Sandbox::empty("http://127.0.0.1:9").env("AWS_CONFIG_FILE", "/nonexistent");
    sb.write_credentials("# nothing yet\n");
    let creds = sb.credentials.display().to_string();
    sb.run(&["exec", "admin", "--", "true"])
        .code(125)
        .one_error_line()
        .stderr_has(&format!(
            "profile 'admin' is not in the config; no profiles are defined: /nonexistent (AWS_CONFIG_FILE) does not exist, and {creds} (AWS_SHARED_CREDENTIALS_FILE) has no profile"
        ));
    let out = sb.run(&["list"]);
    out.ok().one_error_line().stderr_has(&format!(
        "mfarole: no profiles to list: /nonexistent (AWS_CONFIG_FILE) does not exist, and {creds} (AWS_SHARED_CREDENTIALS_FILE) has no profile; write one"
    ));
    assert_eq!(out.stdout, "", "no lone header");
    // Without HOME, `~` is `/`: said so.
    if std::path::Path::new("/.aws").exists() {
        return; // this machine has a /.aws of its own
    }
    let out = crate::support::Out::of(
        &["exec", "admin"],
        std::process::Command::new(crate::support::BIN)
            .args(["exec", "admin", "--", "true"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .output()
            .unwrap(),
    );
    out.code(125).one_error_line().stderr_has(
        "no profiles are defined: /.aws/config (HOME is unset) does not exist, and /.aws/credentials (HOME is unset) does not exist",
    );
}

/// Item 5: no region anywhere: `exec` and `env` say so once, with the profile and where a
/// region can be set; `env --format process` (whose caller has its own) and `list` do not.
#[test]
fn no_region_is_said_once_where_it_matters() {
    let moto = Moto::shared();
    let sb = Sandbox::new(moto);
    sb.append_credentials(&format!(
        "\n[lost]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
        moto.get("users.smith.key"),
        moto.get("users.smith.secret")
    ));
    sb.append_config(&format!(
        "\n[profile lost-role]\nrole_arn = {}\nsource_profile = lost\n",
        moto.get("roles.plain")
    ));
    let config = sb.config.display().to_string();
    let warning = format!(
        "mfarole: warning: no region for 'lost-role', so the command gets no AWS_REGION and most AWS commands will fail; add region = REGION to [profile lost-role] in {config}, or pass --region or set AWS_REGION"
    );
    let out = sb.run(&[
        "exec",
        "lost-role",
        "--",
        "sh",
        "-c",
        "echo ${AWS_REGION-unset}",
    ]);
    out.ok().stdout_has("unset").stderr_has(&warning);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    sb.run(&["env", "lost-role"]).ok().stderr_has(&warning);
    let quiet = |args: &[&str]| {
        let out = sb.run(args);
        out.ok();
        assert_eq!(out.stderr, "", "{args:?}");
    };
    quiet(&["env", "--format", "process", "lost-role"]);
    quiet(&["list"]);
    quiet(&["exec", "--region", "eu-west-1", "lost-role", "--", "true"]);
    // A region from the chain (smith's) is enough.
    quiet(&["exec", "plain", "--", "true"]);
}

/// Item 8: `-t` for a run that needs no code says so (always); `-t` whose step came from the
/// cache says so under `-v` only.
#[test]
fn an_mfa_token_that_is_not_needed_says_so() {
    let sb = sandbox();
    let out = sb.run(&["exec", "-t", "123456", "plain", "--", "true"]);
    out.ok().stderr_has(
        "mfarole: warning: --mfa-token is not used: this run of 'plain' needs no MFA code (no profile of its chain sets mfa_serial)",
    );
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    sb.run(&["exec", "-t", "123456", "jones", "--", "true"])
        .ok()
        .stderr_lacks("--mfa-token is not used");
    let out = sb.run(&["exec", "-t", "123456", "jones", "--", "true"]);
    out.ok();
    assert_eq!(out.stderr, "", "cached, without -v: nothing to say");
    sb.run(&["exec", "-v", "-t", "123456", "jones", "--", "true"])
        .ok()
        .stderr_has("--mfa-token is not used: step 1 (GetSessionToken with MFA) and the steps after it were cached");
}

/// Item 8: a cached MFA session that this run cannot use (`-d` over what it can give) says
/// why a new code is needed.
#[test]
fn a_new_code_despite_a_cached_mfa_session_says_why() {
    let sb = sandbox();
    sb.run(&["exec", "-t", "123456", "admin", "--", "true"])
        .ok();
    let out = sb.run(&["exec", "-t", "234567", "-d", "2h", "admin", "--", "true"]);
    out.ok().stderr_has(
        "mfarole: a new MFA code is needed although an MFA session is cached (until ",
    ).stderr_has(
        " left): a role for longer than 1h (-d 2h) cannot be assumed with it; ask for -d 1h or less to use it",
    );
    // A session longer than the cached one has left.
    let out = sb.run(&["exec", "-t", "345678", "-d", "13h", "jones", "--", "true"]);
    out.ok()
        .stderr_has("11h59m left): it ends sooner than the 13h asked with -d");
    // Nothing cached to explain: nothing said.
    let fresh = sandbox();
    let out = fresh.run(&["exec", "-t", "123456", "-d", "2h", "admin", "--", "true"]);
    out.ok();
    assert_eq!(out.stderr, "");
}

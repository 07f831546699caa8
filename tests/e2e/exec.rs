//! `mfarole exec` end to end: the built binary, a scrubbed environment, and moto as STS with
//! IAM auth enforced, so every signature is verified. The child is often the real AWS CLI.

use crate::support::{self, Moto, Sandbox};
use std::path::Path;

fn sandbox() -> Sandbox {
    Sandbox::new(Moto::shared())
}

fn whoami(sb: &Sandbox, pre: &[&str]) -> support::Out {
    let mut args = vec!["exec"];
    args.extend_from_slice(pre);
    args.push("--");
    args.extend(support::WHOAMI);
    sb.run(&args)
}

#[test]
fn flow1_mfa_session_reaches_the_aws_cli() {
    let sb = sandbox();
    // moto gives the session key to "jones-mfa-session": the CLI runs as the MFA session.
    whoami(&sb, &["-t", "123456", "jones"])
        .ok()
        .stdout_has("arn:aws:iam::123456789012:user/jones-mfa-session");
}

#[test]
fn flow2_role_with_mfa_goes_through_the_session() {
    let sb = sandbox();
    // session-only trusts nothing but the MFA session's user: success proves the chain
    // GetSessionToken(MFA) -> AssumeRole signed with the session.
    let out = whoami(&sb, &["-t", "123456", "session-only"]);
    out.ok();
    let arn = out.stdout.trim();
    assert!(
        arn.starts_with("arn:aws:sts::123456789012:assumed-role/session-only/jones-20"),
        "{arn}"
    );
    // The seed's session name: $LOGNAME-YYYY-MM-DD-HH-MM-SS.
    let name = arn.rsplit('/').next().unwrap();
    assert_eq!(name.len(), "jones-2026-11-24-19-05-09".len(), "{name}");
}

#[test]
fn no_session_assumes_the_role_with_the_code_directly() {
    let sb = sandbox();
    let out = whoami(&sb, &["--no-session", "-t", "123456", "-v", "admin"]);
    out.ok()
        .stdout_has("assumed-role/admin/jones-")
        .stderr_has("plan 1: AssumeRole arn:aws:iam::123456789012:role/admin with MFA")
        .stderr_lacks("GetSessionToken for");
    // Without the session, a role that trusts only the session cannot be had.
    let out = whoami(&sb, &["--no-session", "-t", "123456", "session-only"]);
    out.code(125).one_error_line().stderr_has("AccessDenied");
}

#[test]
fn a_role_duration_over_an_hour_skips_the_session() {
    let sb = sandbox();
    whoami(&sb, &["-t", "123456", "-v", "admin-long"])
        .ok()
        .stdout_has("assumed-role/admin/")
        .stderr_has("with MFA for 2h")
        .stderr_has("a role duration over 1h cannot be had from a session");
    whoami(&sb, &["-t", "123456", "-v", "-d", "2h", "admin"])
        .ok()
        .stderr_has("AssumeRole arn:aws:iam::123456789012:role/admin with MFA for 2h");
}

#[test]
fn role_without_mfa() {
    let sb = sandbox();
    whoami(&sb, &["plain"])
        .ok()
        .stdout_has("assumed-role/plain/jones-");
}

#[test]
fn three_hop_role_chain() {
    let sb = sandbox();
    let out = whoami(&sb, &["-t", "123456", "-v", "hop3"]);
    out.ok()
        .stdout_has("arn:aws:sts::123456789012:assumed-role/hop3/jones-");
    // Each hop signed with the previous hop's credentials: hop2 and hop3 trust only the
    // previous hop's session, so any other signer would have been refused.
    out.stderr_has("plan 2: AssumeRole arn:aws:iam::123456789012:role/chain1")
        .stderr_has("plan 3: AssumeRole arn:aws:iam::123456789012:role/hop2")
        .stderr_has("plan 4: AssumeRole arn:aws:iam::123456789012:role/hop3");
}

#[test]
fn external_id_is_sent() {
    let sb = sandbox();
    whoami(&sb, &["ext"]).ok().stdout_has("assumed-role/ext/");
    whoami(&sb, &["ext-wrong"])
        .code(125)
        .one_error_line()
        .stderr_has("AccessDenied");
}

#[test]
fn wrong_secret_fails_clearly_and_runs_nothing() {
    let sb = sandbox();
    let marker = sb.dir.path().join("ran");
    let out = sb.run(&["exec", "badsecret", "--", "touch", marker.to_str().unwrap()]);
    out.code(125)
        .one_error_line()
        .stderr_has("GetSessionToken for profile 'badsecret' failed: SignatureDoesNotMatch")
        .stderr_has("check the credentials file")
        .stderr_lacks("WRONG");
    assert!(!marker.exists(), "the child ran");
}

#[test]
fn trust_policy_denial() {
    let sb = sandbox();
    sb.run(&["exec", "nobody", "--", "true"])
        .code(125)
        .one_error_line()
        .stderr_has("AssumeRole for profile 'nobody' failed: AccessDenied");
}

#[test]
fn the_child_environment() {
    let sb = sandbox()
        .env("AWS_PROFILE", "stale")
        .env("AWS_DEFAULT_PROFILE", "stale")
        .env("AWS_SECURITY_TOKEN", "stale")
        .env("AWS_ACCESS_KEY_ID", "AKIASTALE")
        .env("AWS_REGION", "eu-west-3");
    let out = sb.run(&["exec", "-t", "123456", "jones", "--", "env"]);
    out.ok();
    let env: Vec<&str> = out.stdout.lines().collect();
    let get = |k: &str| {
        env.iter()
            .filter_map(|l| l.strip_prefix(&format!("{k}=")))
            .collect::<Vec<_>>()
    };
    assert_eq!(get("AWS_ACCESS_KEY_ID"), ["AKIAIOSFODNN7EXAMPLE"]);
    assert_eq!(get("AWS_SESSION_TOKEN").len(), 1);
    assert_eq!(get("AWS_SECRET_ACCESS_KEY").len(), 1);
    assert!(get("AWS_CREDENTIAL_EXPIRATION")[0].ends_with('Z'));
    // AWS_REGION from the environment wins over the profile, as in the SDKs.
    assert_eq!(get("AWS_REGION"), ["eu-west-3"]);
    assert_eq!(get("AWS_DEFAULT_REGION"), ["eu-west-3"]);
    assert_eq!(get("MFAROLE_PROFILE"), ["jones"]);
    assert!(get("AWS_PROFILE").is_empty());
    assert!(get("AWS_DEFAULT_PROFILE").is_empty());
    assert!(get("AWS_SECURITY_TOKEN").is_empty());
}

#[test]
fn region_flag_wins() {
    let sb = sandbox().env("AWS_REGION", "eu-west-3");
    let out = sb.run(&[
        "exec",
        "-r",
        "ap-south-1",
        "plain",
        "--",
        "sh",
        "-c",
        "echo $AWS_REGION $AWS_DEFAULT_REGION",
    ]);
    out.ok().stdout_has("ap-south-1 ap-south-1");
}

#[test]
fn arguments_after_the_command_are_untouched() {
    let sb = sandbox();
    let out = sb.run(&[
        "exec",
        "plain",
        "--",
        "sh",
        "-c",
        "printf '%s|' \"$@\"",
        "x",
        "-out",
        "--verbose",
        "-t",
        "--",
        "-h",
    ]);
    out.ok();
    assert_eq!(out.stdout, "-out|--verbose|-t|--|-h|");
    // Without "--" the first word after PROFILE is the command too.
    let out = sb.run(&["exec", "plain", "echo", "-v", "--refresh"]);
    out.ok();
    assert_eq!(out.stdout, "-v --refresh\n");
}

#[test]
fn nothing_but_the_child_writes_stdout() {
    let sb = sandbox();
    let out = sb.run(&["exec", "-v", "-t", "123456", "session-only", "--", "true"]);
    out.ok();
    assert_eq!(out.stdout, "");
    assert!(out.stderr.contains("mfarole: "));
}

#[test]
fn exit_status_of_the_child_and_of_exec_failures() {
    let sb = sandbox();
    sb.run(&["exec", "plain", "--", "sh", "-c", "exit 7"])
        .code(7);
    sb.run(&["exec", "plain", "--", "no-such-command-xyz"])
        .code(127)
        .one_error_line()
        .stderr_has("no-such-command-xyz: command not found");
    let script = sb.dir.path().join("not-executable");
    std::fs::write(&script, "#!/bin/sh\n").unwrap();
    sb.run(&["exec", "plain", "--", script.to_str().unwrap()])
        .code(126)
        .one_error_line()
        .stderr_has("permission denied");
}

#[test]
fn malformed_mfa_code_is_refused_before_any_request() {
    // An endpoint that nothing listens on: a request would fail differently.
    let sb = Sandbox::new(Moto::shared()).env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    for code in ["12345", "1234567", "abcdef"] {
        sb.run(&["exec", "-t", code, "jones", "--", "true"])
            .code(125)
            .one_error_line()
            .stderr_has("--mfa-token must be the 6-digit code");
    }
}

#[test]
fn no_terminal_and_no_code_is_a_clear_error() {
    let sb = sandbox();
    let mut cmd = std::process::Command::new("setsid");
    cmd.arg("-w")
        .arg(support::BIN)
        .args(["exec", "jones", "--", "true"])
        .env_clear()
        .envs(sb.base_env())
        .stdin(std::process::Stdio::null());
    let started = std::time::Instant::now();
    let out = support::Out::of(&["(setsid) exec jones -- true"], cmd.output().unwrap());
    out.code(125)
        .one_error_line()
        .stderr_has("an MFA code for arn:aws:iam::123456789012:mfa/jones is needed and there is no terminal")
        .stderr_has("--mfa-token")
        .stderr_has("mfa_process");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn config_errors_name_what_is_wrong() {
    let sb = sandbox();
    sb.run(&["exec", "nope", "--", "true"])
        .code(125)
        .one_error_line()
        .stderr_has("profile 'nope' is not in the config; profiles: admin, admin-long, badsecret,");

    let sb = Sandbox::empty(Moto::shared().url());
    sb.write_config("[profile a]\nregion = x\nthis line is broken\n");
    let out = sb.run(&["exec", "a", "--", "true"]);
    out.code(125).one_error_line().stderr_has(&format!(
        "{}:3: expected '[section]' or 'key = value'",
        sb.config.display()
    ));

    sb.write_config(
        "[profile a]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = b\n[profile b]\nrole_arn = arn:aws:iam::1:role/b\nsource_profile = a\n",
    );
    sb.run(&["exec", "a", "--", "true"])
        .code(125)
        .one_error_line()
        .stderr_has("source_profile loop: a -> b -> a");

    sb.write_config([0xffu8, 0xfe, b'\n']);
    sb.run(&["exec", "a", "--", "true"])
        .code(125)
        .one_error_line()
        .stderr_has("config:1: not valid UTF-8 text");
}

#[test]
fn credential_source_environment() {
    let moto = Moto::shared();
    let sb = Sandbox::new(moto);
    sb.write_config(format!(
        "[profile envrole]\nrole_arn = {}\ncredential_source = Environment\nregion = us-east-1\n",
        moto.get("roles.plain")
    ));
    let sb = sb
        .env("AWS_ACCESS_KEY_ID", moto.get("users.smith.key"))
        .env("AWS_SECRET_ACCESS_KEY", moto.get("users.smith.secret"));
    whoami(&sb, &["envrole"])
        .ok()
        .stdout_has("assumed-role/plain/");
}

#[test]
fn plain_http_to_a_remote_host_is_refused() {
    let sb = sandbox().env("AWS_ENDPOINT_URL", "http://sts.example.com/");
    sb.run(&["exec", "plain", "--", "true"])
        .code(125)
        .one_error_line()
        .stderr_has("plain http to a host that is not loopback");
}

#[test]
fn usage_errors_exit_125_with_one_line() {
    let sb = sandbox();
    for args in [
        &["exec"][..],
        &["exec", "-d", "forever", "plain"],
        &["bogus"],
        &["exec", "--nope", "plain"],
    ] {
        sb.run(args).code(125).one_error_line();
    }
}

#[test]
fn help_and_version() {
    let sb = sandbox();
    sb.run(&["--help"])
        .ok()
        .stdout_has("mfarole exec [OPTIONS] [--server] PROFILE [--] [COMMAND [ARGS...]]");
    sb.run(&["exec", "-h"])
        .ok()
        .stdout_has("--no-session")
        .stdout_has("--server");
    let out = sb.run(&["-V"]);
    out.ok()
        .stdout_has(concat!("mfarole ", env!("CARGO_PKG_VERSION")));
}

#[test]
fn the_user_config_is_never_written() {
    let sb = sandbox();
    let before = (
        std::fs::read(&sb.config).unwrap(),
        std::fs::read(&sb.credentials).unwrap(),
    );
    whoami(&sb, &["-t", "123456", "session-only"]).ok();
    sb.run(&["exec", "badsecret", "--", "true"]).code(125);
    assert_eq!(before.0, std::fs::read(&sb.config).unwrap());
    assert_eq!(before.1, std::fs::read(&sb.credentials).unwrap());
    let aws = sb.home.join(".aws");
    let names: Vec<_> = std::fs::read_dir(&aws)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(!Path::new(&sb.home.join(".aws/cli")).exists());
}

#[test]
fn verbose_output_holds_no_secret() {
    let moto = Moto::shared();
    let sb = sandbox();
    let out = sb.run(&["exec", "-v", "-t", "987123", "hop3", "--", "true"]);
    out.ok();
    for secret in [
        "987123",
        moto.get("users.jones.secret"),
        moto.get("users.jones.key"),
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI",
        "AQoEXAMPLE",
    ] {
        out.stderr_lacks(secret);
    }
    // Key ids appear masked.
    out.stderr_has("key …MPLE");
}

#[test]
fn the_command_is_dumpable_again_after_exec() {
    // mfarole turns core dumps off for itself; the command must not inherit that.
    let sb = sandbox();
    let out = sb.run(&[
        "exec",
        "plain",
        "--",
        "python3",
        "-c",
        "import ctypes; print(ctypes.CDLL(None).prctl(3, 0, 0, 0, 0))",
    ]);
    out.ok();
    assert_eq!(out.stdout.trim(), "1");
}

#[test]
fn no_session_without_a_role_passes_the_keys_through() {
    let moto = Moto::shared();
    let sb = sandbox();
    let out = sb.run(&[
        "exec",
        "--no-session",
        "-v",
        "smith",
        "--",
        "sh",
        "-c",
        "echo \"$AWS_ACCESS_KEY_ID ${AWS_SESSION_TOKEN:-none}\"",
    ]);
    out.ok()
        .stderr_has("--no-session: the profile's keys are passed through");
    assert_eq!(
        out.stdout.trim(),
        format!("{} none", moto.get("users.smith.key"))
    );
}

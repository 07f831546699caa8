//! The settings stage: every variable is read before the cache, so a bad value fails the same
//! way whether credentials are cached or not. (Before, `MFAROLE_TIMEOUT`, `AWS_MAX_ATTEMPTS`,
//! `MFAROLE_CONNECT_TIMEOUT` and `MFAROLE_MFA_PROCESS_TIMEOUT` were read only on a cache
//! miss: with a warm cache a typo passed silently and failed an hour later.)

use crate::support::{Moto, Out, Sandbox, WHOAMI};

#[test]
fn a_bad_setting_fails_the_same_way_with_a_warm_cache() {
    let moto = Moto::start();
    let sb = Sandbox::new(&moto);
    let mut args = vec!["exec", "-t", "123456", "session-only", "--"];
    args.extend(WHOAMI);
    sb.run(&args).ok();
    let calls = moto.count("GetSessionToken") + moto.count("AssumeRole");
    // Warm now: a second run makes no call.
    let mut warm = vec!["exec", "session-only", "--"];
    warm.extend(WHOAMI);
    sb.run(&warm).ok();
    assert_eq!(
        moto.count("GetSessionToken") + moto.count("AssumeRole"),
        calls
    );
    for (name, value, says) in [
        (
            "MFAROLE_TIMEOUT",
            "soon",
            "MFAROLE_TIMEOUT=soon is not a duration",
        ),
        (
            "MFAROLE_CONNECT_TIMEOUT",
            "0",
            "MFAROLE_CONNECT_TIMEOUT=0 must be longer than 0",
        ),
        (
            "AWS_MAX_ATTEMPTS",
            "0",
            "AWS_MAX_ATTEMPTS=0 is not a number from 1 to 10",
        ),
        (
            "MFAROLE_MFA_PROCESS_TIMEOUT",
            "1x",
            "MFAROLE_MFA_PROCESS_TIMEOUT=1x is not a duration",
        ),
        (
            "MFAROLE_CREDENTIAL_PROCESS_TIMEOUT",
            "-5",
            "MFAROLE_CREDENTIAL_PROCESS_TIMEOUT=-5 is not a duration",
        ),
        (
            "MFAROLE_REFRESH_MARGIN",
            "5 min",
            "MFAROLE_REFRESH_MARGIN=5 min is not a duration",
        ),
        (
            "MFAROLE_SERVER_MARGIN",
            "0",
            "MFAROLE_SERVER_MARGIN=0 must be longer than 0",
        ),
    ] {
        let output = sb.command(&warm).env(name, value).output().unwrap();
        let out = Out::of(&warm, output);
        out.code(125).stderr_has(says).one_error_line();
        assert!(out.stdout.is_empty(), "{name}: the command must not run");
    }
    assert_eq!(
        moto.count("GetSessionToken") + moto.count("AssumeRole"),
        calls,
        "no call was made for a run that failed on a setting"
    );
}

#[test]
fn help_and_version_do_not_read_the_settings() {
    let sb = Sandbox::empty("http://127.0.0.1:9").env("MFAROLE_TIMEOUT", "soon");
    sb.run(&["--version"]).ok();
    sb.run(&["--help"]).ok().stdout_has("exec");
    sb.run(&["completions", "bash"]).ok();
}

//! MFA codes from the terminal (on a real pty, through tmux), from `mfa_process`, and from
//! `--mfa-token`; what happens when STS rejects them, and that they never leak.

use crate::support::{self, FakeSts, Moto, Reply, Sandbox, Tmux, gst_ok, mfa_rejected, sh_quote};
use std::time::Duration;

/// mfarole on a terminal with all three std streams redirected (to the files `out` and `err`
/// of the sandbox): the terminal it prompts on is its controlling one, not a std stream.
fn on_pty(sb: &Sandbox, tag: &str, args: &str) -> Tmux {
    let d = sb.dir.path();
    let command = format!(
        "{bin} {args} < /dev/null > {out} 2> {err}",
        bin = support::BIN,
        out = sh_quote(d.join("out").to_str().unwrap()),
        err = sh_quote(d.join("err").to_str().unwrap()),
    );
    Tmux::start(sb, tag, &command)
}

/// mfarole's status on the terminal, once it has ended within `timeout`, shown with its
/// stderr when it is not `want`.
fn assert_status(sb: &Sandbox, tmux: &Tmux, timeout: Duration, want: i32) {
    assert_eq!(tmux.status(timeout), want, "stderr: {}", read(sb, "err"));
}

fn read(sb: &Sandbox, name: &str) -> String {
    std::fs::read_to_string(sb.dir.path().join(name)).unwrap_or_default()
}

#[test]
fn typed_code_reaches_sts_with_all_streams_redirected() {
    let sb = Sandbox::new(Moto::shared());
    let tmux = on_pty(
        &sb,
        "typed",
        "exec session-only -- aws sts get-caller-identity --query Arn --output text",
    );
    tmux.wait_screen(
        "Enter MFA code for arn:aws:iam::123456789012:mfa/jones: ",
        Duration::from_secs(20),
    );
    tmux.enter("975310");
    assert_status(&sb, &tmux, Duration::from_secs(30), 0);
    // The child's stdout is still the redirected file, not the terminal.
    assert!(
        read(&sb, "out").contains("assumed-role/session-only/"),
        "{}",
        read(&sb, "out")
    );
    let screen = tmux.screen();
    assert!(!screen.contains("975310"), "echoed:\n{screen}");
    assert!(!read(&sb, "err").contains("975310"));
}

#[test]
fn a_rejected_code_is_asked_for_again_with_the_reason() {
    // moto does not check codes; this fake STS accepts only 222222.
    let fake = FakeSts::start(|_, body| {
        if body.contains("TokenCode=222222") {
            Reply::Http(200, vec![], gst_ok())
        } else {
            mfa_rejected()
        }
    });
    let sb = Sandbox::new(Moto::shared()).env("AWS_ENDPOINT_URL", &fake.url);
    let tmux = on_pty(
        &sb,
        "retry",
        "exec jones -- sh -c 'echo $AWS_ACCESS_KEY_ID'",
    );
    tmux.wait_screen("Enter MFA code", Duration::from_secs(20));
    tmux.enter("12ab");
    tmux.wait_screen(
        "mfarole: what was typed (##??) is not a 6-digit MFA code; type the 6 digits again",
        Duration::from_secs(10),
    );
    tmux.enter("111111");
    let screen = tmux.wait_screen("STS rejected the code", Duration::from_secs(10));
    assert!(
        screen.contains("invalid MFA one time pass code"),
        "{screen}"
    );
    // The malformed line used no attempt: this is the second.
    assert!(screen.contains("(2/3)"), "{screen}");
    tmux.enter("222222");
    assert_status(&sb, &tmux, Duration::from_secs(30), 0);
    assert_eq!(read(&sb, "out").trim(), "ASIAFAKE");
    assert_eq!(fake.count(), 2, "the malformed code never went to STS");
    assert_eq!(tmux.screen().matches("Enter MFA code").count(), 3);
}

/// The lines mfarole wrote on the terminal: every one starts with `mfarole:`.
fn assert_prompt_lines_are_ours(screen: &str) {
    for line in screen.lines().map(str::trim).filter(|l| !l.is_empty()) {
        assert!(line.starts_with("mfarole: "), "{line:?} in\n{screen}");
    }
}

#[test]
fn codes_as_apps_show_them_and_wrong_lengths_use_no_attempt() {
    let fake = FakeSts::start(|_, body| {
        if body.contains("TokenCode=222222") {
            Reply::Http(200, vec![], gst_ok())
        } else {
            mfa_rejected()
        }
    });
    let sb = Sandbox::new(Moto::shared()).env("AWS_ENDPOINT_URL", &fake.url);
    let tmux = on_pty(&sb, "lengths", "exec jones -- true");
    let prompts = |n: usize| {
        support::wait_for(Duration::from_secs(10), || {
            tmux.screen().matches("Enter MFA code").count() >= n
        })
    };
    // Wrong lengths and an empty line are asked again; codes grouped as apps show them go to
    // STS as six digits; only STS's refusals count as attempts (3).
    for (n, typed) in ["12345", "111 111", "1234567", "", "111-111", "222 222"]
        .iter()
        .enumerate()
    {
        assert!(prompts(n + 1), "prompt {}:\n{}", n + 1, tmux.screen());
        tmux.enter(typed);
    }
    assert_status(&sb, &tmux, Duration::from_secs(30), 0);
    let screen = tmux.screen();
    assert!(
        screen.contains("what was typed (#####) is not a 6-digit MFA code"),
        "{screen}"
    );
    assert!(
        screen.contains("what was typed (nothing) is not"),
        "{screen}"
    );
    assert!(
        screen.contains("(3/3)") && !screen.contains("(4/3)"),
        "{screen}"
    );
    assert_eq!(screen.matches("Enter MFA code").count(), 6);
    assert_prompt_lines_are_ours(&screen);
    let sent: Vec<String> = fake.requests.lock().unwrap().clone();
    assert_eq!(sent.len(), 3);
    for (body, code) in sent.iter().zip(["111111", "111111", "222222"]) {
        assert!(body.contains(&format!("TokenCode={code}")), "{body}");
    }
}

#[test]
fn a_stuck_key_at_the_prompt_ends_the_run() {
    let fake = FakeSts::start(|_, _| mfa_rejected());
    let sb = Sandbox::new(Moto::shared()).env("AWS_ENDPOINT_URL", &fake.url);
    let tmux = on_pty(&sb, "stuck", "exec jones -- true");
    tmux.wait_screen("Enter MFA code", Duration::from_secs(20));
    for _ in 0..6 {
        tmux.enter("1");
    }
    assert_status(&sb, &tmux, Duration::from_secs(20), 125);
    let err = read(&sb, "err");
    assert_eq!(
        err,
        "mfarole: what was typed (#) is not a 6-digit MFA code, 6 times; pass the code with --mfa-token, or set mfa_process\n"
    );
    assert_eq!(fake.count(), 0);
}

#[test]
fn a_typed_code_just_used_is_asked_again_without_a_request() {
    let fake = FakeSts::start(|_, _| Reply::Http(200, vec![], gst_ok()));
    let sb = Sandbox::new(Moto::shared()).env("AWS_ENDPOINT_URL", &fake.url);
    // A code given by flag is sent as given, and remembered.
    sb.run(&["exec", "-t", "975 310", "jones", "--", "true"])
        .ok();
    let tmux = on_pty(&sb, "used", "exec --refresh jones -- true");
    tmux.wait_screen("Enter MFA code", Duration::from_secs(20));
    tmux.enter("975310");
    tmux.wait_screen(
        "mfarole: that code was just used, and STS takes each code once; enter the next one when your app shows it",
        Duration::from_secs(10),
    );
    tmux.enter("864200");
    assert_status(&sb, &tmux, Duration::from_secs(30), 0);
    assert_prompt_lines_are_ours(&tmux.screen());
    let sent: Vec<String> = fake.requests.lock().unwrap().clone();
    assert_eq!(sent.len(), 2);
    assert!(sent[1].contains("TokenCode=864200"), "{}", sent[1]);
    // Neither the code nor its digits are in the cache: only a keyed digest.
    for name in support::names_in(&sb.cache) {
        let text = std::fs::read(sb.cache.join(&name)).unwrap();
        let text = String::from_utf8_lossy(&text);
        assert!(
            !text.contains("975310") && !text.contains("864200"),
            "{name}"
        );
    }
}

#[test]
fn ctrl_c_at_a_prompt_another_session_waited_for_is_said_there() {
    let sb = Sandbox::new(Moto::shared());
    let holder = on_pty(&sb, "holder", "exec jones -- true");
    holder.wait_screen("Enter MFA code", Duration::from_secs(20));
    // A run of another session (this test's), waiting for the holder's lock.
    let waiter = {
        let mut c = sb.command(&["exec", "jones", "--", "true"]);
        c.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        c.spawn().unwrap()
    };
    std::thread::sleep(Duration::from_millis(700));
    holder.keys(&["C-c"]);
    assert_status(&sb, &holder, Duration::from_secs(10), 130);
    let out = support::Out::of(&["waiter"], waiter.wait_with_output().unwrap());
    out.code(130)
        .one_error_line()
        .stderr_has("mfarole: interrupted at the MFA prompt of another mfarole that this run waited for; run again to be asked");
}

#[test]
fn three_rejected_codes_end_the_run() {
    let fake = FakeSts::start(|_, _| mfa_rejected());
    let sb = Sandbox::new(Moto::shared()).env("AWS_ENDPOINT_URL", &fake.url);
    let tmux = on_pty(&sb, "three", "exec jones -- true");
    for n in 1..=3 {
        let screen = tmux.wait_screen("Enter MFA code", Duration::from_secs(10));
        assert!(screen.matches("Enter MFA code").count() >= n);
        tmux.enter("111111");
        if n < 3 {
            support::wait_for(Duration::from_secs(10), || {
                tmux.screen().matches("Enter MFA code").count() > n
            });
        }
    }
    assert_eq!(tmux.status(Duration::from_secs(20)), 125);
    let err = read(&sb, "err");
    assert!(
        err.contains("GetSessionToken for profile 'jones' failed: AccessDenied"),
        "{err}"
    );
    assert!(err.contains("wait for the next code"), "{err}");
    assert_eq!(fake.count(), 3);
}

#[test]
fn ctrl_c_at_the_prompt_exits_130_with_echo_back_on() {
    let sb = Sandbox::new(Moto::shared());
    let tmux = on_pty(&sb, "ctrlc", "exec jones -- true");
    tmux.wait_screen("Enter MFA code", Duration::from_secs(20));
    tmux.type_text("12");
    tmux.keys(&["C-c"]);
    assert_eq!(tmux.status(Duration::from_secs(10)), 130);
    let stty = tmux.stty();
    assert!(
        stty.split_whitespace().any(|w| w == "echo"),
        "echo is off:\n{stty}"
    );
    assert!(stty.split_whitespace().any(|w| w == "icanon"), "{stty}");
    assert!(stty.split_whitespace().any(|w| w == "isig"), "{stty}");
    assert!(read(&sb, "err").contains("mfarole: interrupted"));
}

#[test]
fn the_ctrl_c_marker_is_private_and_never_written_through_a_symlink() {
    use std::os::unix::fs::MetadataExt;
    let sb = Sandbox::new(Moto::shared());
    let ctrl_c = |tag: &str| {
        let tmux = on_pty(&sb, tag, "exec jones -- true");
        tmux.wait_screen("Enter MFA code", Duration::from_secs(20));
        tmux.keys(&["C-c"]);
        assert_status(&sb, &tmux, Duration::from_secs(10), 130);
    };
    ctrl_c("mark1");
    let marker = support::names_in(&sb.cache)
        .into_iter()
        .find(|n| n.ends_with(".fail"))
        .map(|n| sb.cache.join(n))
        .expect("Ctrl-C leaves a marker for the runs waiting behind it");
    let victim = sb.dir.path().join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    std::fs::remove_file(&marker).unwrap();
    std::os::unix::fs::symlink(&victim, &marker).unwrap();
    ctrl_c("mark2");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    let meta = std::fs::symlink_metadata(&marker).unwrap();
    assert!(meta.is_file(), "the marker is still a symlink");
    assert_eq!(meta.mode() & 0o777, 0o600);
}

#[test]
fn a_code_given_by_flag_is_not_retried() {
    let fake = FakeSts::start(|_, _| mfa_rejected());
    let sb = Sandbox::new(Moto::shared()).env("AWS_ENDPOINT_URL", &fake.url);
    sb.run(&["exec", "-t", "111111", "jones", "--", "true"])
        .code(125)
        .one_error_line()
        .stderr_has("AccessDenied");
    assert_eq!(fake.count(), 1);
}

fn with_process(moto: &Moto, process: &str) -> Sandbox {
    let sb = Sandbox::new(moto);
    let config = std::fs::read_to_string(&sb.config).unwrap().replace(
        "[profile jones]\n",
        &format!("[profile jones]\nmfa_process = {process}\n"),
    );
    sb.write_config(config);
    sb
}

#[test]
fn mfa_process_gives_the_code() {
    let moto = Moto::shared();
    // The seed's `mfa NAME -q`, as a script on PATH.
    let sb = with_process(moto, "mfa aws-myorg-users-jones -q");
    let bin = sb.dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let mfa = bin.join("mfa");
    std::fs::write(
        &mfa,
        "#!/bin/sh\n[ \"$1\" = aws-myorg-users-jones ] && [ \"$2\" = -q ] || exit 9\necho 135790\n",
    )
    .unwrap();
    std::os::unix::fs::PermissionsExt::set_mode(
        &mut std::fs::metadata(&mfa).unwrap().permissions(),
        0o755,
    );
    std::fs::set_permissions(&mfa, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let sb = sb.env("PATH", &path);
    let mut args = vec!["exec", "-v", "session-only", "--"];
    args.extend(support::WHOAMI);
    let out = sb.run(&args);
    out.ok()
        .stdout_has("assumed-role/session-only/")
        .stderr_lacks("135790");
}

#[test]
fn mfa_process_failures_are_clear() {
    let moto = Moto::shared();
    let cases = [
        (
            "exit 4",
            "mfa_process of profile 'jones' exited with status 4; run it by hand to see why",
        ),
        (
            "echo not-a-code",
            "mfa_process of profile 'jones' printed 10 bytes, not a 6-digit code",
        ),
        ("echo 12345", "printed 5 bytes, not a 6-digit code"),
        (
            "kill -9 $$",
            "mfa_process of profile 'jones' was killed by a signal",
        ),
    ];
    for (process, message) in cases {
        let sb = with_process(moto, process);
        sb.run(&["exec", "session-only", "--", "true"])
            .code(125)
            .one_error_line()
            .stderr_has(message);
    }
}

#[test]
fn slow_mfa_process_is_waited_for_and_bounded() {
    let moto = Moto::shared();
    let sb = with_process(moto, "sleep 1; echo 246802");
    sb.run(&["exec", "jones", "--", "true"]).ok();
    let sb = with_process(moto, "sleep 30; echo 246802").env("MFAROLE_MFA_PROCESS_TIMEOUT", "1s");
    let started = std::time::Instant::now();
    sb.run(&["exec", "jones", "--", "true"])
        .code(125)
        .one_error_line()
        .stderr_has("gave no code within 1s (MFAROLE_MFA_PROCESS_TIMEOUT)");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn mfa_process_talks_to_the_terminal() {
    // Its stderr goes to the terminal (a "touch your key" message), its stdout is the code.
    let sb = with_process(Moto::shared(), "echo 'touch your key' >&2; echo 246802");
    let tmux = on_pty(&sb, "proc", "exec jones -- true");
    assert_status(&sb, &tmux, Duration::from_secs(20), 0);
    tmux.wait_screen("touch your key", Duration::from_secs(5));
    assert!(!read(&sb, "err").contains("touch your key"));
}

#[test]
fn the_flag_wins_over_mfa_process() {
    let sb = with_process(Moto::shared(), "exit 1");
    sb.run(&["exec", "-t", "123456", "jones", "--", "true"])
        .ok();
}

#[test]
fn mfa_process_that_gives_the_code_just_used_is_run_again_for_the_next_one() {
    let fake = FakeSts::start(|_, _| Reply::Http(200, vec![], gst_ok()));
    // A time-based generator within one 30-second period: the same code twice (grouped as
    // apps show it), then the next one.
    let counter = support::TempDir::new("totp");
    let script = format!(
        "echo x >> {c}; if [ $(wc -l < {c}) -le 2 ]; then echo '135 790'; else echo 246-802; fi",
        c = sh_quote(counter.path().join("runs").to_str().unwrap())
    );
    let sb = with_process(Moto::shared(), &script).env("AWS_ENDPOINT_URL", &fake.url);
    sb.run(&["exec", "jones", "--", "true"]).ok();
    // Right after (`mfarole exec -d 2h` after another run): the same code comes back.
    let started = std::time::Instant::now();
    let out = sb.run(&["exec", "--refresh", "jones", "--", "true"]);
    out.ok().stderr_has(
        "mfarole: mfa_process of profile 'jones' gave the code that was just used (STS takes each code once); waiting ",
    );
    assert!(
        started.elapsed() < Duration::from_secs(35),
        "{:?}",
        started.elapsed()
    );
    let sent: Vec<String> = fake.requests.lock().unwrap().clone();
    assert_eq!(sent.len(), 2, "the code just used was not sent again");
    assert!(sent[0].contains("TokenCode=135790"), "{}", sent[0]);
    assert!(sent[1].contains("TokenCode=246802"), "{}", sent[1]);
    let runs = std::fs::read_to_string(counter.path().join("runs")).unwrap();
    assert_eq!(runs.lines().count(), 3);
}

/// A run whose GetSessionToken met `fault` (the code may have reached STS) is followed by
/// one whose `mfa_process` gives the same code: that code is not sent again.
fn a_code_that_may_have_been_taken_is_not_sent_again(fault: Reply, kill: bool) {
    let fault = std::sync::Mutex::new(Some(fault));
    let fake = FakeSts::start(move |n, _| match n {
        1 => fault.lock().unwrap().take().unwrap(),
        _ => Reply::Http(200, vec![], gst_ok()),
    });
    let counter = support::TempDir::new("totp");
    let script = format!(
        "echo x >> {c}; if [ $(wc -l < {c}) -le 2 ]; then echo '135 790'; else echo 246-802; fi",
        c = sh_quote(counter.path().join("runs").to_str().unwrap())
    );
    let sb = with_process(Moto::shared(), &script).env("AWS_ENDPOINT_URL", &fake.url);
    if kill {
        let mut run = sb
            .command(&["exec", "jones", "--", "true"])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        assert!(support::wait_for(Duration::from_secs(10), || fake.count() == 1));
        run.kill().unwrap();
        run.wait().unwrap();
    } else {
        sb.run(&["exec", "jones", "--", "true"])
            .code(125)
            .stderr_has("may have been used");
    }
    sb.run(&["exec", "jones", "--", "true"])
        .ok()
        .stderr_has("gave the code that was just used");
    let sent: Vec<String> = fake.requests.lock().unwrap().clone();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent[0].contains("TokenCode=135790"), "{}", sent[0]);
    assert!(sent[1].contains("TokenCode=246802"), "{}", sent[1]);
}

#[test]
fn a_code_sent_by_a_run_killed_before_the_answer_is_not_sent_again() {
    a_code_that_may_have_been_taken_is_not_sent_again(Reply::Silence, true);
}

#[test]
fn a_code_sent_with_a_request_sts_failed_is_not_sent_again() {
    let unavailable = support::sts_error("ServiceUnavailable", "Service is unavailable");
    a_code_that_may_have_been_taken_is_not_sent_again(Reply::Http(503, vec![], unavailable), false);
}

#[test]
fn codes_given_by_flag_may_be_grouped() {
    let fake = FakeSts::start(|_, _| Reply::Http(200, vec![], gst_ok()));
    let sb = Sandbox::new(Moto::shared()).env("AWS_ENDPOINT_URL", &fake.url);
    sb.run(&["exec", "-t", "123 456", "jones", "--", "true"])
        .ok();
    sb.run(&[
        "exec",
        "--refresh",
        "--mfa-token=654-321",
        "jones",
        "--",
        "true",
    ])
    .ok();
    sb.run(&["exec", "--refresh", "-t", "12 345", "jones", "--", "true"])
        .code(125)
        .one_error_line()
        .stderr_has("--mfa-token must be the 6-digit code");
    let sent: Vec<String> = fake.requests.lock().unwrap().clone();
    assert!(sent[0].contains("TokenCode=123456"), "{}", sent[0]);
    assert!(sent[1].contains("TokenCode=654321"), "{}", sent[1]);
    assert_eq!(sent.len(), 2);
}

/// `make -j8` with a `-t` code STS rejects: one request, not one per run that took the device's
/// lock after the first had failed.
#[test]
fn a_rejected_flag_code_is_sent_once_by_parallel_runs() {
    let fake = FakeSts::start(|_, _| mfa_rejected());
    let sb = Sandbox::new(Moto::shared()).env("AWS_ENDPOINT_URL", &fake.url);
    let outs = support::parallel(&sb, 8, &["exec", "-t", "000111", "jones", "--", "true"]);
    for out in &outs {
        out.code(125).one_error_line();
    }
    assert_eq!(fake.count(), 1, "the rejected code was sent again");
    // A run that comes after says why it does not send the code.
    sb.run(&["exec", "-t", "000111", "jones", "--", "true"])
        .code(125)
        .stderr_has("STS rejected this --mfa-token code moments ago");
    assert_eq!(fake.count(), 1);
    // Another code is sent.
    sb.run(&["exec", "-t", "000222", "jones", "--", "true"])
        .code(125);
    assert_eq!(fake.count(), 2);
}

/// A script that runs mfarole stops at a Ctrl-C at its prompt, as at any other Ctrl-C: bash
/// goes on after a child that exited 130, and stops only when it died of SIGINT.
#[test]
fn ctrl_c_at_the_prompt_stops_the_script_around_it() {
    let sb = Sandbox::new(Moto::shared());
    let after = sb.dir.path().join("after");
    let script = format!(
        "{} exec jones -- true 2> {}; touch {}",
        support::BIN,
        sh_quote(sb.dir.path().join("err").to_str().unwrap()),
        sh_quote(after.to_str().unwrap())
    );
    let tmux = Tmux::start(&sb, "script", &format!("bash -c {}", sh_quote(&script)));
    tmux.wait_screen("Enter MFA code", Duration::from_secs(20));
    tmux.keys(&["C-c"]);
    assert_eq!(tmux.status(Duration::from_secs(10)), 130);
    assert!(!after.exists(), "the script went on after the Ctrl-C");
    assert!(read(&sb, "err").contains("mfarole: interrupted"));
    let stty = tmux.stty();
    assert!(stty.split_whitespace().any(|w| w == "echo"), "{stty}");
}

//! Regression tests for the defects found by probing the landed binary as an attacker and a
//! careless user would: completion that ran profile names, secrets left in temporary files,
//! markers written through symlinks, unbounded chain keys, NUL bytes in secrets, failures
//! replayed by every waiting run, and a cache directory behind someone else's symlink.

use crate::support::{
    self, FakeSts, Reply, Sandbox, TempDir, Tmux, ar_ok, gst_ok, names_in, sts_error,
};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

/// A config whose profile names are shell code that creates a marker file when run.
fn hostile_names(sb: &Sandbox) -> Vec<std::path::PathBuf> {
    let d = sb.dir.path();
    let m: Vec<_> = (1..=3).map(|i| d.join(format!("ran{i}"))).collect();
    sb.write_config(format!(
        "[profile safe-canary]\nregion = us-east-1\n[profile $(touch${{IFS}}{})]\n[profile `touch${{IFS}}{}`]\n",
        m[0].display(),
        m[1].display()
    ));
    sb.write_credentials(format!(
        "[$(touch${{IFS}}{})]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = x\n",
        m[2].display()
    ));
    m
}

fn with_bin_on_path(sb: Sandbox) -> Sandbox {
    let bin_dir = Path::new(support::BIN).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap());
    sb.env("PATH", &path)
}

fn assert_nothing_ran(markers: &[std::path::PathBuf]) {
    for m in markers {
        assert!(!m.exists(), "a profile name was executed: {}", m.display());
    }
}

#[test]
fn bash_completion_does_not_execute_profile_names() {
    let sb = with_bin_on_path(Sandbox::empty("http://127.0.0.1:9/"));
    let markers = hostile_names(&sb);
    // The function as bash runs it on Tab, then each completion read back as the shell
    // would parse it once inserted: it must be the name itself, quoted.
    let script = r#"source <(mfarole completions bash)
COMP_WORDS=(mfarole exec ""); COMP_CWORD=2; _mfarole
for w in "${COMPREPLY[@]}"; do eval "set -- $w"; printf '%s\n' "$1"; done"#;
    let out = std::process::Command::new("bash")
        .args(["--norc", "--noprofile", "-c", script])
        .env_clear()
        .envs(sb.base_env())
        .output()
        .unwrap();
    let out = support::Out::of(&["bash -c", script], out);
    out.ok();
    let mut got: Vec<&str> = out.stdout.lines().collect();
    got.sort();
    let mut want: Vec<String> = vec!["safe-canary".into()];
    want.push(format!("$(touch${{IFS}}{})", markers[0].display()));
    want.push(format!("$(touch${{IFS}}{})", markers[2].display()));
    want.push(format!("`touch${{IFS}}{}`", markers[1].display()));
    want.sort();
    assert_eq!(got, want);
    assert_nothing_ran(&markers);
}

/// An interactive shell in tmux with the sandbox's environment, after `setup` ran in it.
fn shell_in_tmux(sb: &Sandbox, tag: &str, shell: &str, setup: &str) -> Tmux {
    let tmux = Tmux::start(sb, tag, shell);
    std::thread::sleep(Duration::from_millis(300));
    tmux.enter(setup);
    tmux.enter("echo setup-$((40+2))");
    tmux.wait_screen("setup-42", Duration::from_secs(10));
    tmux
}

#[test]
fn tab_in_bash_and_zsh_lists_hostile_names_without_running_them() {
    let sb = with_bin_on_path(Sandbox::empty("http://127.0.0.1:9/"));
    let markers = hostile_names(&sb);
    for (shell, setup) in [
        (
            "bash --norc --noprofile",
            "source <(mfarole completions bash)",
        ),
        (
            "zsh -f",
            "autoload -Uz compinit && compinit -u && eval \"$(mfarole completions zsh)\"",
        ),
    ] {
        let tmux = shell_in_tmux(&sb, "tab", shell, setup);
        tmux.type_text("mfarole exec ");
        tmux.keys(&["Tab"]);
        std::thread::sleep(Duration::from_millis(300));
        tmux.keys(&["Tab"]);
        let screen = tmux.wait_screen("safe-canary", Duration::from_secs(10));
        assert!(screen.contains("touch"), "{shell}: {screen}");
        assert!(!screen.contains("FUNCNEST"), "{shell}: {screen}");
        assert_nothing_ran(&markers);
    }
}

#[test]
fn fish_completion_does_not_execute_profile_names() {
    let sb = with_bin_on_path(Sandbox::empty("http://127.0.0.1:9/"));
    let markers = hostile_names(&sb);
    let script = "mfarole completions fish | source; complete -C 'mfarole exec '";
    let out = std::process::Command::new("fish")
        .args(["--no-config", "-c", script])
        .env_clear()
        .envs(sb.base_env())
        .output()
        .unwrap();
    let out = support::Out::of(&["fish -c", script], out);
    out.ok().stdout_has("safe-canary").stdout_has("touch");
    assert_nothing_ran(&markers);
}

/// A sandbox whose STS is `fake`, with one profile `k` of plain keys (no MFA).
fn keys_profile(fake: &FakeSts, extra: &str) -> Sandbox {
    let sb = Sandbox::empty(&fake.url);
    sb.write_config(format!("[profile k]\nregion = us-east-1\n{extra}"));
    sb.write_credentials("[k]\naws_access_key_id = AKIAKEYS\naws_secret_access_key = secretkeys\n");
    sb
}

/// A pid that no process has: a child that has been waited for.
fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

#[test]
fn temporary_copies_left_by_a_killed_writer_are_removed() {
    let fake = FakeSts::start(|_, _| Reply::Http(200, vec![], gst_ok()));
    let sb = keys_profile(&fake, "");
    sb.run(&["exec", "k", "--", "true"]).ok();
    let entry = names_in(&sb.cache)
        .into_iter()
        .find(|n| n.ends_with(".cred"))
        .expect("a cache entry");
    let copy = std::fs::read(sb.cache.join(&entry)).unwrap();
    let plant = |pid: u32| {
        let p = sb.cache.join(format!(".{entry}.{pid}.tmp"));
        std::fs::write(&p, &copy).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        p
    };
    // A writer that is gone: the next run that takes the step's lock removes its copy.
    let dead = plant(dead_pid());
    // A writer that lives (this test) and wrote just now: left alone by runs.
    let live = plant(std::process::id());
    sb.run(&["exec", "--refresh", "k", "--", "true"]).ok();
    assert!(!dead.exists(), "left: {:?}", names_in(&sb.cache));
    assert!(live.exists());
    // `clear PROFILE` removes every copy of the profile's entries.
    let dead = plant(dead_pid());
    sb.run(&["clear", "k"]).ok();
    let left = names_in(&sb.cache);
    assert!(!dead.exists() && !live.exists(), "left: {left:?}");
    assert!(left.iter().all(|n| n.ends_with(".lock")), "left: {left:?}");
}

#[test]
fn a_failure_marker_replaces_a_symlink_instead_of_writing_through_it() {
    let fake = FakeSts::start(|_, _| Reply::Http(403, vec![], sts_error("AccessDenied", "no")));
    let sb = keys_profile(&fake, "");
    sb.run(&["exec", "k", "--", "true"]).code(125);
    let marker = names_in(&sb.cache)
        .into_iter()
        .find(|n| n.ends_with(".fail"))
        .expect("a failure marker");
    let marker = sb.cache.join(marker);
    let victim = sb.dir.path().join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    std::fs::remove_file(&marker).unwrap();
    std::os::unix::fs::symlink(&victim, &marker).unwrap();
    sb.run(&["exec", "k", "--", "true"]).code(125);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    let meta = std::fs::symlink_metadata(&marker).unwrap();
    assert!(meta.is_file(), "the marker is still a symlink");
    assert_eq!(meta.mode() & 0o777, 0o600);
}

/// A config with a chain of `n` roles on top of keys.
fn role_chain(fake: &FakeSts, n: usize) -> Sandbox {
    let mut extra = String::new();
    for i in 1..=n {
        let source = if i == 1 {
            "k".to_string()
        } else {
            format!("r{}", i - 1)
        };
        extra.push_str(&format!(
            "[profile r{i}]\nrole_arn = arn:aws:iam::123456789012:role/r{i}\nsource_profile = {source}\n"
        ));
    }
    keys_profile(fake, &extra)
}

#[test]
fn deep_role_chains_are_served_from_the_cache() {
    let fake = FakeSts::start(|_, _| Reply::Http(200, vec![], ar_ok()));
    let sb = role_chain(&fake, 30);
    sb.run(&["exec", "r30", "--", "true"]).ok();
    assert_eq!(fake.count(), 30);
    let out = sb.run(&["exec", "r30", "--", "true"]);
    out.ok().stderr_lacks("warning");
    assert_eq!(fake.count(), 30, "the second run called STS again");
    for name in names_in(&sb.cache) {
        let len = std::fs::metadata(sb.cache.join(&name)).unwrap().len();
        assert!(len < 2048, "{name} is {len} bytes");
    }
}

#[test]
fn chains_past_the_bound_are_refused_clearly() {
    let fake = FakeSts::start(|_, _| Reply::Http(200, vec![], ar_ok()));
    let sb = role_chain(&fake, 40);
    sb.run(&["exec", "r40", "--", "true"])
        .code(125)
        .one_error_line()
        .stderr_has("profile 'r40'")
        .stderr_has("more than 32 roles");
    assert_eq!(fake.count(), 0);
}

#[test]
fn a_nul_byte_in_a_passed_through_secret_is_a_config_error() {
    let fake = FakeSts::start(|_, _| Reply::Http(500, vec![], vec![]));
    let sb = Sandbox::empty(&fake.url);
    sb.write_config("[profile t]\nregion = us-east-1\n");
    sb.write_credentials(
        "[t]\naws_access_key_id = ASIATEMP\naws_secret_access_key = secretvalue\naws_session_token = tok\0en\n",
    );
    for args in [
        &["exec", "t", "--", "true"][..],
        &["env", "t"],
        &["env", "--format", "dotenv", "t"],
    ] {
        let out = sb.run(args);
        out.code(125)
            .one_error_line()
            .stderr_has("profile 't'")
            .stderr_has("aws_session_token")
            .stderr_lacks("secretvalue")
            .stderr_lacks("true:");
        // Nothing but, for the sh format, the line that makes an `eval` of it fail.
        let failed = "# mfarole: no credentials (its error is on stderr)\nfalse\n";
        assert!(
            out.stdout.is_empty() || (args[1] == "t" && out.stdout == failed),
            "{}",
            out.stdout
        );
    }
    assert_eq!(fake.count(), 0);
}

#[test]
fn runs_waiting_on_a_failed_holder_fail_at_once_with_its_message() {
    let fake = FakeSts::start(|_, _| {
        std::thread::sleep(Duration::from_millis(100));
        Reply::Http(500, vec![], sts_error("InternalFailure", "sts is down"))
    });
    let sb = keys_profile(&fake, "");
    let started = Instant::now();
    let outs = support::parallel(&sb, 8, &["exec", "k", "--", "true"]);
    let took = started.elapsed();
    for out in &outs {
        out.code(125).one_error_line().stderr_has("InternalFailure");
    }
    // One retry cycle (3 attempts), not one per run (24 before the fix).
    assert!(fake.count() <= 6, "{} requests", fake.count());
    assert!(took < Duration::from_secs(15), "took {took:?}");
}

#[test]
fn a_cache_dir_behind_another_users_symlink_is_refused() {
    if !rustix_is_root() {
        eprintln!("skipped: making a symlink of another user needs root");
        return;
    }
    let fake = FakeSts::start(|_, _| Reply::Http(200, vec![], gst_ok()));
    let public = TempDir::new("public");
    std::fs::set_permissions(public.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    // The user's own private directory, which an attacker points a link at.
    let target = TempDir::new("target");
    std::fs::set_permissions(target.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let link = public.path().join("cache");
    std::os::unix::fs::symlink(target.path(), &link).unwrap();
    std::os::unix::fs::lchown(&link, Some(65534), Some(65534)).unwrap();
    let sb = keys_profile(&fake, "").env("MFAROLE_CACHE_DIR", link.to_str().unwrap());
    sb.run(&["exec", "k", "--", "true"])
        .ok()
        .stderr_has("symlink that belongs to uid 65534");
    assert_eq!(names_in(target.path()), Vec::<String>::new());
    // The same link owned by the user is fine.
    std::os::unix::fs::lchown(&link, Some(0), Some(0)).unwrap();
    sb.run(&["exec", "k", "--", "true"])
        .ok()
        .stderr_lacks("warning");
    assert!(!names_in(target.path()).is_empty());
}

fn rustix_is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

// mfarole's `main` is entered from the C runtime without std's start-up (src/main.rs); these
// two are the parts of that start-up it keeps.

#[test]
fn started_with_stderr_closed_no_message_lands_in_a_cache_file() {
    let fake = FakeSts::start(|_, _| Reply::Http(403, vec![], sts_error("AccessDenied", "no")));
    let sb = keys_profile(&fake, "");
    // `2>&-`: a file mfarole opens would get descriptor 2 if it stayed closed, and what `-v`
    // says while the step's lock is open would be written into the lock file.
    let out = std::process::Command::new("sh")
        .args(["-c", "exec \"$@\" 2>&-", "sh", support::BIN])
        .args(["exec", "-v", "k", "--", "true"])
        .env_clear()
        .envs(sb.base_env())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert!(fake.count() > 0, "it never reached STS");
    for name in names_in(&sb.cache) {
        let text = std::fs::read_to_string(sb.cache.join(&name)).unwrap();
        assert!(!text.contains("mfarole:"), "{name} holds stderr: {text:?}");
    }
}

#[test]
fn a_closed_stdout_is_not_a_death_by_sigpipe() {
    use std::os::unix::process::ExitStatusExt;
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let sb = Sandbox::empty("http://127.0.0.1:9/");
    let status = sb
        .command(&["completions", "bash"])
        .stdout(writer)
        .status()
        .unwrap();
    assert_eq!(status.signal(), None, "killed: {status:?}");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn the_command_gets_the_default_sigpipe_even_when_mfarole_was_started_ignoring_it() {
    let fake = FakeSts::start(|_, _| Reply::Http(200, vec![], gst_ok()));
    let sb = keys_profile(&fake, "");
    // `trap '' PIPE`: mfarole starts with SIGPIPE ignored. `yes` must still die of SIGPIPE
    // when `head` is done, as it would run by hand; an inherited "ignored" would make it fail
    // with a write error instead (or loop, for a command that ignores write errors).
    let out = std::process::Command::new("timeout")
        .args(["20", "sh", "-c", "trap '' PIPE; \"$@\" | head -1", "sh"])
        .arg(support::BIN)
        .args(["exec", "k", "--", "yes"])
        .env_clear()
        .envs(sb.base_env())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "y\n", "{stderr}");
    assert!(out.status.success(), "{:?} {stderr}", out.status);
    assert!(stderr.is_empty(), "{stderr}");
}

/// Installed where zsh autoloads vendor completions (as the .deb installs it), the zsh script
/// completes on the first Tab: autoloaded, the file is the function's body (it registered
/// itself only on the first Tab before, so completion began with the second).
#[test]
fn zsh_completion_from_fpath_works_on_the_first_tab() {
    let sb = with_bin_on_path(Sandbox::empty("http://127.0.0.1:9/"));
    sb.write_config("[profile only-one-profile]\nregion = x\n");
    let dir = sb.home.join("zfunc");
    std::fs::create_dir_all(&dir).unwrap();
    let script = std::process::Command::new(support::BIN)
        .args(["completions", "zsh"])
        .output()
        .unwrap()
        .stdout;
    std::fs::write(dir.join("_mfarole"), script).unwrap();
    let setup = format!(
        "fpath=({} $fpath) && autoload -Uz compinit && compinit -u",
        dir.display()
    );
    let tmux = shell_in_tmux(&sb, "zfpath", "zsh -f", &setup);
    tmux.type_text("mfarole exec only-one");
    tmux.keys(&["Tab"]);
    tmux.wait_screen("only-one-profile", Duration::from_secs(10));
}

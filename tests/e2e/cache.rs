//! The session cache and the cross-process lock, end to end. Tests that count STS requests
//! start a moto of their own and read its request recording.

use crate::support::{self, Moto, Sandbox, Tmux};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

/// Runs with no terminal at all, so that a prompt would fail instead of waiting.
fn run_detached(sb: &Sandbox, args: &[&str]) -> support::Out {
    let mut cmd = std::process::Command::new("setsid");
    cmd.arg("-w")
        .arg(support::BIN)
        .args(args)
        .env_clear()
        .envs(sb.base_env())
        .stdin(std::process::Stdio::null());
    support::Out::of(args, cmd.output().unwrap())
}

fn cred_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cred"))
        .collect();
    v.sort();
    v
}

/// A sandbox whose cache holds jones's MFA session, and that entry's file.
fn with_cached_session(moto: &Moto) -> (Sandbox, std::path::PathBuf) {
    let sb = Sandbox::new(moto);
    sb.run(&["exec", "-t", "123456", "jones", "--", "true"])
        .ok();
    let file = cred_files(&sb.cache).remove(0);
    (sb, file)
}

/// Writes a Makefile whose targets run `recipes`, starts `make -jN` in a terminal, and waits
/// for the MFA prompt. Returns the terminal (make's status is its status) and the make
/// directory.
fn make_at_prompt(
    sb: &Sandbox,
    tag: &str,
    recipes: &[String],
    flags: &str,
) -> (Tmux, std::path::PathBuf) {
    let dir = sb.dir.path().join("mk");
    std::fs::create_dir_all(dir.join("out")).unwrap();
    let targets: Vec<String> = (1..=recipes.len()).map(|i| format!("t{i}")).collect();
    let mut makefile = format!("M := {}\nall: {}\n", support::BIN, targets.join(" "));
    for (t, recipe) in targets.iter().zip(recipes) {
        makefile.push_str(&format!("{t}:\n\t{recipe}\n"));
    }
    std::fs::write(dir.join("Makefile"), makefile).unwrap();
    let make = format!("make {flags} > make.log 2>&1");
    let tmux = Tmux::start_in(sb, tag, &dir, &make);
    tmux.wait_screen(
        "Enter MFA code for arn:aws:iam::123456789012:mfa/jones: ",
        Duration::from_secs(30),
    );
    // Give every job time to reach the lock before answering.
    std::thread::sleep(Duration::from_millis(1500));
    (tmux, dir)
}

#[test]
fn a_second_run_makes_no_sts_request() {
    let moto = Moto::start();
    let sb = Sandbox::new(&moto);
    let arn = {
        let mut a = vec!["--"];
        a.extend(support::WHOAMI);
        a
    };
    let mut args = vec!["exec", "-t", "123456", "session-only"];
    args.extend(&arn);
    let first = sb.run(&args);
    first.ok();
    assert_eq!(
        (moto.count("GetSessionToken"), moto.count("AssumeRole")),
        (1, 1)
    );

    let mut args = vec!["exec", "-v", "session-only"];
    args.extend(&arn);
    let second = run_detached(&sb, &args);
    second
        .ok()
        .stderr_has("step 2 (AssumeRole arn:aws:iam::123456789012:role/session-only) from the cache, valid until")
        .stderr_lacks("GetSessionToken for");
    assert_eq!(second.stdout, first.stdout, "same role session");
    assert_eq!(
        (moto.count("GetSessionToken"), moto.count("AssumeRole")),
        (1, 1)
    );

    // Files: 0600 in a 0700 directory.
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&sb.cache), 0o700);
    let files = cred_files(&sb.cache);
    assert_eq!(files.len(), 2);
    for f in &files {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
}

#[test]
fn a_role_after_a_plain_mfa_session_prompts_nothing() {
    let moto = Moto::start();
    let sb = Sandbox::new(&moto);
    sb.run(&["exec", "-t", "123456", "jones", "--", "true"])
        .ok();
    // No token and no terminal: only the cached MFA session can make this work.
    for profile in ["admin", "session-only", "chain1"] {
        run_detached(
            &sb,
            &["exec", profile, "--", "aws", "sts", "get-caller-identity"],
        )
        .ok()
        .stdout_has(&format!("assumed-role/{profile}/"));
    }
    assert_eq!(moto.count("GetSessionToken"), 1);
    assert_eq!(moto.count("AssumeRole"), 3);
}

#[test]
fn make_j8_prompts_once() {
    let moto = Moto::start();
    let sb = Sandbox::new(&moto);
    let profiles = [
        "session-only",
        "admin",
        "chain1",
        "session-only",
        "admin",
        "chain1",
        "session-only",
        "admin",
    ];
    let recipes: Vec<String> = profiles
        .iter()
        .enumerate()
        .map(|(i, p)| {
            format!(
                "$(M) exec {p} -- aws sts get-caller-identity --query Arn --output text > out/{}",
                i + 1
            )
        })
        .collect();
    let (tmux, dir) = make_at_prompt(&sb, "make", &recipes, &format!("-j{}", recipes.len()));
    // Not 123456: the account id 123456789012 is on the screen.
    tmux.enter("975310");
    let status = tmux.status(Duration::from_secs(90));
    let log = std::fs::read_to_string(dir.join("make.log")).unwrap();
    assert_eq!(status, 0, "make failed:\n{log}");
    let screen = tmux.screen();
    assert_eq!(
        screen.matches("Enter MFA code").count(),
        1,
        "screen:\n{screen}"
    );
    assert!(!screen.contains("975310"), "the code was echoed:\n{screen}");
    for (i, p) in profiles.iter().enumerate() {
        let out = std::fs::read_to_string(dir.join(format!("out/{}", i + 1))).unwrap();
        assert!(
            out.contains(&format!("assumed-role/{p}/")),
            "target {}: {out}",
            i + 1
        );
    }
    assert_eq!(moto.count("GetSessionToken"), 1);
    assert_eq!(moto.count("AssumeRole"), 3, "one per distinct role");
}

#[test]
fn damaged_foreign_and_open_cache_files_are_not_trusted() {
    let moto = Moto::start();
    let (sb, file) = with_cached_session(&moto);

    // Truncated.
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, &text[..text.len() / 2]).unwrap();
    let out = sb.run(&["exec", "-t", "123456", "jones", "--", "true"]);
    out.ok()
        .stderr_has("mfarole: warning: ignoring cache file")
        .stderr_has("damaged");
    assert_eq!(out.stderr.lines().count(), 1, "warned once: {}", out.stderr);
    assert_eq!(moto.count("GetSessionToken"), 2);

    // Garbage bytes.
    std::fs::write(&file, [0u8, 0xff, 0x1b, b'[', b'2', b'J']).unwrap();
    sb.run(&["exec", "-t", "123456", "jones", "--", "true"])
        .ok()
        .stderr_has("ignoring cache file");
    assert_eq!(moto.count("GetSessionToken"), 3);

    // Readable by others (the file was rewritten by the last run, so it is whole).
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    sb.run(&["exec", "-t", "123456", "jones", "--", "true"])
        .ok()
        .stderr_has("others can read it");
    assert_eq!(moto.count("GetSessionToken"), 4);
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600,
        "replaced"
    );

    // Another entry's file copied over this one.
    let other = Sandbox::new(&moto);
    other.run(&["exec", "plain", "--", "true"]).ok();
    std::fs::copy(cred_files(&other.cache).remove(0), &file).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    sb.run(&["exec", "-t", "123456", "jones", "--", "true"])
        .ok()
        .stderr_has("holds another entry");

    // A file of another user (only root can make one; CI runs as root).
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .unwrap()
        .stdout
        .trim_ascii()
        == b"0";
    if root {
        sb.run(&["exec", "-t", "123456", "jones", "--", "true"])
            .ok();
        std::os::unix::fs::chown(&file, Some(65534), None).unwrap();
        sb.run(&["exec", "-t", "123456", "jones", "--", "true"])
            .ok()
            .stderr_has("belongs to uid 65534");
        std::os::unix::fs::chown(&sb.cache, Some(65534), None).unwrap();
        sb.run(&["exec", "-t", "123456", "jones", "--", "true"])
            .ok()
            .stderr_has("not using the cache")
            .stderr_has("belongs to uid 65534");
        std::os::unix::fs::chown(&sb.cache, Some(0), None).unwrap();
    }

    // A directory others can write to is not used at all, but the run still works.
    std::fs::set_permissions(&sb.cache, std::fs::Permissions::from_mode(0o777)).unwrap();
    let before = moto.count("GetSessionToken");
    sb.run(&["exec", "-t", "123456", "jones", "--", "true"])
        .ok()
        .stderr_has("not using the cache")
        .stderr_has("others can write to it");
    assert_eq!(moto.count("GetSessionToken"), before + 1);
}

#[test]
fn expired_entries_are_refreshed() {
    let moto = Moto::start();
    let (sb, file) = with_cached_session(&moto);
    let text = std::fs::read_to_string(&file).unwrap();
    let aged: String = text
        .lines()
        .map(|l| {
            if l.starts_with("expiration ") {
                "expiration 2020-01-01T00:00:00Z".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    std::fs::write(&file, aged).unwrap();
    let out = run_detached(&sb, &["exec", "-v", "jones", "--", "true"]);
    // Expired: it must ask for a code, and there is no terminal.
    out.code(125)
        .stderr_has("2020-01-01 00:00:00 UTC")
        .stderr_has("no terminal");
    sb.run(&["exec", "-t", "123456", "jones", "--", "true"])
        .ok();
    assert_eq!(moto.count("GetSessionToken"), 2);

    // A margin larger than the session's life makes a fresh entry stale too.
    let sb2 = Sandbox::new(&moto).env("MFAROLE_REFRESH_MARGIN", "13h");
    sb2.run(&["exec", "-t", "123456", "jones", "--", "true"])
        .ok();
    sb2.run(&["exec", "-t", "123456", "jones", "--", "true"])
        .ok();
    assert_eq!(moto.count("GetSessionToken"), 4);
}

#[test]
fn refresh_clear_and_changed_inputs() {
    let moto = Moto::start();
    let sb = Sandbox::new(&moto);
    sb.run(&["exec", "plain", "--", "true"]).ok();
    sb.run(&["exec", "plain", "--", "true"]).ok();
    assert_eq!(moto.count("AssumeRole"), 1);
    sb.run(&["exec", "--refresh", "plain", "--", "true"]).ok();
    assert_eq!(moto.count("AssumeRole"), 2);
    sb.run(&["exec", "plain", "--", "true"]).ok();
    assert_eq!(moto.count("AssumeRole"), 2, "--refresh stored the new one");

    // A changed config (another external id, another duration) is another entry.
    sb.run(&["exec", "-d", "20m", "plain", "--", "true"]).ok();
    assert_eq!(moto.count("AssumeRole"), 3);
    sb.run(&["exec", "ext", "--", "true"]).ok();
    assert_eq!(moto.count("AssumeRole"), 4);

    // Rotated source keys: jones's keys replaced by smith's.
    sb.run(&["exec", "-t", "123456", "jones", "--", "true"])
        .ok();
    let creds = std::fs::read_to_string(&sb.credentials).unwrap();
    let rotated = creds
        .replace(moto.get("users.jones.key"), moto.get("users.smith.key"))
        .replace(
            moto.get("users.jones.secret"),
            moto.get("users.smith.secret"),
        );
    sb.write_credentials(rotated);
    let out = run_detached(&sb, &["exec", "jones", "--", "true"]);
    out.code(125).stderr_has("no terminal");

    // clear PROFILE removes that profile's steps; clear removes everything.
    sb.run(&["clear", "plain"]).ok();
    sb.run(&["exec", "plain", "--", "true"]).ok();
    assert_eq!(moto.count("AssumeRole"), 5);
    sb.run(&["clear"]).ok();
    assert!(cred_files(&sb.cache).is_empty());
}

#[test]
fn no_usable_home_still_runs() {
    let moto = Moto::shared();
    // The cache path is under a regular file: it cannot be created.
    let sb = Sandbox::new(moto).env("MFAROLE_CACHE_DIR", "/dev/null/mfarole");
    let out = sb.run(&["exec", "plain", "--", "true"]);
    out.ok()
        .stderr_has("mfarole: warning: not using the cache /dev/null/mfarole");
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);

    // No HOME, no cache variables: silent, no cache.
    let sb = Sandbox::new(moto);
    let mut cmd = sb.command(&["exec", "plain", "--", "true"]);
    cmd.env_remove("HOME").env_remove("MFAROLE_CACHE_DIR");
    let out = support::Out::of(&["exec plain (no HOME)"], cmd.output().unwrap());
    out.ok();
    assert_eq!(out.stderr, "");

    // XDG_CACHE_HOME is used when set.
    let xdg = sb.dir.path().join("xdg");
    let mut cmd = sb.command(&["exec", "plain", "--", "true"]);
    cmd.env_remove("MFAROLE_CACHE_DIR")
        .env("XDG_CACHE_HOME", &xdg);
    cmd.status().unwrap();
    assert_eq!(cred_files(&xdg.join("mfarole")).len(), 1);
    // And else $HOME/.cache/mfarole.
    let mut cmd = sb.command(&["exec", "plain", "--", "true"]);
    cmd.env_remove("MFAROLE_CACHE_DIR");
    cmd.status().unwrap();
    assert_eq!(cred_files(&sb.home.join(".cache/mfarole")).len(), 1);
}

#[test]
fn a_waiter_gives_up_and_a_dead_holder_blocks_nobody() {
    let moto = Moto::shared();
    let sb = Sandbox::new(moto).env("MFAROLE_LOCK_TIMEOUT", "1s");
    // A holder waits at the prompt with the lock of jones's MFA session.
    let holder = Tmux::start(
        &sb,
        "holder",
        &format!("{} exec jones -- true", support::BIN),
    );
    holder.wait_screen("Enter MFA code", Duration::from_secs(20));
    let started = std::time::Instant::now();
    let out = sb.run(&["exec", "-t", "123456", "jones", "--", "true"]);
    out.code(125)
        .one_error_line()
        .stderr_has("gave up after 1s waiting for another mfarole")
        .stderr_has("which may be waiting for an MFA code at its prompt (answer it there)");
    assert!(started.elapsed() < Duration::from_secs(5));
    // The holder dies without releasing anything by hand: the kernel drops its lock.
    drop(holder);
    std::thread::sleep(Duration::from_millis(300));
    sb.run(&["exec", "-t", "123456", "jones", "--", "true"])
        .ok();
}

#[test]
fn ctrl_c_at_the_prompt_ends_the_whole_build() {
    let moto = Moto::start();
    let sb = Sandbox::new(&moto);
    // `make -k -j4` with eight targets: four wait behind the prompt, four are not started yet.
    let recipes: Vec<String> = (1..=8)
        .map(|i| format!("$(M) exec session-only -- true; echo $$? > rc{i}"))
        .collect();
    let (tmux, dir) = make_at_prompt(&sb, "makeint", &recipes, "-k -j4");
    tmux.keys(&["C-c"]);
    // As a Ctrl-C at ssh's prompt: the terminal's whole job is interrupted, make too.
    assert_eq!(tmux.status(Duration::from_secs(20)), 130);
    let log = std::fs::read_to_string(dir.join("make.log")).unwrap();
    assert!(log.contains("Interrupt"), "make.log:\n{log}");
    let ours: Vec<&str> = log.lines().filter(|l| l.contains("mfarole:")).collect();
    assert_eq!(ours, ["mfarole: interrupted"], "make.log:\n{log}");
    for i in 1..=8 {
        let rc = std::fs::read_to_string(dir.join(format!("rc{i}"))).unwrap_or_default();
        assert!(rc.trim() != "0", "target {i} ran: make.log:\n{log}");
    }
    let screen = tmux.screen();
    assert_eq!(
        screen.matches("Enter MFA code").count(),
        1,
        "screen:\n{screen}"
    );
    assert_eq!(moto.count("GetSessionToken"), 0);
    // A new run right after is not taken for one of the waiters.
    sb.run(&["exec", "-t", "123456", "session-only", "--", "true"])
        .ok();
}

/// `-v` says once why a cached step is not used (it looked twice: resuming, then under the
/// step's lock), not twice per run or per renewal of `exec --server`.
#[test]
fn a_stale_entry_is_explained_once() {
    let moto = Moto::start();
    let sb = Sandbox::new(&moto);
    sb.run(&["exec", "smith", "--", "true"]).ok();
    let mut cmd = sb.command(&["exec", "-v", "smith", "--", "true"]);
    cmd.env("MFAROLE_REFRESH_MARGIN", "13h");
    let out = support::Out::of(&["exec -v"], cmd.output().unwrap());
    out.ok();
    assert_eq!(
        out.stderr.matches("getting new ones").count(),
        1,
        "{}",
        out.stderr
    );
    assert_eq!(moto.count("GetSessionToken"), 2);
}

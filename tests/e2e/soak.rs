//! A fault soak of the whole run: 32 parallel runs with an empty cache against an STS that
//! answers slowly, with 500s, with dropped connections and with junk at random, while runs are
//! killed with SIGKILL at random moments. Afterwards: every cache entry is absent or complete,
//! no lock is left held, no temporary file survives the next run, no MFA code was sent twice,
//! and no output holds a secret. A few seconds by default; `MFAROLE_SOAK_ROUNDS=N` for longer.

use crate::support::{FakeSts, Reply, Sandbox, ar_ok, gst_ok, names_in};
use std::collections::HashMap;
use std::time::Duration;

/// A small deterministic generator, so that a failing soak can be replayed.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn flaky_sts() -> FakeSts {
    let seed = std::sync::Mutex::new(0x5eed_u64);
    FakeSts::start(move |n, body| {
        // The first answer is always a failure, so that every soak meets one.
        let roll = if n == 1 {
            0
        } else {
            next(&mut seed.lock().unwrap()) % 10
        };
        let ok = if body.contains("Action=GetSessionToken") {
            gst_ok()
        } else {
            ar_ok()
        };
        match roll {
            0 | 1 => Reply::Http(500, vec![], b"<html>oops</html>".to_vec()),
            2 => Reply::Truncated(200, "<AssumeRoleResponse><Assu".into()),
            3 => Reply::Http(200, vec![], b"\x00\x01junk".to_vec()),
            4 | 5 => {
                std::thread::sleep(Duration::from_millis(250));
                Reply::Http(200, vec![], ok)
            }
            _ => Reply::Http(200, vec![], ok),
        }
    })
}

#[test]
fn killed_and_failing_runs_leave_a_consistent_cache() {
    let rounds: usize = std::env::var("MFAROLE_SOAK_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let fake = flaky_sts();
    let sb = Sandbox::empty(&fake.url)
        .env("MFAROLE_LOCK_TIMEOUT", "20s")
        .env("AWS_MAX_ATTEMPTS", "2");
    // A new code for every prompt: a counter, as a hardware token would give.
    let counter = sb.dir.path().join("codes");
    let mfa = sb.dir.path().join("mfa");
    std::fs::write(
        &mfa,
        format!(
            "#!/bin/sh\nexec 9>>{c}.lock\nflock 9\necho x >> {c}\nprintf '%06d\\n' $(wc -l < {c})\n",
            c = counter.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&mfa, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    sb.write_config(format!(
        "[profile jones]\nmfa_serial = arn:aws:iam::123456789012:mfa/jones\nmfa_process = {}\nregion = us-east-1\n\
         [profile r0]\nrole_arn = arn:aws:iam::123456789012:role/r0\nsource_profile = jones\n\
         [profile r1]\nrole_arn = arn:aws:iam::123456789012:role/r1\nsource_profile = jones\n\
         [profile r2]\nrole_arn = arn:aws:iam::123456789012:role/r2\nsource_profile = jones\n\
         [profile r3]\nrole_arn = arn:aws:iam::123456789012:role/r3\nsource_profile = jones\n",
        mfa.display()
    ));
    sb.write_credentials(
        "[jones]\naws_access_key_id = AKIAJONES\naws_secret_access_key = longtermsecret\n",
    );

    let mut rng = 0x1234_5678_u64;
    let mut outputs = Vec::new();
    let mut statuses: HashMap<String, usize> = HashMap::new();
    for _ in 0..rounds {
        let _ = std::fs::remove_dir_all(&sb.cache);
        let mut children = Vec::new();
        for _ in 0..32 {
            let profile = format!("r{}", next(&mut rng) % 4);
            let mut c = sb.command(&["exec", &profile, "--", "true"]);
            c.stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            let kill_after = match next(&mut rng) % 3 {
                0 => Some(Duration::from_millis(next(&mut rng) % 300)),
                _ => None,
            };
            children.push((c.spawn().unwrap(), kill_after));
        }
        let started = std::time::Instant::now();
        for (child, kill_after) in &mut children {
            if let Some(after) = kill_after {
                let left = after.saturating_sub(started.elapsed());
                std::thread::sleep(left);
                let _ = child.kill();
            }
        }
        for (child, _) in children {
            let o = child.wait_with_output().unwrap();
            let status = match o.status.code() {
                Some(c) => c.to_string(),
                None => "killed".to_string(),
            };
            *statuses.entry(status).or_default() += 1;
            outputs.push(String::from_utf8_lossy(&o.stderr).into_owned());
            outputs.push(String::from_utf8_lossy(&o.stdout).into_owned());
        }
        check_cache(&sb.cache);
    }

    eprintln!(
        "soak: {rounds} rounds, {} STS requests, statuses {statuses:?}",
        fake.count()
    );
    // The soak must have met every outcome, or it proved nothing.
    for want in ["0", "125", "killed"] {
        assert!(
            statuses.contains_key(want),
            "no run ended {want}: {statuses:?}"
        );
    }
    // No lock is left held, and the next run sweeps what killed writers left.
    let out = sb.run(&["exec", "--refresh", "r0", "--", "true"]);
    assert!(
        out.code == Some(0) || out.code == Some(125),
        "{:?} {}",
        out.code,
        out.stderr
    );
    assert!(
        !out.stderr.contains("MFAROLE_LOCK_TIMEOUT"),
        "{}",
        out.stderr
    );
    outputs.push(out.stderr.clone());
    let left: Vec<String> = names_in(&sb.cache)
        .into_iter()
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
    check_cache(&sb.cache);

    // No MFA code was sent twice (a code is single-use: a retry after it may have reached
    // STS would burn the session).
    let mut seen: HashMap<String, usize> = HashMap::new();
    for body in fake.requests.lock().unwrap().iter() {
        if let Some(code) = body.split('&').find_map(|kv| kv.strip_prefix("TokenCode=")) {
            *seen.entry(code.to_string()).or_default() += 1;
        }
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "codes sent twice: {twice:?}");
    // No output holds a secret.
    for text in &outputs {
        for secret in [
            "longtermsecret",
            "fakesecret",
            "faketoken",
            "rolesecret",
            "roletoken",
        ] {
            assert!(!text.contains(secret), "{secret} in output: {text}");
        }
        assert!(!text.contains("panicked"), "{text}");
    }
}

/// Every entry is complete: its magic line and every field, or it is absent.
fn check_cache(dir: &std::path::Path) {
    for name in names_in(dir) {
        let path = dir.join(&name);
        if name.ends_with(".cred") {
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(text.starts_with("mfarole-cache v1\n"), "{name}: {text:?}");
            for field in [
                "key ",
                "access_key_id ",
                "secret_access_key ",
                "session_token ",
                "expiration ",
            ] {
                assert!(
                    text.lines().any(|l| l.starts_with(field)),
                    "{name} lacks {field}"
                );
            }
            assert!(text.ends_with('\n'), "{name} is cut");
        }
        if name.ends_with(".lock") {
            // flock -n succeeds only when no process holds it.
            let free = std::process::Command::new("flock")
                .args(["-n", path.to_str().unwrap(), "true"])
                .status()
                .unwrap()
                .success();
            let held_by_live_run = !free;
            assert!(!held_by_live_run, "{name} is still locked");
        }
    }
}

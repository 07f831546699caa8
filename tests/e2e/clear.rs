//! `mfarole clear` (issue 22, item 13): says what it removed, names the other profiles that
//! shared a removed MFA session, removes the lock files of what it removed, and `clear`
//! without a profile leaves no lock file but those a running mfarole holds.

use crate::support::{Moto, Sandbox, names_in};

fn locks(sb: &Sandbox) -> Vec<String> {
    names_in(&sb.cache)
        .into_iter()
        .filter(|n| n.ends_with(".lock"))
        .collect()
}

#[test]
fn clear_profile_says_what_it_removed_and_who_shared_it() {
    let moto = Moto::shared();
    let sb = Sandbox::new(moto);
    sb.run(&["exec", "-t", "123456", "admin", "--", "true"])
        .ok();
    sb.run(&["exec", "plain", "--", "true"]).ok();
    let before = locks(&sb);
    let out = sb.run(&["clear", "admin"]);
    out.ok().one_error_line();
    assert_eq!(
        out.stderr.trim_end(),
        format!(
            "mfarole: removed 2 cached sessions of 'admin' and 2 lock files: GetSessionToken with MFA for 'jones', shared with 'chain1', 'hop2', 'hop3', 'jones', 'session-only'; AssumeRole {} for 'admin'",
            moto.get("roles.admin")
        )
    );
    // plain's session and its lock stay.
    assert_eq!(locks(&sb).len(), before.len() - 2, "{before:?}");
    let out = sb.run(&["clear", "admin"]);
    out.ok()
        .stderr_has("mfarole: no cached sessions of 'admin' to remove");
}

#[test]
fn clear_leaves_no_lock_file_but_a_held_one() {
    let sb = Sandbox::new(Moto::shared());
    sb.run(&["exec", "-t", "123456", "admin", "--", "true"])
        .ok();
    sb.run(&["exec", "plain", "--", "true"]).ok();
    let all = locks(&sb);
    assert!(all.len() >= 3, "{all:?}");
    // A running mfarole holds one (this test, as it would).
    let held = std::fs::File::open(sb.cache.join(&all[0])).unwrap();
    held.lock().unwrap();
    let out = sb.run(&["clear"]);
    out.ok().one_error_line().stderr_has(&format!(
        "mfarole: removed 3 cached sessions and {} lock files (1 lock file left: a running mfarole holds it)",
        all.len() - 1
    ));
    assert_eq!(locks(&sb), [all[0].clone()]);
    drop(held);
    sb.run(&["clear"])
        .ok()
        .stderr_has("mfarole: no cached sessions to remove and 1 lock file");
    assert_eq!(names_in(&sb.cache), Vec::<String>::new());
    // And the next run locks and caches as before.
    sb.run(&["exec", "plain", "--", "true"]).ok();
}

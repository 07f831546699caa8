//! mfarole in a minimal root: nothing but the binary and the libraries `ldd` names (no
//! `/etc/ssl`, no `/etc/passwd`, no shell, no home), entered with `chroot`, talking to moto on
//! loopback. Needs root (for chroot and a read-only bind mount); CI runs as root.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use support::{Moto, TempDir};

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// Copies `bin` to `root/name` and every library it links to its own path under `root`.
fn install(root: &Path, bin: &Path, name: &str) {
    std::fs::copy(bin, root.join(name)).unwrap();
    let ldd = Command::new("ldd").arg(bin).output().unwrap();
    for line in String::from_utf8_lossy(&ldd.stdout).lines() {
        let path = line
            .split_whitespace()
            .find(|w| w.starts_with('/'))
            .map(PathBuf::from);
        let Some(path) = path else { continue };
        let dest = root.join(path.strip_prefix("/").unwrap());
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&path, &dest).unwrap();
    }
}

fn build_root(moto: &Moto, dir: &Path) -> PathBuf {
    let root = dir.join("root");
    std::fs::create_dir_all(root.join(".aws")).unwrap();
    install(&root, Path::new(support::BIN), "mfarole");
    install(&root, Path::new("/usr/bin/env"), "env");
    // No HOME: the AWS default of ~/.aws resolves against "/", the working directory.
    std::fs::write(
        root.join(".aws/config"),
        format!(
            "[profile smith]\nregion = us-east-1\nendpoint_url = {url}\n\
             [profile plain]\nrole_arn = {role}\nsource_profile = smith\n\
             [profile jones]\nmfa_serial = {serial}\nmfa_process = mfa jones -q\nendpoint_url = {url}\n",
            url = moto.url(),
            role = moto.get("roles.plain"),
            serial = moto.get("mfa_serial"),
        ),
    )
    .unwrap();
    std::fs::write(
        root.join(".aws/credentials"),
        format!(
            "[smith]\naws_access_key_id = {}\naws_secret_access_key = {}\n\
             [jones]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            moto.get("users.smith.key"),
            moto.get("users.smith.secret"),
            moto.get("users.jones.key"),
            moto.get("users.jones.secret"),
        ),
    )
    .unwrap();
    root
}

/// Runs `inner_env` + `args` in the root, optionally read-only, with nothing else around.
fn in_root(root: &Path, read_only: bool, inner_env: &[&str], args: &[&str]) -> support::Out {
    let r = support::sh_quote(root.to_str().unwrap());
    let mount = if read_only {
        format!("mount --bind {r} {r} && mount -o remount,ro,bind {r} && ")
    } else {
        String::new()
    };
    let script = format!(
        "{mount}exec /usr/bin/env -i {} /usr/sbin/chroot {r} {}",
        inner_env.join(" "),
        args.iter()
            .map(|a| support::sh_quote(a))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let out = Command::new("/usr/bin/unshare")
        .args(["-m", "/bin/sh", "-c", &script])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .output()
        .unwrap();
    support::Out::of(args, out)
}

#[test]
fn runs_in_a_root_with_only_the_binary_and_libc() {
    if !is_root() {
        eprintln!("skipped: needs root for chroot");
        return;
    }
    let moto = Moto::shared();
    let dir = TempDir::new("root");
    let root = build_root(moto, dir.path());
    assert!(!root.join("etc").exists() && !root.join("bin/sh").exists());

    // Empty environment, writable root: no HOME, so no cache and not a word about it.
    let out = in_root(
        &root,
        false,
        &[],
        &["/mfarole", "exec", "plain", "--", "/env"],
    );
    out.ok()
        .stdout_has("AWS_ACCESS_KEY_ID=ASIA")
        .stdout_has("AWS_SESSION_TOKEN=")
        .stdout_has("AWS_REGION=us-east-1");
    assert_eq!(out.stderr, "");

    // With a HOME the cache works there, and a second run uses it.
    let home = [
        "HOME=/home",
        "AWS_CONFIG_FILE=/.aws/config",
        "AWS_SHARED_CREDENTIALS_FILE=/.aws/credentials",
    ];
    in_root(
        &root,
        false,
        &home,
        &["/mfarole", "exec", "plain", "--", "/env"],
    )
    .ok();
    assert!(root.join("home/.cache/mfarole").is_dir());
    let v = in_root(
        &root,
        false,
        &home,
        &["/mfarole", "exec", "-v", "plain", "--", "/env"],
    );
    v.ok().stderr_has("from the cache");

    // HOME unset and / read-only: still works.
    let out = in_root(
        &root,
        true,
        &[],
        &["/mfarole", "exec", "plain", "--", "/env"],
    );
    out.ok().stdout_has("AWS_ACCESS_KEY_ID=ASIA");
    // A cache path that cannot be created: one warning at most.
    let out = in_root(
        &root,
        true,
        &["MFAROLE_CACHE_DIR=/cache"],
        &["/mfarole", "exec", "plain", "--", "/env"],
    );
    out.ok();
    assert!(out.stderr.lines().count() <= 1, "{}", out.stderr);

    // mfa_process needs a shell, and says so.
    in_root(
        &root,
        false,
        &[],
        &["/mfarole", "exec", "jones", "--", "/env"],
    )
    .code(125)
    .one_error_line()
    .stderr_has("needs /bin/sh");
    // With the code given there is nothing to run but the command.
    in_root(
        &root,
        false,
        &[],
        &["/mfarole", "exec", "-t", "123456", "jones", "--", "/env"],
    )
    .ok()
    .stdout_has("AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE");
}

#[test]
fn the_binary_links_only_the_c_runtime() {
    let ldd = Command::new("ldd").arg(support::BIN).output().unwrap();
    let text = String::from_utf8_lossy(&ldd.stdout);
    for line in text.lines() {
        let lib = line.split_whitespace().next().unwrap_or("");
        assert!(
            lib.starts_with("linux-vdso")
                || lib.starts_with("libc.so")
                || lib.starts_with("libgcc_s.so")
                || lib.contains("ld-linux"),
            "unexpected library: {line}"
        );
    }
}

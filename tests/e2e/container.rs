//! mfarole in a minimal root: nothing but the binary and the libraries `ldd` names (no
//! `/etc/ssl`, no `/etc/passwd`, no shell, no home), entered with `chroot`, talking to moto on
//! loopback. Needs root (for chroot and a read-only bind mount); CI runs as root.

use crate::support::{self, Moto, TempDir};
use std::path::{Path, PathBuf};
use std::process::Command;

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

/// The static build, made the way the README documents it (once per test binary run):
/// `cargo build --release --target host-tuple --config 'build.rustflags=[...crt-static]'`.
fn static_bin() -> &'static Path {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = Command::new(&cargo)
            .current_dir(manifest)
            .args([
                "build",
                "--release",
                "--target",
                "host-tuple",
                "--config",
                "build.rustflags=['-C','target-feature=+crt-static']",
                "--message-format=json-render-diagnostics",
            ])
            .env_remove("RUSTFLAGS")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "static build failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The executable's path, from cargo's own report.
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text
            .lines()
            .rev()
            .find(|l| l.contains("\"executable\":\"") && l.contains("/mfarole\""))
            .expect("cargo reported no mfarole executable");
        let start = line.find("\"executable\":\"").unwrap() + 14;
        let end = start + line[start..].find('"').unwrap();
        PathBuf::from(&line[start..end])
    })
}

/// What the ELF file asks of the loader: its PT_INTERP, and its DT_NEEDED count.
fn elf_dynamic_needs(path: &Path) -> (bool, usize) {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[..4], b"\x7fELF");
    assert_eq!(b[4], 2, "64-bit ELF expected");
    let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) as usize;
    let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap()) as usize;
    let (phoff, phentsize, phnum) = (u64_at(0x20), u16_at(0x36), u16_at(0x38));
    let mut interp = false;
    let mut needed = 0;
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        match u32_at(ph) {
            3 => interp = true,
            2 => {
                let (off, size) = (u64_at(ph + 8), u64_at(ph + 32));
                for entry in (off..off + size).step_by(16) {
                    match u64_at(entry) {
                        0 => break,
                        1 => needed += 1,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    (interp, needed)
}

#[test]
fn the_static_build_needs_no_loader_and_no_library() {
    let bin = static_bin();
    assert_eq!(elf_dynamic_needs(bin), (false, 0), "{}", bin.display());
    // The dynamic build, for contrast, has both: the check can tell them apart.
    let (interp, needed) = elf_dynamic_needs(Path::new(support::BIN));
    assert!(interp && needed > 0);
    let size = std::fs::metadata(bin).unwrap().len();
    assert!(size < 3_500_000, "static binary is {size} bytes");
}

/// A DNS server on 127.0.0.2:53 (as `/etc/resolv.conf` can only name port 53) that answers
/// every A question with 127.0.0.1 and every other question with no record, and counts them.
struct Dns {
    questions: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Dns {
    fn start() -> Option<Dns> {
        let socket = std::net::UdpSocket::bind("127.0.0.2:53").ok()?;
        let questions = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = questions.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while let Ok((n, from)) = socket.recv_from(&mut buf) {
                let q = &buf[..n];
                if n < 17 {
                    continue;
                }
                // The question: labels from offset 12, then type and class.
                let mut i = 12;
                let mut name = Vec::new();
                while i < n && q[i] != 0 {
                    let len = q[i] as usize;
                    name.push(
                        String::from_utf8_lossy(&q[i + 1..(i + 1 + len).min(n)]).into_owned(),
                    );
                    i += 1 + len;
                }
                let end = i + 5;
                if end > n {
                    continue;
                }
                let qtype = u16::from_be_bytes([q[i + 1], q[i + 2]]);
                seen.lock()
                    .unwrap()
                    .push(format!("{} {qtype}", name.join(".")));
                let a = qtype == 1;
                let mut r = Vec::from(&q[..2]);
                r.extend_from_slice(&[0x81, 0x80, 0, 1, 0, u8::from(a), 0, 0, 0, 0]);
                r.extend_from_slice(&q[12..end]);
                if a {
                    r.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1]);
                }
                let _ = socket.send_to(&r, from);
            }
        });
        Some(Dns { questions })
    }
}

/// A root with nothing but the static mfarole, a static child, the AWS config and `etc`.
fn static_root(moto: &Moto, dir: &Path, etc: &[(&str, &str)]) -> PathBuf {
    let root = dir.join("root");
    std::fs::create_dir_all(root.join(".aws")).unwrap();
    std::fs::copy(static_bin(), root.join("mfarole")).unwrap();
    let src = dir.join("printenv.c");
    std::fs::write(
        &src,
        "#include <stdio.h>\nextern char **environ;\nint main(void){for(char **e=environ;*e;e++)puts(*e);return 0;}\n",
    )
    .unwrap();
    let cc = Command::new("cc")
        .args(["-static", "-O2", "-o"])
        .arg(root.join("printenv"))
        .arg(&src)
        .status()
        .unwrap();
    assert!(cc.success(), "cc -static failed");
    let port = moto.url().rsplit(':').next().unwrap().trim_end_matches('/');
    std::fs::write(
        root.join(".aws/config"),
        format!(
            "[profile smith]\nregion = us-east-1\nendpoint_url = http://localhost:{port}\n\
             [profile plain]\nrole_arn = {role}\nsource_profile = smith\n",
            role = moto.get("roles.plain"),
        ),
    )
    .unwrap();
    std::fs::write(
        root.join(".aws/credentials"),
        format!(
            "[smith]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            moto.get("users.smith.key"),
            moto.get("users.smith.secret"),
        ),
    )
    .unwrap();
    for (name, text) in etc {
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc").join(name), text).unwrap();
    }
    root
}

fn files_in(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// A static root whose `/etc` holds only `hosts`; `None` (after saying why) without root.
fn hosts_root(tag: &str) -> Option<(TempDir, PathBuf)> {
    if !is_root() {
        eprintln!("skipped: needs root for chroot");
        return None;
    }
    let dir = TempDir::new(tag);
    let root = static_root(
        Moto::shared(),
        dir.path(),
        &[("hosts", "127.0.0.1 localhost\n")],
    );
    Some((dir, root))
}

#[test]
fn the_static_binary_resolves_sts_by_etc_hosts_in_an_empty_root() {
    let Some((_dir, root)) = hosts_root("static-hosts") else {
        return;
    };
    assert_eq!(
        files_in(&root),
        [
            ".aws/config",
            ".aws/credentials",
            "etc/hosts",
            "mfarole",
            "printenv"
        ]
    );
    let out = in_root(
        &root,
        true,
        &[],
        &["/mfarole", "exec", "plain", "--", "/printenv"],
    );
    out.ok()
        .stdout_has("AWS_ACCESS_KEY_ID=ASIA")
        .stdout_has("AWS_SESSION_TOKEN=")
        .stdout_has("MFAROLE_PROFILE=plain");
    assert_eq!(out.stderr, "");
}

#[test]
fn the_static_binary_resolves_sts_by_dns_without_etc_hosts() {
    if !is_root() {
        eprintln!("skipped: needs root for chroot");
        return;
    }
    let Some(dns) = Dns::start() else {
        eprintln!("skipped: 127.0.0.2:53 is taken, so no DNS answerer can run here");
        return;
    };
    let moto = Moto::shared();
    let dir = TempDir::new("static-dns");
    let root = static_root(
        moto,
        dir.path(),
        &[("resolv.conf", "nameserver 127.0.0.2\n")],
    );
    assert!(!root.join("etc/hosts").exists());
    let out = in_root(
        &root,
        true,
        &[],
        &["/mfarole", "exec", "plain", "--", "/printenv"],
    );
    out.ok().stdout_has("AWS_ACCESS_KEY_ID=ASIA");
    let asked = dns.questions.lock().unwrap().clone();
    assert!(
        asked.iter().any(|q| q == "localhost 1"),
        "the resolver never asked for localhost: {asked:?}"
    );
}

#[test]
fn the_static_binary_runs_with_stdin_closed_in_a_root_without_dev() {
    let Some((_dir, root)) = hosts_root("static-closed") else {
        return;
    };
    assert!(!root.join("dev").exists());
    // `<&-`: descriptor 0 closed, and no /dev/null to put in its place.
    let script = format!(
        "exec /usr/bin/env -i /usr/sbin/chroot {} /mfarole exec plain -- /printenv <&-",
        support::sh_quote(root.to_str().unwrap())
    );
    let out = Command::new("/bin/sh")
        .args(["-c", &script])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .output()
        .unwrap();
    let out = support::Out::of(&["exec", "plain", "stdin closed"], out);
    out.ok().stdout_has("AWS_ACCESS_KEY_ID=ASIA");
    assert_eq!(out.stderr, "");
}

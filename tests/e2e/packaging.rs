//! The release files, made by `packaging/release.sh` as CI makes them for a tag: the archive
//! unpacked into an empty directory and run from there, its checksums, a second run that must
//! give the same bytes, the `.deb` listed, extracted into an empty root, run, its man page shown,
//! and lintian's verdict; and what the crate carries.
//!
//! One static release build serves them all (the same command as `container.rs`, so cargo builds
//! it once for both). A tool that `tests/deps.sh` could not install (cargo-deb, lintian,
//! dpkg-deb, man) skips its part with the reason printed.

use crate::support::Out;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Every file's mtime in both runs: 2026-01-01 00:00:00 UTC.
const EPOCH: &str = "1767225600";
const EPOCH_TEXT: &str = "2026-01-01 00:00";
const VERSION: &str = env!("CARGO_PKG_VERSION");

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn run(cmd: &mut Command) -> Out {
    let args = format!("{cmd:?}");
    let out = cmd.output().unwrap_or_else(|e| panic!("{args}: {e}"));
    Out::of(&[&args], out)
}

/// Whether `program args` starts and succeeds (is the tool there at all).
fn works(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

fn has_cargo_deb() -> bool {
    works(&cargo(), &["deb", "--version"])
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn host_target() -> String {
    let out = run(Command::new("rustc").arg("-vV"));
    out.ok();
    out.stdout
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .to_string()
}

/// One run of the script into `dir` (emptied first); `--no-deb` where cargo-deb is missing.
fn release(dir: &Path, extra: &[&str]) -> Vec<String> {
    let _ = std::fs::remove_dir_all(dir);
    let mut cmd = Command::new(manifest_dir().join("packaging/release.sh"));
    cmd.args(extra)
        .arg(dir)
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .env("CARGO", cargo());
    if !has_cargo_deb() {
        cmd.arg("--no-deb");
    }
    let out = run(&mut cmd);
    out.ok();
    // It prints the paths of what it made, one a line.
    out.stdout
        .lines()
        .map(|l| {
            Path::new(l)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

/// `target/tmp/packaging/run-PID`, this test process's: kept for a look after a failure, and
/// removed by a later run once PID is gone (two `cargo test` may run at once).
fn work_dir() -> PathBuf {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("packaging");
    for entry in std::fs::read_dir(&base).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_prefix("run-")
            && !Path::new("/proc").join(pid).exists()
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    base.join(format!("run-{}", std::process::id()))
}

/// The first run's files, in `work_dir()/first`.
struct Dist {
    dir: PathBuf,
    archive: String,
    deb: Option<String>,
}

fn dist() -> &'static Dist {
    static DIST: OnceLock<Dist> = OnceLock::new();
    DIST.get_or_init(|| {
        let dir = work_dir().join("first");
        let files = release(&dir, &[]);
        let archive = format!("mfarole-{VERSION}-{}.tar.gz", host_target());
        assert!(files.contains(&archive), "{files:?}");
        assert_eq!(files.last().map(String::as_str), Some("SHA256SUMS"));
        let deb = files.iter().find(|f| f.ends_with(".deb")).cloned();
        Dist { dir, archive, deb }
    })
}

/// The `.deb` of the first run, or why there is none.
fn deb() -> Option<(&'static Dist, PathBuf)> {
    if !has_cargo_deb() {
        eprintln!(
            "skipped: cargo-deb is not installed (tests/deps.sh installs it: cargo install --locked cargo-deb)"
        );
        return None;
    }
    if !works("dpkg-deb", &["--version"]) {
        eprintln!("skipped: no dpkg-deb (Debian's dpkg) to read the package");
        return None;
    }
    let d = dist();
    let name = d.deb.as_ref().expect("release.sh made no .deb");
    Some((d, d.dir.join(name)))
}

/// `tar`'s verbose listing: name → (mode, owner, size, mtime).
fn tar_listing(archive: &Path) -> BTreeMap<String, (String, String, String)> {
    let out = run(Command::new("tar")
        .args(["--list", "--verbose", "--numeric-owner", "--file"])
        .arg(archive)
        .env("TZ", "UTC"));
    out.ok();
    let mut names = Vec::new();
    let mut map = BTreeMap::new();
    for line in out.stdout.lines() {
        // drwxr-xr-x 0/0 0 2026-01-01 00:00 name
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(f.len(), 6, "{line}");
        names.push(f[5].to_string());
        map.insert(
            f[5].to_string(),
            (
                f[0].to_string(),
                f[1].to_string(),
                format!("{} {}", f[3], f[4]),
            ),
        );
    }
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "members not in name order");
    map
}

#[test]
fn the_archive_unpacked_into_an_empty_directory_runs() {
    let d = dist();
    let archive = d.dir.join(&d.archive);
    let top = d.archive.trim_end_matches(".tar.gz");
    let listing = tar_listing(&archive);
    let expected = [
        "",
        "LICENSE-APACHE",
        "LICENSE-MIT",
        "README.md",
        "completions/",
        "completions/_mfarole",
        "completions/mfarole.bash",
        "completions/mfarole.fish",
        "mfarole",
        "mfarole.1",
    ]
    .map(|n| format!("{top}/{n}"));
    assert_eq!(
        listing.keys().collect::<Vec<_>>(),
        expected.iter().collect::<Vec<_>>()
    );
    for (name, (mode, owner, mtime)) in &listing {
        let want = if name.ends_with('/') {
            "drwxr-xr-x"
        } else if name.ends_with("/mfarole") {
            "-rwxr-xr-x"
        } else {
            "-rw-r--r--"
        };
        assert_eq!(mode, want, "{name}");
        assert_eq!(owner, "0/0", "{name}");
        assert_eq!(mtime, EPOCH_TEXT, "{name}");
    }

    let empty = crate::support::TempDir::new("unpack");
    run(Command::new("tar")
        .arg("-xzf")
        .arg(&archive)
        .arg("-C")
        .arg(empty.path()))
    .ok();
    let here = empty.path().join(top);
    let bin = here.join("mfarole");
    let mfarole = |args: &[&str]| run(Command::new(&bin).args(args).env_clear());
    let version = mfarole(&["--version"]);
    version.ok();
    assert_eq!(version.stdout, format!("mfarole {VERSION} (static)\n"));
    mfarole(&["--help"])
        .ok()
        .stdout_has("mfarole exec [OPTIONS] [--server] PROFILE");
    for (shell, file) in [
        ("bash", "mfarole.bash"),
        ("zsh", "_mfarole"),
        ("fish", "mfarole.fish"),
    ] {
        let out = mfarole(&["completions", shell]);
        out.ok();
        let shipped = std::fs::read_to_string(here.join("completions").join(file)).unwrap();
        assert_eq!(out.stdout, shipped, "{file} is not what the binary writes");
    }
    for doc in ["README.md", "LICENSE-MIT", "LICENSE-APACHE"] {
        assert_eq!(
            std::fs::read(here.join(doc)).unwrap(),
            std::fs::read(manifest_dir().join(doc)).unwrap(),
            "{doc}"
        );
    }
    assert_eq!(
        std::fs::read(here.join("mfarole.1")).unwrap(),
        std::fs::read(manifest_dir().join("man/mfarole.1")).unwrap()
    );
}

#[test]
fn the_checksums_cover_what_was_made_and_match() {
    let d = dist();
    let sums = std::fs::read_to_string(d.dir.join("SHA256SUMS")).unwrap();
    let names: Vec<&str> = sums.lines().map(|l| &l[66..]).collect();
    let mut want = vec![d.archive.as_str()];
    want.extend(d.deb.as_deref());
    assert_eq!(names, want, "{sums}");
    // What a user runs after downloading (the README's command).
    run(Command::new("sha256sum")
        .args(["--check", "--strict", "SHA256SUMS"])
        .current_dir(&d.dir))
    .ok();
}

#[test]
fn a_second_run_gives_the_same_bytes() {
    let d = dist();
    // Made again from the first archive's binary: cargo's may have been rebuilt since, in a
    // checkout being edited, and that would differ for a reason that is not packaging's.
    let top = d.archive.trim_end_matches(".tar.gz");
    let unpacked = crate::support::TempDir::new("first-bin");
    run(Command::new("tar")
        .arg("-xzf")
        .arg(d.dir.join(&d.archive))
        .arg("-C")
        .arg(unpacked.path())
        .arg(format!("{top}/mfarole")))
    .ok();
    let bin = unpacked.path().join(top).join("mfarole");
    let again = work_dir().join("second");
    let files = release(&again, &["--bin", bin.to_str().unwrap()]);
    assert!(files.len() >= 2, "{files:?}");
    for f in &files {
        assert!(
            std::fs::read(d.dir.join(f)).unwrap() == std::fs::read(again.join(f)).unwrap(),
            "{f} differs between two runs: compare {} and {}",
            d.dir.join(f).display(),
            again.join(f).display()
        );
    }
}

#[test]
fn the_deb_puts_each_file_where_debian_looks_and_runs_from_an_empty_root() {
    let Some((d, deb)) = deb() else { return };
    let out = run(Command::new("dpkg-deb").arg("--contents").arg(&deb));
    out.ok();
    let files: BTreeMap<String, (String, String)> = out
        .stdout
        .lines()
        .filter(|l| !l.starts_with('d'))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[5].to_string(), (f[0].to_string(), f[1].to_string()))
        })
        .collect();
    let expected = [
        ("./usr/bin/mfarole", "-rwxr-xr-x"),
        (
            "./usr/share/bash-completion/completions/mfarole",
            "-rw-r--r--",
        ),
        ("./usr/share/doc/mfarole/README.md", "-rw-r--r--"),
        ("./usr/share/doc/mfarole/changelog.Debian.gz", "-rw-r--r--"),
        ("./usr/share/doc/mfarole/copyright", "-rw-r--r--"),
        (
            "./usr/share/fish/vendor_completions.d/mfarole.fish",
            "-rw-r--r--",
        ),
        ("./usr/share/lintian/overrides/mfarole", "-rw-r--r--"),
        ("./usr/share/man/man1/mfarole.1.gz", "-rw-r--r--"),
        ("./usr/share/zsh/vendor-completions/_mfarole", "-rw-r--r--"),
    ];
    let got: Vec<(&str, &str)> = files
        .iter()
        .map(|(name, (mode, _))| (name.as_str(), mode.as_str()))
        .collect();
    assert_eq!(got, expected, "{}", out.stdout);
    assert!(
        files
            .values()
            .all(|(_, owner)| owner == "root/root" || owner == "0/0"),
        "{}",
        out.stdout
    );

    let field = |name: &str| {
        let out = run(Command::new("dpkg-deb").arg("--field").arg(&deb).arg(name));
        out.ok();
        out.stdout.trim().to_string()
    };
    assert_eq!(field("Package"), "mfarole");
    assert_eq!(field("Version"), format!("{VERSION}-1"));
    if works("dpkg", &["--version"]) {
        let arch = run(Command::new("dpkg").arg("--print-architecture"));
        assert_eq!(field("Architecture"), arch.stdout.trim());
    }

    let root = crate::support::TempDir::new("debroot");
    run(Command::new("dpkg-deb")
        .arg("--extract")
        .arg(&deb)
        .arg(root.path()))
    .ok();
    let bin = root.path().join("usr/bin/mfarole");
    let version = run(Command::new(&bin).arg("--version").env_clear());
    version.ok();
    assert_eq!(version.stdout, format!("mfarole {VERSION} (static)\n"));
    // The very binary of the archive.
    let top = d.archive.trim_end_matches(".tar.gz");
    let in_archive = Command::new("tar")
        .arg("-xzOf")
        .arg(d.dir.join(&d.archive))
        .arg(format!("{top}/mfarole"))
        .output()
        .unwrap();
    assert!(
        in_archive.status.success() && std::fs::read(&bin).unwrap() == in_archive.stdout,
        "the .deb and the archive hold different binaries"
    );
    for (shell, path) in [
        ("bash", "usr/share/bash-completion/completions/mfarole"),
        ("zsh", "usr/share/zsh/vendor-completions/_mfarole"),
        ("fish", "usr/share/fish/vendor_completions.d/mfarole.fish"),
    ] {
        let out = run(Command::new(&bin).args(["completions", shell]).env_clear());
        out.ok();
        assert_eq!(
            out.stdout,
            std::fs::read_to_string(root.path().join(path)).unwrap(),
            "{path}"
        );
    }

    if !works("man", &["--version"]) {
        eprintln!("skipped: no man (Debian's man-db) to show the page");
        return;
    }
    let page = root.path().join("usr/share/man/man1/mfarole.1.gz");
    let man = run(Command::new("man")
        .arg("-l")
        .arg(&page)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "80"));
    man.ok()
        .stdout_has("MFAROLE(1)")
        .stdout_has("mfarole exec [OPTIONS] [--server] PROFILE")
        .stdout_has("ENVIRONMENT");
    // troff's "cannot adjust line" warnings at 80 columns (the ENVIRONMENT table is wide) are
    // layout, not a broken page; an error is not.
    assert!(!man.stderr.contains("error"), "{}", man.stderr);
}

#[test]
fn lintian_finds_no_errors_in_the_deb() {
    let Some((_, deb)) = deb() else { return };
    if !works("lintian", &["--version"]) {
        eprintln!("skipped: no lintian (tests/deps.sh installs it from Debian)");
        return;
    }
    let out = run(Command::new("lintian")
        .args(["--tag-display-limit", "0"])
        .arg(&deb));
    eprintln!("lintian:\n{}", out.stdout);
    let tags: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("E: ") || l.starts_with("W: "))
        .collect();
    // cargo-deb 3.8 writes `Depends:` with nothing after it when nothing is needed (the binary
    // is static); lintian warns. Every other error or warning fails here.
    let unexpected: Vec<&&str> = tags
        .iter()
        .filter(|t| **t != "W: mfarole: empty-field Depends")
        .collect();
    assert!(
        unexpected.is_empty(),
        "lintian:\n{}\n{}",
        out.stdout,
        out.stderr
    );
    assert!(
        !out.stdout.contains("E: ") && out.code == Some(0),
        "{}",
        out.stdout
    );
}

#[test]
fn the_crate_carries_sources_licenses_and_fuzz_seeds_but_not_the_test_corpus() {
    let out = run(Command::new(cargo())
        .args(["package", "--list", "--allow-dirty", "--offline"])
        .current_dir(manifest_dir()));
    out.ok();
    let files: Vec<&str> = out.stdout.lines().collect();
    for want in [
        "Cargo.toml",
        "Cargo.lock",
        "LICENSE-APACHE",
        "LICENSE-MIT",
        "README.md",
        "man/mfarole.1",
        "src/main.rs",
        "src/lib.rs",
        // Replayed by `src/fuzz.rs`, a unit test: `cargo test` of the crate needs them.
        "tests/fuzz/seeds/ini/config",
    ] {
        assert!(files.contains(&want), "the crate lacks {want}: {files:?}");
    }
    for f in &files {
        assert!(
            !["tests/afl/", "tests/e2e/", "packaging/", ".ci/", "target/"]
                .iter()
                .any(|p| f.starts_with(p)),
            "the crate carries {f}"
        );
    }
}

/// The README's commands for the archive and the `.deb` name what the script makes (for this
/// machine's target), and the archive's one installs a binary that runs.
#[test]
fn the_readme_install_commands_work_on_what_was_made() {
    let d = dist();
    let readme = std::fs::read_to_string(manifest_dir().join("README.md")).unwrap();
    let command = |start: &str| {
        readme
            .lines()
            .find_map(|l| l.strip_prefix("    ").filter(|l| l.starts_with(start)))
            .unwrap_or_else(|| panic!("README.md has no command starting {start:?}"))
            .replace("x86_64-unknown-linux-gnu", &host_target())
    };
    let bin_dir = crate::support::TempDir::new("readme-bin");
    let tar = command("sha256sum -c").replace("sudo ", "").replace(
        "/usr/local/bin",
        &crate::support::sh_quote(&bin_dir.path().to_string_lossy()),
    );
    assert!(
        tar.contains(&d.archive),
        "README.md's install command names another archive than {} (version {VERSION}?): {tar}",
        d.archive
    );
    run(Command::new("sh").args(["-c", &tar]).current_dir(&d.dir)).ok();
    let version = run(Command::new(bin_dir.path().join("mfarole"))
        .arg("--version")
        .env_clear());
    version.ok();
    assert_eq!(version.stdout, format!("mfarole {VERSION} (static)\n"));

    if let Some(deb) = &d.deb {
        let arch = deb.rsplit('_').next().unwrap().trim_end_matches(".deb");
        let apt = command("sudo apt install").replace("_amd64.deb", &format!("_{arch}.deb"));
        assert_eq!(apt, format!("sudo apt install ./{deb}"));
    }
}

//! The README and the man page say what `--help` says: a flag, command or variable that one
//! of them lacks fails here.

use crate::support;
use std::collections::BTreeSet;
use std::path::Path;

fn read(p: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(p)).unwrap()
}

/// The man page with roff escapes removed, so `\-\-mfa\-token` reads `--mfa-token`.
fn man() -> String {
    read("man/mfarole.1")
        .replace("\\-", "-")
        .replace("\\fB", "")
        .replace("\\fR", "")
        .replace("\\fI", "")
}

fn help(args: &[&str]) -> String {
    let out = std::process::Command::new(support::BIN)
        .args(args)
        .env_clear()
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

fn words_like(text: &str, keep: impl Fn(&str) -> bool) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .filter(|w| keep(w))
        .map(str::to_string)
        .collect()
}

#[test]
fn every_flag_in_help_is_in_readme_and_man_page() {
    let mut all = String::new();
    for args in [
        &["--help"][..],
        &["help", "exec"],
        &["help", "env"],
        &["help", "console"],
        &["help", "list"],
        &["help", "clear"],
        &["help", "completions"],
    ] {
        all.push_str(&help(args));
    }
    let flags = words_like(&all, |w| w.starts_with("--") && w.len() > 2);
    assert!(
        flags.contains("--mfa-token") && flags.contains("--no-session"),
        "{flags:?}"
    );
    let (readme, man) = (read("README.md"), man());
    for flag in &flags {
        assert!(readme.contains(flag.as_str()), "README.md lacks {flag}");
        assert!(man.contains(flag.as_str()), "man/mfarole.1 lacks {flag}");
    }
    let shorts = words_like(&all, |w| w.len() == 2 && w.starts_with("-") && w != "--");
    for short in &shorts {
        assert!(
            readme.contains(&format!("{short},")),
            "README.md lacks {short}"
        );
        assert!(
            man.contains(&format!("{short} ")) || man.contains(&format!("{short},")),
            "man page lacks {short}"
        );
    }
}

#[test]
fn every_command_is_documented() {
    let (readme, man) = (read("README.md"), man());
    for cmd in [
        "exec",
        "env",
        "console",
        "list",
        "clear",
        "completions",
        "help",
    ] {
        assert!(
            help(&["--help"]).contains(&format!("mfarole {cmd}")),
            "{cmd}"
        );
        assert!(
            readme.contains(&format!("mfarole {cmd}")),
            "README.md lacks {cmd}"
        );
        assert!(
            man.contains(&format!(".B {cmd}")) || man.contains(&format!(".B mfarole {cmd}")),
            "man page lacks {cmd}"
        );
    }
}

#[test]
fn every_variable_the_code_reads_is_documented() {
    let mut vars = BTreeSet::new();
    for entry in walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src")) {
        let text = std::fs::read_to_string(&entry).unwrap();
        for part in text.split('"').skip(1).step_by(2) {
            if (part.starts_with("MFAROLE_") || part.starts_with("AWS_"))
                && part
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit())
            {
                vars.insert(part.to_string());
            }
        }
    }
    assert!(vars.contains("MFAROLE_LOCK_TIMEOUT"), "{vars:?}");
    let (readme, man) = (read("README.md"), man());
    for v in &vars {
        assert!(readme.contains(v.as_str()), "README.md lacks {v}");
        assert!(man.contains(v.as_str()), "man/mfarole.1 lacks {v}");
    }
}

#[test]
fn exit_statuses_are_documented() {
    let (readme, man) = (read("README.md"), man());
    assert!(
        man.contains(".SH EXIT STATUS")
            && man.contains(".SH ENVIRONMENT")
            && man.contains(".SH FILES")
    );
    for code in ["125", "126", "127", "130"] {
        assert!(readme.contains(code) && man.contains(code), "{code}");
        assert!(help(&["--help"]).contains(code), "{code}");
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.extension().is_some_and(|e| e == "rs") && !p.ends_with("fuzz.rs") {
            // fuzz.rs is test code; its MFAROLE_FUZZ_ITERS is for developers (README, Testing).
            out.push(p);
        }
    }
    out
}

/// The man page's ENVIRONMENT is one table, and every variable the settings stage reads is a
/// row of it (the settings stage is where every variable is read).
#[test]
fn the_environment_table_lists_every_setting() {
    let man = man();
    let section = &man[man.find(".SH ENVIRONMENT").unwrap()..];
    let section = &section[..section.find("\n.SH ").unwrap()];
    assert_eq!(section.matches(".TS").count(), 1, "one table");
    let table = &section[section.find(".TS").unwrap()..section.find(".TE").unwrap()];
    let rows: BTreeSet<String> = table
        .lines()
        .filter_map(|l| l.split('\t').next())
        .flat_map(|names| names.split(", ").map(str::to_string))
        .collect();
    // Every name the settings stage (and the environment snapshot, for HOME) reads: each
    // upper-case string of their code, whatever its prefix (TZ, SHELL, XDG_CACHE_HOME too).
    let mut read_by_settings = BTreeSet::new();
    for file in ["src/settings.rs", "src/environ.rs"] {
        let text = read(file);
        let code = text.split("#[cfg(test)]\nmod tests").next().unwrap();
        for part in code.split('"').skip(1).step_by(2) {
            let is_var = part.len() > 1
                && part.starts_with(|c: char| c.is_ascii_uppercase())
                && part
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit());
            if is_var {
                read_by_settings.insert(part.to_string());
            }
        }
    }
    assert!(read_by_settings.len() > 40, "{read_by_settings:?}");
    for v in read_by_settings.iter().map(String::as_str).chain([
        "HOME",
        "SHELL",
        "LOGNAME",
        "USER",
        "XDG_CACHE_HOME",
        "TZ",
    ]) {
        assert!(rows.contains(v), "the ENVIRONMENT table lacks {v}");
    }
    // And nothing else reads the environment behind the settings stage's back.
    for file in walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src")) {
        if file.ends_with("environ.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for call in ["env::var(", "env::var_os(", "env::vars("] {
            assert!(
                !text.contains(call),
                "{} reads the environment itself",
                file.display()
            );
        }
    }
}

/// Every `ini` block of the README, pasted as a config file, reads as it means: the file
/// parses, and no value carries a comment (the AWS CLI, and so mfarole, reads text after a
/// value as part of it; the role example once ended `source_profile = jones  # or: ...`).
#[test]
fn the_readme_ini_examples_read_as_they_mean() {
    let readme = read("README.md");
    let mut blocks = 0;
    for block in readme.split("```ini").skip(1) {
        let block = block.split("```").next().unwrap();
        let text: String = block
            .lines()
            .map(|l| format!("{}\n", l.trim_start()))
            .collect();
        let sb = support::Sandbox::empty("http://127.0.0.1:9");
        // A block may hold both files, each under a `# ~/.aws/...` line.
        match text.split_once("# ~/.aws/config\n") {
            Some((credentials, config)) => {
                sb.write_credentials(credentials);
                sb.write_config(config);
            }
            None => sb.write_config(&text),
        }
        let out = sb.run(&["list", "--json"]);
        out.ok();
        let list: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        for p in list.as_array().unwrap() {
            for (k, v) in p["settings"].as_object().unwrap() {
                let v = v.as_str().unwrap();
                assert!(
                    !v.contains(" #") && !v.contains(" ;"),
                    "README example: {k} = {v:?} carries a comment:\n{text}"
                );
            }
        }
        blocks += 1;
    }
    assert!(blocks >= 4, "{blocks}");
}

#[test]
fn a_profile_name_with_a_comment_says_so() {
    let sb = support::Sandbox::empty("http://127.0.0.1:9");
    sb.write_config(
        "[profile admin]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = jones   # or: credential_source = Environment\n",
    );
    sb.run(&["exec", "admin", "--", "true"])
        .code(125)
        .stderr_has("text after a value is part of it")
        .one_error_line();
}

/// Issue 22, item 15: the README's first block is the config, before any `mfarole exec`, and
/// it reads as it says (a role through jones's keys, with MFA and a region).
#[test]
fn the_readme_shows_the_config_before_mfarole_exec() {
    let readme = read("README.md");
    let first_block = readme.find("```").unwrap();
    let first_exec = readme.find("mfarole exec").unwrap();
    assert!(
        readme[first_block..].starts_with("```ini"),
        "the first block is not the config"
    );
    assert!(
        first_block < first_exec,
        "mfarole exec comes before the config"
    );
    let block = readme[first_block + 6..].split("```").next().unwrap();
    let (credentials, config) = block.split_once("# ~/.aws/config\n").unwrap();
    let sb = support::Sandbox::empty("http://127.0.0.1:9");
    sb.write_credentials(credentials);
    sb.write_config(config);
    let out = sb.run(&["list", "--json"]);
    out.ok();
    let list: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let admin = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "admin")
        .unwrap();
    assert_eq!(admin["source_profile"], "jones", "{admin}");
    assert_eq!(admin["region"], "us-east-1", "{admin}");
    assert_eq!(admin["roles"].as_array().unwrap().len(), 1, "{admin}");
    assert!(admin["settings"]["mfa_serial"].is_string(), "{admin}");
}

/// Issue 22, item 15: the minimum Rust version is said once, and it is `rust-version`.
#[test]
fn the_minimum_rust_version_is_said_once_and_is_cargo_tomls() {
    let cargo = read("Cargo.toml");
    let msrv = cargo
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .unwrap()
        .trim_matches('"');
    let readme = read("README.md");
    let said: Vec<&str> = readme
        .match_indices("Rust 1.")
        .map(|(i, _)| {
            let rest = &readme[i + 5..];
            &rest[..rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap()]
        })
        .map(|v| v.trim_end_matches('.'))
        .collect();
    assert_eq!(said, [msrv], "README's Rust versions");
    assert!(!readme.contains("cargo 1."), "another minimum version");
}

/// Issue 22, item 15: the README points at nothing outside the repository, and every path of
/// the repository it names exists.
#[test]
fn the_readme_names_only_files_of_the_repository() {
    let readme = read("README.md");
    assert!(
        !readme.contains("../"),
        "README points outside the repository"
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    for span in readme.split('`').skip(1).step_by(2) {
        let path = span.trim_end_matches([',', '.', ':', ')']);
        let ours = ["src/", "tests/", "man/", "packaging/", ".ci/", ".github/"]
            .iter()
            .any(|p| path.starts_with(p));
        if !ours || path.contains(' ') || path.contains('*') {
            continue;
        }
        assert!(
            root.join(path).exists(),
            "README names {path}, which is not there"
        );
        checked += 1;
    }
    assert!(checked > 20, "{checked}");
}

/// Issue 22, item 15: `tests/deps.sh` as a user other than root installs Debian's packages
/// through sudo, and without sudo says what to install. Run with stand-ins for `id`, `sudo`,
/// `apt-get` and the other tools, so that nothing is installed.
#[test]
fn deps_sh_uses_sudo_as_a_user_or_says_what_to_do() {
    use std::os::unix::fs::PermissionsExt;
    let dir = support::TempDir::new("deps");
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let log = dir.path().join("calls");
    let stub = |name: &str, body: &str| {
        let path = bin.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    let record = format!("echo \"${{0##*/}} $*\" >> {}", log.display());
    stub("id", "echo 1000");
    stub("apt-get", &record);
    stub("env", &format!("{record}\nshift\nexec \"$@\""));
    // Everything Python, the AWS CLI and cargo-deb are there already.
    stub("python3", "exit 0");
    stub("aws", "exit 0");
    stub("cargo", "exit 0");
    let run = || {
        std::process::Command::new("/bin/bash")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/deps.sh"))
            .env_clear()
            .env("PATH", &bin)
            .output()
            .unwrap()
    };
    // No sudo: it says what to install and how, and stops.
    let out = run();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("tmux fish zsh make util-linux lintian dpkg-dev man-db must be installed from Debian's packages, which needs root: run tests/deps.sh as root, or install sudo, or run: apt-get install tmux"),
        "{stderr}"
    );
    assert!(!log.exists(), "nothing is run without root");
    // With sudo: apt-get runs through it.
    stub("sudo", &format!("{record}\nexec \"$@\""));
    let out = run();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("(with sudo)"), "{stderr}");
    let calls = std::fs::read_to_string(&log).unwrap();
    assert!(calls.starts_with("sudo apt-get update -qq\napt-get update -qq\nsudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux fish zsh make"), "{calls}");
}

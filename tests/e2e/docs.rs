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
    for cmd in ["exec", "env", "list", "clear", "completions", "help"] {
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
    let settings = read("src/settings.rs");
    let mut read_by_settings = BTreeSet::new();
    for part in settings.split('"').skip(1).step_by(2) {
        let is_var = (part.starts_with("MFAROLE_") || part.starts_with("AWS_"))
            && part
                .chars()
                .all(|c| c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit());
        if is_var {
            read_by_settings.insert(part.to_string());
        }
    }
    assert!(read_by_settings.len() > 30, "{read_by_settings:?}");
    for v in &read_by_settings {
        assert!(rows.contains(v), "the ENVIRONMENT table lacks {v}");
    }
    for v in ["HOME", "SHELL", "LOGNAME", "USER", "XDG_CACHE_HOME"] {
        assert!(rows.contains(v), "the ENVIRONMENT table lacks {v}");
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

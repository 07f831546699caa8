//! Which profile a run is for: the positional PROFILE, `--profile NAME` (the AWS CLI's habit),
//! else the environment's, as botocore reads it (`AWS_DEFAULT_PROFILE`, then `AWS_PROFILE`);
//! `-v` says which. After `--` every word is the command's.

use crate::support::{self, Moto, Sandbox};

fn whoami(first: &[&str]) -> Vec<String> {
    first
        .iter()
        .chain(support::WHOAMI.iter())
        .map(|s| s.to_string())
        .collect()
}

fn run(sb: &Sandbox, args: &[String]) -> support::Out {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    sb.run(&args)
}

#[test]
fn aws_profile_is_the_default_of_exec_and_env() {
    let sb = Sandbox::new(Moto::shared()).env("AWS_PROFILE", "plain");
    run(&sb, &whoami(&["exec", "-v", "--"]))
        .ok()
        .stdout_has("assumed-role/plain/")
        .stderr_has("mfarole: profile 'plain' from AWS_PROFILE (none on the command line)");
    // The words after `--` are the command's, `--profile` and `--` among them.
    let out = sb.run(&[
        "exec",
        "--",
        "sh",
        "-c",
        "echo \"$*|${AWS_PROFILE-unset}\"",
        "x",
        "--profile",
        "y",
        "--",
        "-v",
    ]);
    out.ok();
    assert_eq!(out.stdout, "--profile y -- -v|unset\n");
    // No command: the shell, for that profile.
    let out = sb
        .command(&["exec"])
        .env("SHELL", "/bin/sh")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(b"echo in=$MFAROLE_PROFILE\n")?;
            child.wait_with_output()
        })
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "in=plain\n");
    sb.run(&["env", "-f", "dotenv"])
        .ok()
        .stdout_has("MFAROLE_PROFILE=plain\n");
}

#[test]
fn the_command_line_wins_and_profile_flag_stands_where_profile_does() {
    let sb = Sandbox::new(Moto::shared()).env("AWS_PROFILE", "nosuch");
    run(&sb, &whoami(&["exec", "-v", "plain", "--"]))
        .ok()
        .stdout_has("assumed-role/plain/")
        .stderr_has("profile 'plain' from the command line");
    // Without `--`, the first word after `--profile NAME` is the command.
    run(&sb, &whoami(&["exec", "-v", "--profile", "ext"]))
        .ok()
        .stdout_has("assumed-role/ext/")
        .stderr_has("profile 'ext' from --profile");
    run(&sb, &whoami(&["exec", "--profile=plain", "--"]))
        .ok()
        .stdout_has("assumed-role/plain/");
    sb.run(&["env", "--profile", "plain", "-f", "dotenv"])
        .ok()
        .stdout_has("MFAROLE_PROFILE=plain\n");
    sb.run(&["exec", "plain", "--profile", "ext", "--", "true"])
        .code(125)
        .one_error_line()
        .stderr_has("the profile is named twice ('plain' and --profile 'ext'); name it once");
}

#[test]
fn aws_default_profile_comes_first_as_for_the_aws_cli() {
    let sb = Sandbox::new(Moto::shared())
        .env("AWS_PROFILE", "plain")
        .env("AWS_DEFAULT_PROFILE", "ext");
    let out = run(&sb, &whoami(&["exec", "-v", "--"]));
    out.ok()
        .stdout_has("assumed-role/ext/")
        .stderr_has("mfarole: warning: AWS_DEFAULT_PROFILE=ext and AWS_PROFILE=plain name different profiles; using 'ext', as the AWS CLI does (unset one of them)")
        .stderr_has("profile 'ext' from AWS_DEFAULT_PROFILE");
    // The AWS CLI itself, with the same environment, assumes the same role.
    let mut aws = std::process::Command::new("aws");
    aws.args(&support::WHOAMI[1..])
        .env_clear()
        .envs(sb.base_env())
        .env("AWS_DEFAULT_REGION", "us-east-1");
    let cli = support::Out::of(&["aws"], aws.output().unwrap());
    cli.ok().stdout_has("assumed-role/ext/");
    // Named on the command line, neither variable is read: no warning.
    sb.run(&["exec", "plain", "--", "true"])
        .ok()
        .stderr_lacks("warning");
}

#[test]
fn without_a_profile_anywhere_the_error_says_the_three_ways() {
    let sb = Sandbox::new(Moto::shared());
    for args in [&["exec", "--", "true"][..], &["exec"], &["env"]] {
        sb.run(args)
            .code(125)
            .one_error_line()
            .stderr_has("needs a PROFILE")
            .stderr_has("or --profile PROFILE, or AWS_PROFILE set");
    }
}

#[test]
fn clear_takes_profile_flag_and_never_the_default() {
    let sb = Sandbox::new(Moto::shared());
    sb.run(&["exec", "plain", "--", "true"]).ok();
    sb.run(&["exec", "ext", "--", "true"]).ok();
    let cache = sb.cache.clone();
    let creds = || {
        support::names_in(&cache)
            .into_iter()
            .filter(|n| n.ends_with(".cred"))
            .count()
    };
    assert_eq!(creds(), 2);
    sb.run(&["clear", "--profile", "plain"])
        .ok()
        .stderr_has("removed 1 cached session of 'plain'");
    assert_eq!(creds(), 1);
    // AWS_PROFILE does not narrow `clear`: without a profile it removes everything.
    let sb = sb.env("AWS_PROFILE", "plain");
    sb.run(&["clear"]).ok();
    assert_eq!(creds(), 0);
}

#[test]
fn completion_offers_profile_flag_and_names_after_it() {
    let sb = Sandbox::new(Moto::shared());
    let bin_dir = std::path::Path::new(support::BIN).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap());
    let sb = sb.env("PATH", &path);
    let bash = |words: &str, cword: usize| {
        let script = format!(
            "source <(mfarole completions bash); COMP_WORDS=({words}); COMP_CWORD={cword}; _mfarole; echo \"${{COMPREPLY[*]}}\""
        );
        let mut cmd = std::process::Command::new("bash");
        cmd.args(["--norc", "-c", &script])
            .env_clear()
            .envs(sb.base_env());
        let out = support::Out::of(&["bash", &script], cmd.output().unwrap());
        out.ok();
        out.stdout.trim().to_string()
    };
    assert_eq!(bash("mfarole exec --pro", 2), "--profile");
    assert_eq!(bash("mfarole clear --pro", 2), "--profile");
    assert_eq!(bash("mfarole exec --profile ad", 3), "admin admin-long");
    let fish = "mfarole completions fish | source; complete -C 'mfarole env --pro'; complete -C 'mfarole env --profile ho'";
    let mut cmd = std::process::Command::new("fish");
    cmd.args(["--no-config", "-c", fish])
        .env_clear()
        .envs(sb.base_env());
    let out = support::Out::of(&["fish"], cmd.output().unwrap());
    out.ok();
    let got: Vec<&str> = out
        .stdout
        .lines()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(got, ["--profile", "hop2", "hop3"]);
}

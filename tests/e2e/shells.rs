//! `mfarole env` evaluated by the shells it is made for, for real: sh (dash), bash, zsh and
//! fish. Success leaves status 0 and the variables `exec` gives a command; failure makes the
//! evaluation fail, so that `&&` / `and` stop.

use crate::support::{self, Moto, Sandbox};

/// `script` run by `shell -c` (`fish -c`, `zsh -f -c`, ...) with the sandbox's environment and
/// `$M` the binary.
fn run(sb: &Sandbox, shell: &[&str], script: &str) -> support::Out {
    let mut cmd = std::process::Command::new(shell[0]);
    cmd.args(&shell[1..])
        .arg("-c")
        .arg(script)
        .env_clear()
        .envs(sb.base_env())
        .env("M", support::BIN)
        .stdin(std::process::Stdio::null());
    let mut shown = shell.to_vec();
    shown.push(script);
    support::Out::of(&shown, cmd.output().unwrap())
}

const WHOAMI: &str = "aws sts get-caller-identity --query Arn --output text";

#[test]
fn fish_source_ends_with_status_0_and_a_failure_stops_and() {
    let sb = Sandbox::new(Moto::shared()).env("AWS_PROFILE", "stale");
    // Nothing to unset here but AWS_PROFILE: each `set -e` of an unset variable fails.
    let out = run(
        &sb,
        &["fish", "--no-config"],
        &format!(
            "$M env -f fish plain | source; echo status=$status; and echo profile=$MFAROLE_PROFILE nesting=$MFAROLE_NESTING aws_profile=(count $AWS_PROFILE); and {WHOAMI}"
        ),
    );
    out.ok()
        .stdout_has("status=0\n")
        .stdout_has("profile=plain nesting=plain aws_profile=0\n")
        .stdout_has("assumed-role/plain/");
    let out = run(
        &sb,
        &["fish", "--no-config"],
        "$M env -f fish nosuch | source; and echo RAN; or echo stopped=$status",
    );
    out.ok()
        .stdout_has("stopped=1")
        .stderr_has("mfarole: profile 'nosuch' is not in the config");
    assert!(!out.stdout.contains("RAN"), "{}", out.stdout);
}

#[test]
fn eval_in_sh_bash_and_zsh_stops_after_a_failure() {
    let sb = Sandbox::new(Moto::shared());
    for (shell, format) in [
        (&["sh"][..], "sh"),
        (&["bash", "--norc"][..], "bash"),
        (&["zsh", "-f"][..], "zsh"),
        (&["zsh", "-f"][..], "sh"),
    ] {
        let out = run(
            &sb,
            shell,
            &format!(
                "eval \"$(\"$M\" env -f {format} plain)\" && echo \"status=$? profile=$MFAROLE_PROFILE\" && {WHOAMI}"
            ),
        );
        out.ok()
            .stdout_has("status=0 profile=plain\n")
            .stdout_has("assumed-role/plain/");
        // The documented form, and the safe one that never evaluates a failure's output.
        for script in [
            format!("eval \"$(\"$M\" env -f {format} nosuch)\" && echo RAN || echo stopped"),
            format!(
                "c=$(\"$M\" env -f {format} nosuch) && eval \"$c\" && echo RAN || echo stopped"
            ),
        ] {
            let out = run(&sb, shell, &script);
            out.ok()
                .stdout_has("stopped")
                .stderr_has("mfarole: profile 'nosuch' is not in the config");
            assert!(!out.stdout.contains("RAN"), "{shell:?}: {}", out.stdout);
        }
    }
}

#[test]
fn a_failure_prints_the_failing_line_only_for_shells_and_never_a_secret() {
    let sb = Sandbox::new(Moto::shared());
    for format in ["sh", "fish"] {
        let out = sb.run(&["env", "-f", format, "nosuch"]);
        out.code(125).one_error_line();
        assert_eq!(
            out.stdout,
            "# mfarole: no credentials (its error is on stderr)\nfalse\n"
        );
    }
    for format in ["dotenv", "json", "process"] {
        let out = sb.run(&["env", "-f", format, "nosuch"]);
        out.code(125).one_error_line();
        assert_eq!(out.stdout, "", "{format}");
    }
}

#[test]
fn env_sets_what_exec_sets_and_re_evaluating_does_not_nest() {
    let sb = Sandbox::new(Moto::shared());
    let show = "echo \"$MFAROLE_PROFILE|$MFAROLE_NESTING|${AWS_PROFILE-unset}\"";
    let exec = run(
        &sb,
        &["sh"],
        &format!("AWS_PROFILE=x \"$M\" exec plain -- sh -c '{show}'"),
    );
    exec.ok();
    assert_eq!(exec.stdout, "plain|plain|unset\n");
    // Six evaluations in one shell (a refresh every hour): still one level deep, each time.
    let evals = format!(
        "AWS_PROFILE=x; {}",
        format!("eval \"$(\"$M\" env plain)\" && {show}; ").repeat(6)
    );
    let out = run(&sb, &["sh"], &evals);
    out.ok();
    assert_eq!(out.stdout, "plain|plain|unset\n".repeat(6));
    // Evaluated in a shell that exec started, the shell's environment changes profile: the
    // level is replaced, not nested.
    let inner = format!("eval \"$(\"$M\" env ext)\" && {show}");
    let out = run(
        &sb,
        &["sh"],
        &format!(
            "\"$M\" exec plain -- sh -c '{}'",
            inner.replace('\'', "'\\''")
        ),
    );
    out.ok();
    assert_eq!(out.stdout, "ext|ext|unset\n");
}

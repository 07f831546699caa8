//! mfarole among the AWS tools: `env` output evaluated by sh and fish, `credential_process`
//! for the AWS CLI and boto3, the subshell, nesting, `list` and completions.

use crate::support::{self, Moto, Sandbox, Tmux, sh_quote};
use std::time::Duration;

fn sh(sb: &Sandbox, script: &str) -> support::Out {
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg(script)
        .env_clear()
        .envs(sb.base_env())
        .env("M", support::BIN);
    support::Out::of(&["sh -c", script], cmd.output().unwrap())
}

#[test]
fn eval_in_sh_gives_working_credentials() {
    let sb = Sandbox::new(Moto::shared()).env("AWS_PROFILE", "jones");
    let out = sh(
        &sb,
        "eval \"$(\"$M\" env plain)\" && aws sts get-caller-identity --query Arn --output text",
    );
    out.ok().stdout_has("assumed-role/plain/");
}

#[test]
fn fish_source_gives_working_credentials() {
    let sb = Sandbox::new(Moto::shared());
    let out = sh(
        &sb,
        "fish -c '$M env --format fish plain | source; aws sts get-caller-identity --query Arn --output text'",
    );
    out.ok().stdout_has("assumed-role/plain/");
}

#[test]
fn env_prints_only_to_stdout_and_formats() {
    let sb = Sandbox::new(Moto::shared());
    let out = sb.run(&["env", "-f", "dotenv", "plain"]);
    out.ok();
    assert_eq!(out.stderr, "");
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("AWS_SESSION_TOKEN="))
    );
    assert!(out.stdout.lines().any(|l| l == "AWS_REGION=us-east-1"));
    let out = sb.run(&["env", "-f", "process", "plain"]);
    out.ok();
    assert!(
        out.stdout
            .starts_with("{\"Version\":1,\"AccessKeyId\":\"ASIA"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("\"Expiration\":\"20"));
    sb.run(&["env", "-f", "yaml", "plain"])
        .code(125)
        .one_error_line()
        .stderr_has("--format yaml");
}

#[test]
fn credential_process_for_the_aws_cli_and_boto3() {
    let moto = Moto::start();
    let sb = Sandbox::new(&moto);
    sb.append_config(&format!(
        "\n[profile viacp]\ncredential_process = {} env --format process plain\nregion = us-east-1\n",
        support::BIN
    ));
    for _ in 0..3 {
        let out = sh(
            &sb,
            "aws sts get-caller-identity --profile viacp --query Arn --output text",
        );
        out.ok().stdout_has("assumed-role/plain/");
    }
    let script = "import boto3, os\n\
        s = boto3.Session(profile_name='viacp')\n\
        print(s.client('sts', endpoint_url=os.environ['AWS_ENDPOINT_URL']).get_caller_identity()['Arn'])\n";
    let out = sh(&sb, &format!("python3 -c {}", sh_quote(script)));
    out.ok().stdout_has("assumed-role/plain/");
    // Four callers, one AssumeRole: the rest came from mfarole's cache.
    assert_eq!(moto.count("AssumeRole"), 1);
    assert_eq!(moto.count("GetCallerIdentity"), 4);
}

#[test]
fn credential_process_prompts_on_the_terminal() {
    let sb = Sandbox::new(Moto::shared());
    sb.append_config(&format!(
        "\n[profile viacp]\ncredential_process = {} env --format process session-only\nregion = us-east-1\n",
        support::BIN
    ));
    let d = sb.dir.path();
    let command = format!(
        "aws sts get-caller-identity --profile viacp --query Arn --output text > {} 2> {}",
        sh_quote(d.join("out").to_str().unwrap()),
        sh_quote(d.join("err").to_str().unwrap()),
    );
    let tmux = Tmux::start(&sb, "cp", &command);
    tmux.wait_screen(
        "Enter MFA code for arn:aws:iam::123456789012:mfa/jones: ",
        Duration::from_secs(30),
    );
    tmux.enter("975310");
    let rc = tmux.status(Duration::from_secs(30));
    let out = std::fs::read_to_string(d.join("out")).unwrap();
    assert_eq!(
        rc,
        0,
        "{out} {}",
        std::fs::read_to_string(d.join("err")).unwrap()
    );
    assert!(out.contains("assumed-role/session-only/"), "{out}");
    assert!(!tmux.screen().contains("975310"));
}

#[test]
fn exec_without_a_command_starts_the_shell() {
    let sb = Sandbox::new(Moto::shared()).env("SHELL", "/bin/sh");
    let mut cmd = sb.command(&["exec", "plain"]);
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"echo \"key=$AWS_ACCESS_KEY_ID profile=$MFAROLE_PROFILE\"\n")
        .unwrap();
    let out = support::Out::of(
        &["exec plain (stdin script)"],
        child.wait_with_output().unwrap(),
    );
    out.ok().stdout_has("key=ASIA").stdout_has("profile=plain");
    // stderr is not a terminal: nothing said.
    assert_eq!(out.stderr, "");

    // On a terminal it says which shell it starts.
    let tmux = Tmux::start(&sb, "sub", &format!("{} exec plain", support::BIN));
    tmux.wait_screen(
        "mfarole: starting /bin/sh with credentials for 'plain' (until",
        Duration::from_secs(20),
    );
    tmux.enter("exit 3");
    assert_eq!(tmux.status(Duration::from_secs(10)), 3);
}

#[test]
fn nesting_uses_the_original_source_and_stops_loops() {
    let sb = Sandbox::new(Moto::shared());
    // Inside "plain", exec "session-only": built from jones's keys in the files, not from the
    // inherited temporary keys of "plain".
    let out = sh(
        &sb,
        "\"$M\" exec plain -- \"$M\" exec -t 123456 session-only -- aws sts get-caller-identity --query Arn --output text",
    );
    out.ok().stdout_has("assumed-role/session-only/");

    // The same profile again, one level out: a loop.
    sh(
        &sb,
        "\"$M\" exec plain -- \"$M\" exec ext -- \"$M\" exec plain -- true",
    )
    .code(125)
    .one_error_line()
    .stderr_has("already inside an mfarole environment for 'plain'");
    // Directly inside itself, again and again: stopped by the depth limit.
    let runaway = "\"$M\" exec plain -- \"$M\" exec plain -- \"$M\" exec plain -- \"$M\" exec plain -- \"$M\" exec plain -- true";
    sh(&sb, runaway)
        .code(125)
        .one_error_line()
        .stderr_has("nested 4 deep");

    let deep = "\"$M\" exec plain -- \"$M\" exec ext -- \"$M\" exec -t 123456 jones -- \"$M\" exec admin -- \"$M\" exec session-only -- true";
    sh(&sb, deep)
        .code(125)
        .one_error_line()
        .stderr_has("nested 4 deep (plain > ext > jones > admin)");

    // A credential_source = Environment profile is refused inside: those keys are the
    // parent's temporary ones.
    sb.append_config(&format!(
        "\n[profile envrole]\nrole_arn = {}\ncredential_source = Environment\n",
        Moto::shared().get("roles.plain")
    ));
    sh(&sb, "\"$M\" exec plain -- \"$M\" exec envrole -- true")
        .code(125)
        .one_error_line()
        .stderr_has("run it outside mfarole");
}

#[test]
fn make_inside_the_same_profile_reuses_its_credentials_without_sts() {
    let moto = Moto::start();
    let sb = Sandbox::new(&moto);
    let bin_dir = std::path::Path::new(support::BIN).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap());
    let sb = sb.env("PATH", &path);
    let dir = sb.dir.path();
    let mut makefile = String::from("all: t1 t2 t3 t4\n");
    for t in 1..=4 {
        makefile.push_str(&format!(
            "t{t}:\n\tmfarole exec plain -- aws sts get-caller-identity --query Arn --output text > {}/out{t}\n",
            dir.display()
        ));
    }
    std::fs::write(dir.join("Makefile"), makefile).unwrap();
    // The outer run gets the credentials; only then are STS calls counted. Inside, the cache
    // is cleared: the inner runs can only be using the credentials they inherit.
    sh(&sb, "mfarole exec plain -- true").ok();
    let before = moto.count("AssumeRole");
    let gets = moto.count("GetCallerIdentity");
    let out = sh(
        &sb,
        &format!(
            "cd {} && mfarole exec plain -- sh -c 'mfarole clear && make -s -j4'",
            sh_quote(dir.to_str().unwrap())
        ),
    );
    out.ok();
    for t in 1..=4 {
        let arn = std::fs::read_to_string(dir.join(format!("out{t}"))).unwrap();
        assert!(arn.contains("assumed-role/plain/"), "{arn}");
    }
    assert_eq!(moto.count("AssumeRole"), before, "an inner run called STS");
    assert_eq!(moto.count("GetCallerIdentity"), gets + 4);
    // --refresh inside asks for new ones, as it says.
    sh(&sb, "mfarole exec plain -- true").ok();
    let before = moto.count("AssumeRole");
    sh(
        &sb,
        "mfarole exec plain -- mfarole exec --refresh plain -- true",
    )
    .ok();
    assert_eq!(moto.count("AssumeRole"), before + 1);
}

#[test]
fn list_shows_needs_and_cache_without_secrets() {
    let moto = Moto::shared();
    let sb = Sandbox::new(moto);
    sb.run(&["exec", "-t", "123456", "admin", "--", "true"])
        .ok();
    let out = sb.run(&["list"]);
    out.ok();
    let line = |p: &str| {
        out.stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(p))
            .unwrap_or_else(|| panic!("no row for {p}:\n{}", out.stdout))
            .to_string()
    };
    assert!(out.stdout.starts_with("PROFILE"));
    assert!(line("jones").contains("keys + MFA"), "{}", line("jones"));
    assert!(
        line("jones").contains("fresh until"),
        "the MFA session is cached: {}",
        line("jones")
    );
    assert!(line("admin").contains("role arn:aws:iam::123456789012:role/admin via jones + MFA"));
    assert!(line("admin").contains("fresh until 20"));
    assert!(line("plain").ends_with('-') || !line("plain").contains("fresh"));
    assert!(line("hop3").contains("(3 hops)"));
    assert!(line("badsecret").contains("keys"));
    for secret in [
        moto.get("users.jones.secret"),
        moto.get("users.smith.secret"),
    ] {
        assert!(!out.stdout.contains(secret));
    }
    let names = sb.run(&["list", "--names"]);
    names.ok();
    assert!(names.stdout.lines().any(|l| l == "admin"));
}

#[test]
fn list_pads_needs_to_its_longest_value_and_keeps_settings_only_profiles_quiet() {
    let sb = Sandbox::new(Moto::shared());
    sb.append_config("[profile broken]\nrole_arn = arn:aws:iam::1:role/x\n");
    let out = sb.run(&["list"]);
    out.ok();
    let rows: Vec<&str> = out.stdout.lines().collect();
    // The [default] of the test config holds only a region: a normal config.
    let default = rows.iter().find(|l| l.starts_with("default ")).unwrap();
    assert!(default.contains("settings only"), "{default}");
    assert!(!default.contains("error"), "{default}");
    let broken = rows.iter().find(|l| l.starts_with("broken ")).unwrap();
    assert!(broken.contains("error: profile 'broken'"), "{broken}");
    // NEEDS is as wide as its longest value among the rows that have a CACHED value.
    let cached_at = rows[0].find("CACHED").unwrap();
    let longest = rows[1..]
        .iter()
        .filter(|l| !l.contains("error:"))
        .map(|l| l[..cached_at].trim_end().len())
        .max()
        .unwrap();
    assert_eq!(cached_at, longest + 2, "{}", out.stdout);
}

#[test]
fn errors_about_the_environment_say_what_to_fix_not_see_help() {
    let sb = Sandbox::new(Moto::shared());
    for (var, value) in [
        ("MFAROLE_LOCK_TIMEOUT", "soon"),
        ("AWS_MAX_ATTEMPTS", "99"),
        ("AWS_REGION", "Not A Region"),
    ] {
        let sb2 = Sandbox::new(Moto::shared()).env(var, value);
        sb2.run(&["exec", "plain", "--", "true"])
            .code(125)
            .one_error_line()
            .stderr_has(var)
            .stderr_lacks("see 'mfarole --help'");
    }
    let inner = sb.env("MFAROLE_NESTING", "a,b,c,d");
    inner
        .run(&["exec", "plain", "--", "true"])
        .code(125)
        .one_error_line()
        .stderr_has("nested 4 deep")
        .stderr_lacks("see 'mfarole --help'");
}

#[test]
fn bash_and_fish_complete_profile_names() {
    let sb = Sandbox::new(Moto::shared());
    let bin_dir = std::path::Path::new(support::BIN).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap());
    let sb = sb.env("PATH", &path);
    let out = sh(
        &sb,
        "bash -c 'source <(mfarole completions bash); COMP_WORDS=(mfarole exec ad); COMP_CWORD=2; _mfarole; echo \"${COMPREPLY[*]}\"'",
    );
    out.ok();
    assert_eq!(out.stdout.trim(), "admin admin-long");
    let out = sh(
        &sb,
        "bash -c 'source <(mfarole completions bash); COMP_WORDS=(mfarole env -f ); COMP_CWORD=3; _mfarole; echo \"${COMPREPLY[*]}\"'",
    );
    out.ok();
    assert_eq!(out.stdout.trim(), "sh fish dotenv json process");
    let out = sh(
        &sb,
        "fish -c 'mfarole completions fish | source; complete -C \"mfarole exec ho\"'",
    );
    out.ok();
    let got: Vec<&str> = out
        .stdout
        .lines()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(got, ["hop2", "hop3"]);
    sb.run(&["completions", "zsh"])
        .ok()
        .stdout_has("compdef _mfarole mfarole");
}

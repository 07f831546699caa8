//! Source identity, session tags and the account id: the exact STS form fields moto (IAM auth
//! enforced, so each request's signature is verified) received, from the profile and from the
//! environment (for the target only), refused before any request when AWS would refuse them,
//! and a new cache entry for a new tag set; and `AWS_ACCOUNT_ID` as the AWS CLI run as the
//! child sees it, equal to the account `get-caller-identity` names.

use crate::support::{self, Moto, Sandbox};
use std::collections::HashMap;

fn tagged_sandbox(moto: &Moto) -> Sandbox {
    let sb = Sandbox::new(moto);
    sb.append_config(&format!(
        "\n[profile tagged]\nrole_arn = {plain}\nsource_profile = smith\nsource_identity = smith@example.com\n\
         session_tags = team=infra, cost-center=42\ntransitive_session_tags = team\n\
         [profile chain-top]\nrole_arn = {hop2}\nsource_profile = chain1\n",
        plain = moto.get("roles.plain"),
        hop2 = moto.get("roles.hop2"),
    ));
    sb
}

/// The attribute fields of a form (SourceIdentity, Tags.*, TransitiveTagKeys.*), sorted.
fn attributes(form: &HashMap<String, String>) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = form
        .iter()
        .filter(|(k, _)| {
            k.starts_with("SourceIdentity") || k.starts_with("Tags.") || k.starts_with("Transitive")
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    v.sort();
    v
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = list
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    v.sort();
    v
}

#[test]
fn the_profile_s_source_identity_and_tags_are_sent_and_shown() {
    let moto = Moto::start();
    let sb = tagged_sandbox(&moto);
    let out = sb.run(&["exec", "-v", "tagged", "--", "true"]);
    out.ok().stderr_has(
        "source identity smith@example.com, tags team=infra,cost-center=42, transitive team",
    );
    let forms = moto.forms("AssumeRole");
    assert_eq!(forms.len(), 1);
    assert_eq!(
        attributes(&forms[0]),
        pairs(&[
            ("SourceIdentity", "smith@example.com"),
            ("Tags.member.1.Key", "team"),
            ("Tags.member.1.Value", "infra"),
            ("Tags.member.2.Key", "cost-center"),
            ("Tags.member.2.Value", "42"),
            ("TransitiveTagKeys.member.1", "team"),
        ])
    );
    sb.run(&["list", "tagged"])
        .ok()
        .stdout_has("source identity smith@example.com");
}

#[test]
fn the_environment_fills_in_for_the_target_only_and_never_overrides_the_profile() {
    let moto = Moto::start();
    let sb = tagged_sandbox(&moto)
        .env("AWS_SOURCE_IDENTITY", "from-env")
        .env("AWS_SESSION_TAGS", "team=env")
        .env("AWS_TRANSITIVE_TAGS", "team")
        .env("AWS_ROLE_SESSION_NAME", "env-name");
    // chain-top: chain1 (role_session_name c1, a source profile) then hop2 (the target).
    sb.run(&["exec", "-t", "123456", "chain-top", "--", "true"])
        .ok();
    let forms = moto.forms("AssumeRole");
    assert_eq!(forms.len(), 2);
    assert_eq!(
        attributes(&forms[0]),
        [],
        "the source profile's role gets nothing"
    );
    assert_eq!(forms[0]["RoleSessionName"], "c1");
    assert_eq!(
        attributes(&forms[1]),
        pairs(&[
            ("SourceIdentity", "from-env"),
            ("Tags.member.1.Key", "team"),
            ("Tags.member.1.Value", "env"),
            ("TransitiveTagKeys.member.1", "team"),
        ])
    );
    assert_eq!(forms[1]["RoleSessionName"], "env-name");
    // The profile's own values win.
    sb.run(&["exec", "-v", "tagged", "--", "true"])
        .ok()
        .stderr_has(
            "AWS_SOURCE_IDENTITY not used: profile 'tagged' sets source_identity, which wins",
        )
        .stderr_has("AWS_SESSION_TAGS not used: profile 'tagged' sets session_tags, which wins");
    let forms = moto.forms("AssumeRole");
    let last = forms.last().unwrap();
    assert_eq!(last["SourceIdentity"], "smith@example.com");
    assert_eq!(last["Tags.member.1.Value"], "infra");
    assert_eq!(
        last["RoleSessionName"], "env-name",
        "the profile names no session"
    );
}

#[test]
fn what_aws_would_refuse_is_refused_before_any_request() {
    let moto = Moto::start();
    let sb = tagged_sandbox(&moto);
    sb.append_config("\n[profile badtags]\nrole_arn = arn:aws:iam::123456789012:role/plain\nsource_profile = smith\nsession_tags = aws:team=x\n");
    sb.run(&["exec", "badtags", "--", "true"])
        .code(125)
        .one_error_line()
        .stderr_has("profile 'badtags': session_tags: the tag key 'aws:team' starts with aws:");
    let bad_env = Sandbox::new(&moto).env("AWS_SOURCE_IDENTITY", "x");
    bad_env
        .run(&["exec", "plain", "--", "true"])
        .code(125)
        .one_error_line()
        .stderr_has("AWS_SOURCE_IDENTITY: 'x' is not a source identity");
    let conflict = tagged_sandbox(&moto);
    conflict.append_config(&format!(
        "\n[profile later]\nrole_arn = {}\nsource_profile = tagged\nsource_identity = someone-else\n",
        moto.get("roles.hop2")
    ));
    conflict
        .run(&["exec", "later", "--", "true"])
        .code(125)
        .one_error_line()
        .stderr_has("AWS never changes a source identity once set");
    assert_eq!(moto.count("AssumeRole"), 0);
    assert_eq!(moto.count("GetSessionToken"), 0);
}

#[test]
fn another_tag_set_is_another_session() {
    let moto = Moto::start();
    let sb = Sandbox::new(&moto);
    let run = |tags: &str| {
        let mut cmd = sb.command(&["exec", "plain", "--", "true"]);
        cmd.env("AWS_SESSION_TAGS", tags);
        assert!(cmd.status().unwrap().success());
    };
    run("team=a");
    run("team=b");
    run("team=a");
    run("team=b");
    assert_eq!(moto.count("AssumeRole"), 2, "one entry per tag set");
    sb.run(&["exec", "plain", "--", "true"]).ok();
    assert_eq!(
        moto.count("AssumeRole"),
        3,
        "and none is the untagged session"
    );
}

/// `echo $AWS_ACCOUNT_ID` and the account `aws sts get-caller-identity` names, as the child.
fn account_lines(sb: &Sandbox, args: &[&str]) -> (String, String) {
    let script = "printf '%s\\n' \"${AWS_ACCOUNT_ID-unset}\"; aws sts get-caller-identity --query Account --output text";
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--", "sh", "-c", script]);
    let out = sb.run(&all);
    out.ok();
    let mut lines = out.stdout.lines();
    (
        lines.next().unwrap_or("").to_string(),
        lines.next().unwrap_or("").to_string(),
    )
}

#[test]
fn the_child_gets_the_account_of_its_credentials() {
    let moto = Moto::shared();
    let sb = Sandbox::new(moto).env("AWS_ACCOUNT_ID", "999999999999");
    // A role, and an MFA session (the account of the mfa_serial ARN).
    for args in [
        &["exec", "plain"][..],
        &["exec", "-t", "123456", "jones"][..],
    ] {
        let (env, caller) = account_lines(&sb, args);
        assert_eq!(env, caller, "{args:?}");
        assert_eq!(env, moto.get("account"), "{args:?}");
    }
    // Long-term keys passed through with no account known: a stale one is not inherited.
    let (env, _) = account_lines(&sb, &["exec", "--no-session", "smith"]);
    assert_eq!(env, "unset");
    sb.run(&["env", "plain"])
        .ok()
        .stdout_has(&format!("export AWS_ACCOUNT_ID='{}'", moto.get("account")));
}

#[test]
fn botocore_as_a_credential_process_caller_reads_the_account() {
    let moto = Moto::shared();
    let sb = Sandbox::new(moto);
    let bin = support::BIN;
    sb.append_config(&format!(
        "\n[profile via-process]\ncredential_process = {bin} env --format process plain\n"
    ));
    let script = "import boto3; c = boto3.Session(profile_name='via-process').get_credentials(); print(c.account_id)";
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .env_clear()
        .envs(sb.base_env())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        moto.get("account")
    );
}

#[test]
fn aws_account_id_beside_the_keys_is_the_account_and_a_bad_one_is_refused() {
    let moto = Moto::shared();
    let sb = Sandbox::new(moto);
    let text = std::fs::read_to_string(&sb.credentials).unwrap();
    let text = text.replace("[smith]\n", "[smith]\naws_account_id = 123456789012\n");
    sb.write_credentials(text);
    let (env, caller) = account_lines(&sb, &["exec", "--no-session", "smith"]);
    assert_eq!(
        (env.as_str(), caller.as_str()),
        ("123456789012", moto.get("account"))
    );
    // The session GetSessionToken makes with those keys is of the same account.
    let (env, _) = account_lines(&sb, &["exec", "smith"]);
    assert_eq!(env, "123456789012");
    let text = std::fs::read_to_string(&sb.credentials)
        .unwrap()
        .replace("aws_account_id = 123456789012", "aws_account_id = 1234");
    sb.write_credentials(text);
    sb.run(&["exec", "smith", "--", "true"])
        .code(125)
        .one_error_line()
        .stderr_has("aws_account_id = 1234 is not an AWS account id (12 digits)");
}

#[test]
fn attributes_with_no_assume_role_to_go_to_are_said_to_be_unused() {
    let moto = Moto::shared();
    let sb = Sandbox::new(moto);
    let text = std::fs::read_to_string(&sb.config).unwrap().replace(
        "[profile smith]\n",
        "[profile smith]\nsource_identity = smith\n",
    );
    sb.write_config(text);
    let mut cmd = sb.command(&["exec", "-v", "--no-session", "smith", "--", "true"]);
    cmd.env("AWS_SESSION_TAGS", "team=x");
    let out = support::Out::of(&["exec smith"], cmd.output().unwrap());
    out.ok()
        .stderr_has("source_identity in profile 'smith' is not used: no AssumeRole is made")
        .stderr_has("AWS_SESSION_TAGS not used: no AssumeRole is made for profile 'smith'");
    // Without -v the variable is not mentioned: it is often exported for every run.
    let mut cmd = sb.command(&["exec", "--no-session", "smith", "--", "true"]);
    cmd.env("AWS_SESSION_TAGS", "team=x");
    let out = support::Out::of(&["exec smith"], cmd.output().unwrap());
    out.ok().stderr_lacks("AWS_SESSION_TAGS");
}

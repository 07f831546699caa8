//! First credentials from every standard source, end to end: `credential_process` (alone,
//! with MFA on top, failing, malformed, recursive), web identity (AssumeRoleWithWebIdentity
//! against moto), the ECS/EKS container endpoint and EC2 instance metadata (stand-ins written
//! to the published contracts and proven with the AWS CLI and boto3 first), each with roles
//! chained on top that moto verifies, one fetch for eight parallel runs, and faults.

use crate::support::{self, Moto, Out, Reply, Req, Sandbox, Stub, WHOAMI, json, rfc3339_in};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn script(sb: &Sandbox, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = sb.dir.path().join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn lines(path: &std::path::Path) -> usize {
    std::fs::read_to_string(path)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

/// Every file under the cache directory, read as text, must not hold `secret`.
fn assert_not_cached(sb: &Sandbox, secret: &str) {
    for name in support::names_in(&sb.cache) {
        let text = std::fs::read_to_string(sb.cache.join(&name)).unwrap_or_default();
        assert!(!text.contains(secret), "{name} holds a long-term secret");
    }
}

/// Temporary credentials of role "plain" with session name "src", from moto, as the JSON
/// the container endpoint and instance metadata serve.
fn plain_src_credentials(moto: &Moto) -> (String, String) {
    let sb = Sandbox::new(moto);
    sb.append_config(&format!(
        "\n[profile srcplain]\nrole_arn = {}\nsource_profile = smith\nrole_session_name = src\n",
        moto.get("roles.plain")
    ));
    let out = sb.run(&["env", "--format", "process", "srcplain"]);
    out.ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let s = |k: &str| v[k].as_str().unwrap().to_string();
    let body = serde_json::json!({
        "AccessKeyId": s("AccessKeyId"),
        "SecretAccessKey": s("SecretAccessKey"),
        "Token": s("SessionToken"),
        "Expiration": s("Expiration"),
        "Code": "Success",
        "Type": "AWS-HMAC",
        "LastUpdated": rfc3339_in(0),
    });
    (body.to_string(), s("AccessKeyId"))
}

#[test]
fn credential_process_keys_are_used_and_never_written_to_disk() {
    let moto = Moto::shared();
    let sb = Sandbox::new(moto);
    let calls = sb.dir.path().join("calls");
    let proc = script(
        &sb,
        "secret-store",
        &format!(
            "echo x >> {}\nprintf '{{\"Version\": 1, \"AccessKeyId\": \"%s\", \"SecretAccessKey\": \"%s\"}}' {} {}",
            calls.display(),
            moto.get("users.smith.key"),
            moto.get("users.smith.secret")
        ),
    );
    sb.append_config(&format!(
        "\n[profile vault]\ncredential_process = {}\nregion = us-east-1\n\
         [profile vault-role]\nrole_arn = {}\nsource_profile = vault\n",
        proc.display(),
        moto.get("roles.plain")
    ));
    let who = |p: &str| {
        let mut args = vec!["exec", p, "--"];
        args.extend(WHOAMI);
        sb.run(&args)
    };
    who("vault").ok().stdout_has(":user/smith");
    who("vault-role").ok().stdout_has("assumed-role/plain/");
    // The role is cached; the keys are not, so the process ran once per uncached run.
    who("vault-role").ok();
    assert_eq!(lines(&calls), 2);
    assert_not_cached(&sb, moto.get("users.smith.secret"));
    let v = sb.run(&["exec", "-v", "vault", "--", "true"]);
    v.ok()
        .stderr_has("credential_process")
        .stderr_has("not cached: long-term keys")
        .stderr_lacks(moto.get("users.smith.secret"));
}

#[test]
fn keys_from_a_process_with_mfa_give_one_mfa_session() {
    let moto = Moto::shared();
    let sb = Sandbox::new(moto);
    let calls = sb.dir.path().join("calls");
    let proc = script(
        &sb,
        "store",
        &format!(
            "echo x >> {}\necho '{{\"Version\":1,\"AccessKeyId\":\"{}\",\"SecretAccessKey\":\"{}\"}}'",
            calls.display(),
            moto.get("users.jones.key"),
            moto.get("users.jones.secret")
        ),
    );
    // The seed's first flow without a key file: keys from the store, MFA on top, and a role
    // that trusts only the MFA session.
    sb.append_config(&format!(
        "\n[profile jstore]\ncredential_process = {}\nmfa_serial = {}\nregion = us-east-1\n\
         [profile jrole]\nrole_arn = {}\nsource_profile = jstore\n",
        proc.display(),
        moto.get("mfa_serial"),
        moto.get("roles.session-only")
    ));
    let mut args = vec!["exec", "-t", "123456", "jrole", "--"];
    args.extend(WHOAMI);
    sb.run(&args).ok().stdout_has("assumed-role/session-only/");
    // The MFA session is cached: a second role run needs neither the process nor a code.
    let mut args = vec!["exec", "jrole", "--"];
    args.extend(WHOAMI);
    sb.run(&args).ok();
    assert_eq!(lines(&calls), 1, "the process ran again");
    assert_not_cached(&sb, moto.get("users.jones.secret"));
}

#[test]
fn a_failing_or_malformed_process_is_explained_without_its_output() {
    let sb = Sandbox::new(Moto::shared());
    let fails = script(
        &sb,
        "fails",
        "echo '{\"Version\":1,\"AccessKeyId\":\"AKIALEAK\",\"SecretAccessKey\":\"stdoutsecret\"}'\necho 'vault is sealed' >&2\necho 'second line' >&2\nexit 3",
    );
    let garbage = script(&sb, "garbage", "echo 'hello stdoutsecret'");
    let version2 = script(
        &sb,
        "v2",
        "echo '{\"Version\":2,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"stdoutsecret\"}'",
    );
    let expired = script(
        &sb,
        "expired",
        "echo '{\"Version\":1,\"AccessKeyId\":\"ASIA\",\"SecretAccessKey\":\"stdoutsecret\",\"SessionToken\":\"t\",\"Expiration\":\"2020-01-01T00:00:00Z\"}'",
    );
    sb.append_config(&format!(
        "\n[profile fails]\ncredential_process = {}\n[profile garbage]\ncredential_process = {}\n\
         [profile v2]\ncredential_process = {}\n[profile expired]\ncredential_process = {}\n\
         [profile missing]\ncredential_process = /nonexistent/store --get\n",
        fails.display(),
        garbage.display(),
        version2.display(),
        expired.display()
    ));
    for (profile, want) in [
        (
            "fails",
            "credential_process exited with status 3: vault is sealed",
        ),
        ("garbage", "not the Version 1 JSON"),
        ("v2", "not the Version 1 JSON"),
        ("expired", "expired at 2020-01-01"),
        ("missing", "cannot start /nonexistent/store"),
    ] {
        let marker = sb.dir.path().join("ran");
        let out = sb.run(&["exec", profile, "--", "touch", marker.to_str().unwrap()]);
        out.code(125)
            .one_error_line()
            .stderr_has(&format!("profile '{profile}'"))
            .stderr_has(want)
            .stderr_lacks("stdoutsecret")
            .stderr_lacks("second line");
        assert!(!marker.exists(), "the command ran");
    }
}

#[test]
fn a_process_that_is_mfarole_for_the_same_profile_stops_at_once() {
    let sb = Sandbox::new(Moto::shared());
    sb.append_config(&format!(
        "\n[profile selfish]\ncredential_process = {} env --format process selfish\n",
        support::BIN
    ));
    let started = Instant::now();
    let out = sb.run(&["exec", "selfish", "--", "true"]);
    out.code(125)
        .one_error_line()
        .stderr_has("runs mfarole for this same profile");
    assert!(started.elapsed() < Duration::from_secs(10));
}

fn web_sandbox(moto: &Moto, token: &str) -> (Sandbox, PathBuf) {
    let sb = Sandbox::new(moto);
    let token_file = sb.dir.path().join("oidc-token");
    std::fs::write(&token_file, token).unwrap();
    sb.append_config(&format!(
        "\n[profile ci]\nrole_arn = {web}\nweb_identity_token_file = {file}\nrole_session_name = wi\nregion = us-east-1\n\
         [profile deploy]\nrole_arn = {on}\nsource_profile = ci\n",
        web = moto.get("roles.web"),
        file = token_file.display(),
        on = moto.get("roles.on-source"),
    ));
    (sb, token_file)
}

#[test]
fn web_identity_tokens_are_exchanged_and_roles_chain_on_top() {
    let moto = Moto::start();
    let (sb, token_file) = web_sandbox(&moto, "test-oidc-first");
    let mut args = vec!["exec", "ci", "--"];
    args.extend(WHOAMI);
    sb.run(&args).ok().stdout_has("assumed-role/web/wi");
    let mut args = vec!["exec", "deploy", "--"];
    args.extend(WHOAMI);
    sb.run(&args).ok().stdout_has("assumed-role/on-source/");
    assert_eq!(
        moto.count("AssumeRoleWithWebIdentity"),
        1,
        "the first step is cached"
    );
    // The file is read again whenever the step runs: a rotated token is what is sent.
    std::fs::write(&token_file, "not-a-valid-token").unwrap();
    sb.run(&["exec", "--refresh", "ci", "--", "true"])
        .code(125)
        .one_error_line()
        .stderr_has("AssumeRoleWithWebIdentity")
        .stderr_has("InvalidIdentityToken")
        .stderr_lacks("not-a-valid-token");
    std::fs::remove_file(&token_file).unwrap();
    sb.run(&["exec", "--refresh", "ci", "--", "true"])
        .code(125)
        .one_error_line()
        .stderr_has("web identity token file")
        .stderr_has("cannot be read");
}

#[test]
fn web_identity_from_the_environment_as_in_ci() {
    let moto = Moto::shared();
    let sb = Sandbox::new(moto);
    let token_file = sb.dir.path().join("token");
    std::fs::write(&token_file, "test-oidc-ci").unwrap();
    let sb = sb
        .env("AWS_WEB_IDENTITY_TOKEN_FILE", token_file.to_str().unwrap())
        .env("AWS_ROLE_ARN", moto.get("roles.web"))
        .env("AWS_ROLE_SESSION_NAME", "gha-run");
    let mut args = vec!["exec", "default", "--"];
    args.extend(WHOAMI);
    sb.run(&args).ok().stdout_has("assumed-role/web/gha-run");
}

/// The container credentials endpoint: `GET path` with `Authorization: <token>` answers the
/// credentials JSON; anything else is 401/404 with `{"code","message"}`.
fn container_stub(creds: String, token: Arc<Mutex<String>>) -> Stub {
    Stub::start(move |req: &Req| {
        if req.method != "GET" || req.path != "/v2/credentials/task" {
            return json(404, r#"{"code":"NotFound","message":"no such path"}"#);
        }
        if req.header("authorization") != Some(token.lock().unwrap().as_str()) {
            return json(401, r#"{"code":"Unauthorized","message":"bad token"}"#);
        }
        json(200, &creds)
    })
}

#[test]
fn container_credentials_with_a_rotated_token_file_and_one_fetch_for_eight_runs() {
    let moto = Moto::shared();
    let (creds, _) = plain_src_credentials(moto);
    let token = Arc::new(Mutex::new("token-one".to_string()));
    let stub = container_stub(creds, token.clone());
    let uri = format!("{}/v2/credentials/task", stub.url);
    let sb = Sandbox::new(moto);
    let token_file = sb.dir.path().join("eks-token");
    std::fs::write(&token_file, "token-one").unwrap();
    let sb = sb.env("AWS_CONTAINER_CREDENTIALS_FULL_URI", &uri).env(
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
        token_file.to_str().unwrap(),
    );

    // The stand-in first, with the AWS CLI as the reference client: it is the contract.
    let cli = std::process::Command::new(WHOAMI[0])
        .args(&WHOAMI[1..])
        .env_clear()
        .envs(sb.base_env())
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .unwrap();
    let cli = Out::of(&["aws sts get-caller-identity"], cli);
    cli.ok().stdout_has("assumed-role/plain/src");
    let served = stub.count("GET", "/v2/credentials/task");

    sb.append_config(&format!(
        "\n[profile ecs]\nrole_arn = {}\ncredential_source = EcsContainer\n",
        moto.get("roles.on-source")
    ));
    let mut args = vec!["exec", "ecs", "--"];
    args.extend(WHOAMI);
    for out in support::parallel(&sb, 8, &args) {
        out.ok().stdout_has("assumed-role/on-source/");
    }
    assert_eq!(
        stub.count("GET", "/v2/credentials/task") - served,
        1,
        "one fetch for 8 runs"
    );

    // EKS rotates the token file: the next fetch reads the new token.
    *token.lock().unwrap() = "token-two".into();
    std::fs::write(&token_file, "token-two").unwrap();
    sb.run(&["exec", "--refresh", "ecs", "--", "true"]).ok();
    // A token with a line break is refused before any request.
    std::fs::write(&token_file, "token-two\r\nX-Forged: 1").unwrap();
    let before = stub.requests.lock().unwrap().len();
    sb.run(&["exec", "--refresh", "ecs", "--", "true"])
        .code(125)
        .one_error_line()
        .stderr_has("line break");
    assert_eq!(stub.requests.lock().unwrap().len(), before);
}

#[test]
fn container_endpoint_faults_are_clear_and_quick() {
    let moto = Moto::shared();
    type Answer = Box<dyn Fn(&Req) -> Reply + Send + Sync>;
    let cases: Vec<(&str, Answer, &str)> = vec![
        (
            "401",
            Box::new(|_: &Req| json(401, r#"{"code":"Unauthorized","message":"bad token"}"#)),
            "answered 401: Unauthorized bad token",
        ),
        ("500", Box::new(|_: &Req| json(500, "{}")), "answered 500"),
        (
            "junk",
            Box::new(|_: &Req| json(200, "<html>secretjunk")),
            "gave no JSON credentials",
        ),
        (
            "expired",
            Box::new(|_: &Req| {
                json(
                    200,
                    r#"{"AccessKeyId":"ASIA","SecretAccessKey":"s","Token":"t","Expiration":"2020-01-01T00:00:00Z"}"#,
                )
            }),
            "expired at 2020-01-01",
        ),
        ("silent", Box::new(|_: &Req| Reply::Silence), "timed out"),
    ];
    for (tag, answer, want) in cases {
        let stub = Stub::start(answer);
        let sb = Sandbox::new(moto)
            .env(
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                &format!("{}/creds", stub.url),
            )
            .env("AWS_CONTAINER_AUTHORIZATION_TOKEN", "tok");
        sb.append_config(
            "\n[profile ecs]\nrole_arn = arn:aws:iam::123456789012:role/x\ncredential_source = EcsContainer\n",
        );
        let marker = sb.dir.path().join("ran");
        let started = Instant::now();
        sb.run(&["exec", "ecs", "--", "touch", marker.to_str().unwrap()])
            .code(125)
            .one_error_line()
            .stderr_has("container credentials endpoint")
            .stderr_has(want)
            .stderr_lacks("secretjunk");
        assert!(!marker.exists(), "{tag}: the command ran");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{tag}: {:?}",
            started.elapsed()
        );
    }
    // A token file that is gone: said before any request.
    let stub = Stub::start(|_: &Req| json(200, "{}"));
    let sb = Sandbox::new(moto)
        .env(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            &format!("{}/creds", stub.url),
        )
        .env(
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            "/nonexistent/token",
        );
    sb.append_config(
        "\n[profile ecs]\nrole_arn = arn:aws:iam::123456789012:role/x\ncredential_source = EcsContainer\n",
    );
    sb.run(&["exec", "ecs", "--", "true"])
        .code(125)
        .one_error_line()
        .stderr_has("/nonexistent/token")
        .stderr_has("cannot be read");
    assert_eq!(stub.requests.lock().unwrap().len(), 0);
    // Plain http to a host that is not loopback is refused before any request.
    let sb = Sandbox::new(moto).env(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "http://192.0.2.1/creds",
    );
    sb.append_config(
        "\n[profile ecs]\nrole_arn = arn:aws:iam::123456789012:role/x\ncredential_source = EcsContainer\n",
    );
    sb.run(&["exec", "ecs", "--", "true"])
        .code(125)
        .one_error_line()
        .stderr_has("plain http");
}

/// IMDSv2: `PUT /latest/api/token` (with the TTL header) gives a token, which every GET must
/// carry; a GET without it is 401, as on an instance that requires IMDSv2.
fn imds_stub(creds: String) -> Stub {
    Stub::start(move |req: &Req| {
        const TOKEN: &str = "imds-session-token";
        match (req.method.as_str(), req.path.as_str()) {
            ("PUT", "/latest/api/token") => {
                if req.header("x-aws-ec2-metadata-token-ttl-seconds").is_none() {
                    return Reply::Http(400, vec![], vec![]);
                }
                Reply::Http(200, vec![], TOKEN.as_bytes().to_vec())
            }
            ("GET", path) if path.starts_with("/latest/meta-data/iam/security-credentials/") => {
                if req.header("x-aws-ec2-metadata-token") != Some(TOKEN) {
                    return Reply::Http(401, vec![], vec![]);
                }
                match path.trim_start_matches("/latest/meta-data/iam/security-credentials/") {
                    "" => Reply::Http(200, vec![], b"instance-role".to_vec()),
                    "instance-role" => json(200, &creds),
                    _ => Reply::Http(404, vec![], vec![]),
                }
            }
            _ => Reply::Http(404, vec![], vec![]),
        }
    })
}

#[test]
fn instance_metadata_by_imdsv2_with_one_fetch_for_eight_runs() {
    let moto = Moto::shared();
    let (creds, _) = plain_src_credentials(moto);
    let stub = imds_stub(creds);
    let sb = Sandbox::new(moto).env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &stub.url);
    // The stand-in first, with boto3 as the reference client (its default chain ends at IMDS).
    let py = "import boto3; print(boto3.client('sts', region_name='us-east-1').get_caller_identity()['Arn'])";
    let boto = std::process::Command::new("python3")
        .args(["-c", py])
        .env_clear()
        .envs(sb.base_env())
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .output()
        .unwrap();
    Out::of(&["python3 boto3"], boto)
        .ok()
        .stdout_has("assumed-role/plain/src");
    // And without the token, a GET is refused: the stand-in really requires IMDSv2.
    let plain_get = std::process::Command::new("python3")
        .args([
            "-c",
            &format!(
                "import urllib.request as u\ntry: u.urlopen('{}/latest/meta-data/iam/security-credentials/')\nexcept Exception as e: print(e.code)",
                stub.url
            ),
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&plain_get.stdout).trim(), "401");

    sb.append_config(&format!(
        "\n[profile ec2]\nrole_arn = {}\ncredential_source = Ec2InstanceMetadata\n",
        moto.get("roles.on-source")
    ));
    let fetched = stub.count(
        "GET",
        "/latest/meta-data/iam/security-credentials/instance-role",
    );
    let mut args = vec!["exec", "ec2", "--"];
    args.extend(WHOAMI);
    for out in support::parallel(&sb, 8, &args) {
        out.ok().stdout_has("assumed-role/on-source/");
    }
    assert_eq!(
        stub.count(
            "GET",
            "/latest/meta-data/iam/security-credentials/instance-role"
        ) - fetched,
        1
    );
    sb.run(&["list"])
        .ok()
        .stdout_has("via ec2 (instance metadata)");
    let v = sb.run(&["exec", "-v", "--refresh", "ec2", "--", "true"]);
    v.ok()
        .stderr_has("source 'ec2' (instance metadata)")
        .stderr_has("plan 1: instance metadata at http://127.0.0.1")
        .stderr_has("PUT")
        .stderr_lacks("imds-session-token");
}

#[test]
fn instance_metadata_faults_fail_in_about_a_second_saying_where() {
    let moto = Moto::shared();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://127.0.0.1:{}", l.local_addr().unwrap().port())
    };
    let silent = Stub::start(|_: &Req| Reply::Silence);
    let broken = Stub::start(|_: &Req| Reply::Http(500, vec![], vec![]));
    let junk = imds_stub("{not json".into());
    let expired = imds_stub(
        r#"{"Code":"Success","AccessKeyId":"ASIA","SecretAccessKey":"s","Token":"t","Expiration":"2020-01-01T00:00:00Z"}"#.into(),
    );
    for (endpoint, want) in [
        (closed.as_str(), "connection refused"),
        (silent.url.as_str(), "timed out"),
        (broken.url.as_str(), "answered 500"),
        (junk.url.as_str(), "gave no JSON credentials"),
        (expired.url.as_str(), "expired at 2020-01-01"),
    ] {
        let sb = Sandbox::new(moto).env("AWS_EC2_METADATA_SERVICE_ENDPOINT", endpoint);
        sb.append_config(
            "\n[profile ec2]\nrole_arn = arn:aws:iam::123456789012:role/x\ncredential_source = Ec2InstanceMetadata\n",
        );
        let started = Instant::now();
        sb.run(&["exec", "ec2", "--", "true"])
            .code(125)
            .one_error_line()
            .stderr_has("instance metadata")
            .stderr_has(want)
            .stderr_has(endpoint);
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{endpoint}: {:?}",
            started.elapsed()
        );
    }
    let sb = Sandbox::new(moto).env("AWS_EC2_METADATA_DISABLED", "true");
    sb.append_config(
        "\n[profile ec2]\nrole_arn = arn:aws:iam::123456789012:role/x\ncredential_source = Ec2InstanceMetadata\n",
    );
    sb.run(&["exec", "ec2", "--", "true"])
        .code(125)
        .one_error_line()
        .stderr_has("AWS_EC2_METADATA_DISABLED");
}

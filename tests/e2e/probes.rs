//! Regression tests for the third probe of the landed binary (issue 27): URLs that hide their
//! host, helpers that leave a child holding their stdout, escape sequences in every setting, a
//! helper's stderr in a failure marker, token files that block or never end, long helper
//! answers, a wrong secret served from the cache, and an endpoint that echoes its token. Each
//! failed on the build before the fix (the ones that hung there are bounded here).

use crate::support::{
    self, FakeSts, Moto, Reply, Req, Sandbox, Stub, bounded, gst_ok, json, names_in,
};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// An executable shell script in the sandbox.
fn script(sb: &Sandbox, name: &str, body: &str) -> PathBuf {
    let path = sb.dir.path().join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn sha1_hex(text: &str) -> String {
    use sha1::Digest;
    sha1::Sha1::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A sandbox whose profiles use every source that sends a secret: keys to STS (`k`), the
/// container endpoint (`ecs`, token `container-secret`), and IAM Identity Center (`sso`, with a
/// login that expires in `sso_expires` seconds, bearer `sso-bearer`, client secret
/// `client-secret`, refresh token `refresh-secret`).
fn secret_senders(stub: &Stub, sso_expires: i64) -> Sandbox {
    let sb = Sandbox::empty(&format!("{}/", stub.url))
        .env("AWS_CONTAINER_AUTHORIZATION_TOKEN", "container-secret");
    sb.write_config(
        "[profile k]\nregion = us-east-1\n\
         [profile ecs]\nrole_arn = arn:aws:iam::123456789012:role/x\ncredential_source = EcsContainer\n\
         [sso-session s]\nsso_start_url = https://example.awsapps.com/start\nsso_region = us-east-1\n\
         [profile sso]\nsso_session = s\nsso_account_id = 123456789012\nsso_role_name = R\n",
    );
    sb.write_credentials("[k]\naws_access_key_id = AKIAKEYS\naws_secret_access_key = secretkeys\n");
    let dir = sb.home.join(".aws/sso/cache");
    std::fs::create_dir_all(&dir).unwrap();
    let token = dir.join(format!("{}.json", sha1_hex("s")));
    std::fs::write(
        &token,
        serde_json::json!({
            "startUrl": "https://example.awsapps.com/start",
            "region": "us-east-1",
            "accessToken": "sso-bearer",
            "expiresAt": support::rfc3339_in(sso_expires),
            "clientId": "client-1",
            "clientSecret": "client-secret",
            "registrationExpiresAt": support::rfc3339_in(86400),
            "refreshToken": "refresh-secret",
        })
        .to_string(),
    )
    .unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    sb
}

#[test]
fn urls_that_hide_their_host_never_get_a_secret() {
    let stub = Stub::start(|_: &Req| json(500, "{}"));
    let port = stub.url.rsplit(':').next().unwrap().to_string();
    // Each names 0.0.0.0, which reaches this stub on 127.0.0.1 but is not loopback.
    let hostile = [
        (format!("http://127.0.0.1:1@0.0.0.0:{port}"), "user info"),
        (format!("http://[::1]@0.0.0.0:{port}"), "user info"),
        (format!("HTTP://0.0.0.0:{port}"), "plain http"),
        (format!("http://localhost.:{port}"), "plain http"),
    ];
    let mut wrong = Vec::new();
    for (url, want) in &hostile {
        // (setting, its value, the profile that sends a secret there, login expiry)
        let places = [
            ("AWS_ENDPOINT_URL_STS", format!("{url}/"), "k", 3600),
            (
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                format!("{url}/creds"),
                "ecs",
                3600,
            ),
            ("AWS_ENDPOINT_URL_SSO", url.clone(), "sso", 3600),
            // An expired login is refreshed at the token service.
            ("AWS_ENDPOINT_URL_SSO_OIDC", url.clone(), "sso", -60),
        ];
        for (setting, value, profile, expires) in places {
            let before = stub.requests.lock().unwrap().len();
            let sb = secret_senders(&stub, expires).env(setting, &value);
            let out = sb.run(&["exec", profile, "--", "true"]);
            let sent: Vec<String> = stub.requests.lock().unwrap()[before..]
                .iter()
                .map(|r| format!("{} {}", r.method, r.path))
                .collect();
            let refused = out.code == Some(125)
                && out.stderr.lines().count() == 1
                && out.stderr.contains(want)
                && !out.stderr.contains("127.0.0.1:1@");
            if !sent.is_empty() || !refused {
                wrong.push(format!(
                    "{setting}={value}: sent {sent:?}, status {:?}, said {:?}",
                    out.code, out.stderr
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// `credential_process` JSON for long-term keys, with `extra` fields.
fn process_json(version: &str, extra: &str) -> String {
    format!(
        r#"{{"Version":{version},"AccessKeyId":"AKIAPROCESS","SecretAccessKey":"processsecret"{extra}}}"#
    )
}

#[test]
fn a_process_that_leaves_a_child_holding_stdout_does_not_hold_mfarole() {
    let sb = Sandbox::empty("http://127.0.0.1:9/").env("MFAROLE_CREDENTIAL_PROCESS_TIMEOUT", "3s");
    let json_file = sb.dir.path().join("answer.json");
    std::fs::write(&json_file, process_json("1", "")).unwrap();
    // Answers and exits at once; the sleep it started keeps stdout open for 20 s.
    let store = script(
        &sb,
        "store",
        &format!("cat '{}'; sleep 20 &", json_file.display()),
    );
    sb.write_config(format!(
        "[profile p]\ncredential_process = {}\n",
        store.display()
    ));
    let started = Instant::now();
    let out = bounded(
        &sb,
        &["env", "--format", "json", "p"],
        Duration::from_secs(30),
    )
    .expect("mfarole was killed");
    out.ok().stdout_has("AKIAPROCESS");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn long_and_float_version_answers_are_judged_right() {
    let sb = Sandbox::empty("http://127.0.0.1:9/");
    let padding = format!(r#","Padding":"{}""#, "x".repeat(300 * 1024));
    let long = sb.dir.path().join("long.json");
    std::fs::write(&long, process_json("1", &padding)).unwrap();
    let float = sb.dir.path().join("float.json");
    std::fs::write(&float, process_json("1.0", "")).unwrap();
    let long = script(&sb, "long", &format!("cat '{}'", long.display()));
    let huge = script(&sb, "huge", "head -c 10000000 /dev/zero | tr '\\0' x");
    let float = script(&sb, "float", &format!("cat '{}'", float.display()));
    sb.write_config(format!(
        "[profile long]\ncredential_process = {}\n[profile huge]\ncredential_process = {}\n\
         [profile float]\ncredential_process = {}\n",
        long.display(),
        huge.display(),
        float.display()
    ));
    for profile in ["long", "huge"] {
        sb.run(&["env", profile])
            .code(125)
            .one_error_line()
            .stderr_has("printed an answer longer than the limit (262144 bytes)");
    }
    sb.run(&["env", "--format", "json", "float"])
        .ok()
        .stdout_has("AKIAPROCESS");
}

#[test]
fn a_failure_marker_keeps_mfaroles_words_not_the_process_stderr() {
    let sb = Sandbox::empty("http://127.0.0.1:9/");
    let store = script(
        &sb,
        "store",
        "echo 'unlock failed for hunter2-passphrase' >&2; exit 3",
    );
    sb.write_config(format!(
        "[profile p]\ncredential_process = {}\nmfa_serial = arn:aws:iam::1:mfa/p\n",
        store.display()
    ));
    sb.run(&["exec", "p", "--", "true"])
        .code(125)
        .one_error_line()
        .stderr_has("credential_process exited with status 3: unlock failed for hunter2");
    let markers: Vec<String> = names_in(&sb.cache)
        .into_iter()
        .filter(|n| n.ends_with(".fail"))
        .collect();
    assert_eq!(markers.len(), 1, "{:?}", names_in(&sb.cache));
    let marker = std::fs::read_to_string(sb.cache.join(&markers[0])).unwrap();
    assert!(marker.contains("exited with status 3"), "{marker}");
    assert!(
        !marker.contains("hunter2"),
        "the marker holds its stderr: {marker}"
    );
}

#[test]
fn token_files_that_block_or_never_end_are_refused_at_once() {
    let fake = FakeSts::start(|_, _| Reply::Http(500, vec![], b"no".to_vec()));
    let stub = Stub::start(|_: &Req| json(500, "{}"));
    let sb = Sandbox::empty(&fake.url);
    let fifo = sb.dir.path().join("fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let big = sb.dir.path().join("big");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(100 << 20)
        .unwrap();
    for (file, want) in [
        (fifo.as_path(), "is not a regular file"),
        (Path::new("/dev/zero"), "is not a regular file"),
        (big.as_path(), "is larger than 20002 bytes"),
    ] {
        sb.write_config(format!(
            "[profile ci]\nrole_arn = arn:aws:iam::123456789012:role/ci\nweb_identity_token_file = {}\n",
            file.display()
        ));
        let out = support::bounded(&sb, &["exec", "ci", "--", "true"], Duration::from_secs(10))
            .unwrap_or_else(|| panic!("blocked on {}", file.display()));
        out.code(125).one_error_line().stderr_has(want);
        // The container endpoint's token file, by the same rules.
        let ecs = Sandbox::empty(&fake.url)
            .env(
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                &format!("{}/creds", stub.url),
            )
            .env(
                "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                file.to_str().unwrap(),
            );
        ecs.write_config(
            "[profile ecs]\nrole_arn = arn:aws:iam::123456789012:role/x\ncredential_source = EcsContainer\n",
        );
        let out = bounded(
            &ecs,
            &["exec", "ecs", "--", "true"],
            Duration::from_secs(10),
        )
        .unwrap_or_else(|| panic!("blocked on {}", file.display()));
        out.code(125)
            .one_error_line()
            .stderr_has("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
            .stderr_has(if want.starts_with("is larger") {
                "is larger than 16384 bytes"
            } else {
                want
            });
    }
    assert_eq!(fake.count(), 0, "a token went to STS");
    assert_eq!(stub.requests.lock().unwrap().len(), 0);
}

#[test]
fn a_wrong_secret_is_never_served_the_right_ones_cached_session() {
    let moto = Moto::start();
    let sb = Sandbox::new(&moto);
    sb.append_config("\n[profile jones-wrong]\nmfa_serial = PLACEHOLDER\n");
    let config = std::fs::read_to_string(&sb.config)
        .unwrap()
        .replace("PLACEHOLDER", moto.get("mfa_serial"));
    sb.write_config(config);
    sb.append_credentials(&format!(
        "\n[jones-wrong]\naws_access_key_id = {}\naws_secret_access_key = {}WRONG\n",
        moto.get("users.jones.key"),
        moto.get("users.jones.secret")
    ));
    sb.run(&["exec", "-t", "123456", "jones", "--", "true"])
        .ok();
    assert_eq!(moto.count("GetSessionToken"), 1);
    sb.run(&["exec", "-v", "-t", "654321", "jones-wrong", "--", "true"])
        .code(125)
        .stderr_lacks("from the cache")
        .stderr_has("SignatureDoesNotMatch");
    // The right keys still find their session.
    sb.run(&["exec", "-v", "jones", "--", "true"])
        .ok()
        .stderr_has("from the cache");
}

#[test]
fn an_endpoint_that_echoes_its_token_never_gets_it_shown() {
    let stub = Stub::start(|req: &Req| {
        let token = req.header("authorization").unwrap_or("").to_string();
        json(
            401,
            &format!(r#"{{"code":"Unauthorized","message":"token {token} is not valid"}}"#),
        )
    });
    let sb = Sandbox::empty("http://127.0.0.1:9/")
        .env(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            &format!("{}/creds", stub.url),
        )
        .env("AWS_CONTAINER_AUTHORIZATION_TOKEN", "tok-0123456789-secret");
    sb.write_config(
        "[profile ecs]\nrole_arn = arn:aws:iam::123456789012:role/x\ncredential_source = EcsContainer\n",
    );
    sb.run(&["exec", "ecs", "--", "true"])
        .code(125)
        .one_error_line()
        .stderr_has("answered 401")
        .stderr_lacks("0123456789");
    for name in names_in(&sb.cache) {
        let text = std::fs::read_to_string(sb.cache.join(&name)).unwrap_or_default();
        assert!(!text.contains("0123456789"), "{name}: {text}");
    }
}

/// Every variable `src/settings.rs` reads, by the names it gives them.
fn variables_read() -> Vec<String> {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/settings.rs"))
            .unwrap();
    let mut names: Vec<String> = text
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|w| {
            w.len() > 4
                && (w.starts_with("AWS_") || w.starts_with("MFAROLE_"))
                && w.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        })
        .map(str::to_string)
        .collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn escape_sequences_in_every_setting_never_reach_the_terminal() {
    const ESC: &str = "\u{1b}]0;pwned\u{7}\u{1b}[31m";
    let fake = FakeSts::start(|_, _| Reply::Http(200, vec![], gst_ok()));
    let stub = Stub::start(|_: &Req| json(500, "{}"));
    let base = || {
        let sb = Sandbox::empty(&fake.url).env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &stub.url);
        sb.write_config(
            "[profile k]\nregion = us-east-1\n\
             [profile ecs]\nrole_arn = arn:aws:iam::123456789012:role/x\ncredential_source = EcsContainer\n\
             [profile imds]\nrole_arn = arn:aws:iam::123456789012:role/x\ncredential_source = Ec2InstanceMetadata\n",
        );
        sb.write_credentials("[k]\naws_access_key_id = AKIAKEYS\naws_secret_access_key = s\n");
        sb
    };
    let bad = |v: &str| format!("{v}{ESC}");
    let path_bad = |sb: &Sandbox| sb.dir.path().join(format!("x{ESC}")).display().to_string();
    let mut tried: Vec<String> = Vec::new();
    let mut check = |name: &str, sb: Sandbox, args: &[&str]| {
        tried.push(name.to_string());
        let out = sb.run(args);
        assert!(
            !out.stderr.chars().any(|c| c.is_control() && c != '\n'),
            "{name} ({args:?}): raw control characters on stderr: {:?}",
            out.stderr
        );
    };
    // Every variable, its value followed by an escape sequence.
    let with_var = |var: &str| {
        let sb = base();
        let value = match var {
            "AWS_CONFIG_FILE"
            | "AWS_SHARED_CREDENTIALS_FILE"
            | "AWS_CA_BUNDLE"
            | "MFAROLE_CACHE_DIR"
            | "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"
            | "AWS_WEB_IDENTITY_TOKEN_FILE" => path_bad(&sb),
            "AWS_ENDPOINT_URL"
            | "AWS_ENDPOINT_URL_STS"
            | "AWS_CONTAINER_CREDENTIALS_FULL_URI"
            | "AWS_EC2_METADATA_SERVICE_ENDPOINT" => bad(&stub.url),
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" => bad("/creds"),
            _ => bad("1"),
        };
        let sb = match var {
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE" | "AWS_CONTAINER_AUTHORIZATION_TOKEN" => sb
                .env(
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                    &format!("{}/c", stub.url),
                ),
            "AWS_WEB_IDENTITY_TOKEN_FILE" => sb.env("AWS_ROLE_ARN", "arn:aws:iam::1:role/r"),
            _ => sb,
        };
        sb.env(var, &value)
    };
    for var in variables_read() {
        for args in [
            &["-v", "exec", "k", "--", "true"][..],
            &["-v", "exec", "ecs", "--", "true"],
            &["-v", "exec", "imds", "--", "true"],
            &["list"],
        ] {
            check(&var, with_var(&var), args);
        }
    }
    // The environment mfarole reads besides its own and AWS's variables.
    for var in ["HOME", "XDG_CACHE_HOME", "TMPDIR", "LOGNAME", "USER"] {
        let sb = base();
        let value = path_bad(&sb);
        check(
            var,
            sb.env(var, &value),
            &["-v", "exec", "--server", "k", "--", "true"],
        );
    }
    // Values from the config files, and the profile named on the command line.
    let config_values = [
        (
            "mfa_serial",
            format!(
                "[profile m]\nmfa_serial = {}\n[m]\n",
                bad("arn:aws:iam::1:mfa/m")
            ),
        ),
        (
            "web_identity_token_file",
            format!(
                "[profile m]\nrole_arn = arn:aws:iam::1:role/r\nweb_identity_token_file = {}\n",
                bad("/nonexistent/t")
            ),
        ),
        (
            "credential_process",
            format!(
                "[profile m]\ncredential_process = {}\n",
                bad("/nonexistent/p")
            ),
        ),
        (
            "role_arn",
            format!(
                "[profile m]\nrole_arn = {}\nsource_profile = k\n",
                bad("arn:aws:iam::1:role/r")
            ),
        ),
        (
            "source_profile",
            format!(
                "[profile m]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = {}\n",
                bad("k")
            ),
        ),
        (
            "sso_session",
            format!(
                "[profile m]\nsso_session = {}\nsso_account_id = 1\nsso_role_name = R\n",
                bad("s")
            ),
        ),
        (
            "endpoint_url",
            format!(
                "[profile m]\nendpoint_url = {}\nsource_profile = k\nrole_arn = arn:aws:iam::1:role/r\n",
                bad("http://x")
            ),
        ),
        (
            "region",
            format!(
                "[profile m]\nregion = {}\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = k\n",
                bad("eu")
            ),
        ),
    ];
    for (key, text) in config_values {
        let sb = base();
        sb.append_config(&text);
        sb.append_credentials("[m]\naws_access_key_id = AKIAM\naws_secret_access_key = s\n");
        check(key, sb, &["-v", "exec", "m", "--", "true"]);
        let sb = base();
        sb.append_config(&text);
        check(key, sb, &["list"]);
    }
    check(
        "profile argument",
        base(),
        &["-v", "exec", &bad("k"), "--", "true"],
    );
    assert!(tried.len() > 40, "{tried:?}");
}

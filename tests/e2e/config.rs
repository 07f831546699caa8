//! The shared config read as the AWS CLI reads it, checked against the installed botocore:
//! the seven cases of issue 21 with botocore's answer as the expected value, and a
//! differential test that generates configs from a grammar of what people write and compares
//! what `mfarole list --json` read with what botocore reads and resolves
//! (`support/botocore_view.py`, botocore's own provider chain with a fake network).
//!
//! `MFAROLE_DIFF_CASES=N` (default 2000) sets how many configs the differential test makes;
//! `MFAROLE_DIFF_SEED` its seed. The long run: `MFAROLE_DIFF_CASES=20000 cargo test --test e2e
//! config::differential -- --nocapture`.

use crate::support::{self, Out, TempDir};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const PROCESS_KEY: &str = "AKIAFROMPROCESS00001";
const ENV_KEY: &str = "AKIAENVIRONMENT00001";
const KEY: &str = "AKIAEXAMPLEEXAMPLE01";
const SECRET: &str = "secretsecretsecretsecretsecretsecret0000";

/// A case's directory: `config`, `credentials`, a home, and the helper files the configs
/// name (a credential_process, a web identity token, an SSO login).
struct Case {
    dir: PathBuf,
}

impl Case {
    fn new(root: &Path, n: usize) -> Case {
        let dir = root.join(format!("case{n}"));
        std::fs::create_dir_all(&dir).unwrap();
        Case { dir }
    }

    fn write(&self, config: &str, credentials: &str) {
        std::fs::write(self.dir.join("config"), config).unwrap();
        std::fs::write(self.dir.join("credentials"), credentials).unwrap();
    }

    fn paths(&self) -> (PathBuf, PathBuf) {
        (self.dir.join("config"), self.dir.join("credentials"))
    }
}

/// The files every case may name, in `root`.
fn helpers(root: &Path) {
    let process = root.join("process.sh");
    std::fs::write(
        &process,
        format!(
            "#!/bin/sh\necho '{{\"Version\": 1, \"AccessKeyId\": \"{PROCESS_KEY}\", \"SecretAccessKey\": \"s\"}}'\n"
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&process, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(root.join("token"), "header.payload.signature").unwrap();
    // An SSO login for the session `s` of the generated configs, valid for a day.
    let cache = root.join("home/.aws/sso/cache");
    std::fs::create_dir_all(&cache).unwrap();
    let name: String = {
        use sha1::Digest;
        sha1::Sha1::digest(b"s")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    std::fs::write(
        cache.join(format!("{name}.json")),
        serde_json::json!({
            "startUrl": "https://x.awsapps.com/start", "region": "us-east-1",
            "accessToken": "access", "expiresAt": support::rfc3339_in(86400),
        })
        .to_string(),
    )
    .unwrap();
}

fn env_for(root: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("PATH", std::env::var("PATH").unwrap_or_default()),
        ("HOME", root.join("home").display().to_string()),
        ("AWS_ACCESS_KEY_ID", ENV_KEY.into()),
        ("AWS_SECRET_ACCESS_KEY", "envsecret".into()),
        ("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9".into()),
        (
            "MFAROLE_CACHE_DIR",
            root.join("cache").display().to_string(),
        ),
    ]
}

/// What mfarole read: `None` when it refuses the files (a syntax error), else per profile
/// its settings and, unless it only carries settings, its source, roles and whether it
/// resolves.
fn mfarole_view(root: &Path, case: &Case) -> Option<BTreeMap<String, Value>> {
    let (config, credentials) = case.paths();
    let out = Command::new(support::BIN)
        .args(["list", "--json"])
        .env_clear()
        .envs(env_for(root))
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_SHARED_CREDENTIALS_FILE", &credentials)
        .output()
        .unwrap();
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.lines().count() == 1 && err.contains(":"),
            "a refusal is one path:line error: {err}"
        );
        return None;
    }
    let list: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    Some(
        list.into_iter()
            .map(|p| {
                let mut v = serde_json::json!({"settings": p["settings"]});
                if !p["source"].is_null() || !p["error"].is_null() {
                    v["error"] = Value::Bool(!p["error"].is_null());
                    v["why"] = p["error"].clone();
                    if p["error"].is_null() {
                        v["source"] = p["source"].clone();
                        v["roles"] = p["roles"].clone();
                    }
                }
                (p["name"].as_str().unwrap().to_string(), v)
            })
            .collect(),
    )
}

/// What botocore read, for every case at once (one Python process).
fn botocore_views(root: &Path, cases: &[Case]) -> Vec<Option<BTreeMap<String, Value>>> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/support/botocore_view.py");
    let mut child = Command::new("python3")
        .arg(script)
        .arg(PROCESS_KEY)
        .env_clear()
        .envs(env_for(root))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = String::new();
    for case in cases {
        let (c, k) = case.paths();
        input.push_str(&format!("{}\t{}\n", c.display(), k.display()));
    }
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success(), "botocore_view.py failed");
    let text = String::from_utf8(out.stdout).unwrap();
    if let Ok(path) = std::env::var("MFAROLE_DIFF_REPORT") {
        std::fs::write(format!("{path}.botocore"), &text).unwrap();
    }
    assert_eq!(text.lines().count(), cases.len(), "one answer per case");
    text.lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).unwrap();
            assert!(v.get("internal").is_none(), "botocore_view.py: {v}");
            if v.get("error").is_some() {
                return None;
            }
            Some(
                v["profiles"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(name, p)| {
                        let mut p = p.clone();
                        if p["error"] == Value::Bool(true) {
                            p.as_object_mut().unwrap().remove("source");
                            p.as_object_mut().unwrap().remove("roles");
                        }
                        p.as_object_mut().unwrap().remove("why");
                        (name.clone(), p)
                    })
                    .collect(),
            )
        })
        .collect()
}

/// Both readings of one pair of files, as (botocore, mfarole).
fn both(config: &str, credentials: &str) -> (Value, Value) {
    let root = TempDir::new("config-case");
    helpers(root.path());
    let case = Case::new(root.path(), 0);
    case.write(config, credentials);
    let boto = botocore_views(root.path(), std::slice::from_ref(&case)).remove(0);
    let mut ours = mfarole_view(root.path(), &case);
    tolerated(boto.as_ref(), ours.as_mut());
    (serde_json::json!(boto), serde_json::json!(ours))
}

/// mfarole's errors that differ from botocore on purpose (the man page lists them under
/// BOTOCORE), each where botocore resolves credentials it cannot use or refuses only later,
/// when it makes a client (which the fake network here skips): a key or secret holding a line
/// break (an indented line after it continued its value), which no AWS key has and no
/// environment can carry; a region that is not a region name; a `services` setting naming no
/// section. mfarole refuses them when it reads the profile.
const ON_PURPOSE: &[&str] = &[
    "control character",
    "is not a region name",
    "but the config file has no [services",
];

/// Applies [`ON_PURPOSE`]: each such profile takes botocore's reading; the count is
/// returned. Also drops mfarole's error text, which botocore's view does not have.
fn tolerated(
    boto: Option<&BTreeMap<String, Value>>,
    ours: Option<&mut BTreeMap<String, Value>>,
) -> usize {
    let (Some(boto), Some(ours)) = (boto, ours) else {
        return 0;
    };
    let mut n = 0;
    for (name, mine) in ours.iter_mut() {
        let why = mine
            .as_object_mut()
            .and_then(|o| o.remove("why"))
            .unwrap_or(Value::Null);
        let theirs = boto.get(name);
        let on_purpose = why
            .as_str()
            .is_some_and(|w| ON_PURPOSE.iter().any(|p| w.contains(p)))
            && theirs.is_some_and(|t| t["error"] == Value::Bool(false));
        if on_purpose {
            *mine = theirs.unwrap().clone();
            n += 1;
        }
    }
    n
}

fn keys() -> String {
    format!("aws_access_key_id = {KEY}\naws_secret_access_key = {SECRET}\n")
}

fn assert_same(config: &str, credentials: &str, expected: Value) {
    let (boto, ours) = both(config, credentials);
    assert_eq!(boto, expected, "botocore's answer changed:\n{config}");
    assert_eq!(ours, expected, "mfarole differs from botocore:\n{config}");
}

#[test]
fn quoted_section_names_split_as_botocore_splits_them() {
    let config = "[profile 'Foo Bar']\nregion = eu-west-1\nrole_arn = arn:aws:iam::123456789012:role/readonly\nsource_profile = base\n[profile \"dev\"]\nregion = us-west-2\n[profile in valid]\nregion = x\n";
    assert_same(
        config,
        &format!("[base]\n{}", keys()),
        serde_json::json!({
            "Foo Bar": {"settings": {"region": "eu-west-1", "role_arn": "arn:aws:iam::123456789012:role/readonly", "source_profile": "base"},
                        "error": false, "source": "keys", "roles": ["arn:aws:iam::123456789012:role/readonly"]},
            "base": {"settings": {"aws_access_key_id": "…LE01", "aws_secret_access_key": "<secret>"}, "error": false, "source": "keys", "roles": []},
            "dev": {"settings": {"region": "us-west-2"}},
        }),
    );
}

#[test]
fn indented_settings_are_settings() {
    let config = "  [profile ind]\n    role_arn = arn:aws:iam::123456789012:role/readonly\n    source_profile = base\n    region = eu-west-1\n";
    let credentials = format!("  [base]\n  {}", keys().replace('\n', "\n  "));
    assert_same(
        config,
        &credentials,
        serde_json::json!({
            "ind": {"settings": {"region": "eu-west-1", "role_arn": "arn:aws:iam::123456789012:role/readonly", "source_profile": "base"},
                    "error": false, "source": "keys", "roles": ["arn:aws:iam::123456789012:role/readonly"]},
            "base": {"settings": {"aws_access_key_id": "…LE01", "aws_secret_access_key": "<secret>"}, "error": false, "source": "keys", "roles": []},
        }),
    );
}

#[test]
fn aws_security_token_makes_keys_temporary() {
    let credentials = format!("[tmp]\n{}aws_security_token = FQoGexampletoken\n", keys());
    assert_same(
        "",
        &credentials,
        serde_json::json!({
            "tmp": {"settings": {"aws_access_key_id": "…LE01", "aws_secret_access_key": "<secret>", "aws_security_token": "<secret>"},
                    "error": false, "source": "keys", "roles": []},
        }),
    );
    // And mfarole passes them through as session credentials: no GetSessionToken.
    let sb = support::Sandbox::empty("http://127.0.0.1:9");
    sb.write_credentials(&credentials);
    let out = sb.run(&["env", "-v", "--format", "json", "tmp"]);
    out.ok()
        .stderr_has("already temporary")
        .stdout_has("FQoGexampletoken");
}

#[test]
fn a_credential_process_comes_before_keys_in_the_config_file() {
    let root = TempDir::new("order");
    helpers(root.path());
    let process = root.path().join("process.sh");
    let config = format!(
        "[profile both]\ncredential_process = {}\naws_access_key_id = AKIAFROMCONFIGFILE01\naws_secret_access_key = x\n\
         [profile creds]\ncredential_process = {0}\n",
        process.display()
    );
    let credentials = format!("[creds]\n{}", keys());
    let case = Case::new(root.path(), 0);
    case.write(&config, &credentials);
    let boto = botocore_views(root.path(), std::slice::from_ref(&case)).remove(0);
    let mut ours = mfarole_view(root.path(), &case);
    tolerated(boto.as_ref(), ours.as_mut());
    assert_eq!(boto, ours);
    let ours = ours.unwrap();
    assert_eq!(ours["both"]["source"], "credential_process");
    assert_eq!(
        ours["creds"]["source"], "keys",
        "keys in the credentials file come first"
    );
}

#[test]
fn file_variables_expand_home_and_variables() {
    let sb = support::Sandbox::empty("http://127.0.0.1:9");
    let alt = sb.home.join("alt");
    std::fs::create_dir_all(&alt).unwrap();
    std::fs::write(alt.join("config"), "[profile t]\nregion = eu-west-1\n").unwrap();
    std::fs::write(alt.join("credentials"), format!("[t]\n{}", keys())).unwrap();
    let out = sb
        .command(&["list", "--names"])
        .env("AWS_CONFIG_FILE", "~/alt/config")
        .env("ALT", "alt")
        .env("AWS_SHARED_CREDENTIALS_FILE", "$HOME/${ALT}/credentials")
        .output()
        .unwrap();
    Out::of(&["list --names"], out).ok().stdout_has("t\n");
    let out = sb
        .command(&["env", "--no-session", "--format", "json", "t"])
        .env("AWS_CONFIG_FILE", "~/alt/config")
        .env("AWS_SHARED_CREDENTIALS_FILE", "~/alt/credentials")
        .output()
        .unwrap();
    Out::of(&["env t"], out).ok().stdout_has(KEY);
}

#[test]
fn services_sections_name_the_sts_endpoint() {
    let sb = support::Sandbox::empty("http://127.0.0.1:9");
    sb.write_config(
        "[profile s]\nservices = local\nregion = us-east-1\n\n[services local]\nsts =\n  endpoint_url = http://127.0.0.1:4566\n\
         [profile t]\nservices = local\nendpoint_url = http://127.0.0.1:5555\n\
         [profile u]\nservices = nowhere\n",
    );
    sb.write_credentials(format!("[s]\n{k}[t]\n{k}[u]\n{k}", k = keys()));
    // The sandbox sets AWS_ENDPOINT_URL, which comes first: take it away.
    let run = |profile: &str, extra: &[(&str, &str)]| {
        let mut cmd = sb.command(&["exec", "-v", profile, "--", "true"]);
        cmd.env_remove("AWS_ENDPOINT_URL");
        for (k, v) in extra {
            cmd.env(k, v);
        }
        Out::of(&["exec -v"], cmd.output().unwrap())
    };
    run("s", &[]).stderr_has("endpoint http://127.0.0.1:4566/ ([services local])");
    run("t", &[]).stderr_has("endpoint http://127.0.0.1:4566/ ([services local])");
    run("s", &[("AWS_ENDPOINT_URL", "http://127.0.0.1:7777")])
        .stderr_has("endpoint http://127.0.0.1:7777/ (AWS_ENDPOINT_URL)");
    run("s", &[("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")])
        .stderr_has("endpoint https://sts.us-east-1.amazonaws.com/");
    run("u", &[]).code(125).stderr_has(
        "has services = nowhere, but the config file has no [services nowhere] section",
    );
}

#[test]
fn an_int_botocore_cannot_read_is_ignored_and_said_once() {
    let config = "[profile r]\nrole_arn = arn:aws:iam::123456789012:role/readonly\nsource_profile = base\nduration_seconds = 7200 # two hours\n";
    let (boto, ours) = both(config, &format!("[base]\n{}", keys()));
    assert_eq!(boto, ours);
    let sb = support::Sandbox::empty("http://127.0.0.1:9");
    sb.write_config(config);
    sb.write_credentials(format!("[base]\n{}", keys()));
    let out = sb.run(&["exec", "r", "--", "true"]);
    // The run goes on to STS (a closed port here): the note is said once, before that.
    assert_eq!(
        out.stderr
            .matches("duration_seconds = 7200 # two hours in profile 'r' is not a whole number")
            .count(),
        1,
        "{}",
        out.stderr
    );
}

/// A small deterministic generator (xorshift64*), so that a failure names its seed and case.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const NAMES: &[&str] = &["a", "b", "c", "default", "Foo Bar", "dév", "日本"];

/// One section header for profile `name` in the config file, in one of the forms people
/// write (and a few that are not profiles).
fn header(rng: &mut Rng, name: &str) -> String {
    let quoted = if name.contains(' ') || rng.chance(20) {
        let q = rng.pick(&["'", "\""]);
        format!("{q}{name}{q}")
    } else {
        name.to_string()
    };
    let sep = rng.pick(&[" ", " ", " ", "\t", "  "]);
    let body = match (name, rng.below(10)) {
        ("default", 0..=5) => "default".to_string(),
        (_, 0) => format!(" profile{sep}{quoted} "),
        (_, 1) => format!("profile{sep}{quoted} extra"),
        (_, 2) => format!("profiles{sep}{quoted}"),
        _ => format!("profile{sep}{quoted}"),
    };
    let trail = rng.pick(&["", "", "", " # note", " ; note"]);
    format!("{}[{body}]{trail}", rng.pick(&["", "", "", " ", "\t"]))
}

/// One setting line (or block) for a profile.
fn setting(rng: &mut Rng, root: &Path, in_credentials: bool) -> String {
    let name = rng.pick(NAMES);
    let (key, value): (String, String) = match rng.below(if in_credentials { 6 } else { 16 }) {
        0 => ("aws_access_key_id".into(), KEY.into()),
        1 => ("aws_secret_access_key".into(), SECRET.into()),
        2 => (
            rng.pick(&["aws_session_token", "aws_security_token"])
                .into(),
            "FQoGtoken".into(),
        ),
        3 => (
            "region".into(),
            rng.pick(&["eu-west-1", "us-east-1", ""]).into(),
        ),
        4 => ("output".into(), "json".into()),
        5 => (
            "role_arn".into(),
            format!("arn:aws:iam::123456789012:role/{}", rng.pick(&["r1", "r2"])),
        ),
        6 | 7 => ("source_profile".into(), name.into()),
        8 => (
            "credential_source".into(),
            rng.pick(&["Environment", "EcsContainer", "Vault", "environment"])
                .into(),
        ),
        9 => (
            "credential_process".into(),
            root.join("process.sh").display().to_string(),
        ),
        10 => (
            "web_identity_token_file".into(),
            root.join("token").display().to_string(),
        ),
        11 => (
            "mfa_serial".into(),
            "arn:aws:iam::123456789012:mfa/u".into(),
        ),
        12 => (
            "duration_seconds".into(),
            rng.pick(&["3600", "7200 # two hours", "1h"]).into(),
        ),
        13 => ("s3".into(), "\n  max_concurrent_requests = 10".into()),
        14 => (
            rng.pick(&["sso_session", "services", "sso_role_name"])
                .into(),
            rng.pick(&["s", "local", "R"]).into(),
        ),
        _ => ("sso_account_id".into(), "123456789012".into()),
    };
    let key = if rng.chance(10) {
        key.to_uppercase()
    } else {
        key
    };
    let delim = rng.pick(&[" = ", "=", " =", ": ", " = "]);
    let indent = rng.pick(&["", "", "", "  ", "\t"]);
    let mut line = format!("{indent}{key}{delim}{value}");
    if rng.chance(5) {
        line.push_str(&format!("\n{indent}    continued"));
    }
    line
}

/// One pair of files from the grammar.
fn generate(rng: &mut Rng, root: &Path) -> (String, String) {
    let mut config = String::new();
    if rng.chance(10) {
        config.push_str("# a comment\n; another\n\n");
    }
    let mut used = Vec::new();
    for _ in 0..1 + rng.below(4) {
        let name = rng.pick(NAMES);
        if used.contains(&name) && !rng.chance(10) {
            continue; // the same profile twice is rarer (and an error, or a replacement)
        }
        used.push(name);
        config.push_str(&header(rng, name));
        config.push('\n');
        for _ in 0..rng.below(5) {
            config.push_str(&setting(rng, root, false));
            config.push('\n');
            if rng.chance(10) {
                config.push_str(rng.pick(&["\n", "  # indented comment\n", "\n\n"]));
            }
        }
    }
    if rng.chance(5) {
        config.push_str(rng.pick(&[
            "[services local]\nsts =\n  endpoint_url = http://127.0.0.1:4566\n",
            "[services 'local']\ns3 =\n  endpoint_url = http://127.0.0.1:4566\n",
        ]));
    }
    if rng.chance(15) {
        let header = rng.pick(&[
            "[sso-session s]",
            "[sso-session 's']",
            "[sso-session\t\"s\"]",
        ]);
        config.push_str(header);
        config.push_str("\nsso_start_url = https://x.awsapps.com/start\nsso_region = us-east-1\n");
        config.push_str(
            "[profile sso]\nsso_session = s\nsso_account_id = 123456789012\nsso_role_name = R\n",
        );
    }
    if rng.chance(5) {
        config.push_str("[DEFAULT]\nregion = ap-south-1\n");
    }
    let mut credentials = String::new();
    for _ in 0..rng.below(3) {
        let name = rng.pick(NAMES);
        credentials.push_str(&format!("{}[{name}]\n", rng.pick(&["", "", " "])));
        for _ in 0..1 + rng.below(3) {
            credentials.push_str(&setting(rng, root, true));
            credentials.push('\n');
        }
    }
    if rng.chance(5) {
        config = config.replace('\n', "\r\n");
    }
    if rng.chance(2) {
        config.insert(0, '\u{feff}');
    }
    (config, credentials)
}

#[test]
fn differential_against_botocore() {
    let cases: usize = std::env::var("MFAROLE_DIFF_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let seed: u64 = std::env::var("MFAROLE_DIFF_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_2026_1130);
    let root = TempDir::new("differential");
    helpers(root.path());
    let mut rng = Rng(seed);
    let mut all = Vec::new();
    for n in 0..cases {
        let case = Case::new(root.path(), n);
        let (config, credentials) = generate(&mut rng, root.path());
        case.write(&config, &credentials);
        all.push(case);
    }
    // botocore (one Python process) and mfarole (a run per case) side by side.
    let (boto, mine) = std::thread::scope(|s| {
        let boto = s.spawn(|| botocore_views(root.path(), &all));
        let mine: Vec<_> = all.iter().map(|c| mfarole_view(root.path(), c)).collect();
        (boto.join().unwrap(), mine)
    });
    let mut differences = Vec::new();
    let mut on_purpose = 0;
    for (n, ((case, boto), mut ours)) in all.iter().zip(boto).zip(mine).enumerate() {
        on_purpose += tolerated(boto.as_ref(), ours.as_mut());
        let config = std::fs::read_to_string(case.dir.join("config")).unwrap();
        if boto.is_none() && ours.is_some() && config.starts_with('\u{feff}') {
            // On purpose: a byte order mark, which botocore refuses (see ini.rs).
            on_purpose += 1;
            continue;
        }
        if ours != boto {
            let config = std::fs::read_to_string(case.dir.join("config")).unwrap();
            let credentials = std::fs::read_to_string(case.dir.join("credentials")).unwrap();
            differences.push(format!(
                "case {n} (seed {seed}):\n--- config\n{config}--- credentials\n{credentials}--- botocore\n{}\n--- mfarole\n{}\n",
                serde_json::to_string(&boto).unwrap(),
                serde_json::to_string(&ours).unwrap()
            ));
        }
    }
    eprintln!(
        "differential: {cases} configs compared with botocore (seed {seed}), {} differ, {on_purpose} profiles differ on purpose (see ON_PURPOSE and the byte order mark)",
        differences.len()
    );
    if let Ok(path) = std::env::var("MFAROLE_DIFF_REPORT") {
        std::fs::write(path, differences.join("\n")).unwrap();
    }
    assert!(
        differences.is_empty(),
        "{} of {cases} differ; the first:\n{}",
        differences.len(),
        differences[0]
    );
}

/// botocore's STS client endpoint for a region and the endpoint variables, one line per case.
const BOTOCORE_STS_ENDPOINTS: &str = r#"
import sys, os, botocore.session
for line in sys.stdin.read().splitlines():
    region, fips, dual, legacy = line.split()
    for k, v in (("AWS_USE_FIPS_ENDPOINT", fips), ("AWS_USE_DUALSTACK_ENDPOINT", dual),
                 ("AWS_STS_REGIONAL_ENDPOINTS", legacy)):
        os.environ.pop(k, None)
        if v != "-":
            os.environ[k] = v
    s = botocore.session.get_session()
    print(s.create_client("sts", region_name=region).meta.endpoint_url.rstrip("/") + "/")
"#;

/// `use_fips_endpoint`, `use_dualstack_endpoint` and `sts_regional_endpoints` choose the STS
/// endpoint as botocore's rules do, in every partition (found silently ignored by a tester: a
/// FIPS-bound user's keys and codes went to a non-FIPS endpoint).
#[test]
fn fips_dual_stack_and_legacy_endpoints_are_botocores() {
    let mut cases = Vec::new();
    for region in [
        "us-east-1",
        "us-west-2",
        "eu-south-1",
        "us-gov-west-1",
        "cn-north-1",
        "aws-global",
    ] {
        for fips in ["-", "true", "false"] {
            for dual in ["-", "true"] {
                for legacy in ["-", "legacy", "regional"] {
                    cases.push([region, fips, dual, legacy]);
                }
            }
        }
    }
    let input: String = cases.iter().map(|c| c.join(" ") + "\n").collect();
    let mut py = std::process::Command::new("python3")
        .args(["-c", BOTOCORE_STS_ENDPOINTS])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    py.stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let want = String::from_utf8(py.wait_with_output().unwrap().stdout).unwrap();
    let want: Vec<&str> = want.lines().collect();
    assert_eq!(want.len(), cases.len(), "botocore answered every case");
    let sb = support::Sandbox::empty("http://127.0.0.1:9");
    sb.write_credentials(format!("[k]\n{}", keys()));
    for (case, want) in cases.iter().zip(want) {
        let [region, fips, dual, legacy] = *case;
        // Half of the cases as profile settings, half as variables: the same answer.
        let as_profile = (region.len() + fips.len() + dual.len()) % 2 == 0;
        let mut config = format!("[profile k]\nregion = {region}\n");
        let mut cmd = sb.command(&["list", "k"]);
        cmd.env_remove("AWS_ENDPOINT_URL");
        for (key, var, v) in [
            ("use_fips_endpoint", "AWS_USE_FIPS_ENDPOINT", fips),
            ("use_dualstack_endpoint", "AWS_USE_DUALSTACK_ENDPOINT", dual),
            (
                "sts_regional_endpoints",
                "AWS_STS_REGIONAL_ENDPOINTS",
                legacy,
            ),
        ] {
            match (v, as_profile) {
                ("-", _) => {}
                (v, true) => config.push_str(&format!("{key} = {v}\n")),
                (v, false) => {
                    cmd.env(var, v);
                }
            }
        }
        sb.write_config(config);
        let out = Out::of(&["list k"], cmd.output().unwrap());
        out.ok().stdout_has(&format!("STS endpoint {want}\n"));
    }
    // Read from the profile named, not down the chain (botocore reads its session's profile);
    // a variable set but empty is false, and wins over the profile.
    sb.write_config(
        "[profile src]\nuse_fips_endpoint = true\nsts_regional_endpoints = legacy\n\
         [profile k]\nregion = us-west-2\nsource_profile = src\nrole_arn = arn:aws:iam::123456789012:role/r\n\
         [profile f]\nregion = us-west-2\nuse_fips_endpoint = true\nsts_regional_endpoints = legacy\n",
    );
    sb.write_credentials(format!("[src]\n{k}[f]\n{k}", k = keys()));
    let list = |profile: &str, vars: &[(&str, &str)]| {
        let mut cmd = sb.command(&["list", profile]);
        cmd.env_remove("AWS_ENDPOINT_URL")
            .envs(vars.iter().copied());
        Out::of(&["list", profile], cmd.output().unwrap())
    };
    list("k", &[])
        .ok()
        .stdout_has("STS endpoint https://sts.us-west-2.amazonaws.com/\n");
    list("f", &[])
        .ok()
        .stdout_has("STS endpoint https://sts-fips.us-west-2.amazonaws.com/\n");
    let empty = [
        ("AWS_USE_FIPS_ENDPOINT", ""),
        ("AWS_STS_REGIONAL_ENDPOINTS", ""),
    ];
    list("f", &empty)
        .ok()
        .stdout_has("STS endpoint https://sts.us-west-2.amazonaws.com/\n");
}

/// `AWS_CONFIG_FILE=` or `AWS_SHARED_CREDENTIALS_FILE=` (set, empty): botocore reads no file,
/// where unset means the file under `~/.aws`. The AWS CLI then finds neither profile.
#[test]
fn an_empty_file_variable_reads_no_file_as_botocore() {
    let sb = support::Sandbox::empty("http://127.0.0.1:9");
    std::fs::create_dir_all(sb.home.join(".aws")).unwrap();
    std::fs::write(
        sb.home.join(".aws/config"),
        "[profile k]\nregion = us-east-1\n",
    )
    .unwrap();
    let creds = sb.home.join(".aws/credentials");
    std::fs::write(&creds, format!("[k]\n{}", keys())).unwrap();
    std::fs::set_permissions(&creds, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let botocore_finds = |var: &str| {
        let out = std::process::Command::new("python3")
            .args([
                "-c",
                "import botocore.session as s; c = s.Session(profile='k').get_credentials(); print(c.access_key if c else None)",
            ])
            .env("HOME", &sb.home)
            .env_remove("AWS_CONFIG_FILE")
            .env_remove("AWS_SHARED_CREDENTIALS_FILE")
            .env(var, "")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
            + &String::from_utf8_lossy(&out.stderr)
    };
    for var in ["AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"] {
        let mut cmd = sb.command(&["env", "--no-session", "--format", "json", "k"]);
        cmd.env_remove("AWS_CONFIG_FILE")
            .env_remove("AWS_SHARED_CREDENTIALS_FILE")
            .env(var, "");
        let out = Out::of(&["env k", var], cmd.output().unwrap());
        let botocore = botocore_finds(var);
        if var == "AWS_SHARED_CREDENTIALS_FILE" {
            // botocore finds the profile in the config but no keys: nor does mfarole.
            assert!(botocore.starts_with("None"), "{botocore}");
            out.code(125)
                .one_error_line()
                .stderr_has("profile 'k': has no credentials");
        } else {
            // The keys are in the credentials file; the config's region is not read.
            assert!(botocore.starts_with("AKIAEXAMPLE"), "{botocore}");
            out.ok()
                .stdout_has("AKIAEXAMPLE")
                .stderr_has("no region for 'k'")
                .stderr_has("in a config file (AWS_CONFIG_FILE is empty)");
        }
    }
}

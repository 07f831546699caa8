//! `mfarole console`: credentials through the plan and cache as `exec`, a federated session for
//! an IAM user's keys, the sign-in token from the federation stand-in
//! (`support/federation.py`, inside moto's process, proven below with a reference client that
//! follows AWS's documented sample), and the URL to stdout or a browser, never elsewhere.

use std::path::Path;

use crate::support::*;

/// A sandbox whose sign-in service is the stand-in of `moto`.
fn sandbox(moto: &Moto) -> Sandbox {
    Sandbox::new(moto).env("AWS_ENDPOINT_URL_SIGNIN", moto.federation())
}

/// Decodes one `application/x-www-form-urlencoded` value.
fn decode(v: &str) -> String {
    let bytes = v.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                out.push(u8::from_str_radix(&v[i + 1..i + 3], 16).unwrap());
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// The query parameters of a URL, decoded.
fn params(url: &str) -> Vec<(String, String)> {
    let query = url.split_once('?').unwrap().1;
    query
        .split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (decode(k), decode(v))
        })
        .collect()
}

fn param(url: &str, name: &str) -> String {
    params(url)
        .into_iter()
        .find(|(k, _)| k == name)
        .unwrap_or_else(|| panic!("no {name} in the URL"))
        .1
}

/// The one line `--print` wrote, checked to be a login URL of the stand-in carrying the token
/// it gave.
fn printed_url(out: &Out, moto: &Moto) -> String {
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stdout: {:?}", out.stdout);
    let url = lines[0].to_string();
    let login = format!(
        "{}/federation?Action=login&Issuer=mfarole&",
        moto.federation()
    );
    assert!(url.starts_with(&login), "{url}");
    let last = moto.federation_requests().pop().unwrap();
    assert_eq!(param(&url, "SigninToken"), last["token"].as_str().unwrap());
    url
}

#[test]
fn a_role_through_an_mfa_session_signs_in_once_without_session_duration() {
    let moto = Moto::start();
    let sb = sandbox(&moto);
    let out = sb.run(&["console", "admin", "-t", "123456", "--print"]);
    out.ok();
    let url = printed_url(&out, &moto);
    let reqs = moto.federation_requests();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    assert_eq!(reqs[0]["status"], 200, "{reqs:?}");
    assert_eq!(reqs[0]["kind"], "role");
    assert!(reqs[0]["session_duration"].is_null(), "{reqs:?}");
    assert_eq!(reqs[0]["params"], serde_json::json!(["Action", "Session"]));
    assert_eq!(moto.count("GetSessionToken"), 1);
    assert_eq!(moto.count("AssumeRole"), 1);
    assert_eq!(
        param(&url, "Destination"),
        "https://us-east-1.console.aws.amazon.com/console/home?region=us-east-1"
    );
}

#[test]
fn a_chained_role_refuses_d_before_any_request() {
    let moto = Moto::start();
    let sb = sandbox(&moto);
    let out = sb.run(&["console", "admin", "-t", "123456", "-d", "2h", "--print"]);
    out.code(125).one_error_line().stderr_has("chained role");
    assert_eq!(out.stdout, "");
    assert!(moto.counts().is_empty(), "{:?}", moto.counts());
    assert!(moto.federation_requests().is_empty());
    // Out of AWS's range for the kind: said before any request too.
    let out = sb.run(&["console", "plain", "-d", "13h", "--print"]);
    out.code(125)
        .one_error_line()
        .stderr_has("outside 15m–12h")
        .stderr_has("(see 'mfarole console --help')");
    let out = sb.run(&["console", "smith", "-d", "37h", "--print"]);
    out.code(125).stderr_has("outside 15m–36h");
    assert!(moto.counts().is_empty(), "{:?}", moto.counts());
}

#[test]
fn a_role_assumed_with_long_term_keys_gets_the_session_duration_asked() {
    let moto = Moto::start();
    let sb = sandbox(&moto);
    let out = sb.run(&["console", "plain", "-d", "12h", "--print"]);
    out.ok();
    printed_url(&out, &moto);
    let reqs = moto.federation_requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0]["status"], 200, "{reqs:?}");
    assert_eq!(reqs[0]["session_duration"], "43200");
    // -d is the console's, not the role's: the AssumeRole asked for no duration.
    let forms = moto.forms("AssumeRole");
    assert_eq!(forms.len(), 1);
    assert!(!forms[0].contains_key("DurationSeconds"), "{forms:?}");
}

#[test]
fn keys_only_get_a_federation_token_then_sign_in_without_session_duration() {
    let moto = Moto::start();
    let sb = sandbox(&moto);
    let out = sb.run(&["console", "smith", "-d", "36h", "--print"]);
    out.ok();
    printed_url(&out, &moto);
    let forms = moto.forms("GetFederationToken");
    assert_eq!(forms.len(), 1, "{forms:?}");
    assert_eq!(forms[0]["DurationSeconds"], "129600");
    let name = &forms[0]["Name"];
    assert!(
        name.starts_with("jones-") && (2..=32).contains(&name.len()),
        "{name}"
    );
    let policy: serde_json::Value = serde_json::from_str(&forms[0]["Policy"]).unwrap();
    assert_eq!(policy["Statement"][0]["Action"], "*");
    assert_eq!(moto.count("GetSessionToken"), 0);
    let reqs = moto.federation_requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0]["status"], 200, "{reqs:?}");
    assert_eq!(reqs[0]["kind"], "federation");
    assert!(reqs[0]["session_duration"].is_null());
    // A user with mfa_serial too: GetFederationToken cannot carry MFA, so none is asked.
    let out = sb.run(&["console", "jones", "--print"]);
    out.ok();
    assert_eq!(moto.count("GetFederationToken"), 2);
    assert_eq!(moto.count("GetSessionToken"), 0);
}

#[test]
fn cached_role_credentials_mean_no_sts_call_and_no_prompt() {
    let moto = Moto::start();
    let sb = sandbox(&moto);
    sb.run(&["exec", "admin", "-t", "123456", "--", "true"])
        .ok();
    let before = moto.counts();
    // No -t, no terminal, no mfa_process: only the cache can serve it.
    let out = sb.run(&["console", "admin", "--print"]);
    out.ok();
    printed_url(&out, &moto);
    // mfarole called nothing; the one GetCallerIdentity is the stand-in checking the session.
    let mut after = moto.counts();
    assert_eq!(after.remove("GetCallerIdentity"), Some(1));
    assert_eq!(after, before);
    assert_eq!(moto.federation_requests().len(), 1);
}

#[test]
fn print_writes_one_url_whose_destination_names_region_and_service() {
    let moto = Moto::start();
    let sb = sandbox(&moto);
    let out = sb.run(&[
        "console",
        "plain",
        "--print",
        "--region",
        "eu-west-1",
        "--service",
        "s3",
    ]);
    out.ok();
    let url = printed_url(&out, &moto);
    assert_eq!(
        param(&url, "Destination"),
        "https://eu-west-1.console.aws.amazon.com/s3/home?region=eu-west-1"
    );
    let names: Vec<String> = params(&url).into_iter().map(|(k, _)| k).collect();
    assert_eq!(names, ["Action", "Issuer", "Destination", "SigninToken"]);
}

/// A browser that writes its arguments, one per line, to `argv` beside it.
fn recording_browser(dir: &Path) -> String {
    let script = dir.join("browser.sh");
    let out = dir.join("argv");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done >> {}\n",
            out.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script.display().to_string()
}

#[test]
fn the_browser_gets_the_url_as_one_argument() {
    let moto = Moto::start();
    let dir = TempDir::new("browser");
    let browser = format!("{} --new-window", recording_browser(dir.path()));
    let sb = sandbox(&moto).env("BROWSER", &browser);
    let out = sb.run(&["console", "plain", "--service", "iam"]);
    out.ok();
    assert_eq!(out.stdout, "");
    let argv = wait_file(&dir.path().join("argv"), std::time::Duration::from_secs(5));
    let args: Vec<&str> = argv.lines().collect();
    assert_eq!(args.len(), 2, "{args:?}");
    assert_eq!(args[0], "--new-window");
    let token = moto.federation_requests()[0]["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(param(args[1], "SigninToken"), token);
    // --logout-first: one launch, through the logout URL that goes on to the login.
    std::fs::remove_file(dir.path().join("argv")).unwrap();
    sb.run(&["console", "plain", "--logout-first"]).ok();
    let argv = wait_file(&dir.path().join("argv"), std::time::Duration::from_secs(5));
    let args: Vec<&str> = argv.lines().collect();
    assert_eq!(args.len(), 2, "{args:?}");
    let logout = format!("{}/oauth?Action=logout&redirect_uri=", moto.federation());
    assert!(args[1].starts_with(&logout), "{}", args[1]);
    let login = param(args[1], "redirect_uri");
    assert!(login.starts_with(&format!("{}/federation?Action=login", moto.federation())));
    let token = moto.federation_requests()[1]["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(param(&login, "SigninToken"), token);
}

#[test]
fn no_browser_is_said_with_print_and_exit_125() {
    let moto = Moto::start();
    let empty = TempDir::new("nopath");
    let sb = sandbox(&moto).env("PATH", &empty.path().display().to_string());
    let out = sb.run(&["-v", "console", "plain"]);
    out.code(125)
        .stderr_has("--print")
        .stderr_has("xdg-open (not found)");
    assert_eq!(out.stdout, "");
    let last = out.stderr.lines().last().unwrap();
    assert!(
        last.starts_with("mfarole: no browser could be started"),
        "{last}"
    );
    let token = moto.federation_requests()[0]["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!out.stderr.contains(&token), "{}", out.stderr);
    assert!(!out.stderr.contains("SigninToken="), "{}", out.stderr);
}

#[test]
fn verbose_shows_no_url_and_no_session_key() {
    let moto = Moto::start();
    let dir = TempDir::new("browser");
    let sb = sandbox(&moto).env("BROWSER", &recording_browser(dir.path()));
    let runs = [
        sb.run(&["-v", "console", "admin", "-t", "123456", "--print"]),
        sb.run(&["console", "-v", "smith", "--print"]),
        sb.run(&["console", "-v", "plain", "-d", "1h"]),
    ];
    let reqs = moto.federation_requests();
    assert_eq!(reqs.len(), 3, "{reqs:?}");
    for (out, req) in runs.iter().zip(&reqs) {
        out.ok();
        let session = &req["session"];
        let secrets = [
            session["sessionId"].as_str().unwrap(),
            session["sessionKey"].as_str().unwrap(),
            session["sessionToken"].as_str().unwrap(),
            req["token"].as_str().unwrap(),
            "SigninToken=",
            "Session=",
            "Destination",
        ];
        for line in out.stderr.lines() {
            for s in secrets {
                assert!(!line.contains(s), "{s:?} in {line:?}");
            }
        }
        out.stderr_has("getSigninToken for")
            .stderr_has("console session:");
    }
    runs[0].stderr_has("chained role");
    runs[1].stderr_has("GetFederationToken for 'smith'");
    runs[2].stderr_has("1h (SessionDuration)");
}

/// Role credentials issued in us-east-1, written as static keys of `profile` (no STS call
/// needed to use them, as for credentials pasted from a portal).
fn static_profile(sb: &Sandbox, profile: &str, source: &str) {
    let out = sb.run(&["env", source, "-t", "123456", "--format", "json"]);
    out.ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    sb.append_credentials(&format!(
        "\n[{profile}]\naws_access_key_id = {}\naws_secret_access_key = {}\naws_session_token = {}\n",
        v["AccessKeyId"].as_str().unwrap(),
        v["SecretAccessKey"].as_str().unwrap(),
        v["SessionToken"].as_str().unwrap()
    ));
}

#[test]
fn cn_and_us_gov_regions_pick_their_partitions_hosts() {
    let moto = Moto::start();
    let sb = sandbox(&moto);
    static_profile(&sb, "pasted", "plain");
    let out = sb.run(&["console", "pasted", "--region", "cn-north-1", "--print"]);
    out.ok();
    let url = printed_url(&out, &moto);
    assert_eq!(
        param(&url, "Destination"),
        "https://cn-north-1.console.amazonaws.cn/console/home?region=cn-north-1"
    );
    // Without the override, the partition's own sign-in host (reached through a proxy that
    // refuses, so that no test talks to AWS).
    let sb = Sandbox::new(&moto);
    static_profile(&sb, "pasted", "plain");
    let sb = sb.env("HTTPS_PROXY", "http://127.0.0.1:1");
    for (region, host) in [
        ("cn-north-1", "https://signin.amazonaws.cn/federation"),
        (
            "us-gov-west-1",
            "https://signin.amazonaws-us-gov.com/federation",
        ),
        ("eu-west-1", "https://signin.aws.amazon.com/federation"),
    ] {
        let out = sb.run(&["console", "pasted", "--region", region, "--print"]);
        out.code(125).one_error_line().stderr_has(host);
        assert_eq!(out.stdout, "");
    }
}

#[test]
fn session_token_credentials_are_refused_and_said_so() {
    let moto = Moto::start();
    let sb = sandbox(&moto);
    static_profile(&sb, "mfa-session", "jones");
    let out = sb.run(&["console", "mfa-session", "--print"]);
    out.code(125)
        .one_error_line()
        .stderr_has("refused its credentials with HTTP 400")
        .stderr_has("GetSessionToken");
    assert_eq!(out.stdout, "");
    assert_eq!(moto.federation_requests()[0]["kind"], "user");
}

/// Temporary credentials that are not an MFA session but are refused (expired, revoked,
/// pasted wrong) are not said to be GetSessionToken credentials only: the error names both.
#[test]
fn refused_role_credentials_are_not_blamed_on_get_session_token_alone() {
    let moto = Moto::start();
    let sb = sandbox(&moto);
    let out = sb.run(&["env", "plain", "--format", "json"]);
    out.ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    sb.append_credentials(&format!(
        "\n[broken]\naws_access_key_id = {}\naws_secret_access_key = {}X\naws_session_token = {}\n",
        v["AccessKeyId"].as_str().unwrap(),
        v["SecretAccessKey"].as_str().unwrap(),
        v["SessionToken"].as_str().unwrap()
    ));
    let out = sb.run(&["console", "broken", "--print"]);
    out.code(125)
        .one_error_line()
        .stderr_has("refused its credentials with HTTP 400")
        .stderr_has("may have expired or been revoked")
        .stderr_has("if they come from GetSessionToken");
    assert_eq!(out.stdout, "");
    let reqs = moto.federation_requests();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    assert!(reqs[0]["kind"].is_null(), "{reqs:?}");
}

/// The stand-in answers as AWS documents, to a client written from AWS's own sample.
#[test]
fn the_federation_stand_in_answers_the_documented_client() {
    let moto = Moto::start();
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/support/federation_client.py");
    let run = |key: &str, secret: &str, case: &str| {
        let out = std::process::Command::new("python3")
            .arg(&script)
            .args([moto.federation(), moto.url(), key, secret, case])
            .args([moto.get("roles.plain"), moto.get("roles.on-source")])
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(
            out.status.success(),
            "{case}: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let (k, s) = (moto.get("users.smith.key"), moto.get("users.smith.secret"));
    for (case, status) in [
        ("role-long-term", "200"),
        ("role-long-term:43200", "200"),
        ("role-long-term:43201", "400"),
        ("role-long-term:899", "400"),
        ("chained", "200"),
        ("chained:3600", "400"),
        ("federation", "200"),
        ("federation:3600", "400"),
        ("gst", "400"),
        ("garbage", "400"),
    ] {
        let answer = run(k, s, case);
        assert!(answer.starts_with(status), "{case}: {answer}");
    }
}

/// An executable `sh` script `name` in the sandbox's directory.
fn script(sb: &Sandbox, name: &str, body: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = sb.dir.path().join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn lines_of(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

/// Long-term keys from a credential_process (no session token) are long-term keys: a role
/// assumed with them takes -d as SessionDuration, also when the role comes from the cache.
/// It was classified as a chained role from the plan alone, so -d was refused. Temporary
/// credentials from a process still make a chained role, refused after the fetch but
/// before any STS call.
#[test]
fn a_role_on_long_term_keys_from_a_credential_process_takes_session_duration() {
    let moto = Moto::start();
    let sb = sandbox(&moto);
    let calls = sb.dir.path().join("calls");
    let store = script(
        &sb,
        "store",
        &format!(
            "echo x >> {}\nprintf '{{\"Version\": 1, \"AccessKeyId\": \"%s\", \"SecretAccessKey\": \"%s\"}}' {} {}",
            calls.display(),
            moto.get("users.smith.key"),
            moto.get("users.smith.secret")
        ),
    );
    let out = sb.run(&["env", "plain", "--format", "process"]);
    out.ok();
    let temporary = sb.dir.path().join("temporary.json");
    std::fs::write(&temporary, &out.stdout).unwrap();
    let tmp_store = script(&sb, "tmp-store", &format!("cat {}", temporary.display()));
    sb.append_config(&format!(
        "\n[profile vault]\ncredential_process = {}\nregion = us-east-1\n\
         [profile vault-role]\nrole_arn = {role}\nsource_profile = vault\n\
         [profile tmp]\ncredential_process = {}\nregion = us-east-1\n\
         [profile tmp-role]\nrole_arn = {role}\nsource_profile = tmp\n",
        store.display(),
        tmp_store.display(),
        role = moto.get("roles.plain"),
    ));
    let assumed = moto.count("AssumeRole");
    // Out of the bounds of any role: said before the process runs.
    let out = sb.run(&["console", "vault-role", "-d", "13h", "--print"]);
    out.code(125).one_error_line().stderr_has("outside 15m–12h");
    assert_eq!(lines_of(&calls), 0, "the process ran");
    for round in 1..=2 {
        let out = sb.run(&["console", "-v", "vault-role", "-d", "2h", "--print"]);
        out.ok()
            .stderr_has("a role assumed with long-term keys")
            .stderr_has("2h (SessionDuration)");
        printed_url(&out, &moto);
        let req = moto.federation_requests().pop().unwrap();
        assert_eq!(req["status"], 200, "{req:?}");
        assert_eq!(req["session_duration"], "7200", "{req:?}");
        // The second round takes the role from the cache but still reads the process, the
        // only way to know what kind of keys assumed it.
        assert_eq!(moto.count("AssumeRole"), assumed + 1, "round {round}");
        assert_eq!(lines_of(&calls), round);
    }
    let before = moto.counts();
    let out = sb.run(&["console", "tmp-role", "-d", "2h", "--print"]);
    out.code(125)
        .one_error_line()
        .stderr_has("chained role")
        .stderr_has("credential_process");
    assert_eq!(moto.counts(), before, "a request after the fetch");
}

/// A path copied from the address bar keeps its own region= (none added beside it), and a
/// full console URL is taken when its host is the partition's console, refused otherwise.
#[test]
fn service_paths_with_a_region_and_full_console_urls() {
    let moto = Moto::start();
    let sb = sandbox(&moto);
    let dest = |service: &str| {
        let out = sb.run(&["console", "plain", "--print", "--service", service]);
        out.ok();
        param(&printed_url(&out, &moto), "Destination")
    };
    assert_eq!(
        dest("/ec2/home?region=eu-west-1#Instances:"),
        "https://eu-west-1.console.aws.amazon.com/ec2/home?region=eu-west-1#Instances:"
    );
    assert_eq!(
        dest("https://eu-west-1.console.aws.amazon.com/ec2/home?region=eu-west-1#Instances:"),
        "https://eu-west-1.console.aws.amazon.com/ec2/home?region=eu-west-1#Instances:"
    );
    let before = moto.counts();
    for evil in [
        "https://evil.example/ec2/home",
        "https://console.aws.amazon.com.evil.example/",
        "https://console.aws.amazon.com@evil.example/",
        "http://console.aws.amazon.com/ec2/home",
        "https://signin.aws.amazon.com/oauth?Action=logout",
    ] {
        let out = sb.run(&["console", "plain", "--print", "--service", evil]);
        out.code(125)
            .one_error_line()
            .stderr_has("console.aws.amazon.com");
        assert_eq!(out.stdout, "");
    }
    assert_eq!(moto.counts(), before, "a request for a refused --service");
}

/// The GetFederationToken of a keys-only profile takes no MFA code: the warning says that,
/// not "--no-session", which the user never gave.
#[test]
fn an_unused_mfa_code_is_said_in_console_words() {
    let moto = Moto::start();
    let sb = sandbox(&moto);
    let out = sb.run(&["console", "jones", "-t", "123456", "--print"]);
    out.ok()
        .stderr_has("--mfa-token is not used")
        .stderr_has("GetFederationToken")
        .stderr_lacks("--no-session");
    assert_eq!(moto.count("GetSessionToken"), 0);
}

/// A web identity profile's credentials come from mfarole's own AssumeRoleWithWebIdentity:
/// -d is refused for the true reason, not "issued elsewhere".
#[test]
fn web_identity_and_d_are_refused_for_the_true_reason() {
    let moto = Moto::start();
    let sb = sandbox(&moto);
    let token = sb.dir.path().join("oidc-token");
    std::fs::write(&token, "test-oidc").unwrap();
    sb.append_config(&format!(
        "\n[profile ci]\nrole_arn = {}\nweb_identity_token_file = {}\nregion = us-east-1\n",
        moto.get("roles.web"),
        token.display()
    ));
    let out = sb.run(&["console", "ci", "-d", "2h", "--print"]);
    out.code(125)
        .one_error_line()
        .stderr_has("AssumeRoleWithWebIdentity")
        .stderr_lacks("issued elsewhere");
    assert!(moto.counts().is_empty(), "{:?}", moto.counts());
}

/// A BROWSER that cannot be read is said before any request (and not under --print).
#[test]
fn an_unreadable_browser_is_said_before_any_request() {
    let moto = Moto::start();
    for browser in ["x 'unclosed", ":"] {
        let sb = sandbox(&moto).env("BROWSER", browser);
        let out = sb.run(&["console", "plain"]);
        out.code(125).one_error_line().stderr_has("BROWSER");
        assert!(moto.counts().is_empty(), "{browser}: {:?}", moto.counts());
        assert!(moto.federation_requests().is_empty());
    }
    let sb = sandbox(&moto).env("BROWSER", "x 'unclosed");
    sb.run(&["console", "plain", "--print"]).ok();
}

/// What bash and zsh offer after `mfarole SUB -`: each subcommand's own flags only.
#[test]
fn completions_offer_each_subcommand_its_own_flags() {
    let sb = Sandbox::empty("http://127.0.0.1:9/");
    let offered = |shell: &str, sub: &str| -> Vec<String> {
        let script = match shell {
            "bash" => format!(
                "source <({bin} completions bash)\nCOMP_WORDS=(mfarole {sub} -); COMP_CWORD=2; _mfarole\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"",
                bin = crate::support::BIN
            ),
            _ => format!(
                "compdef() {{ :; }}\ncompadd() {{ [[ $1 == -- ]] && shift; print -l -- \"$@\"; }}\neval \"$({bin} completions zsh)\"\nwords=(mfarole {sub} -); CURRENT=3; _mfarole",
                bin = crate::support::BIN
            ),
        };
        let args = match shell {
            "bash" => vec!["--norc", "--noprofile", "-c", &script],
            _ => vec!["-f", "-c", &script],
        };
        let out = std::process::Command::new(shell)
            .args(&args)
            .env_clear()
            .envs(sb.base_env())
            .output()
            .unwrap();
        let out = Out::of(&[shell, &script], out);
        out.ok();
        out.stdout.lines().map(str::to_string).collect()
    };
    for shell in ["bash", "zsh"] {
        for (sub, own, foreign) in [
            (
                "exec",
                &["--server", "-t", "--refresh"][..],
                &["--print", "-s", "--format", "-f"][..],
            ),
            (
                "env",
                &["-f", "--format", "-d"],
                &["--print", "--service", "--server"],
            ),
            (
                "console",
                &["-s", "--service", "--print", "--logout-first", "-t"],
                &["-f", "--format", "--server"],
            ),
            (
                "list",
                &["--names", "--json", "--profile"],
                &["-t", "--print", "-f", "--refresh"],
            ),
            (
                "clear",
                &["--profile", "-v"],
                &["-t", "--print", "-f", "--no-session"],
            ),
        ] {
            let got = offered(shell, sub);
            for flag in own {
                assert!(
                    got.iter().any(|g| g == flag),
                    "{shell} {sub}: no {flag} in {got:?}"
                );
            }
            for flag in foreign {
                assert!(
                    !got.iter().any(|g| g == flag),
                    "{shell} {sub}: {flag} in {got:?}"
                );
            }
        }
    }
}

/// What zsh and bash offer for an option's value: never profile names.
#[test]
fn an_option_s_value_is_not_completed_with_profile_names() {
    let sb = Sandbox::empty("http://127.0.0.1:9/");
    sb.write_config("[profile alpha]\nregion = us-east-1\n");
    let bin = crate::support::BIN;
    let run = |shell: &str, script: String| -> Vec<String> {
        let args = match shell {
            "bash" => vec![
                "--norc".to_string(),
                "--noprofile".into(),
                "-c".into(),
                script.clone(),
            ],
            _ => vec!["-f".to_string(), "-c".into(), script.clone()],
        };
        // The scripts ask `mfarole list --names` for the profiles: the built one, on PATH.
        let dir = std::path::Path::new(bin)
            .parent()
            .unwrap()
            .display()
            .to_string();
        let out = std::process::Command::new(shell)
            .args(&args)
            .env_clear()
            .envs(sb.base_env())
            .env("PATH", format!("{dir}:/usr/bin:/bin"))
            .output()
            .unwrap();
        let out = Out::of(&[shell, &script], out);
        out.ok();
        out.stdout.lines().map(str::to_string).collect()
    };
    let zsh = |line: &str| {
        run(
            "zsh",
            format!(
                "compdef() {{ :; }}\ncompadd() {{ if [[ $1 == -a ]]; then print -l -- \"${{(@P)2}}\"; return; fi; [[ $1 == -- ]] && shift; print -l -- \"$@\"; }}\neval \"$({bin} completions zsh)\"\nwords=({line} ''); CURRENT=${{#words}}; _mfarole"
            ),
        )
    };
    let bash = |line: &str| {
        run(
            "bash",
            format!(
                "source <({bin} completions bash)\nCOMP_WORDS=({line} ''); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); _mfarole\nprintf '%s\\n' \"${{COMPREPLY[@]}}\""
            ),
        )
    };
    for complete in [&zsh as &dyn Fn(&str) -> Vec<String>, &bash] {
        assert_eq!(complete("mfarole console"), ["alpha"], "the profile itself");
        for opt in ["-s", "--service", "-d", "-t", "-r"] {
            let got = complete(&format!("mfarole console {opt}"));
            assert!(!got.contains(&"alpha".to_string()), "{opt}: {got:?}");
        }
        let formats = complete("mfarole env -f");
        assert!(formats.contains(&"fish".to_string()), "{formats:?}");
    }
}

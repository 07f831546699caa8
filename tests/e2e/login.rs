//! `aws login` sessions (`login_session`): the AWS CLI's login cache read and refreshed against
//! a sign-in token stand-in that verifies every DPoP proof (the signature with the key bound
//! to the session, `htm`, `htu` equal to the URL it served, a recent `iat`, a `jti` never seen
//! before) and rotates the refresh token on every refresh. The stand-in is proven first with
//! botocore's own `LoginProvider` as its client (boto3 gets credentials through it that moto,
//! IAM auth enforced, then accepts), so that a stand-in that agreed with mfarole but not with
//! AWS could not pass. Then: a fresh session needs no request; a stale one is refreshed once
//! and left so that botocore reads it without refreshing; eight parallel runs refresh once; a
//! role chains on top; an ended session names the exact `aws login` command; a session
//! botocore refreshed (spending the token mfarole read) is used; both PEM forms of the key;
//! every field of the file kept; no secret in any output.

use crate::support::{self, Moto, Out, Reply, Req, Sandbox, Stub, WHOAMI, rfc3339_in};
use base64ct::{Base64UrlUnpadded, Encoding};
use p256::ecdsa::{Signature, VerifyingKey, signature::Verifier};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ACCOUNT: &str = "123456789012";
const SESSION: &str = "arn:aws:iam::123456789012:user/passkey-user";
const CLIENT_ID: &str = "arn:aws:signin:::devtools/same-device";

/// A P-256 key made by openssl, in both PEM forms, and its public point as openssl gives it
/// (so that the stand-in's idea of the bound key owes nothing to mfarole's key reader).
struct Key {
    sec1: String,
    pkcs8: String,
    point: Vec<u8>,
}

fn openssl(args: &[&str], input: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "openssl {args:?}");
    out.stdout
}

fn new_key() -> Key {
    let sec1 = openssl(
        &["ecparam", "-name", "prime256v1", "-genkey", "-noout"],
        b"",
    );
    let pkcs8 = openssl(&["pkcs8", "-topk8", "-nocrypt"], &sec1);
    let spki = openssl(&["ec", "-pubout", "-outform", "DER"], &sec1);
    Key {
        sec1: String::from_utf8(sec1).unwrap(),
        pkcs8: String::from_utf8(pkcs8).unwrap(),
        // The uncompressed point ends the SubjectPublicKeyInfo.
        point: spki[spki.len() - 65..].to_vec(),
    }
}

/// What the stand-in knows and has seen.
struct State {
    /// The refresh token it takes now, bound to `point`; every earlier one is spent.
    refresh: String,
    point: Vec<u8>,
    jtis: HashSet<String>,
    /// Refreshes answered with new credentials.
    issued: usize,
    /// Requests refused for a bad proof or body (each test asserts there are none).
    rejections: Vec<String>,
    /// Requests that came with a spent refresh token.
    spent: usize,
    /// The credential sets it hands out, in turn (moto's, so that they can be used).
    creds: Vec<Value>,
    expires_in: i64,
    /// Answer `TOKEN_EXPIRED` (the session has ended).
    ended: bool,
    /// Run once, before the next request is judged (another program refreshing meanwhile).
    race: Option<Box<dyn FnOnce() + Send>>,
}

/// The sign-in service's CreateOAuth2Token, refresh-token grant, as botocore's service model
/// (`signin/2023-01-01`) and RFC 9449 define it.
struct SignIn {
    stub: Stub,
    state: Arc<Mutex<State>>,
}

impl SignIn {
    fn start(creds: Vec<Value>, key: &Key) -> SignIn {
        let state = Arc::new(Mutex::new(State {
            refresh: "rt-1-first".into(),
            point: key.point.clone(),
            jtis: HashSet::new(),
            issued: 0,
            rejections: Vec::new(),
            spent: 0,
            creds,
            expires_in: 900,
            ended: false,
            race: None,
        }));
        let shared = state.clone();
        let stub = Stub::start(move |req: &Req| answer(&shared, req));
        SignIn { stub, state }
    }

    fn issued(&self) -> usize {
        self.state.lock().unwrap().issued
    }

    fn refresh_token(&self) -> String {
        self.state.lock().unwrap().refresh.clone()
    }

    /// Asserts that every request carried a valid proof and body.
    fn clean(&self) {
        let s = self.state.lock().unwrap();
        assert!(s.rejections.is_empty(), "refused: {:?}", s.rejections);
    }
}

fn error(status: u16, kind: &str, code: &str, message: &str) -> Reply {
    Reply::Http(
        status,
        vec![
            ("Content-Type".into(), "application/json".into()),
            ("x-amzn-ErrorType".into(), kind.into()),
        ],
        json!({"error": code, "message": message})
            .to_string()
            .into_bytes(),
    )
}

fn answer(shared: &Mutex<State>, req: &Req) -> Reply {
    if req.method != "POST" || req.path != "/v1/token" {
        return Reply::Http(404, vec![], vec![]);
    }
    let race = shared.lock().unwrap().race.take();
    if let Some(race) = race {
        race();
    }
    let mut s = shared.lock().unwrap();
    let served = format!("http://{}{}", req.header("host").unwrap_or(""), req.path);
    let body: Value = serde_json::from_str(&req.body).unwrap_or(Value::Null);
    let checked = check_proof(&mut s, req.header("dpop"), &served).and_then(|()| {
        let ok = req.header("content-type") == Some("application/json")
            && body["clientId"] == CLIENT_ID
            && body["grantType"] == "refresh_token"
            && body["refreshToken"].is_string();
        if ok {
            Ok(())
        } else {
            Err(format!("body {body}"))
        }
    });
    if let Err(why) = checked {
        s.rejections.push(why.clone());
        return error(400, "ValidationException", "INVALID_REQUEST", &why);
    }
    if s.ended {
        return error(
            401,
            "AccessDeniedException",
            "TOKEN_EXPIRED",
            "Session expired",
        );
    }
    if body["refreshToken"] != s.refresh.as_str() {
        s.spent += 1;
        return error(
            400,
            "ValidationException",
            "INVALID_REQUEST",
            "Invalid refresh token",
        );
    }
    s.issued += 1;
    s.refresh = format!("rt-{}-{}", s.issued + 1, s.jtis.len());
    let c = s.creds[(s.issued - 1) % s.creds.len()].clone();
    Reply::Http(
        200,
        vec![("Content-Type".into(), "application/json".into())],
        json!({
            "accessToken": c,
            "tokenType": "aws_sigv4",
            "expiresIn": s.expires_in,
            "refreshToken": s.refresh,
        })
        .to_string()
        .into_bytes(),
    )
}

/// RFC 9449 §4.3, the checks a server makes of a DPoP proof.
fn check_proof(s: &mut State, proof: Option<&str>, served: &str) -> Result<(), String> {
    let proof = proof.ok_or("no DPoP header")?;
    let parts: Vec<&str> = proof.split('.').collect();
    if parts.len() != 3 {
        return Err("DPoP is not a JWS".into());
    }
    let decode = |p: &str| Base64UrlUnpadded::decode_vec(p).map_err(|_| "not base64url");
    let header: Value = serde_json::from_slice(&decode(parts[0])?).map_err(|e| e.to_string())?;
    let claims: Value = serde_json::from_slice(&decode(parts[1])?).map_err(|e| e.to_string())?;
    if header["typ"] != "dpop+jwt" || header["alg"] != "ES256" {
        return Err(format!("header {header}"));
    }
    let jwk = &header["jwk"];
    let mut point = vec![4u8];
    for c in ["x", "y"] {
        point.extend(decode(jwk[c].as_str().ok_or("jwk without x or y")?)?);
    }
    if jwk["kty"] != "EC" || jwk["crv"] != "P-256" || point != s.point {
        return Err("the proof's key is not the one bound to the session".into());
    }
    let bound = VerifyingKey::from_sec1_bytes(&s.point).map_err(|e| e.to_string())?;
    let signature = Signature::from_slice(&decode(parts[2])?).map_err(|e| e.to_string())?;
    bound
        .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
        .map_err(|_| "the proof's signature does not verify")?;
    if claims["htm"] != "POST" || claims["htu"] != served {
        return Err(format!("htm/htu {claims} for {served}"));
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let iat = claims["iat"].as_i64().ok_or("no iat")?;
    if (now - iat).abs() > 60 {
        return Err(format!("iat {iat} is not now ({now})"));
    }
    let jti = claims["jti"]
        .as_str()
        .filter(|j| !j.is_empty())
        .ok_or("no jti")?;
    if !s.jtis.insert(jti.to_string()) {
        return Err(format!("jti {jti} used before"));
    }
    Ok(())
}

/// `n` sets of credentials of role "plain" as session "src" from moto, as the sign-in service
/// hands them out (role "on-source" trusts that session).
fn moto_credentials(moto: &Moto, n: usize) -> Vec<Value> {
    let sb = Sandbox::new(moto);
    sb.append_config(&format!(
        "\n[profile srcplain]\nrole_arn = {}\nsource_profile = smith\nrole_session_name = src\n",
        moto.get("roles.plain")
    ));
    (0..n)
        .map(|_| {
            let out = sb.run(&["env", "--refresh", "--format", "process", "srcplain"]);
            out.ok();
            let v: Value = serde_json::from_str(&out.stdout).unwrap();
            json!({
                "accessKeyId": v["AccessKeyId"],
                "secretAccessKey": v["SecretAccessKey"],
                "sessionToken": v["SessionToken"],
            })
        })
        .collect()
}

/// A sandbox with `[profile login]` (the session), a role on top, and the stand-in as the
/// sign-in endpoint.
fn login_sandbox(moto: &Moto, signin: &SignIn) -> Sandbox {
    let sb = Sandbox::new(moto).env("AWS_ENDPOINT_URL_SIGNIN", &signin.stub.url);
    sb.append_config(&format!(
        "\n[profile login]\nlogin_session = {SESSION}\nregion = us-east-1\n\
         [profile login-up]\nrole_arn = {}\nsource_profile = login\n",
        moto.get("roles.on-source")
    ));
    sb
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn cache_file(sb: &Sandbox) -> PathBuf {
    sb.home
        .join(".aws/login/cache")
        .join(format!("{}.json", sha256_hex(SESSION)))
}

/// The file `aws login` writes, holding `creds` valid for `left` seconds more.
fn write_session(sb: &Sandbox, signin: &SignIn, creds: &Value, left: i64, pem: &str) -> PathBuf {
    let mut access = creds.clone();
    access["accountId"] = ACCOUNT.into();
    access["expiresAt"] = rfc3339_in(left).into();
    let file = json!({
        "accessToken": access,
        "tokenType": "aws_sigv4",
        "clientId": CLIENT_ID,
        "refreshToken": signin.refresh_token(),
        "idToken": "eyJhbGciOiJFUzM4NCJ9.eyJzdWIiOiJpZC10b2tlbi1zZWNyZXQifQ.c2lnbmF0dXJl",
        "dpopKey": pem,
        "futureField": {"kept": ["as", "written"]},
    });
    let path = cache_file(sb);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, file.to_string()).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Sets the file's `accessToken.expiresAt` to `left` seconds from now (time passing).
fn age(path: &Path, left: i64) {
    let mut v = read_json(path);
    v["accessToken"]["expiresAt"] = rfc3339_in(left).into();
    std::fs::write(path, v.to_string()).unwrap();
}

/// botocore as the client: `creds` prints the access key id its `LoginProvider` gives
/// (refreshing as botocore does), `whoami` the caller's ARN from moto with them.
const BOTOCORE: &str = r#"
import json, sys, boto3
try:
    s = boto3.Session(profile_name=sys.argv[2])
    if sys.argv[1] == "creds":
        c = s.get_credentials()
        print(json.dumps({"method": c.method, "key": c.get_frozen_credentials().access_key}))
    else:
        print(s.client("sts").get_caller_identity()["Arn"])
except Exception as e:
    print(f"ERROR {type(e).__name__}: {e}")
    sys.exit(3)
"#;

fn botocore(sb: &Sandbox, what: &str, profile: &str) -> Out {
    let script = sb.dir.path().join("botocore_login.py");
    std::fs::write(&script, BOTOCORE).unwrap();
    let out = Command::new("python3")
        .arg(&script)
        .args([what, profile])
        .env_clear()
        .envs(sb.base_env())
        .output()
        .unwrap();
    Out::of(&["botocore", what, profile], out)
}

/// Runs the child `printenv` of the variables that show which credentials it got, into a file
/// (so that mfarole's own output can be checked for secrets).
fn child_env(sb: &Sandbox, args: &[&str]) -> (Out, String) {
    let file = sb.dir.path().join("child-env");
    let _ = std::fs::remove_file(&file);
    let line = format!(
        "printenv AWS_ACCESS_KEY_ID AWS_ACCOUNT_ID > {}",
        support::sh_quote(file.to_str().unwrap())
    );
    let mut all = args.to_vec();
    all.extend(["--", "sh", "-c", &line]);
    let out = sb.run(&all);
    let env = std::fs::read_to_string(&file).unwrap_or_default();
    (out, env)
}

/// No secret of the session in what mfarole printed.
fn no_secret(out: &Out, signin: &SignIn, key: &Key, creds: &[Value]) {
    let mut secrets: Vec<String> = vec![signin.refresh_token(), "rt-1-first".into()];
    secrets.push("id-token-secret".into());
    secrets.push("c2lnbmF0dXJl".into());
    for pem in [&key.sec1, &key.pkcs8] {
        secrets.extend(
            pem.lines()
                .filter(|l| !l.starts_with("-----"))
                .map(str::to_string),
        );
    }
    for c in creds {
        secrets.push(c["secretAccessKey"].as_str().unwrap().to_string());
        secrets.push(c["sessionToken"].as_str().unwrap().to_string());
    }
    for s in secrets {
        let text = format!("{}{}", out.stdout, out.stderr);
        assert!(!text.contains(&s), "a secret was shown{}", out.stderr);
    }
}

struct World {
    sb: Sandbox,
    signin: SignIn,
    key: Key,
    creds: Vec<Value>,
}

fn world(n: usize) -> World {
    let moto = Moto::shared();
    let key = new_key();
    let creds = moto_credentials(moto, n);
    let signin = SignIn::start(creds[1..].to_vec(), &key);
    let sb = login_sandbox(moto, &signin);
    World {
        sb,
        signin,
        key,
        creds,
    }
}

#[test]
fn botocore_proves_the_stand_in_then_reads_what_mfarole_refreshed() {
    let w = world(4);
    let path = write_session(&w.sb, &w.signin, &w.creds[0], 60, &w.key.sec1);

    // The stand-in first, with botocore's LoginProvider as its client: it refreshes (one
    // proof, verified), rewrites the file, and moto accepts what it got.
    botocore(&w.sb, "whoami", "login")
        .ok()
        .stdout_has("assumed-role/plain/src");
    assert_eq!(w.signin.issued(), 1);
    w.signin.clean();
    let file = read_json(&path);
    assert_eq!(file["refreshToken"], w.signin.refresh_token().as_str());
    assert_eq!(
        file["accessToken"]["accessKeyId"],
        w.creds[1]["accessKeyId"]
    );
    // botocore says what the service's errors mean as we read them: an ended session...
    age(&path, 60);
    w.signin.state.lock().unwrap().ended = true;
    botocore(&w.sb, "creds", "login")
        .code(3)
        .stdout_has("ERROR LoginRefreshRequired");
    w.signin.state.lock().unwrap().ended = false;
    // ... and a spent refresh token is refused (botocore has no answer to it but failing).
    let mut spent = read_json(&path);
    spent["refreshToken"] = "rt-1-first".into();
    std::fs::write(&path, spent.to_string()).unwrap();
    botocore(&w.sb, "creds", "login")
        .code(3)
        .stdout_has("ERROR");
    assert_eq!(w.signin.state.lock().unwrap().spent, 1);
    w.signin.clean();

    // mfarole on a stale file: one refresh, the file rewritten for the others.
    let path = write_session(&w.sb, &w.signin, &w.creds[0], 60, &w.key.sec1);
    let (out, env) = child_env(&w.sb, &["exec", "-v", "login"]);
    out.ok()
        .stderr_has("refreshing the aws login session")
        .stderr_has(".aws/login/cache/")
        .stderr_has("rewritten");
    no_secret(&out, &w.signin, &w.key, &w.creds);
    assert_eq!(w.signin.issued(), 2);
    w.signin.clean();
    let file = read_json(&path);
    let key = file["accessToken"]["accessKeyId"].as_str().unwrap();
    assert_eq!(env, format!("{key}\n{ACCOUNT}\n"));
    assert_eq!(file["refreshToken"], w.signin.refresh_token().as_str());
    assert_eq!(file["accessToken"]["accountId"], ACCOUNT);
    for kept in ["idToken", "dpopKey", "clientId", "tokenType", "futureField"] {
        assert!(file.get(kept).is_some(), "{kept} lost");
    }
    assert_eq!(file["futureField"], json!({"kept": ["as", "written"]}));
    assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
    assert_eq!(support::names_in(path.parent().unwrap()).len(), 1);
    // botocore reads it as its own: no refresh of its own, the same credentials.
    botocore(&w.sb, "creds", "login")
        .ok()
        .stdout_has(&format!(r#""key": "{key}""#))
        .stdout_has(r#""method": "login""#);
    assert_eq!(w.signin.issued(), 2);
}

#[test]
fn a_fresh_session_needs_no_request_and_is_not_copied_to_the_cache() {
    let w = world(2);
    // In a directory of its own, named as botocore expands AWS_LOGIN_CACHE_DIRECTORY.
    let sb = w.sb.env("AWS_LOGIN_CACHE_DIRECTORY", "~/logins");
    let path = write_session(&sb, &w.signin, &w.creds[0], 600, &w.key.pkcs8);
    let moved = sb.home.join("logins").join(path.file_name().unwrap());
    std::fs::create_dir_all(moved.parent().unwrap()).unwrap();
    std::fs::rename(&path, &moved).unwrap();
    let (out, env) = child_env(&sb, &["exec", "-v", "login"]);
    out.ok().stderr_has("no refresh").stderr_has("/logins/");
    no_secret(&out, &w.signin, &w.key, &w.creds);
    let key = w.creds[0]["accessKeyId"].as_str().unwrap();
    assert_eq!(env, format!("{key}\n{ACCOUNT}\n"));
    assert_eq!(w.signin.stub.requests.lock().unwrap().len(), 0);
    // The login file is the cache: `aws logout` deletes it, and mfarole stops at once.
    std::fs::remove_file(&moved).unwrap();
    sb.run(&["exec", "login", "--", "true"])
        .code(125)
        .one_error_line()
        .stderr_has("profile 'login': aws login session is not there (")
        .stderr_has("run 'aws login --profile login'");
    let list = sb.run(&["list"]);
    list.ok()
        .stdout_has("aws login")
        .stdout_has("needs 'aws login --profile login'");
}

#[test]
fn eight_parallel_runs_refresh_once_and_a_role_chains_on_top() {
    let w = world(3);
    let path = write_session(&w.sb, &w.signin, &w.creds[0], 120, &w.key.sec1);
    let mut args = vec!["exec", "login-up", "--"];
    args.extend(WHOAMI);
    for out in support::parallel(&w.sb, 8, &args) {
        out.ok().stdout_has("assumed-role/on-source/");
        no_secret(&out, &w.signin, &w.key, &w.creds);
    }
    assert_eq!(w.signin.issued(), 1, "one refresh for eight runs");
    // Not one refresh and seven refused as spent: one request in all.
    assert_eq!(w.signin.stub.requests.lock().unwrap().len(), 1);
    w.signin.clean();
    assert_eq!(
        read_json(&path)["accessToken"]["accessKeyId"],
        w.creds[1]["accessKeyId"]
    );
    // The role is cached like any step; the session itself is read from its file.
    let list = w.sb.run(&["list"]);
    list.ok().stdout_has("login valid until");
    let (out, _) = child_env(&w.sb, &["exec", "-v", "login-up"]);
    out.ok().stderr_has("from the cache");
    assert_eq!(w.signin.issued(), 1);
}

#[test]
fn an_ended_session_names_the_exact_login_command() {
    let w = world(2);
    write_session(&w.sb, &w.signin, &w.creds[0], -60, &w.key.sec1);
    w.signin.state.lock().unwrap().ended = true;
    let marker = w.sb.dir.path().join("ran");
    let out =
        w.sb.run(&["exec", "login-up", "--", "touch", marker.to_str().unwrap()]);
    out.code(125)
        .one_error_line()
        .stderr_has("profile 'login': aws login session has ended")
        .stderr_has("TOKEN_EXPIRED")
        .stderr_has("run 'aws login --profile login'");
    no_secret(&out, &w.signin, &w.key, &w.creds);
    assert!(!marker.exists());
    w.signin.clean();
    // The default profile's command names no profile.
    w.sb.write_config(format!(
        "[default]\nlogin_session = {SESSION}\nregion = us-east-1\n"
    ));
    w.sb.run(&["exec", "default", "--", "true"])
        .code(125)
        .stderr_has("run 'aws login' (AWS CLI");
}

#[test]
fn an_expired_session_whose_key_cannot_sign_names_the_login_command() {
    let w = world(2);
    let path = write_session(&w.sb, &w.signin, &w.creds[0], -60, "not a key");
    let before = std::fs::read(&path).unwrap();
    let out = w.sb.run(&["exec", "login-up", "--", "true"]);
    out.code(125)
        .one_error_line()
        .stderr_has("dpopKey is not a PEM key")
        .stderr_has("run 'aws login --profile login'");
    no_secret(&out, &w.signin, &w.key, &w.creds);
    assert_eq!(w.signin.stub.requests.lock().unwrap().len(), 0);
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the file is left as it was"
    );
    // While its credentials last, they are used, with a warning.
    age(&path, 120);
    w.sb.run(&["env", "login", "--format", "json"])
        .ok()
        .stderr_has("cannot refresh the aws login session")
        .stdout_has(w.creds[0]["accessKeyId"].as_str().unwrap());
}

#[test]
fn a_session_botocore_refreshed_meanwhile_is_used() {
    let w = world(5);
    let path = write_session(&w.sb, &w.signin, &w.creds[0], 60, &w.key.pkcs8);
    // Between two runs: mfarole refreshes, time passes, botocore refreshes (spending the
    // token mfarole wrote), time passes; mfarole refreshes with what botocore left.
    child_env(&w.sb, &["exec", "login"]).0.ok();
    age(&path, 60);
    botocore(&w.sb, "creds", "login").ok();
    age(&path, 60);
    let (out, env) = child_env(&w.sb, &["exec", "login"]);
    out.ok();
    assert_eq!(w.signin.issued(), 3);
    let key = w.creds[3]["accessKeyId"].as_str().unwrap();
    assert_eq!(env, format!("{key}\n{ACCOUNT}\n"));

    // During a run: botocore refreshes after mfarole read the file and before its request
    // arrives, so the token mfarole sends is spent. mfarole reads the file again and uses
    // what botocore wrote, with no error.
    age(&path, 60);
    let race_env = w.sb.base_env();
    let script = w.sb.dir.path().join("botocore_login.py");
    std::fs::write(&script, BOTOCORE).unwrap();
    w.signin.state.lock().unwrap().race = Some(Box::new(move || {
        let out = Command::new("python3")
            .arg(&script)
            .args(["creds", "login"])
            .env_clear()
            .envs(race_env)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }));
    let (out, env) = child_env(&w.sb, &["exec", "-v", "login"]);
    out.ok()
        .stderr_has("reading the file again")
        .stderr_has("refreshed meanwhile");
    assert_eq!(w.signin.state.lock().unwrap().spent, 1);
    assert_eq!(w.signin.issued(), 4);
    let key = w.creds[4]["accessKeyId"].as_str().unwrap();
    assert_eq!(env, format!("{key}\n{ACCOUNT}\n"));
    assert_eq!(read_json(&path)["accessToken"]["accessKeyId"], key);
    w.signin.clean();
}

#[test]
fn exec_server_renews_through_a_refresh() {
    let w = world(4);
    w.signin.state.lock().unwrap().expires_in = 20;
    write_session(&w.sb, &w.signin, &w.creds[0], 20, &w.key.sec1);
    let out =
        w.sb.run(&["exec", "-v", "--server", "login", "--", "sleep", "14"]);
    out.ok().stderr_has("renewed the served credentials");
    no_secret(&out, &w.signin, &w.key, &w.creds);
    assert!(w.signin.issued() >= 2, "{}", w.signin.issued());
    w.signin.clean();
}

#[test]
fn a_refreshed_session_that_cannot_be_written_back_is_still_used() {
    use std::os::unix::process::CommandExt;
    let w = world(2);
    let path = write_session(&w.sb, &w.signin, &w.creds[0], 60, &w.key.sec1);
    let dir = path.parent().unwrap().to_path_buf();
    let mut cmd = w.sb.command(&["env", "--format", "process", "login"]);
    if std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0) {
        // Root writes anywhere: run as nobody, whose session file sits in root's directory.
        std::fs::create_dir_all(&w.sb.cache).unwrap();
        for owned in [&w.sb.cache, &path, &w.sb.credentials] {
            std::os::unix::fs::chown(owned, Some(65534), Some(65534)).unwrap();
        }
        cmd.uid(65534).gid(65534);
    } else {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o500)).unwrap();
    }
    let out = Out::of(
        &["env login (read-only login cache)"],
        cmd.output().unwrap(),
    );
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    out.ok()
        .stdout_has(w.creds[1]["accessKeyId"].as_str().unwrap())
        .stderr_has("warning: cannot update")
        .stderr_has("run 'aws login --profile login'");
    assert_eq!(w.signin.issued(), 1);
    assert_eq!(read_json(&path)["refreshToken"], "rt-1-first");
    w.signin.clean();
}

#[test]
fn runs_with_usable_credentials_do_not_queue_behind_a_hanging_refresh() {
    let World {
        sb,
        signin,
        key,
        creds,
    } = world(2);
    write_session(&sb, &signin, &creds[0], 120, &key.sec1);
    // The sign-in service takes the first refresh and does not answer for 20 s.
    signin.state.lock().unwrap().race =
        Some(Box::new(|| std::thread::sleep(Duration::from_secs(20))));
    let sb = sb.env("MFAROLE_TIMEOUT", "6").env("AWS_MAX_ATTEMPTS", "1");
    let outs = support::parallel(&sb, 4, &["exec", "-v", "login", "--", "true"]);
    for out in &outs {
        out.ok();
        no_secret(out, &signin, &key, &creds);
    }
    let said = |text: &str| outs.iter().filter(|o| o.stderr.contains(text)).count();
    // One run waited for the service and then used the credentials that still work; the
    // others did not queue behind it for its whole timeout.
    assert_eq!(said("cannot refresh the aws login session"), 1);
    assert_eq!(said("another mfarole is refreshing this session"), 3);
    assert_eq!(signin.stub.requests.lock().unwrap().len(), 1);
}

#[test]
fn a_refresh_still_on_its_way_to_another_program_is_waited_for() {
    let w = world(3);
    let path = write_session(&w.sb, &w.signin, &w.creds[0], 60, &w.key.sec1);
    let (state, file, next) = (w.signin.state.clone(), path.clone(), w.creds[2].clone());
    w.signin.state.lock().unwrap().race = Some(Box::new(move || {
        // Another program's refresh reached the service just before mfarole's...
        state.lock().unwrap().refresh = "rt-other-program".into();
        // ...and its answer, so its rewrite of the file, comes 1.5 s after mfarole's refusal.
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(1500));
            let mut json = read_json(&file);
            let mut access = next;
            access["accountId"] = ACCOUNT.into();
            access["expiresAt"] = rfc3339_in(900).into();
            json["accessToken"] = access;
            json["refreshToken"] = "rt-other-program".into();
            let tmp = file.with_extension("tmp");
            std::fs::write(&tmp, json.to_string()).unwrap();
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).unwrap();
            std::fs::rename(&tmp, &file).unwrap();
        });
    }));
    let (out, env) = child_env(&w.sb, &["exec", "-v", "login"]);
    out.ok().stderr_has("refreshed meanwhile");
    let key = w.creds[2]["accessKeyId"].as_str().unwrap();
    assert_eq!(env, format!("{key}\n{ACCOUNT}\n"));
    assert_eq!(w.signin.state.lock().unwrap().spent, 1);
}

#[test]
fn list_shows_a_login_profile_of_its_own() {
    let w = world(1);
    write_session(&w.sb, &w.signin, &w.creds[0], 600, &w.key.sec1);
    let out = w.sb.run(&["list"]);
    out.ok();
    let row = out
        .stdout
        .lines()
        .find(|l| l.starts_with("login "))
        .unwrap_or_else(|| panic!("no row for 'login':\n{}", out.stdout));
    assert!(!row.contains("settings only"), "{row}");
    assert!(row.contains("login valid until"), "{row}");
}

//! IAM Identity Center profiles: the token `aws sso login` leaves in the AWS CLI's cache,
//! exchanged with a portal and OIDC stand-in (written to the published API, proven with the AWS
//! CLI as the client first) for role credentials that moto (IAM auth enforced) accepts; the
//! refresh path, the expired path, eight parallel runs, and each error.

use crate::support::{self, Moto, Out, Reply, Req, Sandbox, Stub, WHOAMI, json, rfc3339_in};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ACCOUNT: &str = "123456789012";

/// Credentials of role "plain" as session "src" from moto, as GetRoleCredentials gives them.
fn role_credentials(moto: &Moto) -> String {
    let sb = Sandbox::new(moto);
    sb.append_config(&format!(
        "\n[profile srcplain]\nrole_arn = {}\nsource_profile = smith\nrole_session_name = src\n",
        moto.get("roles.plain")
    ));
    let out = sb.run(&["env", "--format", "process", "srcplain"]);
    out.ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let expiration = time::OffsetDateTime::parse(
        v["Expiration"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    serde_json::json!({"roleCredentials": {
        "accessKeyId": v["AccessKeyId"],
        "secretAccessKey": v["SecretAccessKey"],
        "sessionToken": v["SessionToken"],
        "expiration": expiration.unix_timestamp() * 1000,
    }})
    .to_string()
}

/// The portal (GetRoleCredentials) and SSO OIDC (CreateToken) in one stand-in. `token` is
/// the access token it accepts; a refresh-token grant with `refresh` issues a new one.
struct Portal {
    stub: Stub,
    token: Arc<Mutex<String>>,
}

fn portal(creds: String, first_token: &str) -> Portal {
    let token = Arc::new(Mutex::new(first_token.to_string()));
    let current = token.clone();
    let issued = Arc::new(Mutex::new(0));
    let stub = Stub::start(move |req: &Req| {
        if req.method == "GET" && req.path.starts_with("/federation/credentials?") {
            if req.header("x-amz-sso_bearer_token") != Some(current.lock().unwrap().as_str()) {
                return json(401, r#"{"message":"Session token not found or invalid"}"#);
            }
            let q = &req.path["/federation/credentials?".len()..];
            let mut parts: Vec<&str> = q.split('&').collect();
            parts.sort();
            if parts
                != [
                    format!("account_id={ACCOUNT}").as_str(),
                    "role_name=Deployer",
                ]
            {
                return json(403, r#"{"message":"No access"}"#);
            }
            return json(200, &creds);
        }
        if req.method == "POST" && req.path == "/token" {
            let Ok(body) = serde_json::from_str::<serde_json::Value>(&req.body) else {
                return json(400, r#"{"error":"invalid_request"}"#);
            };
            let ok = body["grantType"] == "refresh_token"
                && body["clientId"] == "client-1"
                && body["clientSecret"] == "client-secret-1"
                && body["refreshToken"] == "refresh-1";
            if !ok {
                return json(
                    400,
                    r#"{"error":"invalid_grant","error_description":"bad grant"}"#,
                );
            }
            let mut n = issued.lock().unwrap();
            *n += 1;
            let new = format!("access-refreshed-{n}");
            *current.lock().unwrap() = new.clone();
            return json(
                200,
                &format!(
                    r#"{{"accessToken":"{new}","expiresIn":28800,"tokenType":"Bearer","refreshToken":"refresh-2"}}"#
                ),
            );
        }
        Reply::Http(404, vec![], vec![])
    });
    Portal { stub, token }
}

fn sha1_hex(text: &str) -> String {
    use sha1::Digest;
    sha1::Sha1::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A sandbox with `[sso-session my-sso]`, profile `sso` (role Deployer), a role on top, the
/// legacy form, and the stand-in as both endpoints.
fn sso_sandbox(moto: &Moto, portal: &Portal) -> Sandbox {
    let sb = Sandbox::new(moto)
        .env("AWS_ENDPOINT_URL_SSO", &portal.stub.url)
        .env("AWS_ENDPOINT_URL_SSO_OIDC", &portal.stub.url);
    sb.append_config(&format!(
        "\n[sso-session my-sso]\nsso_start_url = https://example.awsapps.com/start\nsso_region = us-east-1\nsso_registration_scopes = sso:account:access\n\
         [profile sso]\nsso_session = my-sso\nsso_account_id = {ACCOUNT}\nsso_role_name = Deployer\nregion = us-east-1\n\
         [profile sso-up]\nrole_arn = {on}\nsource_profile = sso\n\
         [profile sso-legacy]\nsso_start_url = https://legacy.awsapps.com/start\nsso_region = us-east-1\nsso_account_id = {ACCOUNT}\nsso_role_name = Deployer\n\
         [profile sso-nosection]\nsso_session = nowhere\nsso_account_id = {ACCOUNT}\nsso_role_name = Deployer\n\
         [profile sso-otherrole]\nsso_session = my-sso\nsso_account_id = {ACCOUNT}\nsso_role_name = Auditor\n",
        on = moto.get("roles.on-source"),
    ));
    sb
}

/// Writes the AWS CLI's token cache file for `key` (session name or legacy start URL).
fn write_token(sb: &Sandbox, key: &str, fields: serde_json::Value) -> PathBuf {
    let dir = sb.home.join(".aws/sso/cache");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}.json", sha1_hex(key)));
    std::fs::write(&path, fields.to_string()).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

fn login(access: &str, expires_at: &str) -> serde_json::Value {
    serde_json::json!({
        "startUrl": "https://example.awsapps.com/start",
        "region": "us-east-1",
        "accessToken": access,
        "expiresAt": expires_at,
        "clientId": "client-1",
        "clientSecret": "client-secret-1",
        "registrationExpiresAt": rfc3339_in(30 * 86400),
        "refreshToken": "refresh-1",
    })
}

fn whoami(sb: &Sandbox, profile: &str) -> Out {
    let mut args = vec!["exec", profile, "--"];
    args.extend(WHOAMI);
    sb.run(&args)
}

#[test]
fn a_cli_login_gives_role_credentials_and_roles_chain_on_top() {
    let moto = Moto::shared();
    let portal = portal(role_credentials(moto), "access-1");
    let sb = sso_sandbox(moto, &portal);
    write_token(&sb, "my-sso", login("access-1", &rfc3339_in(3600)));

    // The stand-in first, with the AWS CLI as the client of the same token cache.
    let cli = std::process::Command::new(WHOAMI[0])
        .args(&WHOAMI[1..])
        .args(["--profile", "sso"])
        .env_clear()
        .envs(sb.base_env())
        .output()
        .unwrap();
    Out::of(&["aws --profile sso"], cli)
        .ok()
        .stdout_has("assumed-role/plain/src");
    let gets = portal.stub.count("GET", "/federation/credentials");

    whoami(&sb, "sso").ok().stdout_has("assumed-role/plain/src");
    whoami(&sb, "sso-up")
        .ok()
        .stdout_has("assumed-role/on-source/");
    assert_eq!(
        portal.stub.count("GET", "/federation/credentials") - gets,
        1,
        "the role credentials are cached like a step"
    );
    let v = sb.run(&["exec", "-v", "--refresh", "sso", "--", "true"]);
    v.ok()
        .stderr_has(".aws/sso/cache/")
        .stderr_has("sso-session my-sso")
        .stderr_lacks("access-1");
    sb.run(&["list"])
        .ok()
        .stdout_has("IAM Identity Center")
        .stdout_has("login valid until");
}

#[test]
fn eight_parallel_runs_refresh_once_and_fetch_once() {
    let moto = Moto::shared();
    let portal = portal(role_credentials(moto), "access-old");
    let sb = sso_sandbox(moto, &portal);
    // Five minutes left: inside the refresh window.
    let path = write_token(&sb, "my-sso", login("access-old", &rfc3339_in(300)));
    let mut args = vec!["exec", "sso", "--"];
    args.extend(WHOAMI);
    for out in support::parallel(&sb, 8, &args) {
        out.ok().stdout_has("assumed-role/plain/src");
    }
    assert_eq!(portal.stub.count("POST", "/token"), 1, "one refresh");
    assert_eq!(
        portal.stub.count("GET", "/federation/credentials"),
        1,
        "one fetch"
    );
    // The CLI's file was rewritten in place: new token and expiry, its other fields kept,
    // still 0600, and no temporary file left beside it.
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(file["accessToken"], portal.token.lock().unwrap().as_str());
    assert_eq!(file["refreshToken"], "refresh-2");
    assert_eq!(file["clientId"], "client-1");
    assert_eq!(file["startUrl"], "https://example.awsapps.com/start");
    let expires = time::OffsetDateTime::parse(
        file["expiresAt"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!(expires > time::OffsetDateTime::now_utc() + time::Duration::hours(7));
    assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
    assert_eq!(support::names_in(path.parent().unwrap()).len(), 1);
}

#[test]
fn an_expired_login_names_the_exact_login_command() {
    let moto = Moto::shared();
    let portal = portal(role_credentials(moto), "access-1");
    let sb = sso_sandbox(moto, &portal);
    let mut expired = login("access-1", &rfc3339_in(-60));
    expired.as_object_mut().unwrap().remove("refreshToken");
    write_token(&sb, "my-sso", expired);
    let marker = sb.dir.path().join("ran");
    sb.run(&["exec", "sso", "--", "touch", marker.to_str().unwrap()])
        .code(125)
        .one_error_line()
        .stderr_has("login expired")
        // `aws sso login` is AWS CLI v2's (issue 22, item 15).
        .stderr_has("run 'aws sso login --sso-session my-sso' (AWS CLI v2)")
        .stderr_lacks("access-1");
    assert!(!marker.exists());
    // A refresh that the OIDC service refuses ends the same way.
    let mut bad = login("access-1", &rfc3339_in(-60));
    bad["refreshToken"] = "revoked".into();
    write_token(&sb, "my-sso", bad);
    sb.run(&["exec", "sso", "--", "true"])
        .code(125)
        .one_error_line()
        .stderr_has("(CreateToken answered 400); run 'aws sso login --sso-session my-sso' (AWS CLI v2): bad grant");
    // The legacy form's file is named after the start URL, and so is its command.
    sb.run(&["exec", "sso-legacy", "--", "true"])
        .code(125)
        .one_error_line()
        .stderr_has("no login found")
        .stderr_has("run 'aws sso login --profile sso-legacy'");
    write_token(
        &sb,
        "https://legacy.awsapps.com/start",
        serde_json::json!({"startUrl": "https://legacy.awsapps.com/start", "region": "us-east-1",
            "accessToken": "access-1", "expiresAt": "2099-01-01T00:00:00UTC"}),
    );
    whoami(&sb, "sso-legacy")
        .ok()
        .stdout_has("assumed-role/plain/src");
}

/// A portal and OIDC that echo what they were sent in their errors, throttle, or say more
/// than a failure marker may keep.
fn echoing_portal() -> Stub {
    Stub::start(|req: &Req| {
        let bearer = req.header("x-amz-sso_bearer_token").unwrap_or("");
        match (req.method.as_str(), bearer) {
            ("GET", "access-busy") => json(429, r#"{"message":"Too many requests"}"#),
            ("GET", "access-plain") => json(403, r#"{"message":"Not for you, said the portal"}"#),
            ("GET", token) => json(
                401,
                &serde_json::json!({"message": format!("Session token {token} not found")})
                    .to_string(),
            ),
            _ => json(
                400,
                &serde_json::json!({"error": "invalid_grant",
                    "error_description": format!("bad request body was: {}", req.body)})
                .to_string(),
            ),
        }
    })
}

#[test]
fn what_the_portal_says_is_shown_without_secrets_and_never_stored() {
    let moto = Moto::shared();
    let stub = echoing_portal();
    let sb = Sandbox::new(moto)
        .env("AWS_ENDPOINT_URL_SSO", &stub.url)
        .env("AWS_ENDPOINT_URL_SSO_OIDC", &stub.url);
    sb.append_config(&format!(
        "\n[sso-session my-sso]\nsso_start_url = https://example.awsapps.com/start\nsso_region = us-east-1\n\
         [profile sso]\nsso_session = my-sso\nsso_account_id = {ACCOUNT}\nsso_role_name = Deployer\nregion = us-east-1\n"
    ));
    // The portal quotes the bearer token: its message is not shown.
    write_token(
        &sb,
        "my-sso",
        login("access-echo-0123456789", &rfc3339_in(3600)),
    );
    sb.run(&["exec", "sso", "--", "true"])
        .code(125)
        .one_error_line()
        .stderr_has("refused the login's token (401)")
        .stderr_has("(its message quotes a secret of the request: not shown)")
        .stderr_lacks("01234567");
    // OIDC quotes the refresh request: neither the client secret nor the refresh token shows.
    write_token(
        &sb,
        "my-sso",
        login("access-echo-0123456789", &rfc3339_in(-60)),
    );
    sb.run(&["exec", "sso", "--", "true"])
        .code(125)
        .one_error_line()
        .stderr_has("cannot be refreshed (CreateToken answered 400)")
        .stderr_has("(its message quotes a secret of the request: not shown)")
        .stderr_lacks("client-secret-1")
        .stderr_lacks("refresh-1");
    // Throttling is retried, and a new login is not what is suggested.
    write_token(&sb, "my-sso", login("access-busy", &rfc3339_in(3600)));
    let before = stub.requests.lock().unwrap().len();
    sb.run(&["exec", "sso", "--", "true"])
        .code(125)
        .one_error_line()
        .stderr_has("answered 429; try again later: Too many requests")
        .stderr_lacks("aws sso login");
    assert_eq!(
        stub.requests.lock().unwrap().len() - before,
        3,
        "three attempts"
    );
    // What the portal said is shown to the run that met it, but not kept in the marker.
    write_token(&sb, "my-sso", login("access-plain", &rfc3339_in(3600)));
    sb.run(&["exec", "sso", "--", "true"])
        .code(125)
        .stderr_has(": Not for you, said the portal");
    let markers: Vec<String> = std::fs::read_dir(&sb.cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "fail"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    assert!(!markers.is_empty(), "a failure marker is written");
    for m in &markers {
        assert!(m.contains("refused role Deployer"), "{m}");
        assert!(!m.contains("said the portal"), "{m}");
    }
}

#[test]
fn each_sso_error_is_specific() {
    let moto = Moto::shared();
    let portal = portal(role_credentials(moto), "access-1");
    let sb = sso_sandbox(moto, &portal);
    sb.run(&["exec", "sso-nosection", "--", "true"])
        .code(125)
        .one_error_line()
        .stderr_has("no [sso-session nowhere] section");
    let path = write_token(&sb, "my-sso", login("access-1", &rfc3339_in(3600)));
    // 403: the role is not this user's.
    sb.run(&["exec", "sso-otherrole", "--", "true"])
        .code(125)
        .one_error_line()
        .stderr_has("refused role Auditor in account 123456789012 (403); run 'aws sso login --sso-session my-sso' (AWS CLI v2) if the login is no longer valid: No access");
    // 401: the portal no longer knows the token.
    write_token(&sb, "my-sso", login("access-unknown", &rfc3339_in(3600)));
    sb.run(&["exec", "sso", "--", "true"])
        .code(125)
        .one_error_line()
        .stderr_has("refused the login's token (401); run")
        .stderr_has(": Session token not found or invalid")
        .stderr_lacks("access-unknown");
    std::fs::write(&path, "{ not json").unwrap();
    sb.run(&["exec", "sso", "--", "true"])
        .code(125)
        .one_error_line()
        .stderr_has("is not a token cache file the AWS CLI wrote");
    let no_region = Sandbox::new(moto);
    no_region.append_config("\n[sso-session s]\nsso_start_url = https://x/start\n[profile p]\nsso_session = s\nsso_account_id = 1\nsso_role_name = R\n");
    no_region
        .run(&["exec", "p", "--", "true"])
        .code(125)
        .one_error_line()
        .stderr_has("[sso-session s] has no sso_region");
    if std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0) {
        write_token(&sb, "my-sso", login("access-1", &rfc3339_in(3600)));
        std::os::unix::fs::chown(&path, Some(65534), Some(65534)).unwrap();
        sb.run(&["exec", "sso", "--", "true"])
            .code(125)
            .one_error_line()
            .stderr_has("belongs to uid 65534");
    }
}

/// A TLS front for a plain stand-in: terminates TLS with `cert`/`key` on a free port and
/// passes the bytes to `upstream`, so the portal's contract is the same proven stand-in.
struct TlsFront {
    child: std::process::Child,
    url: String,
}

impl TlsFront {
    fn start(cert: &std::path::Path, key: &std::path::Path, upstream: &str) -> TlsFront {
        const FRONT: &str = r#"
import socket, ssl, sys, threading
cert, key, up = sys.argv[1], sys.argv[2], int(sys.argv[3])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(16)
print(srv.getsockname()[1], flush=True)
def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
def serve(c):
    try:
        t = ctx.wrap_socket(c, server_side=True)
    except (ssl.SSLError, OSError):
        c.close()
        return
    u = socket.create_connection(("127.0.0.1", up))
    threading.Thread(target=pipe, args=(t, u), daemon=True).start()
    pipe(u, t)
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"#;
        use std::io::BufRead;
        let port = upstream.rsplit(':').next().unwrap().trim_end_matches('/');
        let mut child = std::process::Command::new("python3")
            .args(["-c", FRONT])
            .arg(cert)
            .arg(key)
            .arg(port)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        TlsFront {
            child,
            url: format!("https://localhost:{}", line.trim()),
        }
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The portal behind a private CA (a TLS-inspecting proxy, say): without `AWS_CA_BUNDLE` one
/// line that names it; with it, the role credentials, as the AWS CLI gets them with the same
/// variable. (Regression: the SSO client was built apart from STS's and ignored the bundle.)
#[test]
fn the_portal_honours_aws_ca_bundle() {
    let moto = Moto::shared();
    let dir = support::TempDir::new("sso-tls");
    let (ca, cert, key) = crate::faults::make_certs(dir.path());
    let portal = portal(role_credentials(moto), "access-1");
    let front = TlsFront::start(&cert, &key, &portal.stub.url);
    let sb = sso_sandbox(moto, &portal).env("AWS_ENDPOINT_URL_SSO", &front.url);
    write_token(&sb, "my-sso", login("access-1", &rfc3339_in(3600)));
    let ca = ca.to_str().unwrap();

    // The front, proven with the AWS CLI as the client.
    let cli = std::process::Command::new(WHOAMI[0])
        .args(&WHOAMI[1..])
        .args(["--profile", "sso"])
        .env_clear()
        .envs(sb.base_env())
        .env("AWS_CA_BUNDLE", ca)
        .output()
        .unwrap();
    Out::of(&["aws --profile sso (AWS_CA_BUNDLE)"], cli)
        .ok()
        .stdout_has("assumed-role/plain/src");

    whoami(&sb, "sso")
        .code(125)
        .stderr_has("IAM Identity Center")
        .stderr_has("AWS_CA_BUNDLE")
        .stderr_lacks("access-1")
        .one_error_line();
    let sb = sb.env("AWS_CA_BUNDLE", ca);
    whoami(&sb, "sso").ok().stdout_has("assumed-role/plain/src");
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

#[test]
fn a_refreshed_login_that_cannot_be_written_back_is_still_used() {
    use std::os::unix::process::CommandExt;
    let moto = Moto::shared();
    let portal = portal(role_credentials(moto), "access-old");
    let sb = sso_sandbox(moto, &portal);
    // Five minutes left: refreshed; the refresh token on disk is spent by it.
    let path = write_token(&sb, "my-sso", login("access-old", &rfc3339_in(300)));
    let dir = path.parent().unwrap().to_path_buf();
    let mut cmd = sb.command(&["env", "--format", "process", "sso"]);
    if is_root() {
        // Root writes anywhere: run as nobody, whose token file sits in root's directory.
        std::fs::create_dir_all(&sb.cache).unwrap();
        std::os::unix::fs::chown(&sb.cache, Some(65534), Some(65534)).unwrap();
        std::os::unix::fs::chown(&path, Some(65534), Some(65534)).unwrap();
        // The credentials file is private (0600), as the user's own is.
        std::os::unix::fs::chown(&sb.credentials, Some(65534), Some(65534)).unwrap();
        cmd.uid(65534).gid(65534);
    } else {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o500)).unwrap();
    }
    let out = Out::of(
        &["env sso (read-only token directory)"],
        cmd.output().unwrap(),
    );
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    out.ok()
        .stdout_has("AccessKeyId")
        .stderr_has("warning: cannot update")
        .stderr_has("run 'aws sso login --sso-session my-sso'")
        .stderr_lacks("access-refreshed");
    assert_eq!(portal.stub.count("POST", "/token"), 1);
    let file = std::fs::read_to_string(&path).unwrap();
    assert!(file.contains("access-old"), "{file}");
}

#[test]
fn a_symlinked_token_file_is_followed_to_a_file_of_the_users() {
    let moto = Moto::shared();
    let portal = portal(role_credentials(moto), "access-old");
    let sb = sso_sandbox(moto, &portal);
    // The real file elsewhere and the CLI's name a link to it, as a dotfile manager leaves it;
    // five minutes left, so it is refreshed through the link.
    let link = write_token(&sb, "my-sso", login("access-old", &rfc3339_in(300)));
    let real = sb.dir.path().join("real-token.json");
    std::fs::rename(&link, &real).unwrap();
    std::os::unix::fs::symlink(&real, &link).unwrap();
    sb.run(&["env", "--format", "process", "sso"])
        .ok()
        .stdout_has("AccessKeyId");
    assert!(
        std::fs::symlink_metadata(&link).unwrap().is_symlink(),
        "the link was replaced"
    );
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&real).unwrap()).unwrap();
    assert_eq!(file["accessToken"], portal.token.lock().unwrap().as_str());
    assert_eq!(std::fs::metadata(&real).unwrap().mode() & 0o777, 0o600);
    if is_root() {
        // A link to a file of another user is refused, and says why.
        std::os::unix::fs::chown(&real, Some(65534), Some(65534)).unwrap();
        sb.run(&["exec", "--refresh", "sso", "--", "true"])
            .code(125)
            .one_error_line()
            .stderr_has("is a symlink to a file of uid 65534, not to you");
    }
}

#[test]
fn a_fifo_as_the_token_file_blocks_neither_exec_nor_list() {
    let moto = Moto::shared();
    let portal = portal(role_credentials(moto), "access-1");
    let sb = sso_sandbox(moto, &portal);
    let path = write_token(&sb, "my-sso", login("access-1", &rfc3339_in(3600)));
    std::fs::remove_file(&path).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .unwrap();
    assert!(made.success());
    support::bounded(&sb, &["exec", "sso", "--", "true"], Duration::from_secs(10))
        .expect("exec blocked on the FIFO")
        .code(125)
        .one_error_line()
        .stderr_has("is not a regular file");
    support::bounded(&sb, &["list"], Duration::from_secs(10))
        .expect("list blocked on the FIFO")
        .ok()
        .stdout_has("no usable login");
    assert_eq!(portal.stub.requests.lock().unwrap().len(), 0);
}

#[test]
fn the_child_gets_the_sso_account_as_aws_account_id() {
    let moto = Moto::shared();
    let portal = portal(role_credentials(moto), "access-1");
    let sb = sso_sandbox(moto, &portal);
    write_token(&sb, "my-sso", login("access-1", &rfc3339_in(3600)));
    let script = "printf '%s\\n' \"${AWS_ACCOUNT_ID-unset}\"; aws sts get-caller-identity --query Account --output text";
    let out = sb.run(&["exec", "sso", "--", "sh", "-c", script]);
    out.ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines, [ACCOUNT, ACCOUNT], "{}", out.stdout);
}

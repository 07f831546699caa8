//! `exec --server`: a child that outlives its credentials (the real AWS CLI and a boto3 loop)
//! is served renewed credentials from the local endpoint, with one MFA code; the endpoint's
//! security (token, path, Host, loopback only); signals and exit statuses; job control.

use crate::support::{
    self, FakeSts, Moto, Reply, Sandbox, Tmux, gst_ok, sh_quote, wait_file, wait_for,
};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const BOTO_LOOP: &str = r#"
import time, boto3
session = boto3.Session()
keys, end = [], time.time() + float(__import__("sys").argv[1])
while time.time() < end:
    keys.append(session.get_credentials().get_frozen_credentials().access_key)
    time.sleep(0.5)
print("calls", len(keys))
print("distinct", len(set(keys)))
"#;

/// An STS stand-in: a 1 h MFA session, and role credentials valid for `role_life` seconds,
/// a new key each time (`ASIAROLE1`, `ASIAROLE2`...).
fn short_lived_sts(role_life: i64) -> FakeSts {
    let issued = std::sync::atomic::AtomicUsize::new(0);
    FakeSts::start(move |_, body| {
        if !body.contains("Action=AssumeRole") {
            return Reply::Http(200, vec![], gst_ok());
        }
        let n = issued.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        let doc = format!(
            "<AssumeRoleResponse><AssumeRoleResult><Credentials>\
             <AccessKeyId>ASIAROLE{n}</AccessKeyId><SecretAccessKey>s{n}</SecretAccessKey>\
             <SessionToken>t{n}</SessionToken><Expiration>{}</Expiration></Credentials>\
             <AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/r/s</Arn>\
             <AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser>\
             </AssumeRoleResult></AssumeRoleResponse>",
            support::rfc3339_in(role_life)
        );
        Reply::Http(200, vec![], doc.into_bytes())
    })
}

/// Keys `k` with MFA, and role `r` on top, against `fake`.
fn role_on_mfa_keys(fake: &FakeSts) -> Sandbox {
    let sb = Sandbox::empty(&fake.url);
    sb.write_config(
        "[profile k]\nregion = us-east-1\nmfa_serial = arn:aws:iam::123456789012:mfa/k\n\
         [profile r]\nrole_arn = arn:aws:iam::123456789012:role/r\nsource_profile = k\n",
    );
    sb.write_credentials("[k]\naws_access_key_id = AKIAKEYS\naws_secret_access_key = secretkeys\n");
    sb
}

fn count(fake: &FakeSts, action: &str) -> usize {
    let needle = format!("Action={action}&");
    fake.requests
        .lock()
        .unwrap()
        .iter()
        .filter(|b| b.contains(&needle))
        .count()
}

#[test]
fn a_long_child_gets_renewed_credentials_with_one_mfa_code() {
    // Role credentials of 20 s are renewed at half their life, every 10 s (the floor).
    let fake = short_lived_sts(20);
    let sb = role_on_mfa_keys(&fake).env("AWS_PROFILE", "k");
    // Static keys under [default] must not be what the child uses.
    sb.append_credentials(
        "\n[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = x\n",
    );
    let script = sb.dir.path().join("loop.py");
    std::fs::write(&script, BOTO_LOOP).unwrap();
    let started = Instant::now();
    let out = sb.run(&[
        "exec",
        "--server",
        "-t",
        "123456",
        "r",
        "--",
        "python3",
        script.to_str().unwrap(),
        "26",
    ]);
    out.ok().stdout_has("calls");
    let line = |k: &str| -> usize {
        out.stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k} ")))
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(line("calls") >= 30, "{}", out.stdout);
    assert!(
        line("distinct") >= 3,
        "the credentials did not rotate: {}",
        out.stdout
    );
    assert!(!out.stdout.contains("AKIADEFAULT"));
    assert_eq!(
        count(&fake, "GetSessionToken"),
        1,
        "one MFA code for the whole run"
    );
    assert!(
        (3..=5).contains(&count(&fake, "AssumeRole")),
        "{}",
        count(&fake, "AssumeRole")
    );
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[test]
fn the_aws_cli_gets_its_credentials_from_the_endpoint() {
    let moto = Moto::start();
    let sb = Sandbox::new(&moto);
    let mut args = vec!["exec", "--server", "-t", "123456", "admin", "--"];
    args.extend(support::WHOAMI);
    sb.run(&args).ok().stdout_has(":assumed-role/admin/");
    assert_eq!(moto.count("GetSessionToken"), 1);
    // The account, in the environment and in the endpoint's answer (botocore reads both).
    let script = "printf '%s\\n' \"$AWS_ACCOUNT_ID\"; python3 -c 'import boto3; print(boto3.Session().get_credentials().account_id)'";
    let out = sb.run(&["exec", "--server", "admin", "--", "sh", "-c", script]);
    out.ok();
    let account = moto.get("account");
    assert_eq!(out.stdout, format!("{account}\n{account}\n"));
}

#[test]
fn a_margin_past_half_the_lifetime_does_not_renew_in_a_loop() {
    // 900 s credentials and a 20m margin: renewed every 2 s before (about 1,800 calls an
    // hour); now at half their life, 450 s on.
    let fake = short_lived_sts(900);
    let sb = role_on_mfa_keys(&fake).env("MFAROLE_SERVER_MARGIN", "20m");
    sb.run(&["exec", "--server", "-t", "123456", "r", "--", "sleep", "9"])
        .ok();
    assert_eq!(count(&fake, "AssumeRole"), 1, "renewed in a loop");
}

/// Starts `mfarole exec --server plain -- sh -c SCRIPT` with the endpoint's variables written
/// to `vars` by the child; returns the running mfarole.
fn start_served(sb: &Sandbox, traps: &str, script: &str) -> (std::process::Child, String, String) {
    let vars = sb.dir.path().join("vars");
    let _ = std::fs::remove_file(&vars);
    let full = format!(
        "{traps}\nprintf '%s\\n%s\\n%s\\n' \"$AWS_CONTAINER_CREDENTIALS_FULL_URI\" \"$AWS_CONTAINER_AUTHORIZATION_TOKEN\" \"${{AWS_ACCESS_KEY_ID:-none}}${{AWS_PROFILE:-}}\" > {}.tmp && mv {0}.tmp {0}; {script}",
        sh_quote(vars.to_str().unwrap())
    );
    let mut cmd = sb.command(&["exec", "--server", "plain", "--", "sh", "-c", &full]);
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    let text = wait_file(&vars, Duration::from_secs(20));
    let mut lines = text.lines();
    let (url, token) = (
        lines.next().unwrap().to_string(),
        lines.next().unwrap().to_string(),
    );
    assert_eq!(
        lines.next(),
        Some("none"),
        "the child has key variables or a profile"
    );
    (child, url, token)
}

/// One raw HTTP/1.1 GET; returns the status and body.
fn get(addr: &str, path: &str, host: &str, token: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    let auth = token
        .map(|t| format!("Authorization: {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

#[test]
fn the_endpoint_answers_only_its_token_on_loopback_and_goes_with_the_child() {
    let sb = Sandbox::new(Moto::shared());
    let (mut child, url, token) = start_served(&sb, "", "sleep 30 & wait");
    let rest = url.strip_prefix("http://").unwrap();
    let (addr, path) = rest.split_at(rest.find('/').unwrap());
    let port = addr.rsplit(':').next().unwrap();
    let (status, body) = get(addr, path, addr, Some(&token));
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(v["AccessKeyId"].as_str().unwrap().starts_with("ASIA"));
    assert!(v["Token"].is_string() && v["Expiration"].as_str().unwrap().ends_with('Z'));
    for (token, want) in [(None, 401), (Some("wrong"), 403), (Some(&token[..10]), 403)] {
        let (status, body) = get(addr, path, addr, token);
        assert_eq!(status, want, "{body}");
        assert!(
            !body.contains("ASIA") && body.contains("\"code\""),
            "{body}"
        );
    }
    let (status, _) = get(addr, path, &format!("evil.example:{port}"), Some(&token));
    assert_eq!(status, 403, "a non-loopback Host is refused");
    let (status, _) = get(addr, "/other", addr, Some(&token));
    assert_eq!(status, 404);
    // Bound to 127.0.0.1 only: another loopback address does not answer.
    assert!(TcpStream::connect(format!("127.0.0.2:{port}")).is_err());
    // TERM to mfarole reaches the child; mfarole exits with 128+15; the endpoint is gone.
    rustix_kill(child.id(), "TERM");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143));
    assert!(
        TcpStream::connect(addr).is_err(),
        "the endpoint outlived the command"
    );
    assert!(
        !std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .filter_map(|e| e.ok())
            .any(|e| {
                let p = e.path().join("token");
                std::fs::read_to_string(p).is_ok_and(|t| t == token)
            }),
        "the token file was left behind"
    );
}

fn rustix_kill(pid: u32, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

#[test]
fn exit_statuses_and_signals_are_the_childs() {
    let sb = Sandbox::new(Moto::shared());
    sb.run(&["exec", "--server", "plain", "--", "sh", "-c", "exit 3"])
        .code(3);
    sb.run(&["exec", "--server", "plain", "--", "no-such-command-x"])
        .code(127)
        .one_error_line();
    // A child that ignores INT: INT sent to mfarole is passed on, ignored, and mfarole (which
    // would die of INT) lives on until the child ends by itself.
    let (mut child, _, _) = start_served(&sb, "trap '' INT", "sleep 2 & wait; exit 0");
    rustix_kill(child.id(), "INT");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    // USR1 is passed on to a child that traps it.
    let got = sb.dir.path().join("got-usr1");
    let (mut child, _, _) = start_served(
        &sb,
        &format!(
            "trap 'echo usr1 > {}; exit 5' USR1",
            sh_quote(got.to_str().unwrap())
        ),
        "sleep 20 & wait",
    );
    rustix_kill(child.id(), "USR1");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(5));
    assert!(got.exists());
}

#[test]
fn ctrl_z_and_fg_keep_working() {
    let sb = Sandbox::new(Moto::shared());
    let bin_dir = std::path::Path::new(support::BIN).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap());
    let sb = sb.env("PATH", &path);
    let tmux = Tmux::start(&sb, "jobs", "bash --norc --noprofile");
    std::thread::sleep(Duration::from_millis(300));
    // What the child prints, not the typed line: Ctrl-Z goes once the child runs.
    tmux.enter(
        "mfarole exec --server plain -- sh -c 'echo started-$((1+1)); sleep 3; echo fin-$((6*7))'",
    );
    tmux.wait_screen("started-2", Duration::from_secs(20));
    tmux.keys(&["C-z"]);
    tmux.wait_screen("Stopped", Duration::from_secs(10));
    tmux.enter("fg");
    tmux.wait_screen("fin-42", Duration::from_secs(20));
    tmux.enter("echo rc=$?");
    assert!(wait_for(Duration::from_secs(10), || tmux
        .screen()
        .contains("rc=0")));
}

/// Opens `n` connections to 127.0.0.1:`port` that each trickle a byte of a request every
/// second, reopening any that is closed, for `secs` seconds.
const SLOW_CLIENTS: &str = r#"
import socket, sys, time
port, n, secs = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
def conn():
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect(("127.0.0.1", port))
        s.send(b"GET / HTTP/1.1\r\n")
    except OSError:
        pass
    return s
socks, end, opened = [conn() for _ in range(n)], time.time() + secs, n
while time.time() < end:
    for i, s in enumerate(socks):
        try:
            s.send(b"X")
        except OSError:
            s.close()
            socks[i] = conn()
            opened += 1
    time.sleep(1)
print("opened", opened, flush=True)
"#;

/// The child's side: waits for `go`, then asks the endpoint five times, printing each status.
const FETCH: &str = r#"
import os, sys, time, urllib.request
while not os.path.exists(sys.argv[1]):
    time.sleep(0.1)
for _ in range(5):
    req = urllib.request.Request(
        os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"],
        headers={"Authorization": os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            print(r.status, "AccessKeyId" in r.read().decode(), flush=True)
    except Exception as e:
        print("error", e, flush=True)
    time.sleep(0.5)
"#;

fn chown_tree(path: &std::path::Path, uid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(uid)).unwrap();
    if path.is_dir() && !path.is_symlink() {
        for entry in std::fs::read_dir(path).unwrap() {
            chown_tree(&entry.unwrap().path(), uid);
        }
    }
}

#[test]
fn many_slow_connections_from_another_user_never_keep_the_child_from_its_credentials() {
    use std::os::unix::process::CommandExt;
    let sb = Sandbox::new(Moto::shared());
    let (fetch, slow) = (
        sb.dir.path().join("fetch.py"),
        sb.dir.path().join("slow.py"),
    );
    std::fs::write(&fetch, FETCH).unwrap();
    std::fs::write(&slow, SLOW_CLIENTS).unwrap();
    let (go, vars) = (sb.dir.path().join("go"), sb.dir.path().join("vars"));
    let child_script = format!(
        "echo \"$AWS_CONTAINER_CREDENTIALS_FULL_URI\" > {vars}.tmp && mv {vars}.tmp {vars}; exec /usr/bin/python3 {} {}",
        sh_quote(fetch.to_str().unwrap()),
        sh_quote(go.to_str().unwrap()),
        vars = sh_quote(vars.to_str().unwrap()),
    );
    // As root: mfarole runs as nobody with 40 processes and threads at most (as in the report,
    // where one thread per connection ended it), and the slow clients as a third user.
    let root =
        std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0);
    let mut cmd = std::process::Command::new("prlimit");
    cmd.arg("--nproc=40").arg("--").arg(support::BIN);
    cmd.args(["exec", "--server", "plain", "--", "sh", "-c", &child_script])
        .env_clear()
        .envs(sb.base_env())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if root {
        chown_tree(sb.dir.path(), 65534);
        cmd.uid(65534).gid(65534);
    } else {
        eprintln!("not root: the slow clients run as this same user, without a thread limit");
    }
    let server = cmd.spawn().unwrap();
    let url = wait_file(&vars, Duration::from_secs(20));
    let port = url
        .trim()
        .rsplit(':')
        .next()
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let mut attacker = std::process::Command::new("/usr/bin/python3");
    attacker
        .args([slow.to_str().unwrap(), &port, "300", "15"])
        .stdout(std::process::Stdio::piped());
    if root {
        attacker.uid(65533).gid(65533);
    }
    let attacker = attacker.spawn().unwrap();
    std::thread::sleep(Duration::from_secs(4));
    std::fs::write(&go, "").unwrap();
    let out = support::Out::of(
        &["exec --server (slow clients)"],
        server.wait_with_output().unwrap(),
    );
    let attack = attacker.wait_with_output().unwrap();
    let opened: usize = String::from_utf8_lossy(&attack.stdout)
        .trim()
        .strip_prefix("opened ")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(opened >= 300, "the slow clients did not run: {attack:?}");
    out.ok();
    assert_eq!(
        out.stdout.lines().filter(|l| *l == "200 True").count(),
        5,
        "{}",
        out.stdout
    );
}

#[test]
fn a_private_directory_left_by_a_killed_run_is_swept() {
    let sb = Sandbox::new(Moto::shared());
    let tmp = sb.dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let sb = sb.env("TMPDIR", tmp.to_str().unwrap());
    let hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
    let left = |name: &str| {
        let d = tmp.join(name);
        std::fs::create_dir(&d).unwrap();
        std::fs::write(d.join("token"), "a dead run's token").unwrap();
        std::fs::File::open(&d)
            .unwrap()
            .set_modified(hour_ago)
            .unwrap();
        d
    };
    // A run killed an hour ago (its lock died with it), and one that still runs (holds it).
    let dead = left("mfarole-server-v2-0123456789abcdef");
    let living = left("mfarole-server-v2-fedcba9876543210");
    let held = std::fs::File::open(&living).unwrap();
    held.lock().unwrap();
    sb.run(&["exec", "--server", "plain", "--", "true"]).ok();
    assert!(!dead.exists(), "the dead run's token stayed behind");
    assert!(living.exists(), "a living run's directory was removed");
    assert_eq!(
        support::names_in(&tmp),
        ["mfarole-server-v2-fedcba9876543210"]
    );
}

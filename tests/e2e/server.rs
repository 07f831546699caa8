//! `exec --server`: a child that outlives its credentials (the real AWS CLI and a boto3 loop)
//! is served renewed credentials from the local endpoint, with one MFA code; the endpoint's
//! security (token, path, Host, loopback only); signals and exit statuses; job control.

use crate::support::{self, Moto, Sandbox, Tmux, sh_quote, wait_file, wait_for};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const BOTO_LOOP: &str = r#"
import time, boto3
session = boto3.Session()
sts = session.client("sts", region_name="us-east-1")
keys, arns, end = [], set(), time.time() + float(__import__("sys").argv[1])
while time.time() < end:
    arns.add(sts.get_caller_identity()["Arn"])
    keys.append(session.get_credentials().get_frozen_credentials().access_key)
    time.sleep(0.5)
print("calls", len(keys))
print("distinct", len(set(keys)))
for a in sorted(arns):
    print("arn", a)
"#;

#[test]
fn a_long_child_gets_renewed_credentials_with_one_mfa_code() {
    let moto = Moto::start();
    let sb = Sandbox::new(&moto)
        .env("MFAROLE_SERVER_MARGIN", "14m52s")
        .env("AWS_PROFILE", "jones");
    // Static keys under [default] must not be what the child uses.
    sb.append_credentials(&format!(
        "\n[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
        moto.get("users.smith.key"),
        moto.get("users.smith.secret")
    ));
    let script = sb.dir.path().join("loop.py");
    std::fs::write(&script, BOTO_LOOP).unwrap();
    let started = Instant::now();
    let out = sb.run(&[
        "exec",
        "--server",
        "-t",
        "123456",
        "-d",
        "15m",
        "admin",
        "--",
        "python3",
        script.to_str().unwrap(),
        "24",
    ]);
    out.ok();
    let line = |k: &str| -> Vec<String> {
        out.stdout
            .lines()
            .filter_map(|l| l.strip_prefix(&format!("{k} ")).map(str::to_string))
            .collect()
    };
    let calls: usize = line("calls")[0].parse().unwrap();
    let distinct: usize = line("distinct")[0].parse().unwrap();
    assert!(calls >= 30, "{}", out.stdout);
    assert!(
        distinct >= 3,
        "the credentials did not rotate: {}",
        out.stdout
    );
    for arn in line("arn") {
        assert!(arn.contains(":assumed-role/admin/"), "{arn}");
    }
    assert_eq!(
        moto.count("GetSessionToken"),
        1,
        "one MFA code for the whole run"
    );
    assert!(moto.count("AssumeRole") >= 3);
    assert!(started.elapsed() < Duration::from_secs(60));

    // The real AWS CLI as the child, through the same endpoint and the cached MFA session.
    let mut args = vec!["exec", "--server", "admin", "--"];
    args.extend(support::WHOAMI);
    sb.run(&args).ok().stdout_has(":assumed-role/admin/");
    assert_eq!(moto.count("GetSessionToken"), 1);
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
    tmux.enter("mfarole exec --server plain -- sh -c 'echo started; sleep 3; echo fin-$((6*7))'");
    tmux.wait_screen("started", Duration::from_secs(20));
    tmux.keys(&["C-z"]);
    tmux.wait_screen("Stopped", Duration::from_secs(10));
    tmux.enter("fg");
    tmux.wait_screen("fin-42", Duration::from_secs(20));
    tmux.enter("echo rc=$?");
    assert!(wait_for(Duration::from_secs(10), || tmux
        .screen()
        .contains("rc=0")));
}

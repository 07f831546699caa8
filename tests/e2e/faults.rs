//! Faults moto cannot produce, from a fake STS on 127.0.0.1: 5xx, throttling, garbage, HTML,
//! truncated and endless bodies, silence, refused connections, a skewed clock. Each case
//! checks the exit status, the one-line message, the number of attempts and the time taken.
//! And TLS against moto served over HTTPS with a CA made here.

use crate::support::{self, FakeSts, Moto, Reply, Sandbox, gst_ok, http_date_in, sts_error};
use std::time::Instant;

fn against(fake_url: &str) -> Sandbox {
    Sandbox::new(Moto::shared())
        .env("AWS_ENDPOINT_URL", fake_url)
        .env("MFAROLE_TIMEOUT", "2s")
        .env("MFAROLE_CONNECT_TIMEOUT", "1s")
}

fn ok() -> Reply {
    Reply::Http(200, vec![], gst_ok())
}

/// Runs `exec smith` (GetSessionToken without MFA) and returns the output and seconds taken.
fn run(sb: &Sandbox, extra: &[&str]) -> (support::Out, f64) {
    let mut args = vec!["exec", "-v"];
    args.extend_from_slice(extra);
    args.extend(["--", "sh", "-c", "echo $AWS_ACCESS_KEY_ID"]);
    let started = Instant::now();
    let out = sb.run(&args);
    (out, started.elapsed().as_secs_f64())
}

/// The last stderr line: the error, after the --verbose lines.
fn error_line(out: &support::Out) -> &str {
    let last = out.stderr.lines().last().unwrap_or("");
    assert!(
        last.starts_with("mfarole: ") && !last.contains("panicked"),
        "{}",
        out.stderr
    );
    last
}

#[test]
fn server_error_then_success_is_retried() {
    let fake = FakeSts::start(|n, _| {
        if n == 1 {
            Reply::Http(500, vec![], b"<html>oops</html>".to_vec())
        } else {
            ok()
        }
    });
    let (out, secs) = run(&against(&fake.url), &["smith"]);
    out.ok().stdout_has("ASIAFAKE").stderr_has("retrying in");
    assert_eq!(fake.count(), 2);
    assert!(secs < 3.0, "{secs}");
}

#[test]
fn throttling_then_success_is_retried() {
    let fake = FakeSts::start(|n, _| {
        if n == 1 {
            Reply::Http(400, vec![], sts_error("Throttling", "Rate exceeded"))
        } else {
            ok()
        }
    });
    run(&against(&fake.url), &["smith"])
        .0
        .ok()
        .stdout_has("ASIAFAKE");
    assert_eq!(fake.count(), 2);
    let fake = FakeSts::start(|n, _| {
        if n == 1 {
            Reply::Http(429, vec![], vec![])
        } else {
            ok()
        }
    });
    run(&against(&fake.url), &["smith"]).0.ok();
    assert_eq!(fake.count(), 2);
}

#[test]
fn throttled_mfa_request_is_retried_because_the_code_was_not_used() {
    let fake = FakeSts::start(|n, _| {
        if n == 1 {
            Reply::Http(400, vec![], sts_error("Throttling", "Rate exceeded"))
        } else {
            ok()
        }
    });
    run(&against(&fake.url), &["-t", "123456", "jones"]).0.ok();
    assert_eq!(fake.count(), 2);
}

#[test]
fn three_failures_give_up_with_the_last_error() {
    let fake = FakeSts::start(|_, _| {
        Reply::Http(503, vec![], sts_error("ServiceUnavailable", "try later"))
    });
    let (out, secs) = run(&against(&fake.url), &["smith"]);
    out.code(125);
    assert_eq!(
        error_line(&out),
        "mfarole: GetSessionToken for profile 'smith' failed: ServiceUnavailable: try later"
    );
    // The request id is for AWS support: `-v` says it, the error line does not end with it.
    out.stderr_has("mfarole: STS request id req-1");
    assert_eq!(fake.count(), 3);
    assert!(secs < 5.0, "{secs}");
    out.stderr_has("giving up after 3 attempts");
}

#[test]
fn a_5xx_on_an_mfa_request_is_not_retried() {
    let fake =
        FakeSts::start(|_, _| Reply::Http(500, vec![], sts_error("InternalFailure", "boom")));
    let (out, _) = run(&against(&fake.url), &["-t", "123456", "jones"]);
    out.code(125);
    assert!(
        error_line(&out).contains("not retried because the MFA code may have been used"),
        "{}",
        out.stderr
    );
    assert_eq!(fake.count(), 1);
}

#[test]
fn garbage_and_html_bodies() {
    let fake = FakeSts::start(|_, _| Reply::Http(200, vec![], b"\x00\x1b[2Jgarbage\xff".to_vec()));
    let (out, _) = run(&against(&fake.url), &["smith"]);
    out.code(125);
    let line = error_line(&out);
    assert!(
        line.contains("HTTP 200 with a body that is not an STS answer"),
        "{line}"
    );
    assert!(
        !line.contains('\x1b'),
        "control characters reached the terminal: {line:?}"
    );
    assert_eq!(fake.count(), 3);

    let fake = FakeSts::start(|_, _| {
        Reply::Http(
            502,
            vec![],
            b"<html><body><h1>502 Bad Gateway</h1></body></html>".to_vec(),
        )
    });
    let (out, _) = run(&against(&fake.url), &["smith"]);
    out.code(125);
    assert!(
        error_line(&out).contains(
            "HTTP 502 with a body that is not an STS answer: \"<html><body><h1>502 Bad Gateway"
        ),
        "{}",
        out.stderr
    );

    let fake = FakeSts::start(|_, _| Reply::Http(403, vec![], Vec::new()));
    let (out, _) = run(&against(&fake.url), &["smith"]);
    out.code(125);
    assert!(
        error_line(&out).ends_with("HTTP 403 with a body that is not an STS answer (empty)"),
        "{}",
        out.stderr
    );
    assert_eq!(fake.count(), 1, "a 4xx is not retried");
}

#[test]
fn truncated_body() {
    let fake =
        FakeSts::start(|_, _| Reply::Truncated(200, "<GetSessionTokenResponse><GetSess".into()));
    let (out, secs) = run(&against(&fake.url), &["smith"]);
    out.code(125);
    assert!(
        error_line(&out).contains("the answer broke off"),
        "{}",
        out.stderr
    );
    assert_eq!(fake.count(), 3);
    assert!(secs < 5.0, "{secs}");
}

#[test]
fn endless_body_and_silent_server_end_within_the_timeout() {
    for reply in [0, 1] {
        let fake = FakeSts::start(move |_, _| {
            if reply == 0 {
                Reply::Endless
            } else {
                Reply::Silence
            }
        });
        let (out, secs) = run(&against(&fake.url), &["smith"]);
        out.code(125);
        assert!(
            error_line(&out).contains("no complete answer within the timeout (MFAROLE_TIMEOUT)"),
            "{}",
            out.stderr
        );
        assert_eq!(fake.count(), 1);
        assert!(secs < 4.0, "took {secs}s");
    }
}

#[test]
fn connection_refused_is_retried_then_explained() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (out, secs) = run(&against(&format!("http://127.0.0.1:{port}")), &["smith"]);
    out.code(125);
    assert!(
        error_line(&out).contains(&format!("http://127.0.0.1:{port}/: connection refused")),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.matches("GetSessionToken for 'smith'").count(), 3);
    assert!(secs < 4.0, "{secs}");
}

#[test]
fn clock_skew_is_named() {
    let fake = FakeSts::start(|_, _| {
        Reply::Http(
            403,
            vec![("Date".into(), http_date_in(2 * 3600))],
            sts_error(
                "SignatureDoesNotMatch",
                "Signature expired: 20261124T100000Z is now earlier than 20261124T115500Z",
            ),
        )
    });
    let (out, _) = run(&against(&fake.url), &["smith"]);
    out.code(125);
    let line = error_line(&out);
    assert!(line.contains("Signature expired"), "{line}");
    assert!(
        line.contains("this machine's clock is 1h59m")
            || line.contains("this machine's clock is 2h"),
        "{line}"
    );
    assert!(line.contains("behind the server's"), "{line}");
}

/// `now + offset` as STS quotes times in its messages: `20261130T101500Z`.
fn sts_stamp(offset: i64) -> String {
    support::rfc3339_in(offset).replace(['-', ':'], "")
}

/// Issue 22, item 3: an answer that says the signature or the request expired is about the
/// clock, even when the `Date` header agrees with ours (a proxy's), never "check the
/// credentials file"; the offset is read from STS's own message.
#[test]
fn an_expired_signature_is_about_the_clock_even_when_the_date_agrees() {
    let message = format!(
        "Signature expired: {} is now earlier than {} ({} - 5 min.)",
        sts_stamp(0),
        sts_stamp(900),
        sts_stamp(1200)
    );
    let fake = FakeSts::start(move |_, _| {
        Reply::Http(
            403,
            vec![("Date".into(), http_date_in(0))],
            sts_error("SignatureDoesNotMatch", &message),
        )
    });
    let (out, _) = run(&against(&fake.url), &["smith"]);
    out.code(125);
    let line = error_line(&out);
    assert!(
        line.ends_with(
            "- 5 min.); this machine's clock is 20m behind the server's: fix the system time (NTP)"
        ),
        "{line}"
    );
    assert!(!line.contains("credentials file"), "{line}");
    let fake = FakeSts::start(|_, _| {
        Reply::Http(
            400,
            vec![("Date".into(), http_date_in(0))],
            sts_error("RequestExpired", "Request has expired."),
        )
    });
    let (out, _) = run(&against(&fake.url), &["smith"]);
    out.code(125);
    assert_eq!(
        error_line(&out),
        "mfarole: GetSessionToken for profile 'smith' failed: RequestExpired: Request has expired; STS judged the request's time wrong: check this machine's clock and time zone (NTP)"
    );
}

/// Issue 22, item 7: an `https://` endpoint whose server speaks plain HTTP says that, and not
/// that the MFA code may have been used (the handshake failed: nothing was sent).
#[test]
fn an_https_endpoint_that_speaks_plain_http_says_so() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buf = [0u8; 512];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    let (out, _) = run(
        &against(&format!("https://127.0.0.1:{port}")),
        &["-t", "123456", "jones"],
    );
    out.code(125)
        .stderr_lacks("MFA code may have been used")
        .stderr_lacks("retrying");
    assert_eq!(
        error_line(&out),
        format!(
            "mfarole: GetSessionToken for profile 'jones' failed: https://127.0.0.1:{port}/: the server answered in plain HTTP, not TLS (nothing was sent): check the URL's port, or use http:// (allowed for loopback only)"
        )
    );
}

#[test]
fn hostile_text_in_sts_errors_is_cleaned() {
    let fake = FakeSts::start(|_, _| {
        Reply::Http(
            400,
            vec![],
            sts_error("Bad\u{1b}[31mCode", "line1\nline2\u{7}\u{1b}]0;title\u{7}"),
        )
    });
    let (out, _) = run(&against(&fake.url), &["smith"]);
    out.code(125);
    let line = error_line(&out);
    assert!(!line.chars().any(|c| c.is_control()), "{line:?}");
    assert_eq!(
        out.stderr
            .lines()
            .filter(|l| !l.starts_with("mfarole: "))
            .count(),
        0,
        "{}",
        out.stderr
    );
}

/// A CA and a leaf for localhost, made with openssl: (CA, leaf certificate, leaf key).
pub(crate) fn make_certs(
    dir: &std::path::Path,
) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let run = |args: &[&str]| {
        let st = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&st.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=mfarole test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
    ]);
    std::fs::write(dir.join("ext.cnf"), "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n").unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
        "-out",
        "leaf.pem",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("leaf.pem"),
        dir.join("leaf.key"),
    )
}

#[test]
fn tls_with_aws_ca_bundle_and_without() {
    let dir = support::TempDir::new("tls");
    let (ca, cert, key) = make_certs(dir.path());
    let moto = Moto::start_with(&[&cert, &key]);
    assert!(moto.url().starts_with("https://localhost:"));
    let sb = Sandbox::new(&moto);
    // Without the CA: a clear error that names the endpoint and AWS_CA_BUNDLE.
    let out = sb.run(&["exec", "plain", "--", "true"]);
    out.code(125)
        .one_error_line()
        .stderr_has(moto.url())
        .stderr_has("AWS_CA_BUNDLE");
    // With it: verified HTTPS to moto, signatures checked as always.
    let sb = sb.env("AWS_CA_BUNDLE", ca.to_str().unwrap());
    sb.run(&["exec", "plain", "--", "true"]).ok();
    // A bundle that is not PEM.
    let sb = Sandbox::new(&moto).env("AWS_CA_BUNDLE", "/etc/hostname");
    sb.run(&["exec", "plain", "--", "true"])
        .code(125)
        .one_error_line()
        .stderr_has("AWS_CA_BUNDLE");
}

/// A server that echoes the request in its errors: the signature, the MFA code.
#[test]
fn an_answer_that_echoes_the_request_shows_no_secret_and_is_not_stored() {
    use crate::support::{Req, Stub};
    let stub = Stub::start(|req: &Req| {
        let auth = req.header("authorization").unwrap_or("").to_string();
        let code = req
            .body
            .split('&')
            .find_map(|kv| kv.strip_prefix("TokenCode="))
            .unwrap_or("")
            .to_string();
        let message = match code.as_str() {
            "111111" => format!("Request Authorization: {auth}"),
            "222222" => format!("code {code} was refused by the echo"),
            _ => return Reply::Http(503, vec![], format!("busy; you sent {auth}").into_bytes()),
        };
        Reply::Http(403, vec![], sts_error("AccessDenied", &message))
    });
    let sb = against(&stub.url);
    let signature = |n: usize| {
        let requests = stub.requests.lock().unwrap();
        let auth = requests[n].header("authorization").unwrap().to_string();
        auth.split("Signature=").nth(1).unwrap().to_string()
    };
    let out = sb.run(&["exec", "-t", "111111", "jones", "--", "true"]);
    out.code(125)
        .one_error_line()
        .stderr_has("AccessDenied: (the answer quotes a secret of the request: not shown)")
        .stderr_lacks(&signature(0)[..16]);
    let out = sb.run(&["exec", "-t", "222222", "jones", "--", "true"]);
    out.code(125)
        .one_error_line()
        .stderr_has("AccessDenied: code … was refused by the echo")
        .stderr_lacks("222222");
    // Without a code: the 503 body quotes the signature and is not shown.
    let out = sb.run(&["exec", "smith", "--", "true"]);
    out.code(125)
        .one_error_line()
        .stderr_has("(the answer quotes a secret of the request: not shown)");
    let requests = stub.requests.lock().unwrap().len();
    for n in 2..requests {
        assert!(!out.stderr.contains(&signature(n)[..16]), "{}", out.stderr);
    }
    // The failure markers keep mfarole's words: STS's code, not what the server said.
    for entry in std::fs::read_dir(&sb.cache).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|x| x == "fail") {
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(
                !text.contains("by the echo") && !text.contains("busy"),
                "{text}"
            );
        }
    }
}

/// STS ends a session before the expiry mfarole noted (revoked, a clock behind): the cached
/// session is dropped, so the next run gets a new one instead of failing the same way forever.
#[test]
fn a_cached_session_sts_no_longer_takes_is_dropped() {
    let fake = FakeSts::start(|_, body| {
        if body.contains("Action=AssumeRole") {
            let text = "The security token included in the request is expired";
            Reply::Http(403, vec![], sts_error("ExpiredToken", text))
        } else {
            ok()
        }
    });
    let faked = against(&fake.url);
    faked
        .run(&["exec", "-t", "123456", "jones", "--", "true"])
        .ok();
    faked
        .run(&["exec", "admin", "--", "true"])
        .code(125)
        .one_error_line()
        .stderr_has("AssumeRole for profile 'admin' failed: ExpiredToken")
        .stderr_has("STS no longer takes the cached session of step 'GetSessionToken'")
        .stderr_has("it is removed, run again for a new one")
        .stderr_lacks("check the keys");
    assert_eq!(fake.count(), 2, "the cached session signed the AssumeRole");
    // The next run makes a new session (with a new code) rather than reuse the dead one.
    faked
        .run(&["exec", "-t", "654321", "admin", "--", "true"])
        .code(125);
    let sent = fake.requests.lock().unwrap().clone();
    assert!(sent[2].contains("Action=GetSessionToken"), "{sent:?}");
}

/// Credentials that expired before they arrived (this machine's clock ahead of STS's): never
/// given to the command, and the line says why.
#[test]
fn credentials_that_sts_gives_already_expired_are_refused() {
    let expired = format!(
        "<GetSessionTokenResponse><GetSessionTokenResult><Credentials>\
         <AccessKeyId>ASIAFAKE</AccessKeyId><SecretAccessKey>fakesecret</SecretAccessKey>\
         <SessionToken>faketoken</SessionToken><Expiration>{}</Expiration>\
         </Credentials></GetSessionTokenResult></GetSessionTokenResponse>",
        support::rfc3339_in(-3600)
    );
    let fake = FakeSts::start(move |_, _| {
        let date = vec![("Date".to_string(), http_date_in(-2 * 3600))];
        Reply::Http(200, date, expired.clone().into_bytes())
    });
    let sb = against(&fake.url);
    let marker = sb.dir.path().join("ran");
    sb.run(&["exec", "smith", "--", "touch", marker.to_str().unwrap()])
        .code(125)
        .one_error_line()
        .stderr_has("GetSessionToken for profile 'smith' failed")
        .stderr_has("already; this machine's clock is 2h ahead of the server's");
    assert!(!marker.exists());
    assert_eq!(fake.count(), 1, "not retried: the same answer would come");
}

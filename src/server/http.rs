//! The local container credentials endpoint that `exec --server` serves to its child: the
//! published contract (GET with the `Authorization` token, the JSON `AccessKeyId`,
//! `SecretAccessKey`, `Token`, `Expiration`; errors as `{"code","message"}`), bound to
//! 127.0.0.1 only. A request must carry the exact token (compared in constant time), on the
//! exact path, with a loopback `Host` (a web page that rebinds a name to 127.0.0.1 cannot
//! read it). It answers from memory and never waits for a prompt or for STS.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;

use crate::creds::Credentials;

/// What the endpoint serves: the current credentials, or why there are none usable.
#[derive(Default)]
pub struct State {
    pub credentials: Option<Credentials>,
    /// Said to SDKs while there are no valid credentials (renewing needs a new MFA code, say).
    pub problem: Option<String>,
}

pub struct Listener {
    pub listener: TcpListener,
    pub port: u16,
    pub path: String,
    pub token: String,
}

impl Listener {
    /// Binds 127.0.0.1 on a free port; the path and token are random per run.
    pub fn bind() -> std::io::Result<Listener> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let port = listener.local_addr()?.port();
        Ok(Listener {
            listener,
            port,
            path: format!("/mfarole/{}", random_hex(8)?),
            token: random_hex(32)?,
        })
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}{}", self.port, self.path)
    }

    /// Serves until the process ends: one short-lived thread per connection.
    pub fn serve(self, state: Arc<Mutex<State>>) {
        let shared = Arc::new((self.path, self.token, self.port));
        for stream in self.listener.incoming() {
            let Ok(stream) = stream else { continue };
            let state = state.clone();
            let shared = shared.clone();
            std::thread::spawn(move || {
                let (path, token, port) = &*shared;
                let _ = handle(stream, path, token, *port, &state);
            });
        }
    }
}

pub fn random_hex(bytes: usize) -> std::io::Result<String> {
    let mut buf = vec![0u8; bytes];
    let mut filled = 0;
    while filled < bytes {
        filled +=
            rustix::rand::getrandom(&mut buf[filled..], rustix::rand::GetRandomFlags::empty())?;
    }
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// Equal lengths and equal bytes, in time that does not depend on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn handle(
    stream: TcpStream,
    path: &str,
    token: &str,
    port: u16,
    state: &Mutex<State>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new((&stream).take(16 * 1024));
    let r = parse_request(&mut reader)?;
    let answer = decide(
        &r.method,
        &r.target,
        r.host.as_deref(),
        r.authorization.as_deref(),
        path,
        token,
        port,
        state,
    );
    respond(&stream, answer)
}

/// What the endpoint reads of a request.
pub(crate) struct Request {
    pub(crate) method: String,
    pub(crate) target: String,
    pub(crate) host: Option<String>,
    pub(crate) authorization: Option<String>,
}

/// Reads the request line and headers (the body, if any, is never read).
pub(crate) fn parse_request(reader: &mut impl BufRead) -> std::io::Result<Request> {
    let mut first = String::new();
    reader.read_line(&mut first)?;
    let mut parts = first.split_whitespace();
    let (method, target) = (
        parts.next().unwrap_or("").to_string(),
        parts.next().unwrap_or("").to_string(),
    );
    let mut host = None;
    let mut authorization = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "host" => host = Some(v.trim().to_string()),
                "authorization" => authorization = Some(v.trim().to_string()),
                _ => {}
            }
        }
    }
    Ok(Request {
        method,
        target,
        host,
        authorization,
    })
}

pub(crate) type Answer = (u16, &'static str, String);

fn error(status: u16, reason: &'static str, code: &str, message: &str) -> Answer {
    (
        status,
        reason,
        format!(
            "{{\"code\":{},\"message\":{}}}",
            crate::output::json_string(code),
            crate::output::json_string(message)
        ),
    )
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn decide(
    method: &str,
    target: &str,
    host: Option<&str>,
    authorization: Option<&str>,
    path: &str,
    token: &str,
    port: u16,
    state: &Mutex<State>,
) -> Answer {
    let loopback_host = host.is_some_and(|h| {
        let name = h.strip_suffix(&format!(":{port}")).unwrap_or(h);
        name == "127.0.0.1" || name.eq_ignore_ascii_case("localhost")
    });
    if !loopback_host {
        return error(
            403,
            "Forbidden",
            "Forbidden",
            "the Host header is not this loopback endpoint",
        );
    }
    let Some(auth) = authorization else {
        return error(
            401,
            "Unauthorized",
            "Unauthorized",
            "an Authorization token is required",
        );
    };
    if !same(auth.as_bytes(), token.as_bytes()) {
        return error(
            403,
            "Forbidden",
            "Forbidden",
            "the Authorization token is not this endpoint's",
        );
    }
    if target != path {
        return error(404, "Not Found", "NotFound", "no such path");
    }
    if method != "GET" {
        return error(
            405,
            "Method Not Allowed",
            "MethodNotAllowed",
            "only GET is served",
        );
    }
    let state = state.lock().unwrap_or_else(|e| e.into_inner());
    let now = OffsetDateTime::now_utc();
    match &state.credentials {
        Some(c) if c.expiration.is_none_or(|e| e > now) => (200, "OK", body(c)),
        _ => error(
            503,
            "Service Unavailable",
            "CredentialsUnavailable",
            state
                .problem
                .as_deref()
                .unwrap_or("mfarole is renewing the credentials; try again shortly"),
        ),
    }
}

fn body(c: &Credentials) -> String {
    let mut out = format!(
        "{{\"AccessKeyId\":{},\"SecretAccessKey\":{}",
        crate::output::json_string(&c.access_key_id),
        crate::output::json_string(&c.secret_access_key)
    );
    if let Some(t) = &c.session_token {
        out.push_str(&format!(",\"Token\":{}", crate::output::json_string(t)));
    }
    if let Some(e) = c.expiration_rfc3339() {
        out.push_str(&format!(
            ",\"Expiration\":{}",
            crate::output::json_string(&e)
        ));
    }
    out.push('}');
    out
}

fn respond(mut stream: &TcpStream, (status, reason, body): Answer) -> std::io::Result<()> {
    write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> Mutex<State> {
        Mutex::new(State {
            credentials: Some(Credentials {
                access_key_id: "ASIA1".into(),
                secret_access_key: "s".into(),
                session_token: Some("t".into()),
                expiration: Some(OffsetDateTime::now_utc() + time::Duration::hours(1)),
            }),
            problem: None,
        })
    }

    #[test]
    fn only_the_exact_token_path_and_a_loopback_host_get_credentials() {
        let s = state();
        let ask = |m: &str, t: &str, h: Option<&str>, a: Option<&str>| {
            decide(m, t, h, a, "/p", "tok", 80, &s).0
        };
        assert_eq!(ask("GET", "/p", Some("127.0.0.1:80"), Some("tok")), 200);
        assert_eq!(ask("GET", "/p", Some("localhost"), Some("tok")), 200);
        assert_eq!(ask("GET", "/p", Some("127.0.0.1:80"), None), 401);
        assert_eq!(ask("GET", "/p", Some("127.0.0.1:80"), Some("tok2")), 403);
        assert_eq!(ask("GET", "/p", Some("127.0.0.1:80"), Some("to")), 403);
        assert_eq!(ask("GET", "/p", Some("evil.example:80"), Some("tok")), 403);
        assert_eq!(ask("GET", "/p", None, Some("tok")), 403);
        assert_eq!(ask("GET", "/q", Some("127.0.0.1:80"), Some("tok")), 404);
        assert_eq!(ask("POST", "/p", Some("127.0.0.1:80"), Some("tok")), 405);
        let (_, _, b) = decide(
            "GET",
            "/p",
            Some("127.0.0.1"),
            Some("tok"),
            "/p",
            "tok",
            80,
            &s,
        );
        assert!(b.starts_with(
            "{\"AccessKeyId\":\"ASIA1\",\"SecretAccessKey\":\"s\",\"Token\":\"t\",\"Expiration\":\""
        ));
    }

    #[test]
    fn expired_or_missing_credentials_are_a_clear_503() {
        let s = Mutex::new(State {
            credentials: None,
            problem: Some("renewing needs a new MFA code".into()),
        });
        let (status, _, body) = decide(
            "GET",
            "/p",
            Some("127.0.0.1"),
            Some("tok"),
            "/p",
            "tok",
            80,
            &s,
        );
        assert_eq!(status, 503);
        assert!(
            body.contains("\"code\":\"CredentialsUnavailable\"") && body.contains("new MFA code")
        );
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd") && !same(b"abc", b"ab") && !same(b"", b"a"));
    }
}

//! The local container credentials endpoint that `exec --server` serves to its child: the
//! published contract (GET with the `Authorization` token, the JSON `AccessKeyId`,
//! `SecretAccessKey`, `Token`, `Expiration`; errors as `{"code","message"}`), bound to
//! 127.0.0.1 only. A request must carry the exact token (compared in constant time), on the
//! exact path, with a loopback `Host` (a web page that rebinds a name to 127.0.0.1 cannot
//! read it). It answers from memory and never waits for a prompt or for STS.

use std::io::{BufRead, Read as _, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

    /// Serves until the process ends, on the calling thread, without a thread per connection
    /// (see [`Connections`]).
    pub fn serve(self, state: Arc<Mutex<State>>) {
        let mut open = Connections::default();
        loop {
            if open.is_empty() {
                // Nothing pending: sleep in accept until a client comes.
                let _ = self.listener.set_nonblocking(false);
                let accepted = self.listener.accept();
                let _ = self.listener.set_nonblocking(true);
                match accepted {
                    Ok((stream, _)) => open.admit(stream),
                    Err(e) => open.accept_failed(&e),
                }
            }
            let mut busy = false;
            // A few at a time, then read them all: a burst of hundreds of connections (a
            // flood that reconnects each one it lost) accepted in one go would push a real
            // client's fresh connection out before it was ever read.
            for _ in 0..ACCEPT_BURST {
                match self.listener.accept() {
                    Ok((stream, _)) => {
                        open.admit(stream);
                        busy = true;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => {
                        open.accept_failed(&e);
                        break;
                    }
                }
            }
            busy |= open.serve(|request| self.answer(request, &state));
            if !busy {
                std::thread::sleep(POLL);
            }
        }
    }

    /// The answer to a whole request (the bytes up to its blank line).
    fn answer(&self, request: &[u8], state: &Mutex<State>) -> Answer {
        match parse_request(&mut &request[..]) {
            Ok(r) => decide(
                &r.method,
                &r.target,
                r.host.as_deref(),
                r.authorization.as_deref(),
                &self.path,
                &self.token,
                self.port,
                state,
            ),
            Err(_) => error(400, "Bad Request", "BadRequest", "not an HTTP request"),
        }
    }
}

/// At most this many connections are open at once; a new one past it closes the oldest.
const MAX_OPEN: usize = 64;
/// A request must arrive whole within this, however it trickles in.
const REQUEST_DEADLINE: Duration = Duration::from_secs(5);
/// A request (line and headers) longer than this is not one an SDK sends.
const REQUEST_LIMIT: usize = 16 * 1024;
/// At most this many connections are accepted between two reads of the open ones.
const ACCEPT_BURST: usize = MAX_OPEN / 8;
/// How often pending connections are looked at while any is open.
const POLL: Duration = Duration::from_millis(5);

/// The open connections, each with what it has sent so far, served by one thread that never
/// blocks on any of them.
///
/// Why this shape: the endpoint once started a thread per connection, before the token check,
/// with no cap and a timeout per read, so a client that trickled a byte every few seconds held
/// its thread for hours; 36 idle connections from another local user met a thread limit of 40
/// and ended mfarole ("failed to spawn thread"), leaving its child without an endpoint. Here
/// no thread is started per connection, a request has [`REQUEST_DEADLINE`] in all to arrive
/// and [`REQUEST_LIMIT`] bytes, and past [`MAX_OPEN`] connections the oldest is closed: an SDK
/// sends its request at once and is answered within milliseconds, so the oldest connection is
/// the slowest, and a flood of idle ones cannot keep the child from its credentials.
#[derive(Default)]
struct Connections {
    open: std::collections::VecDeque<Connection>,
}

struct Connection {
    stream: TcpStream,
    since: Instant,
    received: Vec<u8>,
}

/// What reading a connection came to.
enum Read {
    Nothing,
    More,
    /// The whole request, or all there will be.
    Done,
    Gone,
}

impl Connections {
    fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// Takes a new connection, closing the oldest one when [`MAX_OPEN`] are open.
    fn admit(&mut self, stream: TcpStream) {
        if stream.set_nonblocking(true).is_err() {
            return;
        }
        if self.open.len() >= MAX_OPEN {
            self.open.pop_front();
        }
        self.open.push_back(Connection {
            stream,
            since: Instant::now(),
            received: Vec::new(),
        });
    }

    /// Out of descriptors (or another failure of accept): close the oldest connection to make
    /// room, and do not spin.
    fn accept_failed(&mut self, _: &std::io::Error) {
        self.open.pop_front();
        std::thread::sleep(POLL);
    }

    /// Reads what each connection has sent; answers each whole request and closes it; closes
    /// the connections past their deadline. `true` when anything was read.
    fn serve(&mut self, answer: impl Fn(&[u8]) -> Answer) -> bool {
        let mut busy = false;
        self.open.retain_mut(|c| match c.read() {
            Read::Nothing => c.since.elapsed() < REQUEST_DEADLINE,
            Read::More => {
                busy = true;
                c.since.elapsed() < REQUEST_DEADLINE
            }
            Read::Done => {
                busy = true;
                let _ = c.stream.set_nonblocking(false);
                let _ = c.stream.set_write_timeout(Some(Duration::from_millis(200)));
                let _ = respond(&c.stream, answer(&c.received));
                false
            }
            Read::Gone => false,
        });
        busy
    }
}

impl Connection {
    fn read(&mut self) -> Read {
        let mut buf = [0u8; 2048];
        let mut got = false;
        loop {
            match (&self.stream).read(&mut buf) {
                Ok(0) if self.received.is_empty() => return Read::Gone,
                Ok(0) => return Read::Done,
                Ok(n) => {
                    got = true;
                    self.received.extend_from_slice(&buf[..n]);
                    if self.received.len() > REQUEST_LIMIT {
                        return Read::Gone;
                    }
                    if head_complete(&self.received) {
                        return Read::Done;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    return if got { Read::More } else { Read::Nothing };
                }
                Err(_) => return Read::Gone,
            }
        }
    }
}

/// Whether the request line and headers have all arrived (the body is never read).
fn head_complete(received: &[u8]) -> bool {
    received.windows(4).any(|w| w == b"\r\n\r\n") || received.windows(2).any(|w| w == b"\n\n")
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
    // botocore's `ContainerProvider` reads the optional `AccountId`.
    if let Some(a) = &c.account_id {
        out.push_str(&format!(",\"AccountId\":{}", crate::output::json_string(a)));
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
                account_id: None,
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

    /// A served endpoint and a GET of it with the right token: the status line.
    fn get(port: u16, path: &str, token: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: {token}\r\n\r\n"
        )
        .unwrap();
        let mut text = String::new();
        let _ = s.read_to_string(&mut text);
        text.lines().next().unwrap_or("").to_string()
    }

    #[test]
    fn idle_and_trickling_connections_never_keep_the_child_from_its_credentials() {
        let listener = Listener::bind().unwrap();
        let (port, path, token) = (listener.port, listener.path.clone(), listener.token.clone());
        std::thread::spawn(move || listener.serve(Arc::new(state())));
        // Three times the cap of idle connections, and some that trickle a partial request.
        let mut idle: Vec<TcpStream> = (0..MAX_OPEN * 3)
            .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
            .collect();
        for s in idle.iter_mut().take(10) {
            let _ = s.write_all(b"GET / HTTP/1.1\r\nX: ");
        }
        let started = Instant::now();
        assert_eq!(get(port, &path, &token), "HTTP/1.1 200 OK");
        assert!(started.elapsed() < Duration::from_secs(1));
        // The oldest were closed to make room; the newest pass their deadline and are closed.
        let mut first = [0u8; 1];
        idle[0]
            .set_read_timeout(Some(Duration::from_secs(1)))
            .unwrap();
        assert_eq!(
            idle[0].read(&mut first).unwrap_or(0),
            0,
            "the oldest is closed"
        );
        let last = idle.last_mut().unwrap();
        last.set_read_timeout(Some(REQUEST_DEADLINE * 2)).unwrap();
        let started = Instant::now();
        assert_eq!(last.read(&mut first).unwrap_or(0), 0);
        assert!(started.elapsed() < REQUEST_DEADLINE + Duration::from_secs(2));
        assert_eq!(get(port, &path, &token), "HTTP/1.1 200 OK");
    }

    #[test]
    fn a_request_in_the_middle_of_a_burst_of_connections_is_answered() {
        // A flood that reconnects what it lost arrives in bursts of hundreds; a real client's
        // connection waits in the backlog among them, its request already sent.
        let listener = Listener::bind().unwrap();
        let (port, path, token) = (listener.port, listener.path.clone(), listener.token.clone());
        let connect = || TcpStream::connect(("127.0.0.1", port)).unwrap();
        // Within the listen backlog (128), with more than MAX_OPEN behind the client.
        let before: Vec<TcpStream> = (0..40).map(|_| connect()).collect();
        let mut client = connect();
        write!(
            client,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: {token}\r\n\r\n"
        )
        .unwrap();
        let after: Vec<TcpStream> = (0..MAX_OPEN + 16).map(|_| connect()).collect();
        std::thread::spawn(move || listener.serve(Arc::new(state())));
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut text = String::new();
        let _ = client.read_to_string(&mut text);
        assert_eq!(text.lines().next().unwrap_or(""), "HTTP/1.1 200 OK");
        drop((before, after));
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd") && !same(b"abc", b"ab") && !same(b"", b"a"));
    }
}

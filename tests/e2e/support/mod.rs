//! Test support: moto as STS (auth enforced), a sandbox home per test, and a runner for the
//! built binary with a scrubbed environment whose failures print everything.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_mfarole");

/// A child that prints whom it runs as: the real AWS CLI.
pub const WHOAMI: [&str; 7] = [
    "aws",
    "sts",
    "get-caller-identity",
    "--query",
    "Arn",
    "--output",
    "text",
];

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "mfarole-t-{}-{}-{tag}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("MFAROLE_KEEP_TEST_DIRS").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// moto's server with the setup of `tests/e2e/support/moto_sts.py`.
pub struct Moto {
    child: Mutex<Child>,
    stdin: Mutex<ChildStdin>,
    stdout: Mutex<BufReader<ChildStdout>>,
    values: HashMap<String, String>,
    _dir: TempDir,
}

impl Moto {
    pub fn start() -> Moto {
        Moto::start_with(&[])
    }

    /// With `[cert, key]`: serves HTTPS.
    pub fn start_with(tls: &[&Path]) -> Moto {
        let dir = TempDir::new("moto");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/support/moto_sts.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args(tls)
            .env("MOTO_RECORDER_FILEPATH", dir.path().join("recording.jsonl"))
            .env(
                "MFAROLE_TEST_FEDERATION_LOG",
                dir.path().join("federation.jsonl"),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 with moto (run .ci/run to install it)");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut values = HashMap::new();
        loop {
            let mut line = String::new();
            if stdout.read_line(&mut line).unwrap() == 0 {
                panic!("moto_sts.py ended before it was ready (is moto installed?)");
            }
            let line = line.trim_end();
            if line == "ready" {
                break;
            }
            if let Some((k, v)) = line.split_once(' ') {
                values.insert(k.to_string(), v.to_string());
            }
        }
        Moto {
            child: Mutex::new(child),
            stdin: Mutex::new(stdin),
            stdout: Mutex::new(stdout),
            values,
            _dir: dir,
        }
    }

    /// One moto for the tests of a binary that do not count requests.
    pub fn shared() -> &'static Moto {
        static SHARED: OnceLock<Moto> = OnceLock::new();
        SHARED.get_or_init(Moto::start)
    }

    pub fn get(&self, key: &str) -> &str {
        self.values
            .get(key)
            .unwrap_or_else(|| panic!("moto setup has no {key}"))
    }

    pub fn url(&self) -> &str {
        self.get("url")
    }

    /// STS actions moto has answered since setup, by name.
    pub fn counts(&self) -> HashMap<String, u32> {
        let mut stdin = self.stdin.lock().unwrap();
        writeln!(stdin, "count").unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.lock().unwrap().read_line(&mut line).unwrap();
        line.trim()
            .strip_prefix("count")
            .unwrap()
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.parse().unwrap()))
            .collect()
    }

    pub fn count(&self, action: &str) -> u32 {
        self.counts().get(action).copied().unwrap_or(0)
    }

    /// The form fields of every `action` request moto has answered since setup, in order.
    pub fn forms(&self, action: &str) -> Vec<HashMap<String, String>> {
        let mut stdin = self.stdin.lock().unwrap();
        writeln!(stdin, "forms {action}").unwrap();
        stdin.flush().unwrap();
        let mut stdout = self.stdout.lock().unwrap();
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let n: usize = line.trim().strip_prefix("forms ").unwrap().parse().unwrap();
        (0..n)
            .map(|_| {
                let mut line = String::new();
                stdout.read_line(&mut line).unwrap();
                serde_json::from_str(&line).unwrap()
            })
            .collect()
    }
}

impl Moto {
    /// The federation stand-in's base URL (`tests/e2e/support/federation.py`): what
    /// `AWS_ENDPOINT_URL_SIGNIN` is set to.
    pub fn federation(&self) -> &str {
        self.get("federation")
    }

    /// Every request the federation stand-in has answered, in order: path, parameter names,
    /// status, reason, kind (`role`, `federation`, `user`), `session_duration`, the `session`
    /// JSON it was sent, and the `token` it gave.
    pub fn federation_requests(&self) -> Vec<serde_json::Value> {
        let path = self._dir.path().join("federation.jsonl");
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let mut child = self.child.lock().unwrap();
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A home directory with the standard test config, pointing at one moto.
pub struct Sandbox {
    pub dir: TempDir,
    pub home: PathBuf,
    pub config: PathBuf,
    pub credentials: PathBuf,
    pub cache: PathBuf,
    pub endpoint: String,
    pub extra_env: Vec<(String, String)>,
}

impl Sandbox {
    pub fn new(moto: &Moto) -> Sandbox {
        let sb = Sandbox::empty(moto.url());
        let m = |k: &str| moto.get(k).to_string();
        let config = format!(
            "# mfarole test config
[default]
region = us-east-1

[profile jones]
mfa_serial = {serial}
region = us-east-1

[profile session-only]
role_arn = {session_only}
source_profile = jones

[profile admin]
role_arn = {admin}
source_profile = jones

[profile admin-long]
role_arn = {admin}
source_profile = jones
duration_seconds = 7200

[profile smith]
region = us-east-1

[profile plain]
role_arn = {plain}
source_profile = smith

[profile ext]
role_arn = {ext}
source_profile = smith
external_id = ext-123

[profile ext-wrong]
role_arn = {ext}
source_profile = smith
external_id = not-the-one

[profile nobody]
role_arn = {nobody}
source_profile = smith

[profile chain1]
role_arn = {chain1}
source_profile = jones
role_session_name = c1

[profile hop2]
role_arn = {hop2}
source_profile = chain1
role_session_name = c2

[profile hop3]
role_arn = {hop3}
source_profile = hop2

[profile badsecret]
region = us-east-1
",
            serial = m("mfa_serial"),
            session_only = m("roles.session-only"),
            admin = m("roles.admin"),
            plain = m("roles.plain"),
            ext = m("roles.ext"),
            nobody = m("roles.nobody"),
            chain1 = m("roles.chain1"),
            hop2 = m("roles.hop2"),
            hop3 = m("roles.hop3"),
        );
        let credentials = format!(
            "[jones]
aws_access_key_id = {jk}
aws_secret_access_key = {js}

[smith]
aws_access_key_id = {sk}
aws_secret_access_key = {ss}

[badsecret]
aws_access_key_id = {sk}
aws_secret_access_key = {ss}WRONG
",
            jk = m("users.jones.key"),
            js = m("users.jones.secret"),
            sk = m("users.smith.key"),
            ss = m("users.smith.secret"),
        );
        sb.write_config(config);
        sb.write_credentials(credentials);
        sb
    }

    /// A home with no config files yet.
    pub fn empty(endpoint: &str) -> Sandbox {
        let dir = TempDir::new("home");
        let home = dir.path().join("home");
        let aws = home.join(".aws");
        std::fs::create_dir_all(&aws).unwrap();
        Sandbox {
            config: aws.join("config"),
            credentials: aws.join("credentials"),
            cache: dir.path().join("cache"),
            home,
            endpoint: endpoint.to_string(),
            extra_env: Vec::new(),
            dir,
        }
    }

    pub fn env(mut self, k: &str, v: &str) -> Sandbox {
        self.extra_env.push((k.to_string(), v.to_string()));
        self
    }

    /// Replaces the config file with `text`. The one way tests write it, with
    /// [`Sandbox::append_config`].
    pub fn write_config(&self, text: impl AsRef<[u8]>) {
        std::fs::write(&self.config, text).unwrap();
    }

    /// Adds `text` at the end of the config file.
    pub fn append_config(&self, text: &str) {
        append(&self.config, text);
    }

    /// Replaces the credentials file with `text`, mode 0600 as `aws configure` makes it (`list`
    /// flags one that others can read).
    pub fn write_credentials(&self, text: impl AsRef<[u8]>) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(&self.credentials, text).unwrap();
        let private = std::fs::Permissions::from_mode(0o600);
        std::fs::set_permissions(&self.credentials, private).unwrap();
    }

    /// Adds `text` at the end of the credentials file.
    pub fn append_credentials(&self, text: &str) {
        append(&self.credentials, text);
    }

    /// The environment a test's mfarole sees: nothing of the test process but PATH (and
    /// pyenv's root, which the `aws` shim needs).
    pub fn base_env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            (
                "PATH".to_string(),
                std::env::var("PATH").unwrap_or_default(),
            ),
            ("HOME".to_string(), self.home.display().to_string()),
            (
                "AWS_CONFIG_FILE".to_string(),
                self.config.display().to_string(),
            ),
            (
                "AWS_SHARED_CREDENTIALS_FILE".to_string(),
                self.credentials.display().to_string(),
            ),
            ("AWS_ENDPOINT_URL".to_string(), self.endpoint.clone()),
            (
                "MFAROLE_CACHE_DIR".to_string(),
                self.cache.display().to_string(),
            ),
            ("LOGNAME".to_string(), "jones".to_string()),
        ];
        if let Some(root) = pyenv_root() {
            env.push(("PYENV_ROOT".to_string(), root));
        }
        env.extend(self.extra_env.iter().cloned());
        env
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env_clear()
            .envs(self.base_env())
            .stdin(Stdio::null());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Out {
        Out::of(args, self.command(args).output().unwrap())
    }

    /// [`Sandbox::base_env`] as `K=V` words for `env -i` in a shell line (for [`Tmux`]).
    fn shell_env(&self) -> String {
        self.base_env()
            .iter()
            .map(|(k, v)| format!("{k}={}", sh_quote(v)))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn append(path: &Path, text: &str) {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .unwrap();
}

fn pyenv_root() -> Option<String> {
    std::env::var("PYENV_ROOT").ok().or_else(|| {
        let home = std::env::var("HOME").ok()?;
        let root = format!("{home}/.pyenv");
        Path::new(&root).is_dir().then_some(root)
    })
}

pub fn sh_quote(v: &str) -> String {
    format!("'{}'", v.replace('\'', "'\\''"))
}

/// A finished run; its assertions print the whole run when they fail.
pub struct Out {
    pub args: String,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn of(args: &[&str], o: Output) -> Out {
        Out {
            args: args.join(" "),
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    fn show(&self) -> String {
        format!(
            "\n--- mfarole {}\n--- status: {:?}\n--- stdout:\n{}\n--- stderr:\n{}\n",
            self.args, self.code, self.stdout, self.stderr
        )
    }

    pub fn ok(&self) -> &Out {
        assert_eq!(self.code, Some(0), "expected success{}", self.show());
        self
    }

    pub fn code(&self, code: i32) -> &Out {
        assert_eq!(self.code, Some(code), "wrong status{}", self.show());
        self
    }

    pub fn stdout_has(&self, text: &str) -> &Out {
        assert!(
            self.stdout.contains(text),
            "stdout lacks {text:?}{}",
            self.show()
        );
        self
    }

    pub fn stderr_has(&self, text: &str) -> &Out {
        assert!(
            self.stderr.contains(text),
            "stderr lacks {text:?}{}",
            self.show()
        );
        self
    }

    pub fn stderr_lacks(&self, text: &str) -> &Out {
        assert!(
            !self.stderr.contains(text),
            "stderr has {text:?}{}",
            self.show()
        );
        self
    }

    /// One line on stderr that starts with `mfarole: ` (the error contract).
    pub fn one_error_line(&self) -> &Out {
        let lines: Vec<_> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "expected one error line{}", self.show());
        assert!(lines[0].starts_with("mfarole: "), "{}", self.show());
        assert!(!self.stderr.contains("panicked"), "{}", self.show());
        self
    }
}

/// Waits until `f` holds or the time is up.
pub fn wait_for(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

/// A real terminal for the tests that need one: a tmux server of its own whose one 200x50
/// pane runs one command with exactly a sandbox's environment (`env -i`, as [`Sandbox::run`]
/// gives it). When the command ends, its exit status ([`Tmux::status`]) and the terminal's
/// modes after it ([`Tmux::stty`]) are kept, and the pane stays open so that what the command
/// left on the screen can still be read.
pub struct Tmux {
    socket: String,
    dir: TempDir,
}

impl Tmux {
    /// The pane's only session.
    const SESSION: &str = "t";

    /// Starts `command` (one simple command of a shell line, with its redirections) on a new
    /// terminal, in the test's working directory.
    pub fn start(sb: &Sandbox, tag: &str, command: &str) -> Tmux {
        Tmux::launch(sb, tag, None, command)
    }

    /// Starts `command` as [`Tmux::start`] does, in `cwd`.
    pub fn start_in(sb: &Sandbox, tag: &str, cwd: &Path, command: &str) -> Tmux {
        Tmux::launch(sb, tag, Some(cwd), command)
    }

    fn launch(sb: &Sandbox, tag: &str, cwd: Option<&Path>, command: &str) -> Tmux {
        static N: AtomicUsize = AtomicUsize::new(0);
        let socket = format!(
            "mfarole-{}-{}-{tag}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let t = Tmux {
            socket,
            dir: TempDir::new("tmux"),
        };
        // The pane's shell survives a Ctrl-C passed to its process group (as an interactive
        // shell would), so that it records the status of what it ran.
        let line = format!(
            "trap true INT; env -i {env} {command}; s=$?; stty -a > {stty}; echo $s > {status}; sleep 120",
            env = sb.shell_env(),
            stty = sh_quote(t.file("stty").to_str().unwrap()),
            status = sh_quote(t.file("status").to_str().unwrap()),
        );
        let mut tmux = t.tmux();
        tmux.args([
            "new-session",
            "-d",
            "-x",
            "200",
            "-y",
            "50",
            "-s",
            Tmux::SESSION,
        ]);
        if let Some(cwd) = cwd {
            tmux.arg("-c").arg(cwd);
        }
        let status = tmux
            .arg(line)
            .env_remove("TMUX")
            .status()
            .expect("tmux is needed for terminal tests (.ci/run installs it)");
        assert!(status.success());
        t
    }

    /// A tmux client of this server (with no configuration file).
    fn tmux(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.args(["-L", &self.socket, "-f", "/dev/null"]);
        cmd
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn screen(&self) -> String {
        let out = self
            .tmux()
            .args([
                "capture-pane",
                "-p",
                "-J",
                "-S",
                "-200",
                "-t",
                Tmux::SESSION,
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn wait_screen(&self, text: &str, timeout: Duration) -> String {
        let mut last = String::new();
        let found = wait_for(timeout, || {
            last = self.screen();
            last.contains(text)
        });
        assert!(found, "terminal never showed {text:?}; screen:\n{last}");
        last
    }

    /// Types literal text (no Enter).
    pub fn type_text(&self, text: &str) {
        self.keys(&["-l", text]);
    }

    /// Types a line and presses Enter.
    pub fn enter(&self, text: &str) {
        self.type_text(text);
        self.keys(&["Enter"]);
    }

    pub fn keys(&self, keys: &[&str]) {
        let status = self
            .tmux()
            .args(["send-keys", "-t", Tmux::SESSION])
            .args(keys)
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// The command's exit status, once it has ended (at most `timeout` from now).
    pub fn status(&self, timeout: Duration) -> i32 {
        let text = wait_file(&self.file("status"), timeout);
        text.trim()
            .parse()
            .unwrap_or_else(|_| panic!("exit status {text:?}"))
    }

    /// `stty -a` on the terminal after the command ended (call [`Tmux::status`] first).
    pub fn stty(&self) -> String {
        std::fs::read_to_string(self.file("stty")).unwrap_or_default()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self
            .tmux()
            .arg("kill-server")
            .stderr(Stdio::null())
            .status();
    }
}

/// Reads a file the test's shell writes when its command is done.
pub fn wait_file(path: &Path, timeout: Duration) -> String {
    let found = wait_for(timeout, || {
        std::fs::read_to_string(path).is_ok_and(|s| s.ends_with('\n'))
    });
    assert!(found, "{} never appeared", path.display());
    std::fs::read_to_string(path).unwrap()
}

/// What a fake STS answers to one request: status, extra headers, body; or a fault.
pub enum Reply {
    Http(u16, Vec<(String, String)>, Vec<u8>),
    /// Accept, read the request, then say nothing until the client gives up.
    Silence,
    /// Send headers that promise a long body, then stop.
    Truncated(u16, String),
    /// Send a body that never ends.
    Endless,
}

/// A tiny HTTP/1.1 server on 127.0.0.1 for faults moto cannot produce: wrong MFA codes, 5xx,
/// throttling, garbage, slow or silent answers. `answer` gets the attempt number (from 1) and
/// the form body.
pub struct FakeSts {
    pub url: String,
    pub requests: std::sync::Arc<Mutex<Vec<String>>>,
}

impl FakeSts {
    pub fn start(answer: impl Fn(usize, &str) -> Reply + Send + Sync + 'static) -> FakeSts {
        let requests = std::sync::Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        let stub = Stub::start(move |req: &Req| {
            let n = {
                let mut seen = seen.lock().unwrap();
                seen.push(req.body.clone());
                seen.len()
            };
            answer(n, &req.body)
        });
        FakeSts {
            url: format!("{}/", stub.url),
            requests,
        }
    }

    pub fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

/// Civil date and time of a Unix time (Howard Hinnant's days-from-civil, inverted).
fn civil(secs: i64) -> (i64, i64, i64, i64, i64, i64, i64) {
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let weekday = (days + 4).rem_euclid(7); // 1970-01-01 was a Thursday
    (y, m, d, rem / 3600, rem % 3600 / 60, rem % 60, weekday)
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// `now + offset` as RFC 3339.
pub fn rfc3339_in(offset: i64) -> String {
    let (y, m, d, h, mi, s, _) = civil(unix_now() + offset);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// `now + offset` as an HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`).
pub fn http_date_in(offset: i64) -> String {
    let (y, m, d, h, mi, s, wd) = civil(unix_now() + offset);
    let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {d:02} {} {y:04} {h:02}:{mi:02}:{s:02} GMT",
        days[wd as usize],
        months[(m - 1) as usize]
    )
}

/// A GetSessionToken success document that expires in an hour.
pub fn gst_ok() -> Vec<u8> {
    format!(
        "<GetSessionTokenResponse><GetSessionTokenResult><Credentials>\
         <AccessKeyId>ASIAFAKE</AccessKeyId><SecretAccessKey>fakesecret</SecretAccessKey>\
         <SessionToken>faketoken</SessionToken><Expiration>{}</Expiration>\
         </Credentials></GetSessionTokenResult></GetSessionTokenResponse>",
        rfc3339_in(3600)
    )
    .into_bytes()
}

/// What real STS answers to a wrong or reused MFA code.
pub fn mfa_rejected() -> Reply {
    Reply::Http(
        403,
        vec![],
        sts_error(
            "AccessDenied",
            "MultiFactorAuthentication failed with invalid MFA one time pass code.",
        ),
    )
}

pub fn sts_error(code: &str, message: &str) -> Vec<u8> {
    format!(
        "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>req-1</RequestId></ErrorResponse>"
    )
    .into_bytes()
}

/// An AssumeRole success document that expires in an hour.
pub fn ar_ok() -> Vec<u8> {
    format!(
        "<AssumeRoleResponse><AssumeRoleResult><Credentials>\
         <AccessKeyId>ASIAROLE</AccessKeyId><SecretAccessKey>rolesecret</SecretAccessKey>\
         <SessionToken>roletoken</SessionToken><Expiration>{}</Expiration></Credentials>\
         <AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/r/s</Arn>\
         <AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser>\
         </AssumeRoleResult></AssumeRoleResponse>",
        rfc3339_in(3600)
    )
    .into_bytes()
}

/// The names of the files in `dir` (none when it is missing).
pub fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// One request to a [`Stub`]: method, path, lower-cased headers.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A tiny HTTP/1.1 server on 127.0.0.1 for services that cannot run here (the container
/// credentials endpoint, instance metadata), written to their published contracts and
/// checked against the AWS CLI or boto3 in the tests. Every request is recorded.
pub struct Stub {
    pub url: String,
    pub requests: std::sync::Arc<Mutex<Vec<Req>>>,
}

impl Stub {
    pub fn start(answer: impl Fn(&Req) -> Reply + Send + Sync + 'static) -> Stub {
        use std::io::Read;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = std::sync::Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        let answer = std::sync::Arc::new(answer);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let seen = seen.clone();
                let answer = answer.clone();
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
                    let mut buf = Vec::new();
                    let mut byte = [0u8; 1];
                    while !buf.ends_with(b"\r\n\r\n") {
                        match stream.read(&mut byte) {
                            Ok(1) => buf.push(byte[0]),
                            _ => return,
                        }
                    }
                    let head = String::from_utf8_lossy(&buf).to_string();
                    let mut lines = head.lines();
                    let mut first = lines.next().unwrap_or("").split(' ');
                    let method = first.next().unwrap_or("").to_string();
                    let path = first.next().unwrap_or("").to_string();
                    let headers: Vec<(String, String)> = lines
                        .filter_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            Some((k.trim().to_ascii_lowercase(), v.trim().to_string()))
                        })
                        .collect();
                    let len = headers
                        .iter()
                        .find(|(k, _)| k == "content-length")
                        .and_then(|(_, v)| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    let mut body = vec![0u8; len];
                    if stream.read_exact(&mut body).is_err() {
                        return;
                    }
                    let req = Req {
                        method,
                        path,
                        headers,
                        body: String::from_utf8_lossy(&body).into_owned(),
                    };
                    seen.lock().unwrap().push(req.clone());
                    match answer(&req) {
                        Reply::Http(status, headers, body) => {
                            let mut out = format!(
                                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                                body.len()
                            );
                            for (k, v) in headers {
                                out.push_str(&format!("{k}: {v}\r\n"));
                            }
                            out.push_str("\r\n");
                            let _ = stream.write_all(out.as_bytes());
                            let _ = stream.write_all(&body);
                        }
                        Reply::Silence => std::thread::sleep(Duration::from_secs(60)),
                        Reply::Truncated(status, part) => {
                            let _ = stream.write_all(
                                format!(
                                    "HTTP/1.1 {status} X\r\nContent-Length: 100000\r\n\r\n{part}"
                                )
                                .as_bytes(),
                            );
                            let _ = stream.flush();
                        }
                        Reply::Endless => {
                            let _ = stream.write_all(
                                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                            );
                            let start = Instant::now();
                            while start.elapsed() < Duration::from_secs(60) {
                                if stream.write_all(b"400\r\n").is_err()
                                    || stream.write_all(&[b'<'; 0x400]).is_err()
                                    || stream.write_all(b"\r\n").is_err()
                                {
                                    return;
                                }
                                std::thread::sleep(Duration::from_millis(10));
                            }
                        }
                    }
                });
            }
        });
        Stub {
            url: format!("http://127.0.0.1:{port}"),
            requests,
        }
    }

    pub fn count(&self, method: &str, path_start: &str) -> usize {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.method == method && r.path.starts_with(path_start))
            .count()
    }
}

/// A JSON reply.
pub fn json(status: u16, body: &str) -> Reply {
    Reply::Http(
        status,
        vec![("Content-Type".into(), "application/json".into())],
        body.as_bytes().to_vec(),
    )
}

/// Runs mfarole with `args` `n` times at once (as `make -jN` would) and returns every run.
pub fn parallel(sb: &Sandbox, n: usize, args: &[&str]) -> Vec<Out> {
    let children: Vec<_> = (0..n)
        .map(|_| {
            let mut c = sb.command(args);
            c.stdout(Stdio::piped()).stderr(Stdio::piped());
            c.spawn().unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|c| Out::of(args, c.wait_with_output().unwrap()))
        .collect()
}

/// Runs mfarole with `args` in `sb`, under a 2 GiB address-space limit (a build that read
/// `/dev/zero` would run out of it, not take the machine's memory) and killed after `limit` (a
/// build that blocked on a FIFO would never end): `None` when it had to be killed.
pub fn bounded(sb: &Sandbox, args: &[&str], limit: Duration) -> Option<Out> {
    let mut child = Command::new("prlimit")
        .arg("--as=2147483648")
        .arg("--")
        .arg(BIN)
        .args(args)
        .env_clear()
        .envs(sb.base_env())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while started.elapsed() < limit {
        if child.try_wait().unwrap().is_some() {
            return Some(Out::of(args, child.wait_with_output().unwrap()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

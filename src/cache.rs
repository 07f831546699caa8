//! The credentials cache, and the lock that makes parallel runs share one STS call.
//!
//! Each plan step's result is a file named after a hash of its cache key, in
//! `$MFAROLE_CACHE_DIR`, else `$XDG_CACHE_HOME/mfarole`, else `$HOME/.cache/mfarole`. The
//! directory is `0700`, the files `0600`; a file is written to a temporary name in the same
//! directory and renamed, so a reader sees the old file or the new one, never half of one. The
//! full key is stored inside and compared on read, so a hash collision is a miss, not a leak.
//!
//! A file is trusted only if it is a regular file of ours, not readable by others, parses
//! completely and holds the right key; anything else is warned about once and ignored. A
//! cache we cannot use (no home, read-only home, a directory owned by someone else) never
//! stops a run: it runs without cache.
//!
//! While one process makes a step's STS call, others that need the same step wait on an
//! advisory lock (`flock` through `std::fs::File::try_lock`) on `NAME.lock`, then read what it
//! stored. The kernel drops the lock when its holder exits, so a crashed holder never blocks
//! the next run. Waiting is bounded (`MFAROLE_LOCK_TIMEOUT`, default 3m).

use std::cell::Cell;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::creds::{Credentials, Issued};
use crate::environ::Environ;
use crate::error::{Error, Result};
use crate::log::Log;

const MAGIC: &str = "mfarole-cache v1";
const FAIL_MAGIC: &str = "mfarole-failure v1";
/// A temporary file older than this is a leftover even if a process of its writer's pid
/// lives (pids are reused, and a cache dir may be shared across pid namespaces): a write
/// takes milliseconds.
const STALE_TMP: Duration = Duration::from_secs(600);
const MAX_FILE: u64 = 64 * 1024;

/// How fresh cached credentials must be, and how long to wait for a lock.
#[derive(Debug, Clone)]
pub struct Settings {
    pub margin: Duration,
    pub lock_timeout: Duration,
}

impl Settings {
    pub fn from_env(env: &Environ) -> Result<Settings> {
        let secs = |name: &str, default: u64| -> Result<Duration> {
            match env.get(name) {
                None => Ok(Duration::from_secs(default)),
                Some(v) => crate::units::parse_duration(v)
                    .map(|s| Duration::from_secs(u64::from(s)))
                    .ok_or_else(|| {
                        Error::Setting(format!(
                            "{name}={} is not a duration like 300, 5m or 1h; fix or unset it",
                            crate::error::clean(v, 20)
                        ))
                    }),
            }
        };
        Ok(Settings {
            margin: secs("MFAROLE_REFRESH_MARGIN", 300)?,
            lock_timeout: secs("MFAROLE_LOCK_TIMEOUT", 180)?,
        })
    }
}

pub struct Cache<'a> {
    /// `None`: running without cache.
    dir: Option<PathBuf>,
    settings: Settings,
    log: &'a Log,
    warned: Cell<bool>,
}

/// Holds a step's lock until dropped.
pub struct Lock {
    _file: File,
    /// Whether another mfarole held it when we asked.
    pub waited: bool,
}

impl<'a> Cache<'a> {
    /// Finds, creates and checks the cache directory. Never fails: a cache that cannot be used
    /// is off for this run, with one warning.
    pub fn open(env: &Environ, settings: Settings, log: &'a Log) -> Cache<'a> {
        let mut cache = Cache {
            dir: None,
            settings,
            log,
            warned: Cell::new(false),
        };
        let Some(dir) = cache_dir(env) else {
            log.verbose(format_args!(
                "no HOME, XDG_CACHE_HOME or MFAROLE_CACHE_DIR: running without cache"
            ));
            return cache;
        };
        match prepare_dir(&dir) {
            Ok(()) => cache.dir = Some(dir),
            Err(why) => cache.warn(format_args!("not using the cache {}: {why}", dir.display())),
        }
        cache
    }

    /// A cache that stores nothing (for `--refresh`-less tests and no-cache runs).
    #[cfg(test)]
    pub fn at(dir: PathBuf, settings: Settings, log: &'a Log) -> Cache<'a> {
        Cache {
            dir: Some(dir),
            settings,
            log,
            warned: Cell::new(false),
        }
    }

    pub fn margin(&self) -> Duration {
        self.settings.margin
    }

    fn warn(&self, msg: std::fmt::Arguments) {
        if !self.warned.replace(true) {
            self.log.warn(msg);
        } else {
            self.log.verbose(msg);
        }
    }

    fn path(&self, key: &str, ext: &str) -> Option<PathBuf> {
        self.dir
            .as_ref()
            .map(|d| d.join(format!("{:016x}.{ext}", fnv1a(key))))
    }

    /// The cached credentials for `key` if they stay valid past `now` + margin.
    /// With `since`, only an entry written at or after that time counts (`--refresh` accepts
    /// what a parallel run just fetched, not what was there before).
    pub fn get_fresh(
        &self,
        key: &str,
        now: OffsetDateTime,
        since: Option<std::time::SystemTime>,
    ) -> Option<Issued> {
        if let Some(since) = since {
            let written = fs::metadata(self.path(key, "cred")?)
                .ok()?
                .modified()
                .ok()?;
            if written < since {
                return None;
            }
        }
        let issued = self.get(key)?;
        let expires = issued.credentials.expiration?;
        if expires - self.settings.margin > now {
            Some(issued)
        } else {
            self.log.verbose(format_args!(
                "cached credentials expire at {} (within the {}s margin): getting new ones",
                show_time(expires),
                self.settings.margin.as_secs()
            ));
            None
        }
    }

    /// The cached credentials for `key`, fresh or not; `None` when absent or untrusted.
    pub fn get(&self, key: &str) -> Option<Issued> {
        let path = self.path(key, "cred")?;
        match read_entry(&path, key) {
            Ok(found) => found,
            Err(why) => {
                self.warn(format_args!(
                    "ignoring cache file {}: {why}",
                    path.display()
                ));
                None
            }
        }
    }

    /// Stores a step's result. Failing to store is a warning, not an error: the run has its
    /// credentials.
    pub fn put(&self, key: &str, issued: &Issued) {
        let Some(path) = self.path(key, "cred") else {
            return;
        };
        // A success ends what an earlier failure said to the runs waiting for this step.
        if let Some(fail) = self.path(key, "fail") {
            let _ = fs::remove_file(fail);
        }
        if let Err(e) = write_entry(&path, key, issued) {
            self.warn(format_args!(
                "cannot write cache file {}: {}",
                path.display(),
                crate::error::io_text(&e)
            ));
        }
    }

    /// Waits for the exclusive lock of `key`. `Ok(None)` when there is no cache (nothing to
    /// share, so nothing to wait for).
    pub fn lock(&self, key: &str) -> Result<Option<Lock>> {
        let Some(path) = self.path(key, "lock") else {
            return Ok(None);
        };
        let file = match OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(nofollow())
            .open(&path)
        {
            Ok(f) => f,
            Err(e) => {
                self.warn(format_args!(
                    "cannot open lock file {}: {}; going on without it",
                    path.display(),
                    crate::error::io_text(&e)
                ));
                return Ok(None);
            }
        };
        let started = Instant::now();
        let mut said = false;
        loop {
            match file.try_lock() {
                Ok(()) => {
                    self.sweep();
                    return Ok(Some(Lock {
                        _file: file,
                        waited: said,
                    }));
                }
                Err(fs::TryLockError::WouldBlock) => {}
                Err(fs::TryLockError::Error(e)) => {
                    self.warn(format_args!(
                        "cannot lock {}: {}; going on without it",
                        path.display(),
                        crate::error::io_text(&e)
                    ));
                    return Ok(None);
                }
            }
            if !said {
                self.log.verbose(format_args!(
                    "waiting for another mfarole that is getting the same credentials"
                ));
                said = true;
            }
            if started.elapsed() >= self.settings.lock_timeout {
                return Err(Error::LockTimeout {
                    path,
                    seconds: self.settings.lock_timeout.as_secs(),
                });
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Notes that the run holding `key`'s lock failed (or that the user pressed Ctrl-C at its
    /// prompt), so that the runs waiting behind it (`make -j8`) stop at once with the same
    /// message instead of each replaying the prompt or the whole retry cycle. The marker holds
    /// the error's exit status and its one-line message, which by contract holds no secret.
    pub fn mark_failed(&self, key: &str, err: &Error) {
        let Some(path) = self.path(key, "fail") else {
            return;
        };
        let text = format!(
            "{FAIL_MAGIC}\ncode {}\nmessage {}\n",
            err.code(),
            crate::error::clean(&err.to_string(), 400)
        );
        if let Err(e) = write_private(&path, text.as_bytes()) {
            self.log.verbose(format_args!(
                "cannot write {}: {}",
                path.display(),
                crate::error::io_text(&e)
            ));
        }
    }

    /// The failure of a holder of `key`'s lock, when one was marked at or after `since`.
    pub fn failed_since(&self, key: &str, since: std::time::SystemTime) -> Option<Error> {
        let path = self.path(key, "fail")?;
        let (file, _) = open_ours(&path).ok()??;
        let written = file.metadata().ok()?.modified().ok()?;
        if written < since {
            return None;
        }
        let mut text = String::new();
        (&file).take(4096).read_to_string(&mut text).ok()?;
        parse_failure(&text)
    }

    /// Removes the temporary files of writers that were killed between writing and renaming:
    /// each is a complete copy of an entry, secret included. Only names of our own pattern
    /// (`.HASH.EXT.PID.tmp`), and only when that pid is gone or the file is older than any
    /// write takes. Called with a step's lock held, so off the cached path.
    fn sweep(&self) {
        let Some(dir) = &self.dir else { return };
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        let me = std::process::id();
        for entry in entries.filter_map(|e| e.ok()) {
            let name = entry.file_name();
            let Some(pid) = name.to_str().and_then(tmp_writer) else {
                continue;
            };
            if pid == me {
                continue;
            }
            let gone = rustix::process::Pid::from_raw(pid as i32).is_none_or(|p| {
                rustix::process::test_kill_process(p) == Err(rustix::io::Errno::SRCH)
            });
            let old = entry
                .metadata()
                .ok()
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > STALE_TMP);
            if gone || old {
                let path = entry.path();
                match fs::remove_file(&path) {
                    Ok(()) => self.log.verbose(format_args!(
                        "removed {}, left by a run that was killed while writing",
                        path.display()
                    )),
                    Err(e) => self.log.verbose(format_args!(
                        "cannot remove {}: {}",
                        path.display(),
                        crate::error::io_text(&e)
                    )),
                }
            }
        }
    }

    /// Removes the entries of `keys`, or every entry when `keys` is `None`, with their failure
    /// markers and any temporary copy a killed writer left; returns how many entries went.
    /// Lock files stay: removing one that a running mfarole holds would let a second holder
    /// in.
    pub fn clear(&self, keys: Option<&[String]>) -> Result<usize> {
        let Some(dir) = &self.dir else {
            return Ok(0);
        };
        let mut removed = 0;
        let names: Vec<String> = fs::read_dir(dir)
            .map_err(|e| Error::io(format!("cannot list {}", dir.display()), e))?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        // A profile's entries, and the temporary copies a killed writer left of them.
        let stems: Option<Vec<String>> =
            keys.map(|keys| keys.iter().map(|k| format!("{:016x}.", fnv1a(k))).collect());
        let targets: Vec<PathBuf> = names
            .iter()
            .filter(|name| {
                let ours = name.ends_with(".cred")
                    || name.ends_with(".fail")
                    || name.ends_with(".int")
                    || (name.starts_with('.') && name.ends_with(".tmp"));
                let wanted = stems.as_ref().is_none_or(|stems| {
                    let bare = name.strip_prefix('.').unwrap_or(name);
                    stems.iter().any(|s| bare.starts_with(s.as_str()))
                });
                ours && wanted && !name.ends_with(".lock")
            })
            .map(|name| dir.join(name))
            .collect();
        for path in targets {
            let is_entry = path.extension().is_some_and(|e| e == "cred");
            match fs::remove_file(&path) {
                Ok(()) => removed += usize::from(is_entry),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(format!("cannot remove {}", path.display()), e)),
            }
        }
        Ok(removed)
    }
}

fn cache_dir(env: &Environ) -> Option<PathBuf> {
    if let Some(dir) = env.path("MFAROLE_CACHE_DIR") {
        return Some(dir);
    }
    if let Some(xdg) = env.path("XDG_CACHE_HOME").filter(|p| p.is_absolute()) {
        return Some(xdg.join("mfarole"));
    }
    env.home().map(|h| h.join(".cache").join("mfarole"))
}

fn prepare_dir(dir: &Path) -> std::result::Result<(), String> {
    let meta = match check_links(dir)? {
        // The usual case, an existing directory: its `lstat` is all there is to know.
        Some(meta) if meta.is_dir() => meta,
        _ => {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| crate::error::io_text(&e))?;
            fs::metadata(dir).map_err(|e| crate::error::io_text(&e))?
        }
    };
    if !meta.is_dir() {
        return Err("not a directory".into());
    }
    if meta.uid() != rustix::process::geteuid().as_raw() {
        return Err(format!("it belongs to uid {}, not to you", meta.uid()));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "others can write to it (mode {:o}); run chmod 700 on it",
            meta.mode() & 0o777
        ));
    }
    Ok(())
}

/// Refuses a path through a symlink that someone else could change: as OpenSSH does for its
/// files, a symlink counts only when it belongs to the user or to root. (Without this a
/// symlink planted in a world-writable directory is judged by its target only, and followed.)
/// Returns the `lstat` of `dir` itself, when it exists.
fn check_links(dir: &Path) -> std::result::Result<Option<fs::Metadata>, String> {
    let me = rustix::process::geteuid().as_raw();
    let mut own = None;
    for part in dir.ancestors() {
        let Ok(meta) = fs::symlink_metadata(part) else {
            continue;
        };
        if meta.file_type().is_symlink() && meta.uid() != me && meta.uid() != 0 {
            return Err(format!(
                "{} is a symlink that belongs to uid {}, not to you or root",
                part.display(),
                meta.uid()
            ));
        }
        if part == dir {
            own = Some(meta);
        }
    }
    Ok(own)
}

/// The pid in a temporary file name of ours (`.0123456789abcdef.cred.4242.tmp`).
fn tmp_writer(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let mut parts = rest.split('.');
    let (hash, ext, pid) = (parts.next()?, parts.next()?, parts.next()?);
    let ours = parts.next().is_none()
        && hash.len() == 16
        && hash.bytes().all(|b| b.is_ascii_hexdigit())
        && matches!(ext, "cred" | "fail" | "int");
    ours.then(|| pid.parse().ok()).flatten()
}

fn nofollow() -> i32 {
    (rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits() as i32
}

/// Opens a file of ours in the cache directory without following a symlink, and checks that
/// it is a regular file of the user's that no one else can read. `Ok(None)`: no file.
/// `Err`: a file that must not be trusted.
fn open_ours(path: &Path) -> std::result::Result<Option<(File, u64)>, String> {
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(nofollow())
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(crate::error::io_text(&e)),
    };
    let meta = file.metadata().map_err(|e| crate::error::io_text(&e))?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    if meta.uid() != rustix::process::geteuid().as_raw() {
        return Err(format!("it belongs to uid {}, not to you", meta.uid()));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(format!(
            "others can read it (mode {:o}); it is ignored and will be replaced",
            meta.mode() & 0o777
        ));
    }
    Ok(Some((file, meta.len())))
}

/// Reads and checks one entry. `Ok(None)`: no file. `Err`: a file that must not be trusted.
fn read_entry(path: &Path, key: &str) -> std::result::Result<Option<Issued>, String> {
    let Some((file, len)) = open_ours(path)? else {
        return Ok(None);
    };
    // Sized from `fstat`, so that the read takes one call (and the one that sees the end).
    let mut text = String::with_capacity(len.min(MAX_FILE) as usize + 1);
    (&file)
        .take(MAX_FILE)
        .read_to_string(&mut text)
        .map_err(|_| "not a text file".to_string())?;
    parse_entry(&text, key).map(Some)
}

/// A failure marker: its magic line, the exit status, the message.
fn parse_failure(text: &str) -> Option<Error> {
    let mut lines = text.lines();
    if lines.next() != Some(FAIL_MAGIC) {
        return None;
    }
    let code: u8 = lines.next()?.strip_prefix("code ")?.parse().ok()?;
    let message = lines.next()?.strip_prefix("message ")?;
    if code == crate::error::EXIT_INTERRUPTED {
        return Some(Error::Interrupted);
    }
    Some(Error::Shared {
        code,
        message: crate::error::clean(message, 400),
    })
}

/// The entry format: a magic line, then `name value` lines. Any deviation is damage.
pub(crate) fn parse_entry(text: &str, key: &str) -> std::result::Result<Issued, String> {
    let mut lines = text.lines();
    if lines.next() != Some(MAGIC) {
        return Err("not an mfarole cache file (or from another version)".into());
    }
    let mut fields: Vec<(&str, &str)> = Vec::new();
    for line in lines {
        let (name, value) = line
            .split_once(' ')
            .ok_or("damaged (a line without a value)")?;
        if fields.iter().any(|(n, _)| *n == name) {
            return Err(format!("damaged (field {name} twice)"));
        }
        fields.push((name, value));
    }
    let field = |name: &str| -> std::result::Result<String, String> {
        fields
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_string())
            .filter(|v| !v.is_empty() && !v.chars().any(char::is_control))
            .ok_or_else(|| format!("damaged (no {name})"))
    };
    if field("key")? != key {
        return Err("it holds another entry (hash collision or a copied file)".into());
    }
    let expiration = OffsetDateTime::parse(&field("expiration")?, &Rfc3339)
        .map_err(|_| "damaged (bad expiration)".to_string())?;
    Ok(Issued {
        credentials: Credentials {
            access_key_id: field("access_key_id")?,
            secret_access_key: field("secret_access_key")?,
            session_token: Some(field("session_token")?),
            expiration: Some(expiration),
        },
        arn: field("arn").ok(),
    })
}

pub(crate) fn format_entry(key: &str, issued: &Issued) -> std::io::Result<String> {
    let c = &issued.credentials;
    let bad = || {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "credentials that cannot be stored",
        )
    };
    let expiration = c
        .expiration
        .and_then(|e| e.format(&Rfc3339).ok())
        .ok_or_else(bad)?;
    let mut text = format!("{MAGIC}\nkey {key}\n");
    let token = c.session_token.as_deref().ok_or_else(bad)?;
    for (name, value) in [
        ("access_key_id", c.access_key_id.as_str()),
        ("secret_access_key", c.secret_access_key.as_str()),
        ("session_token", token),
        ("expiration", expiration.as_str()),
    ]
    .into_iter()
    .chain(issued.arn.as_deref().map(|a| ("arn", a)))
    {
        if value.is_empty() || value.chars().any(char::is_control) {
            return Err(bad());
        }
        text.push_str(&format!("{name} {value}\n"));
    }
    Ok(text)
}

fn write_entry(path: &Path, key: &str, issued: &Issued) -> std::io::Result<()> {
    write_private(path, format_entry(key, issued)?.as_bytes())
}

/// Every file mfarole writes in the cache directory is written this way: to a new temporary
/// name (`O_CREAT|O_EXCL|O_NOFOLLOW`, mode exactly 0600), synced, then renamed over `path`,
/// so a reader sees the old file or the new one, never half of one, and a symlink planted
/// at `path` is replaced, not followed.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("entry");
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let _ = fs::remove_file(&tmp);
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(nofollow())
            .open(&tmp)?;
        // The mode given to open is filtered by the umask; make sure it is exactly 0600.
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// FNV-1a, 64 bits: stable across Rust versions (unlike `DefaultHasher`), and enough for file
/// names because the full key is compared on read.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A UTC time for messages: `2026-11-24 21:05:09 UTC`.
pub fn show_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issued(expires: OffsetDateTime) -> Issued {
        Issued {
            credentials: Credentials {
                access_key_id: "ASIAX".into(),
                secret_access_key: "sec/+=".into(),
                session_token: Some("tok".into()),
                expiration: Some(expires),
            },
            arn: Some("arn:aws:sts::1:assumed-role/r/n".into()),
        }
    }

    fn tmpdir(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("mfarole-cache-test-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::DirBuilder::new().mode(0o700).create(&d).unwrap();
        d
    }

    fn settings() -> Settings {
        Settings {
            margin: Duration::from_secs(300),
            lock_timeout: Duration::from_millis(200),
        }
    }

    #[test]
    fn round_trip_and_key_check() {
        let now = OffsetDateTime::now_utc();
        let e = issued(now + time::Duration::hours(1));
        let text = format_entry("k1", &e).unwrap();
        let back = parse_entry(&text, "k1").unwrap();
        assert_eq!(back.credentials.secret_access_key, "sec/+=");
        assert_eq!(back.arn, e.arn);
        assert!(
            parse_entry(&text, "k2")
                .unwrap_err()
                .contains("another entry")
        );
    }

    #[test]
    fn damaged_entries_are_refused() {
        let text = format_entry("k", &issued(OffsetDateTime::now_utc())).unwrap();
        let cut = &text[..text.len() / 2];
        assert!(parse_entry(cut, "k").is_err());
        assert!(parse_entry("", "k").is_err());
        assert!(parse_entry("{\"json\":1}", "k").is_err());
        assert!(parse_entry(&text.replace("expiration ", "expiration x"), "k").is_err());
        assert!(
            parse_entry(&format!("{text}key k\n"), "k")
                .unwrap_err()
                .contains("twice")
        );
    }

    #[test]
    fn files_are_private_and_freshness_uses_the_margin() {
        let dir = tmpdir("fresh");
        let log = Log::new(false);
        let cache = Cache::at(dir.clone(), settings(), &log);
        let now = OffsetDateTime::now_utc();
        cache.put("soon", &issued(now + time::Duration::minutes(4)));
        cache.put("later", &issued(now + time::Duration::minutes(6)));
        assert!(cache.get_fresh("soon", now, None).is_none());
        assert!(cache.get("soon").is_some());
        assert!(cache.get_fresh("later", now, None).is_some());
        for entry in fs::read_dir(&dir).unwrap() {
            let meta = entry.unwrap().metadata().unwrap();
            assert_eq!(meta.mode() & 0o777, 0o600);
        }
        assert_eq!(cache.clear(Some(&["soon".to_string()])).unwrap(), 1);
        assert!(cache.get("soon").is_none());
        assert_eq!(cache.clear(None).unwrap(), 1);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn readable_by_others_is_not_trusted() {
        let dir = tmpdir("perm");
        let log = Log::new(false);
        let cache = Cache::at(dir.clone(), settings(), &log);
        cache.put(
            "k",
            &issued(OffsetDateTime::now_utc() + time::Duration::hours(1)),
        );
        let path = cache.path("k", "cred").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(
            read_entry(&path, "k")
                .unwrap_err()
                .contains("others can read it")
        );
        assert!(cache.get("k").is_none());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn symlinks_and_fifos_are_not_followed() {
        let dir = tmpdir("link");
        let target = dir.join("elsewhere");
        fs::write(&target, "x").unwrap();
        let link = dir.join("l.cred");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(read_entry(&link, "k").is_err());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_held_lock_times_out_and_a_dropped_one_is_free() {
        let dir = tmpdir("lock");
        let log = Log::new(false);
        let cache = Cache::at(dir.clone(), settings(), &log);
        let held = cache.lock("k").unwrap().unwrap();
        // flock locks belong to the open file description: a second open waits like another
        // process would.
        let err = match cache.lock("k") {
            Err(e) => e.to_string(),
            Ok(_) => panic!("second lock was granted"),
        };
        assert!(err.contains("MFAROLE_LOCK_TIMEOUT"), "{err}");
        drop(held);
        assert!(cache.lock("k").unwrap().is_some());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn foreign_or_open_directories_are_refused() {
        let dir = tmpdir("open");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
        assert!(prepare_dir(&dir).unwrap_err().contains("others can write"));
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
        assert!(prepare_dir(&dir).is_ok());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn fnv_is_stable() {
        assert_eq!(fnv1a(""), 0xcbf29ce484222325);
        assert_eq!(fnv1a("a"), 0xaf63dc4c8601ec8c);
    }
}

//! The lock that makes parallel runs share one step, and what they share when it fails.
//!
//! While one process runs a step, others that need the same step wait on an advisory lock
//! (`flock` through `std::fs::File::try_lock`) on `NAME.lock`, then read what it stored. The
//! kernel drops the lock when its holder exits, so a crashed holder never blocks the next run.
//! Waiting is bounded (`MFAROLE_LOCK_TIMEOUT`, default 3m). A holder that fails leaves a
//! marker (`NAME.fail`: its exit status and one-line message) so that the runs behind it stop
//! at once instead of replaying its prompt or retries. The holder of a lock also sweeps the
//! temporary copies that killed writers left.

use std::fs::{self, File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::atomic::{no_follow, write_private};
use crate::error::{Error, Result};

use super::Cache;
use super::trust::open_ours;

const FAIL_MAGIC: &str = "mfarole-failure v1";
/// A temporary file older than this is a leftover even if a process of its writer's pid
/// lives (pids are reused, and a cache dir may be shared across pid namespaces): a write
/// takes milliseconds.
const STALE_TMP: Duration = Duration::from_secs(600);

/// Holds a step's lock until dropped.
pub struct Lock {
    pub(super) _file: File,
    /// Whether another mfarole held it when we asked.
    pub waited: bool,
}

impl Cache<'_> {
    /// Waits for the exclusive lock of `key`. `Ok(None)` when there is no cache (nothing to
    /// share, so nothing to wait for).
    ///
    /// `clear` removes lock files, so a lock counts only while its file is still the one at
    /// the path: a run that was waiting on a file that `clear` unlinked (which `clear` does
    /// only while holding it) finds, once it has the lock, that the path is gone or another
    /// file, and locks the file now at the path instead. So two runs can never both hold
    /// "the" lock of a step, one on the old file and one on the new.
    pub fn lock(&self, key: &str) -> Result<Option<Lock>> {
        self.lock_within(key, self.lock_timeout)
    }

    /// [`Cache::lock`], giving up after `timeout` rather than `MFAROLE_LOCK_TIMEOUT`: for a
    /// run that has something still usable and need not wait for another's refresh.
    pub fn lock_within(&self, key: &str, timeout: Duration) -> Result<Option<Lock>> {
        let Some(path) = self.path(key, "lock") else {
            return Ok(None);
        };
        let started = Instant::now();
        let mut said = false;
        loop {
            let Some(file) = self.open_lock(&path) else {
                return Ok(None);
            };
            loop {
                match file.try_lock() {
                    Ok(()) => break,
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
                if started.elapsed() >= timeout {
                    return Err(Error::LockTimeout {
                        path,
                        seconds: timeout.as_secs(),
                        prompt: false,
                    });
                }
                std::thread::sleep(Duration::from_millis(25));
            }
            if is_at(&file, &path) {
                self.sweep();
                return Ok(Some(Lock {
                    _file: file,
                    waited: said,
                }));
            }
            // `clear` removed the file we waited on: lock the one at the path now.
        }
    }

    /// Opens (creating) a lock file; `None` with a warning when it cannot be.
    fn open_lock(&self, path: &Path) -> Option<File> {
        let opened = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(no_follow())
            .open(path);
        match opened {
            Ok(f) => Some(f),
            Err(e) => {
                self.warn(format_args!(
                    "cannot open lock file {}: {}; going on without it",
                    path.display(),
                    crate::error::io_text(&e)
                ));
                None
            }
        }
    }

    /// Notes that the run holding `key`'s lock failed (or that the user pressed Ctrl-C at its
    /// prompt), so that the runs waiting behind it (`make -j8`) stop at once with the same
    /// message instead of each replaying the prompt or the whole retry cycle. The marker holds
    /// the error's exit status and its one-line message in mfarole's own words: never what a
    /// program outside mfarole said (a `credential_process`'s stderr may hold anything).
    pub fn mark_failed(&self, key: &str, err: &Error) {
        let Some(path) = self.path(key, "fail") else {
            return;
        };
        let mut text = format!(
            "{FAIL_MAGIC}\ncode {}\nmessage {}\n",
            err.code(),
            crate::error::clean(&err.own_words(), 400)
        );
        if let (Error::Interrupted, Some(session)) = (err, session()) {
            // The runs of the same terminal session need not say it again.
            text.push_str(&format!("session {session}\n"));
        }
        if let Err(e) = write_private(&path, text.as_bytes(), 0o600) {
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
}

/// Whether `file` is still the file at `path` (not unlinked or replaced since it was opened).
fn is_at(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::symlink_metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Removes the lock file at `path` when no run holds it: it is locked first, unlinked while
/// locked, then released, so that a run waiting on it sees, once it gets it, that it is no
/// longer at the path ([`Cache::lock`]). `Ok(false)`: a running mfarole holds it, so it stays.
pub(super) fn remove_if_free(path: &Path) -> std::io::Result<bool> {
    let file = match OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(no_follow())
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(true),
        Err(e) => return Err(e),
    };
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => return Ok(false),
        Err(fs::TryLockError::Error(e)) => return Err(e),
    }
    if !is_at(&file, path) {
        return Ok(true); // someone else removed it meanwhile
    }
    fs::remove_file(path)?;
    Ok(true)
}

/// The pid in a temporary file name of ours (`.0123456789abcdef.cred.4242.tmp`).
fn tmp_writer(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let mut parts = rest.split('.');
    let (hash, ext, pid) = (parts.next()?, parts.next()?, parts.next()?);
    let ours = parts.next().is_none()
        && hash.len() == 16
        && hash.bytes().all(|b| b.is_ascii_hexdigit())
        && matches!(ext, "cred" | "fail" | "used");
    ours.then(|| pid.parse().ok()).flatten()
}

/// This process's session (the terminal's, under a shell): the runs of one `make -j8` share it.
///
/// Read from `/proc/self/stat` (proc(5): field 6), not with `getsid(2)`: in a container whose
/// session leader lives outside the pid namespace (`docker exec`, some CI runners) the call
/// answers 0, which `rustix::process::getsid` cannot represent (its `Pid` is non-zero; a debug
/// build panics). Session 0 is "unknown", never shared with another run.
fn session() -> Option<i32> {
    session_from_stat(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

/// The session field of a `/proc/PID/stat` line; the command name in parentheses may itself
/// hold spaces and `)`, so the fields are counted after the last `)`.
fn session_from_stat(stat: &str) -> Option<i32> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // state, ppid, pgrp, session
    let sid: i32 = rest.split_ascii_whitespace().nth(3)?.parse().ok()?;
    (sid > 0).then_some(sid)
}

/// A failure marker: its magic line, the exit status, the message (and, for Ctrl-C, the
/// session of the run that met it).
fn parse_failure(text: &str) -> Option<Error> {
    let mut lines = text.lines();
    if lines.next() != Some(FAIL_MAGIC) {
        return None;
    }
    let code: u8 = lines.next()?.strip_prefix("code ")?.parse().ok()?;
    let message = lines.next()?.strip_prefix("message ")?;
    if code == crate::error::EXIT_INTERRUPTED {
        let there = lines.next().and_then(|l| l.strip_prefix("session "));
        let quiet = there.is_some_and(|s| session().is_some_and(|me| s == me.to_string()));
        return Some(Error::InterruptedThere { quiet });
    }
    Some(Error::Shared {
        code,
        message: crate::error::clean(message, 400),
    })
}

#[cfg(test)]
mod tests {
    use super::session_from_stat;

    #[test]
    fn the_session_is_read_after_the_command_name_and_zero_is_unknown() {
        assert_eq!(
            session_from_stat("4242 (make) S 1 4242 4100 34816 4242"),
            Some(4100)
        );
        let odd = "4242 (a) b (c) R 1 4242 4101 0 -1";
        assert_eq!(session_from_stat(odd), Some(4101));
        // `docker exec`: the session leader is outside the pid namespace.
        assert_eq!(session_from_stat("17 (sh) S 0 0 0 34816 17"), None);
        assert_eq!(session_from_stat("garbage"), None);
    }

    #[test]
    fn this_process_has_a_session_or_none_and_never_panics() {
        let _ = super::session();
    }
}

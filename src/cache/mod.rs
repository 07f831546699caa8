//! The credentials cache: each plan step's result, so that the next run resumes after it.
//!
//! Each entry is a file named after a hash of its step's cache key ([`entry`] for the format),
//! in the directory [`CacheSettings::dir`] names. The directory is `0700`, the files `0600`,
//! written atomically ([`crate::atomic`]). A file is trusted only if [`trust`] says so, it
//! parses completely and holds the right key; anything else is warned about once and ignored.
//! A cache we cannot use (no home, read-only home, a directory owned by someone else) never
//! stops a run: it runs without cache. [`lock`] makes parallel runs share one step.

mod codes;
mod entry;
mod lock;
pub use lock::Lock;
mod trust;

use std::cell::Cell;
use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use time::OffsetDateTime;

use crate::creds::Issued;
use crate::error::{Error, Result};
use crate::log::Log;
use crate::settings::CacheSettings;

pub(crate) use entry::{format_entry, parse_entry};

pub struct Cache<'a> {
    /// `None`: running without cache.
    dir: Option<PathBuf>,
    margin: Duration,
    lock_timeout: Duration,
    log: &'a Log,
    warned: Cell<bool>,
}

impl<'a> Cache<'a> {
    /// Finds, creates and checks the cache directory. Never fails: a cache that cannot be used
    /// is off for this run, with one warning.
    pub fn open(settings: &CacheSettings, log: &'a Log) -> Cache<'a> {
        let mut cache = Cache {
            dir: None,
            margin: settings.margin,
            lock_timeout: settings.lock_timeout,
            log,
            warned: Cell::new(false),
        };
        let Some(dir) = settings.dir.clone() else {
            log.verbose(format_args!(
                "no HOME, XDG_CACHE_HOME or MFAROLE_CACHE_DIR: running without cache"
            ));
            return cache;
        };
        match trust::prepare_dir(&dir) {
            Ok(()) => cache.dir = Some(dir),
            Err(why) => cache.warn(format_args!("not using the cache {}: {why}", dir.display())),
        }
        cache
    }

    /// A cache in `dir` with the default margin and a short lock wait, for unit tests.
    #[cfg(test)]
    pub(crate) fn for_tests(dir: &std::path::Path, log: &'a Log) -> Cache<'a> {
        Cache::open(
            &CacheSettings {
                dir: Some(dir.to_path_buf()),
                margin: Duration::from_secs(300),
                lock_timeout: Duration::from_millis(200),
            },
            log,
        )
    }

    pub fn margin(&self) -> Duration {
        self.margin
    }

    /// The run's log, for the parts of a run that report what the cache held.
    pub fn log(&self) -> &Log {
        self.log
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
        self.fresh(key, now, since, true)
    }

    /// [`Cache::get_fresh`] without the `-v` line about an entry too close to its expiry: for
    /// a second look at a step once its lock is held (the first look said it).
    pub fn get_fresh_again(
        &self,
        key: &str,
        now: OffsetDateTime,
        since: Option<std::time::SystemTime>,
    ) -> Option<Issued> {
        self.fresh(key, now, since, false)
    }

    fn fresh(
        &self,
        key: &str,
        now: OffsetDateTime,
        since: Option<std::time::SystemTime>,
        say: bool,
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
        if expires - self.margin > now {
            Some(issued)
        } else {
            if !say {
                return None;
            }
            self.log.verbose(format_args!(
                "cached credentials expire at {} (within the {}s margin): getting new ones",
                show_time(expires),
                self.margin.as_secs()
            ));
            None
        }
    }

    /// The cached credentials for `key`, fresh or not; `None` when absent or untrusted.
    pub fn get(&self, key: &str) -> Option<Issued> {
        let path = self.path(key, "cred")?;
        match entry::read_entry(&path, key) {
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

    /// The durations (`dur=N` of the keys) of the entries here: `list` plans each profile with
    /// them too, to show the sessions that runs with `-d` made. Reads every entry: not for
    /// the cached path.
    pub fn durations(&self) -> std::collections::BTreeSet<u32> {
        let mut found = std::collections::BTreeSet::new();
        let Some(entries) = self.dir.as_ref().and_then(|d| fs::read_dir(d).ok()) else {
            return found;
        };
        for entry in entries.filter_map(|e| e.ok()) {
            let name = entry.file_name();
            let ours = name
                .to_str()
                .is_some_and(|n| n.ends_with(".cred") && !n.starts_with('.'));
            let Some(key) = ours.then(|| entry::read_key(&entry.path())).flatten() else {
                continue;
            };
            found.extend(
                key.split(' ')
                    .filter_map(|w| w.strip_prefix("dur=")?.parse::<u32>().ok()),
            );
        }
        found
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
        if let Err(e) = entry::write_entry(&path, key, issued) {
            self.warn(format_args!(
                "cannot write cache file {}: {}",
                path.display(),
                crate::error::io_text(&e)
            ));
        }
    }

    /// Removes the entries of `keys`, or every entry when `keys` is `None`, with their failure
    /// markers, any temporary copy a killed writer left, and their lock files (without keys:
    /// every lock file, and the notes of codes sent). A lock file that a running mfarole holds
    /// stays: see [`lock::remove_if_free`] for why removing the others is safe.
    pub fn clear(&self, keys: Option<&[String]>) -> Result<Cleared> {
        let mut cleared = Cleared::default();
        let Some(dir) = &self.dir else {
            return Ok(cleared);
        };
        let names: Vec<String> = fs::read_dir(dir)
            .map_err(|e| Error::io(format!("cannot list {}", dir.display()), e))?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        // A profile's files, and the temporary copies a killed writer left of them.
        let stem = |k: &String| format!("{:016x}.", fnv1a(k));
        let wanted = |name: &str| {
            let bare = name.strip_prefix('.').unwrap_or(name);
            keys.is_none_or(|keys| keys.iter().any(|k| bare.starts_with(&stem(k))))
        };
        let mut removed_entries = Vec::new();
        for name in names.iter().filter(|n| wanted(n) && is_ours(n)) {
            let path = dir.join(name);
            match fs::remove_file(&path) {
                Ok(()) if name.ends_with(".cred") => removed_entries.push(name.clone()),
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(format!("cannot remove {}", path.display()), e)),
            }
        }
        // The locks last: a step's lock goes once its entry has.
        for name in names.iter().filter(|n| wanted(n) && is_lock(n)) {
            let path = dir.join(name);
            match lock::remove_if_free(&path) {
                Ok(true) => cleared.locks += 1,
                Ok(false) => cleared.held += 1,
                Err(e) => self.log.verbose(format_args!(
                    "cannot remove {}: {}",
                    path.display(),
                    crate::error::io_text(&e)
                )),
            }
        }
        cleared.entries = removed_entries.len();
        cleared.keys = keys
            .unwrap_or_default()
            .iter()
            .filter(|k| removed_entries.contains(&format!("{}cred", stem(k))))
            .cloned()
            .collect();
        Ok(cleared)
    }
}

/// What [`Cache::clear`] removed.
#[derive(Debug, Default)]
pub struct Cleared {
    /// How many entries (cached credentials) went.
    pub entries: usize,
    /// Of the keys asked for, those whose entry went.
    pub keys: Vec<String>,
    /// Lock files removed.
    pub locks: usize,
    /// Lock files left because a running mfarole holds them.
    pub held: usize,
}

/// The files `clear` removes besides locks: entries, failure markers, a device's last code
/// (`.used`, [`codes`]: named for no step, so only `clear` without a profile removes it), and
/// the temporary copies of killed writers.
fn is_ours(name: &str) -> bool {
    name.ends_with(".cred")
        || name.ends_with(".fail")
        || name.ends_with(".used")
        || (name.starts_with('.') && name.ends_with(".tmp"))
}

/// A lock file of ours: `0123456789abcdef.lock`.
fn is_lock(name: &str) -> bool {
    name.strip_suffix(".lock")
        .is_some_and(|h| h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit()))
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
    use super::entry::read_entry;
    use super::trust::prepare_dir;
    use super::*;
    use crate::creds::Credentials;
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    use time::OffsetDateTime;

    fn issued(expires: OffsetDateTime) -> Issued {
        Issued {
            credentials: Credentials {
                access_key_id: "ASIAX".into(),
                secret_access_key: "sec/+=".into(),
                session_token: Some("tok".into()),
                expiration: Some(expires),
                account_id: None,
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

    fn at(dir: &std::path::Path, log: &Log) -> Cache<'static> {
        let log: &'static Log = Box::leak(Box::new(Log::new(log.is_verbose())));
        Cache::for_tests(dir, log)
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
        let cache = at(&dir, &log);
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
        let cleared = cache.clear(Some(&["soon".to_string()])).unwrap();
        assert_eq!(
            (cleared.entries, cleared.keys),
            (1, vec!["soon".to_string()])
        );
        assert!(cache.get("soon").is_none());
        assert_eq!(cache.clear(None).unwrap().entries, 1);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn readable_by_others_is_not_trusted() {
        let dir = tmpdir("perm");
        let log = Log::new(false);
        let cache = at(&dir, &log);
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
        let cache = at(&dir, &log);
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

    /// `clear` removes a lock file only while it holds it; a run that was waiting on that file
    /// then finds it gone and locks the file now at the path, so that no two runs hold the
    /// lock of one step at once (one on the old file, one on the new).
    #[test]
    fn a_lock_file_removed_by_clear_is_never_held_twice() {
        use std::os::unix::fs::MetadataExt;
        let dir = tmpdir("clearlock");
        let log = Log::new(false);
        let cache = at(&dir, &log);
        let path = cache.path("k", "lock").unwrap();
        // Held: clear leaves it.
        let held = cache.lock("k").unwrap().unwrap();
        let cleared = cache.clear(None).unwrap();
        assert_eq!((cleared.locks, cleared.held), (0, 1));
        assert!(path.exists());
        // A run waiting on it (another thread, as another process would).
        let waiter = std::thread::spawn({
            let dir = dir.clone();
            move || {
                let log = Log::new(false);
                let cache = Cache::open(
                    &CacheSettings {
                        dir: Some(dir),
                        margin: Duration::from_secs(300),
                        lock_timeout: Duration::from_secs(10),
                    },
                    &log,
                );
                let lock = cache.lock("k").unwrap().unwrap();
                let ino = lock._file.metadata().unwrap().ino();
                let at_path = fs::metadata(cache.path("k", "lock").unwrap())
                    .unwrap()
                    .ino();
                (ino, at_path, lock.waited)
            }
        });
        std::thread::sleep(Duration::from_millis(200));
        // What clear does, while the waiter waits on the same file: lock, unlink, release.
        drop(held);
        let removed = lock::remove_if_free(&path).unwrap();
        let (ino, at_path, waited) = waiter.join().unwrap();
        // Whichever came first, the waiter holds the file that is at the path.
        assert_eq!(ino, at_path, "removed first: {removed}");
        assert!(waited);
        // Free: clear removes it, and leaves no lock file behind.
        let cleared = cache.clear(None).unwrap();
        assert_eq!((cleared.locks, cleared.held), (1, 0));
        assert!(!path.exists());
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

//! The private directory of an `exec --server` run: mode 0700 under the temporary directory,
//! holding the token file and the child's config files (0600), removed when the command ends.
//!
//! A run killed before its end (SIGKILL, an abort) cannot remove it, and its token file stayed
//! behind. So each run holds an advisory lock on its directory for as long as it lives (the
//! kernel drops it when the process ends, however it ends), and every new run first removes
//! the directories of ours whose lock it can take: their run is gone. This works across pid
//! namespaces, where a pid in the name would not. A directory is left alone for a minute after
//! it was made (its run may not have locked it yet), and one of an older build, which holds no
//! lock, for a day (its run may still be alive).

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};

/// The names of the directories of this build; older builds named theirs `mfarole-server-HEX`.
const PREFIX: &str = "mfarole-server-v2-";
const OLD_PREFIX: &str = "mfarole-server-";
/// Younger than this, a directory may be one whose run has not locked it yet.
const MIN_AGE: Duration = Duration::from_secs(60);
/// Younger than this, a directory of an older build (no lock) may be one whose run lives.
const MIN_AGE_OLD: Duration = Duration::from_secs(24 * 3600);

pub struct PrivateDir {
    dir: PathBuf,
    pub token_file: PathBuf,
    pub config: PathBuf,
    pub credentials: PathBuf,
    /// The directory itself, locked for the life of the run.
    _lock: File,
}

impl PrivateDir {
    /// Sweeps what killed runs left, then makes this run's directory and its files.
    pub fn create(token: &str, region: Option<&str>) -> Result<PrivateDir> {
        let base = std::env::temp_dir();
        sweep(&base);
        let name =
            super::http::random_hex(8).map_err(|e| Error::io("cannot make a random name", e))?;
        let dir = base.join(format!("{PREFIX}{name}"));
        DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        let lock = open_dir(&dir).and_then(|f| f.try_lock().map(|()| f).map_err(Into::into));
        let lock = match lock {
            Ok(f) => f,
            Err(e) => {
                let _ = std::fs::remove_dir(&dir);
                return Err(Error::io(format!("cannot lock {}", dir.display()), e));
            }
        };
        let made = PrivateDir {
            token_file: dir.join("token"),
            config: dir.join("config"),
            credentials: dir.join("credentials"),
            dir,
            _lock: lock,
        };
        let config = match region {
            Some(r) => format!("[default]\nregion = {r}\n"),
            None => "[default]\n".to_string(),
        };
        for (path, text) in [
            (&made.token_file, token),
            (&made.config, config.as_str()),
            (&made.credentials, ""),
        ] {
            write_new(path, text)
                .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
        }
        Ok(made)
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn write_new(path: &Path, text: &str) -> std::io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)?;
    f.write_all(text.as_bytes())
}

/// A directory, never through a symlink.
fn open_dir(dir: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags((rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::DIRECTORY).bits() as i32)
        .open(dir)
}

/// Removes the private directories of ours that no living run holds (see the module's words).
/// Never fails: what cannot be removed stays.
fn sweep(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    let me = rustix::process::geteuid().as_raw();
    for entry in entries.filter_map(|e| e.ok()) {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let min_age = match () {
            () if name.starts_with(PREFIX) => MIN_AGE,
            () if name.starts_with(OLD_PREFIX) => MIN_AGE_OLD,
            () => continue,
        };
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let old = meta
            .modified()
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > min_age);
        if !meta.is_dir() || meta.uid() != me || !old {
            continue;
        }
        let Ok(dir) = open_dir(&path) else { continue };
        if dir.try_lock().is_ok() {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn aged(path: &Path, age: Duration) {
        open_dir(path)
            .unwrap()
            .set_modified(SystemTime::now() - age)
            .unwrap();
    }

    #[test]
    fn a_dead_runs_directory_goes_and_a_living_ones_stays() {
        let base = std::env::temp_dir().join(format!("mfarole-private-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        let mk = |name: &str, age: Duration| {
            let d = base.join(name);
            std::fs::create_dir(&d).unwrap();
            std::fs::write(d.join("token"), "t").unwrap();
            aged(&d, age);
            d
        };
        let hour = Duration::from_secs(3600);
        let dead = mk("mfarole-server-v2-dead", hour);
        let living = mk("mfarole-server-v2-living", hour);
        let held = open_dir(&living).unwrap();
        held.lock().unwrap();
        let young = mk("mfarole-server-v2-young", Duration::ZERO);
        let old_build = mk("mfarole-server-0123456789abcdef", hour);
        let old_build_gone = mk("mfarole-server-fedcba9876543210", 2 * 24 * hour);
        let other = mk("not-ours", 2 * 24 * hour);
        sweep(&base);
        assert!(!dead.exists() && !old_build_gone.exists());
        assert!(living.exists() && young.exists() && old_build.exists() && other.exists());
        drop(held);
        std::fs::remove_dir_all(&base).unwrap();
    }
}

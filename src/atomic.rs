//! The one way mfarole writes a file: its cache entries and failure markers, and the AWS CLI's
//! SSO token file when a refresh rotates it.
//!
//! Written to a new temporary name beside the target (`O_CREAT|O_EXCL|O_NOFOLLOW`, the mode
//! set exactly, whatever the umask), synced, then renamed over it: a reader sees the old file
//! or the new one, never half of one, and a symlink planted at the target is replaced, not
//! followed. The temporary name is `.NAME.PID.tmp`, which the cache's sweep recognises when a
//! writer was killed between writing and renaming.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Replaces `path` with `bytes`, atomically, as a file of exactly `mode` (at most `0600`: a
/// file mfarole writes holds secrets).
pub fn write_private(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let tmp = temporary_name(path);
    let _ = fs::remove_file(&tmp);
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(no_follow())
            .open(&tmp)?;
        // The mode given to open is filtered by the umask; make it exact.
        file.set_permissions(fs::Permissions::from_mode(mode & 0o600))?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// `.NAME.PID.tmp` beside `path`.
pub fn temporary_name(path: &Path) -> PathBuf {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("entry");
    dir.join(format!(".{name}.{}.tmp", std::process::id()))
}

/// `O_NOFOLLOW | O_NONBLOCK`: never through a symlink, never blocked by a FIFO.
pub fn no_follow() -> i32 {
    (rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits() as i32
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn replaces_a_symlink_and_sets_the_mode_exactly() {
        let dir = std::env::temp_dir().join(format!("mfarole-atomic-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let victim = dir.join("victim");
        fs::write(&victim, "keep").unwrap();
        let target = dir.join("entry");
        std::os::unix::fs::symlink(&victim, &target).unwrap();
        write_private(&target, b"new", 0o644).unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep");
        let meta = fs::symlink_metadata(&target).unwrap();
        assert!(meta.is_file());
        assert_eq!(meta.mode() & 0o777, 0o600, "never more than 0600");
        assert_eq!(fs::read(&target).unwrap(), b"new");
        assert!(!temporary_name(&target).exists());
        fs::remove_dir_all(&dir).unwrap();
    }
}

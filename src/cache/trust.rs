//! Whether the cache directory and a file in it can be trusted: the directory is the user's
//! and not writable by others, no symlink on the way belongs to someone else, and a file is a
//! regular file of the user's that no one else can read. Anything else is not used.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use crate::atomic::no_follow;

/// Creates the directory (0700) when missing, and checks it.
pub fn prepare_dir(dir: &Path) -> std::result::Result<(), String> {
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

/// Opens a file of ours in the cache directory without following a symlink, and checks that
/// it is a regular file of the user's that no one else can read. `Ok(None)`: no file.
/// `Err`: a file that must not be trusted.
pub fn open_ours(path: &Path) -> std::result::Result<Option<(File, u64)>, String> {
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(no_follow())
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

//! Reading a token file that another program writes: the web identity token
//! (`web_identity_token_file`, `AWS_WEB_IDENTITY_TOKEN_FILE`), the container endpoint's
//! `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`, and the AWS CLI's SSO token cache file.
//!
//! Why one reader with these rules: each once read its file with `read_to_string`, which a FIFO
//! blocks forever (holding the step's lock, so every waiting run blocked behind it), which reads
//! `/dev/zero` until memory runs out, and which read a 100 MB file and sent it on. Here the file
//! is opened without blocking, must be a regular file, and is read up to a limit, with an error
//! that says which of these it broke. Symlinks are followed (Kubernetes mounts tokens through
//! them); the caller judges the owner of what was opened. A writer that rewrites its file in
//! place (truncate, then write) leaves it empty for an instant: a token that is empty or does
//! not parse is read once more before it is an error, so that the runs that met that instant do
//! not all fail.

use std::fs::{File, Metadata, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::Duration;

/// How long to wait before reading a token file a second time.
const PAUSE: Duration = Duration::from_millis(50);

/// Who may own a token file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// Anyone: the file is given by the platform (a Kubernetes projected volume is root's).
    Anyone,
    /// The user only: the file holds a login of the user's own (the SSO token cache).
    Me,
}

/// Why a token file cannot be used; each says it after the file's name.
#[derive(Debug)]
pub enum Problem {
    Missing,
    Io(std::io::Error),
    /// A FIFO, a device, a directory.
    NotRegular,
    /// Longer than the limit, in bytes.
    TooLarge(u64),
    /// Owned by another user, where [`Owner::Me`] was asked.
    Foreign {
        uid: u32,
        through_symlink: bool,
    },
    /// The caller's parse said no (twice): its words.
    Bad(String),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Missing => f.write_str("cannot be read: it does not exist"),
            Problem::Io(e) => write!(f, "cannot be read: {}", crate::error::io_text(e)),
            Problem::NotRegular => f.write_str(
                "is not a regular file (a FIFO, a device or a directory cannot be a token file)",
            ),
            Problem::TooLarge(limit) => write!(
                f,
                "is larger than {limit} bytes, more than any token; check that it is the token file"
            ),
            Problem::Foreign {
                uid,
                through_symlink: false,
            } => write!(f, "belongs to uid {uid}, not to you"),
            Problem::Foreign {
                uid,
                through_symlink: true,
            } => write!(f, "is a symlink to a file of uid {uid}, not to you"),
            Problem::Bad(why) => f.write_str(why),
        }
    }
}

/// The file as messages name it: cleaned and cut.
pub fn shown(path: &Path) -> String {
    crate::error::clean(&path.display().to_string(), 200)
}

/// Reads `path` and gives its bytes to `parse`; when that fails (an empty or half-written
/// token), reads it once more after a moment.
pub fn read_parsed<T>(
    path: &Path,
    limit: u64,
    owner: Owner,
    parse: impl Fn(&[u8]) -> Result<T, String>,
) -> Result<T, Problem> {
    let first = read(path, limit, owner)?;
    if let Ok(parsed) = parse(&first) {
        return Ok(parsed);
    }
    std::thread::sleep(PAUSE);
    parse(&read(path, limit, owner)?).map_err(Problem::Bad)
}

/// The whole file at `path`: opened without blocking, a regular file of `owner`'s, at most
/// `limit` bytes.
pub fn read(path: &Path, limit: u64, owner: Owner) -> Result<Vec<u8>, Problem> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags((rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY).bits() as i32)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Problem::Missing,
            _ => Problem::Io(e),
        })?;
    let meta = file.metadata().map_err(Problem::Io)?;
    check(path, &meta, limit, owner)?;
    read_limited(&file, limit)
}

fn check(path: &Path, meta: &Metadata, limit: u64, owner: Owner) -> Result<(), Problem> {
    if !meta.is_file() {
        return Err(Problem::NotRegular);
    }
    if owner == Owner::Me && meta.uid() != rustix::process::geteuid().as_raw() {
        let through_symlink = std::fs::symlink_metadata(path).is_ok_and(|m| m.is_symlink());
        return Err(Problem::Foreign {
            uid: meta.uid(),
            through_symlink,
        });
    }
    if meta.len() > limit {
        return Err(Problem::TooLarge(limit));
    }
    Ok(())
}

/// At most `limit` bytes; one more means the file grew past it.
fn read_limited(file: &File, limit: u64) -> Result<Vec<u8>, Problem> {
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(Problem::Io)?;
    if bytes.len() as u64 > limit {
        return Err(Problem::TooLarge(limit));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("mfarole-token-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn text(b: &[u8]) -> Result<String, String> {
        let t = std::str::from_utf8(b).map_err(|_| "is not text".to_string())?;
        match t.trim() {
            "" => Err("is empty".into()),
            t => Ok(t.to_string()),
        }
    }

    #[test]
    fn a_fifo_a_device_and_a_huge_file_are_refused_at_once() {
        let d = dir("kinds");
        let fifo = d.join("fifo");
        rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, rustix::fs::Mode::from(0o600)).unwrap();
        let started = std::time::Instant::now();
        let e = read(&fifo, 100, Owner::Anyone).unwrap_err();
        assert!(matches!(e, Problem::NotRegular), "{e}");
        let e = read(Path::new("/dev/zero"), 100, Owner::Anyone).unwrap_err();
        assert!(matches!(e, Problem::NotRegular), "{e}");
        assert!(started.elapsed() < Duration::from_secs(1));
        let big = d.join("big");
        File::create(&big).unwrap().set_len(100 << 20).unwrap();
        let e = read(&big, 64 * 1024, Owner::Anyone).unwrap_err();
        assert_eq!(
            e.to_string(),
            "is larger than 65536 bytes, more than any token; check that it is the token file"
        );
        assert!(matches!(
            read(&d.join("none"), 100, Owner::Anyone),
            Err(Problem::Missing)
        ));
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn a_symlink_is_followed_to_a_file_of_the_users() {
        let d = dir("link");
        std::fs::write(d.join("target"), "tok\n").unwrap();
        std::os::unix::fs::symlink(d.join("target"), d.join("link")).unwrap();
        assert_eq!(read(&d.join("link"), 100, Owner::Me).unwrap(), b"tok\n");
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn a_token_rewritten_in_place_is_read_again() {
        let d = dir("again");
        let path = d.join("token");
        std::fs::write(&path, "").unwrap();
        // The writer has truncated the file and writes the token a moment later.
        let writer = {
            let path = path.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(10));
                std::fs::write(&path, "eyJ.token\n").unwrap();
            })
        };
        let token = read_parsed(&path, 100, Owner::Anyone, text).unwrap();
        assert_eq!(token, "eyJ.token");
        writer.join().unwrap();
        std::fs::write(&path, " \n").unwrap();
        let e = read_parsed(&path, 100, Owner::Anyone, text).unwrap_err();
        assert_eq!(e.to_string(), "is empty");
        std::fs::remove_dir_all(d).unwrap();
    }
}

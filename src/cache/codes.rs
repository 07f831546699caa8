//! What mfarole remembers of the MFA codes it sent, per device, so that a code STS has just
//! taken is not sent again: STS takes each code once, and a time-based `mfa_process` run
//! again within the same 30 seconds (`mfarole exec -d 2h` right after another run) gives the
//! same code. The code source ([`crate::mfa::CodeSource`]) asks before sending and tells after.
//!
//! Per device (its `mfa_serial`), one small file `HASH.used`: the device, a digest of the last
//! code sent and when (Unix seconds). Never the code: a million codes are tried in a moment, so
//! a plain hash would give it away; the digest is keyed with the secret of the keys that sign
//! the request that carries the code, which the cache never holds. Written as every file here
//! is ([`crate::atomic`]), read with the same trust checks; anything unexpected counts as "not
//! used". The device's lock (`HASH.lock`) makes two runs that need a code of the same device at
//! once (two steps, each with its own code) ask one after the other, so that the second sees
//! the first's code and waits for the next one instead of sending it.

use std::io::Read;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::atomic::write_private;
use crate::error::Result;
use crate::mfa::{Code, CodeMemory};

use super::Cache;
use super::lock::Lock;
use super::trust::open_ours;

const MAGIC: &str = "mfarole-mfa-used v1";
/// How long a code counts as just used: its own 30-second period, and one on each side for a
/// generator whose clock is off by a little (STS accepts such codes too).
const JUST_USED: Duration = Duration::from_secs(90);

/// The codes sent for one device, kept in a cache.
pub struct UsedCodes<'c> {
    cache: &'c Cache<'c>,
    serial: String,
    /// What keys the digest: the signing secret (never written anywhere).
    secret: String,
}

impl std::fmt::Debug for UsedCodes<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsedCodes")
            .field("serial", &self.serial)
            .finish_non_exhaustive()
    }
}

impl Cache<'_> {
    /// The memory of the codes of device `serial`, sent in requests signed with `secret`.
    pub fn used_codes<'s>(&'s self, serial: &str, secret: &str) -> UsedCodes<'s> {
        UsedCodes {
            cache: self,
            serial: serial.to_string(),
            secret: secret.to_string(),
        }
    }
}

impl UsedCodes<'_> {
    /// The name of the device's files: its own, beside the steps' (`HASH.used`, `HASH.lock`).
    fn key(&self) -> String {
        format!("mfa device\n{}", self.serial)
    }

    /// Waits for the device's lock, held while a code is got, sent and noted.
    pub fn lock(&self) -> Result<Option<Lock>> {
        self.cache.lock(&self.key())
    }

    /// The keyed digest of `code`: SHA-256 over a label of mfarole's, the secret, the device
    /// and the code, cut to 128 bits.
    fn digest(&self, code: &Code) -> String {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(b"mfarole: an MFA code sent, v1\0");
        h.update((self.secret.len() as u64).to_be_bytes());
        h.update(self.secret.as_bytes());
        h.update(b"\0");
        h.update(self.serial.as_bytes());
        h.update(b"\0");
        h.update(code.as_str().as_bytes());
        h.finalize()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The digest, time and refusal that the device's file holds, when it is ours and whole.
    fn read(&self) -> Option<(String, u64, bool)> {
        let path = self.cache.path(&self.key(), "used")?;
        let (file, _) = open_ours(&path).ok()??;
        let mut text = String::new();
        (&file).take(4096).read_to_string(&mut text).ok()?;
        parse(&text, &self.serial)
    }
}

impl UsedCodes<'_> {
    /// Whether the file notes `code` within [`JUST_USED`], and whether STS refused it.
    fn recent(&self, code: &Code) -> Option<bool> {
        let (digest, at, refused) = self.read()?;
        let now = unix_now();
        let recent = now.saturating_sub(at) < JUST_USED.as_secs() && at <= now + 5;
        (recent && digest == self.digest(code)).then_some(refused)
    }

    fn note(&self, code: &Code, refused: bool) {
        let Some(path) = self.cache.path(&self.key(), "used") else {
            return;
        };
        let text = format!(
            "{MAGIC}\ndevice {}\ndigest {}\nat {}\n{}",
            crate::error::clean(&self.serial, 2048),
            self.digest(code),
            unix_now(),
            if refused { "refused\n" } else { "" }
        );
        if let Err(e) = write_private(&path, text.as_bytes(), 0o600) {
            self.cache.log.verbose(format_args!(
                "cannot write {}: {}",
                path.display(),
                crate::error::io_text(&e)
            ));
        }
    }
}

impl CodeMemory for UsedCodes<'_> {
    fn just_used(&self, code: &Code) -> bool {
        self.recent(code) == Some(false)
    }

    fn just_refused(&self, code: &Code) -> bool {
        self.recent(code) == Some(true)
    }

    fn sent(&self, code: &Code) {
        self.note(code, false);
    }

    fn refused(&self, code: &Code) {
        self.note(code, true);
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The file's digest, time and whether STS refused the code, when it is whole and for
/// `serial`.
fn parse(text: &str, serial: &str) -> Option<(String, u64, bool)> {
    let mut lines = text.lines();
    if lines.next() != Some(MAGIC) {
        return None;
    }
    let device = lines.next()?.strip_prefix("device ")?;
    let digest = lines.next()?.strip_prefix("digest ")?;
    let at = lines.next()?.strip_prefix("at ")?.parse().ok()?;
    let refused = match lines.next() {
        None => false,
        Some("refused") => true,
        Some(_) => return None,
    };
    let whole = lines.next().is_none()
        && device == crate::error::clean(serial, 2048)
        && digest.len() == 32
        && digest.bytes().all(|b| b.is_ascii_hexdigit());
    whole.then(|| (digest.to_string(), at, refused))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::Log;
    use crate::mfa::parse_code;

    fn cache_in(dir: &std::path::Path, log: &'static Log) -> Cache<'static> {
        Cache::for_tests(dir, log)
    }

    #[test]
    fn a_code_sent_is_known_by_its_keyed_digest_only() {
        let dir = std::env::temp_dir().join(format!("mfarole-codes-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let log: &'static Log = Box::leak(Box::new(Log::default()));
        let cache = cache_in(&dir, log);
        let serial = "arn:aws:iam::1:mfa/jones";
        let used = cache.used_codes(serial, "secret-one");
        let (a, b) = (parse_code("123456").unwrap(), parse_code("654321").unwrap());
        assert!(!used.just_used(&a));
        used.sent(&a);
        assert!(used.just_used(&a));
        assert!(!used.just_used(&b));
        // Another device, or the same device with other keys: nothing known.
        assert!(
            !cache
                .used_codes("arn:aws:iam::1:mfa/smith", "secret-one")
                .just_used(&a)
        );
        assert!(!cache.used_codes(serial, "secret-two").just_used(&a));
        // The file holds neither the code nor the secret, and is private.
        let file = cache.path(&used.key(), "used").unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            !text.contains("123456") && !text.contains("secret-one"),
            "{text}"
        );
        use std::os::unix::fs::MetadataExt;
        assert_eq!(std::fs::metadata(&file).unwrap().mode() & 0o777, 0o600);
        // An old note is not "just used"; a damaged one is nothing.
        let at_line = text.lines().find(|l| l.starts_with("at ")).unwrap();
        let at: u64 = at_line[3..].parse().unwrap();
        let old = text.replace(at_line, &format!("at {}", at - 91));
        std::fs::write(&file, &old).unwrap();
        assert!(!used.just_used(&a));
        std::fs::write(&file, &text[..text.len() - 4]).unwrap();
        assert!(!used.just_used(&a));
        // `clear` of a profile's steps leaves it; `clear` of everything removes it.
        used.sent(&a);
        cache.clear(Some(&["a step".to_string()])).unwrap();
        assert!(used.just_used(&a));
        cache.clear(None).unwrap();
        assert!(!file.exists());
        // A code STS called wrong is noted as refused.
        used.sent(&a);
        assert!(!used.just_refused(&a));
        used.refused(&a);
        assert!(!used.just_used(&a) && used.just_refused(&a) && !used.just_refused(&b));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

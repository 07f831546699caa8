//! The format of one cache entry: a magic line, then `name value` lines (`key`,
//! `access_key_id`, `secret_access_key`, `session_token`, `expiration`, and the optional `arn`
//! and `account_id`). The full
//! cache key is stored inside and compared on read, so a hash collision is a miss, not a
//! leak. Any deviation is damage, and a damaged entry is not used.

use std::io::Read;
use std::path::Path;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::creds::{Credentials, Issued};

use super::trust::open_ours;

const MAGIC: &str = "mfarole-cache v1";
const MAX_FILE: u64 = 64 * 1024;

/// Reads and checks one entry. `Ok(None)`: no file. `Err`: a file that must not be trusted.
pub fn read_entry(path: &Path, key: &str) -> std::result::Result<Option<Issued>, String> {
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

/// The cache key an entry holds, when it is a trusted file of ours (for `list`, which looks
/// for sessions made with another `-d`).
pub fn read_key(path: &Path) -> Option<String> {
    let (file, _) = open_ours(path).ok()??;
    let mut text = String::new();
    (&file).take(MAX_FILE).read_to_string(&mut text).ok()?;
    let mut lines = text.lines();
    if lines.next() != Some(MAGIC) {
        return None;
    }
    lines.find_map(|l| l.strip_prefix("key ").map(str::to_string))
}

/// The entry format: a magic line, then `name value` lines. Any deviation is damage.
pub fn parse_entry(text: &str, key: &str) -> std::result::Result<Issued, String> {
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
            account_id: match field("account_id") {
                Ok(a) if crate::creds::is_account_id(&a) => Some(a),
                Ok(_) => return Err("damaged (bad account_id)".into()),
                // Written before mfarole stored it: the role's ARN still tells.
                Err(_) => field("arn")
                    .ok()
                    .and_then(|a| crate::creds::account_of_arn(&a)),
            },
        },
        arn: field("arn").ok(),
    })
}

pub fn format_entry(key: &str, issued: &Issued) -> std::io::Result<String> {
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
    .chain(c.account_id.as_deref().map(|a| ("account_id", a)))
    {
        if value.is_empty() || value.chars().any(char::is_control) {
            return Err(bad());
        }
        text.push_str(&format!("{name} {value}\n"));
    }
    Ok(text)
}

pub fn write_entry(path: &Path, key: &str, issued: &Issued) -> std::io::Result<()> {
    crate::atomic::write_private(path, format_entry(key, issued)?.as_bytes(), 0o600)
}

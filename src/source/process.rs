//! `credential_process`: a command (split into words as botocore splits it, and run without a
//! shell) whose stdout is the Version 1 JSON. Its stdout is never shown: on failure the error
//! gives its exit status and the first line of its stderr. Its stdin is ours, so that a secret
//! store that asks for a passphrase on the terminal can. `MFAROLE_CREDENTIAL_PROCESS` lists the
//! profiles whose process is running, so that a process that is mfarole itself for the same
//! profile ends at once instead of recursing. Bounded by `MFAROLE_CREDENTIAL_PROCESS_TIMEOUT`.
//! Its output is cached only when it says when it expires; long-term keys never touch the disk.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use time::OffsetDateTime;

use crate::creds::Issued;
use crate::error::{Error, Result};
use crate::profile::Profile;
use crate::settings::RUNNING;

use super::{Fetch, Lookup, Provider, Source};

/// `credential_process`: the command line as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub command: String,
}

pub fn own(profile: &Profile, _: &Lookup) -> Result<Option<Source>> {
    Ok(profile.get("credential_process").map(|command| {
        Source::Process(Process {
            command: command.to_string(),
        })
    }))
}

impl Provider for Process {
    fn kind(&self) -> &'static str {
        "credential_process"
    }

    /// A secret store may hold long-term keys, with `mfa_serial` for GetSessionToken on top.
    fn may_be_long_term(&self) -> bool {
        true
    }

    fn call(&self) -> &'static str {
        "credential_process"
    }

    fn reason(&self) -> String {
        "credential_process: its output is cached only when it says when it expires".into()
    }

    fn cache_key(&self, profile: &str, _: &str) -> String {
        format!("v1 process profile={profile} cmd={}", self.command)
    }

    fn fetch(&self, ctx: &Fetch) -> Result<Issued> {
        run(
            &self.command,
            ctx.profile,
            &ctx.settings.outer.running_processes,
            ctx.settings.credential_process_timeout,
            ctx.fail("credential_process"),
        )
    }
}

fn run(
    cmd: &str,
    profile: &str,
    running: &[String],
    timeout: Duration,
    fail: impl Fn(String) -> Error,
) -> Result<Issued> {
    let words = split_command(cmd).map_err(|why| fail(why.to_string()))?;
    let Some((program, args)) = words.split_first() else {
        return Err(fail("is empty".into()));
    };
    let running: Vec<&str> = running
        .iter()
        .map(String::as_str)
        .chain([profile])
        .collect();
    let running = running.join(",");
    let mut child = Command::new(program)
        .args(args)
        .env(RUNNING, running)
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| {
            fail(format!(
                "cannot start {}: {}",
                crate::error::clean(program, 60),
                crate::error::io_text(&e)
            ))
        })?;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = (&mut stdout).take(256 * 1024).read_to_end(&mut v);
        v
    });
    let err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = (&mut stderr).take(64 * 1024).read_to_end(&mut v);
        v
    });
    let status = match crate::child::wait_bounded(&mut child, timeout, true) {
        Ok(crate::child::Waited::Exited(status)) => status,
        Ok(crate::child::Waited::TimedOut) => {
            return Err(fail(format!(
                "gave no answer within {}s (MFAROLE_CREDENTIAL_PROCESS_TIMEOUT)",
                timeout.as_secs()
            )));
        }
        Err(e) => return Err(fail(format!("failed: {}", crate::error::io_text(&e)))),
    };
    let out = out.join().unwrap_or_default();
    let err = err.join().unwrap_or_default();
    answer(status, &out, &err).map_err(fail)
}

/// The process's answer: its status, then its stdout as the Version 1 JSON. Its stdout is
/// never shown; a failure shows the first line of its stderr.
fn answer(
    status: std::process::ExitStatus,
    out: &[u8],
    err: &[u8],
) -> std::result::Result<Issued, String> {
    if !status.success() {
        let how = crate::child::how_it_ended(status);
        let first = String::from_utf8_lossy(err)
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map(|l| crate::error::clean(l, 160))
            .unwrap_or_default();
        return Err(if first.is_empty() {
            format!("{how} (it printed nothing on stderr)")
        } else {
            format!("{how}: {first}")
        });
    }
    let version = serde_json::from_slice::<serde_json::Value>(out)
        .ok()
        .and_then(|v| v.get("Version").cloned());
    if version != Some(serde_json::Value::from(1)) {
        return Err(format!(
            "printed {} bytes that are not the Version 1 JSON credential_process gives",
            out.len()
        ));
    }
    let credentials = super::parse_credentials(out, OffsetDateTime::now_utc())?;
    Ok(Issued {
        credentials,
        arn: None,
    })
}

/// Splits a command line into words as botocore does (POSIX shell quoting, no expansion):
/// `'...'` literal, `"..."` with `\"`, `\\`, `\$` and `` \` `` escapes, `\x` outside quotes.
pub fn split_command(cmd: &str) -> std::result::Result<Vec<String>, &'static str> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = cmd.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("has an unclosed ' quote"),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some('\n') => {}
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("has an unclosed \" quote"),
                        },
                        Some(c) => word.push(c),
                        None => return Err("has an unclosed \" quote"),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('\n') => {}
                    Some(c) => word.push(c),
                    None => return Err("ends with a lone backslash"),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_split_like_a_posix_shell_without_expansion() {
        let w = |s: &str| split_command(s).unwrap();
        assert_eq!(w("pass show aws/jones"), ["pass", "show", "aws/jones"]);
        assert_eq!(w(r#"sh -c 'echo "$X"'"#), ["sh", "-c", r#"echo "$X""#]);
        assert_eq!(w(r#"a "b c" d\ e"#), ["a", "b c", "d e"]);
        assert_eq!(w(r#""a\"b\\c\$d\n""#), [r#"a"b\c$d\n"#]);
        assert_eq!(w("  a   b  "), ["a", "b"]);
        assert_eq!(w("''"), [""]);
        assert!(w("").is_empty());
        assert!(split_command("a 'b").is_err());
        assert!(split_command("a \"b").is_err());
        assert!(split_command("a \\").is_err());
    }
}

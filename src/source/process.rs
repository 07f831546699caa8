//! `credential_process`: a command (split into words as botocore splits it, Python's
//! `shlex.split`, and run without a shell) whose stdout is the Version 1 JSON. Its stdout is never shown: on failure the error
//! gives its exit status and the first line of its stderr. Its stdin is ours, so that a secret
//! store that asks for a passphrase on the terminal can. `MFAROLE_CREDENTIAL_PROCESS` lists the
//! profiles whose process is running, so that a process that is mfarole itself for the same
//! profile ends at once instead of recursing. Bounded by `MFAROLE_CREDENTIAL_PROCESS_TIMEOUT`.
//! Its output is cached only when it says when it expires; long-term keys never touch the disk.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use time::OffsetDateTime;

use crate::child::Output;
use crate::creds::Issued;
use crate::error::{Error, Result};
use crate::profile::Profile;
use crate::settings::RUNNING;

use super::{Fetch, Lookup, Provider, Source};

/// The longest answer read: a Version 1 JSON is a few hundred bytes, a few KiB with a long
/// session token.
const ANSWER_LIMIT: usize = 256 * 1024;

/// `credential_process`: the command line as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub command: String,
    /// `aws_account_id` of the profile: the account when the answer gives no `AccountId`
    /// (botocore's `ProcessProvider._get_account_id`).
    pub account_id: Option<String>,
}

pub fn own(profile: &Profile, _: &Lookup) -> Result<Option<Source>> {
    let Some(command) = profile.get("credential_process") else {
        return Ok(None);
    };
    Ok(Some(Source::Process(Process {
        command: command.to_string(),
        account_id: super::keys::account_setting(profile, profile.get("aws_account_id"))?,
    })))
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
        let account = self.account_id.as_deref().map(|a| format!(" acct={a}"));
        format!(
            "v1 process profile={profile} cmd={}{}",
            self.command,
            account.unwrap_or_default()
        )
    }

    fn fetch(&self, ctx: &Fetch) -> Result<Issued> {
        let mut issued = run(
            &self.command,
            ctx.profile,
            &ctx.settings.outer.running_processes,
            ctx.settings.credential_process_timeout,
            ctx.fail("credential_process"),
        )?;
        let account = &mut issued.credentials.account_id;
        if account.is_none() {
            account.clone_from(&self.account_id);
        }
        Ok(issued)
    }
}

fn run(
    cmd: &str,
    profile: &str,
    running: &[String],
    timeout: Duration,
    fail: impl Fn(String) -> Error,
) -> Result<Issued> {
    let words = crate::shlex::split(cmd).map_err(|why| fail(why.to_string()))?;
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
    match crate::child::run_bounded(&mut child, timeout, true, ANSWER_LIMIT) {
        Ok(crate::child::Ended::Exited(output)) => answer(&output, &fail),
        Ok(crate::child::Ended::TimedOut) => Err(fail(format!(
            "gave no answer within {}s (MFAROLE_CREDENTIAL_PROCESS_TIMEOUT)",
            timeout.as_secs()
        ))),
        Err(e) => Err(fail(format!("failed: {}", crate::error::io_text(&e)))),
    }
}

/// The process's answer: its status, then its stdout as the Version 1 JSON. Its stdout is
/// never shown; a failure shows the first line of its stderr, after mfarole's own words (which
/// are all a failure marker keeps).
fn answer(output: &Output, fail: &impl Fn(String) -> Error) -> Result<Issued> {
    if output.stdout_over_limit {
        return Err(fail(format!(
            "printed an answer longer than the limit ({ANSWER_LIMIT} bytes); have it print only the Version 1 JSON"
        )));
    }
    if !output.status.success() {
        let how = crate::child::how_it_ended(output.status);
        let first = String::from_utf8_lossy(&output.stderr)
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map(|l| crate::error::clean(l, 160))
            .unwrap_or_default();
        return Err(if first.is_empty() {
            fail(format!("{how} (it printed nothing on stderr)"))
        } else {
            fail(how).quoting(first)
        });
    }
    let out = &output.stdout;
    // botocore compares with `!= 1`, so 1.0 is a Version 1 answer too.
    let version = serde_json::from_slice::<serde_json::Value>(out)
        .ok()
        .and_then(|v| v.get("Version").and_then(serde_json::Value::as_f64));
    if version != Some(1.0) {
        return Err(fail(format!(
            "printed {} bytes that are not the Version 1 JSON credential_process gives",
            out.len()
        )));
    }
    let credentials = super::parse_credentials(out, OffsetDateTime::now_utc()).map_err(fail)?;
    Ok(Issued {
        credentials,
        arn: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    fn output(code: i32, stdout: &str, stderr: &str) -> Output {
        Output {
            status: std::process::ExitStatus::from_raw(code << 8),
            stdout: stdout.as_bytes().to_vec(),
            stdout_over_limit: false,
            stderr: stderr.as_bytes().to_vec(),
        }
    }

    fn fail(message: String) -> Error {
        Error::Source {
            profile: "p".into(),
            what: "credential_process",
            message,
        }
    }

    #[test]
    fn version_one_may_be_written_as_a_float() {
        for version in ["1", "1.0"] {
            let json =
                format!(r#"{{"Version":{version},"AccessKeyId":"AKIA1","SecretAccessKey":"s"}}"#);
            assert!(answer(&output(0, &json, ""), &fail).is_ok(), "{version}");
        }
        for version in ["2", "\"1\"", "1.5"] {
            let json =
                format!(r#"{{"Version":{version},"AccessKeyId":"AKIA1","SecretAccessKey":"s"}}"#);
            assert!(answer(&output(0, &json, ""), &fail).is_err(), "{version}");
        }
    }

    #[test]
    fn a_long_answer_is_said_to_be_over_the_limit() {
        let mut long = output(0, "{", "");
        long.stdout_over_limit = true;
        let e = answer(&long, &fail).unwrap_err().to_string();
        assert!(e.contains("longer than the limit (262144 bytes)"), "{e}");
    }

    #[test]
    fn its_stderr_is_shown_but_is_not_mfaroles_own_words() {
        let e = answer(&output(3, "", "\nvault said: hunter2\nmore"), &fail).unwrap_err();
        assert_eq!(
            e.to_string(),
            "profile 'p': credential_process exited with status 3: vault said: hunter2"
        );
        assert_eq!(
            e.own_words(),
            "profile 'p': credential_process exited with status 3"
        );
        assert_eq!(e.code(), 125);
    }
}

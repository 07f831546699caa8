//! MFA codes: from `--mfa-token`, from the profile's `mfa_process`, or typed at a prompt on
//! the controlling terminal, first that applies.
//!
//! The prompt is written here rather than taken from `rpassword`, because rpassword answers
//! Ctrl-C by raising SIGINT while the terminal still has echo off, which leaves the user's shell
//! without echo. Here Ctrl-C restores the terminal first and then ends the run with 130. The
//! prompt talks to `/dev/tty`, never to stdin/stdout/stderr, so it works inside Make, pipes and
//! `credential_process`; with no terminal it fails at once instead of waiting.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use rustix::termios::{self, LocalModes, OptionalActions, SpecialCodeIndex};

use crate::error::{Error, Result};
use crate::log::Log;

/// The MFA device of a chain and how to get its codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaDevice {
    pub serial: String,
    /// `mfa_process`: a command whose stdout is the code.
    pub process: Option<String>,
    /// The profile that declares `mfa_serial`.
    pub profile: String,
}

/// A code, with a `Debug` that does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Code(String);

impl Code {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Code(<redacted>)")
    }
}

/// Where a code came from; only typed codes are asked for again when STS rejects them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Flag,
    Process,
    Prompt,
}

/// Checks that a code is six digits, before any request is made. The digits may be grouped
/// as authenticator apps show them, `123 456` or `123-456`: white space and hyphens between
/// digits are dropped.
pub fn parse_code(text: &str) -> Option<Code> {
    let t = text.trim();
    let digits: String = t
        .chars()
        .filter(|c| !(c.is_whitespace() || *c == '-'))
        .collect();
    let grouped = !t.starts_with('-') && !t.ends_with('-');
    (grouped && digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then_some(Code(digits))
}

/// What mfarole remembers of the codes it sent for one device, so that a code STS has just
/// taken is not sent again: STS takes each code once. The cache keeps it
/// (`src/cache/codes.rs`).
pub trait CodeMemory {
    /// Whether `code` is the one sent for this device moments ago (and not refused: it was
    /// taken, or may have been).
    fn just_used(&self, code: &Code) -> bool;
    /// Whether `code` is the one STS answered moments ago was wrong (or already used).
    fn just_refused(&self, code: &Code) -> bool;
    /// Notes that `code` is being sent and may be taken: written before the request goes, so
    /// that a run killed while it waits for STS (a signal, `make` stopped) has noted it.
    fn sent(&self, code: &Code);
    /// Notes that STS answered that `code` is wrong, so that a parallel run given the same
    /// code (`make -j8` with `-t`) does not send it again.
    fn refused(&self, code: &Code);
}

/// Gets codes for one device from the first source that applies.
pub struct CodeSource<'a> {
    pub device: &'a MfaDevice,
    pub flag: Option<&'a str>,
    pub process_timeout: Duration,
    /// The codes sent for this device before (none without a cache).
    pub memory: Option<&'a dyn CodeMemory>,
    /// Where a line saying that mfarole waits for the next code goes.
    pub log: &'a Log,
}

impl CodeSource<'_> {
    pub fn origin(&self) -> Origin {
        if self.flag.is_some() {
            Origin::Flag
        } else if self.device.process.is_some() {
            Origin::Process
        } else {
            Origin::Prompt
        }
    }

    /// Gets a code. `again` is why a typed code is asked for once more.
    pub fn get(&self, again: Option<&str>) -> Result<Code> {
        if let Some(flag) = self.flag {
            return parse_code(flag).ok_or_else(|| {
                Error::Usage("--mfa-token must be the 6-digit code your MFA device shows".into())
            });
        }
        if let Some(cmd) = &self.device.process {
            return run_process(cmd, &self.device.profile, self.process_timeout);
        }
        prompt(&self.device.serial, &self.device.profile, again)
    }
}

/// How many codes are typed in all when STS rejects them.
pub const PROMPT_ATTEMPTS: u32 = 3;
/// How many times a typed line that is not a code (a wrong length, a letter, nothing), or a
/// code that was just used, is asked for again without using an attempt: a stuck key must not
/// loop for ever.
pub const REASKS: u32 = 5;
/// How many times a time-based `mfa_process` that gives the code just used is waited for.
pub const PROCESS_WAITS: u32 = 2;
/// The life of a time-based code (RFC 6238's usual step): the next one comes at the next
/// multiple of it, in Unix time.
const TOTP_STEP: u64 = 30;

impl CodeSource<'_> {
    /// Makes `call` with a code, asking again (up to [`PROMPT_ATTEMPTS`] in all) when STS
    /// rejects a typed code as a wrong one. Codes from `--mfa-token` or `mfa_process` are not
    /// retried: the same source would give the same code. A code is remembered before it is
    /// sent ([`CodeMemory`]): whatever happens next (an answer, a 5xx, no answer, a signal
    /// that ends the run) it may have been taken; a code STS answers is wrong is noted so.
    pub fn with_code<T>(&self, mut call: impl FnMut(&Code) -> Result<T>) -> Result<T> {
        let mut again: Option<String> = None;
        let mut attempt = 1;
        loop {
            let retry = self.origin() == Origin::Prompt && attempt < PROMPT_ATTEMPTS;
            let next = format!("({}/{PROMPT_ATTEMPTS})", attempt + 1);
            let code = self.unused_code(again.take())?;
            if let Some(memory) = self.memory {
                memory.sent(&code);
            }
            let result = call(&code);
            if let (Some(memory), Err(Error::Sts(f))) = (self.memory, &result)
                && f.is_wrong_mfa_code()
            {
                memory.refused(&code);
            }
            again = match result {
                Err(Error::Sts(f)) if retry && f.is_wrong_mfa_code() => Some(format!(
                    "STS rejected the code ({}); enter the next code {next}",
                    crate::error::clean(&f.message, 120)
                )),
                other => return other,
            };
            attempt += 1;
        }
    }

    /// A code that is not the one sent moments ago: a typed line that is not a code, or a
    /// code just used, is asked for again ([`REASKS`] times at most); a time-based
    /// `mfa_process` that gives the code just used is run again when the next one is due
    /// ([`PROCESS_WAITS`] times at most). A code from `--mfa-token` is sent as it is.
    fn unused_code(&self, mut why: Option<String>) -> Result<Code> {
        let (mut reasks, mut waits) = (0, 0);
        loop {
            let code = match self.get(why.as_deref()) {
                Err(e @ Error::NotACode { .. }) if reasks < REASKS => {
                    reasks += 1;
                    why = Some(format!("{e}; type the 6 digits again"));
                    continue;
                }
                Err(e @ Error::NotACode { .. }) => {
                    return Err(Error::Mfa(format!(
                        "{e}, {} times; pass the code with --mfa-token, or set mfa_process",
                        REASKS + 1
                    )));
                }
                other => other?,
            };
            let (used, refused) = self.memory.map_or((false, false), |m| {
                (m.just_used(&code), m.just_refused(&code))
            });
            if !used && !refused {
                return Ok(code);
            }
            match self.origin() {
                // Sent as given, unless STS has just called it wrong (parallel runs with the
                // same `-t`, one after the other under the device's lock).
                Origin::Flag if refused => {
                    return Err(Error::Mfa(
                        "STS rejected this --mfa-token code moments ago (wrong, or already used; another run sent it): pass the code your app shows now"
                            .into(),
                    ));
                }
                Origin::Flag => return Ok(code),
                // Typed again after STS rejected it: the user's call, STS answers.
                Origin::Prompt if !used => return Ok(code),
                Origin::Prompt if reasks < REASKS => {
                    reasks += 1;
                    why = Some(
                        "that code was just used, and STS takes each code once; enter the next one when your app shows it"
                            .into(),
                    );
                }
                Origin::Process if waits < PROCESS_WAITS => {
                    waits += 1;
                    self.wait_for_next_code();
                }
                _ => return Err(self.still_used()),
            }
        }
    }

    /// Sleeps until the next time-based code is due (and a second more), saying so.
    fn wait_for_next_code(&self) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let wait = until_next_code(now);
        self.log.note(format_args!(
            "mfa_process of profile '{}' gave the code that was just used (STS takes each code once); waiting {}s for the next one",
            crate::error::clean(&self.device.profile, 64),
            wait.as_secs_f64().ceil()
        ));
        std::thread::sleep(wait);
    }

    fn still_used(&self) -> Error {
        let profile = crate::error::clean(&self.device.profile, 64);
        Error::Mfa(match self.origin() {
            Origin::Process => format!(
                "mfa_process of profile '{profile}' gave the code that was just used, again after {PROCESS_WAITS} new {TOTP_STEP}-second periods; make it give the current time-based code, or pass --mfa-token"
            ),
            _ => format!(
                "the code was just used, {} times; wait for the next code and run again",
                REASKS + 1
            ),
        })
    }
}

/// From `now` (Unix time) to a second after the next time-based code is due.
fn until_next_code(now: Duration) -> Duration {
    Duration::from_secs(TOTP_STEP - now.as_secs() % TOTP_STEP + 1)
        - Duration::from_nanos(u64::from(now.subsec_nanos()))
}

fn no_terminal(serial: &str, profile: &str) -> Error {
    let serial = crate::error::clean(serial, 200);
    let profile = crate::error::clean(profile, 64);
    Error::Mfa(format!(
        "an MFA code for {serial} is needed and there is no terminal to ask on; pass --mfa-token CODE, or set mfa_process in profile '{profile}'"
    ))
}

/// Ctrl-C at the prompt is read as a key ([`prompt`] turns `ISIG` off so that it restores the
/// terminal itself), so the terminal signalled no one. This passes it on as the terminal would
/// have: SIGINT to the terminal's foreground process group, when this run is in it (`make -j`,
/// a script, a shell's job), so that one Ctrl-C ends a whole build; before, `make -k -j8` went
/// on and the next job asked again. Then mfarole ends by SIGINT itself, as sudo does after its
/// prompt: a shell shows status 130, and bash stops a script only when its child died of
/// SIGINT (an exit with 130 lets the script go on to its next line). Called once the error is
/// said; returns (and `main` exits 130) when this run is not in the terminal's foreground job.
pub fn pass_interrupt_on() {
    let Ok(tty) = File::open("/dev/tty") else {
        return;
    };
    let Ok(group) = termios::tcgetpgrp(&tty) else {
        return;
    };
    if group != rustix::process::getpgrp() {
        return;
    }
    let ignored = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    if signal_hook::flag::register(signal_hook::consts::SIGINT, ignored).is_ok()
        && rustix::process::kill_process_group(group, rustix::process::Signal::INT).is_ok()
    {
        let _ = signal_hook::low_level::emulate_default_handler(signal_hook::consts::SIGINT);
    }
}

/// Restores the terminal's modes when dropped, whatever happens while reading.
struct RawGuard<'a> {
    tty: &'a File,
    saved: termios::Termios,
}

impl Drop for RawGuard<'_> {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(self.tty, OptionalActions::Now, &self.saved);
    }
}

/// Asks on `/dev/tty` with echo off.
fn prompt(serial: &str, profile: &str, again: Option<&str>) -> Result<Code> {
    let mut tty = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|_| no_terminal(serial, profile))?;
    let saved = termios::tcgetattr(&tty).map_err(|_| no_terminal(serial, profile))?;
    let tty_err = |e: std::io::Error| Error::io("cannot use the terminal", e);
    // Every line mfarole writes here starts as its other lines do.
    if let Some(why) = again {
        writeln!(tty, "mfarole: {}", crate::error::printable(why)).map_err(tty_err)?;
    }
    let mut raw = saved.clone();
    raw.local_modes
        .remove(LocalModes::ECHO | LocalModes::ICANON | LocalModes::ISIG | LocalModes::ECHONL);
    raw.special_codes[SpecialCodeIndex::VMIN] = 1;
    raw.special_codes[SpecialCodeIndex::VTIME] = 0;
    write!(
        tty,
        "mfarole: Enter MFA code for {}: ",
        crate::error::clean(serial, 200)
    )
    .map_err(tty_err)?;
    tty.flush().map_err(tty_err)?;
    let typed = {
        let guard = RawGuard { tty: &tty, saved };
        termios::tcsetattr(guard.tty, OptionalActions::Now, &raw).map_err(|e| tty_err(e.into()))?;
        read_line(guard.tty)
    };
    let _ = writeln!(tty);
    match typed? {
        Typed::Line(line) => parse_code(&line).ok_or_else(|| Error::NotACode {
            shape: mask_typed(&line),
        }),
        Typed::Interrupted => Err(Error::Interrupted),
        Typed::Eof => Err(Error::Mfa(
            "no MFA code was entered; pass --mfa-token CODE, or set mfa_process".into(),
        )),
    }
}

/// A typed line shown back in an error: its shape, not its digits.
fn mask_typed(line: &str) -> String {
    let shape: String = line
        .trim()
        .chars()
        .take(12)
        .map(|c| match c {
            '0'..='9' => '#',
            ' ' | '-' => c,
            _ => '?',
        })
        .collect();
    if shape.is_empty() {
        "nothing".into()
    } else {
        shape
    }
}

enum Typed {
    Line(String),
    Interrupted,
    Eof,
}

/// Reads one line with minimal editing (backspace, Ctrl-U), Ctrl-C and Ctrl-D.
fn read_line(mut tty: &File) -> Result<Typed> {
    let mut line = String::new();
    let mut byte = [0u8; 1];
    loop {
        match tty.read(&mut byte) {
            Ok(0) => {
                return Ok(if line.is_empty() {
                    Typed::Eof
                } else {
                    Typed::Line(line)
                });
            }
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("cannot read from the terminal", e)),
        }
        match byte[0] {
            b'\r' | b'\n' => return Ok(Typed::Line(line)),
            0x03 => return Ok(Typed::Interrupted),
            0x04 if line.is_empty() => return Ok(Typed::Eof),
            0x7f | 0x08 => {
                line.pop();
            }
            0x15 => line.clear(),
            b if (b.is_ascii_graphic() || b == b' ') && line.len() < 64 => line.push(b as char),
            _ => {}
        }
    }
}

/// Runs `mfa_process` with `sh -c`. Its stdout is the code; its stdin and stderr are the
/// terminal when there is one, so that "touch your key" prompts reach the user.
fn run_process(cmd: &str, profile: &str, timeout: Duration) -> Result<Code> {
    let fail = |why: String| Error::Mfa(format!("mfa_process of profile '{profile}' {why}"));
    let tty = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .ok();
    let mut command = Command::new("/bin/sh");
    command.arg("-c").arg(cmd).stdout(Stdio::piped());
    match &tty {
        Some(t) => {
            command
                .stdin(
                    t.try_clone()
                        .map(Stdio::from)
                        .unwrap_or_else(|_| Stdio::null()),
                )
                .stderr(
                    t.try_clone()
                        .map(Stdio::from)
                        .unwrap_or_else(|_| Stdio::null()),
                );
        }
        None => {
            // No terminal: its messages are relayed to our stderr through a pipe of ours, and
            // it gets a process group of its own, so that on a timeout the whole group is
            // killed and no leftover grandchild keeps the caller's pipes open.
            command
                .stdin(Stdio::null())
                .stderr(Stdio::piped())
                .process_group(0);
        }
    }
    let mut child = command.spawn().map_err(|e| match e.kind() {
        ErrorKind::NotFound => {
            fail("needs /bin/sh, which this system does not have; pass --mfa-token instead".into())
        }
        _ => fail(format!("cannot start: {}", crate::error::io_text(&e))),
    })?;
    if let Some(mut err) = child.stderr.take() {
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut (&mut err).take(64 * 1024), &mut std::io::stderr());
        });
    }
    // Read until it exits or the deadline: a leftover of its own holding stdout is not waited
    // for.
    let output = match crate::child::run_bounded(&mut child, timeout, tty.is_none(), 4096) {
        Ok(crate::child::Ended::Exited(output)) => output,
        Ok(crate::child::Ended::TimedOut) => {
            return Err(fail(format!(
                "gave no code within {}s (MFAROLE_MFA_PROCESS_TIMEOUT)",
                timeout.as_secs()
            )));
        }
        Err(e) => return Err(fail(format!("failed: {}", crate::error::io_text(&e)))),
    };
    let (status, out) = (output.status, output.stdout);
    if !status.success() {
        let how = crate::child::how_it_ended(status);
        return Err(fail(format!("{how}; run it by hand to see why")));
    }
    let text = String::from_utf8_lossy(&out);
    parse_code(&text).ok_or_else(|| {
        fail(format!(
            "printed {} bytes, not a 6-digit code",
            text.trim().len()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(process: Option<&str>) -> MfaDevice {
        MfaDevice {
            serial: "arn:aws:iam::1:mfa/jones".into(),
            process: process.map(str::to_string),
            profile: "jones".into(),
        }
    }

    #[test]
    fn codes_are_six_digits() {
        assert_eq!(parse_code(" 123456\n").unwrap().as_str(), "123456");
        // As authenticator apps show them.
        for grouped in ["123 456", "123-456", " 123\u{a0}456 ", "12 34 56"] {
            assert_eq!(
                parse_code(grouped).unwrap().as_str(),
                "123456",
                "{grouped:?}"
            );
        }
        for bad in [
            "12345",
            "1234567",
            "12345a",
            "",
            "１２３４５６",
            "123 4567",
            "-123456",
            "123456-",
            "123_456",
        ] {
            assert!(parse_code(bad).is_none(), "{bad}");
        }
        assert_eq!(
            format!("{:?}", parse_code("123456").unwrap()),
            "Code(<redacted>)"
        );
    }

    #[test]
    fn flag_wins_and_is_checked() {
        let d = device(Some("echo 111111"));
        let s = CodeSource {
            device: &d,
            flag: Some("222222"),
            process_timeout: Duration::from_secs(5),
            memory: None,
            log: &Log::default(),
        };
        assert_eq!(s.origin(), Origin::Flag);
        assert_eq!(s.get(None).unwrap().as_str(), "222222");
        let s = CodeSource {
            device: &d,
            flag: Some("22"),
            process_timeout: Duration::from_secs(5),
            memory: None,
            log: &Log::default(),
        };
        assert!(s.get(None).unwrap_err().to_string().contains("6-digit"));
    }

    #[test]
    fn process_output_is_the_code() {
        let d = device(Some("echo '  654321  '"));
        let s = CodeSource {
            device: &d,
            flag: None,
            process_timeout: Duration::from_secs(5),
            memory: None,
            log: &Log::default(),
        };
        assert_eq!(s.origin(), Origin::Process);
        assert_eq!(s.get(None).unwrap().as_str(), "654321");
    }

    #[test]
    fn process_failures_are_explained_without_the_output() {
        let t = Duration::from_secs(5);
        let e = run_process("exit 3", "p", t).unwrap_err().to_string();
        assert_eq!(
            e,
            "mfa_process of profile 'p' exited with status 3; run it by hand to see why"
        );
        let e = run_process("echo secret-ish-garbage", "p", t)
            .unwrap_err()
            .to_string();
        assert!(e.contains("printed 18 bytes, not a 6-digit code"), "{e}");
        assert!(!e.contains("secret"));
        let started = std::time::Instant::now();
        let e = run_process("sleep 5; echo 123456", "p", Duration::from_millis(300))
            .unwrap_err()
            .to_string();
        assert!(e.contains("gave no code within"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn a_process_that_leaves_a_child_holding_stdout_does_not_hang() {
        // Exits at once with the code; its background child keeps stdout open for 20 s.
        let started = std::time::Instant::now();
        let code = run_process("echo 123456; sleep 20 &", "p", Duration::from_secs(3)).unwrap();
        assert_eq!(code.as_str(), "123456");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn the_next_code_is_waited_for_until_its_period_starts() {
        let at = |s: u64, ms: u64| until_next_code(Duration::from_millis(s * 1000 + ms));
        assert_eq!(at(1_800_000_000, 0), Duration::from_secs(31));
        assert_eq!(at(1_800_000_029, 500), Duration::from_millis(1500));
        assert_eq!(at(1_800_000_017, 250), Duration::from_millis(13_750));
    }

    /// A memory that says every code in `used` was just sent, and records what is sent.
    struct Remembers {
        used: Vec<&'static str>,
        sent: std::cell::RefCell<Vec<String>>,
    }

    impl CodeMemory for Remembers {
        fn just_used(&self, code: &Code) -> bool {
            self.used.contains(&code.as_str())
        }
        fn sent(&self, code: &Code) {
            self.sent.borrow_mut().push(code.as_str().to_string());
        }
        fn just_refused(&self, _: &Code) -> bool {
            false
        }
        fn refused(&self, code: &Code) {
            self.sent.borrow_mut().retain(|c| c != code.as_str());
        }
    }

    #[test]
    fn a_code_is_remembered_before_it_is_sent_and_noted_as_refused_when_sts_calls_it_wrong() {
        let d = device(None);
        let memory = Remembers {
            used: vec!["222222"],
            sent: Default::default(),
        };
        let s = CodeSource {
            device: &d,
            flag: Some("222 222"),
            process_timeout: Duration::from_secs(5),
            memory: Some(&memory),
            log: &Log::default(),
        };
        let got = s.with_code(|code| Ok(code.as_str().to_string())).unwrap();
        assert_eq!(got, "222222");
        assert_eq!(*memory.sent.borrow(), ["222222"]);
        // A code STS answered is wrong is not remembered: it was not taken.
        let wrong = s.with_code(|_| -> Result<()> {
            Err(Error::Sts(Box::new(crate::error::StsFailure {
                action: "GetSessionToken",
                profile: "jones".into(),
                code: "AccessDenied".into(),
                message: "MultiFactorAuthentication failed with invalid MFA one time pass code."
                    .into(),
                request_id: None,
                hint: None,
            })))
        });
        assert!(wrong.is_err());
        assert!(memory.sent.borrow().is_empty());
        // Any other failure may come after STS took the code: it stays remembered.
        for failure in [
            Error::Sts(Box::new(crate::error::StsFailure {
                action: "GetSessionToken",
                profile: "jones".into(),
                code: "ServiceUnavailable".into(),
                message: "try again".into(),
                request_id: None,
                hint: None,
            })),
            Error::Mfa("no answer".into()),
        ] {
            let (mut failure, noted) = (Some(failure), std::cell::Cell::new(0));
            let result = s.with_code(|_| -> Result<()> {
                noted.set(memory.sent.borrow().len());
                Err(failure.take().unwrap())
            });
            assert!(result.is_err());
            assert_eq!(noted.get(), 1, "noted before the request");
            assert_eq!(*memory.sent.borrow(), ["222222"]);
            memory.sent.borrow_mut().clear();
        }
    }

    #[test]
    fn typed_codes_are_masked_in_errors() {
        assert_eq!(mask_typed("12a45"), "##?##");
        assert_eq!(mask_typed("123 45"), "### ##");
        assert_eq!(mask_typed(" "), "nothing");
    }
}

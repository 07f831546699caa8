//! The one error type of mfarole.
//!
//! Every failure a user can meet is a variant here that carries what is needed to explain it
//! in one line: which file, which profile, which STS action, and what to do next. `main` prints
//! `mfarole: {error}` and exits with [`Error::code`]. No variant ever holds a secret: key ids
//! are masked before they get here, and text from the network or from files is cleaned of
//! control characters by [`clean`] before it is stored.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Exit status for any failure of mfarole itself (as `env`, `timeout` and `docker run` do),
/// so that it cannot be mistaken for the child's own status.
pub const EXIT_FAILURE: u8 = 125;
/// The command was found but could not be run.
pub const EXIT_NOT_EXECUTABLE: u8 = 126;
/// The command was not found.
pub const EXIT_NOT_FOUND: u8 = 127;
/// Ctrl-C at the MFA prompt, as a shell reports a process ended by SIGINT.
pub const EXIT_INTERRUPTED: u8 = 130;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug)]
pub enum Error {
    /// The command line is wrong; the text says how (and the help is named).
    Usage(String),
    /// Something outside the command line that mfarole cannot use: an environment variable's
    /// value, a region, nesting. The text names it and says what to do; the help would not.
    Setting(String),
    /// A config or credentials file exists but cannot be read.
    ConfigIo { path: PathBuf, source: io::Error },
    /// A config or credentials file is not valid INI.
    ConfigSyntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// The profile named on the command line (or as a `source_profile`) does not exist.
    ProfileNotFound {
        name: String,
        referenced_by: Option<String>,
        available: Vec<String>,
        /// What was read, said when no profile is there at all ([`crate::config::Config::files_note`]).
        files: String,
    },
    /// `source_profile` links form a loop.
    ProfileLoop { chain: Vec<String> },
    /// A profile has settings that cannot work together or a value that is not valid.
    Profile { profile: String, message: String },
    /// An MFA code was needed and none could be had, or the one given is malformed.
    Mfa(String),
    /// What was typed at the prompt is not a code; `shape` shows it without its digits.
    NotACode { shape: String },
    /// The user pressed Ctrl-C at the prompt.
    Interrupted,
    /// The user pressed Ctrl-C at the prompt of the run this one waited for (`make -j8`).
    /// `quiet` when that run is of this run's terminal session, which has said it already:
    /// one line for eight runs, not eight.
    InterruptedThere { quiet: bool },
    /// The STS endpoint is not usable (bad URL, plain HTTP to a remote host, bad CA bundle).
    Endpoint { endpoint: String, message: String },
    /// The request never got an HTTP answer (DNS, connect, TLS, timeout).
    Transport {
        action: &'static str,
        profile: String,
        endpoint: String,
        message: String,
    },
    /// STS answered with an error document (boxed: it is the largest variant).
    Sts(Box<StsFailure>),
    /// STS (or something in its place) answered with something that is not an STS document.
    BadResponse {
        action: &'static str,
        profile: String,
        status: u16,
        excerpt: String,
    },
    /// Another mfarole held the lock for a step longer than we wait.
    /// `prompt`: the step needs an MFA code, so the holder may be waiting at its prompt.
    LockTimeout {
        path: PathBuf,
        seconds: u64,
        prompt: bool,
    },
    /// The run that held this step's lock, which this run waited for, failed: the same
    /// message and status, at once, instead of repeating its prompt or its retries.
    Shared { code: u8, message: String },
    /// A source of first credentials fetched at run time (a credential_process, the container
    /// endpoint, instance metadata) failed; `what` names it, the message says how.
    Source {
        profile: String,
        what: &'static str,
        message: String,
    },
    /// An error of mfarole's followed by what a program outside it said (the first line of a
    /// helper's stderr, an endpoint's message), cleaned: shown to the user, but never stored in
    /// a failure marker, which keeps mfarole's own words only ([`Error::own_words`]).
    Quoting { error: Box<Error>, quote: String },
    /// The command to run could not be started.
    Exec { program: String, source: io::Error },
    /// Any other I/O failure, with what we were doing.
    Io { context: String, source: io::Error },
}

/// What STS said, cleaned for display, and what to do about it.
#[derive(Debug, Clone)]
pub struct StsFailure {
    pub action: &'static str,
    pub profile: String,
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
    pub hint: Option<String>,
}

impl StsFailure {
    /// STS's answer to a wrong or reused MFA code: `AccessDenied` that speaks of MFA
    /// ("MultiFactorAuthentication failed with invalid MFA one time pass code").
    pub fn is_wrong_mfa_code(&self) -> bool {
        self.code == "AccessDenied" && self.message.to_ascii_lowercase().contains("mfa")
    }
}

impl Error {
    /// The exit status `main` returns for this error.
    pub fn code(&self) -> u8 {
        match self {
            Error::Interrupted | Error::InterruptedThere { .. } => EXIT_INTERRUPTED,
            Error::Shared { code, .. } if *code != 0 => *code,
            Error::Quoting { error, .. } => error.code(),
            Error::Exec { source, .. } if source.kind() == io::ErrorKind::NotFound => {
                EXIT_NOT_FOUND
            }
            Error::Exec { .. } => EXIT_NOT_EXECUTABLE,
            _ => EXIT_FAILURE,
        }
    }

    /// A usage error of subcommand `command`, pointing to `mfarole COMMAND --help`, which
    /// explains its options (the top-level help does not).
    pub fn for_command(self, command: &str) -> Error {
        match self {
            Error::Usage(msg) if !msg.ends_with(" --help')") => {
                Error::Usage(format!("{msg} (see 'mfarole {command} --help')"))
            }
            other => other,
        }
    }

    pub fn profile(profile: &str, message: impl Into<String>) -> Error {
        Error::Profile {
            profile: profile.to_string(),
            message: message.into(),
        }
    }

    pub fn io(context: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// This error followed by `quote`, what a program outside mfarole said (already cleaned).
    pub fn quoting(self, quote: String) -> Error {
        Error::Quoting {
            error: Box::new(self),
            quote,
        }
    }

    /// Whether `main` says nothing of this error: another run of the same terminal session
    /// has said it.
    pub fn is_quiet(&self) -> bool {
        matches!(self, Error::InterruptedThere { quiet: true })
    }

    /// The error in mfarole's own words: without what programs outside it said, which may hold
    /// anything (a secret store's stderr). What a failure marker keeps on disk.
    pub fn own_words(&self) -> String {
        match self {
            Error::Quoting { error, .. } => error.own_words(),
            // STS's code is a name from its API reference; its message is what a server said.
            Error::Sts(failure) => Error::Sts(Box::new(StsFailure {
                message: String::new(),
                ..failure.as_ref().clone()
            }))
            .to_string(),
            Error::BadResponse {
                action,
                profile,
                status,
                ..
            } => format!(
                "{action} for profile '{profile}' failed: HTTP {status} with a body that is not an STS answer"
            ),
            other => other.to_string(),
        }
    }
}

impl fmt::Display for Error {
    /// One arm per variant, each the whole sentence a user reads: a flat `match` is the
    /// clearest form here, so this function stays long on purpose.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // A subcommand's usage errors name its own help (`Error::for_command`).
            Error::Usage(msg) if msg.ends_with(" --help')") => f.write_str(msg),
            Error::Usage(msg) => write!(f, "{msg} (see 'mfarole --help')"),
            Error::Setting(msg) => f.write_str(msg),
            Error::ConfigIo { path, source } => {
                write!(f, "cannot read {}: {}", path.display(), io_text(source))
            }
            Error::ConfigSyntax {
                path,
                line,
                message,
            } => write!(f, "{}:{line}: {message}", path.display()),
            Error::ProfileNotFound {
                name,
                referenced_by,
                available,
                files,
            } => {
                // Names come from the command line and from files: show them cleaned.
                let name = clean(name, 64);
                match referenced_by {
                    Some(by) => write!(
                        f,
                        "profile '{name}' (the source_profile of '{}') is not in the config",
                        clean(by, 64)
                    )?,
                    None => write!(f, "profile '{name}' is not in the config")?,
                }
                if name.contains(" #") || name.contains(" ;") {
                    // The AWS CLI reads no comment after a value: `source_profile = a # b`
                    // names the profile "a # b".
                    return write!(
                        f,
                        "; text after a value is part of it (the AWS CLI reads no comment there): put the comment on a line of its own"
                    );
                }
                if available.is_empty() && !files.is_empty() {
                    write!(f, "; no profiles are defined: {files}")
                } else if available.is_empty() {
                    write!(
                        f,
                        "; no profiles are defined (check AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE)"
                    )
                } else {
                    let names: Vec<String> = available.iter().map(|n| clean(n, 64)).collect();
                    write!(f, "; profiles: {}", names.join(", "))
                }
            }
            Error::ProfileLoop { chain } => write!(
                f,
                "source_profile loop: {}; make one profile in the chain hold keys or use credential_source",
                chain
                    .iter()
                    .map(|n| clean(n, 64))
                    .collect::<Vec<_>>()
                    .join(" -> ")
            ),
            Error::Profile { profile, message } => {
                write!(f, "profile '{}': {message}", clean(profile, 64))
            }
            Error::Mfa(msg) => f.write_str(msg),
            Error::NotACode { shape } => {
                write!(f, "what was typed ({shape}) is not a 6-digit MFA code")
            }
            Error::Interrupted => f.write_str("interrupted"),
            Error::InterruptedThere { .. } => f.write_str(
                "interrupted at the MFA prompt of another mfarole that this run waited for; run again to be asked",
            ),
            Error::Shared { message, .. } => f.write_str(message),
            Error::Source {
                profile,
                what,
                message,
            } => write!(f, "profile '{}': {what} {message}", clean(profile, 64)),
            Error::Endpoint { endpoint, message } => {
                write!(f, "STS endpoint {endpoint}: {message}")
            }
            Error::Transport {
                action,
                profile,
                endpoint,
                message,
            } => write!(
                f,
                "{action} for profile '{profile}' failed: {endpoint}: {message}"
            ),
            Error::Sts(failure) => {
                let StsFailure {
                    action,
                    profile,
                    code,
                    message,
                    // Said by `-v` (`STS request id ...`): a long id at the end of the line
                    // buried the hint.
                    request_id: _,
                    hint,
                } = failure.as_ref();
                write!(f, "{action} for profile '{profile}' failed: {code}")?;
                // STS ends its sentences with a dot: not before the hint (".;").
                let message = match hint {
                    Some(_) => message.trim_end_matches('.'),
                    None => message,
                };
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                if let Some(hint) = hint {
                    write!(f, "; {hint}")?;
                }
                Ok(())
            }
            Error::BadResponse {
                action,
                profile,
                status,
                excerpt,
            } => {
                write!(
                    f,
                    "{action} for profile '{profile}' failed: HTTP {status} with a body that is not an STS answer"
                )?;
                if excerpt.is_empty() {
                    f.write_str(" (empty)")
                } else {
                    write!(f, ": \"{excerpt}\"")
                }
            }
            Error::LockTimeout {
                path,
                seconds,
                prompt,
            } => write!(
                f,
                "gave up after {seconds}s waiting for another mfarole holding {}{}; set MFAROLE_LOCK_TIMEOUT to wait longer",
                path.display(),
                match prompt {
                    true => ", which may be waiting for an MFA code at its prompt (answer it there)",
                    false => "",
                }
            ),
            Error::Quoting { error, quote } => write!(f, "{error}: {quote}"),
            Error::Exec { program, source } => match source.kind() {
                io::ErrorKind::NotFound => write!(f, "{program}: command not found"),
                io::ErrorKind::PermissionDenied => write!(f, "{program}: permission denied"),
                _ => write!(f, "{program}: cannot run: {}", io_text(source)),
            },
            Error::Io { context, source } => write!(f, "{context}: {}", io_text(source)),
        }
    }
}

/// `io::Error`'s text without the "(os error N)" tail, lowercased like the rest of our messages.
pub fn io_text(err: &io::Error) -> String {
    let text = err.to_string();
    let text = match text.find(" (os error") {
        Some(i) => &text[..i],
        None => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The last guard of every line mfarole writes to the terminal (its error, warnings, `-v`
/// lines, the prompt): each control character becomes a space, so that an escape sequence in
/// a setting, a path or a file's name never reaches the terminal raw, whichever message
/// carries it. Unlike [`clean`], nothing is cut or folded.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Makes text from the network or a file safe to show on one line of a terminal: control
/// characters (escape sequences included) become spaces, runs of white space fold to one, and
/// the result is cut to `max` characters with an ellipsis.
pub fn clean(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut count = 0;
    let mut last_space = true;
    for c in text.chars() {
        let c = if c.is_control() || c.is_whitespace() {
            ' '
        } else {
            c
        };
        if c == ' ' && last_space {
            continue;
        }
        if count == max {
            out.push('…');
            return out.trim_end().to_string();
        }
        last_space = c == ' ';
        out.push(c);
        count += 1;
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_words_keep_sts_s_code_and_the_hint_not_its_message() {
        let e = Error::Sts(Box::new(StsFailure {
            action: "AssumeRole",
            profile: "p".into(),
            code: "AccessDenied".into(),
            message: "what a server said.".into(),
            request_id: None,
            hint: Some("add mfa_serial".into()),
        }));
        assert_eq!(
            e.own_words(),
            "AssumeRole for profile 'p' failed: AccessDenied; add mfa_serial"
        );
        assert!(e.to_string().contains("what a server said"));
    }

    #[test]
    fn a_subcommand_s_usage_error_names_its_own_help_once() {
        let e = Error::Usage("-d 13h is outside".into()).for_command("console");
        assert_eq!(
            e.to_string(),
            "-d 13h is outside (see 'mfarole console --help')"
        );
        let twice = e.for_command("exec");
        assert_eq!(
            twice.to_string(),
            "-d 13h is outside (see 'mfarole console --help')"
        );
        let plain = Error::Usage("unknown command 'x'".into());
        assert_eq!(
            plain.to_string(),
            "unknown command 'x' (see 'mfarole --help')"
        );
    }

    #[test]
    fn clean_removes_escapes_and_newlines() {
        assert_eq!(clean("a\x1b[31mb\r\nc", 100), "a [31mb c");
        assert_eq!(clean("  lots   of\tspace ", 100), "lots of space");
    }

    #[test]
    fn clean_cuts_long_text() {
        assert_eq!(clean("abcdef", 3), "abc…");
        assert_eq!(clean("abc", 3), "abc");
    }

    #[test]
    fn names_from_files_are_shown_clean() {
        let e = Error::ProfileNotFound {
            name: "x\x1b[2J".into(),
            referenced_by: None,
            available: vec!["a\nb".into()],
            files: String::new(),
        };
        let shown = e.to_string();
        assert!(!shown.chars().any(char::is_control), "{shown:?}");
    }

    #[test]
    fn exit_codes_are_distinct() {
        let nf = Error::Exec {
            program: "x".into(),
            source: io::Error::from(io::ErrorKind::NotFound),
        };
        let pd = Error::Exec {
            program: "x".into(),
            source: io::Error::from(io::ErrorKind::PermissionDenied),
        };
        assert_eq!(nf.code(), 127);
        assert_eq!(pd.code(), 126);
        assert_eq!(Error::Interrupted.code(), 130);
        assert_eq!(Error::Mfa("x".into()).code(), 125);
    }

    #[test]
    fn io_text_is_lowercase_without_os_error() {
        let e = io::Error::from_raw_os_error(2);
        assert_eq!(io_text(&e), "no such file or directory");
    }
}

//! What mfarole says on stderr while it works: `--verbose` lines and warnings.
//!
//! stdout belongs to the child (or to `env`'s output), so everything here goes to stderr.
//! Callers pass only masked key ids and never a secret; this type is the one writer, so a
//! test can hold it to that. Every line goes through [`crate::error::printable`]: a path or a
//! setting holding an escape sequence is shown, never obeyed.

use std::fmt;
use std::io::Write;

#[derive(Debug, Default)]
pub struct Log {
    verbose: bool,
}

impl Log {
    pub fn new(verbose: bool) -> Log {
        Log { verbose }
    }

    /// A `--verbose` line: a decision or a request, never a secret.
    pub fn is_verbose(&self) -> bool {
        self.verbose
    }

    pub fn verbose(&self, msg: fmt::Arguments) {
        if self.verbose {
            say(&msg.to_string());
        }
    }

    /// What the user should know about this run, not a fault: why a new MFA code is needed,
    /// why `list` shows nothing.
    pub fn note(&self, msg: fmt::Arguments) {
        say(&msg.to_string());
    }

    /// Something the user should know although the run goes on.
    pub fn warn(&self, msg: fmt::Arguments) {
        say(&format!("warning: {msg}"));
    }
}

/// Writes `mfarole: LINE` to stderr, made printable, in one `write`: stderr is unbuffered,
/// and `eprintln!` writes the prefix, the text and the newline apart, so the lines of eight
/// runs of `make -j8` that fail at once came out cut into each other.
pub fn say(line: &str) {
    let line = format!("mfarole: {}\n", crate::error::printable(line));
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

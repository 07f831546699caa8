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
            let line = crate::error::printable(&msg.to_string());
            let _ = writeln!(std::io::stderr().lock(), "mfarole: {line}");
        }
    }

    /// What the user should know about this run, not a fault: why a new MFA code is needed,
    /// why `list` shows nothing.
    pub fn note(&self, msg: fmt::Arguments) {
        let line = crate::error::printable(&msg.to_string());
        let _ = writeln!(std::io::stderr().lock(), "mfarole: {line}");
    }

    /// Something the user should know although the run goes on.
    pub fn warn(&self, msg: fmt::Arguments) {
        let line = crate::error::printable(&msg.to_string());
        let _ = writeln!(std::io::stderr().lock(), "mfarole: warning: {line}");
    }
}

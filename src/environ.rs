//! The process environment, read once at start-up and passed down as a value.
//!
//! Reading variables in one place keeps every decision testable without touching the real
//! process environment, and it is the environment the child inherits (minus what
//! [`crate::exec`] removes), byte for byte, including variables that are not UTF-8.

use std::ffi::OsString;
use std::path::PathBuf;

#[derive(Debug, Clone, Default)]
pub struct Environ {
    vars: Vec<(OsString, OsString)>,
}

impl Environ {
    /// A snapshot of the real environment.
    pub fn capture() -> Environ {
        Environ {
            vars: std::env::vars_os().collect(),
        }
    }

    /// An environment made of the given pairs (tests).
    #[cfg(test)]
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Environ {
        Environ {
            vars: pairs.iter().map(|(k, v)| (k.into(), v.into())).collect(),
        }
    }

    /// A variable's value when it is set, valid UTF-8 and not empty (an empty `AWS_REGION=`
    /// means "unset" to the AWS CLI too).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.to_str())
            .filter(|v| !v.is_empty())
    }

    /// A variable that names a path; non-UTF-8 paths are fine here.
    pub fn path(&self, name: &str) -> Option<PathBuf> {
        self.vars
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| PathBuf::from(v))
            .filter(|p| !p.as_os_str().is_empty())
    }

    /// A variable read as a boolean, the way the AWS SDKs read theirs.
    pub fn flag(&self, name: &str) -> bool {
        self.get(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
    }

    pub fn home(&self) -> Option<PathBuf> {
        self.path("HOME")
    }

    pub fn vars(&self) -> &[(OsString, OsString)] {
        &self.vars
    }
}

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
    /// Indices into `vars`, sorted by name, the last of a repeated name first: the settings
    /// stage looks up some fifty names, and a scan of the whole environment for each cost
    /// the cached path measurable microseconds (a binary search costs a few comparisons).
    sorted: Vec<usize>,
}

impl Environ {
    /// A snapshot of the real environment.
    pub fn capture() -> Environ {
        Environ::new(std::env::vars_os().collect())
    }

    fn new(vars: Vec<(OsString, OsString)>) -> Environ {
        let mut sorted: Vec<usize> = (0..vars.len()).collect();
        sorted.sort_unstable_by(|&a, &b| vars[a].0.cmp(&vars[b].0).then(b.cmp(&a)));
        Environ { vars, sorted }
    }

    /// An environment made of the given pairs (tests).
    #[cfg(test)]
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Environ {
        Environ::new(pairs.iter().map(|(k, v)| (k.into(), v.into())).collect())
    }

    /// The value of `name` as set last, empty or not.
    pub fn raw(&self, name: &str) -> Option<&OsString> {
        let name = std::ffi::OsStr::new(name);
        let at = self
            .sorted
            .partition_point(|&i| self.vars[i].0.as_os_str() < name);
        let &i = self.sorted.get(at)?;
        (self.vars[i].0 == name).then(|| &self.vars[i].1)
    }

    /// A variable's value when it is set, valid UTF-8 and not empty (an empty `AWS_REGION=`
    /// means "unset" to the AWS CLI too).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.raw(name)
            .and_then(|v| v.to_str())
            .filter(|v| !v.is_empty())
    }

    /// A variable that names a path; non-UTF-8 paths are fine here.
    pub fn path(&self, name: &str) -> Option<PathBuf> {
        self.raw(name)
            .map(PathBuf::from)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_of_a_repeated_name_wins_and_lookups_are_exact() {
        let e = Environ::from_pairs(&[("B", "1"), ("A", "x"), ("AB", "y"), ("B", "2"), ("E", "")]);
        assert_eq!(e.get("B"), Some("2"));
        assert_eq!((e.get("A"), e.get("AB")), (Some("x"), Some("y")));
        assert_eq!((e.get("C"), e.get("E"), e.get("")), (None, None, None));
        assert_eq!(e.path("A"), Some(PathBuf::from("x")));
        assert_eq!(
            e.vars().len(),
            5,
            "the child still inherits every pair as given"
        );
    }
}

//! Opening a URL in the user's browser, the way the common launchers read `$BROWSER`:
//!
//! - `BROWSER` is a list of commands separated by `:` (Python's `webbrowser`, which splits on
//!   `os.pathsep`; xdg-utils' `xdg-open`, which splits on `:`), tried in order until one
//!   starts and does not fail at once.
//! - Each command is split into words as a shell would (Python's `shlex.split`), so it may
//!   carry arguments: `BROWSER='firefox --private-window'`.
//! - A word holding `%s` gets the URL in its place (both launchers do this); otherwise the URL
//!   is added as the last argument, as one argument, never through a shell.
//! - Without `BROWSER`: `xdg-open`, or `open` on macOS.
//!
//! `BROWSER` is read ([`Browser::read`]) before any request, so that a value that cannot be
//! read fails the run before the MFA prompt and the STS calls, not after them.
//!
//! The browser is started detached from mfarole: stdin, stdout and stderr on `/dev/null` (its
//! chatter never reaches the terminal), in a process group of its own (Ctrl-C in the terminal
//! does not reach it). A new session (`setsid`) would need `pre_exec`, which is `unsafe`, and
//! this crate forbids `unsafe`. mfarole waits at most [`SETTLE`] for a launcher that fails at
//! once (xdg-open exits 3 when no browser is found), and otherwise leaves it running.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::log::Log;

/// How long a launcher may take to fail before it is taken to have started the browser.
const SETTLE: Duration = Duration::from_millis(1500);

/// The commands that may open the console, read from `BROWSER` (or the platform's opener).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Browser {
    /// Each command's words, without the URL yet.
    commands: Vec<Vec<String>>,
    /// Whether they come from `BROWSER`.
    from_browser: bool,
}

impl Browser {
    /// Reads `BROWSER` (`None` or blank: the platform's opener). `Err`: a value that cannot
    /// be split into words or names no command, said with what to do.
    pub fn read(browser: Option<&str>) -> Result<Browser> {
        Ok(match browser.map(str::trim).filter(|b| !b.is_empty()) {
            Some(list) => Browser {
                commands: commands(list)?,
                from_browser: true,
            },
            None => Browser {
                commands: vec![vec![default_opener().to_string()]],
                from_browser: false,
            },
        })
    }

    /// Opens `url` with the first command that works. `Err` says what was tried and how to
    /// use `--print`; never the URL.
    pub fn open(&self, url: &str, log: &Log) -> Result<()> {
        let candidates: Vec<Vec<String>> = self
            .commands
            .iter()
            .map(|words| with_url(words.clone(), url))
            .collect();
        let from = if self.from_browser {
            "BROWSER"
        } else {
            "the default"
        };
        launch_first(&candidates, url, from, log)
    }
}

/// Starts the first of `candidates` that works.
fn launch_first(candidates: &[Vec<String>], url: &str, from: &str, log: &Log) -> Result<()> {
    let mut tried = Vec::new();
    for argv in candidates {
        // A `%s` in the command word itself would put the URL there: never shown.
        let name = match argv[0].contains(url) {
            true => "the BROWSER command",
            false => argv[0].as_str(),
        };
        match launch(argv) {
            Ok(()) => {
                log.verbose(format_args!("console opened with {name} ({from})"));
                return Ok(());
            }
            Err(why) => {
                log.verbose(format_args!("{name}: {why}"));
                tried.push(format!("{name} ({why})"));
            }
        }
    }
    let what = match from {
        "BROWSER" => format!("no command of BROWSER worked: {}", tried.join(", ")),
        _ => format!(
            "no browser could be started: {}; set BROWSER",
            tried.join(", ")
        ),
    };
    Err(Error::Setting(format!(
        "{what}; or use --print to get the sign-in URL on stdout and open it yourself"
    )))
}

/// The words of each command in `list` (see the module doc).
fn commands(list: &str) -> Result<Vec<Vec<String>>> {
    let mut out = Vec::new();
    for entry in list.split(':').map(str::trim).filter(|e| !e.is_empty()) {
        let words = crate::shlex::split(entry).map_err(|why| {
            Error::Setting(format!(
                "BROWSER holds a command that cannot be split into words ({why}); fix BROWSER, or use --print"
            ))
        })?;
        if words.is_empty() {
            continue;
        }
        out.push(words);
    }
    if out.is_empty() {
        return Err(Error::Setting(
            "BROWSER names no command; set it to a browser command, or use --print".into(),
        ));
    }
    Ok(out)
}

/// `%s` in a word becomes the URL; else the URL is the last argument.
fn with_url(mut words: Vec<String>, url: &str) -> Vec<String> {
    if words.iter().any(|w| w.contains("%s")) {
        for w in &mut words {
            *w = w.replace("%s", url);
        }
    } else {
        words.push(url.to_string());
    }
    words
}

fn default_opener() -> &'static str {
    if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    }
}

/// Starts `argv` detached; `Err` is why it did not work, in words without the URL.
fn launch(argv: &[String]) -> std::result::Result<(), String> {
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => "not found".to_string(),
            io::ErrorKind::PermissionDenied => "not executable".to_string(),
            _ => crate::error::io_text(&e),
        })?;
    let started = Instant::now();
    while started.elapsed() < SETTLE {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("ended with {status}")),
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(_) => return Ok(()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_lists_are_read_as_the_launchers_read_them() {
        let url = "https://x/?a=1&b=2";
        let commands = |list: &str, url: &str| {
            commands(list).map(|c| c.into_iter().map(|w| with_url(w, url)).collect::<Vec<_>>())
        };
        assert_eq!(
            commands("firefox", url).unwrap(),
            vec![vec!["firefox".to_string(), url.to_string()]]
        );
        assert_eq!(
            commands("firefox --private-window : w3m", url).unwrap(),
            vec![
                vec![
                    "firefox".to_string(),
                    "--private-window".to_string(),
                    url.to_string()
                ],
                vec!["w3m".to_string(), url.to_string()]
            ]
        );
        assert_eq!(
            commands("'my browser' --url=%s --new", url).unwrap(),
            vec![vec![
                "my browser".to_string(),
                format!("--url={url}"),
                "--new".to_string()
            ]]
        );
        assert!(commands(" : ", url).is_err());
        assert!(commands("'unclosed", url).is_err());
    }

    #[test]
    fn a_missing_or_failing_launcher_is_said_without_the_url() {
        let log = Log::new(false);
        let url = "https://secret.example/?SigninToken=SECRET";
        let open = |b: &str, url: &str, log: &Log| Browser::read(Some(b)).unwrap().open(url, log);
        let e = open("/nonexistent/browser:false", url, &log).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("/nonexistent/browser (not found)"), "{text}");
        assert!(text.contains("false (ended with"), "{text}");
        assert!(text.contains("--print"), "{text}");
        assert!(!text.contains("SECRET"), "{text}");
        assert!(open("true", url, &log).is_ok());
    }
}

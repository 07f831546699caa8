//! Running a helper process (`mfa_process`, `credential_process`) to its end with a deadline,
//! reading what it prints, and saying how it ended: the two share one rule, so that a hung
//! helper never hangs mfarole and leaves no grandchild behind when it had a process group of
//! its own.
//!
//! Why the pipes are read here, without blocking, rather than by threads joined at the end: a
//! helper that exits at once but leaves a background process holding its stdout (`cmd &` in a
//! wrapper script) never closes the pipe, and a reader that waits for the end of the pipe kept
//! mfarole waiting past the deadline, holding the step's lock. Here reading stops when the
//! helper has exited (what it wrote before is read first: it is in the pipe already) or when the
//! deadline has passed, whatever its leftovers do. An answer longer than the limit stops the
//! reading too, and is said to be that, not mistaken for a bad answer or a broken pipe.

use std::io::{ErrorKind, Read};
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

/// At most this much of a helper's stderr is kept (its first line is what is shown).
const STDERR_LIMIT: usize = 64 * 1024;

/// How a helper ended and what it printed.
pub enum Ended {
    Exited(Output),
    /// The deadline passed; the child (and its group, when it has its own) was killed.
    TimedOut,
}

/// What a helper printed before it exited.
pub struct Output {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    /// stdout went past the limit: reading stopped there (and the helper, if it was still
    /// writing, met a closed pipe).
    pub stdout_over_limit: bool,
    /// Empty when stderr was not piped.
    pub stderr: Vec<u8>,
}

/// Waits for `child` until `timeout` while reading its piped stdout (at most `limit` bytes)
/// and, when piped, its stderr. On time-out kills it, and its whole process group when
/// `own_group` (it was started in a group of its own).
pub fn run_bounded(
    child: &mut Child,
    timeout: Duration,
    own_group: bool,
    limit: usize,
) -> std::io::Result<Ended> {
    let deadline = Instant::now() + timeout;
    let mut out = Pipe::new(child.stdout.take(), limit)?;
    let mut err = Pipe::new(child.stderr.take(), STDERR_LIMIT)?;
    loop {
        let read = out.pump() | err.pump();
        if let Some(status) = child.try_wait()? {
            // What it wrote before exiting is in the pipes: read that, then stop.
            while out.pump() | err.pump() {}
            return Ok(Ended::Exited(Output {
                status,
                stdout_over_limit: out.over,
                stdout: out.data,
                stderr: err.data,
            }));
        }
        if Instant::now() >= deadline {
            if own_group && let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
                let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
            }
            let _ = child.kill();
            let _ = child.wait();
            return Ok(Ended::TimedOut);
        }
        if !read {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// One end of a helper's pipe, read without blocking.
struct Pipe<R> {
    reader: Option<R>,
    data: Vec<u8>,
    limit: usize,
    over: bool,
}

impl<R: Read + std::os::fd::AsFd> Pipe<R> {
    fn new(reader: Option<R>, limit: usize) -> std::io::Result<Pipe<R>> {
        if let Some(r) = &reader {
            let flags = rustix::fs::fcntl_getfl(r)?;
            rustix::fs::fcntl_setfl(r, flags | rustix::fs::OFlags::NONBLOCK)?;
        }
        Ok(Pipe {
            reader,
            data: Vec::new(),
            limit,
            over: false,
        })
    }

    /// Reads what is there now; `true` when something was read. At the end of the pipe, on an
    /// error or past the limit, the pipe is closed.
    fn pump(&mut self) -> bool {
        let Some(reader) = &mut self.reader else {
            return false;
        };
        let mut buf = [0u8; 8192];
        let mut got = false;
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    got = true;
                    let room = self.limit - self.data.len();
                    self.data.extend_from_slice(&buf[..n.min(room)]);
                    if n > room {
                        self.over = true;
                        break;
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return got,
                Err(_) => break,
            }
        }
        self.reader = None;
        got
    }
}

/// "exited with status N" or "was killed by a signal".
pub fn how_it_ended(status: ExitStatus) -> String {
    match status.code() {
        Some(c) => format!("exited with status {c}"),
        None => "was killed by a signal".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    fn sh(script: &str) -> Child {
        Command::new("/bin/sh")
            .args(["-c", script])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn output(ended: Ended) -> Output {
        match ended {
            Ended::Exited(o) => o,
            Ended::TimedOut => panic!("timed out"),
        }
    }

    #[test]
    fn a_leftover_holding_the_pipe_does_not_hold_mfarole() {
        // Exits at once; its background child keeps stdout and stderr open for 20 s.
        let started = Instant::now();
        let mut child = sh("echo answer; echo said >&2; sleep 20 & exit 0");
        let o = output(run_bounded(&mut child, Duration::from_secs(10), false, 4096).unwrap());
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(
            (o.stdout.as_slice(), o.stderr.as_slice()),
            (&b"answer\n"[..], &b"said\n"[..])
        );
        assert!(o.status.success());
    }

    #[test]
    fn an_answer_past_the_limit_is_said_to_be_that() {
        let mut child = sh("head -c 300000 /dev/zero");
        let o = output(run_bounded(&mut child, Duration::from_secs(10), false, 1000).unwrap());
        assert!(o.stdout_over_limit);
        assert_eq!(o.stdout.len(), 1000);
        let mut child = sh("head -c 1000 /dev/zero");
        let o = output(run_bounded(&mut child, Duration::from_secs(10), false, 1000).unwrap());
        assert!(!o.stdout_over_limit && o.stdout.len() == 1000);
    }

    #[test]
    fn a_helper_past_its_deadline_is_killed() {
        let started = Instant::now();
        let mut child = sh("sleep 20");
        assert!(matches!(
            run_bounded(&mut child, Duration::from_millis(200), false, 10).unwrap(),
            Ended::TimedOut
        ));
        assert!(started.elapsed() < Duration::from_secs(3));
    }
}

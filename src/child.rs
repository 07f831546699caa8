//! Waiting for a helper process (`mfa_process`, `credential_process`) with a deadline, and
//! saying how it ended: the two share one rule, so that a hung helper never hangs mfarole and
//! leaves no grandchild behind when it had a process group of its own.

use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

/// How waiting ended.
pub enum Waited {
    Exited(ExitStatus),
    /// The deadline passed; the child (and its group, when `own_group`) was killed.
    TimedOut,
}

/// Waits for `child` until `timeout`; on time-out kills it, and its whole process group when
/// it was started in one of its own.
pub fn wait_bounded(
    child: &mut Child,
    timeout: Duration,
    own_group: bool,
) -> std::io::Result<Waited> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Waited::Exited(status));
        }
        if Instant::now() >= deadline {
            if own_group && let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
                let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
            }
            let _ = child.kill();
            let _ = child.wait();
            return Ok(Waited::TimedOut);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// "exited with status N" or "was killed by a signal".
pub fn how_it_ended(status: ExitStatus) -> String {
    match status.code() {
        Some(c) => format!("exited with status {c}"),
        None => "was killed by a signal".to_string(),
    }
}

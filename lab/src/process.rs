//! Low-level process helpers: liveness checks, signals, pidfiles, and host commands run
//! with a time limit ([`run_bounded`]).
//!
//! Used for QEMU children, detached VMs found through their pidfiles and
//! the detached hub daemon.

use std::io::Read as _;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::error::{LabError, Result};

/// True if `pid` exists and is not a zombie.
pub fn pid_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name, which may hold spaces.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// The command line of `pid` with NULs turned into spaces.
pub fn cmdline(pid: i32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let s: String = String::from_utf8_lossy(&raw)
        .chars()
        .map(|c| if c == '\0' { ' ' } else { c })
        .collect();
    Some(s.trim_end().to_string())
}

/// Reads a pidfile holding one decimal pid.
pub fn read_pidfile(path: &Path) -> Result<i32> {
    let text =
        std::fs::read_to_string(path).map_err(|e| LabError::io("cannot read pidfile", path, e))?;
    match text.trim().parse::<i32>() {
        Ok(pid) if pid > 0 => Ok(pid),
        _ => Err(LabError::Pidfile {
            path: path.to_path_buf(),
            why: format!("does not hold a pid ({:?}); delete it", text.trim()),
        }),
    }
}

/// Sends `sig` to `pid` (a process group if `pid` is negative).  A target
/// that is already gone is not an error.
pub fn signal(pid: i32, sig: i32, what: &str) -> Result<()> {
    // SAFETY: kill(2) has no memory-safety preconditions.
    let rc = unsafe { libc::kill(pid, sig) };
    if rc == 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::ESRCH) {
        return Ok(());
    }
    Err(LabError::Signal {
        pid,
        signal: sig,
        what: what.to_string(),
        source: e,
    })
}

/// Waits until `pid` is gone (or a zombie); false on timeout.
pub fn wait_gone(pid: i32, limit: Duration) -> bool {
    let start = Instant::now();
    loop {
        if !pid_alive(pid) {
            return true;
        }
        if start.elapsed() >= limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Terminates the process named by `pidfile`: SIGTERM, then SIGKILL after
/// `grace`.  Refuses (with an error) if its command line lacks any of
/// `must_contain`, which guards against recycled pids.  Returns whether a
/// live process was found; the pidfile is removed in both cases.
pub fn kill_pidfile(pidfile: &Path, must_contain: &[&str], grace: Duration) -> Result<bool> {
    if !pidfile.exists() {
        return Ok(false);
    }
    let pid = read_pidfile(pidfile)?;
    if !pid_alive(pid) {
        let _ = std::fs::remove_file(pidfile);
        return Ok(false);
    }
    // A process caught in execve shows an empty command line for a moment: wait briefly.
    let mut cmd = cmdline(pid).unwrap_or_default();
    let start = Instant::now();
    while cmd.is_empty() && pid_alive(pid) && start.elapsed() < Duration::from_millis(500) {
        std::thread::sleep(Duration::from_millis(10));
        cmd = cmdline(pid).unwrap_or_default();
    }
    if let Some(missing) = must_contain.iter().find(|s| !cmd.contains(**s)) {
        return Err(LabError::Pidfile {
            path: pidfile.to_path_buf(),
            why: format!(
                "pid {pid} runs {cmd:?}, which does not mention {missing:?}; \
                 the pid was probably reused: delete the pidfile"
            ),
        });
    }
    let what = format!("from {}", pidfile.display());
    signal(pid, libc::SIGTERM, &what)?;
    if !wait_gone(pid, grace) {
        signal(pid, libc::SIGKILL, &what)?;
        wait_gone(pid, Duration::from_secs(5));
    }
    let _ = std::fs::remove_file(pidfile);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_is_alive_and_nonsense_is_not() {
        assert!(pid_alive(std::process::id() as i32));
        assert!(!pid_alive(0));
        assert!(!pid_alive(-5));
        assert!(!pid_alive(i32::MAX));
    }

    #[test]
    fn kills_process_named_in_pidfile() -> Result<()> {
        let tmp = tempfile::tempdir().map_err(|e| LabError::io("tempdir", "/tmp", e))?;
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .map_err(|e| LabError::io("spawn", "sleep", e))?;
        let pidfile = tmp.path().join("x.pid");
        std::fs::write(&pidfile, format!("{}\n", child.id()))
            .map_err(|e| LabError::io("write", &pidfile, e))?;
        assert!(matches!(
            kill_pidfile(&pidfile, &["qemu"], Duration::from_secs(1)),
            Err(LabError::Pidfile { .. })
        ));
        assert!(kill_pidfile(&pidfile, &["sleep"], Duration::from_secs(1))?);
        let _ = child.wait();
        assert!(!pidfile.exists());
        assert!(!kill_pidfile(&pidfile, &[], Duration::from_secs(1))?);
        Ok(())
    }
}

/// What one bounded run printed.
#[derive(Debug)]
pub struct Outcome {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

/// Runs `cmd` with no input, killing it after `limit` (an error then, with what it had
/// said on stderr). Its output is read while it runs, so a chatty command never blocks on
/// a full pipe.
pub fn run_bounded(mut cmd: Command, limit: Duration) -> Result<Outcome> {
    let mut shown = format!("{cmd:?}");
    if shown.len() > 200 {
        let cut = (0..=200)
            .rev()
            .find(|&i| shown.is_char_boundary(i))
            .unwrap_or(0);
        shown.truncate(cut);
        shown.push('…');
    }
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| {
            crate::host_tools::spawn_failed(cmd.get_program(), source, |source| {
                LabError::io("cannot run", cmd.get_program(), source)
            })
        })?;
    let read = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_string(&mut text);
            }
            text
        })
    };
    let out = read(child.stdout.take().map(|p| Box::new(p) as _));
    let err = read(child.stderr.take().map(|p| Box::new(p) as _));
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Some(st),
            Ok(None) if start.elapsed() < limit => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(LabError::io("cannot wait for", cmd.get_program(), e));
            }
        }
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    match status {
        Some(status) => Ok(Outcome {
            status,
            stdout,
            stderr,
            elapsed: start.elapsed(),
        }),
        None => Err(LabError::Tool {
            what: shown,
            stderr: format!(
                "still running after {:.1}s; killed; its last words: {}",
                limit.as_secs_f64(),
                stderr.trim()
            ),
        }),
    }
}

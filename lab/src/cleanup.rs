//! Killing every VM of this process on every exit path.
//!
//! Non-detached VMs register their process-group id here.  A signal
//! thread (installed on first use) catches SIGINT, SIGTERM and SIGHUP,
//! SIGKILLs all registered process groups and then lets the signal take
//! its default effect.  [`Guard`] does the same on drop (e.g. when `main`
//! unwinds from a panic), [`crate::qemu::Vm`]'s own `Drop` covers panics in
//! any thread, and `PR_SET_PDEATHSIG` (set in the child) covers a SIGKILL
//! of the lab process itself.

use std::collections::BTreeSet;
use std::sync::{Mutex, MutexGuard, OnceLock};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::error::{LabError, Result};

fn registry() -> MutexGuard<'static, BTreeSet<i32>> {
    static REG: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());
    REG.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Records a running VM (its pid, which is also its process-group id).
pub fn register(pid: i32) {
    registry().insert(pid);
}

/// Forgets a VM that has been reaped or detached.
pub fn unregister(pid: i32) {
    registry().remove(&pid);
}

/// Pids currently registered.
pub fn registered() -> Vec<i32> {
    registry().iter().copied().collect()
}

/// SIGKILLs every registered VM's process group; returns how many.
pub fn kill_all() -> usize {
    let pids: Vec<i32> = std::mem::take(&mut *registry()).into_iter().collect();
    for &pid in &pids {
        // SAFETY: kill(2) has no memory-safety preconditions; errors
        // (already gone) are irrelevant here.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
            libc::kill(pid, libc::SIGKILL);
        }
    }
    pids.len()
}

/// Installs the SIGINT/SIGTERM/SIGHUP cleanup thread (idempotent).
pub fn install_signal_handlers() -> Result<()> {
    static INSTALLED: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    let r = INSTALLED.get_or_init(|| {
        let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP]).map_err(|e| e.to_string())?;
        std::thread::Builder::new()
            .name("srbuild-lab-signals".into())
            .spawn(move || {
                if let Some(sig) = signals.forever().next() {
                    kill_all();
                    // Let the signal do what it would have done without us.
                    let _ = signal_hook::low_level::emulate_default_handler(sig);
                    std::process::exit(128 + sig);
                }
            })
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    r.clone().map_err(|why| {
        LabError::io(
            "cannot install signal handlers for cleanup of",
            "running VMs",
            std::io::Error::other(why),
        )
    })
}

/// Kills all registered VMs when dropped; create one at the top of a lab
/// run.  Creating it also installs the signal handlers.
#[derive(Debug)]
#[must_use = "the guard kills all VMs when dropped"]
pub struct Guard {
    _private: (),
}

impl Guard {
    /// Installs the signal handlers and returns the guard.
    pub fn new() -> Result<Guard> {
        install_signal_handlers()?;
        Ok(Guard { _private: () })
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        kill_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::{CommandExt, ExitStatusExt};

    #[test]
    fn kill_all_kills_registered_process_groups() -> std::io::Result<()> {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()?;
        let pid = child.id() as i32;
        register(pid);
        assert!(registered().contains(&pid));
        assert!(kill_all() >= 1);
        assert!(!registered().contains(&pid));
        assert_eq!(child.wait()?.signal(), Some(libc::SIGKILL));
        Ok(())
    }
}

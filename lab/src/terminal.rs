//! The host terminal while `lab console` is attached: raw mode, as `virsh console` sets it
//! (every key, Ctrl-C included, goes to the guest, and the guest's answers to cursor
//! queries never land in a typed line), and its settings restored on every way out: the
//! [`RawMode`] guard restores them when dropped (return, error, unwinding panic), and
//! [`restore_on_signals`] restores them before a SIGTERM, SIGHUP, SIGINT or SIGQUIT sent
//! from outside ends the process. [`ESCAPE`] (Ctrl-]) leaves the console.

use rustix::termios::{tcgetattr, tcsetattr, OptionalActions, Termios};
use std::io;
use std::os::fd::{AsFd, BorrowedFd};

/// The byte that leaves the console: Ctrl-], as `virsh console` and telnet use.
pub const ESCAPE: u8 = 0x1d;

/// The keys of `read` to pass to the guest, and whether to leave the console: at
/// [`ESCAPE`] (the keys before it are passed on) or at the end of the input.
pub fn keys_to_pass(read: &[u8]) -> (&[u8], bool) {
    match read.iter().position(|&b| b == ESCAPE) {
        Some(i) => (&read[..i], true),
        None => (read, read.is_empty()),
    }
}

/// A terminal in raw mode; its saved settings are restored when this is dropped.
pub struct RawMode<'fd> {
    fd: BorrowedFd<'fd>,
    saved: Termios,
}

impl<'fd> RawMode<'fd> {
    /// Puts the terminal `fd` in raw mode; `None` when `fd` is not a terminal (input from
    /// a pipe or a file is passed on as it is).
    pub fn enter(fd: BorrowedFd<'fd>) -> io::Result<Option<RawMode<'fd>>> {
        if !rustix::termios::isatty(fd) {
            return Ok(None);
        }
        let saved = tcgetattr(fd)?;
        let mut raw = saved.clone();
        raw.make_raw();
        tcsetattr(fd, OptionalActions::Flush, &raw)?;
        Ok(Some(RawMode { fd, saved }))
    }

    /// The settings to restore, for a signal handler thread.
    pub fn saved(&self) -> Termios {
        self.saved.clone()
    }
}

impl Drop for RawMode<'_> {
    fn drop(&mut self) {
        let _ = tcsetattr(self.fd, OptionalActions::Now, &self.saved);
    }
}

/// Restores `saved` on the terminal `fd` and ends the process with 128 + the signal when
/// SIGTERM, SIGHUP, SIGINT or SIGQUIT arrives (raw mode turns the keys off, so these come
/// from outside: `kill`, a closed terminal window).
pub fn restore_on_signals(fd: impl AsFd + Send + 'static, saved: Termios) -> io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGHUP, SIGINT, SIGQUIT])?;
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            let _ = tcsetattr(fd.as_fd(), OptionalActions::Now, &saved);
            eprintln!("\r\nlab: console left (signal {sig}); terminal restored");
            std::process::exit(128 + sig);
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::fs::{open, Mode, OFlags};
    use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
    use rustix::termios::LocalModes;

    fn modes(t: &Termios) -> (u32, u32, u32, u32) {
        (
            t.input_modes.bits(),
            t.output_modes.bits(),
            t.control_modes.bits(),
            t.local_modes.bits(),
        )
    }

    #[test]
    fn raw_mode_on_a_pty_is_undone_when_the_guard_goes() {
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).unwrap();
        grantpt(&master).unwrap();
        unlockpt(&master).unwrap();
        let name = ptsname(&master, Vec::new()).unwrap();
        let slave = open(
            name.as_c_str(),
            OFlags::RDWR | OFlags::NOCTTY,
            Mode::empty(),
        )
        .unwrap();
        let before = tcgetattr(&slave).unwrap();
        assert!(before
            .local_modes
            .contains(LocalModes::ICANON | LocalModes::ECHO));
        {
            let guard = RawMode::enter(slave.as_fd())
                .unwrap()
                .expect("a pty is a terminal");
            let raw = tcgetattr(&slave).unwrap();
            assert!(!raw
                .local_modes
                .intersects(LocalModes::ICANON | LocalModes::ECHO | LocalModes::ISIG));
            assert_eq!(modes(&guard.saved()), modes(&before));
        }
        assert_eq!(modes(&tcgetattr(&slave).unwrap()), modes(&before));
        // An error return or a panic drops the guard as well.
        let result = std::panic::catch_unwind(|| {
            let _guard = RawMode::enter(slave.as_fd()).unwrap();
            panic!("the console failed");
        });
        assert!(result.is_err());
        assert_eq!(modes(&tcgetattr(&slave).unwrap()), modes(&before));
    }

    #[test]
    fn ctrl_close_bracket_leaves_and_everything_else_goes_to_the_guest() {
        assert_eq!(keys_to_pass(b"ls\r\x03\x04"), (&b"ls\r\x03\x04"[..], false));
        assert_eq!(keys_to_pass(b"ab\x1dcd"), (&b"ab"[..], true));
        assert_eq!(keys_to_pass(b""), (&b""[..], true));
    }

    #[test]
    fn what_is_not_a_terminal_is_left_alone() {
        let f = tempfile::tempfile().unwrap();
        assert!(RawMode::enter(f.as_fd()).unwrap().is_none());
    }
}

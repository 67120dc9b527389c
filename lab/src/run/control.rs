//! A cluster left running by `lab up`: its networks (hub threads for `lab test`, detached
//! hub processes for `lab up`; one per segment), the state file naming its nodes, and `status`, `console` and
//! `down`.

use crate::error::{LabError, Result};
use crate::run::LabOptions;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

const STATE: &str = "lab.state";

/// Where a lab directory's hub sockets live: short, under /tmp, derived from the directory
/// so that `status` and `down` find them again.
pub fn net_dir(dir: &Path) -> PathBuf {
    let abs = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mut h: u64 = 0xcbf29ce484222325;
    for b in abs.to_string_lossy().bytes() {
        h = (h ^ b as u64).wrapping_mul(0x100000001b3);
    }
    std::env::temp_dir().join(format!("srbuild-lab-{h:016x}"))
}

/// The lab's L2 segments: the first hub's directory holds the others' ([`crate::segments`]).
pub enum Net {
    Thread(Vec<crate::hub::HubHandle>, PathBuf),
    Daemon(PathBuf, usize),
}

impl Net {
    /// Starts `segments` hubs (at least one).
    pub fn start(opts: &LabOptions, segments: usize) -> Result<Net> {
        let dir = net_dir(&opts.dir);
        let dirs = crate::segments::dirs(&dir, segments);
        for d in dirs.iter().rev() {
            let _ = crate::hub::kill_from_pidfile(d);
        }
        if !opts.detached {
            let mut hubs = Vec::new();
            for d in &dirs {
                std::fs::create_dir_all(d).map_err(|e| LabError::io("cannot create", d, e))?;
                hubs.push(crate::hub::spawn_thread(d)?);
            }
            return Ok(Net::Thread(hubs, dir));
        }
        let net = Net::Daemon(dir, dirs.len());
        for d in &dirs {
            start_daemon(d)?;
        }
        Ok(net)
    }
    pub fn dir(&self) -> &Path {
        match self {
            Net::Thread(_, d) | Net::Daemon(d, _) => d,
        }
    }

    /// What the hubs delivered so far, every segment's together (`None`: a daemon hub,
    /// whose counts stay in its own process).
    pub fn traffic(&self) -> Option<crate::hub::Traffic> {
        match self {
            Net::Thread(hubs, _) => {
                let mut all = crate::hub::Traffic::default();
                for h in hubs {
                    all.merge(&h.traffic());
                }
                Some(all)
            }
            Net::Daemon(..) => None,
        }
    }

    /// Leaves a daemon hub running (a thread hub stops with the process).
    pub fn detach(self) {
        std::mem::forget(self);
    }
}

impl Drop for Net {
    /// A thread hub's sockets are removed; a daemon hub that was not detached (a `lab up`
    /// that failed) is stopped.
    fn drop(&mut self) {
        match self {
            Net::Thread(_, d) => {
                let _ = std::fs::remove_dir_all(d);
            }
            Net::Daemon(d, n) => {
                for s in crate::segments::dirs(d, *n).iter().rev() {
                    let _ = crate::hub::kill_from_pidfile(s);
                }
            }
        }
    }
}

/// A hub that outlives this process in `dir`: `srbuild lab hub DIR`.
fn start_daemon(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| LabError::io("cannot create", dir, e))?;
    let exe = std::env::current_exe()
        .map_err(|e| LabError::io("cannot find srbuild itself", "/proc/self/exe", e))?;
    let log = srbuild_fsio::open_append(&dir.join("hub.log"), 0o644)
        .and_then(|f| f.set_len(0).map(|()| f))
        .map_err(|e| LabError::io("cannot create", dir.join("hub.log"), e))?;
    use std::os::unix::process::CommandExt;
    std::process::Command::new(exe)
        .args(["lab", "hub"])
        .arg(dir)
        .stdin(std::process::Stdio::null())
        .stdout(
            log.try_clone()
                .map_err(|e| LabError::io("hub log", dir, e))?,
        )
        .stderr(log)
        .process_group(0)
        .spawn()
        .map_err(|e| LabError::io("cannot start the hub for", dir, e))?;
    let sock = crate::hub::hub_socket(dir);
    for _ in 0..50 {
        if sock.exists() {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Err(LabError::Invalid(format!(
        "the lab hub did not start; see {}",
        dir.join("hub.log").display()
    )))
}

/// `<dir>/lab.state`: one line per node, `name address log`.
#[derive(Debug, Default)]
pub struct State {
    pub nodes: Vec<(String, String, PathBuf)>,
}

impl State {
    pub fn save(&self, dir: &Path) -> Result<()> {
        let text: String = self
            .nodes
            .iter()
            .map(|(n, ip, log)| format!("{n} {ip} {}\n", log.display()))
            .collect();
        let p = dir.join(STATE);
        srbuild_fsio::write_file(&p, text.as_bytes(), 0o644, None)
            .map_err(|e| LabError::io("cannot write", &p, e))
    }

    pub fn load(dir: &Path) -> Result<State> {
        let p = dir.join(STATE);
        let text = std::fs::read_to_string(&p).map_err(|_| {
            LabError::Invalid(format!(
                "no running lab in {} (no {STATE}); start one with `srbuild lab up`",
                dir.display()
            ))
        })?;
        let nodes = text
            .lines()
            .filter_map(|l| {
                let mut w = l.splitn(3, ' ');
                Some((
                    w.next()?.to_string(),
                    w.next()?.to_string(),
                    PathBuf::from(w.next()?),
                ))
            })
            .collect();
        Ok(State { nodes })
    }
}

/// `lab status`: each node, whether its QEMU runs, and its last console line.
pub fn status(dir: &Path) -> Result<String> {
    let state = State::load(dir)?;
    let mut out = format!(
        "{:<8} {:<12} {:<8} {}\n",
        "NODE", "ADDRESS", "QEMU", "LAST CONSOLE LINE"
    );
    for (name, ip, log) in &state.nodes {
        let node_dir = log.parent().unwrap_or(dir);
        let running = crate::process::read_pidfile(&node_dir.join(crate::qemu::PIDFILE))
            .map(crate::process::pid_alive)
            .unwrap_or(false);
        let last = crate::report::last_lines(log, 1).pop().unwrap_or_default();
        out.push_str(&status_row(name, ip, running, &last));
    }
    let hub = crate::process::read_pidfile(&net_dir(dir).join(crate::hub::HUB_PIDFILE))
        .map(crate::process::pid_alive)
        .unwrap_or(false);
    out.push_str(&format!(
        "hub: {}\n",
        if hub { "running" } else { "stopped" }
    ));
    Ok(out)
}

/// One row of `lab status`. The console line is the guest's output: escaped as errors are,
/// so a guest cannot send escape sequences (`ESC[6n`, colours, a cleared screen) or bidi
/// overrides to the admin's terminal.
fn status_row(name: &str, ip: &str, running: bool, last: &str) -> String {
    format!(
        "{name:<8} {ip:<12} {:<8} {}\n",
        if running { "running" } else { "stopped" },
        srbuild_archive::one_line(last)
    )
}

/// `lab down`: stops every node and the hub; returns how many QEMUs were stopped.
pub fn down(dir: &Path) -> Result<usize> {
    let state = State::load(dir)?;
    let mut n = 0;
    for (_, _, log) in &state.nodes {
        if let Some(node_dir) = log.parent() {
            if crate::qemu::kill_from_pidfile(node_dir)? {
                n += 1;
            }
        }
    }
    // Every segment's hub: the first one's directory holds the others'.
    for seg in (1..crate::segments::MAX_SEGMENTS).map(|k| crate::segments::dir(&net_dir(dir), k)) {
        if seg.is_dir() {
            crate::hub::kill_from_pidfile(&seg)?;
        }
    }
    crate::hub::kill_from_pidfile(&net_dir(dir))?;
    let _ = std::fs::remove_dir_all(net_dir(dir));
    let _ = std::fs::remove_file(dir.join(STATE));
    Ok(n)
}

/// `lab console NODE`: attaches the terminal to the node's serial console until EOF.
pub fn console(dir: &Path, node: &str) -> Result<()> {
    let state = State::load(dir)?;
    let Some((_, _, log)) = state.nodes.iter().find(|(n, _, _)| n == node) else {
        let known: Vec<&str> = state.nodes.iter().map(|(n, _, _)| n.as_str()).collect();
        return Err(LabError::Invalid(format!(
            "no node '{node}' in this lab; nodes: {}",
            known.join(", ")
        )));
    };
    let sock = log.parent().unwrap_or(dir).join(crate::qemu::CONSOLE_SOCK);
    let mut s = std::os::unix::net::UnixStream::connect(&sock)
        .map_err(|e| LabError::io("cannot attach to the console", &sock, e))?;
    eprintln!(
        "lab: attached to {node}'s console ({}); Ctrl-] to leave",
        sock.display()
    );
    let mut w = s
        .try_clone()
        .map_err(|e| LabError::io("console", &sock, e))?;
    // Raw mode until this function returns, however it returns.
    let stdin = std::io::stdin();
    let raw = crate::terminal::RawMode::enter(stdin.as_fd())
        .map_err(|e| LabError::io("cannot put the terminal in raw mode", "/dev/stdin", e))?;
    if let Some(raw) = &raw {
        crate::terminal::restore_on_signals(std::io::stdin(), raw.saved())
            .map_err(|e| LabError::io("cannot watch for signals", "/dev/stdin", e))?;
    }
    std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        let mut stdin = std::io::stdin();
        while let Ok(n) = stdin.read(&mut buf) {
            let (keys, leave) = crate::terminal::keys_to_pass(&buf[..n]);
            if w.write_all(keys).is_err() || leave {
                break;
            }
        }
        let _ = w.shutdown(std::net::Shutdown::Both);
    });
    let mut out = std::io::stdout();
    let mut buf = [0u8; 4096];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 || out.write_all(&buf[..n]).is_err() {
            break;
        }
        let _ = out.flush();
    }
    drop(raw);
    eprintln!("\nlab: left {node}'s console");
    Ok(())
}

#[cfg(test)]
mod status_tests {
    #[test]
    fn a_guest_console_line_reaches_the_terminal_escaped() {
        let row = super::status_row("node1", "10.0.0.1", true, "/ # \x1b[6n\u{202e}x\r");
        assert_eq!(
            row,
            "node1    10.0.0.1     running  / # \\033[6n\\u{202e}x\\r\n"
        );
        assert!(!row.contains('\x1b'));
    }
}

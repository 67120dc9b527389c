//! A user-space Ethernet hub joining QEMU nodes into one L2 segment.
//!
//! Each QEMU NIC uses `-netdev dgram` with a local unix datagram socket
//! `<dir>/<node>.eth<i>.sock` and the remote `<dir>/hub.sock`.  The hub
//! binds `hub.sock`, learns source MACs per sender socket and behaves as a
//! learning switch: unicast to a learned port, flood broadcast, multicast
//! and unknown destinations.  Ports are learned from received frames and by
//! scanning `<dir>` for node sockets, so a node that has not transmitted
//! yet still receives floods.  No root, no host interfaces, no traffic
//! leaves the lab directory.  Sends are non-blocking: if a node's queue is
//! full the frame is dropped, as a congested switch would.
//!
//! The hub counts what it delivers, frames and bytes per (sending node, receiving node)
//! ([`Traffic`]): `lab test` writes them into `<dir>/traffic.tsv`, what a boot storm
//! measures as the bytes a server served.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::{LabError, Result};
use crate::process;

/// File name of the hub's socket inside the lab directory.
pub const HUB_SOCKET: &str = "hub.sock";
/// File name of a detached hub's pidfile inside the lab directory.
pub const HUB_PIDFILE: &str = "hub.pid";
/// Longest path a unix socket address can hold (`sun_path` minus NUL).
pub const MAX_SOCKET_PATH: usize = 107;

const POLL_MS: i32 = 200;
const RESCAN: Duration = Duration::from_secs(1);
const MAC_AGE: Duration = Duration::from_secs(300);

/// Path of the hub socket in `dir`.
pub fn hub_socket(dir: &Path) -> PathBuf {
    dir.join(HUB_SOCKET)
}

/// Path of the datagram socket of NIC `index` of `node` in `dir`.
pub fn node_socket(dir: &Path, node: &str, index: usize) -> PathBuf {
    dir.join(format!("{node}.eth{index}.sock"))
}

/// Errors unless `path` fits in a unix socket address.
pub fn check_socket_path(path: &Path) -> Result<()> {
    let len = path.as_os_str().len();
    if len > MAX_SOCKET_PATH {
        return Err(LabError::SocketPathTooLong {
            path: path.to_path_buf(),
            len,
            max: MAX_SOCKET_PATH,
        });
    }
    Ok(())
}

fn is_node_socket_name(name: &str) -> bool {
    name.strip_suffix(".sock")
        .and_then(|s| s.rsplit_once(".eth"))
        .is_some_and(|(node, idx)| {
            !node.is_empty() && !idx.is_empty() && idx.bytes().all(|b| b.is_ascii_digit())
        })
}

/// The node a port's socket belongs to: `server` for `<dir>/server.eth0.sock`.
fn port_node(port: &Path) -> String {
    let name = port
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match name
        .strip_suffix(".sock")
        .and_then(|s| s.rsplit_once(".eth"))
    {
        Some((node, _)) => node.to_string(),
        None => name,
    }
}

/// Frames and bytes (whole Ethernet frames, without preamble or FCS) the hub delivered,
/// per (sending node, receiving node). A flooded frame counts once per port it reached.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Traffic {
    pub pairs: BTreeMap<(String, String), (u64, u64)>,
}

impl Traffic {
    fn count(&mut self, from: &str, to: &str, bytes: usize) {
        let e = self
            .pairs
            .entry((from.to_string(), to.to_string()))
            .or_default();
        e.0 += 1;
        e.1 += bytes as u64;
    }

    /// Adds `other`'s counts (another segment's hub).
    pub fn merge(&mut self, other: &Traffic) {
        for (k, (f, b)) in &other.pairs {
            let e = self.pairs.entry(k.clone()).or_default();
            e.0 += f;
            e.1 += b;
        }
    }

    /// `from<TAB>to<TAB>frames<TAB>bytes` lines under a header, one per pair.
    pub fn tsv(&self) -> String {
        let mut s = String::from("from\tto\tframes\tbytes\n");
        for ((from, to), (frames, bytes)) in &self.pairs {
            s.push_str(&format!("{from}\t{to}\t{frames}\t{bytes}\n"));
        }
        s
    }
}

/// A bound hub socket; call [`Hub::run`] to forward frames.
#[derive(Debug)]
pub struct Hub {
    sock: UnixDatagram,
    dir: PathBuf,
    path: PathBuf,
    traffic: Arc<Mutex<Traffic>>,
}

impl Hub {
    /// Binds `<dir>/hub.sock` (creating `dir`).  A stale socket left by a
    /// dead hub is replaced; a live one is an error.
    pub fn bind(dir: &Path) -> Result<Hub> {
        std::fs::create_dir_all(dir)
            .map_err(|e| LabError::io("cannot create lab directory", dir, e))?;
        let path = hub_socket(dir);
        check_socket_path(&path)?;
        if path.exists() {
            let probe = UnixDatagram::unbound()
                .map_err(|e| LabError::io("cannot create socket for", &path, e))?;
            if probe.connect(&path).is_ok() {
                return Err(LabError::HubBind {
                    path,
                    source: io::Error::from(io::ErrorKind::AddrInUse),
                });
            }
            std::fs::remove_file(&path)
                .map_err(|e| LabError::io("cannot remove stale hub socket", &path, e))?;
        }
        let sock = UnixDatagram::bind(&path).map_err(|source| LabError::HubBind {
            path: path.clone(),
            source,
        })?;
        sock.set_nonblocking(true)
            .map_err(|source| LabError::HubBind {
                path: path.clone(),
                source,
            })?;
        Ok(Hub {
            sock,
            dir: dir.to_path_buf(),
            path,
            traffic: Arc::default(),
        })
    }

    /// Path of the bound hub socket.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Forwards frames until `stop` becomes true (checked every 200 ms).
    pub fn run(&self, stop: &AtomicBool) {
        let mut sw = Switch::default();
        let mut buf = vec![0u8; 65536];
        let mut last_scan: Option<Instant> = None;
        while !stop.load(Ordering::Relaxed) {
            if last_scan.is_none_or(|t| t.elapsed() >= RESCAN) {
                self.scan(&mut sw);
                last_scan = Some(Instant::now());
            }
            if !self.wait_readable() {
                continue;
            }
            loop {
                match self.sock.recv_from(&mut buf) {
                    Ok((n, addr)) => {
                        let from = addr.as_pathname().map(Path::to_path_buf);
                        self.forward(&mut sw, &buf[..n], from);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(50));
                        break;
                    }
                }
            }
        }
    }

    fn wait_readable(&self) -> bool {
        let mut pfd = libc::pollfd {
            fd: self.sock.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for a socket we own, for the duration of the call.
        let n = unsafe { libc::poll(&mut pfd, 1, POLL_MS) };
        n > 0
    }

    fn scan(&self, sw: &mut Switch) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let is_sock = entry.file_type().is_ok_and(|t| t.is_socket());
            let name = entry.file_name();
            if is_sock && name.to_str().is_some_and(is_node_socket_name) {
                sw.ports.entry(entry.path()).or_insert(());
            }
        }
    }

    fn forward(&self, sw: &mut Switch, frame: &[u8], from: Option<PathBuf>) {
        if frame.len() < 14 {
            return;
        }
        let mut dst = [0u8; 6];
        dst.copy_from_slice(&frame[..6]);
        let mut src = [0u8; 6];
        src.copy_from_slice(&frame[6..12]);
        if let Some(from) = &from {
            sw.ports.entry(from.clone()).or_insert(());
            if src[0] & 1 == 0 {
                sw.macs.insert(src, (from.clone(), Instant::now()));
            }
        }
        let learned = if dst[0] & 1 == 0 {
            sw.macs
                .get(&dst)
                .filter(|(_, seen)| seen.elapsed() < MAC_AGE)
                .map(|(p, _)| p.clone())
        } else {
            None
        };
        let targets: Vec<PathBuf> = match learned {
            Some(p) if Some(&p) == from.as_ref() => Vec::new(),
            Some(p) => vec![p],
            None => sw
                .ports
                .keys()
                .filter(|p| Some(*p) != from.as_ref())
                .cloned()
                .collect(),
        };
        let sender = from.as_deref().map(port_node).unwrap_or_default();
        let mut traffic = self.traffic.lock().unwrap_or_else(|e| e.into_inner());
        for t in targets {
            match self.sock.send_to(frame, &t) {
                Ok(_) => traffic.count(&sender, &port_node(&t), frame.len()),
                Err(e) => {
                    let gone = matches!(
                        e.raw_os_error(),
                        Some(libc::ECONNREFUSED) | Some(libc::ENOENT) | Some(libc::ENOTSOCK)
                    );
                    if gone {
                        sw.forget(&t);
                    }
                }
            }
        }
    }
}

#[derive(Default)]
struct Switch {
    ports: HashMap<PathBuf, ()>,
    macs: HashMap<[u8; 6], (PathBuf, Instant)>,
}

impl Switch {
    fn forget(&mut self, port: &Path) {
        self.ports.remove(port);
        self.macs.retain(|_, (p, _)| p != port);
    }
}

/// A hub running in a background thread; stops, joins and removes its
/// socket when dropped.
#[derive(Debug)]
pub struct HubHandle {
    stop: Arc<AtomicBool>,
    traffic: Arc<Mutex<Traffic>>,
    thread: Option<JoinHandle<()>>,
    dir: PathBuf,
    path: PathBuf,
}

impl HubHandle {
    /// The lab directory the hub serves (pass it to [`crate::qemu::command`]).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The hub socket.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the hub delivered so far.
    pub fn traffic(&self) -> Traffic {
        self.traffic
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Drop for HubHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Binds a hub in `dir` and runs it on a background thread.
pub fn spawn_thread(dir: &Path) -> Result<HubHandle> {
    let hub = Hub::bind(dir)?;
    let path = hub.path.clone();
    let traffic = Arc::clone(&hub.traffic);
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let thread = std::thread::Builder::new()
        .name("srbuild-lab-hub".into())
        .spawn(move || hub.run(&flag))
        .map_err(|e| LabError::io("cannot start hub thread for", &path, e))?;
    Ok(HubHandle {
        stop,
        traffic,
        thread: Some(thread),
        dir: dir.to_path_buf(),
        path,
    })
}

/// Runs a hub in `dir` in the foreground until SIGTERM/SIGINT/SIGHUP, for
/// a detached `srbuild lab hub DIR`.  Writes `<dir>/hub.pid` and removes it
/// and the socket on the way out.
pub fn run_forever(dir: &Path) -> Result<()> {
    let hub = Hub::bind(dir)?;
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .map_err(|e| LabError::io("cannot install signal handler for hub", hub.path(), e))?;
    }
    let pidfile = dir.join(HUB_PIDFILE);
    srbuild_fsio::write_file(
        &pidfile,
        format!("{}\n", std::process::id()).as_bytes(),
        0o644,
        None,
    )
    .map_err(|e| LabError::io("cannot write hub pidfile", &pidfile, e))?;
    hub.run(&stop);
    let _ = std::fs::remove_file(hub.path());
    let _ = std::fs::remove_file(&pidfile);
    Ok(())
}

/// Stops a detached hub started by [`run_forever`] in `dir`; `Ok(false)`
/// if none was running.
pub fn kill_from_pidfile(dir: &Path) -> Result<bool> {
    let killed = process::kill_pidfile(&dir.join(HUB_PIDFILE), &["hub"], Duration::from_secs(1))?;
    let _ = std::fs::remove_file(hub_socket(dir));
    Ok(killed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(dst: [u8; 6], src: [u8; 6], payload: &[u8]) -> Vec<u8> {
        let mut f = dst.to_vec();
        f.extend(src);
        f.extend([0x88, 0xB5]);
        f.extend(payload);
        f
    }

    fn recv(sock: &UnixDatagram) -> Option<Vec<u8>> {
        let mut buf = [0u8; 2048];
        sock.set_read_timeout(Some(Duration::from_millis(500)))
            .ok()?;
        sock.recv(&mut buf).ok().map(|n| buf[..n].to_vec())
    }

    #[test]
    fn names_node_sockets() {
        assert!(is_node_socket_name("n1.eth0.sock"));
        assert!(is_node_socket_name("a.b.eth12.sock"));
        assert!(!is_node_socket_name("hub.sock"));
        assert!(!is_node_socket_name("console.sock"));
        assert!(!is_node_socket_name(".eth0.sock"));
        assert!(!is_node_socket_name("n1.ethx.sock"));
    }

    #[test]
    fn floods_then_switches_unicast() -> Result<()> {
        let tmp = tempfile::tempdir().map_err(|e| LabError::io("tempdir", "/tmp", e))?;
        let dir = tmp.path();
        let hub = spawn_thread(dir)?;
        let bind = |n: &str| {
            UnixDatagram::bind(node_socket(dir, n, 0)).map_err(|e| LabError::io("bind", dir, e))
        };
        let (a, b, c) = (bind("a")?, bind("b")?, bind("c")?);
        // Let the hub discover all three ports by scanning.
        std::thread::sleep(Duration::from_millis(1300));
        let (ma, mb) = ([2, 0, 0, 0, 0, 0xa], [2, 0, 0, 0, 0, 0xb]);
        let bcast = frame([0xff; 6], ma, b"hello");
        a.send_to(&bcast, hub.path())
            .map_err(|e| LabError::io("send", dir, e))?;
        assert_eq!(recv(&b).as_deref(), Some(&bcast[..]));
        assert_eq!(recv(&c).as_deref(), Some(&bcast[..]));
        // b answers a by unicast: a's MAC is learned, so c must not see it.
        let reply = frame(ma, mb, b"reply");
        b.send_to(&reply, hub.path())
            .map_err(|e| LabError::io("send", dir, e))?;
        assert_eq!(recv(&a).as_deref(), Some(&reply[..]));
        assert_eq!(recv(&c), None);
        // Counted per delivery: the flood once to b and once to c, the reply to a only.
        let t = hub.traffic();
        let n = bcast.len() as u64;
        assert_eq!(t.pairs.get(&("a".into(), "b".into())), Some(&(1, n)));
        assert_eq!(t.pairs.get(&("a".into(), "c".into())), Some(&(1, n)));
        let r = reply.len() as u64;
        assert_eq!(t.pairs.get(&("b".into(), "a".into())), Some(&(1, r)));
        assert_eq!(t.pairs.len(), 3, "{t:?}");
        assert!(t.tsv().contains(&format!("b\ta\t1\t{r}\n")), "{}", t.tsv());
        // Too-short frames are dropped.
        a.send_to(b"tiny", hub.path())
            .map_err(|e| LabError::io("send", dir, e))?;
        assert_eq!(recv(&b), None);
        drop(hub);
        assert!(!hub_socket(dir).exists());
        Ok(())
    }

    #[test]
    fn refuses_second_live_hub() -> Result<()> {
        let tmp = tempfile::tempdir().map_err(|e| LabError::io("tempdir", "/tmp", e))?;
        let _first = spawn_thread(tmp.path())?;
        assert!(matches!(
            Hub::bind(tmp.path()),
            Err(LabError::HubBind { .. })
        ));
        Ok(())
    }
}

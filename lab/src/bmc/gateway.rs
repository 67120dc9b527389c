//! The lab's BMC gateway (design option A, `docs/fencing-design.md`): the lab process joins
//! the hub as one more port (`bmc-gateway.eth0.sock`, a locally administered MAC), answers
//! ARP for each BMC address and relays UDP port 623 between the node that asked and that
//! BMC's `ipmi_sim` on 127.0.0.1, through one host UDP socket per (client, BMC) pair so
//! that each reply goes back to its asker. RMCP+ Open Session requests that
//! [`super::rmcp::refuse`] rejects (cipher suite 0) never reach the BMC. A BMC switched
//! "down" gets nothing, not even ARP, as a BMC without power. Each BMC's `gateway.log`
//! says who asked, when, and what came of it; [`Gateway::stats`] counts the same.

use std::collections::HashMap;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Instant, SystemTime};

use super::frame::{self, Mac};
use crate::error::{LabError, Result};
use crate::hub;

/// The gateway's MAC on the hub (locally administered, unicast).
pub const MAC: Mac = [0x02, 0x00, 0x00, 0x77, 0x00, 0xc8];
/// The gateway's node name on the hub (its socket is `bmc-gateway.eth0.sock`).
pub const PORT_NAME: &str = "bmc-gateway";
/// IPMI over LAN (RMCP).
pub const IPMI_PORT: u16 = 623;
/// At most this many (client, BMC) relays are kept; the longest idle goes first.
const MAX_RELAYS: usize = 64;
const POLL_MS: i32 = 100;
/// How many session times [`BmcStats`] keeps.
pub const MAX_SESSION_TIMES: usize = 256;

/// One BMC the gateway serves.
#[derive(Debug, Clone)]
pub struct GatewayBmc {
    pub node: String,
    /// Its address on the lab network.
    pub address: Ipv4Addr,
    /// Its `ipmi_sim` LAN socket on 127.0.0.1.
    pub lan: SocketAddrV4,
    /// Its `gateway.log`.
    pub log: PathBuf,
}

/// What the gateway did for one BMC.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BmcStats {
    /// Datagrams passed to the BMC, and replies passed back.
    pub to_bmc: u64,
    pub from_bmc: u64,
    /// RMCP+ Open Session requests passed on.
    pub opens: u64,
    /// Sessions the BMC accepted (RAKP message 4 with status 0: the credentials were right).
    pub sessions: u64,
    /// Logins that failed: a RAKP message with a non-zero status, from the BMC (2, 4) or
    /// from the client (3).
    pub rejected: u64,
    /// Open Session requests dropped by [`super::rmcp::refuse`].
    pub refused: u64,
    /// Datagrams and ARP requests dropped because the BMC was down.
    pub dropped_down: u64,
    /// When each accepted session began (the last [`MAX_SESSION_TIMES`]).
    pub session_times: Vec<SystemTime>,
}

struct Bmc {
    spec: GatewayBmc,
    log: std::fs::File,
    down: Arc<AtomicBool>,
}

struct Relay {
    sock: UdpSocket,
    client_mac: Mac,
    last: Instant,
}

type Stats = Arc<Mutex<Vec<BmcStats>>>;

/// The running gateway; stopped, joined and its socket removed on drop.
#[derive(Debug)]
pub struct Gateway {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    path: PathBuf,
    nodes: Vec<String>,
    down: Vec<Arc<AtomicBool>>,
    stats: Stats,
}

impl Gateway {
    /// Binds the gateway's port in the hub directory `hub_dir` and relays for `bmcs` on a
    /// background thread. Announces each BMC address once (gratuitous ARP).
    pub fn start(hub_dir: &Path, bmcs: Vec<GatewayBmc>) -> Result<Gateway> {
        let path = hub::node_socket(hub_dir, PORT_NAME, 0);
        hub::check_socket_path(&path)?;
        if path.exists() {
            std::fs::remove_file(&path)
                .map_err(|e| LabError::io("cannot remove stale gateway socket", &path, e))?;
        }
        let sock = UnixDatagram::bind(&path)
            .map_err(|e| LabError::io("cannot bind the BMC gateway's socket", &path, e))?;
        sock.set_nonblocking(true)
            .map_err(|e| LabError::io("cannot set up", &path, e))?;
        let mut state = Vec::new();
        for b in bmcs {
            // A run's log only: one left by an earlier run in the same directory is emptied.
            let mut log = srbuild_fsio::open_append(&b.log, 0o644)
                .and_then(|f| f.set_len(0).map(|()| f))
                .map_err(|e| LabError::io("cannot create", &b.log, e))?;
            let _ = writeln!(
                log,
                "{} gateway up: BMC of {} at {}:{IPMI_PORT} -> ipmi_sim {}",
                timestamp(SystemTime::now()),
                b.node,
                b.address,
                b.lan
            );
            state.push(Bmc {
                spec: b,
                log,
                down: Arc::new(AtomicBool::new(false)),
            });
        }
        let stats: Stats = Arc::new(Mutex::new(vec![BmcStats::default(); state.len()]));
        let stop = Arc::new(AtomicBool::new(false));
        let nodes = state.iter().map(|b| b.spec.node.clone()).collect();
        let down = state.iter().map(|b| b.down.clone()).collect();
        let mut relay = Relayer {
            sock,
            hub: hub::hub_socket(hub_dir),
            bmcs: state,
            relays: HashMap::new(),
            stats: stats.clone(),
            ip_id: 0,
        };
        for b in &relay.bmcs {
            let _ = relay
                .sock
                .send_to(&frame::gratuitous_arp(MAC, b.spec.address), &relay.hub);
        }
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("srbuild-lab-bmc-gateway".into())
            .spawn(move || relay.run(&flag))
            .map_err(|e| LabError::io("cannot start the BMC gateway thread for", &path, e))?;
        Ok(Gateway {
            stop,
            thread: Some(thread),
            path,
            nodes,
            down,
            stats,
        })
    }

    /// The gateway's socket on the hub.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn index(&self, node: &str) -> Result<usize> {
        self.nodes.iter().position(|n| n == node).ok_or_else(|| {
            LabError::Invalid(format!(
                "the BMC gateway serves no BMC of node {node}; it serves: {}",
                self.nodes.join(", ")
            ))
        })
    }

    /// Switches `node`'s BMC off the network (`true`: its traffic is dropped) or back on.
    pub fn set_down(&self, node: &str, down: bool) -> Result<()> {
        let i = self.index(node)?;
        self.down[i].store(down, Ordering::Relaxed);
        Ok(())
    }

    /// What the gateway did for `node`'s BMC so far.
    pub fn stats(&self, node: &str) -> Result<BmcStats> {
        let i = self.index(node)?;
        let s = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        Ok(s[i].clone())
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

struct Relayer {
    sock: UnixDatagram,
    hub: PathBuf,
    bmcs: Vec<Bmc>,
    /// Keyed by the client's address and the BMC's index.
    relays: HashMap<(SocketAddrV4, usize), Relay>,
    stats: Stats,
    ip_id: u16,
}

/// What an RMCP+ datagram is, for the log: its payload type and, for the RAKP messages
/// that end a login, the status code.
fn rmcpp_kind(d: &[u8]) -> Option<(u8, Option<u8>)> {
    let rmcpp = d.len() > 5 && d[0] == 0x06 && d[3] & 0x1f == 0x07 && d[4] == 0x06;
    // Payload: after the 4-byte RMCP header and the 12-byte session header; byte 1 of
    // RAKP message 2 and 4 (and the Open Session response) is the status code.
    rmcpp.then(|| (d[5] & 0x3f, d.get(17).copied()))
}

impl Relayer {
    fn run(&mut self, stop: &AtomicBool) {
        let mut buf = vec![0u8; 65536];
        while !stop.load(Ordering::Relaxed) {
            let keys: Vec<(SocketAddrV4, usize)> = self.relays.keys().copied().collect();
            let mut fds = vec![libc::pollfd {
                fd: self.sock.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            }];
            fds.extend(keys.iter().map(|k| libc::pollfd {
                fd: self.relays[k].sock.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            }));
            // SAFETY: `fds` is a valid array of pollfds for sockets we own, for the call.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, POLL_MS) };
            if n <= 0 {
                continue;
            }
            if fds[0].revents != 0 {
                while let Ok(len) = self.sock.recv(&mut buf) {
                    self.on_hub_frame(&buf[..len]);
                }
            }
            for (k, fd) in keys.iter().zip(&fds[1..]) {
                if fd.revents != 0 {
                    self.on_bmc_reply(*k, &mut buf);
                }
            }
        }
    }

    fn bmc_at(&self, ip: Ipv4Addr) -> Option<usize> {
        self.bmcs.iter().position(|b| b.spec.address == ip)
    }

    fn log(&mut self, i: usize, client: SocketAddrV4, what: &str) {
        let s = self.stats.lock().unwrap_or_else(|p| p.into_inner())[i].clone();
        let b = &mut self.bmcs[i];
        let _ = writeln!(
            b.log,
            "{} client {client} {what} (to BMC {}, from BMC {}, refused {}, dropped down {})",
            timestamp(SystemTime::now()),
            s.to_bmc,
            s.from_bmc,
            s.refused,
            s.dropped_down
        );
    }

    fn count(&self, i: usize, f: impl FnOnce(&mut BmcStats)) {
        f(&mut self.stats.lock().unwrap_or_else(|p| p.into_inner())[i]);
    }

    fn on_hub_frame(&mut self, f: &[u8]) {
        if let Some(req) = frame::parse_arp_request(f) {
            let Some(i) = self.bmc_at(req.target) else {
                return;
            };
            if self.bmcs[i].down.load(Ordering::Relaxed) {
                self.count(i, |s| s.dropped_down += 1);
                return;
            }
            let _ = self.sock.send_to(&frame::arp_reply(MAC, &req), &self.hub);
            return;
        }
        let Some(u) = frame::parse_udp(f) else {
            return;
        };
        let Some(i) = self.bmc_at(*u.dst.ip()) else {
            return;
        };
        if u.dst.port() != IPMI_PORT {
            return;
        }
        if self.bmcs[i].down.load(Ordering::Relaxed) {
            self.count(i, |s| s.dropped_down += 1);
            self.log(i, u.src, "dropped: the BMC is down");
            return;
        }
        if let Some(why) = super::rmcp::refuse(u.payload) {
            self.count(i, |s| s.refused += 1);
            self.log(i, u.src, &format!("refused an Open Session request: {why}"));
            return;
        }
        let key = (u.src, i);
        if !self.relays.contains_key(&key) {
            match self.new_relay(i, u.src_mac) {
                Ok(r) => {
                    self.relays.insert(key, r);
                }
                Err(e) => {
                    self.log(i, u.src, &format!("dropped: no relay socket ({e})"));
                    return;
                }
            }
        }
        let Some(r) = self.relays.get_mut(&key) else {
            return;
        };
        r.client_mac = u.src_mac;
        r.last = Instant::now();
        if r.sock.send(u.payload).is_err() {
            return;
        }
        self.count(i, |s| s.to_bmc += 1);
        match rmcpp_kind(u.payload) {
            Some((0x10, _)) => {
                self.count(i, |s| s.opens += 1);
                self.log(i, u.src, "open session request passed on");
            }
            // The client found the BMC's RAKP 2 wrong: the password it holds is not the
            // BMC's.
            Some((0x14, Some(st))) if st != 0 => {
                self.count(i, |s| s.rejected += 1);
                self.log(
                    i,
                    u.src,
                    &format!(
                        "login failed: the client rejected RAKP 2 (RAKP 3 status {st:#04x}: \
                         a wrong password?)"
                    ),
                );
            }
            _ => {}
        }
    }

    fn new_relay(&mut self, i: usize, client_mac: Mac) -> std::io::Result<Relay> {
        if self.relays.len() >= MAX_RELAYS {
            if let Some(oldest) = self
                .relays
                .iter()
                .min_by_key(|(_, r)| r.last)
                .map(|(k, _)| *k)
            {
                self.relays.remove(&oldest);
            }
        }
        let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
        sock.connect(self.bmcs[i].spec.lan)?;
        sock.set_nonblocking(true)?;
        Ok(Relay {
            sock,
            client_mac,
            last: Instant::now(),
        })
    }

    fn on_bmc_reply(&mut self, key: (SocketAddrV4, usize), buf: &mut [u8]) {
        let (client, i) = key;
        loop {
            let Some(r) = self.relays.get(&key) else {
                return;
            };
            let client_mac = r.client_mac;
            let n = match r.sock.recv(buf) {
                Ok(n) => n,
                Err(_) => return,
            };
            // A reply while the BMC is "down" is lost, as it would be on a dead link.
            if self.bmcs[i].down.load(Ordering::Relaxed) {
                self.count(i, |s| s.dropped_down += 1);
                continue;
            }
            let src = SocketAddrV4::new(self.bmcs[i].spec.address, IPMI_PORT);
            self.ip_id = self.ip_id.wrapping_add(1);
            let Some(f) = frame::udp_frame(MAC, client_mac, src, client, self.ip_id, &buf[..n])
            else {
                continue;
            };
            if self.sock.send_to(&f, &self.hub).is_err() {
                continue;
            }
            self.count(i, |s| s.from_bmc += 1);
            match rmcpp_kind(&buf[..n]) {
                Some((0x15, Some(0))) => {
                    self.count(i, |s| {
                        s.sessions += 1;
                        // The most recent ones: a fence comes late in a run.
                        if s.session_times.len() >= MAX_SESSION_TIMES {
                            s.session_times.remove(0);
                        }
                        s.session_times.push(SystemTime::now());
                    });
                    self.log(i, client, "session accepted (RAKP 4: credentials right)");
                }
                Some((t @ (0x13 | 0x15), Some(st))) if st != 0 => {
                    self.count(i, |s| s.rejected += 1);
                    let msg = if t == 0x13 { 2 } else { 4 };
                    self.log(
                        i,
                        client,
                        &format!("login rejected by the BMC (RAKP {msg}, status {st:#04x})"),
                    );
                }
                _ => {}
            }
        }
    }
}

/// `t` as RFC 3339 UTC with milliseconds.
pub fn timestamp(t: SystemTime) -> String {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = ((secs / 86400) as i64, secs % 86400);
    // Days to a civil date (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_rfc_3339_utc() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_764_921_600_123);
        assert_eq!(timestamp(t), "2025-12-05T08:00:00.123Z");
        assert_eq!(
            timestamp(SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00.000Z"
        );
    }

    #[test]
    fn rakp_statuses_are_read_from_rmcp_plus_only() {
        let mut d = [0u8; 24];
        d[..6].copy_from_slice(&[0x06, 0x00, 0xff, 0x07, 0x06, 0x15]);
        assert_eq!(rmcpp_kind(&d), Some((0x15, Some(0))));
        d[17] = 0x0d;
        assert_eq!(rmcpp_kind(&d), Some((0x15, Some(0x0d))));
        d[4] = 0x00; // IPMI 1.5 session header
        assert_eq!(rmcpp_kind(&d), None);
        assert_eq!(rmcpp_kind(&d[..3]), None);
    }
}

//! The BMC gateway on a real hub in front of a real `ipmi_sim`, without a guest. A fake
//! node port on the hub sends hand-made frames: ARP for the BMC's lab address, the IPMI
//! spec's "Get Channel Authentication Capabilities" request, RMCP+ Open Session requests
//! with cipher suite 3 (answered) and 0 (dropped), and the same while the BMC is switched
//! down (nothing answers). Then a real `ipmitool -I lanplus -C 3` logs in through the
//! gateway: its datagrams are framed onto the hub by a node-side shim (what a guest's IP
//! stack would do), and the gateway's log names the accepted and the rejected login.
//! Last, the same path powers off a tiny TCG QEMU wired to the BMC: the process exits.
//! Missing tools fail the tests, naming `cargo xtask deps`.

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use srbuild_lab::bmc::frame::{self, Mac};
use srbuild_lab::bmc::gateway::{Gateway, GatewayBmc, MAC};
use srbuild_lab::bmc::{self, ipmitool, BmcSim};
use srbuild_lab::hub;
use srbuild_lab::timeout::scaled;

type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

const NODE_MAC: Mac = [0x52, 0x54, 0x00, 0x77, 0x00, 0x11];
const NODE_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 11);
const BMC_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 202);

/// `ARP who-has TARGET tell 10.77.0.11`, byte by byte (RFC 826).
fn arp_request(target: Ipv4Addr) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend(NODE_MAC);
    f.extend([0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    f.extend(NODE_MAC);
    f.extend(NODE_IP.octets());
    f.extend([0; 6]);
    f.extend(target.octets());
    f
}

/// IPMI 2.0 §22.13 "Get Channel Authentication Capabilities", session-less (IPMI 1.5
/// header), channel "this one" with the IPMI 2.0 bit, privilege ADMINISTRATOR: what
/// `ipmitool -I lanplus` sends first.
const GET_AUTH_CAPS: [u8; 23] = [
    0x06, 0x00, 0xff, 0x07, // RMCP: version 1.0, no ack, class IPMI
    0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x09, // auth none, sequence 0, session 0, length 9
    0x20, 0x18, 0xc8, // BMC, netfn App (0x06 << 2), checksum
    0x81, 0x00, 0x38, 0x8e, 0x04, 0xb5, // remote console, seq, command, data, checksum
];

/// `ipmitool -I lanplus -C 3`'s RMCP+ Open Session request (as in `bmc::rmcp`'s tests),
/// or the same asking for no authentication, integrity and confidentiality (suite 0).
fn open_session(suite0: bool) -> Vec<u8> {
    let mut d = vec![
        0x06, 0x00, 0xff, 0x07, 0x06, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0x20, 0x00, // headers
        0x00, 0x00, 0x00, 0x00, 0xa4, 0xa3, 0xa2, 0xa0, // tag, privilege, console SID
        0x00, 0x00, 0x00, 0x08, 0x01, 0x00, 0x00, 0x00, // RAKP-HMAC-SHA1
        0x01, 0x00, 0x00, 0x08, 0x01, 0x00, 0x00, 0x00, // HMAC-SHA1-96
        0x02, 0x00, 0x00, 0x08, 0x01, 0x00, 0x00, 0x00, // AES-CBC-128
    ];
    if suite0 {
        for at in [28, 36, 44] {
            d[at] = 0;
        }
    }
    d
}

struct Node {
    sock: UnixDatagram,
    hub: std::path::PathBuf,
}

impl Node {
    fn send(&self, f: &[u8]) -> TestResult {
        self.sock.send_to(f, &self.hub)?;
        Ok(())
    }

    /// The next frame `pick` accepts within `limit`, or `None`.
    fn recv<T>(&self, limit: Duration, pick: impl Fn(&[u8]) -> Option<T>) -> Option<T> {
        let start = Instant::now();
        let mut buf = [0u8; 65536];
        while start.elapsed() < limit {
            self.sock
                .set_read_timeout(Some(Duration::from_millis(100)))
                .ok()?;
            if let Ok(n) = self.sock.recv(&mut buf) {
                if let Some(v) = pick(&buf[..n]) {
                    return Some(v);
                }
            }
        }
        None
    }

    /// Sends `payload` to the BMC's port 623 from `port` and returns the reply's payload.
    fn ask(&self, port: u16, payload: &[u8], limit: Duration) -> TestResult<Option<Vec<u8>>> {
        let src = SocketAddrV4::new(NODE_IP, port);
        let dst = SocketAddrV4::new(BMC_IP, 623);
        let f = frame::udp_frame(NODE_MAC, MAC, src, dst, 1, payload).ok_or("framing")?;
        self.send(&f)?;
        Ok(self.recv(limit, |f| {
            frame::parse_udp(f)
                .filter(|u| u.dst == src && u.src == dst)
                .map(|u| u.payload.to_vec())
        }))
    }
}

fn arp_reply_for(f: &[u8], ip: Ipv4Addr) -> Option<Mac> {
    let is_reply = f.len() >= 42 && f[12..14] == [0x08, 0x06] && f[21] == 2;
    (is_reply && f[..6] == NODE_MAC && f[28..32] == ip.octets()).then(|| {
        let mut m = [0u8; 6];
        m.copy_from_slice(&f[22..28]);
        m
    })
}

/// A shim on the node's side: datagrams `ipmitool` sends to 127.0.0.1:front go onto the
/// hub as frames from 10.77.0.11 to the BMC's address; replies come back the same way.
fn start_shim(
    node: Node,
    stop: Arc<AtomicBool>,
) -> TestResult<(SocketAddrV4, std::thread::JoinHandle<()>)> {
    let front = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
    front.set_read_timeout(Some(Duration::from_millis(20)))?;
    let port = front.local_addr()?.port();
    let h = std::thread::spawn(move || {
        let mut buf = [0u8; 65536];
        let mut client = None;
        let src = SocketAddrV4::new(NODE_IP, 40623);
        let dst = SocketAddrV4::new(BMC_IP, 623);
        let _ = node.sock.set_nonblocking(true);
        while !stop.load(Ordering::Relaxed) {
            if let Ok((n, from)) = front.recv_from(&mut buf) {
                client = Some(from);
                if let Some(f) = frame::udp_frame(NODE_MAC, MAC, src, dst, 2, &buf[..n]) {
                    let _ = node.send(&f);
                }
            }
            while let Ok(n) = node.sock.recv(&mut buf) {
                let reply = frame::parse_udp(&buf[..n])
                    .filter(|u| u.dst == src)
                    .map(|u| u.payload.to_vec());
                if let (Some(p), Some(c)) = (reply, client) {
                    let _ = front.send_to(&p, c);
                }
            }
        }
    });
    Ok((SocketAddrV4::new(Ipv4Addr::LOCALHOST, port), h))
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

#[test]
fn the_gateway_answers_arp_relays_ipmi_and_drops_cipher_suite_0() -> TestResult {
    if let Err(e) = bmc::require_tools(&["ipmi_sim", "ipmitool"]) {
        panic!("{e}");
    }
    let tmp = tempfile::Builder::new().prefix("srbuild-gw").tempdir()?;
    let net = tmp.path().join("net");
    std::fs::create_dir_all(&net)?;
    let _hub = hub::spawn_thread(&net)?;
    let lan = SocketAddrV4::new(Ipv4Addr::LOCALHOST, bmc::unused_loopback_port(true)?);
    let vm = SocketAddrV4::new(Ipv4Addr::LOCALHOST, bmc::unused_loopback_port(false)?);
    let (config, creds) = bmc::generate("node2", lan, vm)?;
    let sim = BmcSim::start(&tmp.path().join("bmc-node2"), &config)?;
    let log = sim.files().dir.join("gateway.log");
    let gw = Gateway::start(
        &net,
        vec![GatewayBmc {
            node: "node2".into(),
            address: BMC_IP,
            lan,
            log: log.clone(),
        }],
    )?;
    let node = Node {
        sock: UnixDatagram::bind(hub::node_socket(&net, "node1", 0))?,
        hub: hub::hub_socket(&net),
    };
    let wait = scaled(Duration::from_secs(3));
    let silence = Duration::from_millis(1500);

    // ARP: the BMC's address is the gateway's MAC; another address gets no answer.
    node.send(&arp_request(BMC_IP))?;
    let mac = node.recv(wait, |f| arp_reply_for(f, BMC_IP));
    assert_eq!(mac, Some(MAC), "no ARP reply for {BMC_IP}");
    let other = Ipv4Addr::new(10, 77, 0, 203);
    node.send(&arp_request(other))?;
    assert_eq!(node.recv(silence, |f| arp_reply_for(f, other)), None);

    // A session-less IPMI request gets the real BMC's answer: completion code 0.
    let r = node
        .ask(41001, &GET_AUTH_CAPS, wait)?
        .ok_or("no reply to Get Channel Authentication Capabilities")?;
    assert_eq!(&r[..4], &[0x06, 0x00, 0xff, 0x07], "not RMCP: {r:02x?}");
    assert_eq!((r[15], r[19]), (0x1c, 0x38), "not the response: {r:02x?}");
    assert_eq!(r[20], 0x00, "completion code: {r:02x?}");

    // Open Session with cipher suite 3: answered, status 0, our session id echoed.
    let r = node
        .ask(41002, &open_session(false), wait)?
        .ok_or("no Open Session response")?;
    assert_eq!(r[5] & 0x3f, 0x11, "not an Open Session response: {r:02x?}");
    assert_eq!(r[17], 0x00, "Open Session status: {r:02x?}");
    assert_eq!(&r[20..24], &[0xa4, 0xa3, 0xa2, 0xa0]);
    // Suite 0: dropped before the BMC, which would have accepted it.
    assert_eq!(node.ask(41003, &open_session(true), silence)?, None);
    let s = gw.stats("node2")?;
    assert_eq!((s.refused, s.opens, s.to_bmc, s.from_bmc), (1, 1, 2, 2));

    // Down: no ARP, no IPMI; back up: answered again.
    gw.set_down("node2", true)?;
    node.send(&arp_request(BMC_IP))?;
    assert_eq!(node.recv(silence, |f| arp_reply_for(f, BMC_IP)), None);
    assert_eq!(node.ask(41004, &GET_AUTH_CAPS, silence)?, None);
    assert_eq!(gw.stats("node2")?.dropped_down, 2);
    gw.set_down("node2", false)?;
    assert!(node.ask(41005, &GET_AUTH_CAPS, wait)?.is_some());
    assert!(gw.set_down("node9", true).is_err());

    // A real ipmitool through the gateway: a full RMCP+ login with suite 3, then a wrong
    // password (ipmitool itself finds the BMC's RAKP 2 wrong and gives up) and an unknown
    // user, which the BMC rejects in RAKP 2.
    let limit = scaled(Duration::from_secs(20));
    let t0 = Instant::now();
    assert!(!ipmitool::power_is_on(
        lan,
        &creds.user,
        &sim.files().password_file,
        limit
    )?);
    let direct = t0.elapsed();
    let stop = Arc::new(AtomicBool::new(false));
    let (front, shim) = start_shim(node, stop.clone())?;
    let t0 = Instant::now();
    let on = ipmitool::power_is_on(front, &creds.user, &sim.files().password_file, limit);
    let took = t0.elapsed();
    let bad = tmp.path().join("wrong");
    std::fs::write(&bad, "not-the-password")?;
    let wrong = ipmitool::run_bounded(
        ipmitool::command(front, &creds.user, &bad, &["chassis", "power", "status"]),
        limit,
    )?;
    // An unknown user name: the BMC itself rejects it (RAKP 2), which the gateway logs.
    let stranger = ipmitool::run_bounded(
        ipmitool::command(
            front,
            "nobody",
            &sim.files().password_file,
            &["chassis", "power", "status"],
        ),
        limit,
    )?;
    stop.store(true, Ordering::Relaxed);
    shim.join().map_err(|_| "shim thread panicked")?;
    assert!(!on?, "no QEMU is connected: the chassis must read off");
    assert!(
        !wrong.status.success(),
        "a wrong password got in: {wrong:?}"
    );
    assert!(
        !stranger.status.success(),
        "an unknown user got in: {stranger:?}"
    );
    eprintln!(
        "BMC gateway: ipmitool lanplus power status through the hub in {} ms, straight to \
         ipmi_sim in {} ms",
        took.as_millis(),
        direct.as_millis()
    );
    let s = gw.stats("node2")?;
    assert!(
        s.sessions >= 1 && s.session_times.len() as u64 == s.sessions,
        "{s:?}"
    );
    assert!(s.rejected >= 1, "{s:?}");

    drop(gw);
    let text = read(&log);
    for want in [
        "gateway up: BMC of node2 at 10.77.0.202:623",
        "client 10.77.0.11:41002 open session request passed on",
        "client 10.77.0.11:41003 refused an Open Session request: no authentication (cipher suite 0)",
        "client 10.77.0.11:41004 dropped: the BMC is down",
        "client 10.77.0.11:40623 session accepted",
        "client 10.77.0.11:40623 login rejected by the BMC (RAKP 2, status 0x0d)",
    ] {
        assert!(text.contains(want), "gateway.log lacks {want:?}:\n{text}");
    }
    assert!(!hub::node_socket(&net, "bmc-gateway", 0).exists());
    Ok(())
}

/// A QEMU killed (whole process group) when dropped.
struct Qemu(std::process::Child);

impl Drop for Qemu {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child's process group.
        unsafe {
            libc::kill(-(self.0.id() as i32), libc::SIGKILL);
        }
        let _ = self.0.wait();
    }
}

/// A fence as dlm's agent will make it, minus the guest: `ipmitool chassis power off`
/// from a node's address, through the hub and the gateway, to the BMC of a tiny TCG QEMU
/// (SeaBIOS, no kernel) wired to it as a run wires a member. The QEMU exits cleanly and
/// the gateway's log shows the accepted login.
#[test]
fn a_power_off_through_the_gateway_ends_the_nodes_qemu() -> TestResult {
    use std::os::unix::process::CommandExt;
    if let Err(e) = bmc::require_tools(&["ipmi_sim", "ipmitool"]) {
        panic!("{e}");
    }
    let tmp = tempfile::Builder::new().prefix("srbuild-gw").tempdir()?;
    let net = tmp.path().join("net");
    std::fs::create_dir_all(&net)?;
    let _hub = hub::spawn_thread(&net)?;
    let lan = SocketAddrV4::new(Ipv4Addr::LOCALHOST, bmc::unused_loopback_port(true)?);
    let vm = SocketAddrV4::new(Ipv4Addr::LOCALHOST, bmc::unused_loopback_port(false)?);
    let (config, creds) = bmc::generate("node2", lan, vm)?;
    let sim = BmcSim::start(&tmp.path().join("bmc-node2"), &config)?;
    let log = sim.files().dir.join("gateway.log");
    let gw = Gateway::start(
        &net,
        vec![GatewayBmc {
            node: "node2".into(),
            address: BMC_IP,
            lan,
            log: log.clone(),
        }],
    )?;
    let qemu_bin = srbuild_lab::qemu::qemu_binary();
    let mut cmd = std::process::Command::new(&qemu_bin);
    cmd.args(["-machine", "q35", "-accel", "tcg", "-m", "64"])
        .args(["-nodefaults", "-display", "none"])
        .args(bmc::qemu_args(vm))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(tmp.path().join("qemu.stderr"))?)
        .process_group(0);
    let mut qemu = Qemu(cmd.spawn().map_err(|e| {
        format!(
            "cannot run {} ({e}); run `cargo xtask deps` (package qemu-system-x86)",
            qemu_bin.display()
        )
    })?);
    let node = Node {
        sock: UnixDatagram::bind(hub::node_socket(&net, "node1", 0))?,
        hub: hub::hub_socket(&net),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let (front, shim) = start_shim(node, stop.clone())?;
    let limit = scaled(Duration::from_secs(20));
    let pw = sim.files().password_file.clone();
    // The BMC sees its QEMU once QEMU's chardev connected (it retries every second).
    let start = Instant::now();
    let mut on = false;
    while !on && start.elapsed() < scaled(Duration::from_secs(15)) {
        on = ipmitool::power_is_on(front, &creds.user, &pw, limit).unwrap_or(false);
    }
    let t0 = Instant::now();
    let off = ipmitool::run_bounded(
        ipmitool::command(front, &creds.user, &pw, &["chassis", "power", "off"]),
        limit,
    );
    let mut status = None;
    while status.is_none() && t0.elapsed() < scaled(Duration::from_secs(15)) {
        status = qemu.0.try_wait()?;
        std::thread::sleep(Duration::from_millis(20));
    }
    let gone = t0.elapsed();
    stop.store(true, Ordering::Relaxed);
    shim.join().map_err(|_| "shim thread panicked")?;
    assert!(on, "the BMC never read its QEMU as on through the gateway");
    let off = off?;
    assert!(
        off.status.success(),
        "power off through the gateway: {off:?}"
    );
    let status = status.ok_or("QEMU still runs 15 s after the power off")?;
    assert!(
        status.success(),
        "QEMU ended with {status}, not a power-off"
    );
    eprintln!(
        "BMC gateway: power off through the hub returned in {} ms, QEMU gone after {} ms",
        off.elapsed.as_millis(),
        gone.as_millis()
    );
    assert!(gw.stats("node2")?.sessions >= 2);
    drop(gw);
    let text = read(&log);
    assert!(
        text.contains("client 10.77.0.11:40623 session accepted"),
        "{text}"
    );
    Ok(())
}

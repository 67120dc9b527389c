//! A node's BMC end to end, on real parts: `ipmi_sim` on 127.0.0.1 with per-run
//! credentials, a tiny TCG QEMU wired to it through `ipmi-bmc-extern`, and `ipmitool
//! -I lanplus` as the fence agent would run it. Power status follows the QEMU, `reset`
//! resets it (QMP sees the RESET event), `power off` makes the process exit, a wrong
//! password is refused. Missing tools fail the test, naming `cargo xtask deps`.

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use srbuild_lab::bmc::{self, ipmitool, BmcSim};
use srbuild_lab::timeout::scaled;

type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

/// A QEMU that is killed (whole process group) when dropped.
struct Qemu(Child);

impl Drop for Qemu {
    fn drop(&mut self) {
        let pid = self.0.id() as i32;
        // SAFETY: kill(2) on our own child's process group.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
        let _ = self.0.wait();
    }
}

/// No kernel: SeaBIOS finds nothing to boot and waits, which is all a BMC needs to see.
fn start_qemu(dir: &Path, vm: SocketAddrV4, qmp: &Path) -> TestResult<Qemu> {
    let qemu = srbuild_lab::qemu::qemu_binary();
    let stderr = std::fs::File::create(dir.join("qemu.stderr"))?;
    let mut cmd = Command::new(&qemu);
    cmd.args(["-machine", "q35", "-accel", "tcg", "-m", "64"])
        .args(["-nodefaults", "-display", "none"])
        .arg("-qmp")
        .arg(format!("unix:{},server=on,wait=off", qmp.display()))
        .args(bmc::qemu_args(vm))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .process_group(0);
    let child = cmd.spawn().map_err(|e| {
        format!(
            "cannot run {} ({e}); run `cargo xtask deps` (package qemu-system-x86)",
            qemu.display()
        )
    })?;
    Ok(Qemu(child))
}

/// Polls `f` every 50 ms until it returns `Some`, for at most `limit`.
fn wait_for<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if start.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A QMP connection in command mode.
fn qmp_connect(path: &Path) -> TestResult<BufReader<UnixStream>> {
    let s = wait_for(scaled(Duration::from_secs(10)), || {
        UnixStream::connect(path).ok()
    })
    .ok_or("QEMU's QMP socket never accepted a connection")?;
    s.set_read_timeout(Some(scaled(Duration::from_secs(20))))?;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line)?;
    assert!(line.contains("QMP"), "not a QMP greeting: {line}");
    r.get_mut()
        .write_all(b"{\"execute\":\"qmp_capabilities\"}\n")?;
    line.clear();
    r.read_line(&mut line)?;
    assert!(line.contains("return"), "qmp_capabilities: {line}");
    Ok(r)
}

/// Reads QMP lines until one holds `needle` (a read timeout ends it with an error).
fn qmp_wait_event(r: &mut BufReader<UnixStream>, needle: &str) -> TestResult<String> {
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Err(format!("QMP closed before {needle}").into());
        }
        if line.contains(needle) {
            return Ok(line);
        }
    }
}

/// A UDP relay on 127.0.0.1 in front of the BMC that applies `bmc::rmcp::refuse`, as the
/// lab's BMC endpoint will; it stops when `stop` is set.
fn start_relay(
    bmc_lan: SocketAddrV4,
    stop: Arc<AtomicBool>,
) -> TestResult<(SocketAddrV4, std::thread::JoinHandle<usize>)> {
    let front = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
    let back = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
    back.connect(bmc_lan)?;
    front.set_read_timeout(Some(Duration::from_millis(20)))?;
    back.set_read_timeout(Some(Duration::from_millis(20)))?;
    let addr = match front.local_addr()? {
        std::net::SocketAddr::V4(a) => a,
        other => return Err(format!("relay bound {other}").into()),
    };
    let h = std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        let mut client = None;
        let mut refused = 0;
        while !stop.load(Ordering::Relaxed) {
            if let Ok((n, from)) = front.recv_from(&mut buf) {
                client = Some(from);
                if bmc::rmcp::refuse(&buf[..n]).is_some() {
                    refused += 1;
                } else {
                    let _ = back.send(&buf[..n]);
                }
            }
            if let (Ok(n), Some(c)) = (back.recv(&mut buf), client) {
                let _ = front.send_to(&buf[..n], c);
            }
        }
        refused
    });
    Ok((addr, h))
}

/// `ipmitool -I lanplus -C SUITE` with an explicit password file, for the relay checks.
fn status_with_suite(lan: SocketAddrV4, user: &str, pw: &Path, suite: &str) -> Command {
    let mut c = Command::new("ipmitool");
    c.args(["-I", "lanplus", "-C", suite, "-H", "127.0.0.1", "-p"])
        .arg(lan.port().to_string())
        .args(["-U", user, "-f"])
        .arg(pw)
        .args(["-R", "1", "-N", "1", "chassis", "power", "status"]);
    c
}

/// One node's BMC on free loopback ports, in its own temporary directory.
struct Setup {
    tmp: tempfile::TempDir,
    lan: SocketAddrV4,
    vm: SocketAddrV4,
    user: String,
    pwfile: std::path::PathBuf,
    bad: std::path::PathBuf,
    sim: BmcSim,
    limit: Duration,
}

/// Fails (never skips) when the tools are missing, naming `cargo xtask deps`.
fn setup() -> TestResult<Setup> {
    if let Err(e) = bmc::require_tools(&["ipmi_sim", "ipmitool"]) {
        panic!("{e}");
    }
    let tmp = tempfile::Builder::new().prefix("srbuild-bmc").tempdir()?;
    let lan = SocketAddrV4::new(Ipv4Addr::LOCALHOST, bmc::unused_loopback_port(true)?);
    let vm = SocketAddrV4::new(Ipv4Addr::LOCALHOST, bmc::unused_loopback_port(false)?);
    let (config, creds) = bmc::generate("node1", lan, vm)?;
    let sim = BmcSim::start(&tmp.path().join("bmc-node1"), &config)?;
    let pwfile = sim.files().password_file.clone();
    let bad = tmp.path().join("wrong-password");
    std::fs::write(&bad, "not-the-password")?;
    Ok(Setup {
        lan,
        vm,
        user: creds.user,
        pwfile,
        bad,
        sim,
        limit: scaled(Duration::from_secs(20)),
        tmp,
    })
}

/// No QEMU here: the chassis reads off, and the relay's check stops cipher suite 0.
#[test]
fn lanplus_logins_and_the_cipher_suite_0_check() -> TestResult {
    let s = setup()?;
    let (lan, limit, user) = (s.lan, s.limit, s.user.as_str());
    assert!(!ipmitool::power_is_on(lan, user, &s.pwfile, limit)?);
    let status = ["chassis", "power", "status"];
    let o = ipmitool::run_bounded(ipmitool::command(lan, user, &s.bad, &status), limit)?;
    assert!(!o.status.success(), "a wrong password was accepted: {o:?}");
    assert!(
        o.stderr
            .contains("Unable to establish IPMI v2 / RMCP+ session"),
        "{o:?}"
    );

    // Cipher suite 0 needs no password from ipmi_sim; the relay's check refuses it.
    let direct = ipmitool::run_bounded(status_with_suite(lan, user, &s.bad, "0"), limit)?;
    eprintln!(
        "BMC: cipher suite 0 with a wrong password, straight to ipmi_sim: {}",
        if direct.status.success() {
            "ACCEPTED"
        } else {
            "refused"
        }
    );
    let stop = Arc::new(AtomicBool::new(false));
    let (relay, relay_thread) = start_relay(lan, stop.clone())?;
    let zero = ipmitool::run_bounded(status_with_suite(relay, user, &s.bad, "0"), limit)?;
    let three = ipmitool::run_bounded(status_with_suite(relay, user, &s.pwfile, "3"), limit)?;
    stop.store(true, Ordering::Relaxed);
    let refused = relay_thread.join().map_err(|_| "relay thread panicked")?;
    assert!(
        !zero.status.success(),
        "cipher suite 0 got through the relay: {zero:?}"
    );
    assert!(refused >= 1, "the relay refused nothing");
    assert!(
        three.status.success(),
        "suite 3 through the relay: {three:?}"
    );
    assert_eq!(three.stdout.trim(), "Chassis Power is off");
    Ok(())
}

/// A tiny TCG QEMU wired to the BMC: status on, refused logins harmless, reset resets,
/// power off ends the process, a dead BMC fails the fence within bounded retries.
#[test]
fn ipmitool_powers_a_qemu_off_through_its_bmc() -> TestResult {
    let Setup {
        tmp,
        lan,
        vm,
        user,
        pwfile,
        bad,
        mut sim,
        limit,
    } = setup()?;
    let qmp_path = tmp.path().join("qmp.sock");
    let mut qemu = start_qemu(tmp.path(), vm, &qmp_path)?;
    let mut qmp = qmp_connect(&qmp_path)?;
    let on = wait_for(scaled(Duration::from_secs(15)), || {
        ipmitool::power_is_on(lan, &user, &pwfile, limit)
            .ok()
            .filter(|on| *on)
    });
    assert_eq!(on, Some(true), "the BMC never saw its QEMU connect");

    // A wrong password is refused, clearly, and does nothing to the node.
    let o = ipmitool::run_bounded(
        ipmitool::command(lan, &user, &bad, &["chassis", "power", "off"]),
        limit,
    )?;
    assert!(!o.status.success(), "a wrong password was accepted: {o:?}");
    assert!(
        o.stderr
            .contains("Unable to establish IPMI v2 / RMCP+ session"),
        "{o:?}"
    );
    // So is the right password of another user name.
    let o = ipmitool::run_bounded(
        ipmitool::command(lan, "nobody", &pwfile, &["chassis", "power", "status"]),
        limit,
    )?;
    assert!(!o.status.success(), "an unknown user was accepted: {o:?}");
    assert!(
        qemu.0.try_wait()?.is_none(),
        "QEMU died after refused logins"
    );

    // Reset: the machine resets and QEMU goes on running.
    let o = ipmitool::run_bounded(
        ipmitool::command(lan, &user, &pwfile, &["chassis", "power", "reset"]),
        limit,
    )?;
    assert!(o.status.success(), "reset: {o:?}");
    let ev = qmp_wait_event(&mut qmp, "\"RESET\"")?;
    assert!(ev.contains("guest-reset"), "{ev}");
    assert!(qemu.0.try_wait()?.is_none(), "QEMU exited on a reset");

    // Power off: the QEMU process exits by itself.
    let t0 = Instant::now();
    let o = ipmitool::run_bounded(
        ipmitool::command(lan, &user, &pwfile, &["chassis", "power", "off"]),
        limit,
    )?;
    assert!(o.status.success(), "power off: {o:?}");
    assert!(o.stdout.contains("Down/Off"), "{o:?}");
    let status = wait_for(scaled(Duration::from_secs(15)), || {
        qemu.0.try_wait().ok().flatten()
    })
    .ok_or("QEMU still runs 15 s after `chassis power off`")?;
    let gone = t0.elapsed();
    assert!(
        status.success(),
        "QEMU ended with {status}, not a clean power-off"
    );
    eprintln!(
        "BMC: `chassis power off` returned after {} ms; QEMU exited after {} ms",
        o.elapsed.as_millis(),
        gone.as_millis()
    );
    assert!(!ipmitool::power_is_on(lan, &user, &pwfile, limit)?);

    // A BMC that is down: the fence fails within the bounded retries.
    sim.kill()?;
    let t0 = Instant::now();
    let err = ipmitool::power_is_on(lan, &user, &pwfile, limit).unwrap_err();
    assert!(err.to_string().contains(&lan.to_string()), "{err}");
    eprintln!(
        "BMC down: ipmitool gave up after {} ms",
        t0.elapsed().as_millis()
    );
    Ok(())
}

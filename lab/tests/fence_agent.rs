//! The image's fence agent (`modules/fence-ipmi/fence_srbuild_ipmi.sh`) run on this host
//! as dlm_controld runs it: the device's and connect line's arguments plus `node=` and
//! `fail_time=` on its standard input, no `action=` (a fence). Against a real BMC
//! (`ipmi_sim` on 127.0.0.1 with per-run credentials) wired to a tiny TCG QEMU without a
//! kernel: a wrong password fails with ipmitool's reason and leaves the machine running;
//! the right one powers it off, the QEMU process exits and the agent exits 0; every
//! attempt leaves one line in the kernel log (a file here, `SR_FENCE_KMSG`). Missing
//! tools fail the test, naming `cargo xtask deps`.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use srbuild_lab::bmc::{self, ipmitool, BmcSim};
use srbuild_lab::timeout::scaled;

type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

const AGENT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../modules/fence-ipmi/fence_srbuild_ipmi.sh"
);

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

/// No kernel: SeaBIOS finds nothing to boot and waits; the BMC sees it powered on.
fn start_qemu(dir: &Path, vm: SocketAddrV4) -> TestResult<Qemu> {
    let qemu = srbuild_lab::qemu::qemu_binary();
    let stderr = std::fs::File::create(dir.join("qemu.stderr"))?;
    let child = Command::new(&qemu)
        .args(["-machine", "q35", "-accel", "tcg", "-m", "64"])
        .args(["-nodefaults", "-display", "none"])
        .args(bmc::qemu_args(vm))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .process_group(0)
        .spawn()
        .map_err(|e| {
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

/// Runs the agent with `stdin` (key=value lines), its kernel log line going to `kmsg`.
fn agent(stdin: &str, kmsg: &Path) -> TestResult<(Output, Duration)> {
    let t0 = Instant::now();
    let mut child = Command::new("sh")
        .arg(AGENT)
        .env_clear()
        .env("SR_FENCE_KMSG", kmsg)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .ok_or("no stdin")?
        .write_all(stdin.as_bytes())?;
    let out = child.wait_with_output()?;
    Ok((out, t0.elapsed()))
}

/// What dlm_controld writes for a fence of node 2 through this BMC.
fn dlm_stdin(lan: SocketAddrV4, user: &str, pwfile: &Path) -> String {
    format!(
        "ip={}\nipport={}\ncipher=3\nusername={user}\npassword_file={}\nnode=2\nfail_time=1764921600\n",
        lan.ip(),
        lan.port(),
        pwfile.display()
    )
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The lines of the fake kernel log.
fn kmsg_lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn the_fence_agent_powers_a_qemu_off_through_its_bmc_and_reports_a_wrong_password() -> TestResult {
    if let Err(e) = bmc::require_tools(&["ipmi_sim", "ipmitool"]) {
        panic!("{e}");
    }
    let tmp = tempfile::Builder::new().prefix("srbuild-fence").tempdir()?;
    let lan = SocketAddrV4::new(Ipv4Addr::LOCALHOST, bmc::unused_loopback_port(true)?);
    let vm = SocketAddrV4::new(Ipv4Addr::LOCALHOST, bmc::unused_loopback_port(false)?);
    let (config, creds) = bmc::generate("node2", lan, vm)?;
    let _sim = BmcSim::start(&tmp.path().join("bmc-node2"), &config)?;
    let pwfile: PathBuf = _sim.files().password_file.clone();
    let bad = tmp.path().join("wrong.password");
    srbuild_fsio::write_file(&bad, b"NotThePassword16", 0o600, None)?;
    let kmsg = tmp.path().join("kmsg");
    let limit = scaled(Duration::from_secs(20));
    let user = creds.user.as_str();

    let mut qemu = start_qemu(tmp.path(), vm)?;
    let on = wait_for(scaled(Duration::from_secs(15)), || {
        ipmitool::power_is_on(lan, user, &pwfile, limit)
            .ok()
            .filter(|on| *on)
    });
    assert_eq!(on, Some(true), "the BMC never saw its QEMU connect");

    // status: 0 while on.
    let (o, _) = agent(
        &format!("{}action=status\n", dlm_stdin(lan, user, &pwfile)),
        &kmsg,
    )?;
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert_eq!(text(&o.stdout), "Status: on\n");

    // A wrong password: the fence fails, naming the node and ipmitool's reason; the
    // machine keeps running.
    let (o, took) = agent(&dlm_stdin(lan, user, &bad), &kmsg)?;
    assert_ne!(o.status.code(), Some(0), "a wrong password fenced: {o:?}");
    let lines = kmsg_lines(&kmsg);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let want = format!("<3>srbuild fence: node 2 ({lan}): failed: ");
    assert!(lines[0].starts_with(&want), "{lines:?}");
    assert!(
        lines[0].contains("Unable to establish IPMI v2 / RMCP+ session"),
        "{lines:?}"
    );
    let reason = &lines[0][want.len()..];
    assert!(reason.len() <= 200, "{reason}");
    assert!(
        reason.bytes().all(|b| (b' '..=b'~').contains(&b)),
        "{reason:?}"
    );
    assert!(
        !lines[0].contains("NotThePassword16") && !text(&o.stderr).contains("NotThePassword16"),
        "the password was shown"
    );
    assert!(
        qemu.0.try_wait()?.is_none(),
        "QEMU died after a refused fence"
    );
    eprintln!(
        "fence agent: a wrong password failed after {} ms",
        took.as_millis()
    );

    // Input outside the expected characters is refused before ipmitool runs.
    for (line, key) in [
        ("ip=127.0.0.1;reboot", "ip"),
        ("ip=127.0.0.01", "ip"),
        ("ipport=623 -P x", "ipport"),
        ("username=$(id)", "username"),
        ("password_file=../../etc/shadow", "password_file"),
        ("cipher=0", "cipher"),
        ("action=off now", "action"),
        ("password=secret", "password"),
        ("Bad-Key=1", "key"),
    ] {
        let stdin = format!("{}{line}\n", dlm_stdin(lan, user, &pwfile));
        let (o, _) = agent(&stdin, &kmsg)?;
        assert_eq!(o.status.code(), Some(1), "{line}: {o:?}");
        let err = text(&o.stderr);
        assert!(
            err.contains(&format!("srbuild fence: refused {key}=")),
            "{line}: {err}"
        );
        assert!(!err.contains("secret"), "{err}");
    }
    assert!(
        qemu.0.try_wait()?.is_none(),
        "QEMU died after refused input"
    );

    // The fence: no action= (off), as dlm_controld sends it.
    let before = kmsg_lines(&kmsg).len();
    let (o, took) = agent(&dlm_stdin(lan, user, &pwfile), &kmsg)?;
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let status = wait_for(scaled(Duration::from_secs(15)), || {
        qemu.0.try_wait().ok().flatten()
    })
    .ok_or("QEMU still runs after the agent reported the node off")?;
    assert!(
        status.success(),
        "QEMU ended with {status}, not a power-off"
    );
    let lines = kmsg_lines(&kmsg);
    assert_eq!(
        lines[before..],
        [format!("<3>srbuild fence: node 2 ({lan}): powered off")],
        "{lines:?}"
    );
    eprintln!(
        "fence agent: action=off returned 0 after {} ms",
        took.as_millis()
    );

    // status: 2 once off; a second fence of a node already off succeeds at once.
    let (o, _) = agent(
        &format!("{}action=status\n", dlm_stdin(lan, user, &pwfile)),
        &kmsg,
    )?;
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert_eq!(text(&o.stdout), "Status: off\n");
    let (o, _) = agent(&dlm_stdin(lan, user, &pwfile), &kmsg)?;
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(kmsg_lines(&kmsg)
        .last()
        .is_some_and(|l| l.ends_with("powered off (it was already)")));
    Ok(())
}

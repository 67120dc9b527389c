//! QEMU command lines ([`VmSpec`], [`command`]) and running VMs ([`Vm`]).
//!
//! Every node gets a directory holding `console.log` (serial output),
//! `console.sock` (serial console to attach to later), `qmp.sock`,
//! `qemu.pid` and `qemu.stderr`.  A started QEMU runs in its own process
//! group; unless its spec is detached it also gets `PR_SET_PDEATHSIG=SIGKILL`. Every VM is
//! registered with [`crate::cleanup`] and killed when its [`Vm`] drops, until
//! [`Vm::detach`] leaves it running.

use std::fmt::Write as _;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::accel::Accel;
use crate::error::{LabError, Result};
use crate::hub::{check_socket_path, hub_socket, node_socket};
use crate::{cleanup, process, timeout};

/// Environment variable naming the QEMU binary.
pub const QEMU_ENV: &str = "SRBUILD_LAB_QEMU";
/// Serial log file name in a node directory.
pub const CONSOLE_LOG: &str = "console.log";
/// Serial console socket name in a node directory.
pub const CONSOLE_SOCK: &str = "console.sock";
/// QMP socket name in a node directory.
pub const QMP_SOCK: &str = "qmp.sock";
/// Pidfile name in a node directory.
pub const PIDFILE: &str = "qemu.pid";
/// QEMU's own stdout/stderr in a node directory.
pub const STDERR_LOG: &str = "qemu.stderr";

const TERM_GRACE: Duration = Duration::from_secs(1);

/// The QEMU binary: `$SRBUILD_LAB_QEMU` or `qemu-system-x86_64` from `PATH`.
pub fn qemu_binary() -> PathBuf {
    std::env::var_os(QEMU_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("qemu-system-x86_64"))
}

/// One virtio-net NIC on a lab hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nic {
    /// `52:54:00:xx:xx:xx` style MAC.
    pub mac: String,
    /// The L2 segment it is plugged into ([`crate::segments`]; 0: the lab's first hub).
    pub net: usize,
}

impl Nic {
    /// A NIC on the first segment.
    pub fn new(mac: &str) -> Nic {
        Nic {
            mac: mac.to_string(),
            net: 0,
        }
    }
}

/// QEMU's id of NIC `i`'s netdev (QMP `set_link` takes it).
pub fn netdev_id(i: usize) -> String {
    format!("n{i}")
}

/// Disk image format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskFormat {
    Raw,
    Qcow2,
}

impl DiskFormat {
    /// QEMU's name for the format.
    pub fn as_str(self) -> &'static str {
        match self {
            DiskFormat::Raw => "raw",
            DiskFormat::Qcow2 => "qcow2",
        }
    }
}

/// One virtio-blk disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disk {
    pub path: PathBuf,
    pub format: DiskFormat,
    /// Attached to several nodes at once (raw, uncached, unlocked, share-rw).
    pub shared: bool,
    pub readonly: bool,
}

/// Everything needed to start one node.
#[derive(Debug, Clone, PartialEq)]
pub struct VmSpec {
    pub name: String,
    pub qemu: PathBuf,
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    /// Kernel command line; `console=ttyS0` is added if missing.
    pub append: String,
    pub memory_mb: u32,
    pub cpus: u32,
    pub nics: Vec<Nic>,
    pub disks: Vec<Disk>,
    /// Where the node's log, sockets and pidfile go.
    pub dir: PathBuf,
    /// Outlive the lab process: `setsid`, no PDEATHSIG, not killed on drop.
    pub detached: bool,
    /// Boot from the network with the NIC's iPXE ROM: no `-kernel`, `-initrd` or
    /// `-append` (those come from the boot server), and the firmware's text on the serial
    /// console.
    pub netboot: bool,
    /// The node's BMC (`ipmi_sim`'s VM socket on 127.0.0.1): a KCS interface wired to it
    /// ([`crate::bmc::qemu_args`]). Chosen when the run starts, never in the plan.
    pub bmc: Option<std::net::SocketAddrV4>,
    /// Start with the CPUs stopped (`-S`) until a QMP `cont` ([`crate::qmp::cont_all`]):
    /// how a run starts many clients at one moment (`--together`).
    pub paused: bool,
}

impl VmSpec {
    /// A spec with 512 MiB, 1 CPU, no NICs or disks, not detached.
    pub fn new(name: &str, kernel: &Path, initrd: &Path, dir: &Path) -> VmSpec {
        VmSpec {
            name: name.to_string(),
            qemu: qemu_binary(),
            kernel: kernel.to_path_buf(),
            initrd: initrd.to_path_buf(),
            append: String::new(),
            memory_mb: 512,
            cpus: 1,
            nics: Vec::new(),
            disks: Vec::new(),
            dir: dir.to_path_buf(),
            detached: false,
            netboot: false,
            bmc: None,
            paused: false,
        }
    }

    /// `<dir>/console.log`.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join(CONSOLE_LOG)
    }

    /// `<dir>/qemu.pid`.
    pub fn pidfile(&self) -> PathBuf {
        self.dir.join(PIDFILE)
    }

    fn invalid(&self, why: impl Into<String>) -> LabError {
        LabError::InvalidSpec {
            node: self.name.clone(),
            why: why.into(),
        }
    }

    fn path_str<'a>(&self, what: &str, p: &'a Path) -> Result<&'a str> {
        p.to_str()
            .ok_or_else(|| self.invalid(format!("{what} path {} is not UTF-8", p.display())))
    }

    /// Errors unless the kernel, initrd and disk images exist (QEMU would
    /// only notice after writing its pidfile).
    pub fn check_files(&self) -> Result<()> {
        let disks = self.disks.iter().map(|d| ("disk image", &d.path));
        let boot = [("kernel", &self.kernel), ("initrd", &self.initrd)];
        let boot = if self.netboot { &boot[..0] } else { &boot[..] };
        for (what, p) in boot.iter().copied().chain(disks) {
            if let Err(e) = std::fs::File::open(p) {
                return Err(self.invalid(format!("{what} {} is not readable: {e}", p.display())));
            }
        }
        Ok(())
    }

    /// Checks the spec for mistakes QEMU would report less clearly.
    pub fn validate(&self) -> Result<()> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 64
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && !self.name.starts_with('-');
        if !name_ok {
            return Err(self.invalid(
                "name must be 1-64 characters of letters, digits, '-' and '_', not starting with '-'",
            ));
        }
        if self.netboot && self.nics.is_empty() {
            return Err(self.invalid("boots from the network but has no NIC"));
        }
        if self.memory_mb < 64 {
            return Err(self.invalid(format!("memory_mb={} is below 64", self.memory_mb)));
        }
        if self.cpus == 0 || self.cpus > 64 {
            return Err(self.invalid(format!("cpus={} is not in 1..=64", self.cpus)));
        }
        for nic in &self.nics {
            if !valid_mac(&nic.mac) {
                return Err(self.invalid(format!(
                    "MAC {:?} is not a unicast xx:xx:xx:xx:xx:xx address",
                    nic.mac
                )));
            }
        }
        for d in &self.disks {
            if d.shared && d.format != DiskFormat::Raw && !d.readonly {
                return Err(self.invalid(format!(
                    "shared writable disk {} must be raw: qcow2 metadata breaks with several writers",
                    d.path.display()
                )));
            }
        }
        Ok(())
    }
}

/// True for `xx:xx:xx:xx:xx:xx` with the multicast bit clear.
pub fn valid_mac(mac: &str) -> bool {
    let parts: Vec<&str> = mac.split(':').collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
        && u8::from_str_radix(parts[0], 16).is_ok_and(|b| b & 1 == 0)
}

/// A MAC for NIC `nic` of node number `node` (QEMU's 52:54:00 prefix).
pub fn mac_for(node: u16, nic: u8) -> String {
    let [hi, lo] = node.to_be_bytes();
    format!("52:54:00:{nic:02x}:{hi:02x}:{lo:02x}")
}

/// Escapes a value for QEMU's comma-separated option syntax.
fn esc(s: &str) -> String {
    s.replace(',', ",,")
}

/// Adds `console=ttyS0` unless the command line already names ttyS0, and the words the
/// accelerator needs ([`Accel::kernel_args`]: under TCG `no_timer_check`) it lacks.
pub fn kernel_append(append: &str, accel: Accel) -> String {
    let words: Vec<&str> = append.split_whitespace().collect();
    let mut s = append.trim().to_string();
    let mut add = |w: &str| {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(w);
    };
    if !words
        .iter()
        .any(|w| *w == "console=ttyS0" || w.starts_with("console=ttyS0,"))
    {
        add("console=ttyS0");
    }
    for w in accel.kernel_args().split_whitespace() {
        if !words.contains(&w) {
            add(w);
        }
    }
    s
}

/// The QEMU arguments (without the binary) for `spec`; pure.
///
/// `hub_dir` is required when the spec has NICs.
pub fn args(spec: &VmSpec, accel: Accel, hub_dir: Option<&Path>) -> Result<Vec<String>> {
    spec.validate()?;
    let dir = &spec.dir;
    let mut a: Vec<String> = Vec::new();
    let mut push = |xs: &[&str]| a.extend(xs.iter().map(|s| s.to_string()));
    push(&["-name", &spec.name]);
    // Without graphics, SeaBIOS and iPXE print to the serial console.
    let machine = if spec.netboot {
        "q35,graphics=off"
    } else {
        "q35"
    };
    push(&[
        "-machine",
        machine,
        "-accel",
        accel.as_str(),
        "-cpu",
        accel.cpu_model(),
    ]);
    push(&[
        "-m",
        &spec.memory_mb.to_string(),
        "-smp",
        &spec.cpus.to_string(),
    ]);
    push(&["-nodefaults", "-display", "none", "-no-reboot"]);
    if spec.paused {
        push(&["-S"]);
    }
    if spec.netboot {
        push(&["-boot", "n"]);
    } else {
        push(&["-kernel", spec.path_str("kernel", &spec.kernel)?]);
        push(&["-initrd", &esc(spec.path_str("initrd", &spec.initrd)?)]);
        push(&["-append", &kernel_append(&spec.append, accel)]);
    }

    let console_sock = dir.join(CONSOLE_SOCK);
    let qmp_sock = dir.join(QMP_SOCK);
    check_socket_path(&console_sock)?;
    check_socket_path(&qmp_sock)?;
    let chardev = format!(
        "socket,id=ser0,path={},server=on,wait=off,logfile={},logappend=off",
        esc(spec.path_str("console socket", &console_sock)?),
        esc(spec.path_str("console log", &dir.join(CONSOLE_LOG))?),
    );
    push(&["-chardev", &chardev, "-serial", "chardev:ser0"]);
    let qmp = format!(
        "unix:{},server=on,wait=off",
        esc(spec.path_str("QMP socket", &qmp_sock)?)
    );
    push(&["-qmp", &qmp]);
    push(&["-pidfile", spec.path_str("pidfile", &dir.join(PIDFILE))?]);

    if !spec.nics.is_empty() {
        let hub = hub_dir.ok_or_else(|| {
            spec.invalid("has NICs but no hub directory was given; start a hub first")
        })?;
        for (i, nic) in spec.nics.iter().enumerate() {
            // Each NIC on its segment's hub.
            let seg = crate::segments::dir(hub, nic.net);
            let remote = hub_socket(&seg);
            check_socket_path(&remote)?;
            let remote = esc(spec.path_str("hub socket", &remote)?);
            let local = node_socket(&seg, &spec.name, i);
            check_socket_path(&local)?;
            let id = netdev_id(i);
            let netdev = format!(
                "dgram,id={id},local.type=unix,local.path={},remote.type=unix,remote.path={remote}",
                esc(spec.path_str("NIC socket", &local)?)
            );
            // No option ROM unless the node boots from the network (QEMU's iPXE then).
            let rom = if spec.netboot { "" } else { ",romfile=" };
            let device = format!("virtio-net-pci,netdev={id},mac={}{rom}", nic.mac);
            push(&["-netdev", &netdev, "-device", &device]);
        }
    }

    for (i, d) in spec.disks.iter().enumerate() {
        let mut drive = format!(
            "file={},if=none,id=d{i},format={}",
            esc(spec.path_str("disk", &d.path)?),
            d.format.as_str()
        );
        let mut device = format!("virtio-blk-pci,drive=d{i}");
        if d.shared {
            drive.push_str(",cache=none,file.locking=off");
            device.push_str(",share-rw=on");
        }
        if d.readonly {
            drive.push_str(",readonly=on");
        }
        push(&["-drive", &drive, "-device", &device]);
    }
    if let Some(vm) = spec.bmc {
        a.extend(crate::bmc::qemu_args(vm));
    }
    Ok(a)
}

/// The full QEMU [`Command`] for `spec` (no stdio or process setup).
pub fn command(spec: &VmSpec, accel: Accel, hub_dir: Option<&Path>) -> Result<Command> {
    let mut cmd = Command::new(&spec.qemu);
    cmd.args(args(spec, accel, hub_dir)?);
    Ok(cmd)
}

/// A started QEMU process.
#[derive(Debug)]
pub struct Vm {
    name: String,
    child: Child,
    dir: PathBuf,
    detached: bool,
    status: Option<ExitStatus>,
}

impl Vm {
    /// Waits for a line of this VM's console (read by `w`) that `pred` accepts, giving up
    /// as soon as the VM has exited and its final output has been read, or after `limit`.
    pub fn wait_console(
        &mut self,
        w: &mut crate::console::ConsoleWatcher,
        pred: impl Fn(&str) -> bool,
        limit: Duration,
    ) -> std::result::Result<String, crate::console::WaitError> {
        let node = self.name().to_string();
        w.wait_while(pred, limit, || match self.try_wait() {
            Ok(Some(st)) => Some((node.clone(), st.to_string())),
            _ => None,
        })
    }

    /// Starts `spec` and waits until QEMU has written its pidfile.
    pub fn start(spec: &VmSpec, accel: Accel, hub_dir: Option<&Path>) -> Result<Vm> {
        let mut cmd = command(spec, accel, hub_dir)?;
        spec.check_files()?;
        let dir = &spec.dir;
        std::fs::create_dir_all(dir)
            .map_err(|e| LabError::io("cannot create node directory", dir, e))?;
        for f in [CONSOLE_LOG, CONSOLE_SOCK, QMP_SOCK, PIDFILE, STDERR_LOG] {
            remove_if_exists(&dir.join(f))?;
        }
        if let Some(hub) = hub_dir {
            for i in 0..spec.nics.len() {
                remove_if_exists(&node_socket(hub, &spec.name, i))?;
            }
        }
        let stderr_path = dir.join(STDERR_LOG);
        let out = srbuild_fsio::open_append(&stderr_path, 0o644)
            .and_then(|f| f.set_len(0).map(|()| f))
            .map_err(|e| LabError::io("cannot create", &stderr_path, e))?;
        let err = out
            .try_clone()
            .map_err(|e| LabError::io("cannot reopen", &stderr_path, e))?;
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);

        // A detached spec only shapes the process (own session, no PDEATHSIG); the Vm is
        // still killed on drop and by the signal handlers until `detach()` says it stays,
        // so a `lab up` that fails half-way leaves nothing running.
        let detached = spec.detached;
        cleanup::install_signal_handlers()?;
        // SAFETY: the closure only makes async-signal-safe syscalls.
        unsafe {
            cmd.pre_exec(move || child_setup(detached));
        }
        let child = cmd.spawn().map_err(|source| {
            crate::host_tools::spawn_failed(spec.qemu.as_os_str(), source, |source| {
                LabError::Spawn {
                    node: spec.name.clone(),
                    qemu: spec.qemu.clone(),
                    source,
                }
            })
        })?;
        let mut vm = Vm {
            name: spec.name.clone(),
            child,
            dir: dir.clone(),
            detached: false,
            status: None,
        };
        cleanup::register(vm.pid() as i32);
        vm.wait_for_pidfile(&stderr_path)?;
        Ok(vm)
    }

    fn wait_for_pidfile(&mut self, stderr_path: &Path) -> Result<()> {
        let limit = timeout::scaled(Duration::from_secs(10));
        let pidfile = self.dir.join(PIDFILE);
        let start = Instant::now();
        loop {
            if let Some(st) = self.try_wait()? {
                let text = std::fs::read_to_string(stderr_path).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(5).collect();
                let stderr = tail.into_iter().rev().collect::<Vec<_>>().join(" | ");
                return Err(LabError::QemuExited {
                    node: self.name.clone(),
                    status: st.to_string(),
                    stderr_path: stderr_path.to_path_buf(),
                    stderr,
                });
            }
            if std::fs::metadata(&pidfile).is_ok_and(|m| m.len() > 0) {
                return Ok(());
            }
            if start.elapsed() > limit {
                // Drop kills the half-started QEMU.
                return Err(LabError::PidfileTimeout {
                    node: self.name.clone(),
                    pidfile,
                    stderr_path: stderr_path.to_path_buf(),
                    secs: limit.as_secs_f64(),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The node name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// QEMU's pid (also its process-group id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The node directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The serial console log.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join(CONSOLE_LOG)
    }

    /// The exit status if QEMU has exited (reaping it), else `None`.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        if self.status.is_none() {
            let st = self
                .child
                .try_wait()
                .map_err(|e| LabError::io("cannot wait for QEMU of node", &self.dir, e))?;
            if let Some(st) = st {
                self.reaped(st);
            }
        }
        Ok(self.status)
    }

    /// True while QEMU runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.try_wait(), Ok(None))
    }

    /// Waits up to `limit` for QEMU to exit by itself.
    pub fn wait_timeout(&mut self, limit: Duration) -> Result<Option<ExitStatus>> {
        let start = Instant::now();
        loop {
            if let Some(st) = self.try_wait()? {
                return Ok(Some(st));
            }
            if start.elapsed() >= limit {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops QEMU: SIGTERM to its process group, SIGKILL after 1 s; reaps it.
    pub fn kill(&mut self) -> Result<ExitStatus> {
        if let Some(st) = self.try_wait()? {
            return Ok(st);
        }
        let pgid = self.pid() as i32;
        let what = format!("QEMU of node {}", self.name);
        process::signal(-pgid, libc::SIGTERM, &what)?;
        if let Some(st) = self.wait_timeout(TERM_GRACE)? {
            return Ok(st);
        }
        process::signal(-pgid, libc::SIGKILL, &what)?;
        let st = self
            .child
            .wait()
            .map_err(|e| LabError::io("cannot reap QEMU of node", &self.dir, e))?;
        self.reaped(st);
        Ok(st)
    }

    /// Leaves QEMU running after this value is dropped; returns its pid.
    /// Use [`kill_from_pidfile`] to stop it later.
    pub fn detach(mut self) -> u32 {
        self.detached = true;
        cleanup::unregister(self.pid() as i32);
        self.pid()
    }

    fn reaped(&mut self, st: ExitStatus) {
        self.status = Some(st);
        cleanup::unregister(self.child.id() as i32);
        let _ = std::fs::remove_file(self.dir.join(PIDFILE));
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        if !self.detached {
            let _ = self.kill();
        }
    }
}

/// Runs in the forked child before exec: own process group (or session
/// when detached) and, unless detached, death with the parent thread.
pub(crate) fn child_setup(detached: bool) -> std::io::Result<()> {
    // SAFETY: plain syscalls without pointers; async-signal-safe.
    unsafe {
        if detached {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
        } else {
            if libc::setpgid(0, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let parent = libc::getppid();
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) < 0
            {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
        }
    }
    Ok(())
}

fn remove_if_exists(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(LabError::io("cannot remove stale", path, e)),
    }
}

/// Stops the QEMU whose pidfile is in `dir` (for `lab down`).  Checks that
/// the pid still runs a QEMU started with `-pidfile` before signalling it.
/// Returns whether a running QEMU was found.
pub fn kill_from_pidfile(dir: &Path) -> Result<bool> {
    process::kill_pidfile(&dir.join(PIDFILE), &["qemu", "-pidfile"], TERM_GRACE)
}

/// Renders `args` as one shell-like line, for logs and error messages.
pub fn display_args(program: &Path, args: &[String]) -> String {
    let mut s = program.display().to_string();
    for a in args {
        let plain = a
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_=,.:/@".contains(&b));
        if plain {
            let _ = write!(s, " {a}");
        } else {
            let _ = write!(s, " '{}'", a.replace('\'', r"'\''"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> VmSpec {
        let mut s = VmSpec::new(
            "node1",
            Path::new("/k/vmlinuz"),
            Path::new("/k/initrd,1.img"),
            Path::new("/lab/node1"),
        );
        s.append = "root=nfs quiet".into();
        s.memory_mb = 768;
        s.cpus = 2;
        s.nics.push(Nic::new(&mac_for(1, 0)));
        s.disks.push(Disk {
            path: "/lab/shared.img".into(),
            format: DiskFormat::Raw,
            shared: true,
            readonly: false,
        });
        s.disks.push(Disk {
            path: "/lab/node1/local.qcow2".into(),
            format: DiskFormat::Qcow2,
            shared: false,
            readonly: true,
        });
        s
    }

    fn after<'a>(a: &'a [String], flag: &str) -> Vec<&'a str> {
        a.windows(2)
            .filter(|w| w[0] == flag)
            .map(|w| w[1].as_str())
            .collect()
    }

    #[test]
    fn argv_for_tcg() -> Result<()> {
        let a = args(&spec(), Accel::Tcg, Some(Path::new("/lab")))?;
        assert!(!a.iter().any(|x| x == "-nographic"));
        assert_eq!(after(&a, "-display"), ["none"]);
        assert!(a.iter().any(|x| x == "-no-reboot"));
        assert_eq!(after(&a, "-machine"), ["q35"]);
        assert_eq!(after(&a, "-accel"), ["tcg"]);
        assert_eq!(after(&a, "-cpu"), ["max"]);
        assert_eq!(after(&a, "-m"), ["768"]);
        assert_eq!(after(&a, "-smp"), ["2"]);
        assert_eq!(after(&a, "-initrd"), ["/k/initrd,,1.img"]);
        assert_eq!(
            after(&a, "-append"),
            ["root=nfs quiet console=ttyS0 no_timer_check"]
        );
        assert_eq!(
            after(&a, "-netdev"),
            ["dgram,id=n0,local.type=unix,local.path=/lab/node1.eth0.sock,remote.type=unix,remote.path=/lab/hub.sock"]
        );
        assert_eq!(
            after(&a, "-drive"),
            [
                "file=/lab/shared.img,if=none,id=d0,format=raw,cache=none,file.locking=off",
                "file=/lab/node1/local.qcow2,if=none,id=d1,format=qcow2,readonly=on",
            ]
        );
        assert_eq!(
            after(&a, "-device"),
            [
                "virtio-net-pci,netdev=n0,mac=52:54:00:00:00:01,romfile=",
                "virtio-blk-pci,drive=d0,share-rw=on",
                "virtio-blk-pci,drive=d1",
            ]
        );
        assert_eq!(
            after(&a, "-chardev"),
            ["socket,id=ser0,path=/lab/node1/console.sock,server=on,wait=off,logfile=/lab/node1/console.log,logappend=off"]
        );
        assert_eq!(after(&a, "-serial"), ["chardev:ser0"]);
        assert_eq!(after(&a, "-pidfile"), ["/lab/node1/qemu.pid"]);
        Ok(())
    }

    #[test]
    fn a_node_with_a_bmc_gets_a_kcs_interface_wired_to_it() -> Result<()> {
        let mut s = spec();
        s.bmc = Some("127.0.0.1:40002".parse().unwrap());
        let a = args(&s, Accel::Tcg, Some(Path::new("/lab")))?;
        assert!(
            after(&a, "-chardev").contains(&"socket,id=bmc0,host=127.0.0.1,port=40002,reconnect=1")
        );
        assert!(after(&a, "-device").contains(&"isa-ipmi-kcs,bmc=bmc0"));
        Ok(())
    }

    #[test]
    fn a_nic_on_the_second_segment_talks_to_that_segments_hub() -> Result<()> {
        let mut s = spec();
        s.nics.push(Nic {
            mac: "52:54:00:78:00:11".into(),
            net: 1,
        });
        let a = args(&s, Accel::Tcg, Some(Path::new("/lab")))?;
        assert_eq!(
            after(&a, "-netdev")[1],
            "dgram,id=n1,local.type=unix,local.path=/lab/net1/node1.eth1.sock,remote.type=unix,remote.path=/lab/net1/hub.sock"
        );
        assert_eq!(
            after(&a, "-device")[1],
            "virtio-net-pci,netdev=n1,mac=52:54:00:78:00:11,romfile="
        );
        Ok(())
    }

    #[test]
    fn a_netbooting_node_has_no_kernel_and_keeps_its_ipxe_rom() -> Result<()> {
        let mut s = spec();
        s.netboot = true;
        s.kernel = PathBuf::from("/nonexistent/vmlinuz");
        let a = args(&s, Accel::Tcg, Some(Path::new("/lab")))?;
        for flag in ["-kernel", "-initrd", "-append"] {
            assert!(!a.iter().any(|x| x == flag), "{flag} in {a:?}");
        }
        assert_eq!(after(&a, "-boot"), ["n"]);
        assert_eq!(after(&a, "-machine"), ["q35,graphics=off"]);
        assert_eq!(
            after(&a, "-device")[0],
            "virtio-net-pci,netdev=n0,mac=52:54:00:00:00:01"
        );
        s.nics.clear();
        let e = args(&s, Accel::Tcg, Some(Path::new("/lab"))).unwrap_err();
        assert!(e.to_string().contains("no NIC"), "{e}");
        Ok(())
    }

    #[test]
    fn a_paused_node_starts_with_its_cpus_stopped() -> Result<()> {
        let a = args(&spec(), Accel::Tcg, Some(Path::new("/lab")))?;
        assert!(!a.iter().any(|x| x == "-S"));
        let mut s = spec();
        s.paused = true;
        let a = args(&s, Accel::Tcg, Some(Path::new("/lab")))?;
        assert_eq!(a.iter().filter(|x| *x == "-S").count(), 1);
        Ok(())
    }

    #[test]
    fn argv_for_kvm_keeps_console() -> Result<()> {
        let mut s = spec();
        s.append = "console=ttyS0,115200 x".into();
        let a = args(&s, Accel::Kvm, Some(Path::new("/lab")))?;
        assert_eq!(after(&a, "-cpu"), ["host"]);
        assert_eq!(after(&a, "-accel"), ["kvm"]);
        assert_eq!(after(&a, "-append"), ["console=ttyS0,115200 x"]);
        Ok(())
    }

    #[test]
    fn rejects_bad_specs() {
        let hub = Some(Path::new("/lab"));
        let mut s = spec();
        s.name = "bad name".into();
        assert!(matches!(
            args(&s, Accel::Tcg, hub),
            Err(LabError::InvalidSpec { .. })
        ));
        let mut s = spec();
        s.nics[0].mac = "01:00:5e:00:00:01".into();
        assert!(matches!(
            args(&s, Accel::Tcg, hub),
            Err(LabError::InvalidSpec { .. })
        ));
        let mut s = spec();
        s.disks[1].shared = true;
        s.disks[1].readonly = false;
        assert!(matches!(
            args(&s, Accel::Tcg, hub),
            Err(LabError::InvalidSpec { .. })
        ));
        assert!(matches!(
            args(&spec(), Accel::Tcg, None),
            Err(LabError::InvalidSpec { .. })
        ));
        let mut s = spec();
        s.dir = PathBuf::from(format!("/{}", "x".repeat(120)));
        assert!(matches!(
            args(&s, Accel::Tcg, hub),
            Err(LabError::SocketPathTooLong { .. })
        ));
    }

    #[test]
    fn macs_and_display() {
        assert_eq!(mac_for(258, 1), "52:54:00:01:01:02");
        assert!(valid_mac("52:54:00:01:01:02"));
        assert!(!valid_mac("52:54:00:01:01"));
        assert!(!valid_mac("zz:54:00:01:01:02"));
        let line = display_args(Path::new("qemu"), &["-append".into(), "a b".into()]);
        assert_eq!(line, "qemu -append 'a b'");
    }
}

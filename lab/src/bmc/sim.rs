//! One node's BMC as a running `ipmi_sim`: its files in a directory of the run, the
//! process in its own process group (killed with the lab, like QEMU: registered with
//! [`crate::cleanup`], `PR_SET_PDEATHSIG`, and on drop), and the wait until both of its
//! sockets are bound.

use std::collections::HashSet;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::config::{BmcConfig, EMU_COMMANDS};
use super::secret::write_secret;
use crate::error::{LabError, Result};
use crate::{cleanup, process, timeout};

/// The simulator's command name.
pub const IPMI_SIM: &str = "ipmi_sim";

/// The files of one BMC, all inside its directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BmcFiles {
    pub dir: PathBuf,
    /// `lan.conf` (holds the password: mode 0600).
    pub lan_conf: PathBuf,
    /// `bmc.emu`, the command file.
    pub emu: PathBuf,
    /// `password`: the password alone, mode 0600, for `ipmitool -f` and the fence agent.
    pub password_file: PathBuf,
    /// `state/`, `ipmi_sim -s` (never `/var/lib/ipmi_sim`).
    pub state: PathBuf,
    /// `ipmi_sim.log`: its stdout and stderr.
    pub log: PathBuf,
}

impl BmcFiles {
    /// The file names inside `dir`.
    pub fn in_dir(dir: &Path) -> BmcFiles {
        BmcFiles {
            dir: dir.to_path_buf(),
            lan_conf: dir.join("lan.conf"),
            emu: dir.join("bmc.emu"),
            password_file: dir.join("password"),
            state: dir.join("state"),
            log: dir.join("ipmi_sim.log"),
        }
    }
}

/// Writes `config`'s files into `dir` (created with mode 0700).
pub fn write_files(dir: &Path, config: &BmcConfig) -> Result<BmcFiles> {
    let lan_conf = config.lan_conf()?;
    let files = BmcFiles::in_dir(dir);
    for d in [dir, &files.state] {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(d)
            .map_err(|e| LabError::io("cannot create BMC directory", d, e))?;
        // One that existed already is tightened, through a descriptor (never a link).
        srbuild_fsio::chmod_nofollow(d, 0o700)
            .map_err(|e| LabError::io("cannot set mode 0700 on", d, e))?;
    }
    write_secret(&files.lan_conf, lan_conf.as_bytes())?;
    write_secret(&files.password_file, config.password.as_bytes())?;
    srbuild_fsio::write_file(&files.emu, EMU_COMMANDS.as_bytes(), 0o644, None)
        .map_err(|e| LabError::io("cannot write", &files.emu, e))?;
    Ok(files)
}

/// A running `ipmi_sim` serving one node's BMC.
#[derive(Debug)]
pub struct BmcSim {
    config: BmcConfig,
    files: BmcFiles,
    child: Child,
    status: Option<ExitStatus>,
}

impl BmcSim {
    /// Writes the files into `dir`, starts `ipmi_sim` and waits (10 s, scaled) until it
    /// listens on both the LAN and the VM address.
    pub fn start(dir: &Path, config: &BmcConfig) -> Result<BmcSim> {
        super::require_tools(&[IPMI_SIM])?;
        let files = write_files(dir, config)?;
        let log = srbuild_fsio::open_append(&files.log, 0o600)
            .and_then(|f| f.set_len(0).map(|()| f))
            .map_err(|e| LabError::io("cannot create", &files.log, e))?;
        let log2 = log
            .try_clone()
            .map_err(|e| LabError::io("cannot reopen", &files.log, e))?;
        let mut cmd = Command::new(IPMI_SIM);
        cmd.arg("-c")
            .arg(&files.lan_conf)
            .arg("-f")
            .arg(&files.emu)
            .arg("-s")
            .arg(&files.state)
            .args(["-n", "-p"])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        cleanup::install_signal_handlers()?;
        // SAFETY: the closure only makes async-signal-safe syscalls.
        unsafe {
            cmd.pre_exec(|| crate::qemu::child_setup(false));
        }
        let child = cmd.spawn().map_err(|source| {
            crate::host_tools::spawn_failed(IPMI_SIM.as_ref(), source, |source| {
                LabError::io("cannot start ipmi_sim for", &files.dir, source)
            })
        })?;
        cleanup::register(child.id() as i32);
        let mut sim = BmcSim {
            config: config.clone(),
            files,
            child,
            status: None,
        };
        sim.wait_listening(timeout::scaled(Duration::from_secs(10)))?;
        Ok(sim)
    }

    fn wait_listening(&mut self, limit: Duration) -> Result<()> {
        let start = Instant::now();
        let pid = self.pid();
        loop {
            if let Some(st) = self.try_wait()? {
                let text = std::fs::read_to_string(&self.files.log).unwrap_or_default();
                return Err(LabError::Role {
                    node: self.config.node.clone(),
                    why: format!(
                        "its BMC (ipmi_sim) exited at start-up ({st}): {}",
                        text.trim()
                    ),
                    log: self.files.log.clone(),
                });
            }
            let inodes = socket_inodes(pid);
            let udp = bound(pid, "udp", self.config.lan.port(), &inodes, None);
            let tcp = bound(pid, "tcp", self.config.vm.port(), &inodes, Some("0A"));
            if udp && tcp {
                return Ok(());
            }
            if start.elapsed() > limit {
                return Err(LabError::Role {
                    node: self.config.node.clone(),
                    why: format!(
                        "its BMC (ipmi_sim, pid {pid}) did not bind UDP {} and listen on TCP {} \
                         within {:.1}s (is another process using the ports?)",
                        self.config.lan,
                        self.config.vm,
                        limit.as_secs_f64()
                    ),
                    log: self.files.log.clone(),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The BMC's configuration.
    pub fn config(&self) -> &BmcConfig {
        &self.config
    }

    /// Its files.
    pub fn files(&self) -> &BmcFiles {
        &self.files
    }

    /// `ipmi_sim`'s pid (also its process-group id).
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The exit status if `ipmi_sim` has exited (reaping it).
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        if self.status.is_none() {
            let st = self
                .child
                .try_wait()
                .map_err(|e| LabError::io("cannot wait for ipmi_sim in", &self.files.dir, e))?;
            if let Some(st) = st {
                self.status = Some(st);
                cleanup::unregister(self.pid());
            }
        }
        Ok(self.status)
    }

    /// Stops the BMC (SIGTERM to its group, SIGKILL after 1 s) and reaps it; a fence
    /// through it fails from then on, as with a BMC that lost power.
    pub fn kill(&mut self) -> Result<ExitStatus> {
        if let Some(st) = self.try_wait()? {
            return Ok(st);
        }
        let what = format!("BMC of node {}", self.config.node);
        process::signal(-self.pid(), libc::SIGTERM, &what)?;
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(1) {
            if let Some(st) = self.try_wait()? {
                return Ok(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        process::signal(-self.pid(), libc::SIGKILL, &what)?;
        let st = self
            .child
            .wait()
            .map_err(|e| LabError::io("cannot reap ipmi_sim in", &self.files.dir, e))?;
        self.status = Some(st);
        cleanup::unregister(self.pid());
        Ok(st)
    }
}

impl Drop for BmcSim {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

/// The inodes of the sockets `pid` holds open.
fn socket_inodes(pid: i32) -> HashSet<String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter_map(|l| {
            let s = l.to_string_lossy();
            s.strip_prefix("socket:[")
                .and_then(|r| r.strip_suffix(']'))
                .map(str::to_string)
        })
        .collect()
}

/// Whether one of `inodes` is bound to `port` in `/proc/PID/net/PROTO` (in state `st`).
fn bound(pid: i32, proto: &str, port: u16, inodes: &HashSet<String>, st: Option<&str>) -> bool {
    let table = std::fs::read_to_string(format!("/proc/{pid}/net/{proto}")).unwrap_or_default();
    table_has(&table, port, inodes, st)
}

fn table_has(table: &str, port: u16, inodes: &HashSet<String>, st: Option<&str>) -> bool {
    let want = format!(":{port:04X}");
    table.lines().skip(1).any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() > 9
            && f[1].ends_with(&want)
            && st.is_none_or(|s| f[3] == s)
            && inodes.contains(f[9])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_listening_socket_of_the_process_only() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:9C42 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0\n";
        let mine: HashSet<String> = ["4242".to_string()].into();
        let other: HashSet<String> = ["1".to_string()].into();
        assert!(table_has(table, 0x9c42, &mine, Some("0A")));
        assert!(!table_has(table, 0x9c42, &other, Some("0A")));
        assert!(!table_has(table, 0x9c43, &mine, None));
        assert!(!table_has(table, 0x9c42, &mine, Some("01")));
    }

    #[test]
    fn files_hold_secrets_with_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let c = BmcConfig {
            node: "node1".into(),
            lan: "127.0.0.1:40623".parse().unwrap(),
            vm: "127.0.0.1:40002".parse().unwrap(),
            user: "fabc".into(),
            password: "pw".into(),
            guid: "0".repeat(32),
        };
        let f = write_files(&d.path().join("bmc-node1"), &c).unwrap();
        for p in [&f.lan_conf, &f.password_file] {
            let mode = std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", p.display());
        }
        assert_eq!(std::fs::read_to_string(&f.password_file).unwrap(), "pw");
        let dir_mode = std::fs::metadata(&f.dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(dir_mode, 0o700);
    }
}

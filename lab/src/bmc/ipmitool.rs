//! Talking to a BMC as a fence agent does: `ipmitool -I lanplus` with the password read
//! from the BMC's secret file (never on a command line), cipher suite 3, bounded retries,
//! and a hard time limit on every call.

use std::io::Read as _;
use std::net::SocketAddrV4;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::error::{LabError, Result};

/// The client's command name.
pub const IPMITOOL: &str = "ipmitool";

/// RMCP+ cipher suite 3: RAKP-HMAC-SHA1, HMAC-SHA1-96, AES-CBC-128. `ipmi_sim` 2.0.33 has
/// no suite 17 (SHA-256), and suite 0 would need no password at all.
pub const CIPHER_SUITE: &str = "3";

/// `ipmitool -I lanplus -C 3 -H IP -p PORT -U USER -f PASSWORD_FILE -R 1 -N 2 ARGS...`.
pub fn command(lan: SocketAddrV4, user: &str, password_file: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(IPMITOOL);
    c.args(["-I", "lanplus", "-C", CIPHER_SUITE, "-H"])
        .arg(lan.ip().to_string())
        .arg("-p")
        .arg(lan.port().to_string())
        .arg("-U")
        .arg(user)
        .arg("-f")
        .arg(password_file)
        // One retry, 2 s apart: a dead BMC is reported in seconds, not half a minute.
        .args(["-R", "1", "-N", "2"])
        .args(args);
    c
}

/// What one bounded run printed.
#[derive(Debug)]
pub struct Outcome {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

/// Runs `cmd` with no input, killing it after `limit` (an error then).
pub fn run_bounded(mut cmd: Command, limit: Duration) -> Result<Outcome> {
    let shown = format!("{cmd:?}");
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| {
            crate::host_tools::spawn_failed(cmd.get_program(), source, |source| {
                LabError::io("cannot run", cmd.get_program(), source)
            })
        })?;
    // ipmitool prints a few lines: the pipes cannot fill up before it exits.
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if start.elapsed() < limit => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(LabError::Tool {
                    what: shown,
                    stderr: format!("still running after {:.1}s; killed", limit.as_secs_f64()),
                });
            }
            Err(e) => return Err(LabError::io("cannot wait for", cmd.get_program(), e)),
        }
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut stdout);
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    Ok(Outcome {
        status,
        stdout,
        stderr,
        elapsed: start.elapsed(),
    })
}

/// `chassis power status`: `Ok(true)` for on, `Ok(false)` for off, an error naming the
/// BMC and ipmitool's words when the BMC cannot be reached or refuses the login.
pub fn power_is_on(
    lan: SocketAddrV4,
    user: &str,
    password_file: &Path,
    limit: Duration,
) -> Result<bool> {
    let o = run_bounded(
        command(lan, user, password_file, &["chassis", "power", "status"]),
        limit,
    )?;
    match (o.status.success(), o.stdout.trim()) {
        (true, "Chassis Power is on") => Ok(true),
        (true, "Chassis Power is off") => Ok(false),
        _ => Err(LabError::Tool {
            what: format!("power status from the BMC at {lan}"),
            stderr: format!("{} {}", o.stdout.trim(), o.stderr.trim()),
        }),
    }
}

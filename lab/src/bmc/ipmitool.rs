//! Talking to a BMC as a fence agent does: `ipmitool -I lanplus` with the password read
//! from the BMC's secret file (never on a command line), cipher suite 3, bounded retries,
//! and a hard time limit on every call.

use std::net::SocketAddrV4;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

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

pub use crate::process::{run_bounded, Outcome};

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

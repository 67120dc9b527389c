//! A minimal QMP client for a running node (`<node dir>/qmp.sock`): the commands the lab
//! sends, `set_link` (a NIC's link down or up, as a pulled cable would) and `cont` (start
//! the CPUs of nodes started paused, all at one moment: a boot storm).

use crate::error::{LabError, Result};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// The JSON of `set_link` for netdev `name` (an id the lab chose: [`crate::qemu::netdev_id`],
/// plain letters and digits, so it needs no escaping).
pub fn set_link_command(name: &str, up: bool) -> String {
    format!(r#"{{"execute":"set_link","arguments":{{"name":"{name}","up":{up}}}}}"#)
}

/// Takes the link of the NIC whose netdev is `name` down (`up = false`) or up, through the
/// QMP socket `sock`.
pub fn set_link(sock: &Path, name: &str, up: bool) -> Result<()> {
    if !name.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(LabError::Invalid(format!(
            "QMP set_link: netdev name '{name}' is not plain letters and digits"
        )));
    }
    let mut c = connect(sock)?;
    let cmd = set_link_command(name, up);
    c.w.write_all(format!("{cmd}\n").as_bytes())
        .map_err(|e| LabError::io("cannot write to QMP", sock, e))?;
    reply(&mut c.r, sock, &cmd)?;
    Ok(())
}

/// One QMP connection, past the greeting and `qmp_capabilities`.
struct Conn {
    w: UnixStream,
    r: BufReader<UnixStream>,
}

/// Connects to `sock`, waiting up to 10 s (scaled) for it to appear and listen: QEMU writes
/// its pidfile, which is what the lab waits for, before it creates its chardev sockets.
fn connect(sock: &Path) -> Result<Conn> {
    let deadline = std::time::Instant::now() + crate::timeout::scaled(Duration::from_secs(10));
    let s = loop {
        match UnixStream::connect(sock) {
            Ok(s) => break s,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(LabError::io("cannot connect to QMP", sock, e)),
        }
    };
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| LabError::io("QMP", sock, e))?;
    let mut w = s.try_clone().map_err(|e| LabError::io("QMP", sock, e))?;
    let mut r = BufReader::new(s);
    let mut greeting = String::new();
    r.read_line(&mut greeting)
        .map_err(|e| LabError::io("no QMP greeting from", sock, e))?;
    let cmd = r#"{"execute":"qmp_capabilities"}"#;
    w.write_all(format!("{cmd}\n").as_bytes())
        .map_err(|e| LabError::io("cannot write to QMP", sock, e))?;
    reply(&mut r, sock, cmd)?;
    Ok(Conn { w, r })
}

/// Starts the CPUs of every node whose QMP socket is in `socks` (started paused, `-S`) at
/// one moment: every connection is opened and negotiated first, then `cont` goes to each
/// in one tight loop, then the answers are read. Returns the moment the last `cont` was
/// written, the release the nodes' times count from (reading the answers of many busy
/// QEMUs takes longer).
pub fn cont_all(socks: &[&Path]) -> Result<std::time::Instant> {
    let mut conns = Vec::new();
    for sock in socks {
        conns.push((connect(sock)?, *sock));
    }
    let cmd = r#"{"execute":"cont"}"#;
    for (c, sock) in conns.iter_mut() {
        c.w.write_all(format!("{cmd}\n").as_bytes())
            .map_err(|e| LabError::io("cannot write to QMP", *sock, e))?;
    }
    let released = std::time::Instant::now();
    for (c, sock) in conns.iter_mut() {
        reply(&mut c.r, sock, cmd)?;
    }
    Ok(released)
}

/// Reads until the answer to `cmd` (events before it are skipped); an `error` is an error.
fn reply(r: &mut impl BufRead, sock: &Path, cmd: &str) -> Result<()> {
    loop {
        let mut line = String::new();
        let n = r
            .read_line(&mut line)
            .map_err(|e| LabError::io("no QMP answer from", sock, e))?;
        if n == 0 {
            return Err(LabError::Invalid(format!(
                "QMP {} closed before answering {cmd}",
                sock.display()
            )));
        }
        if line.contains("\"error\"") {
            return Err(LabError::Invalid(format!(
                "QMP {} refused {cmd}: {}",
                sock.display(),
                srbuild_archive::one_line(line.trim())
            )));
        }
        if line.contains("\"return\"") {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_link_is_qmp_json_and_odd_names_are_refused() {
        assert_eq!(
            set_link_command("n1", false),
            r#"{"execute":"set_link","arguments":{"name":"n1","up":false}}"#
        );
        let e = set_link(Path::new("/nonexistent/qmp.sock"), "n1\"", true).unwrap_err();
        assert!(e.to_string().contains("not plain"), "{e}");
    }

    #[test]
    fn an_error_reply_is_an_error_and_events_are_skipped() {
        let p = Path::new("/x/qmp.sock");
        let mut ok = "{\"event\":\"NIC_RX_FILTER_CHANGED\"}\n{\"return\": {}}\n".as_bytes();
        assert!(reply(&mut ok, p, "c").is_ok());
        let mut bad = "{\"error\": {\"class\": \"DeviceNotFound\"}}\n".as_bytes();
        let e = reply(&mut bad, p, "c").unwrap_err().to_string();
        assert!(e.contains("DeviceNotFound"), "{e}");
        let mut eof = "".as_bytes();
        assert!(reply(&mut eof, p, "c").is_err());
    }
}

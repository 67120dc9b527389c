//! A BMC per lab node, for fencing (issue 21): OpenIPMI's `ipmi_sim` speaking IPMI over
//! LAN (RMCP+, `lanplus`) and driving the node's QEMU through `ipmi-bmc-extern`.
//!
//! - [`config`]: the `ipmi_sim` files and the one validator every value passes;
//! - [`secret`]: per-run credentials from getrandom(2), secret files (0600);
//! - [`sim`]: the running simulator and its cleanup;
//! - [`ipmitool`]: the client side, as a fence agent calls it;
//! - [`rmcp`]: the check the lab's BMC endpoint makes (no cipher suite 0);
//! - [`gateway`]: the BMC endpoint on the lab hub (ARP, UDP 623 relay, per-BMC log), over
//!   [`frame`]'s hand-written Ethernet/ARP/IPv4/UDP;
//! - [`qemu_args`]: what a node's QEMU command line gains.
//!
//! Power control goes through QEMU's VM interface, not through `startcmd`: the lab keeps
//! starting and owning QEMU; `chassis power off` makes QEMU shut the machine down and exit.
//! See `docs/fencing-design.md`.

pub mod config;
pub mod frame;
pub mod gateway;
pub mod ipmitool;
pub mod rmcp;
pub mod secret;
pub mod sim;

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, UdpSocket};

pub use config::{check_value, BmcConfig};
pub use secret::Credentials;
pub use sim::{BmcFiles, BmcSim};

use crate::error::{LabError, Result};
use crate::host_tools::find_in_path;

/// The host commands of the BMCs and the Debian package of each.
pub const TOOLS: &[(&str, &str)] = &[
    (sim::IPMI_SIM, "openipmi"),
    (ipmitool::IPMITOOL, "ipmitool"),
];

/// Errors, naming the package and `cargo xtask deps`, unless every command of `commands`
/// (from [`TOOLS`]) is on `PATH`.
pub fn require_tools(commands: &[&str]) -> Result<()> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    missing_tools(commands, &path)
}

fn missing_tools(commands: &[&str], path: &std::ffi::OsStr) -> Result<()> {
    let missing: Vec<&(&str, &str)> = TOOLS
        .iter()
        .filter(|(c, _)| commands.contains(c) && find_in_path(c, path).is_none())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let named: Vec<String> = missing
        .iter()
        .map(|(c, p)| format!("{c} (package {p})"))
        .collect();
    let packages: Vec<&str> = missing.iter().map(|(_, p)| *p).collect();
    Err(LabError::Invalid(format!(
        "the lab's BMCs need {} on PATH; run `cargo xtask deps` (or `apt-get install {}`)",
        named.join(" and "),
        packages.join(" ")
    )))
}

/// A fresh configuration for `node`'s BMC: new random credentials and GUID.
pub fn generate(
    node: &str,
    lan: SocketAddrV4,
    vm: SocketAddrV4,
) -> Result<(BmcConfig, Credentials)> {
    let creds = Credentials::generate()?;
    let config = BmcConfig {
        node: node.to_string(),
        lan,
        vm,
        user: creds.user.clone(),
        password: creds.password.clone(),
        guid: secret::random_hex(16)?,
    };
    config.validate()?;
    Ok((config, creds))
}

/// QEMU arguments that give a node a KCS system interface wired to its external BMC at
/// `vm`. QEMU connects to `ipmi_sim` (the server) and reconnects every second if the BMC
/// restarts, so a node boots whether or not its BMC is up yet.
pub fn qemu_args(vm: SocketAddrV4) -> Vec<String> {
    vec![
        "-chardev".into(),
        format!(
            "socket,id=bmc0,host={},port={},reconnect=1",
            vm.ip(),
            vm.port()
        ),
        "-device".into(),
        "ipmi-bmc-extern,chardev=bmc0,id=bmc0".into(),
        "-device".into(),
        "isa-ipmi-kcs,bmc=bmc0".into(),
    ]
}

/// A port on 127.0.0.1 that was free a moment ago (UDP if `udp`, else TCP). Another
/// process may take it before it is used: [`BmcSim::start`] then fails with a clear error.
pub fn unused_loopback_port(udp: bool) -> Result<u16> {
    let any = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0);
    let port = if udp {
        UdpSocket::bind(any).and_then(|s| s.local_addr())
    } else {
        TcpListener::bind(any).and_then(|s| s.local_addr())
    };
    port.map(|a| a.port())
        .map_err(|e| LabError::io("cannot find a free port on", "127.0.0.1", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qemu_gets_a_kcs_interface_on_the_bmc_socket() {
        let a = qemu_args("127.0.0.1:9002".parse().unwrap());
        assert_eq!(a[1], "socket,id=bmc0,host=127.0.0.1,port=9002,reconnect=1");
        assert!(a.contains(&"isa-ipmi-kcs,bmc=bmc0".to_string()));
    }

    #[test]
    fn generated_configs_differ_per_node_and_per_run() {
        let lan = "127.0.0.1:1623".parse().unwrap();
        let vm = "127.0.0.1:1002".parse().unwrap();
        let (a, _) = generate("node1", lan, vm).unwrap();
        let (b, _) = generate("node1", lan, vm).unwrap();
        assert_ne!(a.password, b.password);
        assert_ne!(a.guid, b.guid);
        assert!(generate("node 1", lan, vm).is_err());
    }

    #[test]
    fn missing_tools_name_the_package_and_xtask_deps() {
        let list = include_str!("../../../ci/host-packages.txt");
        for (_, p) in TOOLS {
            assert!(
                list.lines().any(|l| l.trim() == *p),
                "{p} is not in ci/host-packages.txt"
            );
        }
        assert!(require_tools(&[]).is_ok());
        let err = missing_tools(
            &["ipmi_sim", "ipmitool"],
            std::ffi::OsStr::new("/nonexistent"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("ipmi_sim (package openipmi) and ipmitool (package ipmitool)"),
            "{err}"
        );
        assert!(err.contains("cargo xtask deps"), "{err}");
    }
}

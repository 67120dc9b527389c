//! How clients reach the network and their boot: an address from `ip=`, from DHCP, or
//! the whole boot from the server with iPXE.

use super::{Address, ScenarioSpec, VerdictSpec, BASE};
use crate::run::scenarios::Scenario;

pub const IP_STATIC: ScenarioSpec = ScenarioSpec {
    id: Scenario::IpStatic,
    name: "ip-static",
    doc: "Clients get their address from `ip=` in the kernel's syntax (not the description).",
    address: Address::Static,
    verdict: VerdictSpec::Pass {
        line: Some("srbuild: ip {static_ip}/24 on eth0"),
    },
    ..BASE
};

pub const DHCP: ScenarioSpec = ScenarioSpec {
    id: Scenario::Dhcp,
    name: "dhcp",
    doc: "Clients get their address with `ip=dhcp` from the server's DHCP service.",
    role_args: &["srbuild.dhcp=1"],
    address: Address::Dhcp,
    verdict: VerdictSpec::Pass {
        line: Some("srbuild: dhcp on eth0: {ip}/24"),
    },
    ..BASE
};

/// Where the pxe scenario's netboot files live on the server's data disk.
pub const NETBOOT_DIR: &str = "/srv/netboot";

pub const PXE: ScenarioSpec = ScenarioSpec {
    id: Scenario::Pxe,
    name: "pxe",
    doc: "Clients boot with QEMU's iPXE from the server's dnsmasq, serving what `srbuild cluster netboot` wrote; a stranger MAC must get no boot.",
    role_args: &["srbuild.netboot=/srv/netboot"],
    // Proof that the node booted through iPXE from the server.
    verdict: VerdictSpec::Pass {
        line: Some("tftp://{server_ip}/{ipxe_boot}... ok"),
    },
    netboot: true,
    ..BASE
};

//! How clients reach the network and their boot: an address from `ip=`, from DHCP, or
//! the whole boot from the server with iPXE.

use super::{Address, Netboot, ScenarioSpec, VerdictSpec, BASE};
use crate::run::scenarios::Scenario;

pub const IP_STATIC: ScenarioSpec = ScenarioSpec {
    id: Scenario::IpStatic,
    name: "ip-static",
    doc: "Clients get their address from `ip=` in the kernel's syntax (not the description).",
    address: Address::Static,
    verdict: VerdictSpec::Pass {
        lines: &["srbuild: ip {static_ip}/24 on eth0"],
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
        lines: &["srbuild: dhcp on eth0: {ip}/24"],
    },
    ..BASE
};

/// Where the pxe scenarios' netboot files live on the server's data disk (mounted on
/// `/srv`): what `srbuild cluster netboot` wrote, its `dnsmasq.conf` at the top.
pub const NETBOOT_DIR: &str = "/srv/netboot";
/// pxe-http: the TFTP root on the server (`--http-base` mode's `tftp/`: only `boot.ipxe`).
pub const NETBOOT_TFTP_DIR: &str = "/srv/netboot/tftp";
/// pxe-http: the directory of the data disk the server's nginx serves at
/// `http://SERVER/` (`--http-base` mode's `http/`), as `srbuild.http.dir=` names it.
pub const NETBOOT_HTTP_DIR: &str = "/netboot/http";
/// pxe-http: the `--http-base` of the netboot files: the server's nginx serves
/// [`NETBOOT_HTTP_DIR`] at its root, on port 80 (`{server_ip}` as in verdict lines).
pub const NETBOOT_BASE_URL: &str = "http://{server_ip}";

pub const PXE: ScenarioSpec = ScenarioSpec {
    id: Scenario::Pxe,
    name: "pxe",
    doc: "Clients boot with QEMU's iPXE from the server's dnsmasq, serving what `srbuild cluster netboot` wrote; a stranger MAC must get no boot.",
    role_args: &["srbuild.netboot=/srv/netboot"],
    // Proof that the node booted through iPXE from the server.
    verdict: VerdictSpec::Pass {
        lines: &["tftp://{server_ip}/{ipxe_boot}... ok"],
    },
    netboot: Netboot::Tftp,
    ..BASE
};

pub const PXE_HTTP: ScenarioSpec = ScenarioSpec {
    id: Scenario::PxeHttp,
    name: "pxe-http",
    doc: "As pxe, but iPXE over HTTP (`srbuild cluster netboot --http-base`): only `boot.ipxe` comes over TFTP; the node's script, the kernel and the initrd come from the server's nginx.",
    role_args: &["srbuild.netboot=/srv/netboot", "srbuild.http.dir=/netboot/http"],
    // Proof of each step: the first stage over TFTP, the kernel and the initrd over HTTP
    // (TFTP serves nothing else).
    verdict: VerdictSpec::Pass {
        lines: &[
            "tftp://{server_ip}/{ipxe_boot}... ok",
            "http://{server_ip}/{netboot_kernel}... ok",
            "http://{server_ip}/{netboot_initrd}... ok",
        ],
    },
    netboot: Netboot::Http,
    server_profile: Some("lab-nfs-http-server"),
    ..BASE
};

//! Scenarios as data: one [`ScenarioSpec`] per [`Scenario`], grouped by family in
//! `basic.rs`, `faults.rs`, `rootmode.rs`, `net.rs`, `paths.rs` and `fencing.rs`. A descriptor says what the clients'
//! kernel command line gets, what their consoles must show (`LAB-PASS` with an extra line,
//! or a `FAILED stage=`), who is killed once every client passed, whether the server runs,
//! which of the described nodes boot, whether they boot from the network, how many nodes
//! the scenario needs, and what it changes in the agent's checks. The plan
//! ([`crate::run::plan`]) reads these fields and never names a scenario.

mod basic;
mod faults;
mod fencing;
mod net;
mod paths;
mod rootmode;

pub use net::{NETBOOT_BASE_URL, NETBOOT_DIR, NETBOOT_HTTP_DIR, NETBOOT_TFTP_DIR};

use crate::error::{LabError, Result};

/// What a run sets out to show: the identity of a scenario, whose behaviour is its
/// descriptor ([`Scenario::spec`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Normal,
    WrongRootPath,
    UnknownNode,
    LateServer,
    IpStatic,
    Dhcp,
    NodeDies,
    LoneNode,
    ServerDown,
    RamRoot,
    HybridRoot,
    BadRootmode,
    RamTooSmall,
    HybridMissingPath,
    Pxe,
    PxeHttp,
    PathFails,
    Partition,
    FenceDeviceDown,
    MissingLv,
    BadChap,
    BadHash,
    UnsharedVg,
}

impl Scenario {
    /// Its descriptor ([`crate::run::scenarios`]).
    pub fn spec(self) -> &'static ScenarioSpec {
        spec(self)
    }

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        self.spec().name
    }
}

impl std::str::FromStr for Scenario {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        SPECS
            .iter()
            .find(|x| x.name == s)
            .map(|x| x.id)
            .ok_or_else(|| {
                format!(
                    "unknown scenario '{s}'; use one of: {}",
                    SPECS.iter().map(|x| x.name).collect::<Vec<_>>().join(", ")
                )
            })
    }
}

impl std::fmt::Display for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Every scenario's descriptor, in the order `--help` and the docs list them.
pub const SPECS: &[&ScenarioSpec] = &[
    &basic::NORMAL,
    &basic::WRONG_ROOT_PATH,
    &basic::UNKNOWN_NODE,
    &faults::LATE_SERVER,
    &net::IP_STATIC,
    &net::DHCP,
    &faults::NODE_DIES,
    &faults::LONE_NODE,
    &faults::SERVER_DOWN,
    &rootmode::RAM_ROOT,
    &rootmode::HYBRID_ROOT,
    &rootmode::BAD_ROOTMODE,
    &rootmode::RAM_TOO_SMALL,
    &rootmode::HYBRID_MISSING_PATH,
    &net::PXE,
    &net::PXE_HTTP,
    &paths::PATH_FAILS,
    &fencing::PARTITION,
    &fencing::FENCE_DEVICE_DOWN,
    &basic::MISSING_LV,
    &basic::BAD_CHAP,
    &basic::BAD_HASH,
    &basic::UNSHARED_VG,
];

/// One scenario.
#[derive(Debug)]
pub struct ScenarioSpec {
    pub id: Scenario,
    /// `--scenario NAME`.
    pub name: &'static str,
    /// One sentence for `--help` and the docs.
    pub doc: &'static str,
    /// Kernel arguments the clients get after the kind's own.
    pub client_args: &'static [&'static str],
    /// Kernel arguments every described service role (a server) gets.
    pub role_args: &'static [&'static str],
    /// Kernel arguments the seed gets after its role's own: how it makes the shared disk
    /// (only for kinds with a seed).
    pub seed_args: &'static [&'static str],
    /// How the clients get their address.
    pub address: Address,
    /// What every booted client's console must show.
    pub verdict: VerdictSpec,
    /// Killed once every client passed; the survivors must go on writing.
    pub victim: Victim,
    pub server: ServerPolicy,
    pub boots: Boots,
    /// Clients boot through QEMU's iPXE from the server (no `-kernel`), and a stranger
    /// whose MAC is not described must get nothing.
    pub netboot: Netboot,
    /// The server role boots this profile instead of its kind's (a server that does more,
    /// such as serving HTTP besides its root).
    pub server_profile: Option<&'static str>,
    /// At least this many client nodes, and why.
    pub min_nodes: Option<(usize, &'static str)>,
    pub root_mode: RootMode,
    /// Clients use MACs the cluster description does not know.
    pub unknown_macs: bool,
    /// Clients ask for a root that does not exist.
    pub wrong_root: bool,
    /// The clients' images hold another CHAP secret than the iSCSI target's (kinds whose
    /// root is served over iSCSI, where the target requires CHAP).
    pub wrong_chap: bool,
    /// No client can become quorate: the cluster stack should give up soon.
    pub no_quorum: bool,
    /// L2 segments (hubs): every node with a network gets one NIC on each, and an `ip=`
    /// address on each segment after the first ([`crate::run::topology::on_segment`]).
    pub networks: usize,
    /// Once every client passed, a link is cut and later restored.
    pub cut: Option<LinkCut>,
    /// The victim's BMC is unreachable (the lab's gateway drops its traffic) from the
    /// victim's death for this many seconds: nobody can fence it meanwhile.
    pub bmc_down: u64,
    /// Once every VM is gone, the host checks the shared disk read-only (the layout's
    /// [`crate::run::kinds::Formatter::check`]); it must be clean.
    pub fsck: bool,
}

/// A link cut once every client passed: QMP `set_link` takes NIC `segment` of `nodes` down
/// for `secs` seconds (longer, within a bound, until every client saw `down_seen`), then up again. The clients go on writing (the agent's `LAB-BEAT`
/// lines) throughout; every client's console must show `down_seen` while the link is down
/// and `up_seen` after it came back, then a write. The longest gap between writes is
/// reported as the I/O stall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkCut {
    pub nodes: CutNodes,
    pub segment: usize,
    pub secs: u64,
    pub down_seen: &'static str,
    pub up_seen: &'static str,
}

/// Whose link a [`LinkCut`] takes down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CutNodes {
    /// The server role's (one cut that every client sees).
    Server,
    /// Every booted client's.
    Clients,
}

/// Whether and how clients boot from the server's network services
/// ([`ScenarioSpec::netboot`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Netboot {
    /// From the kernel and initrd QEMU is given.
    No,
    /// Everything over TFTP from the server's dnsmasq (`srbuild cluster netboot`).
    Tftp,
    /// `boot.ipxe` over TFTP, then the node's script, the kernel and the initrd over HTTP
    /// from the server's nginx (`srbuild cluster netboot --http-base`).
    Http,
}

impl Netboot {
    /// Whether the clients boot from the network at all.
    pub fn on(self) -> bool {
        self != Netboot::No
    }
}

/// How clients get their address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Address {
    /// From the cluster description (srbuild's own network setup).
    Described,
    /// From `ip=` in the kernel's syntax, an address the description does not give.
    Static,
    /// `ip=dhcp`, from the server's DHCP service.
    Dhcp,
}

/// What a client's console must show. Lines may hold `{ip}` (the node's described address),
/// `{static_ip}` (its `ip=` address), `{server_ip}`, `{ipxe_boot}` (the iPXE script's
/// name), `{netboot_kernel}` and `{netboot_initrd}` (the kernel's and initrd's names in
/// the netboot files) and `{root_sha256}` (the root image's hash,
/// [`crate::run::plan::ROOT_SHA256`], known once the image is made).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerdictSpec {
    /// `LAB-PASS`, and each of `lines` somewhere on the console.
    Pass { lines: &'static [&'static str] },
    /// `FAILED stage=<stage>` whose reason has each of `why_has`.
    Fail {
        stage: &'static str,
        why_has: &'static [&'static str],
    },
}

/// Who is killed once every client passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Victim {
    None,
    /// The last booted client.
    Client,
    /// The last booted client is cut off from the others (QMP `set_link` takes its NIC on
    /// the first network down) and keeps running: the cluster must fence it.
    Isolated,
    /// The server role.
    Server,
}

/// When the server role (of kinds that have one) runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerPolicy {
    /// With the clients.
    Runs,
    /// This many seconds after the clients.
    Late(u64),
    /// Never.
    Absent,
}

/// Which of the described clients boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Boots {
    All,
    /// Only the first (the others stay described members that never come).
    First,
}

/// Where a client's root ends up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootMode {
    /// Mounted from the kind's storage.
    Network,
    /// Copied into a tmpfs; the network root's daemons are gone.
    Ram,
    /// In a tmpfs but for `/usr`, which stays a read-only mount of the kind's root.
    Hybrid,
}

impl ScenarioSpec {
    /// The stage a client must fail at, or `None` when it must reach LAB-PASS.
    pub fn expected_failure(&self) -> Option<&'static str> {
        match self.verdict {
            VerdictSpec::Fail { stage, .. } => Some(stage),
            VerdictSpec::Pass { .. } => None,
        }
    }

    /// Whether the root is in RAM (all of it or all but `/usr`).
    pub fn in_ram(&self) -> bool {
        self.root_mode != RootMode::Network
    }

    /// The paths the clients are asked to keep on the network (`srbuild.hybrid=`), when
    /// their arguments ask for a hybrid root (`srbuild.rootmode=hybrid`), whether or not it
    /// must work; `None` otherwise.
    pub fn hybrid_paths(&self) -> Option<Vec<&'static str>> {
        self.client_args
            .contains(&"srbuild.rootmode=hybrid")
            .then(|| {
                self.client_args
                    .iter()
                    .filter_map(|a| a.strip_prefix("srbuild.hybrid="))
                    .flat_map(|v| v.split(','))
                    .collect()
            })
    }

    /// Refuses a node count below the scenario's minimum.
    pub fn check_nodes(&self, nodes: usize) -> Result<()> {
        match self.min_nodes {
            Some((min, why)) if nodes < min => Err(LabError::Invalid(format!(
                "the {} scenario needs at least {min} nodes: {why}",
                self.name
            ))),
            _ => Ok(()),
        }
    }
}

/// The descriptor of `s`.
pub fn spec(s: Scenario) -> &'static ScenarioSpec {
    match s {
        Scenario::Normal => &basic::NORMAL,
        Scenario::WrongRootPath => &basic::WRONG_ROOT_PATH,
        Scenario::MissingLv => &basic::MISSING_LV,
        Scenario::BadChap => &basic::BAD_CHAP,
        Scenario::BadHash => &basic::BAD_HASH,
        Scenario::UnsharedVg => &basic::UNSHARED_VG,
        Scenario::UnknownNode => &basic::UNKNOWN_NODE,
        Scenario::LateServer => &faults::LATE_SERVER,
        Scenario::IpStatic => &net::IP_STATIC,
        Scenario::Dhcp => &net::DHCP,
        Scenario::NodeDies => &faults::NODE_DIES,
        Scenario::LoneNode => &faults::LONE_NODE,
        Scenario::ServerDown => &faults::SERVER_DOWN,
        Scenario::RamRoot => &rootmode::RAM_ROOT,
        Scenario::HybridRoot => &rootmode::HYBRID_ROOT,
        Scenario::BadRootmode => &rootmode::BAD_ROOTMODE,
        Scenario::RamTooSmall => &rootmode::RAM_TOO_SMALL,
        Scenario::HybridMissingPath => &rootmode::HYBRID_MISSING_PATH,
        Scenario::Pxe => &net::PXE,
        Scenario::PxeHttp => &net::PXE_HTTP,
        Scenario::PathFails => &paths::PATH_FAILS,
        Scenario::Partition => &fencing::PARTITION,
        Scenario::FenceDeviceDown => &fencing::FENCE_DEVICE_DOWN,
    }
}

/// A verdict line with its placeholders filled.
pub fn fill(template: &str, ip: &str, static_ip: &str, server_ip: &str) -> String {
    template
        .replace("{ip}", ip)
        .replace("{static_ip}", static_ip)
        .replace("{server_ip}", server_ip)
        .replace("{ipxe_boot}", srbuild_cluster::netboot::IPXE_BOOT_NAME)
        .replace("{netboot_kernel}", srbuild_cluster::netboot::KERNEL_NAME)
        .replace("{netboot_initrd}", srbuild_cluster::netboot::INITRD_NAME)
}

/// A descriptor with every field at its everyday value, for the families to start from.
pub(crate) const BASE: ScenarioSpec = ScenarioSpec {
    id: Scenario::Normal,
    name: "normal",
    doc: "",
    client_args: &[],
    role_args: &[],
    seed_args: &[],
    address: Address::Described,
    verdict: VerdictSpec::Pass { lines: &[] },
    victim: Victim::None,
    server: ServerPolicy::Runs,
    boots: Boots::All,
    netboot: Netboot::No,
    server_profile: None,
    min_nodes: None,
    root_mode: RootMode::Network,
    unknown_macs: false,
    wrong_root: false,
    wrong_chap: false,
    no_quorum: false,
    networks: 1,
    cut: None,
    bmc_down: 0,
    fsck: false,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_known_ones() {
        for s in SPECS {
            assert_eq!(s.name.parse::<Scenario>(), Ok(s.id));
        }
        let err = "bogus".parse::<Scenario>().unwrap_err();
        assert!(err.contains("unknown scenario 'bogus'") && err.contains("node-dies"));
    }

    #[test]
    fn every_scenario_has_exactly_one_descriptor_named_as_it() {
        for d in SPECS {
            assert_eq!(spec(d.id).name, d.name, "{} is listed as another", d.name);
            assert_eq!(
                SPECS.iter().filter(|o| o.id == d.id).count(),
                1,
                "{}",
                d.name
            );
            assert!(!d.doc.is_empty(), "{} has no doc", d.name);
        }
    }

    #[test]
    fn hybrid_paths_come_from_the_arguments_that_ask_for_a_hybrid_root() {
        assert_eq!(
            spec(Scenario::HybridRoot).hybrid_paths(),
            Some(vec!["/usr"])
        );
        assert_eq!(
            spec(Scenario::HybridMissingPath).hybrid_paths(),
            Some(vec!["/usr", "/no-such-dir"])
        );
        assert_eq!(spec(Scenario::RamRoot).hybrid_paths(), None);
        assert_eq!(spec(Scenario::Normal).hybrid_paths(), None);
    }

    #[test]
    fn node_minimums_say_why() {
        let e = spec(Scenario::NodeDies)
            .check_nodes(1)
            .unwrap_err()
            .to_string();
        assert!(e.contains("at least 2 nodes: one dies"), "{e}");
        assert!(spec(Scenario::LoneNode).check_nodes(2).is_err());
        assert!(spec(Scenario::LoneNode).check_nodes(3).is_ok());
        assert!(spec(Scenario::Normal).check_nodes(1).is_ok());
    }

    #[test]
    fn lines_get_their_addresses() {
        assert_eq!(
            fill("tftp://{server_ip}/{ipxe_boot}... ok", "", "", "10.77.0.1"),
            "tftp://10.77.0.1/boot.ipxe... ok"
        );
        assert_eq!(
            fill(
                "http://{server_ip}/{netboot_kernel} {netboot_initrd}",
                "",
                "",
                "10.77.0.1"
            ),
            "http://10.77.0.1/vmlinuz initrd.img"
        );
    }
}

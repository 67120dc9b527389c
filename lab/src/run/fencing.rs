//! Fencing in a lab run (issue 21, `docs/fencing-design.md`): a kind with `fencing` gives
//! each cluster member a BMC. The plan names them ([`PlannedBmc`]: the lab address
//! `10.77.0.(200 + id)`, the directory of its `ipmi_sim`, its password file next to the
//! cluster description); the description gets one `[node.fence]` per member
//! ([`fence_toml`], the one place that writes it) with per-run credentials
//! ([`credentials`], [`write_password_files`]); when the run starts, [`start`] starts each
//! `ipmi_sim`, wires its node's QEMU to it and puts the BMC gateway on the hub.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};

use crate::bmc::config::{check_value, Secret, MAX_USER};
use crate::bmc::gateway::{Gateway, GatewayBmc, IPMI_PORT};
use crate::bmc::secret::{random_hex, write_secret};
use crate::bmc::{self, BmcConfig, BmcSim, Credentials};
use crate::error::{LabError, Result};
use crate::run::kinds::RootKind;
use crate::run::topology::{LabNode, SUBNET};

/// The fence agent the description names (`fence_ipmilan`'s protocol).
pub const AGENT: &str = "ipmilan";
/// RMCP+ cipher suite 3 ([`crate::bmc::ipmitool::CIPHER_SUITE`]): `ipmi_sim` has no 17,
/// and the gateway drops 0.
pub const CIPHER: u8 = 3;
/// A BMC's address is this plus the node's id, on the lab's first segment.
const BMC_BASE: u8 = 200;

/// One member's BMC, as planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedBmc {
    pub node: String,
    /// Its address on the lab network (answered by the gateway).
    pub address: Ipv4Addr,
    /// `RUN/bmc-NODE`: its `ipmi_sim` files, logs and the gateway's log.
    pub dir: PathBuf,
    /// The password alone (0600), next to the cluster description, which names it.
    pub password_file: PathBuf,
}

impl PlannedBmc {
    /// `bmc-NODE.password`, as the description names it (relative to itself).
    pub fn password_file_name(&self) -> String {
        self.password_file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The gateway's log of this BMC.
    pub fn gateway_log(&self) -> PathBuf {
        self.dir.join("gateway.log")
    }
}

/// The BMC address of member `n`: `10.77.0.(200 + id)`, outside the clients' (`.11`+),
/// services' (`.1`, `.2`) and ip-static (`.51`+) ranges.
pub fn bmc_address(n: &LabNode) -> Result<Ipv4Addr> {
    let host = u8::try_from(n.id)
        .ok()
        .and_then(|id| BMC_BASE.checked_add(id))
        .filter(|h| *h < 255)
        .ok_or_else(|| {
            LabError::Invalid(format!(
                "node {} (id {}) has no BMC address: ids 1 to 54 fit 10.77.0.201-254",
                n.name, n.id
            ))
        })?;
    format!("{SUBNET}.{host}")
        .parse()
        .map_err(|_| LabError::Invalid(format!("internal: {SUBNET}.{host} is no IPv4 address")))
}

/// The BMCs of `members` when `kind` fences (none otherwise): directories under `run_dir`,
/// password files in `work` (next to the cluster description).
pub fn plan(
    kind: &RootKind,
    run_dir: &Path,
    work: &Path,
    members: &[LabNode],
) -> Result<Vec<PlannedBmc>> {
    if !kind.fencing {
        return Ok(Vec::new());
    }
    members
        .iter()
        .map(|n| {
            Ok(PlannedBmc {
                node: n.name.clone(),
                address: bmc_address(n)?,
                dir: run_dir.join(format!("bmc-{}", n.name)),
                password_file: work.join(format!("bmc-{}.password", n.name)),
            })
        })
        .collect()
}

/// The `[node.fence]` section of a member whose BMC is at `address`, for the `[[node]]`
/// table just before it. Every value is checked ([`check_value`]), so none can end the
/// string it is written in.
pub fn fence_toml(
    node: &str,
    address: Ipv4Addr,
    user: &str,
    password_file: &str,
) -> Result<String> {
    let what = |k: &str| format!("the fence device of node {node}: {k}");
    check_value(&what("user"), user, MAX_USER, Secret::No)?;
    check_value(&what("password_file"), password_file, 255, Secret::No)?;
    let mut s = String::from("[node.fence]\n");
    let _ = writeln!(s, "agent = \"{AGENT}\"");
    let _ = writeln!(s, "address = \"{address}\"");
    let _ = writeln!(s, "port = {IPMI_PORT}");
    let _ = writeln!(s, "user = \"{user}\"");
    let _ = writeln!(s, "password_file = \"{password_file}\"");
    let _ = writeln!(s, "cipher = {CIPHER}");
    Ok(s)
}

/// Fresh credentials for each of `bmcs`, by node.
pub fn credentials(bmcs: &[PlannedBmc]) -> Result<BTreeMap<String, Credentials>> {
    bmcs.iter()
        .map(|b| Ok((b.node.clone(), Credentials::generate()?)))
        .collect()
}

fn creds_of<'a>(
    creds: &'a BTreeMap<String, Credentials>,
    b: &PlannedBmc,
) -> Result<&'a Credentials> {
    creds.get(&b.node).ok_or_else(|| {
        LabError::Invalid(format!(
            "internal: no BMC credentials were made for node {}",
            b.node
        ))
    })
}

/// Writes each BMC's password file (0600, through its descriptor) and returns each
/// member's fence section, by node, for the cluster description.
pub fn write_password_files(
    bmcs: &[PlannedBmc],
    creds: &BTreeMap<String, Credentials>,
) -> Result<BTreeMap<String, String>> {
    let mut fences = BTreeMap::new();
    for b in bmcs {
        let c = creds_of(creds, b)?;
        write_secret(&b.password_file, c.password.as_bytes())?;
        let text = fence_toml(&b.node, b.address, &c.user, &b.password_file_name())?;
        fences.insert(b.node.clone(), text);
    }
    Ok(fences)
}

/// The running BMCs of a run and their gateway: killed and stopped when dropped (each
/// `ipmi_sim` is also registered with [`crate::cleanup`]).
#[derive(Debug)]
pub struct RunBmcs {
    pub gateway: Gateway,
    pub sims: Vec<BmcSim>,
    /// Each member's end of its BMC's chardev (`VmSpec.bmc`), by node name.
    pub wiring: Vec<(String, SocketAddrV4)>,
}

/// Starts the planned BMCs (with `creds`, the ones the description names) and joins the
/// gateway to the hub in `hub_dir`; [`RunBmcs::wiring`] says where each member's QEMU
/// connects. `None` when there are no BMCs.
pub fn start(
    bmcs: &[PlannedBmc],
    creds: &BTreeMap<String, Credentials>,
    hub_dir: &Path,
) -> Result<Option<RunBmcs>> {
    if bmcs.is_empty() {
        return Ok(None);
    }
    bmc::require_tools(&[bmc::sim::IPMI_SIM])?;
    let mut sims = Vec::new();
    let mut routes = Vec::new();
    let mut wiring = Vec::new();
    for b in bmcs {
        let c = creds_of(creds, b)?;
        let config = BmcConfig {
            node: b.node.clone(),
            lan: SocketAddrV4::new(Ipv4Addr::LOCALHOST, bmc::unused_loopback_port(true)?),
            vm: SocketAddrV4::new(Ipv4Addr::LOCALHOST, bmc::unused_loopback_port(false)?),
            user: c.user.clone(),
            password: c.password.clone(),
            guid: random_hex(16)?,
        };
        config.validate()?;
        let sim = BmcSim::start(&b.dir, &config)?;
        wiring.push((b.node.clone(), config.vm));
        routes.push(GatewayBmc {
            node: b.node.clone(),
            address: b.address,
            lan: config.lan,
            log: b.gateway_log(),
        });
        println!(
            "lab: BMC of {} at {}:{IPMI_PORT} (ipmi_sim pid {}, {})",
            b.node,
            b.address,
            sim.pid(),
            b.dir.display()
        );
        sims.push(sim);
    }
    let gateway = Gateway::start(hub_dir, routes)?;
    Ok(Some(RunBmcs {
        gateway,
        sims,
        wiring,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::kinds;
    use crate::run::topology::client;

    #[test]
    fn fencing_kinds_plan_a_bmc_per_member_at_200_plus_its_id() {
        let members = [client(1), client(2)];
        let (run, work) = (Path::new("RUN"), Path::new("RUN/artifacts"));
        let gfs2 = kinds::by_name("gfs2").unwrap();
        let b = plan(gfs2, run, work, &members).unwrap();
        assert_eq!(b.len(), 2);
        assert_eq!(b[1].address, Ipv4Addr::new(10, 77, 0, 202));
        assert_eq!(b[1].dir, Path::new("RUN/bmc-node2"));
        assert_eq!(b[1].password_file_name(), "bmc-node2.password");
        assert!(kinds::by_name("gfs2-iscsi").unwrap().fencing);
        let nfs = kinds::by_name("nfs").unwrap();
        assert!(plan(nfs, run, work, &members).unwrap().is_empty());
        let mut far = client(60);
        far.id = 60;
        let e = bmc_address(&far).unwrap_err().to_string();
        assert!(e.contains("node60") && e.contains("1 to 54"), "{e}");
    }

    #[test]
    fn the_fence_section_is_exactly_the_agreed_schema() {
        let text = fence_toml(
            "node1",
            Ipv4Addr::new(10, 77, 0, 201),
            "fAbCdE12345",
            "bmc-node1.password",
        )
        .unwrap();
        assert_eq!(
            text,
            "[node.fence]\nagent = \"ipmilan\"\naddress = \"10.77.0.201\"\nport = 623\n\
             user = \"fAbCdE12345\"\npassword_file = \"bmc-node1.password\"\ncipher = 3\n"
        );
        let e = fence_toml("node1", Ipv4Addr::LOCALHOST, "f\"x", "p")
            .unwrap_err()
            .to_string();
        assert!(e.contains("node node1: user"), "{e}");
    }

    #[test]
    fn password_files_are_0600_and_match_the_credentials() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let gfs2 = kinds::by_name("gfs2").unwrap();
        let b = plan(gfs2, d.path(), d.path(), &[client(1), client(2)]).unwrap();
        let creds = credentials(&b).unwrap();
        let fences = write_password_files(&b, &creds).unwrap();
        for pb in &b {
            let m = std::fs::metadata(&pb.password_file).unwrap();
            assert_eq!(m.permissions().mode() & 0o777, 0o600);
            let c = &creds[&pb.node];
            assert_eq!(
                std::fs::read_to_string(&pb.password_file).unwrap(),
                c.password
            );
            assert!(fences[&pb.node].contains(&format!("user = \"{}\"", c.user)));
            assert!(!fences[&pb.node].contains(&c.password));
        }
        assert!(write_password_files(&b, &BTreeMap::new()).is_err());
    }
}

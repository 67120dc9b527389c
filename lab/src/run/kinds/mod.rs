//! Lab root kinds as data: one [`RootKind`] descriptor per file (`nfs.rs`, `ext3.rs`,
//! `gfs2.rs`, `ocfs2.rs`). A descriptor says which profile the clients boot, which service
//! roles (an NFS server, a seed that fills a shared disk) run before them, where the root
//! lives, the clients' root arguments and memory, what the agent checks after
//! `switch_root`, and which scenarios the kind supports. The run itself
//! ([`crate::run::plan`], [`crate::run::runner`]) never names a kind.

mod ext3;
mod gfs2;
mod glusterfs;
mod nfs;
mod ocfs2;

use crate::error::{LabError, Result};
use crate::run::scenario::Scenario;
use std::path::Path;

/// Every root kind the lab can boot.
pub const KINDS: &[&RootKind] = &[
    &nfs::KIND,
    &ext3::KIND,
    &gfs2::KIND,
    &ocfs2::KIND,
    &glusterfs::KIND,
];

/// Where the clients' root lives.
#[derive(Debug, Clone, Copy)]
pub enum Storage {
    /// The server role's ext4 data disk holds the tree under `/root`; it serves it.
    ServerExport,
    /// An ext3 base image made from the tree; every node boots its own qcow2 overlay.
    Overlay,
    /// One raw disk attached to every client at once (`share-rw`, no cache, no locking),
    /// formatted on the host by `format`, and filled by the seed role from an ext4 disk.
    Shared {
        size_mb: u64,
        format: fn(&Path, &SharedFormat) -> Result<()>,
    },
}

/// What formatting a shared disk needs to know.
#[derive(Debug, Clone)]
pub struct SharedFormat {
    /// The cluster name (the lock table's first half, the o2cb cluster).
    pub cluster: String,
    /// Journals (gfs2) or node slots (ocfs2).
    pub slots: usize,
}

/// A service role that runs before the clients, from an initramfs srbuild builds.
#[derive(Debug, Clone, Copy)]
pub struct Role {
    /// The node's name (its directory and console).
    pub node: &'static str,
    pub profile: &'static str,
    pub memory_mb: u32,
    /// Kernel arguments besides `console=ttyS0 rd.shell=0 panic=-1`.
    pub append: &'static [&'static str],
    /// The console line that says the role did its job.
    pub ready: &'static str,
    /// Its role in the cluster description (it needs an identity and an address there;
    /// a service role is never a cluster-stack member), or `None`: not described.
    pub role: Option<&'static str>,
    /// vCPUs (a server that fills a volume through FUSE uses two).
    pub cpus: u32,
}

/// The seed: mounts the shared disk alone (gfs2 with lock_nolock, ocfs2 as the only node of
/// a one-node o2cb cluster), copies the root tree from its ext4 disk, unmounts, and says so.
pub const SEED: Role = Role {
    node: "seed",
    profile: "lab-seed",
    memory_mb: 384,
    append: &["srbuild.seed.src=/dev/vda", "srbuild.seed.dst=/dev/vdb"],
    ready: "LAB-SEED-DONE",
    role: None,
    cpus: 1,
};

/// What the clients' root arguments depend on.
#[derive(Debug, Clone)]
pub struct RootArgs<'a> {
    /// The scenario wants the clients to ask for a root that does not exist.
    pub wrong_root: bool,
    /// The scenario expects no quorum: a cluster stack should give up on it soon.
    pub no_quorum: bool,
    /// The server role's address, for kinds that have one.
    pub server_ip: &'a str,
    /// `--nfs-version`.
    pub nfs_version: &'a str,
}

/// One root kind.
#[derive(Debug)]
pub struct RootKind {
    /// `--root NAME`.
    pub name: &'static str,
    /// A profile with this module boots this kind (when `--root` is not given).
    pub module: &'static str,
    /// The clients' profile when `--profile` is not given.
    pub client_profile: &'static str,
    pub client_memory_mb: u32,
    /// The filesystem type the agent must see at `/`.
    pub fstype: &'static str,
    /// Every node mounts one root, so each must see the others' files.
    pub shared: bool,
    pub storage: Storage,
    /// Service roles, started in this order before the clients: a seed (waited for, then
    /// stopped) and a server (left running).
    pub seed: Option<Role>,
    pub server: Option<Role>,
    /// Checks the agent runs after `switch_root`, one per line of `/lab/checks`
    /// (`daemon NAME`, `quorum`, `o2cb NAME`); `fstype` is always checked.
    pub checks: &'static [&'static str],
    pub scenarios: &'static [Scenario],
    /// A kernel console line (a fragment of it) by which a survivor shows that it noticed a
    /// dead node (node-dies); a write must follow it.
    pub death_seen: &'static str,
    /// The client image is built from the client volfile the server prints (between
    /// `LAB-VOLFILE-BEGIN` and `LAB-VOLFILE-END`), once the server is ready.
    pub client_volfile: bool,
    /// Host commands preparing this kind runs (checked before anything is built).
    pub tools: &'static [&'static str],
    /// The clients' root arguments (`root=`, `rootfstype=`, …).
    pub root_args: fn(&RootArgs) -> Vec<String>,
}

/// The kind called `name`.
pub fn by_name(name: &str) -> Result<&'static RootKind> {
    KINDS
        .iter()
        .copied()
        .find(|k| k.name == name)
        .ok_or_else(|| {
            LabError::Invalid(format!(
                "unknown root kind '{name}'; the lab boots: {}",
                names()
            ))
        })
}

fn names() -> String {
    KINDS.iter().map(|k| k.name).collect::<Vec<_>>().join(", ")
}

/// The kind a profile boots, from its modules: exactly one kind's module must be there.
pub fn for_modules(profile: &str, modules: &[String]) -> Result<&'static RootKind> {
    let found: Vec<&'static RootKind> = KINDS
        .iter()
        .copied()
        .filter(|k| modules.iter().any(|m| m == k.module))
        .collect();
    match found.as_slice() {
        [k] => Ok(k),
        [] => Err(LabError::Invalid(format!(
            "profile {profile} has none of the modules that make a lab root ({}); \
             add one, or pass --root {}",
            KINDS
                .iter()
                .map(|k| k.module)
                .collect::<Vec<_>>()
                .join(", "),
            names().replace(", ", "|")
        ))),
        many => Err(LabError::Invalid(format!(
            "profile {profile} has the modules of several root kinds ({}); pass --root to choose",
            many.iter().map(|k| k.name).collect::<Vec<_>>().join(", ")
        ))),
    }
}

impl RootKind {
    /// Refuses, before anything is built or booted, what this kind cannot run: a scenario
    /// it does not support, a node count out of range, more nodes than journals or slots.
    pub fn check(&self, scenario: Scenario, nodes: usize, slots: usize) -> Result<()> {
        if !self.scenarios.contains(&scenario) {
            return Err(LabError::Invalid(format!(
                "the {} root does not support the {scenario} scenario; it supports: {}",
                self.name,
                self.scenarios
                    .iter()
                    .map(|s| s.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if nodes == 0 || nodes > 16 {
            return Err(LabError::Invalid(format!(
                "--nodes {nodes} is out of range (1 to 16)"
            )));
        }
        if let Storage::Shared { .. } = self.storage {
            if nodes > slots {
                return Err(LabError::Invalid(format!(
                    "--nodes {nodes} is more than the {slots} {} of the shared {} disk: every \
                     node that mounts it needs its own; raise --slots or lower --nodes",
                    if self.name == "gfs2" {
                        "journals"
                    } else {
                        "node slots"
                    },
                    self.name
                )));
            }
        }
        scenario.spec().check_nodes(nodes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_come_from_names_and_from_profile_modules() {
        assert_eq!(by_name("gfs2").unwrap().name, "gfs2");
        let e = by_name("zfs").unwrap_err().to_string();
        assert!(e.contains("nfs, ext3, gfs2, ocfs2"), "{e}");
        let m = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let k = for_modules("./my-gfs2.toml", &m(&["base", "cluster-stack", "gfs2"])).unwrap();
        assert_eq!(k.name, "gfs2");
        let e = for_modules("x", &m(&["base"])).unwrap_err().to_string();
        assert!(e.contains("--root"), "{e}");
        let e = for_modules("x", &m(&["nfs", "gfs2"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("several root kinds"), "{e}");
    }

    #[test]
    fn unsupported_scenarios_and_too_many_nodes_are_refused() {
        let ext3 = by_name("ext3").unwrap();
        let e = ext3
            .check(Scenario::WrongRootPath, 1, 1)
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not support the wrong-root-path"), "{e}");
        let gfs2 = by_name("gfs2").unwrap();
        let e = gfs2.check(Scenario::Normal, 3, 2).unwrap_err().to_string();
        assert!(e.contains("2 journals"), "{e}");
        let ocfs2 = by_name("ocfs2").unwrap();
        let e = ocfs2.check(Scenario::Normal, 3, 2).unwrap_err().to_string();
        assert!(e.contains("node slots"), "{e}");
        assert!(gfs2.check(Scenario::Normal, 3, 3).is_ok());
        assert!(gfs2.check(Scenario::Normal, 0, 3).is_err());
        assert!(gfs2.check(Scenario::LoneNode, 2, 2).is_err());
    }
}

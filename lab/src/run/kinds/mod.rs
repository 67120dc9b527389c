//! Lab root kinds as data: one [`RootKind`] descriptor per file (`nfs.rs`, `ext3.rs`,
//! `gfs2.rs`, `ocfs2.rs`, `glusterfs.rs`), and choosing one (by name, or from a profile's
//! modules). A descriptor says which profile the clients boot, which service
//! roles (an NFS server, a seed that fills a shared disk) run before them, where the root
//! lives, the clients' root arguments and memory, what the agent checks after
//! `switch_root`, and which scenarios the kind supports. The run itself
//! ([`crate::run::plan`], [`crate::run::runner`]) never names a kind.

mod ext3;
mod gfs2;
mod gfs2_iscsi;
mod gfs2_lvm;
mod gfs2_multipath;
mod glusterfs;
mod http;
mod nfs;
mod ocfs2;
mod ocfs2_iscsi;

use crate::error::{LabError, Result};
use crate::run::scenarios::Scenario;
use std::path::Path;

/// Every root kind the lab can boot.
pub const KINDS: &[&RootKind] = &[
    &nfs::KIND,
    &ext3::KIND,
    &gfs2::KIND,
    &ocfs2::KIND,
    &glusterfs::KIND,
    &gfs2_iscsi::KIND,
    &gfs2_multipath::KIND,
    &ocfs2_iscsi::KIND,
    &gfs2_lvm::KIND,
    &http::KIND,
];

/// Where the clients' root lives (the disks each layout makes are in
/// [`crate::run::storage`]).
#[derive(Debug, Clone, Copy)]
pub enum Storage {
    /// The server role's ext4 data disk holds the tree under `/root`; it serves it.
    ServerExport,
    /// A GlusterFS volume on the server role's ext4 data disk: a busybox tree goes under
    /// `/root` and the server fills its volume with it through FUSE; a Debian tree, too big
    /// for that under TCG, is filled on the host into the two bricks under `/bricks`
    /// ([`crate::run::bricks`]), which the server serves as they are.
    Volume,
    /// The server role's ext4 data disk holds the tree under `/root` and, under `/<dir>`,
    /// the root image `file` made from it (`srbuild rootimage`, reproducible): the server
    /// serves the image, the clients fetch it with the hash the image was made with
    /// ([`crate::run::plan::ROOT_SHA256`] in their command line until it is made).
    ServerImage {
        dir: &'static str,
        file: &'static str,
    },
    /// A base image of filesystem `fs` made from the tree; every node boots its own qcow2
    /// overlay over it.
    Overlay { fs: &'static str },
    /// One raw disk attached to every client at once (`share-rw`, no cache, no locking),
    /// formatted on the host, and filled by the seed role from an ext4 source disk.
    Shared(Formatter),
    /// The same shared disk (formatted on the host, filled by the seed), served by the
    /// server role as an iSCSI LUN: only the server attaches it, the clients log in to it.
    Target(Formatter),
}

/// How a shared disk is formatted on the host.
#[derive(Clone, Copy)]
pub struct Formatter {
    /// The host command (named in the plan).
    pub tool: &'static str,
    /// What the format calls the per-node slots it needs, plural ("journals").
    pub slots_word: &'static str,
    pub run: fn(&Path, &SharedFormat) -> Result<()>,
    /// The host's read-only check of the disk (`fsck.gfs2 -n`), run on it once every VM
    /// is gone after a scenario that killed or fenced a node; the disk's path goes last.
    pub check: &'static [&'static str],
    /// When the check is not clean: `Some(what)` if all its report found is harmless after
    /// a node died (leaked inode blocks, a master statfs behind the dead node's last
    /// creates: `gfs2::leaked_inodes_only`), said in words; `None` for anything else.
    pub leaks_only: Option<fn(&str) -> Option<String>>,
    /// Shell code each running node runs before it remounts its root read-only for the
    /// check: what an unmount would do that a remount does not ("" for nothing).
    pub settle: &'static str,
}

impl std::fmt::Debug for Formatter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.tool.is_empty() {
            f.write_str("blank on the host; the seed makes its volume group and filesystem")
        } else {
            f.write_str(self.tool)
        }
    }
}

/// Disk sizes of a kind's layout, in MiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizes {
    /// The data disk, the overlay base or the shared disk.
    pub disk_mb: u64,
    /// The seed's ext4 source disk (shared layouts).
    pub source_mb: u64,
}

/// What formatting a shared disk needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedFormat {
    /// The cluster name (the lock table's first half, the o2cb cluster).
    pub cluster: String,
    /// Journals or node slots, one per node that mounts it.
    pub slots: usize,
}

/// A disk of a kind's layout a role attaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleDisk {
    /// The ext4 data disk holding the tree (and the netboot files).
    Data,
    /// The ext4 disk the seed copies the tree from.
    Source,
    /// The shared disk.
    Shared,
}

/// A service role that runs before the clients, from an initramfs srbuild builds.
#[derive(Debug, Clone, Copy)]
pub struct Role {
    /// The node's name (its directory and console).
    pub node: &'static str,
    pub profile: &'static str,
    pub memory_mb: u32,
    /// Kernel arguments besides `console=ttyS0 rd.shell=0 panic=-1`; `{fstype}` is the
    /// kind's root filesystem, `{cluster}` the lab's cluster name, `{slots}` the shared
    /// disk's journals or node slots.
    pub append: &'static [&'static str],
    /// The console line that says the role did its job.
    pub ready: &'static str,
    /// Its role in the cluster description (it needs an identity and an address there;
    /// a service role is never a cluster-stack member), or `None`: not described.
    pub role: Option<&'static str>,
    /// vCPUs (a server that fills a volume through FUSE uses two).
    pub cpus: u32,
    /// The layout's disks it attaches, in order (`/dev/vda`, `/dev/vdb`, …).
    pub disks: &'static [RoleDisk],
}

/// The seed: mounts the shared disk alone (gfs2 with lock_nolock, ocfs2 as the only node of
/// a one-node o2cb cluster), copies the root tree from its ext4 disk, unmounts, and says so.
pub const SEED: Role = Role {
    node: "seed",
    profile: "lab-seed",
    memory_mb: 384,
    append: &[
        "srbuild.seed.src=/dev/vda",
        "srbuild.seed.dst=/dev/vdb",
        "srbuild.seed={fstype}",
        "srbuild.seed.cluster={cluster}",
    ],
    ready: "LAB-SEED-DONE",
    role: None,
    cpus: 1,
    disks: &[RoleDisk::Source, RoleDisk::Shared],
};

/// The seed of a shared LVM root (kind gfs2-lvm): makes the shared volume group under a
/// one-node cluster of the lab's name, the LV and its gfs2 (a journal per slot), then fills
/// it as [`SEED`] does.
pub const SEED_LVM: Role = Role {
    profile: "lab-seed-lvm",
    append: &[
        "srbuild.seed.src=/dev/vda",
        "srbuild.seed.dst=/dev/vdb",
        "srbuild.seed={fstype}",
        "srbuild.seed.cluster={cluster}",
        "srbuild.seed.lvm=labvg/root",
        "srbuild.seed.journals={slots}",
    ],
    ..SEED
};

/// The clients' iSCSI initiator names are `INITIATOR_PREFIX:NODE`, from the cluster
/// description (`iscsi_initiator`), for the kinds whose root is served over iSCSI.
pub const INITIATOR_PREFIX: &str = "iqn.2026-12.lab.srbuild.node";

/// The CHAP user of the lab's iSCSI target (`[iscsi]` of the lab's description); its
/// secret is fresh for every run.
pub const CHAP_USER: &str = "lab-root";

/// The iSCSI target's name (the lab's one target).
pub const TARGET_IQN: &str = "iqn.2026-12.lab.srbuild:root";

/// The iSCSI target: exports the shared disk the seed filled as LUN 1 with tgtd, listening
/// on every address (a run on several networks adds `srbuild.iscsi.portal=ADDR[:PORT]`
/// per portal).
pub const TARGET: Role = Role {
    node: "target",
    profile: "lab-iscsi-target",
    memory_mb: 256,
    append: &[
        "srbuild.iscsi.target=iqn.2026-12.lab.srbuild:root",
        "srbuild.iscsi.disk=/dev/vda",
    ],
    ready: "LAB-TARGET-READY",
    role: Some("iscsi-target"),
    cpus: 1,
    disks: &[RoleDisk::Shared],
};

/// The clients' arguments for a root on the target's LUN: dracut's `netroot=iscsi:`, and
/// the LUN's disk (the clients have no disk of their own, so it is `/dev/sda`) in place of
/// `/dev/vda` in the raw-disk kind's `root=`.
pub fn iscsi_root_args(a: &RootArgs, raw: fn(&RootArgs) -> Vec<String>) -> Vec<String> {
    // One portal per network: the target listens on each, so a run on two networks gives
    // every client two sessions to the one LUN, two paths for dm-multipath.
    let mut args: Vec<String> = (0..a.networks.max(1))
        .map(|k| {
            format!(
                "netroot=iscsi:{}::::{TARGET_IQN}",
                crate::run::topology::ip_on_segment(a.server_ip, k)
            )
        })
        .collect();
    args.extend(raw(a).into_iter().map(|s| {
        if s == "root=/dev/vda" {
            "root=/dev/sda".to_string()
        } else {
            s
        }
    }));
    args
}

/// What the clients' root arguments depend on.
#[derive(Debug, Clone)]
pub struct RootArgs<'a> {
    /// The scenario wants the clients to ask for a root that does not exist.
    pub wrong_root: bool,
    /// The scenario expects no quorum: a cluster stack should give up on it soon.
    pub no_quorum: bool,
    /// The server role's address, for kinds that have one.
    pub server_ip: &'a str,
    /// L2 segments of the run: the server has an address on each.
    pub networks: usize,
    /// The kind's options (`--opt key=value`), every one of them set.
    pub opts: &'a KindOpts,
}

/// A check the agent runs after `switch_root`; its `Display` is its line in `/lab/checks`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// `/` has this filesystem type.
    Fstype(&'static str),
    /// The path is its own read-only mount of this type (hybrid roots).
    MountRo(&'static str, &'static str),
    /// This daemon runs (in the service chroot).
    Daemon(&'static str),
    /// This daemon does not run.
    Absent(&'static str),
    /// corosync is quorate.
    Quorum,
    /// The o2cb cluster of this name has a heartbeat region.
    O2cb(&'static str),
    /// `iscsiadm -m session` (from the service chroot) lists a session to this target.
    IscsiSession(&'static str),
    /// The node's initiator name is `PREFIX:NODE` (from the cluster description).
    IscsiInitiator(&'static str),
    /// Every iSCSI session logged in with CHAP as this user (`iscsiadm -m session -P 3`).
    IscsiChap(&'static str),
    /// This logical volume (`VG/LV`) is active shared (`lvs -o lv_active`) and its volume
    /// group's lock type is dlm (`vgs -o vg_lock_type`), from the service chroot.
    LvShared(&'static str),
    /// A writable shared mmap works on `/`.
    Mmap,
    /// `/` is in RAM.
    Ram,
    /// None of these kernel modules is loaded.
    AbsentModules(&'static [&'static str]),
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Check::Fstype(t) => write!(f, "fstype {t}"),
            Check::MountRo(p, t) => write!(f, "mountro {p} {t}"),
            Check::Daemon(d) => write!(f, "daemon {d}"),
            Check::Absent(d) => write!(f, "absent {d}"),
            Check::Quorum => f.write_str("quorum"),
            Check::O2cb(c) => write!(f, "o2cb {c}"),
            Check::IscsiSession(t) => write!(f, "iscsi {t}"),
            Check::IscsiInitiator(p) => write!(f, "initiator {p}"),
            Check::IscsiChap(u) => write!(f, "chap {u}"),
            Check::LvShared(lv) => write!(f, "lvshared {lv}"),
            Check::Mmap => f.write_str("mmap"),
            Check::Ram => f.write_str("ram"),
            Check::AbsentModules(m) => write!(f, "absent-modules {}", m.join(" ")),
        }
    }
}

/// A file the server role prints on its console (between two marker lines) that the
/// clients' image is built from, once the server is ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerOutput {
    pub begin: &'static str,
    pub end: &'static str,
    /// Its name under the run's artifacts.
    pub file: &'static str,
    /// The builder's module input it is handed as (`srbuild image --input NAME=FILE`).
    pub input: &'static str,
}

/// The network filesystem a kind's hybrid root keeps its `srbuild.hybrid=` paths on, when
/// the kind's own root is not one (an image fetched into RAM): the clients name it with
/// `srbuild.hybrid_from=`, and the server role serves it besides the root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HybridFrom {
    /// Its filesystem type, as the agent must see it on each hybrid path.
    pub fstype: &'static str,
    /// In a scenario that asks for a hybrid root, the server role boots this profile
    /// instead of its own (one that serves the paths' filesystem as well).
    pub server_profile: &'static str,
    /// The clients' arguments that name it, after the scenario's own; `{server_ip}` is
    /// the server role's address.
    pub client_args: &'static [&'static str],
}

/// An option of a kind (`--opt key=value`).
#[derive(Debug, Clone, Copy)]
pub struct KindOption {
    pub key: &'static str,
    pub default: &'static str,
    pub allowed: &'static [&'static str],
    pub doc: &'static str,
}

/// A kind's options, each set (given or its default).
pub type KindOpts = std::collections::BTreeMap<String, String>;

/// One root kind.
#[derive(Debug)]
pub struct RootKind {
    /// `--root NAME`.
    pub name: &'static str,
    /// One sentence for `--help` and the docs.
    pub doc: &'static str,
    /// A profile with these modules boots this kind (when `--root` is not given); of
    /// several kinds whose modules a profile holds, the one needing the most wins.
    pub modules: &'static [&'static str],
    /// The clients' profile when `--profile` is not given.
    pub client_profile: &'static str,
    pub client_memory_mb: u32,
    /// The filesystem type the agent must see at `/`.
    pub fstype: &'static str,
    /// Every node mounts one root, so each must see the others' files.
    pub shared: bool,
    /// Its members run dlm with fencing: each gets a BMC (`ipmi_sim`, reached through the
    /// lab's BMC gateway) and a fence device in the cluster description
    /// ([`crate::run::fencing`]).
    pub fencing: bool,
    pub storage: Storage,
    /// L2 segments the kind needs at least (a scenario may ask for more): with 2, every
    /// node has a NIC on each, and the clients reach their storage through both.
    pub networks: usize,
    /// Disk sizes for the busybox root.
    pub sizes: Sizes,
    /// Disk sizes for a Debian root (`--rootfs debian`), or `None`: not planned.
    pub debian: Option<Sizes>,
    /// Service roles, started in this order before the clients: a seed (waited for, then
    /// stopped) and a server (left running).
    pub seed: Option<Role>,
    pub server: Option<Role>,
    /// Checks the agent runs after `switch_root`, besides the root's type.
    pub checks: &'static [Check],
    pub scenarios: &'static [Scenario],
    /// A kernel console line (a fragment of it) by which a survivor shows that it noticed a
    /// dead node; a write must follow it. `None`: any write after the death will do.
    pub death_seen: Option<&'static str>,
    /// A kernel console line (a fragment of it) by which a survivor shows that it began
    /// recovering a dead node's journal; with fencing, it must come after the fence.
    pub recovery_seen: Option<&'static str>,
    /// The clients' image is built from what the server prints, once it is ready.
    pub client_input: Option<ServerOutput>,
    /// Where a hybrid root's network paths come from, when not from the kind's own root
    /// (a root image in RAM has no network filesystem to keep them on); `None`: from it.
    pub hybrid_from: Option<HybridFrom>,
    pub options: &'static [KindOption],
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

/// The kind a profile boots, from its modules: of the kinds whose modules the profile all
/// holds, the one needing the most (the most specific) wins; a tie is an error.
pub fn for_modules(profile: &str, modules: &[String]) -> Result<&'static RootKind> {
    choose_among(KINDS, profile, modules)
}

fn choose_among(
    kinds: &[&'static RootKind],
    profile: &str,
    modules: &[String],
) -> Result<&'static RootKind> {
    let fits = |k: &RootKind| k.modules.iter().all(|m| modules.iter().any(|p| p == m));
    let best = kinds
        .iter()
        .filter(|k| fits(k))
        .map(|k| k.modules.len())
        .max();
    let found: Vec<&'static RootKind> = kinds
        .iter()
        .copied()
        .filter(|k| fits(k) && Some(k.modules.len()) == best)
        .collect();
    match found.as_slice() {
        [k] => Ok(k),
        [] => Err(LabError::Invalid(format!(
            "profile {profile} has none of the modules that make a lab root ({}); \
             add one, or pass --root {}",
            kinds
                .iter()
                .map(|k| k.modules.join("+"))
                .collect::<Vec<_>>()
                .join(", "),
            names().replace(", ", "|")
        ))),
        many => Err(LabError::Invalid(format!(
            "profile {profile} has the modules of several root kinds ({}), none more specific; \
             pass --root to choose",
            many.iter().map(|k| k.name).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// The kind a run boots: `--root`, or the one the profile's modules make.
pub fn choose(root: Option<&str>, profile: Option<&str>) -> Result<&'static RootKind> {
    match (root, profile) {
        (Some(r), _) => by_name(r),
        (None, Some(p)) => {
            let mut library = srbuild_builder::library::Library::standard();
            let profile =
                srbuild_builder::config::load_profile(&mut library, p).map_err(|source| {
                    LabError::Build {
                        what: format!("reading profile {p}"),
                        source,
                    }
                })?;
            for_modules(p, &profile.modules)
        }
        (None, None) => Err(LabError::Invalid(format!(
            "say what to boot: --root {} or --profile NAME",
            names().replace(", ", "|")
        ))),
    }
}

/// The names of every kind, for `--root`'s values.
pub fn names_list() -> Vec<&'static str> {
    KINDS.iter().map(|k| k.name).collect()
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
        if let Storage::Shared(f) | Storage::Target(f) = self.storage {
            if nodes > slots {
                return Err(LabError::Invalid(format!(
                    "--nodes {nodes} is more than the {slots} {} of the shared {} disk: every \
                     node that mounts it needs its own; raise --slots or lower --nodes",
                    f.slots_word, self.name
                )));
            }
        }
        scenario.spec().check_nodes(nodes)
    }
}

impl RootKind {
    /// Every option of this kind set: `given` (`key=value` pairs of `--opt`) over the
    /// defaults. A key this kind does not have, or a value it does not allow, is refused
    /// naming what it has.
    pub fn options(&self, given: &[String]) -> Result<KindOpts> {
        let mut set: KindOpts = self
            .options
            .iter()
            .map(|o| (o.key.to_string(), o.default.to_string()))
            .collect();
        for g in given {
            let (key, value) = g
                .split_once('=')
                .ok_or_else(|| LabError::Invalid(format!("--opt {g}: expected key=value")))?;
            let Some(o) = self.options.iter().find(|o| o.key == key) else {
                return Err(LabError::Invalid(format!(
                    "--opt {key}: the {} root has no option '{key}'; its options: {}",
                    self.name,
                    if self.options.is_empty() {
                        "none".to_string()
                    } else {
                        self.options
                            .iter()
                            .map(|o| o.key)
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                )));
            };
            if !o.allowed.contains(&value) {
                return Err(LabError::Invalid(format!(
                    "--opt {key}={value}: the {} root allows {key} = {}",
                    self.name,
                    o.allowed.join(", ")
                )));
            }
            set.insert(key.to_string(), value.to_string());
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_needs_are_met_by_every_kind_that_lists_it() {
        for k in KINDS {
            for sc in k.scenarios {
                let spec = crate::run::scenarios::spec(*sc);
                // The seed's arguments go to a seed; a kind without one would drop them.
                assert!(
                    spec.seed_args.is_empty() || k.seed.is_some(),
                    "{} lists {} but has no seed",
                    k.name,
                    spec.name
                );
                // A hybrid root's server serves the paths too: a scenario's own server
                // profile would not.
                assert!(
                    k.hybrid_from.is_none()
                        || spec.hybrid_paths().is_none()
                        || spec.server_profile.is_none(),
                    "{} lists {}, whose server profile would not serve its hybrid paths",
                    k.name,
                    spec.name
                );
                // Another CHAP secret means nothing unless the target requires CHAP.
                assert!(
                    !spec.wrong_chap || matches!(k.storage, Storage::Target(_)),
                    "{} lists {} but is not served over iSCSI",
                    k.name,
                    spec.name
                );
            }
        }
    }

    #[test]
    fn kinds_come_from_names_and_from_profile_modules() {
        assert_eq!(by_name("gfs2").unwrap().name, "gfs2");
        let e = by_name("zfs").unwrap_err().to_string();
        assert!(e.contains("nfs, ext3, gfs2, ocfs2"), "{e}");
        let m = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let k = for_modules("./my-gfs2.toml", &m(&["base", "cluster-stack", "gfs2"])).unwrap();
        assert_eq!(k.name, "gfs2");
        // The http profile holds nfs too: the http kind is the more specific one.
        let k = for_modules("http", &m(&["http", "nfs"])).unwrap();
        assert_eq!(k.name, "http");
        let e = for_modules("x", &m(&["base"])).unwrap_err().to_string();
        assert!(e.contains("--root"), "{e}");
        let e = for_modules("x", &m(&["nfs", "gfs2"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("several root kinds"), "{e}");
    }

    #[test]
    fn the_most_specific_module_set_wins() {
        // A fake registry: a plain shared-disk kind and one that also needs an iscsi module.
        static PLAIN: RootKind = RootKind {
            name: "plain",
            modules: &["gfs2"],
            ..ext3::KIND
        };
        static ISCSI: RootKind = RootKind {
            name: "over-iscsi",
            modules: &["gfs2", "iscsi"],
            ..ext3::KIND
        };
        let reg: &[&'static RootKind] = &[&PLAIN, &ISCSI];
        let m = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let pick = |v: &[&str]| choose_among(reg, "p", &m(v)).map(|k| k.name);
        assert_eq!(pick(&["base", "gfs2", "iscsi"]).unwrap(), "over-iscsi");
        assert_eq!(pick(&["base", "gfs2"]).unwrap(), "plain");
        assert!(pick(&["base", "iscsi"]).is_err());
    }

    #[test]
    fn kind_options_are_checked_against_the_descriptor() {
        let nfs = by_name("nfs").unwrap();
        assert_eq!(nfs.options(&[]).unwrap()["version"], "4.2");
        assert_eq!(nfs.options(&["version=3".into()]).unwrap()["version"], "3");
        let e = nfs.options(&["vers=3".into()]).unwrap_err().to_string();
        assert!(
            e.contains("no option 'vers'") && e.contains("version"),
            "{e}"
        );
        let e = nfs.options(&["version=5".into()]).unwrap_err().to_string();
        assert!(e.contains("4.2, 4.1, 4, 3"), "{e}");
        let e = by_name("gfs2").unwrap().options(&["version=3".into()]);
        assert!(e.unwrap_err().to_string().contains("its options: none"));
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

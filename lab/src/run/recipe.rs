//! Artifact recipes: what a run must make on the host before a phase boots (the cluster
//! description, the root tree, images, disks, netboot files), as data. The plan
//! ([`crate::run::plan`]) lists them; [`crate::run::materialize`] makes them. Every path is
//! under the run's directory, and the kernel is chosen only when they are made.

use crate::run::fencing::PlannedBmc;
use crate::run::kinds::{Formatter, SharedFormat};
use crate::run::rootfs::RootFs;
use crate::run::roottree::AgentConfig;
use crate::run::topology::LabNode;
use std::fmt;
use std::path::PathBuf;

/// One-way CHAP on the lab's iSCSI target: a fresh secret in `secret` (0600) that the
/// description's `[iscsi]` names; with `wrong`, a second description for the clients,
/// the same but for its secret file, which holds another fresh secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChapPlan {
    pub user: &'static str,
    pub secret: PathBuf,
    /// The clients' description and its secret file.
    pub wrong: Option<(PathBuf, PathBuf)>,
}

/// One thing to make.
#[derive(Debug, Clone)]
pub enum Recipe {
    /// The cluster description of `nodes`, and a fresh corosync authkey next to it.
    Cluster {
        path: PathBuf,
        authkey: PathBuf,
        nodes: Vec<LabNode>,
        /// The members' BMCs: a fence device each, their password files next to `path`.
        fences: Vec<PlannedBmc>,
        /// The clients' iSCSI initiator names are `PREFIX:NODE` (`iscsi_initiator`), for
        /// kinds whose root is served over iSCSI.
        initiators: Option<&'static str>,
        /// The iSCSI target's CHAP account (`[iscsi]`), for kinds whose root is served
        /// over iSCSI.
        chap: Option<ChapPlan>,
    },
    /// The test root tree (replaced) with the agent told `agent`, and `clients`' CDSLs.
    RootTree {
        path: PathBuf,
        cluster: PathBuf,
        clients: Vec<LabNode>,
        agent: AgentConfig,
        rootfs: RootFs,
    },
    /// An image built by the builder from `profile` for the chosen kernel.
    Image {
        profile: String,
        cluster: Option<PathBuf>,
        output: PathBuf,
        /// Built from a file a server printed on its console (so: once it is ready).
        from_server: Option<FromServer>,
    },
    /// `dir` emptied, and the tree moved to `dir/root`.
    DataDir { tree: PathBuf, dir: PathBuf },
    /// The root image of `tree` (`srbuild rootimage`: a reproducible gzip'd newc cpio) at
    /// `output`, without what `exclude` names; its SHA-256 is written to `sum` and replaces
    /// [`crate::run::plan::ROOT_SHA256`] in the plan.
    RootImage {
        tree: PathBuf,
        output: PathBuf,
        exclude: Vec<String>,
        sum: PathBuf,
    },
    /// What `srbuild cluster netboot` writes for the cluster into `out`, for the kernel
    /// (the compressed one) and `initrd`, with the clients' command line; with
    /// `http_base`, as `--http-base` writes it (TFTP for `boot.ipxe` only, the rest over
    /// HTTP from that URL).
    Netboot {
        cluster: PathBuf,
        out: PathBuf,
        initrd: PathBuf,
        append: String,
        http_base: Option<String>,
    },
    /// `mkfs.<fs> -d src` into a fresh raw image.
    Mkfs {
        fs: &'static str,
        src: PathBuf,
        image: PathBuf,
        size_mb: u64,
        label: &'static str,
    },
    /// A fresh ext4 image whose `/bricks/b1` and `/bricks/b2` hold a replica-2 GlusterFS
    /// volume filled with `tree` on the host ([`crate::run::bricks`]).
    Bricks {
        tree: PathBuf,
        image: PathBuf,
        size_mb: u64,
        label: &'static str,
    },
    /// A fresh raw disk, formatted by the kind.
    SharedDisk {
        path: PathBuf,
        size_mb: u64,
        format: Formatter,
        with: SharedFormat,
    },
    /// A qcow2 overlay over a raw base.
    Overlay { base: PathBuf, path: PathBuf },
}

/// A file cut from a server's console between two marker lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FromServer {
    pub node: String,
    pub log: PathBuf,
    pub begin: &'static str,
    pub end: &'static str,
    /// Where the cut file is written.
    pub file: PathBuf,
    /// The builder's module input the file is handed as.
    pub input: &'static str,
}

impl fmt::Display for Recipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Recipe::Cluster {
                path,
                authkey,
                nodes,
                fences,
                initiators,
                chap,
            } => write!(
                f,
                "cluster {} (authkey {}) nodes {}{}{}{}",
                path.display(),
                authkey.display(),
                nodes
                    .iter()
                    .map(|n| match n.role {
                        Some(r) => format!("{}[{r}]", n.name),
                        None => n.name.clone(),
                    })
                    .collect::<Vec<_>>()
                    .join(","),
                if fences.is_empty() {
                    String::new()
                } else {
                    format!(
                        " fence {} cipher {} {}",
                        crate::run::fencing::AGENT,
                        crate::run::fencing::CIPHER,
                        fences
                            .iter()
                            .map(|b| format!("{}@{}", b.node, b.address))
                            .collect::<Vec<_>>()
                            .join(",")
                    )
                },
                initiators
                    .map(|p| format!(" iscsi initiators {p}:NODE"))
                    .unwrap_or_default(),
                chap.as_ref()
                    .map(|c| format!(
                        " chap {} secret {}{}",
                        c.user,
                        c.secret.display(),
                        c.wrong
                            .as_ref()
                            .map(|(d, s)| format!(
                                ", clients {} with another secret {}",
                                d.display(),
                                s.display()
                            ))
                            .unwrap_or_default()
                    ))
                    .unwrap_or_default()
            ),
            Recipe::RootTree {
                path,
                cluster,
                clients,
                agent,
                rootfs,
            } => write!(
                f,
                "root-tree {} ({rootfs}, description {}) cdsl {} expect {} mode {} wait {} s \
                 beat {} checks [{}]",
                path.display(),
                cluster.display(),
                clients
                    .iter()
                    .map(|n| n.name.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                agent.expect.join(","),
                if agent.shared { "shared" } else { "local" },
                agent.wait_s,
                agent.beat,
                agent
                    .checks
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            Recipe::Image {
                profile,
                cluster,
                output,
                from_server,
            } => {
                write!(f, "image {profile} -> {}", output.display())?;
                if let Some(c) = cluster {
                    write!(f, " cluster {}", c.display())?;
                }
                if let Some(s) = from_server {
                    write!(
                        f,
                        " from {} ({} .. {} in {}, written to {})",
                        s.node,
                        s.begin,
                        s.end,
                        s.log.display(),
                        s.file.display()
                    )?;
                }
                Ok(())
            }
            Recipe::DataDir { tree, dir } => {
                write!(f, "data-dir {} <- {}", dir.display(), tree.display())
            }
            Recipe::RootImage {
                tree,
                output,
                exclude,
                sum,
            } => {
                write!(
                    f,
                    "root-image {} <- {} (gzip)",
                    output.display(),
                    tree.display()
                )?;
                if !exclude.is_empty() {
                    write!(f, " exclude {}", exclude.join(","))?;
                }
                write!(f, " sha256 -> {}", sum.display())
            }
            Recipe::Netboot {
                cluster,
                out,
                initrd,
                append,
                http_base,
            } => {
                write!(
                    f,
                    "netboot {} (description {}, initrd {}) append \"{append}\"",
                    out.display(),
                    cluster.display(),
                    initrd.display()
                )?;
                match http_base {
                    Some(b) => write!(f, " base-url {b}"),
                    None => Ok(()),
                }
            }
            Recipe::Mkfs {
                fs,
                src,
                image,
                size_mb,
                label,
            } => write!(
                f,
                "mkfs.{fs} {} <- {} {size_mb} MiB label {label}",
                image.display(),
                src.display()
            ),
            Recipe::Bricks {
                tree,
                image,
                size_mb,
                label,
            } => write!(
                f,
                "volume bricks {} <- {} (filled on the host) {size_mb} MiB label {label}",
                image.display(),
                tree.display()
            ),
            Recipe::SharedDisk {
                path,
                size_mb,
                format,
                with,
            } => write!(
                f,
                "shared-disk {} {size_mb} MiB {format:?} cluster {} slots {}",
                path.display(),
                with.cluster,
                with.slots
            ),
            Recipe::Overlay { base, path } => {
                write!(f, "overlay {} over {}", path.display(), base.display())
            }
        }
    }
}

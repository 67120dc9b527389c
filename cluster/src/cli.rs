//! The clap command-line structs for `srbuild cluster …` ([`ClusterArgs`])
//! and `srbuild cdsl …` ([`CdslArgs`]) and their runners, which print to
//! stdout (or any writer, for tests).

use crate::cdsl::{self, CdslKind, Tree};
use crate::description::Cluster;
use crate::edit::{self, IdChoice, NewNode};
use crate::error::ClusterError;
use crate::netboot::{self, NetbootOptions};
use crate::query::{query, QUERY_KEYS};
use clap::{Args, Subcommand};
use std::io::Write;
use std::path::PathBuf;

/// `srbuild cluster`: inspect and edit the cluster description.
#[derive(Debug, Clone, Args)]
pub struct ClusterArgs {
    /// The cluster description (default: ./cluster.toml, then /etc/srbuild/cluster.toml).
    #[arg(long, global = true, value_name = "FILE")]
    pub cluster: Option<PathBuf>,
    #[command(subcommand)]
    pub command: ClusterCommand,
}

/// The `srbuild cluster` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum ClusterCommand {
    /// List the nodes as a table (NAME ID MACS ADDRESSES ROLES).
    #[command(after_help = "Example:\n  srbuild cluster --cluster lab/cluster.toml list")]
    List,
    /// Show every field of one node, with its network and gateway.
    #[command(after_help = "Example:\n  srbuild cluster show node1")]
    Show {
        /// Node name.
        node: String,
    },
    /// Print one value for scripts (one per line, or JSON with --json).
    #[command(
        after_help = "Keys: name count nodes ids id node address cidr macs kernel-args roles\n\
(id node address cidr macs kernel-args roles need --node NODE or --mac MAC)\n\n\
Examples:\n  srbuild cluster query nodes\n  srbuild cluster query address --node node1\n  \
srbuild cluster query id --mac 52:54:00:77:00:11\n  srbuild cluster query node --mac 52:54:00:77:00:11 --json"
    )]
    Query {
        /// What to print.
        key: String,
        /// The node the key is about.
        #[arg(long)]
        node: Option<String>,
        /// Select the node by one of its MACs.
        #[arg(long)]
        mac: Option<String>,
        /// Print a JSON value instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Append a [[node]] to the description (keeps comments and layout).
    #[command(
        after_help = "Example:\n  srbuild cluster addnode node3 --mac 52:54:00:77:00:13 --ip 10.77.0.13/24 --kernel-arg console=ttyS0"
    )]
    Addnode {
        /// Node name (a-z 0-9 -).
        name: String,
        /// MAC address (repeatable).
        #[arg(long = "mac", required = true)]
        macs: Vec<String>,
        /// Address as ADDR/PREFIX (repeatable; the first is primary).
        #[arg(long = "ip")]
        ips: Vec<String>,
        /// Node id 1..=255, or `auto` for the lowest free one.
        #[arg(long, default_value = "auto")]
        id: IdChoice,
        /// Extra kernel argument (repeatable).
        #[arg(long = "kernel-arg", allow_hyphen_values = true)]
        kernel_args: Vec<String>,
        /// Role name (repeatable).
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Edit a read-only or hard-linked description anyway
        #[arg(long)]
        force: bool,
    },
    /// Remove a node (and its name from failover domains).
    #[command(after_help = "Example:\n  srbuild cluster removenode node3")]
    Removenode {
        /// Node name.
        name: String,
        /// Edit a read-only or hard-linked description anyway
        #[arg(long)]
        force: bool,
    },
    /// Write iPXE scripts, PXELINUX configs and a dnsmasq snippet for all nodes (with
    /// --http-base: iPXE over HTTP, TFTP only for boot.ipxe).
    #[command(
        after_help = "Examples:\n  srbuild cluster netboot /srv/tftp --kernel /boot/vmlinuz --initrd out/initrd.img --append 'console=ttyS0'\n  srbuild cluster netboot /srv/netboot --http-base http://10.77.0.1/netboot --kernel /boot/vmlinuz --initrd out/initrd.img\n    (serve /srv/netboot/http at the URL; dnsmasq's TFTP serves /srv/netboot/tftp)"
    )]
    Netboot {
        /// Output directory (created if missing).
        outdir: PathBuf,
        /// Kernel image, copied as vmlinuz.
        #[arg(long)]
        kernel: PathBuf,
        /// Initrd, copied as initrd.img.
        #[arg(long)]
        initrd: PathBuf,
        /// Kernel arguments for every node (before srbuild.node=NAME).
        #[arg(long, allow_hyphen_values = true)]
        append: Option<String>,
        /// tftp-root for dnsmasq.conf (default: OUTDIR, or OUTDIR/tftp with --http-base).
        #[arg(long, value_name = "DIR")]
        tftp_root: Option<PathBuf>,
        /// Fetch the nodes' scripts, the kernel and the initrd over HTTP from URL
        /// (http://HOST[:PORT][/PATH]), which serves OUTDIR/http; TFTP serves only
        /// OUTDIR/tftp/boot.ipxe, and no PXELINUX files are written.
        #[arg(long, value_name = "URL")]
        http_base: Option<String>,
        /// Publish the initrd even though it holds a secret (the corosync authkey): any
        /// machine on the boot network can fetch it.
        #[arg(long)]
        allow_secrets: bool,
    },
}

/// Runs `srbuild cluster …`, printing to stdout.
pub fn run_cluster(args: ClusterArgs) -> Result<(), ClusterError> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    run_cluster_to(args, &mut out)
}

fn resolve_cluster_path(given: Option<PathBuf>) -> Result<PathBuf, ClusterError> {
    match given {
        Some(p) => Ok(p),
        None => Cluster::find_default().ok_or(ClusterError::NotFound),
    }
}

fn w(out: &mut dyn Write, text: &str) -> Result<(), ClusterError> {
    writeln!(out, "{text}").map_err(|e| ClusterError::io("write", "stdout", e))
}

fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .map(|r| r.get(c).map_or(0, |s| s.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|r| {
            let line: Vec<String> = r
                .iter()
                .enumerate()
                .map(|(i, s)| format!("{s:<width$}", width = widths[i]))
                .collect();
            line.join("  ").trim_end().to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn or_dash(v: &[String]) -> String {
    if v.is_empty() {
        "-".into()
    } else {
        v.join(",")
    }
}

/// Runs `srbuild cluster …`, printing to `out`.
pub fn run_cluster_to(args: ClusterArgs, out: &mut dyn Write) -> Result<(), ClusterError> {
    let path = resolve_cluster_path(args.cluster)?;
    match args.command {
        ClusterCommand::List => {
            let c = Cluster::load(&path)?;
            let mut rows = vec![["NAME", "ID", "MACS", "ADDRESSES", "ROLES"]
                .map(String::from)
                .to_vec()];
            for n in &c.nodes {
                let addrs: Vec<String> = n.addresses.iter().map(ToString::to_string).collect();
                rows.push(vec![
                    n.name.clone(),
                    n.id.to_string(),
                    or_dash(&n.macs),
                    or_dash(&addrs),
                    or_dash(&n.roles),
                ]);
            }
            w(out, &table(&rows))
        }
        ClusterCommand::Show { node } => {
            let c = Cluster::load(&path)?;
            let n = c.require_node(&node)?;
            let addrs: Vec<String> = n.addresses.iter().map(ToString::to_string).collect();
            let mut lines = vec![
                format!("name:        {}", n.name),
                format!("id:          {}", n.id),
                format!("macs:        {}", or_dash(&n.macs)),
                format!("addresses:   {}", or_dash(&addrs)),
            ];
            if let Some(p) = n.primary() {
                lines.push(format!("primary:     {}", p.addr));
                match c.network_of(p) {
                    Some(net) => {
                        lines.push(format!("network:     {} {}", net.name, net.cidr));
                        lines.push(format!(
                            "gateway:     {}",
                            net.gateway.map_or("-".to_string(), |g| g.to_string())
                        ));
                        let dns: Vec<String> = net.dns.iter().map(ToString::to_string).collect();
                        lines.push(format!("dns:         {}", or_dash(&dns)));
                    }
                    None => lines.push("network:     -".into()),
                }
            }
            lines.push(format!(
                "kernel_args: {}",
                if n.kernel_args.is_empty() {
                    "-".into()
                } else {
                    n.kernel_args.join(" ")
                }
            ));
            lines.push(format!("roles:       {}", or_dash(&n.roles)));
            // The password file's path, never its content.
            lines.push(match &n.fence {
                Some(f) => format!(
                    "fence:       {} {} user {} cipher {} password_file {}",
                    f.agent,
                    f.endpoint(),
                    f.user,
                    f.cipher,
                    f.password_file.display()
                ),
                None => "fence:       -".into(),
            });
            // The CHAP secret file's path, never its content; only members log in.
            lines.push(format!(
                "iscsi:       {}{}",
                n.iscsi_initiator.as_deref().unwrap_or("-"),
                match (&c.iscsi, n.is_member()) {
                    (Some(a), true) => format!(
                        " chap user {} secret_file {}",
                        a.chap_user,
                        a.chap_secret_file.display()
                    ),
                    _ => String::new(),
                }
            ));
            let domains: Vec<String> = c
                .failover_domains
                .iter()
                .filter(|d| d.nodes.contains(&n.name))
                .map(|d| d.name.clone())
                .collect();
            lines.push(format!("failover:    {}", or_dash(&domains)));
            w(out, &lines.join("\n"))
        }
        ClusterCommand::Query {
            key,
            node,
            mac,
            json,
        } => {
            if !QUERY_KEYS.contains(&key.as_str()) {
                return Err(ClusterError::UnknownKey {
                    key,
                    valid: QUERY_KEYS.join(", "),
                });
            }
            let c = Cluster::load(&path)?;
            let v = query(&c, &key, node.as_deref(), mac.as_deref())?;
            if json {
                w(out, &v.to_json().to_string())
            } else {
                let text = v.to_plain();
                if text.is_empty() {
                    Ok(())
                } else {
                    w(out, &text)
                }
            }
        }
        ClusterCommand::Addnode {
            name,
            macs,
            ips,
            id,
            kernel_args,
            roles,
            force,
        } => {
            let n = edit::add_node(
                &path,
                &NewNode {
                    name,
                    id,
                    macs,
                    addresses: ips,
                    kernel_args,
                    roles,
                },
                force,
            )?;
            w(
                out,
                &format!("added node {} (id {}) to {}", n.name, n.id, path.display()),
            )
        }
        ClusterCommand::Removenode { name, force } => {
            edit::remove_node(&path, &name, force)?;
            w(out, &format!("removed node {name} from {}", path.display()))
        }
        ClusterCommand::Netboot {
            outdir,
            kernel,
            initrd,
            append,
            tftp_root,
            http_base,
            allow_secrets,
        } => {
            let c = Cluster::load(&path)?;
            let opts = NetbootOptions {
                outdir: outdir.clone(),
                kernel,
                initrd,
                append,
                tftp_root,
                http_base,
            };
            // Usage errors first, then the image's secrets, then the files.
            let checked = netboot::check_options(&opts)?;
            let secret_note = netboot::check_secrets(&opts.initrd, allow_secrets)?;
            let files = netboot::write_netboot(&c, &opts)?;
            let serve = match &checked.http_base {
                None => String::new(),
                Some(b) => format!(
                    "\nserve {} at {b}/ over HTTP; dnsmasq.conf's TFTP serves only {}",
                    outdir.join(netboot::HTTP_DIR).display(),
                    checked.tftp_root.join(netboot::IPXE_BOOT_NAME).display()
                ),
            };
            w(
                out,
                &format!(
                    "wrote {} files into {}{serve}\nnote: {} and {} are world-readable (0644): \
                     the servers serve nothing else, and any machine on the boot network can \
                     fetch them, so keep secrets such as a corosync authkey out of a netbooted \
                     image or keep the boot network private{secret_note}",
                    files.len(),
                    outdir.display(),
                    netboot::KERNEL_NAME,
                    netboot::INITRD_NAME
                ),
            )
        }
    }
}

/// `srbuild cdsl`: manage context-dependent symlinks in a shared root tree.
#[derive(Debug, Clone, Args)]
pub struct CdslArgs {
    /// The shared root directory to work on.
    #[arg(long, value_name = "DIR")]
    pub root: PathBuf,
    /// Cluster description giving the node ids (default: ./cluster.toml,
    /// /etc/srbuild/cluster.toml, else the node trees already present).
    #[arg(long, global = true, value_name = "FILE")]
    pub cluster: Option<PathBuf>,
    #[command(subcommand)]
    pub command: CdslCommand,
}

/// The `srbuild cdsl` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum CdslCommand {
    /// Make a path host-dependent, or a shared exception inside a host-dependent directory.
    #[command(
        after_help = "Examples:\n  srbuild cdsl --root /srv/root create --hostdependent /etc/hostname\n  \
srbuild cdsl --root /srv/root create --hostdependent /etc/sysconfig\n  srbuild cdsl --root /srv/root create --shared /etc/sysconfig/clock"
    )]
    Create {
        /// Path to make host-dependent (copied into every node's tree).
        #[arg(
            long,
            value_name = "PATH",
            conflicts_with = "shared",
            required_unless_present = "shared"
        )]
        hostdependent: Option<String>,
        /// Path inside a host-dependent directory to share between nodes.
        #[arg(long, value_name = "PATH")]
        shared: Option<String>,
    },
    /// List each CDSL, its kind and which node trees have it.
    #[command(after_help = "Example:\n  srbuild cdsl --root /srv/root list")]
    List,
    /// Check inventory and tree; one line per problem, non-zero exit if any.
    #[command(
        after_help = "Example:\n  srbuild cdsl --root /srv/root --cluster cluster.toml check"
    )]
    Check,
    /// Turn a CDSL back into plain content (from the default tree or --from-node).
    #[command(
        after_help = "Example:\n  srbuild cdsl --root /srv/root remove /etc/hostname --from-node 1"
    )]
    Remove {
        /// The CDSL path.
        path: String,
        /// Restore the content of this node's tree instead of the default tree.
        #[arg(long, value_name = "ID")]
        from_node: Option<u32>,
    },
    /// Seed a node's tree from the default tree for every CDSL.
    #[command(after_help = "Example:\n  srbuild cdsl --root /srv/root addnode 3")]
    Addnode {
        /// Node id 1..=255.
        id: u32,
    },
}

/// Runs `srbuild cdsl …`, printing to stdout.
pub fn run_cdsl(args: CdslArgs) -> Result<(), ClusterError> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    run_cdsl_to(args, &mut out)
}

fn cdsl_node_ids(args: &CdslArgs) -> Result<Vec<u32>, ClusterError> {
    let path = match &args.cluster {
        Some(p) => Some(p.clone()),
        None => Cluster::find_default(),
    };
    match path {
        Some(p) => Ok(Cluster::load(&p)?.nodes.iter().map(|n| n.id).collect()),
        None => cdsl::existing_node_ids(&args.root),
    }
}

fn trees_text(trees: &[Tree]) -> String {
    if trees.is_empty() {
        "none".into()
    } else {
        trees
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Runs `srbuild cdsl …`, printing to `out`.
pub fn run_cdsl_to(args: CdslArgs, out: &mut dyn Write) -> Result<(), ClusterError> {
    let root = args.root.clone();
    match &args.command {
        CdslCommand::Create {
            hostdependent,
            shared,
        } => {
            let ids = cdsl_node_ids(&args)?;
            let (report, kind) = match (hostdependent, shared) {
                (Some(p), None) => (
                    cdsl::create_hostdependent(&root, p, &ids)?,
                    CdslKind::HostDependent,
                ),
                (None, Some(p)) => (cdsl::create_shared(&root, p, &ids)?, CdslKind::Shared),
                _ => {
                    return Err(ClusterError::Usage(
                        "give exactly one of --hostdependent PATH or --shared PATH".into(),
                    ))
                }
            };
            w(
                out,
                &format!(
                    "{} {kind}: copies made in {}, kept in {}{}",
                    report.path,
                    trees_text(&report.created),
                    trees_text(&report.kept),
                    if report.resumed {
                        " (completed an earlier run)"
                    } else {
                        ""
                    }
                ),
            )
        }
        CdslCommand::List => {
            let mut rows = vec![["PATH", "KIND", "NODES", "DEFAULT", "IN PLACE"]
                .map(String::from)
                .to_vec()];
            for s in cdsl::list(&root)? {
                let nodes: Vec<String> = s.nodes.iter().map(ToString::to_string).collect();
                rows.push(vec![
                    format!("/{}", s.path),
                    s.kind.to_string(),
                    or_dash(&nodes),
                    if s.has_default { "yes" } else { "no" }.into(),
                    if s.in_place { "yes" } else { "no" }.into(),
                ]);
            }
            w(out, &table(&rows))
        }
        CdslCommand::Check => {
            let ids = cdsl_node_ids(&args)?;
            let problems = cdsl::check(&root, &ids)?;
            for p in &problems {
                w(out, &p.to_string())?;
            }
            if problems.is_empty() {
                w(out, "ok: inventory and tree agree")
            } else {
                Err(ClusterError::CheckFailed {
                    root,
                    count: problems.len(),
                })
            }
        }
        CdslCommand::Remove { path, from_node } => {
            cdsl::remove(&root, path, *from_node)?;
            w(
                out,
                &format!("{path}: restored as plain content, per-node copies removed"),
            )
        }
        CdslCommand::Addnode { id } => {
            let seeded = cdsl::add_node(&root, *id)?;
            w(
                out,
                &format!("node {id}: seeded {} path(s) from default", seeded.len()),
            )?;
            for p in seeded {
                w(out, &format!("  /{p}"))?;
            }
            Ok(())
        }
    }
}

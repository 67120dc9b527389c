//! One lab plan, decided before anything is made or booted, and pure: the root kind's
//! phases of nodes (seed → server → clients), each node with its VM, its kernel command line
//! and what its console must show, and the artifact recipes ([`Recipe`]) the run needs —
//! before anything boots, and before a phase starts (an image built from what a server
//! printed). The plan reads no host state: its paths are under the run's directory and the
//! kernel is [`KERNEL`] until [`crate::run::materialize`] chooses it; [`crate::run::runner`]
//! follows the plan.

use crate::error::{LabError, Result};
use crate::qemu::{Nic, VmSpec};
use crate::run::fencing::{self, PlannedBmc};
use crate::run::kinds::{Check, KindOpts, Role, RootKind, SharedFormat, Storage};
use crate::run::nodes::{agent_checks, client_append, client_expect, role_append, Expect};
use crate::run::recipe::{ChapPlan, FromServer, Recipe};
use crate::run::rootfs::RootFs;
use crate::run::roottree::AgentConfig;
use crate::run::scenarios::Scenario;
use crate::run::scenarios::{Boots, CutNodes, Netboot, ServerPolicy, Victim, NETBOOT_BASE_URL};
use crate::run::storage::{self, LayoutInput};
use crate::run::topology::{self, LabNode, CLUSTER};
use crate::run::LabOptions;
use crate::timeout::scaled;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Stands for the kernel the VMs boot until the materialize step chooses it.
pub const KERNEL: &str = "{kernel}";

/// Stands for the SHA-256 of the root image ([`Recipe::RootImage`]) in the clients'
/// command lines and expectations until the materialize step made it.
pub const ROOT_SHA256: &str = "{root_sha256}";

/// One node of the plan.
#[derive(Debug, Clone)]
pub struct NodePlan {
    pub node: LabNode,
    pub spec: VmSpec,
    pub expect: Expect,
}

/// Nodes started together.
#[derive(Debug, Clone)]
pub struct Phase {
    pub name: &'static str,
    /// Made before the phase's nodes start (after the phases before it allowed it).
    pub recipes: Vec<Recipe>,
    /// Started this long after the phases before it allow it.
    pub delay: Duration,
    /// The phases after this one start only once all of its nodes are ready.
    pub blocking: bool,
    /// Its nodes start paused and are released at one moment once all are up (`--together`).
    pub together: bool,
    pub nodes: Vec<NodePlan>,
}

/// A link cut ([`crate::run::scenarios::LinkCut`]) with its nodes named.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedCut {
    /// Whose NIC goes down.
    pub nodes: Vec<String>,
    /// The NIC (its index is its segment).
    pub nic: usize,
    /// How long it stays down.
    pub down_for: Duration,
    pub down_seen: &'static str,
    pub up_seen: &'static str,
}

/// Everything a run makes and boots, in order.
#[derive(Debug)]
pub struct LabPlan {
    pub kind: &'static RootKind,
    pub scenario: Scenario,
    /// `--kver`, or `None`: the newest kernel of the sysroot.
    pub kver: Option<String>,
    /// The tree the images are built from and whose kernel boots.
    pub sysroot: crate::run::sysroots::Sysroot,
    /// The release of the Debian root (`--rootfs debian:N`, else `--distro`'s, else the
    /// default); `None` for a busybox root.
    pub release: Option<&'static crate::run::releases::Release>,
    /// Boot the compressed kernel itself rather than its vmlinux through PVH.
    pub bzimage: bool,
    /// The run's artifacts directory.
    pub work: PathBuf,
    /// Host commands the recipes need (QEMU's is checked besides).
    pub tools: Vec<String>,
    /// Made before anything boots, in order.
    pub recipes: Vec<Recipe>,
    pub phases: Vec<Phase>,
    /// The node killed (or, with `isolate`, cut off) once every client passed.
    pub victim: Option<String>,
    /// The victim is cut off from the others (its first NIC's link down) instead of killed.
    pub isolate: bool,
    /// The victim's BMC is unreachable this long from its death.
    pub bmc_down: Option<Duration>,
    /// The host's read-only check of the shared disk once every VM is gone.
    pub fsck: Option<DiskCheck>,
    /// L2 segments (hubs) the run starts.
    pub networks: usize,
    /// The link cut once every client passed.
    pub cut: Option<PlannedCut>,
    /// Clients power themselves off after passing (a systemd root): each must reach the
    /// kernel's power-down line within this bound, without unmount failures.
    pub poweroff: Option<Duration>,
    /// How long the run waits for every client's verdict, from its start (the phases'
    /// delays come on top): 330 s, 600 s for a systemd root, whose boot under TCG took up
    /// to 270 s to the agent on a glusterfs root.
    pub verdict_within: Duration,
    /// The members' BMCs (a kind with fencing), started with the run.
    pub bmcs: Vec<PlannedBmc>,
}

impl LabPlan {
    /// Points each named member's QEMU at its BMC's chardev end (`VmSpec.bmc`).
    pub fn wire_bmcs(&mut self, wiring: &[(String, std::net::SocketAddrV4)]) {
        for (node, vm) in wiring {
            for n in self
                .phases
                .iter_mut()
                .flat_map(|p| p.nodes.iter_mut())
                .filter(|n| &n.node.name == node)
            {
                n.spec.bmc = Some(*vm);
            }
        }
    }
}

impl LabPlan {
    /// Replaces `placeholder` (such as [`ROOT_SHA256`]) with `value` in every node's command
    /// line and in what every client's console must show.
    pub fn fill(&mut self, placeholder: &str, value: &str) {
        for n in self.phases.iter_mut().flat_map(|p| p.nodes.iter_mut()) {
            n.spec.append = n.spec.append.replace(placeholder, value);
            if let Expect::Verdict { why_has, lines, .. } = &mut n.expect {
                for w in why_has.iter_mut().chain(lines.iter_mut()) {
                    *w = w.replace(placeholder, value);
                }
            }
        }
    }
}

/// A read-only check of a disk on the host: `argv` then the disk's path; clean = exit 0.
#[derive(Debug, Clone)]
pub struct DiskCheck {
    pub argv: &'static [&'static str],
    pub disk: PathBuf,
    /// See [`crate::run::kinds::Formatter::leaks_only`].
    pub leaks_only: Option<fn(&str) -> Option<String>>,
    /// See [`crate::run::kinds::Formatter::settle`].
    pub settle: &'static str,
}

/// Refuses, before anything is made, what `kind` cannot run as asked.
fn check(opts: &LabOptions, kind: &RootKind) -> Result<KindOpts> {
    let slots = opts.slots.unwrap_or(opts.nodes);
    kind.check(opts.scenario, opts.nodes, slots)?;
    let kopts = kind.options(&opts.kind_opts)?;
    if opts.rootfs.is_debian() {
        if kind.debian.is_none() || opts.scenario != Scenario::Normal {
            return Err(LabError::Invalid(format!(
                "--rootfs debian works with --root {} and the normal scenario for now \
                 (asked: {} {})",
                crate::run::kinds::KINDS
                    .iter()
                    .filter(|k| k.debian.is_some())
                    .map(|k| k.name)
                    .collect::<Vec<_>>()
                    .join(", --root "),
                kind.name,
                opts.scenario
            )));
        }
        if opts.initrd.is_some() {
            return Err(LabError::Invalid(
                "--rootfs debian needs srbuild's own client image (no --initrd)".into(),
            ));
        }
    }
    Ok(kopts)
}

/// Plans the run of `kind` as `opts` asks, without making or booting anything.
pub fn plan(opts: &LabOptions, kind: &'static RootKind) -> Result<LabPlan> {
    let kopts = check(opts, kind)?;
    let sc = opts.scenario.spec();
    // The kind may need more networks than the scenario asks for (two paths to storage).
    let networks = sc.networks.max(kind.networks);
    let debian = opts.rootfs.is_debian();
    // The Debian root's release, as the recipe makes it.
    let rootfs = match opts.rootfs {
        RootFs::Busybox => RootFs::Busybox,
        RootFs::Debian(r) => RootFs::Debian(Some(
            r.or(opts.distro)
                .unwrap_or_else(crate::run::releases::default_release),
        )),
    };
    let work = opts.dir.join("artifacts");
    let kernel = PathBuf::from(KERNEL);
    let mut recipes = Vec::new();

    // The nodes: the described clients (only the first boots alone in lone-node), the
    // server (described: it needs an identity) and the seed (not described: no network).
    let described: Vec<LabNode> = (1..=opts.nodes).map(topology::client).collect();
    let booted: Vec<LabNode> = match sc.boots {
        Boots::First => described[..1].to_vec(),
        Boots::All => described.clone(),
    };
    let server = kind
        .server
        .map(|r| (r, topology::service(0, r.node, r.role.unwrap_or(r.node))));
    let seed = kind
        .seed
        .map(|r| (r, topology::service(1, r.node, r.role.unwrap_or(r.node))));
    let mut in_description: Vec<LabNode> = server
        .iter()
        .chain(seed.iter())
        .filter(|(r, _)| r.role.is_some())
        .map(|(_, n)| n.clone())
        .collect();
    in_description.extend(described.iter().cloned());
    let cluster = work.join("cluster.toml");
    let bmcs = fencing::plan(kind, &opts.dir, &work, &described)?;
    let over_iscsi = matches!(kind.storage, crate::run::kinds::Storage::Target(_));
    // The target requires CHAP; the clients' images come from a description of their own
    // when they must hold another secret.
    let chap = over_iscsi.then(|| ChapPlan {
        user: crate::run::kinds::CHAP_USER,
        secret: work.join("chap.secret"),
        wrong: sc.wrong_chap.then(|| {
            (
                work.join("cluster-clients.toml"),
                work.join("chap-wrong.secret"),
            )
        }),
    });
    let clients_cluster = chap
        .as_ref()
        .and_then(|c| c.wrong.as_ref())
        .map_or_else(|| cluster.clone(), |(d, _)| d.clone());
    recipes.push(Recipe::Cluster {
        path: cluster.clone(),
        authkey: work.join("authkey"),
        nodes: in_description,
        fences: bmcs.clone(),
        initiators: over_iscsi.then_some(crate::run::kinds::INITIATOR_PREFIX),
        chap,
    });

    let tree = work.join("root");
    recipes.push(Recipe::RootTree {
        path: tree.clone(),
        cluster: cluster.clone(),
        clients: described.clone(),
        agent: AgentConfig {
            expect: booted.iter().map(|n| n.name.clone()).collect(),
            // A root in RAM is each node's own.
            shared: kind.shared && !sc.in_ram(),
            wait_s: scaled(Duration::from_secs(120)).as_secs(),
            checks: agent_checks(kind, opts.scenario),
            // The clients go on writing after they passed when something is done to them.
            beat: sc.victim != Victim::None || sc.cut.is_some(),
        },
        rootfs,
    });

    let profile = opts.profile.as_deref().unwrap_or(kind.client_profile);
    let server_runs = server.is_some() && sc.server != ServerPolicy::Absent;
    let server_ip = server.as_ref().map(|(_, n)| n.ip.as_str()).unwrap_or("");
    // The clients' image: made now, or once the server printed what it is built from.
    let built_initrd = work.join("initrd-client.img");
    let client_image = |from_server| Recipe::Image {
        profile: profile.to_string(),
        cluster: Some(clients_cluster.clone()),
        output: built_initrd.clone(),
        from_server,
    };
    let mut client_recipes = Vec::new();
    let from_server = match (&opts.initrd, kind.client_input, &server) {
        (None, Some(out), Some((r, _))) if server_runs => Some(FromServer {
            node: r.node.to_string(),
            log: opts.dir.join(r.node).join(crate::qemu::CONSOLE_LOG),
            begin: out.begin,
            end: out.end,
            file: work.join(out.file),
            input: out.input,
        }),
        _ => None,
    };
    let client_initrd = match &opts.initrd {
        Some(p) => p.clone(),
        None => {
            match from_server {
                Some(f) => client_recipes.push(client_image(Some(f))),
                None => recipes.push(client_image(None)),
            }
            built_initrd.clone()
        }
    };
    let waits_for_server = !client_recipes.is_empty();

    // Where the root lives: the layout's disks, and the netboot files on the data disk.
    let netboot = match (sc.netboot, described.first()) {
        (Netboot::No, _) | (_, None) => None,
        (how, Some(first)) => Some(Recipe::Netboot {
            cluster: cluster.clone(),
            out: work.join("data").join("netboot"),
            initrd: client_initrd.clone(),
            append: client_append(kind, opts, &kopts, first, server_ip),
            http_base: (how == Netboot::Http)
                .then(|| crate::run::scenarios::fill(NETBOOT_BASE_URL, "", "", server_ip)),
        }),
    };
    let layout = storage::layout(
        kind.storage,
        LayoutInput {
            work: &work,
            tree: &tree,
            sizes: if debian {
                kind.debian.unwrap_or(kind.sizes)
            } else {
                kind.sizes
            },
            shared: SharedFormat {
                cluster: CLUSTER.into(),
                slots: opts.slots.unwrap_or(opts.nodes),
            },
            netboot,
            debian,
            // A hybrid root's network paths are not in its image.
            exclude: sc
                .hybrid_paths()
                .unwrap_or_default()
                .into_iter()
                .map(str::to_string)
                .collect(),
        },
    );
    recipes.extend(layout.recipes.iter().cloned());

    let mut phases = Vec::new();
    let role_spec = |r: &Role, n: &LabNode, initrd: &Path| -> VmSpec {
        let mut spec = VmSpec::new(&n.name, &kernel, initrd, &opts.dir.join(&n.name));
        spec.memory_mb = r.memory_mb;
        spec.cpus = r.cpus;
        spec.append = role_append(kind, r, opts.scenario, opts.slots.unwrap_or(opts.nodes));
        spec.disks = layout.role_disks(r.disks);
        spec.detached = opts.detached;
        spec
    };
    // The seed's own arguments, then the scenario's (how it makes the shared disk).
    let seed_spec = |r: &Role, n: &LabNode, initrd: &Path| -> VmSpec {
        let mut spec = role_spec(r, n, initrd);
        for a in sc.seed_args {
            spec.append.push(' ');
            spec.append.push_str(a);
        }
        spec
    };
    if let Some((r, n)) = &seed {
        let initrd = work.join("initrd-seed.img");
        recipes.push(Recipe::Image {
            profile: r.profile.to_string(),
            cluster: None,
            output: initrd.clone(),
            from_server: None,
        });
        phases.push(Phase {
            name: "seed",
            recipes: Vec::new(),
            delay: Duration::ZERO,
            blocking: true,
            together: false,
            nodes: vec![NodePlan {
                node: n.clone(),
                spec: seed_spec(r, n, &initrd),
                expect: Expect::Ready {
                    marker: r.ready,
                    stopped: true,
                },
            }],
        });
    }
    if let Some((r, n)) = server.as_ref().filter(|_| server_runs) {
        let initrd = work.join("initrd-server.img");
        // A hybrid root whose paths come from elsewhere than the kind's own root: the
        // server serves them too.
        let hybrid_server = kind
            .hybrid_from
            .filter(|_| sc.hybrid_paths().is_some())
            .map(|h| h.server_profile);
        recipes.push(Recipe::Image {
            profile: sc
                .server_profile
                .or(hybrid_server)
                .unwrap_or(r.profile)
                .to_string(),
            cluster: Some(cluster.clone()),
            output: initrd.clone(),
            from_server: None,
        });
        let mut spec = role_spec(r, n, &initrd);
        spec.nics = nics(n, &n.mac, networks);
        spec.append = join_args(&spec.append, topology::segment_args(n, networks));
        phases.push(Phase {
            name: "server",
            recipes: Vec::new(),
            delay: match sc.server {
                ServerPolicy::Late(s) => Duration::from_secs(s),
                _ => Duration::ZERO,
            },
            // Clients built from the server's output wait for it, and so do clients that
            // boot from it: their firmware's DHCP gives up before a server boots under TCG.
            blocking: waits_for_server || sc.netboot.on() || opts.server_first,
            together: false,
            nodes: vec![NodePlan {
                node: n.clone(),
                spec,
                expect: Expect::Ready {
                    marker: r.ready,
                    stopped: false,
                },
            }],
        });
    }
    let mut clients = Vec::new();
    for n in &booted {
        let mut spec = VmSpec::new(&n.name, &kernel, &client_initrd, &opts.dir.join(&n.name));
        spec.memory_mb = if opts.initrd.is_some() || debian {
            1024
        } else {
            kind.client_memory_mb
        };
        let mac = if sc.unknown_macs {
            format!("52:54:00:77:01:{:02x}", n.id) // not in the cluster description
        } else {
            n.mac.clone()
        };
        spec.nics = nics(n, &mac, networks);
        let (disks, own) = layout.client_disks(&work, n);
        spec.disks = disks;
        recipes.extend(own);
        spec.append = join_args(
            &client_append(kind, opts, &kopts, n, server_ip),
            topology::segment_args(n, networks),
        );
        spec.detached = opts.detached;
        spec.netboot = sc.netboot.on();
        clients.push(NodePlan {
            node: n.clone(),
            spec,
            expect: client_expect(opts.scenario, n, server_ip),
        });
    }
    if sc.netboot.on() {
        // A machine the description does not know: dnsmasq must give it nothing.
        let mut n = topology::client(booted.len() + 1);
        n.name = "stranger".into();
        n.mac = "52:54:00:77:02:01".into();
        let mut spec = VmSpec::new(&n.name, &kernel, &client_initrd, &opts.dir.join(&n.name));
        spec.memory_mb = kind.client_memory_mb;
        spec.nics.push(Nic::new(&n.mac));
        spec.detached = opts.detached;
        spec.netboot = true;
        clients.push(NodePlan {
            node: n,
            spec,
            expect: Expect::Console {
                line: crate::run::nodes::IPXE_NO_DHCP,
                forbid: "Linux version",
            },
        });
    }
    let victim = match sc.victim {
        Victim::Client | Victim::Isolated => booted.last().map(|n| n.name.clone()),
        Victim::Server => server.as_ref().map(|(_, n)| n.name.clone()),
        Victim::None => None,
    };
    let cut = sc.cut.map(|c| PlannedCut {
        nodes: match c.nodes {
            CutNodes::Server => server.iter().map(|(_, n)| n.name.clone()).collect(),
            CutNodes::Clients => booted.iter().map(|n| n.name.clone()).collect(),
        },
        nic: c.segment,
        down_for: Duration::from_secs(c.secs),
        down_seen: c.down_seen,
        up_seen: c.up_seen,
    });
    phases.push(Phase {
        name: "clients",
        recipes: client_recipes,
        delay: Duration::ZERO,
        blocking: false,
        together: opts.together,
        nodes: clients,
    });
    let fsck = match (sc.fsck, kind.storage, layout.shared()) {
        // Not an iSCSI LUN: the target is stopped without a sync, so its backing file may
        // lag behind what the clients wrote.
        (true, Storage::Shared(f), Some(disk)) if !f.check.is_empty() => Some(DiskCheck {
            argv: f.check,
            disk: disk.to_path_buf(),
            leaks_only: f.leaks_only,
            settle: f.settle,
        }),
        _ => None,
    };
    let mut tools: Vec<String> = Vec::new();
    let bmc_tool = (!bmcs.is_empty()).then(|| crate::bmc::sim::IPMI_SIM.to_string());
    let fsck_tool = fsck.as_ref().map(|c| c.argv[0].to_string());
    for t in tools_of(&recipes)
        .into_iter()
        .chain(bmc_tool)
        .chain(fsck_tool)
    {
        if !tools.contains(&t) {
            tools.push(t);
        }
    }
    Ok(LabPlan {
        kind,
        scenario: opts.scenario,
        kver: opts.kver.clone(),
        sysroot: opts.sysroot.clone(),
        release: match rootfs {
            RootFs::Busybox => None,
            RootFs::Debian(r) => r,
        },
        bzimage: opts.bzimage,
        work,
        tools,
        recipes,
        phases,
        victim,
        isolate: sc.victim == Victim::Isolated,
        bmc_down: (sc.bmc_down > 0).then(|| Duration::from_secs(sc.bmc_down)),
        fsck,
        networks,
        cut,
        // A systemd root powers off once it passed; the lab checks how it went down.
        poweroff: debian.then(|| scaled(Duration::from_secs(90))),
        verdict_within: scaled(Duration::from_secs(if debian { 600 } else { 330 })),
        bmcs,
    })
}

/// Node `n`'s NICs: `first_mac` on the first segment, then one per further segment.
fn nics(n: &LabNode, first_mac: &str, networks: usize) -> Vec<Nic> {
    let mut v = vec![Nic::new(first_mac)];
    for k in 1..networks {
        let (mac, _) = topology::on_segment(n, k);
        v.push(Nic { mac, net: k });
    }
    v
}

/// `args` after a command line.
fn join_args(line: &str, args: Vec<String>) -> String {
    std::iter::once(line.to_string())
        .chain(args)
        .filter(|a| !a.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The host commands `recipes` run.
fn tools_of(recipes: &[Recipe]) -> Vec<String> {
    recipes
        .iter()
        .flat_map(|r| match r {
            Recipe::Mkfs { fs, .. } => vec![format!("mkfs.{fs}")],
            // A blank disk (formatted by the seed) needs no host tool.
            Recipe::SharedDisk { format, .. } if !format.tool.is_empty() => {
                vec![format.tool.to_string()]
            }
            Recipe::Overlay { .. } => vec!["qemu-img".to_string()],
            // The writable shared mmap check's helper is compiled into the tree.
            Recipe::RootTree { agent, .. } if agent.checks.contains(&Check::Mmap) => {
                vec!["cc".to_string()]
            }
            Recipe::Bricks { .. } => crate::run::bricks::TOOLS
                .iter()
                .map(|t| t.to_string())
                .collect(),
            _ => vec![],
        })
        .collect()
}

/// `<dir>/<node>/console.log` of every node a plan boots.
pub fn logs(plan: &LabPlan) -> Vec<PathBuf> {
    plan.phases
        .iter()
        .flat_map(|p| p.nodes.iter().map(|n| n.spec.log_path()))
        .collect()
}

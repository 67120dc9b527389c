//! One lab plan, decided before anything is made or booted, and pure: the root kind's
//! phases of nodes (seed → server → clients), each node with its VM, its kernel command line
//! and what its console must show, and the artifact recipes ([`Recipe`]) the run needs —
//! before anything boots, and before a phase starts (an image built from what a server
//! printed). The plan reads no host state: its paths are under the run's directory and the
//! kernel is [`KERNEL`] until [`crate::run::materialize`] chooses it; [`crate::run::runner`]
//! follows the plan.

use crate::error::{LabError, Result};
use crate::qemu::{Nic, VmSpec};
use crate::run::kinds::{Check, KindOpts, Role, RootArgs, RootKind, SharedFormat};
use crate::run::recipe::{FromServer, Recipe};
use crate::run::rootfs::RootFs;
use crate::run::roottree::AgentConfig;
use crate::run::scenarios::Scenario;
use crate::run::scenarios::{self, Address, Boots, RootMode, ServerPolicy, VerdictSpec, Victim};
use crate::run::storage::{self, LayoutInput};
use crate::run::topology::{self, LabNode, CLUSTER};
use crate::run::LabOptions;
use crate::timeout::scaled;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What a node's console must show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// A service role: the `marker` line. A role that is `stopped` (the seed) is stopped
    /// once it printed it.
    Ready { marker: &'static str, stopped: bool },
    /// A client: `LAB-PASS`, or `FAILED stage=<fail_stage>` whose reason has every one of
    /// `why_has`; `line` must also be on the console.
    Verdict {
        fail_stage: Option<&'static str>,
        why_has: Vec<String>,
        line: Option<String>,
    },
    /// A node that must not boot: its firmware must print `line`, and the console must
    /// never show `forbid` (the kernel starting).
    Console {
        line: &'static str,
        forbid: &'static str,
    },
}

/// What QEMU's iPXE prints when no DHCP server answers it.
/// (iPXE wraps it at 80 columns, so only its start is matched.)
pub const IPXE_NO_DHCP: &str = "No configuration methods";

/// Stands for the kernel the VMs boot until the materialize step chooses it.
pub const KERNEL: &str = "{kernel}";

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
    pub nodes: Vec<NodePlan>,
}

/// Everything a run makes and boots, in order.
#[derive(Debug)]
pub struct LabPlan {
    pub kind: &'static RootKind,
    pub scenario: Scenario,
    /// `--kver`, or `None`: the host's newest kernel.
    pub kver: Option<String>,
    /// Boot the compressed kernel itself rather than its vmlinux through PVH.
    pub bzimage: bool,
    /// The run's artifacts directory.
    pub work: PathBuf,
    /// Host commands the recipes need (QEMU's is checked besides).
    pub tools: Vec<String>,
    /// Made before anything boots, in order.
    pub recipes: Vec<Recipe>,
    pub phases: Vec<Phase>,
    /// The node killed once every client passed.
    pub victim: Option<String>,
    /// Clients power themselves off after passing (a systemd root): each must reach the
    /// kernel's power-down line within this bound, without unmount failures.
    pub poweroff: Option<Duration>,
}

const BASE_ARGS: [&str; 3] = ["console=ttyS0", "rd.shell=0", "panic=-1"];

/// The clients' kernel command line.
pub fn client_append(
    kind: &RootKind,
    opts: &LabOptions,
    kopts: &KindOpts,
    n: &LabNode,
    server_ip: &str,
) -> String {
    let mut args: Vec<String> = BASE_ARGS.iter().map(|s| s.to_string()).collect();
    args.push("rw".into());
    let spec = opts.scenario.spec();
    args.extend((kind.root_args)(&RootArgs {
        wrong_root: spec.wrong_root,
        no_quorum: spec.no_quorum,
        server_ip,
        opts: kopts,
    }));
    match spec.address {
        Address::Static => args.push(format!(
            "ip={}:::255.255.255.0:{}:eth0:none",
            topology::static_ip(n),
            n.name
        )),
        Address::Dhcp => args.push("ip=dhcp".into()),
        Address::Described => {}
    }
    args.extend(spec.client_args.iter().map(|s| s.to_string()));
    if opts.initrd.is_some() {
        // A foreign image (dracut, say) has no cluster description: give it the node and a
        // static address in the kernel's ip= syntax, on a predictable interface name.
        args.push(format!("srbuild.node={}", n.name));
        args.push("net.ifnames=0".into());
        args.push(format!("ip={}:::255.255.255.0:{}:eth0:none", n.ip, n.name));
        args.push("rd.neednet=1".into());
    }
    args.extend(opts.append.iter().cloned());
    args.join(" ")
}

/// A service role's kernel command line.
pub fn role_append(kind: &RootKind, role: &Role, scenario: Scenario) -> String {
    let mut args: Vec<String> = BASE_ARGS.iter().map(|s| s.to_string()).collect();
    args.extend(role.append.iter().map(|s| {
        s.replace("{fstype}", kind.fstype)
            .replace("{cluster}", CLUSTER)
    }));
    if role.role.is_some() {
        args.extend(scenario.spec().role_args.iter().map(|s| s.to_string()));
    }
    args.join(" ")
}

/// What client `n`'s console must show.
pub fn client_expect(scenario: Scenario, n: &LabNode, server_ip: &str) -> Expect {
    let fill = |t: &str| scenarios::fill(t, &n.ip, &topology::static_ip(n), server_ip);
    match scenario.spec().verdict {
        VerdictSpec::Pass { line } => Expect::Verdict {
            fail_stage: None,
            why_has: vec![],
            line: line.map(fill),
        },
        VerdictSpec::Fail { stage, why_has } => Expect::Verdict {
            fail_stage: Some(stage),
            why_has: why_has.iter().map(|w| fill(w)).collect(),
            line: None,
        },
    }
}

/// The agent's checks for `kind` in `scenario`: `/` is a tmpfs in RAM modes, the hybrid
/// paths stay read-only on the network, and a daemon that serves the network root is gone
/// in full RAM mode.
pub fn agent_checks(kind: &RootKind, scenario: Scenario) -> Vec<Check> {
    let spec = scenario.spec();
    let mut checks = vec![Check::Fstype(if spec.in_ram() {
        "tmpfs"
    } else {
        kind.fstype
    })];
    if spec.root_mode == RootMode::Hybrid {
        checks.push(Check::MountRo("/usr", kind.fstype));
    }
    // In full RAM mode a daemon that served the network root must be gone.
    checks.extend(kind.checks.iter().map(|c| match c {
        Check::Daemon(d) if spec.root_mode == RootMode::Ram => Check::Absent(d),
        c => *c,
    }));
    if spec.in_ram() {
        checks.push(Check::Ram);
    }
    // Every lab machine has virtio NICs and disks only: coldplug must leave the image's
    // e1000 drivers unloaded.
    checks.push(Check::AbsentModules(&["e1000", "e1000e"]));
    checks
}

/// Refuses, before anything is made, what `kind` cannot run as asked.
fn check(opts: &LabOptions, kind: &RootKind) -> Result<KindOpts> {
    let slots = opts.slots.unwrap_or(opts.nodes);
    kind.check(opts.scenario, opts.nodes, slots)?;
    let kopts = kind.options(&opts.kind_opts)?;
    if opts.rootfs == RootFs::Debian {
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
    let debian = opts.rootfs == RootFs::Debian;
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
    recipes.push(Recipe::Cluster {
        path: cluster.clone(),
        authkey: work.join("authkey"),
        nodes: in_description,
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
            beat: sc.victim != Victim::None,
        },
        rootfs: opts.rootfs,
    });

    let profile = opts.profile.as_deref().unwrap_or(kind.client_profile);
    let server_runs = server.is_some() && sc.server != ServerPolicy::Absent;
    let server_ip = server.as_ref().map(|(_, n)| n.ip.as_str()).unwrap_or("");
    // The clients' image: made now, or once the server printed what it is built from.
    let built_initrd = work.join("initrd-client.img");
    let client_image = |from_server| Recipe::Image {
        profile: profile.to_string(),
        cluster: Some(cluster.clone()),
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
        (true, Some(first)) => Some(Recipe::Netboot {
            cluster: cluster.clone(),
            out: work.join("data").join("netboot"),
            initrd: client_initrd.clone(),
            append: client_append(kind, opts, &kopts, first, server_ip),
        }),
        _ => None,
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
        },
    );
    recipes.extend(layout.recipes.iter().cloned());

    let mut phases = Vec::new();
    let role_spec = |r: &Role, n: &LabNode, initrd: &Path| -> VmSpec {
        let mut spec = VmSpec::new(&n.name, &kernel, initrd, &opts.dir.join(&n.name));
        spec.memory_mb = r.memory_mb;
        spec.cpus = r.cpus;
        spec.append = role_append(kind, r, opts.scenario);
        spec.disks = layout.role_disks(r.disks);
        spec.detached = opts.detached;
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
            nodes: vec![NodePlan {
                node: n.clone(),
                spec: role_spec(r, n, &initrd),
                expect: Expect::Ready {
                    marker: r.ready,
                    stopped: true,
                },
            }],
        });
    }
    if let Some((r, n)) = server.as_ref().filter(|_| server_runs) {
        let initrd = work.join("initrd-server.img");
        recipes.push(Recipe::Image {
            profile: r.profile.to_string(),
            cluster: Some(cluster.clone()),
            output: initrd.clone(),
            from_server: None,
        });
        let mut spec = role_spec(r, n, &initrd);
        spec.nics.push(Nic { mac: n.mac.clone() });
        phases.push(Phase {
            name: "server",
            recipes: Vec::new(),
            delay: match sc.server {
                ServerPolicy::Late(s) => Duration::from_secs(s),
                _ => Duration::ZERO,
            },
            // Clients built from the server's output wait for it, and so do clients that
            // boot from it: their firmware's DHCP gives up before a server boots under TCG.
            blocking: waits_for_server || sc.netboot || opts.server_first,
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
        spec.nics.push(Nic { mac });
        let (disks, own) = layout.client_disks(&work, n);
        spec.disks = disks;
        recipes.extend(own);
        spec.append = client_append(kind, opts, &kopts, n, server_ip);
        spec.detached = opts.detached;
        spec.netboot = sc.netboot;
        clients.push(NodePlan {
            node: n.clone(),
            spec,
            expect: client_expect(opts.scenario, n, server_ip),
        });
    }
    if sc.netboot {
        // A machine the description does not know: dnsmasq must give it nothing.
        let mut n = topology::client(booted.len() + 1);
        n.name = "stranger".into();
        n.mac = "52:54:00:77:02:01".into();
        let mut spec = VmSpec::new(&n.name, &kernel, &client_initrd, &opts.dir.join(&n.name));
        spec.memory_mb = kind.client_memory_mb;
        spec.nics.push(Nic { mac: n.mac.clone() });
        spec.detached = opts.detached;
        spec.netboot = true;
        clients.push(NodePlan {
            node: n,
            spec,
            expect: Expect::Console {
                line: IPXE_NO_DHCP,
                forbid: "Linux version",
            },
        });
    }
    let victim = match sc.victim {
        Victim::Client => booted.last().map(|n| n.name.clone()),
        Victim::Server => server.as_ref().map(|(_, n)| n.name.clone()),
        Victim::None => None,
    };
    phases.push(Phase {
        name: "clients",
        recipes: client_recipes,
        delay: Duration::ZERO,
        blocking: false,
        nodes: clients,
    });
    let mut tools: Vec<String> = Vec::new();
    for t in tools_of(&recipes) {
        if !tools.contains(&t) {
            tools.push(t);
        }
    }
    Ok(LabPlan {
        kind,
        scenario: opts.scenario,
        kver: opts.kver.clone(),
        bzimage: opts.bzimage,
        work,
        tools,
        recipes,
        phases,
        victim,
        // A systemd root powers off once it passed; the lab checks how it went down.
        poweroff: debian.then(|| scaled(Duration::from_secs(90))),
    })
}

/// The host commands `recipes` run.
fn tools_of(recipes: &[Recipe]) -> Vec<String> {
    recipes
        .iter()
        .filter_map(|r| match r {
            Recipe::Mkfs { fs, .. } => Some(format!("mkfs.{fs}")),
            Recipe::SharedDisk { format, .. } => Some(format.tool.to_string()),
            Recipe::Overlay { .. } => Some("qemu-img".to_string()),
            // The writable shared mmap check's helper is compiled into the tree.
            Recipe::RootTree { agent, .. } if agent.checks.contains(&Check::Mmap) => {
                Some("cc".to_string())
            }
            _ => None,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::kinds;

    fn kopts(kind: &RootKind) -> KindOpts {
        kind.options(&[]).unwrap()
    }

    fn checks(kind: &RootKind, s: Scenario) -> Vec<String> {
        agent_checks(kind, s)
            .iter()
            .map(|c| c.to_string())
            .collect()
    }

    fn opts(scenario: Scenario) -> LabOptions {
        LabOptions {
            root: None,
            profile: None,
            nodes: 3,
            slots: None,
            dir: PathBuf::from("lab"),
            initrd: None,
            junit: None,
            scenario,
            kind_opts: vec![],
            kver: None,
            append: vec!["quiet".into()],
            detached: false,
            rootfs: crate::run::rootfs::RootFs::Busybox,
            server_first: false,
            bzimage: false,
        }
    }

    #[test]
    fn client_command_lines_name_the_root_of_each_kind() {
        let n = topology::client(2);
        let nfs = kinds::by_name("nfs").unwrap();
        let a = client_append(nfs, &opts(Scenario::Normal), &kopts(nfs), &n, "10.77.0.1");
        assert!(
            a.starts_with("console=ttyS0 rd.shell=0 panic=-1 rw "),
            "{a}"
        );
        assert!(
            a.contains("root=nfs:10.77.0.1:/:vers=4.2,lookupcache=positive"),
            "{a}"
        );
        assert!(a.ends_with(" quiet"), "{a}");
        let a = client_append(
            nfs,
            &opts(Scenario::WrongRootPath),
            &kopts(nfs),
            &n,
            "10.77.0.1",
        );
        assert!(a.contains("root=nfs:10.77.0.1:/srv/no-such-export:"), "{a}");
        let a = client_append(nfs, &opts(Scenario::IpStatic), &kopts(nfs), &n, "10.77.0.1");
        assert!(
            a.contains("ip=10.77.0.52:::255.255.255.0:node2:eth0:none"),
            "{a}"
        );

        let gfs2 = kinds::by_name("gfs2").unwrap();
        let a = client_append(gfs2, &opts(Scenario::Normal), &kopts(gfs2), &n, "");
        assert!(
            a.contains("root=/dev/vda rootfstype=gfs2 srbuild.fencing=0"),
            "{a}"
        );
        let lone = client_append(gfs2, &opts(Scenario::LoneNode), &kopts(gfs2), &n, "");
        let q = |s: &str| -> u64 {
            s.split_whitespace()
                .find_map(|w| w.strip_prefix("srbuild.quorum_timeout="))
                .unwrap()
                .parse()
                .unwrap()
        };
        assert!(
            q(&lone) < q(&a),
            "a lone node gives up on quorum sooner: {lone}"
        );

        let ocfs2 = kinds::by_name("ocfs2").unwrap();
        let a = client_append(ocfs2, &opts(Scenario::Normal), &kopts(ocfs2), &n, "");
        assert!(a.contains("root=/dev/vda rootfstype=ocfs2"), "{a}");
        let ext3 = kinds::by_name("ext3").unwrap();
        let mut o = opts(Scenario::Normal);
        o.initrd = Some(PathBuf::from("dracut.img"));
        let a = client_append(ext3, &o, &kopts(ext3), &n, "");
        assert!(a.contains("root=LABEL=labroot rootfstype=ext3 srbuild.node=node2 net.ifnames=0 ip=10.77.0.12:::255.255.255.0:node2:eth0:none rd.neednet=1"), "{a}");
    }

    #[test]
    fn pxe_serves_from_the_data_disk_and_clients_must_show_ipxe_fetching_it() {
        let nfs = kinds::by_name("nfs").unwrap();
        let server = nfs.server.unwrap();
        let a = role_append(nfs, &server, Scenario::Pxe);
        assert!(a.ends_with(" srbuild.netboot=/srv/netboot"), "{a}");
        assert!(!role_append(nfs, &server, Scenario::Normal).contains("netboot"));
        let n = topology::client(1);
        let Expect::Verdict { line, .. } = client_expect(Scenario::Pxe, &n, "10.77.0.1") else {
            panic!("a pxe client must reach a verdict");
        };
        assert_eq!(line.as_deref(), Some("tftp://10.77.0.1/boot.ipxe... ok"));
        let gfs2 = kinds::by_name("gfs2").unwrap();
        assert!(
            gfs2.check(Scenario::Pxe, 2, 2).is_err(),
            "pxe needs a boot server"
        );
    }

    #[test]
    fn role_command_lines() {
        let nfs = kinds::by_name("nfs").unwrap();
        let server = nfs.server.unwrap();
        let a = role_append(nfs, &server, Scenario::Dhcp);
        assert!(
            a.contains("srbuild.export=/srv/root") && a.ends_with("srbuild.dhcp=1"),
            "{a}"
        );
        assert!(!role_append(nfs, &server, Scenario::Normal).contains("dhcp"));
        let gfs2 = kinds::by_name("gfs2").unwrap();
        let a = role_append(gfs2, &gfs2.seed.unwrap(), Scenario::Normal);
        assert!(
            a.contains("srbuild.seed.dst=/dev/vdb srbuild.seed=gfs2"),
            "{a}"
        );
    }

    #[test]
    fn ram_scenarios_change_the_command_line_and_the_checks() {
        let n = topology::client(1);
        let nfs = kinds::by_name("nfs").unwrap();
        let a = client_append(
            nfs,
            &opts(Scenario::HybridRoot),
            &kopts(nfs),
            &n,
            "10.77.0.1",
        );
        assert!(a.contains("root=nfs:10.77.0.1:/"), "{a}");
        assert!(
            a.contains("srbuild.rootmode=hybrid srbuild.hybrid=/usr"),
            "{a}"
        );
        assert_eq!(
            checks(nfs, Scenario::HybridRoot),
            [
                "fstype tmpfs",
                "mountro /usr nfs",
                "ram",
                "absent-modules e1000 e1000e"
            ]
        );
        let gluster = kinds::by_name("glusterfs").unwrap();
        let daemon = "daemon glusterfs".to_string();
        // In full RAM mode the FUSE client is gone; in hybrid mode it still serves /usr.
        let ram = checks(gluster, Scenario::RamRoot);
        assert!(!ram.contains(&daemon) && ram.contains(&"absent glusterfs".to_string()));
        assert!(checks(gluster, Scenario::HybridRoot).contains(&daemon));
        assert_eq!(
            checks(gluster, Scenario::Normal)[0],
            "fstype fuse.glusterfs"
        );
        let a = client_append(
            gluster,
            &opts(Scenario::ServerDown),
            &kopts(gluster),
            &n,
            "10.77.0.1",
        );
        assert!(
            a.ends_with("srbuild.mount_timeout=30 quiet"),
            "the scenario's timeout comes last and wins: {a}"
        );
        assert_eq!(
            client_expect(Scenario::ServerDown, &n, "10.77.0.1"),
            Expect::Verdict {
                fail_stage: Some("mount-root"),
                why_has: vec!["10.77.0.1".into(), "gave up".into()],
                line: None
            }
        );
    }

    #[test]
    fn expectations_follow_the_scenario() {
        let n = topology::client(1);
        assert_eq!(
            client_expect(Scenario::Normal, &n, ""),
            Expect::Verdict {
                fail_stage: None,
                why_has: vec![],
                line: None
            }
        );
        assert_eq!(
            client_expect(Scenario::LoneNode, &n, ""),
            Expect::Verdict {
                fail_stage: Some("cluster"),
                why_has: vec!["no quorum".into()],
                line: None
            }
        );
        assert_eq!(
            client_expect(Scenario::Dhcp, &n, ""),
            Expect::Verdict {
                fail_stage: None,
                why_has: vec![],
                line: Some("srbuild: dhcp on eth0: 10.77.0.11/24".into())
            }
        );
    }
}

//! One lab plan: the root kind, then phases of nodes (seed → servers → clients), each node
//! with its VM, its kernel command line and what its console must show. Everything a run
//! boots is decided here, before anything boots; [`crate::run::runner`] only follows it.

use crate::accel::{self, Accel};
use crate::error::{LabError, Result};
use crate::qemu::{qemu_binary, Disk, DiskFormat, Nic, VmSpec};
use crate::run::artifacts::{self, AgentConfig};
use crate::run::kinds::{self, Role, RootArgs, RootKind, SharedFormat, Storage};
use crate::run::rootfs::RootFs;
use crate::run::scenario::Scenario;
use crate::run::topology::{self, LabNode, CLUSTER};
use crate::run::LabOptions;
use crate::timeout::scaled;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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
/// Where the pxe scenario's netboot files live on the server's data disk.
pub const NETBOOT_DIR: &str = "/srv/netboot";

/// One node of the plan.
#[derive(Debug, Clone)]
pub struct NodePlan {
    pub node: LabNode,
    pub spec: VmSpec,
    pub expect: Expect,
}

/// A client image built during the run, from the client volfile a server printed.
#[derive(Debug, Clone)]
pub struct VolfileImage {
    pub profile: String,
    pub kver: String,
    pub cluster: PathBuf,
    /// The image the phase's nodes boot.
    pub output: PathBuf,
    /// Where the volfile is written.
    pub volfile: PathBuf,
    /// The console log of the server that prints it.
    pub server_log: PathBuf,
}

/// Nodes started together.
#[derive(Debug, Clone)]
pub struct Phase {
    pub name: &'static str,
    /// Built before the phase's nodes start (their initrd).
    pub image: Option<VolfileImage>,
    /// Started this long after the phases before it allow it.
    pub delay: Duration,
    /// The phases after this one start only once all of its nodes are ready.
    pub blocking: bool,
    pub nodes: Vec<NodePlan>,
}

/// Everything a run boots, in order.
#[derive(Debug)]
pub struct LabPlan {
    pub kind: &'static RootKind,
    pub accel: Accel,
    pub phases: Vec<Phase>,
    /// The node killed once every client passed (the node-dies scenario).
    pub victim: Option<String>,
    /// Clients power themselves off after passing (a systemd root): each must reach the
    /// kernel's power-down line within this bound, without unmount failures.
    pub poweroff: Option<Duration>,
}

const BASE_ARGS: [&str; 3] = ["console=ttyS0", "rd.shell=0", "panic=-1"];

/// The kind a run boots: `--root`, or the one the profile's modules make.
pub fn choose_kind(opts: &LabOptions) -> Result<&'static RootKind> {
    match (&opts.root, &opts.profile) {
        (Some(r), _) => kinds::by_name(r),
        (None, Some(p)) => {
            let mut library = srbuild_builder::library::Library::standard();
            let profile =
                srbuild_builder::config::load_profile(&mut library, p).map_err(|source| {
                    LabError::Build {
                        what: format!("reading profile {p}"),
                        source,
                    }
                })?;
            kinds::for_modules(p, &profile.modules)
        }
        (None, None) => Err(LabError::Invalid(
            "say what to boot: --root nfs|ext3|gfs2|ocfs2|glusterfs or --profile NAME".into(),
        )),
    }
}

/// The clients' kernel command line.
pub fn client_append(kind: &RootKind, opts: &LabOptions, n: &LabNode, server_ip: &str) -> String {
    let mut args: Vec<String> = BASE_ARGS.iter().map(|s| s.to_string()).collect();
    args.push("rw".into());
    args.extend((kind.root_args)(&RootArgs {
        scenario: opts.scenario,
        server_ip,
        nfs_version: &opts.nfs_version,
    }));
    match opts.scenario {
        Scenario::IpStatic => args.push(format!(
            "ip={}:::255.255.255.0:{}:eth0:none",
            topology::static_ip(n),
            n.name
        )),
        Scenario::Dhcp => args.push("ip=dhcp".into()),
        _ => {}
    }
    args.extend(scenario_args(opts.scenario));
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
    args.extend(role.append.iter().map(|s| s.to_string()));
    if role.node == "seed" {
        args.push(format!("srbuild.seed={}", kind.fstype));
        args.push(format!("srbuild.seed.cluster={CLUSTER}"));
    }
    if scenario == Scenario::Dhcp && role.role.is_some() {
        args.push("srbuild.dhcp=1".into());
    }
    if scenario == Scenario::Pxe && role.role.is_some() {
        args.push(format!("srbuild.netboot={NETBOOT_DIR}"));
    }
    args.join(" ")
}

/// What client `n`'s console must show.
pub fn client_expect(scenario: Scenario, n: &LabNode, server_ip: &str) -> Expect {
    let line = match scenario {
        Scenario::IpStatic => Some(format!("srbuild: ip {}/24 on eth0", topology::static_ip(n))),
        Scenario::Dhcp => Some(format!("srbuild: dhcp on eth0: {}/24", n.ip)),
        Scenario::RamRoot | Scenario::HybridRoot => Some("srbuild: root in RAM (mode ".into()),
        // Proof that the node booted through iPXE from the server.
        Scenario::Pxe => Some(format!(
            "tftp://{server_ip}/{}... ok",
            srbuild_cluster::netboot::IPXE_BOOT_NAME
        )),
        _ => None,
    };
    let why_has = match scenario {
        Scenario::LoneNode => vec!["no quorum".to_string()],
        Scenario::ServerDown => vec![server_ip.to_string(), "gave up".into()],
        Scenario::BadRootmode => vec!["srbuild.rootmode=bogus".into()],
        Scenario::RamTooSmall => vec!["more than srbuild.ramsize=1M".into()],
        Scenario::HybridMissingPath => vec!["srbuild.hybrid: /no-such-dir".into()],
        _ => vec![],
    };
    Expect::Verdict {
        fail_stage: scenario.expected_failure(),
        why_has,
        line,
    }
}

/// Kernel arguments a scenario adds to the clients' (after the kind's own).
pub fn scenario_args(scenario: Scenario) -> Vec<String> {
    let v: &[&str] = match scenario {
        // Give up soon: nothing will answer.
        Scenario::ServerDown => &["srbuild.mount_timeout=30"],
        Scenario::RamRoot => &["srbuild.rootmode=ram", "srbuild.ramsize=160M"],
        Scenario::HybridRoot => &[
            "srbuild.rootmode=hybrid",
            "srbuild.hybrid=/usr",
            "srbuild.ramsize=160M",
        ],
        Scenario::BadRootmode => &["srbuild.rootmode=bogus"],
        Scenario::RamTooSmall => &["srbuild.rootmode=ram", "srbuild.ramsize=1M"],
        Scenario::HybridMissingPath => &[
            "srbuild.rootmode=hybrid",
            "srbuild.hybrid=/usr,/no-such-dir",
        ],
        _ => &[],
    };
    v.iter().map(|s| s.to_string()).collect()
}

/// The agent's checks for `kind` in `scenario`: `/` is a tmpfs in RAM modes, the hybrid
/// paths stay read-only on the network, and a daemon that serves the network root is gone
/// in full RAM mode.
pub fn agent_checks(kind: &RootKind, scenario: Scenario) -> Vec<String> {
    let ram = matches!(scenario, Scenario::RamRoot | Scenario::HybridRoot);
    let mut checks = vec![format!(
        "fstype {}",
        if ram { "tmpfs" } else { kind.fstype }
    )];
    if scenario == Scenario::HybridRoot {
        checks.push(format!("mountro /usr {}", kind.fstype));
    }
    // In full RAM mode a daemon that served the network root must be gone.
    checks.extend(kind.checks.iter().map(|c| match c.strip_prefix("daemon ") {
        Some(d) if scenario == Scenario::RamRoot => format!("absent {d}"),
        _ => c.to_string(),
    }));
    if ram {
        checks.push("ram".into());
    }
    // Every lab machine has virtio NICs and disks only: coldplug must leave the image's
    // e1000 drivers unloaded.
    checks.push("absent-modules e1000 e1000e".into());
    checks
}

fn disk(path: &Path, format: DiskFormat, shared: bool, readonly: bool) -> Disk {
    Disk {
        path: path.to_path_buf(),
        format,
        shared,
        readonly,
    }
}

/// Writes the netboot files for the lab's cluster into `out`, as `srbuild cluster netboot
/// --tftp-root /srv/netboot` does: the server's data disk carries them to its dnsmasq.
fn netboot(cluster: &Path, out: &Path, kernel: &Path, initrd: &Path, append: &str) -> Result<()> {
    let what = |w: &str| format!("{w} for the pxe scenario ({})", out.display());
    let c = srbuild_cluster::Cluster::load(cluster).map_err(|source| LabError::Netboot {
        what: what("reading the cluster description"),
        source,
    })?;
    let opts = srbuild_cluster::netboot::NetbootOptions {
        outdir: out.to_path_buf(),
        kernel: kernel.to_path_buf(),
        initrd: initrd.to_path_buf(),
        append: Some(append.to_string()),
        tftp_root: Some(PathBuf::from(NETBOOT_DIR)),
    };
    srbuild_cluster::netboot::write_netboot(&c, &opts).map_err(|source| LabError::Netboot {
        what: what("writing the netboot files"),
        source,
    })?;
    Ok(())
}

/// The root kinds that boot a Debian root (`--rootfs debian`).
///
/// Not glusterfs: it boots and passes, but systemd 252's shutdown stops every process
/// (SIGSTOP), the FUSE root's daemon included, and then looks paths up on the root; once
/// the FUSE cache has expired that lookup waits for the stopped daemon forever (README,
/// "FUSE roots and systemd's shutdown").
pub const DEBIAN_KINDS: &[&str] = &["nfs", "gfs2", "ocfs2"];

/// Builds images, the root tree and the disks under `<dir>/artifacts`, and plans the run.
pub fn prepare(opts: &LabOptions) -> Result<LabPlan> {
    let kind = choose_kind(opts)?;
    let slots = opts.slots.unwrap_or(opts.nodes);
    kind.check(opts.scenario, opts.nodes, slots)?;
    let debian = opts.rootfs == RootFs::Debian;
    if debian && (!DEBIAN_KINDS.contains(&kind.name) || opts.scenario != Scenario::Normal) {
        return Err(LabError::Invalid(format!(
            "--rootfs debian works with --root {} and the normal scenario for now (asked: {} {})",
            DEBIAN_KINDS.join(", --root "),
            kind.name,
            opts.scenario
        )));
    }
    if debian && opts.initrd.is_some() {
        return Err(LabError::Invalid(
            "--rootfs debian needs srbuild's own client image (no --initrd)".into(),
        ));
    }
    // Fail before building anything when a host tool of the run is missing.
    crate::host_tools::require(qemu_binary().as_os_str())?;
    for tool in ["mkfs.ext4"].iter().chain(kind.tools) {
        crate::host_tools::require(OsStr::new(tool))?;
    }
    let work = opts.dir.join("artifacts");
    std::fs::create_dir_all(&work).map_err(|e| LabError::io("cannot create", &work, e))?;
    let kver = srbuild_builder::kernel::choose_kernel(
        &srbuild_builder::sysroot::Sysroot::new("/"),
        opts.kver.as_deref(),
    )
    .map_err(|source| LabError::Build {
        what: "choosing the kernel".into(),
        source,
    })?;
    let kernel = artifacts::kernel_image(&kver)?;
    let started = Instant::now();
    // What the VMs boot; the PXE scenario's netboot files keep the bzImage.
    let boot = if opts.bzimage {
        crate::run::pvh::BootKernel::BzImage(kernel.clone(), "--bzimage".into())
    } else {
        crate::run::pvh::boot_kernel(&kernel, &crate::run::rootfs::cache_dir())?
    };

    // The nodes: the described clients (only the first boots alone in lone-node), the
    // server (described: it needs an identity) and the seed (not described: no network).
    let described: Vec<LabNode> = (1..=opts.nodes).map(topology::client).collect();
    let booted: Vec<LabNode> = match opts.scenario {
        Scenario::LoneNode => described[..1].to_vec(),
        _ => described.clone(),
    };
    let server = kind
        .server
        .map(|r| (r, topology::service(0, r.node, r.role.unwrap_or("server"))));
    let seed = kind
        .seed
        .map(|r| (r, topology::service(1, r.node, r.role.unwrap_or("seed"))));
    let mut in_description: Vec<LabNode> = server
        .iter()
        .chain(seed.iter())
        .filter(|(r, _)| r.role.is_some())
        .map(|(_, n)| n.clone())
        .collect();
    in_description.extend(described.iter().cloned());
    let cluster = work.join("cluster.toml");
    artifacts::authkey(&work.join("authkey"))?;
    std::fs::write(
        &cluster,
        topology::cluster_toml(&in_description, Some("authkey")),
    )
    .map_err(|e| LabError::io("cannot write", &cluster, e))?;

    let checks = agent_checks(kind, opts.scenario);
    let ram = matches!(opts.scenario, Scenario::RamRoot | Scenario::HybridRoot);
    let tree = work.join("root");
    artifacts::root_tree(
        &tree,
        &kver,
        &cluster,
        &described,
        &AgentConfig {
            expect: booted.iter().map(|n| n.name.clone()).collect(),
            // A root in RAM is each node's own.
            shared: kind.shared && !ram,
            wait_s: scaled(Duration::from_secs(120)).as_secs(),
            checks,
            beat: matches!(opts.scenario, Scenario::NodeDies | Scenario::RamRoot),
        },
        opts.rootfs,
    )?;

    let profile = opts.profile.as_deref().unwrap_or(kind.client_profile);
    let client_initrd = work.join("initrd-client.img");
    // The clients' image: now, or once the server printed its client volfile.
    let server_runs = server.is_some() && opts.scenario != Scenario::ServerDown;
    let from_volfile = kind.client_volfile && opts.initrd.is_none() && server_runs;
    let client_initrd = match &opts.initrd {
        Some(p) => p.clone(),
        None if from_volfile => client_initrd,
        None => artifacts::build_image(profile, &kver, Some(&cluster), &client_initrd)?,
    };
    let server_ip = server.as_ref().map(|(_, n)| n.ip.as_str()).unwrap_or("");

    // Where the root lives: the disks of the roles and of every client.
    let mut role_disks: Vec<Disk> = Vec::new();
    let mut client_disks: Vec<Disk> = Vec::new();
    match kind.storage {
        Storage::ServerExport => {
            let data = work.join("data");
            let _ = std::fs::remove_dir_all(&data);
            std::fs::create_dir_all(&data).map_err(|e| LabError::io("cannot create", &data, e))?;
            std::fs::rename(&tree, data.join("root"))
                .map_err(|e| LabError::io("cannot move the root tree", &tree, e))?;
            if opts.scenario == Scenario::Pxe {
                // What `srbuild cluster netboot` writes, served by the server's dnsmasq.
                let first = described.first().ok_or_else(|| {
                    LabError::Invalid("the pxe scenario needs at least one client".into())
                })?;
                netboot(
                    &cluster,
                    &data.join("netboot"),
                    &kernel,
                    &client_initrd,
                    &client_append(kind, opts, first, server_ip),
                )?;
            }
            let img = work.join("server-data.img");
            // A Debian root with systemd is about 180 MB.
            let size = if debian { 1024 } else { 256 };
            artifacts::mkfs_from_dir("ext4", &data, &img, size, "labroot")?;
            role_disks.push(disk(&img, DiskFormat::Raw, false, false));
        }
        Storage::Overlay => {
            let base = work.join("ext3-base.img");
            artifacts::mkfs_from_dir("ext3", &tree, &base, 128, "labroot")?;
            client_disks.push(disk(&base, DiskFormat::Raw, false, false));
        }
        Storage::Shared { size_mb, format } => {
            let src = work.join("seed-source.img");
            // A Debian root with systemd is about 230 MB (and an inode block per file).
            let (src_mb, size_mb) = if debian {
                (1024, size_mb.max(1536))
            } else {
                (128, size_mb)
            };
            artifacts::mkfs_from_dir("ext4", &tree, &src, src_mb, "labsrc")?;
            let shared = work.join("shared.img");
            artifacts::raw_image(&shared, size_mb)?;
            format(
                &shared,
                &SharedFormat {
                    cluster: CLUSTER.into(),
                    slots,
                },
            )?;
            role_disks.push(disk(&src, DiskFormat::Raw, false, true));
            role_disks.push(disk(&shared, DiskFormat::Raw, true, false));
            client_disks.push(disk(&shared, DiskFormat::Raw, true, false));
        }
    }

    let (accel, why) = accel::detect_with_reason(&qemu_binary());

    let mut phases = Vec::new();
    let role_spec = |r: &Role, n: &LabNode, initrd: &Path| -> VmSpec {
        let mut spec = VmSpec::new(&n.name, boot.path(), initrd, &opts.dir.join(&n.name));
        spec.memory_mb = r.memory_mb;
        spec.cpus = r.cpus;
        spec.append = role_append(kind, r, opts.scenario);
        spec.disks = role_disks.clone();
        spec.detached = opts.detached;
        spec
    };
    if let Some((r, n)) = &seed {
        let initrd = artifacts::build_image(r.profile, &kver, None, &work.join("initrd-seed.img"))?;
        phases.push(Phase {
            name: "seed",
            image: None,
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
        let initrd = artifacts::build_image(
            r.profile,
            &kver,
            Some(&cluster),
            &work.join("initrd-server.img"),
        )?;
        let mut spec = role_spec(r, n, &initrd);
        spec.nics.push(Nic { mac: n.mac.clone() });
        phases.push(Phase {
            name: "server",
            image: None,
            delay: if opts.scenario == Scenario::LateServer {
                Duration::from_secs(20)
            } else {
                Duration::ZERO
            },
            // Clients built from the server's volfile wait for it, and so do clients that
            // boot from it: their firmware's DHCP gives up before a server boots under TCG.
            blocking: from_volfile || opts.scenario == Scenario::Pxe || opts.server_first,
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
        let dir = opts.dir.join(&n.name);
        let mut spec = VmSpec::new(&n.name, boot.path(), &client_initrd, &dir);
        spec.memory_mb = if opts.initrd.is_some() || debian {
            1024
        } else {
            kind.client_memory_mb
        };
        let mac = if opts.scenario == Scenario::UnknownNode {
            format!("52:54:00:77:01:{:02x}", n.id) // not in the cluster description
        } else {
            n.mac.clone()
        };
        spec.nics.push(Nic { mac });
        for d in &client_disks {
            if let Storage::Overlay = kind.storage {
                let own = work.join(format!("{}.qcow2", n.name));
                artifacts::overlay(&d.path, &own)?;
                spec.disks.push(disk(&own, DiskFormat::Qcow2, false, false));
            } else {
                spec.disks.push(d.clone());
            }
        }
        spec.append = client_append(kind, opts, n, server_ip);
        spec.detached = opts.detached;
        spec.netboot = opts.scenario == Scenario::Pxe;
        clients.push(NodePlan {
            node: n.clone(),
            spec,
            expect: client_expect(opts.scenario, n, server_ip),
        });
    }
    if opts.scenario == Scenario::Pxe {
        // A machine the description does not know: dnsmasq must give it nothing.
        let mut n = topology::client(booted.len() + 1);
        n.name = "stranger".into();
        n.mac = "52:54:00:77:02:01".into();
        let mut spec = VmSpec::new(
            &n.name,
            boot.path(),
            &client_initrd,
            &opts.dir.join(&n.name),
        );
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
    let victim = match opts.scenario {
        Scenario::NodeDies => booted.last().map(|n| n.name.clone()),
        // A root in RAM outlives its server.
        Scenario::RamRoot => server.as_ref().map(|(_, n)| n.name.clone()),
        _ => None,
    };
    let image = from_volfile.then(|| VolfileImage {
        profile: profile.to_string(),
        kver: kver.clone(),
        cluster: cluster.clone(),
        output: client_initrd.clone(),
        volfile: work.join("client.vol"),
        server_log: opts
            .dir
            .join(kind.server.map(|r| r.node).unwrap_or("server"))
            .join(crate::qemu::CONSOLE_LOG),
    });
    phases.push(Phase {
        name: "clients",
        image,
        delay: Duration::ZERO,
        blocking: false,
        nodes: clients,
    });
    println!(
        "lab: {} root, {} client(s), scenario {}; artifacts ready in {:.1} s under {}; accelerator {} ({why}); {}",
        kind.name,
        booted.len(),
        opts.scenario,
        started.elapsed().as_secs_f64(),
        work.display(),
        accel.as_str(),
        boot.describe()
    );
    Ok(LabPlan {
        kind,
        accel,
        phases,
        victim,
        // A systemd root powers off once it passed; the lab checks how it went down.
        poweroff: debian.then(|| scaled(Duration::from_secs(90))),
    })
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
            nfs_version: "4.2".into(),
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
        let a = client_append(nfs, &opts(Scenario::Normal), &n, "10.77.0.1");
        assert!(
            a.starts_with("console=ttyS0 rd.shell=0 panic=-1 rw "),
            "{a}"
        );
        assert!(
            a.contains("root=nfs:10.77.0.1:/:vers=4.2,lookupcache=positive"),
            "{a}"
        );
        assert!(a.ends_with(" quiet"), "{a}");
        let a = client_append(nfs, &opts(Scenario::WrongRootPath), &n, "10.77.0.1");
        assert!(a.contains("root=nfs:10.77.0.1:/srv/no-such-export:"), "{a}");
        let a = client_append(nfs, &opts(Scenario::IpStatic), &n, "10.77.0.1");
        assert!(
            a.contains("ip=10.77.0.52:::255.255.255.0:node2:eth0:none"),
            "{a}"
        );

        let gfs2 = kinds::by_name("gfs2").unwrap();
        let a = client_append(gfs2, &opts(Scenario::Normal), &n, "");
        assert!(
            a.contains("root=/dev/vda rootfstype=gfs2 srbuild.fencing=0"),
            "{a}"
        );
        let lone = client_append(gfs2, &opts(Scenario::LoneNode), &n, "");
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
        let a = client_append(ocfs2, &opts(Scenario::Normal), &n, "");
        assert!(a.contains("root=/dev/vda rootfstype=ocfs2"), "{a}");
        let ext3 = kinds::by_name("ext3").unwrap();
        let mut o = opts(Scenario::Normal);
        o.initrd = Some(PathBuf::from("dracut.img"));
        let a = client_append(ext3, &o, &n, "");
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
        let a = client_append(nfs, &opts(Scenario::HybridRoot), &n, "10.77.0.1");
        assert!(a.contains("root=nfs:10.77.0.1:/"), "{a}");
        assert!(
            a.contains("srbuild.rootmode=hybrid srbuild.hybrid=/usr"),
            "{a}"
        );
        assert_eq!(
            agent_checks(nfs, Scenario::HybridRoot),
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
        let ram = agent_checks(gluster, Scenario::RamRoot);
        assert!(!ram.contains(&daemon) && ram.contains(&"absent glusterfs".to_string()));
        assert!(agent_checks(gluster, Scenario::HybridRoot).contains(&daemon));
        assert_eq!(
            agent_checks(gluster, Scenario::Normal)[0],
            "fstype fuse.glusterfs"
        );
        let a = client_append(gluster, &opts(Scenario::ServerDown), &n, "10.77.0.1");
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

//! A lab run: prepare artifacts, boot the server and the clients on one private hub, follow
//! their consoles until every client has a verdict, and report (JUnit, timeline, logs).
//! `test` tears everything down; `up` leaves the cluster running for `status`, `console`
//! and `down`.

pub mod artifacts;
pub mod control;
pub mod topology;

use crate::accel::{self, Accel};
use crate::console::{ConsoleEvent, ConsoleWatcher};
use crate::error::{LabError, Result};
use crate::qemu::{qemu_binary, Disk, DiskFormat, Nic, Vm, VmSpec};
use crate::report::{self, NodeResult};
use crate::timeout::scaled;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use topology::{LabNode, RootKind, Scenario};

/// What `srbuild lab test|up` was asked for.
#[derive(Debug, Clone)]
pub struct LabOptions {
    pub profile: String,
    pub nodes: usize,
    pub dir: PathBuf,
    /// Boot this client image instead of building one (e.g. a dracut image).
    pub initrd: Option<PathBuf>,
    pub junit: Option<PathBuf>,
    pub scenario: Scenario,
    /// NFS version for the clients' root mount ("4.2", "4", "3").
    pub nfs_version: String,
    pub kver: Option<String>,
    /// Extra kernel arguments for every client.
    pub append: Vec<String>,
    /// `lab up`: leave the VMs and the hub running after the verdicts.
    pub detached: bool,
}

/// Everything built for a run.
#[derive(Debug)]
pub struct Prepared {
    pub kind: RootKind,
    pub kernel: PathBuf,
    pub client_initrd: PathBuf,
    pub server_initrd: Option<PathBuf>,
    pub server_disk: Option<PathBuf>,
    pub base_disk: Option<PathBuf>,
    pub clients: Vec<LabNode>,
    pub server: Option<LabNode>,
    pub accel: Accel,
}

/// Builds images, the root tree and the disks under `<dir>/artifacts`.
pub fn prepare(opts: &LabOptions) -> Result<Prepared> {
    let kind = RootKind::for_profile(&opts.profile).ok_or_else(|| {
        LabError::Setup(format!(
            "the lab boots the nfs and ext3 profiles so far, not '{}'",
            opts.profile
        ))
    })?;
    if opts.nodes == 0 || opts.nodes > 16 {
        return Err(LabError::Setup(format!(
            "--nodes {} is out of range (1 to 16)",
            opts.nodes
        )));
    }
    // Fail before building anything when a host tool of the run is missing.
    crate::host_tools::require(qemu_binary().as_os_str())?;
    let mkfs = if kind == RootKind::Ext3 {
        "mkfs.ext3"
    } else {
        "mkfs.ext4"
    };
    crate::host_tools::require(std::ffi::OsStr::new(mkfs))?;
    if kind == RootKind::Ext3 {
        crate::host_tools::require(std::ffi::OsStr::new("qemu-img"))?;
    }
    let work = opts.dir.join("artifacts");
    std::fs::create_dir_all(&work).map_err(|e| LabError::io("cannot create", &work, e))?;
    // The builder's choice: the one asked for (it must be installed) or the newest.
    let kver = srbuild_builder::image::choose_kernel(
        &srbuild_builder::sysroot::Sysroot::new("/"),
        opts.kver.as_deref(),
    )
    .map_err(|e| LabError::Setup(e.to_string()))?;
    let kernel = artifacts::kernel_image(&kver)?;
    let clients: Vec<LabNode> = (1..=opts.nodes).map(topology::client).collect();
    let server = (kind == RootKind::Nfs).then(topology::server);
    let mut described: Vec<LabNode> = server.iter().cloned().collect();
    described.extend(clients.iter().cloned());
    let cluster = work.join("cluster.toml");
    std::fs::write(&cluster, topology::cluster_toml(&described))
        .map_err(|e| LabError::io("cannot write", &cluster, e))?;

    let started = Instant::now();
    let tree = work.join("root");
    let wait = scaled(Duration::from_secs(120)).as_secs();
    artifacts::root_tree(
        &tree,
        &kver,
        &cluster,
        &clients,
        kind == RootKind::Nfs,
        wait,
    )?;
    let disk = artifacts::disks_for(kind, &work, &tree)?;
    let client_initrd = match &opts.initrd {
        Some(p) => p.clone(),
        None => artifacts::build_image(
            &opts.profile,
            &kver,
            &cluster,
            &work.join(format!("initrd-{}.img", opts.profile)),
            &[],
        )?,
    };
    let server_initrd = match kind {
        RootKind::Nfs => Some(artifacts::build_image(
            "lab-nfs-server",
            &kver,
            &cluster,
            &work.join("initrd-server.img"),
            &[],
        )?),
        RootKind::Ext3 => None,
    };
    let (accel, why) = accel::detect_with_reason(&qemu_binary());
    println!(
        "lab: artifacts ready in {:.1} s under {}; accelerator {} ({why})",
        started.elapsed().as_secs_f64(),
        work.display(),
        accel.as_str()
    );
    Ok(Prepared {
        kind,
        kernel,
        client_initrd,
        server_initrd,
        server_disk: (kind == RootKind::Nfs).then(|| disk.clone()),
        base_disk: (kind == RootKind::Ext3).then_some(disk),
        clients,
        server,
        accel,
    })
}

/// The VM of client `n`.
pub fn client_spec(p: &Prepared, opts: &LabOptions, n: &LabNode) -> Result<VmSpec> {
    let dir = opts.dir.join(&n.name);
    let mut spec = VmSpec::new(&n.name, &p.kernel, &p.client_initrd, &dir);
    spec.memory_mb = 384;
    let mut mac = n.mac.clone();
    if opts.scenario == Scenario::UnknownNode {
        mac = format!("52:54:00:77:01:{:02x}", n.id); // not in the cluster description
    }
    spec.nics.push(Nic { mac });
    let mut args = vec![
        "console=ttyS0".to_string(),
        "rd.shell=0".into(),
        "panic=-1".into(),
        "rw".into(),
    ];
    match p.kind {
        RootKind::Nfs => {
            let server = p.server.as_ref().map(|s| s.ip.clone()).unwrap_or_default();
            // The server's export is its NFSv4 root (fsid=0): v4 mounts "/", v3 the real path.
            let v3 = opts.nfs_version.starts_with('3');
            let path = match (opts.scenario == Scenario::WrongRootPath, v3) {
                (true, _) => "/srv/no-such-export",
                (false, true) => "/srv/root",
                (false, false) => "/",
            };
            // lookupcache=positive: a node looking for another node's new file asks the server.
            args.push(format!(
                "root=nfs:{server}:{path}:vers={},lookupcache=positive",
                opts.nfs_version
            ));
            args.push(format!(
                "srbuild.mount_timeout={}",
                scaled(Duration::from_secs(150)).as_secs()
            ));
        }
        RootKind::Ext3 => {
            let overlay = opts.dir.join("artifacts").join(format!("{}.qcow2", n.name));
            artifacts::overlay(
                p.base_disk.as_ref().expect("ext3 has a base disk"),
                &overlay,
            )?;
            spec.disks.push(Disk {
                path: overlay,
                format: DiskFormat::Qcow2,
                shared: false,
                readonly: false,
            });
            args.push("root=LABEL=labroot".into());
            args.push("rootfstype=ext3".into());
        }
    }
    match opts.scenario {
        Scenario::IpStatic => args.push(format!(
            "ip={}:::255.255.255.0:{}:eth0:none",
            topology::static_ip(n),
            n.name
        )),
        Scenario::Dhcp => args.push("ip=dhcp".into()),
        _ => {}
    }
    if opts.initrd.is_some() {
        // A foreign image (dracut, say) has no cluster description: give it the node and a
        // static address in the kernel's ip= syntax, on a predictable interface name.
        spec.memory_mb = 1024;
        args.push(format!("srbuild.node={}", n.name));
        args.push("net.ifnames=0".into());
        args.push(format!("ip={}:::255.255.255.0:{}:eth0:none", n.ip, n.name));
        args.push("rd.neednet=1".into());
    }
    args.extend(opts.append.iter().cloned());
    spec.append = args.join(" ");
    Ok(spec)
}

/// The VM of the NFS server.
pub fn server_spec(p: &Prepared, opts: &LabOptions) -> Option<VmSpec> {
    let s = p.server.as_ref()?;
    let mut spec = VmSpec::new(
        &s.name,
        &p.kernel,
        p.server_initrd.as_ref()?,
        &opts.dir.join(&s.name),
    );
    spec.memory_mb = 512;
    spec.nics.push(Nic { mac: s.mac.clone() });
    spec.disks.push(Disk {
        path: p.server_disk.clone()?,
        format: DiskFormat::Raw,
        shared: false,
        readonly: false,
    });
    spec.append = "console=ttyS0 rd.shell=0 panic=-1 srbuild.export=/srv/root srbuild.data=LABEL=labroot srbuild.nfsgrace=10".into();
    if opts.scenario == Scenario::Dhcp {
        spec.append.push_str(" srbuild.dhcp=1");
    }
    Some(spec)
}

/// One client being followed.
struct Follow {
    node: LabNode,
    vm: Vm,
    watch: ConsoleWatcher,
    started: Instant,
    verdict: Option<(bool, String)>,
    took: Duration,
}

/// The outcome of `lab test`.
#[derive(Debug)]
pub struct Outcome {
    pub results: Vec<NodeResult>,
    pub junit: PathBuf,
    pub timeline: PathBuf,
    pub wall: Duration,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.results.iter().all(|r| r.passed)
    }
}

fn judge(ev: &ConsoleEvent, expect_fail: Option<&str>) -> Option<(bool, String)> {
    match (ev, expect_fail) {
        (ConsoleEvent::Pass, None) => Some((true, "LAB-PASS".into())),
        (ConsoleEvent::Pass, Some(st)) => Some((
            false,
            format!("reached LAB-PASS, expected FAILED stage={st}"),
        )),
        (ConsoleEvent::Failed { stage, why }, Some(st)) if stage == st => {
            Some((true, format!("FAILED stage={stage} as expected: {why}")))
        }
        (ConsoleEvent::Failed { stage, why }, _) => {
            Some((false, format!("FAILED stage={stage}: {why}")))
        }
        (ConsoleEvent::Fail(why), _) => Some((false, format!("LAB-FAIL {why}"))),
        (ConsoleEvent::Panic(why), _) => Some((false, format!("kernel panic: {why}"))),
        _ => None,
    }
}

/// Boots, checks and tears down. Returns the outcome (also when nodes failed).
pub fn test(opts: &LabOptions) -> Result<Outcome> {
    let _guard = crate::cleanup::Guard::new()?;
    let start = Instant::now();
    let p = prepare(opts)?;
    let hub = control::Net::start(opts)?;
    let boot_start = Instant::now();
    let expect_fail = opts.scenario.expected_failure();

    let server_spec = server_spec(&p, opts);
    let mut server: Option<(Vm, ConsoleWatcher)> = None;
    let start_server = |server: &mut Option<(Vm, ConsoleWatcher)>| -> Result<()> {
        if let Some(spec) = &server_spec {
            let mut spec = spec.clone();
            spec.detached = opts.detached;
            let vm = Vm::start(&spec, p.accel, Some(hub.dir()))?;
            println!(
                "lab: started server ({}) log {}",
                p.server.as_ref().map(|s| s.ip.as_str()).unwrap_or(""),
                vm.log_path().display()
            );
            *server = Some((vm, ConsoleWatcher::new(&spec.log_path())));
        }
        Ok(())
    };
    let server_delay = if opts.scenario == Scenario::LateServer {
        Duration::from_secs(20)
    } else {
        Duration::ZERO
    };
    if server_delay.is_zero() {
        start_server(&mut server)?;
    }
    let mut follows = Vec::new();
    for n in &p.clients {
        let mut spec = client_spec(&p, opts, n)?;
        spec.detached = opts.detached;
        let vm = Vm::start(&spec, p.accel, Some(hub.dir()))?;
        println!(
            "lab: started {} ({}) log {}",
            n.name,
            n.ip,
            vm.log_path().display()
        );
        follows.push(Follow {
            node: n.clone(),
            watch: ConsoleWatcher::new(&spec.log_path()),
            vm,
            started: Instant::now(),
            verdict: None,
            took: Duration::ZERO,
        });
    }
    let limit = scaled(Duration::from_secs(240)) + server_delay;
    while follows.iter().any(|f| f.verdict.is_none()) {
        if server.is_none() && server_spec.is_some() && boot_start.elapsed() >= server_delay {
            println!(
                "lab: starting the server {} s after the clients",
                server_delay.as_secs()
            );
            start_server(&mut server)?;
        }
        if let Some((vm, watch)) = server.as_mut() {
            for line in watch.poll_lines()? {
                match crate::console::parse_line(&line) {
                    Some(ConsoleEvent::Failed { stage, why }) => {
                        return Err(LabError::Setup(format!(
                            "the NFS server failed at stage {stage}: {why} (log {})",
                            vm.log_path().display()
                        )))
                    }
                    _ if line.contains("LAB-SERVER-READY") => {
                        println!(
                            "[{:6.1}s] server: ready",
                            boot_start.elapsed().as_secs_f64()
                        )
                    }
                    _ => {}
                }
            }
        }
        for f in follows.iter_mut().filter(|f| f.verdict.is_none()) {
            for line in f.watch.poll_lines()? {
                let Some(ev) = crate::console::parse_line(&line) else {
                    continue;
                };
                if let ConsoleEvent::Stage { name, t } = &ev {
                    println!(
                        "[{:6.1}s] {}: stage={name} (guest t={t:.2})",
                        boot_start.elapsed().as_secs_f64(),
                        f.node.name
                    );
                }
                if let Some(mut v) = judge(&ev, expect_fail) {
                    if let (true, Some(want)) = (v.0, opts.scenario.expected_line(&f.node)) {
                        let log = std::fs::read_to_string(f.vm.log_path()).unwrap_or_default();
                        if !log.contains(&want) {
                            v = (
                                false,
                                format!("{} but the console never said '{want}'", v.1),
                            );
                        }
                    }
                    println!(
                        "[{:6.1}s] {}: {}",
                        boot_start.elapsed().as_secs_f64(),
                        f.node.name,
                        v.1
                    );
                    f.took = f.started.elapsed();
                    f.verdict = Some(v);
                    break;
                }
            }
            if f.verdict.is_none() {
                if let Ok(Some(st)) = f.vm.try_wait() {
                    // Final output may hold the verdict (a FAILED line right before reboot).
                    let mut v = None;
                    for line in f.watch.poll_lines()? {
                        if let Some(ev) = crate::console::parse_line(&line) {
                            v = v.or_else(|| judge(&ev, expect_fail));
                        }
                    }
                    f.took = f.started.elapsed();
                    f.verdict = Some(v.unwrap_or((
                        false,
                        format!(
                            "QEMU exited ({st}) before a verdict; last line: {}",
                            f.watch.last_line()
                        ),
                    )));
                } else if f.started.elapsed() > limit {
                    f.took = f.started.elapsed();
                    f.verdict = Some((
                        false,
                        format!(
                            "no verdict within {} s; last line: {}",
                            limit.as_secs(),
                            f.watch.last_line()
                        ),
                    ));
                }
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let results: Vec<NodeResult> = follows
        .iter_mut()
        .map(|f| {
            let (passed, message) = f.verdict.clone().unwrap_or((false, "no verdict".into()));
            let message = if passed {
                message
            } else {
                format!("{message} (log {})", f.vm.log_path().display())
            };
            NodeResult {
                name: f.node.name.clone(),
                passed,
                message,
                log: f.vm.log_path(),
                duration: f.took,
                stages: f.watch.stages(),
                kernel_init: f.watch.kernel_init(),
            }
        })
        .collect();
    if opts.detached {
        let mut state = control::State::default();
        if let (Some((vm, _)), Some(s)) = (server, p.server.as_ref()) {
            state
                .nodes
                .push((s.name.clone(), s.ip.clone(), vm.log_path()));
            vm.detach();
        }
        for f in follows {
            state
                .nodes
                .push((f.node.name.clone(), f.node.ip.clone(), f.vm.log_path()));
            f.vm.detach();
        }
        state.save(&opts.dir)?;
        hub.detach();
    } else {
        for mut f in follows {
            let _ = f.vm.kill();
        }
        if let Some((mut vm, _)) = server {
            let _ = vm.kill();
        }
        drop(hub);
    }
    let junit = opts
        .junit
        .clone()
        .unwrap_or_else(|| opts.dir.join("junit.xml"));
    let suite = format!("srbuild-lab-{}-{:?}", opts.profile, opts.scenario).to_lowercase();
    report::write_junit(&junit, &suite, &results)?;
    let timeline = opts.dir.join("timeline.svg");
    report::write_timeline_svg(&timeline, &results)?;
    Ok(Outcome {
        results,
        junit,
        timeline,
        wall: start.elapsed(),
    })
}

/// The summary table printed after a run.
pub fn summary(o: &Outcome) -> String {
    let mut s = String::from("node      result  /init    switch   wall     message\n");
    for r in &o.results {
        let switch = r
            .stages
            .iter()
            .find(|(n, _)| n == "switch")
            .map(|(_, t)| *t);
        let f = |v: Option<f64>| {
            v.map(|t| format!("{t:6.2}s"))
                .unwrap_or_else(|| "     -".into())
        };
        s.push_str(&format!(
            "{:<9} {:<7} {:<8} {:<8} {:<8} {}\n",
            r.name,
            if r.passed { "PASS" } else { "FAIL" },
            f(r.kernel_init),
            f(switch),
            format!("{:.1}s", r.duration.as_secs_f64()),
            r.message
        ));
    }
    s.push_str(&format!(
        "lab: {} of {} nodes passed in {:.1} s; junit {}, timeline {}\n",
        o.results.iter().filter(|r| r.passed).count(),
        o.results.len(),
        o.wall.as_secs_f64(),
        o.junit.display(),
        o.timeline.display()
    ));
    s
}

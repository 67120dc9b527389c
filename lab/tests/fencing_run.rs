//! A fencing run's BMCs without a guest: the gfs2 node-dies plan, its credentials and
//! password files as `materialize` writes them, then `fencing::start` on a real hub. Each
//! member's QEMU command line is wired to a live `ipmi_sim`, the password file the cluster
//! description names logs in to that BMC (`ipmitool -I lanplus -C 3`), the gateway answers
//! ARP for every BMC address, and dropping the run's BMCs leaves no `ipmi_sim` behind.

use std::net::Ipv4Addr;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use srbuild_lab::bmc::{self, gateway::MAC, ipmitool};
use srbuild_lab::run::{fencing, kinds, plan, scenarios::Scenario, LabOptions};
use srbuild_lab::timeout::scaled;
use srbuild_lab::{hub, qemu, Accel};

type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

fn options(dir: PathBuf) -> LabOptions {
    LabOptions {
        root: Some("gfs2".into()),
        profile: None,
        nodes: 3,
        slots: None,
        dir,
        initrd: None,
        junit: None,
        scenario: Scenario::NodeDies,
        kind_opts: Vec::new(),
        kver: None,
        sysroot: srbuild_lab::run::sysroots::Sysroot::Host,
        distro: None,
        append: Vec::new(),
        detached: false,
        rootfs: srbuild_lab::run::rootfs::RootFs::Busybox,
        server_first: false,
        together: false,
        bzimage: false,
    }
}

fn arp_request(ip: Ipv4Addr) -> Vec<u8> {
    let me = [0x52, 0x54, 0x00, 0x77, 0x00, 0x11];
    let mut f = vec![0xff; 6];
    f.extend(me);
    f.extend([0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    f.extend(me);
    f.extend([10, 77, 0, 11]);
    f.extend([0; 6]);
    f.extend(ip.octets());
    f
}

fn answered(sock: &UnixDatagram, ip: Ipv4Addr, limit: Duration) -> bool {
    let start = Instant::now();
    let mut buf = [0u8; 2048];
    let _ = sock.set_read_timeout(Some(Duration::from_millis(100)));
    while start.elapsed() < limit {
        if let Ok(n) = sock.recv(&mut buf) {
            let f = &buf[..n];
            if n >= 42 && f[21] == 2 && f[28..32] == ip.octets() && f[22..28] == MAC {
                return true;
            }
        }
    }
    false
}

#[test]
fn a_fencing_run_wires_every_member_to_a_live_bmc_and_leaves_none_behind() -> TestResult {
    if let Err(e) = bmc::require_tools(&["ipmi_sim", "ipmitool"]) {
        panic!("{e}");
    }
    let tmp = tempfile::Builder::new().prefix("srbuild-fence").tempdir()?;
    let kind = kinds::by_name("gfs2")?;
    let mut p = plan::plan(&options(tmp.path().join("run")), kind)?;
    assert_eq!(p.bmcs.len(), 3);
    std::fs::create_dir_all(&p.work)?;
    let creds = fencing::credentials(&p.bmcs)?;
    let fences = fencing::write_password_files(&p.bmcs, &creds)?;
    assert!(fences["node3"].contains("address = \"10.77.0.203\""));
    let net = tmp.path().join("net");
    std::fs::create_dir_all(&net)?;
    let _hub = hub::spawn_thread(&net)?;

    let run = fencing::start(&p.bmcs, &creds, &net)?.ok_or("no BMCs started")?;
    p.wire_bmcs(&run.wiring);
    let pids: Vec<i32> = run.sims.iter().map(|s| s.pid()).collect();
    let limit = scaled(Duration::from_secs(20));
    for (b, sim) in p.bmcs.iter().zip(&run.sims) {
        let node = p
            .phases
            .iter()
            .flat_map(|ph| &ph.nodes)
            .find(|n| n.node.name == b.node)
            .ok_or("member not in the plan")?;
        let vm = node
            .spec
            .bmc
            .ok_or("the member's QEMU is not wired to a BMC")?;
        assert_eq!(vm, sim.config().vm);
        let args = qemu::args(&node.spec, Accel::Tcg, Some(&net))?;
        let chardev = format!(
            "socket,id=bmc0,host=127.0.0.1,port={},reconnect=1",
            vm.port()
        );
        assert!(args.contains(&chardev), "{args:?}");
        // The file the description names logs in to this very BMC.
        let on = ipmitool::power_is_on(
            sim.config().lan,
            &creds[&b.node].user,
            &b.password_file,
            limit,
        )?;
        assert!(!on, "no QEMU runs: {}'s chassis must read off", b.node);
        let log = std::fs::read_to_string(b.gateway_log())?;
        assert!(
            log.contains(&format!("BMC of {} at {}:623", b.node, b.address)),
            "{log}"
        );
    }
    // The seed and the server have no BMC.
    assert!(p
        .phases
        .iter()
        .flat_map(|ph| &ph.nodes)
        .filter(|n| n.node.role.is_some())
        .all(|n| n.spec.bmc.is_none()));

    let node = UnixDatagram::bind(hub::node_socket(&net, "node1", 0))?;
    for b in &p.bmcs {
        node.send_to(&arp_request(b.address), hub::hub_socket(&net))?;
        assert!(
            answered(&node, b.address, scaled(Duration::from_secs(3))),
            "{}",
            b.address
        );
    }
    run.gateway.set_down("node3", true)?;
    node.send_to(&arp_request(p.bmcs[2].address), hub::hub_socket(&net))?;
    assert!(!answered(
        &node,
        p.bmcs[2].address,
        Duration::from_millis(1500)
    ));

    drop(run);
    for pid in pids {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "ipmi_sim {pid} outlived the run"
        );
    }
    assert!(!hub::node_socket(&net, "bmc-gateway", 0).exists());
    Ok(())
}

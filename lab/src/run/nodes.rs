//! What each node of a plan is told and must show: the clients' and service roles' kernel
//! command lines (the kind's root arguments, the scenario's arguments, a foreign image's
//! network setup), what a client's console must show ([`Expect`]), and the agent's checks.
//! Pure functions of the kind, the scenario and the node.

use crate::run::kinds::{Check, KindOpts, Role, RootArgs, RootKind};
use crate::run::scenarios::{self, Address, RootMode, Scenario, VerdictSpec};
use crate::run::topology::{self, LabNode, CLUSTER};
use crate::run::LabOptions;

/// What a node's console must show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// A service role: the `marker` line. A role that is `stopped` (the seed) is stopped
    /// once it printed it.
    Ready { marker: &'static str, stopped: bool },
    /// A client: `LAB-PASS`, or `FAILED stage=<fail_stage>` whose reason has every one of
    /// `why_has`; each of `lines` must also be on the console.
    Verdict {
        fail_stage: Option<&'static str>,
        why_has: Vec<String>,
        lines: Vec<String>,
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
        networks: spec.networks.max(kind.networks),
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
    // A hybrid root whose paths are not on the kind's own root: where they are.
    if let (Some(h), Some(_)) = (kind.hybrid_from, spec.hybrid_paths()) {
        args.extend(
            h.client_args
                .iter()
                .map(|a| a.replace("{server_ip}", server_ip)),
        );
    }
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

/// A service role's kernel command line; `slots` fills `{slots}` (the shared disk's
/// journals or node slots).
pub fn role_append(kind: &RootKind, role: &Role, scenario: Scenario, slots: usize) -> String {
    let mut args: Vec<String> = BASE_ARGS.iter().map(|s| s.to_string()).collect();
    args.extend(role.append.iter().map(|s| {
        s.replace("{fstype}", kind.fstype)
            .replace("{cluster}", CLUSTER)
            .replace("{slots}", &slots.to_string())
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
        VerdictSpec::Pass { lines } => Expect::Verdict {
            fail_stage: None,
            why_has: vec![],
            lines: lines.iter().map(|l| fill(l)).collect(),
        },
        VerdictSpec::Fail { stage, why_has } => Expect::Verdict {
            fail_stage: Some(stage),
            why_has: why_has.iter().map(|w| fill(w)).collect(),
            lines: vec![],
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
        let fstype = kind.hybrid_from.map_or(kind.fstype, |h| h.fstype);
        checks.push(Check::MountRo("/usr", fstype));
    }
    // In full RAM mode a daemon that served the network root must be gone.
    checks.extend(kind.checks.iter().map(|c| match c {
        Check::Daemon(d) if spec.root_mode == RootMode::Ram => Check::Absent(d),
        c => *c,
    }));
    // (once: a kind whose root is always in RAM lists it already)
    if spec.in_ram() && !checks.contains(&Check::Ram) {
        checks.push(Check::Ram);
    }
    // Every lab machine has virtio NICs and disks only: coldplug must leave the image's
    // e1000 drivers unloaded.
    checks.push(Check::AbsentModules(&["e1000", "e1000e"]));
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::kinds;
    use std::path::PathBuf;

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
            sysroot: crate::run::sysroots::Sysroot::Host,
            distro: None,
            append: vec!["quiet".into()],
            detached: false,
            rootfs: crate::run::rootfs::RootFs::Busybox,
            server_first: false,
            together: false,
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
        // The gfs2 kinds fence through the lab's BMCs: fencing stays on.
        assert!(a.contains("root=/dev/vda rootfstype=gfs2"), "{a}");
        assert!(!a.contains("srbuild.fencing"), "{a}");
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
        let a = role_append(nfs, &server, Scenario::Pxe, 3);
        assert!(a.ends_with(" srbuild.netboot=/srv/netboot"), "{a}");
        assert!(!role_append(nfs, &server, Scenario::Normal, 3).contains("netboot"));
        let n = topology::client(1);
        let Expect::Verdict { lines, .. } = client_expect(Scenario::Pxe, &n, "10.77.0.1") else {
            panic!("a pxe client must reach a verdict");
        };
        assert_eq!(lines, ["tftp://10.77.0.1/boot.ipxe... ok"]);
        let gfs2 = kinds::by_name("gfs2").unwrap();
        assert!(
            gfs2.check(Scenario::Pxe, 2, 2).is_err(),
            "pxe needs a boot server"
        );
    }

    #[test]
    fn pxe_http_serves_the_http_tree_with_nginx_and_clients_must_show_each_fetch() {
        let nfs = kinds::by_name("nfs").unwrap();
        let server = nfs.server.unwrap();
        let a = role_append(nfs, &server, Scenario::PxeHttp, 3);
        let want = format!(
            " srbuild.netboot={} srbuild.http.dir={}",
            scenarios::NETBOOT_DIR,
            scenarios::NETBOOT_HTTP_DIR
        );
        assert!(a.ends_with(&want), "{a}");
        // The HTTP tree is the netboot output's http/ on the same disk.
        assert_eq!(
            format!("/srv{}", scenarios::NETBOOT_HTTP_DIR),
            format!(
                "{}/{}",
                scenarios::NETBOOT_DIR,
                srbuild_cluster::netboot::HTTP_DIR
            )
        );
        assert_eq!(
            scenarios::NETBOOT_TFTP_DIR,
            format!(
                "{}/{}",
                scenarios::NETBOOT_DIR,
                srbuild_cluster::netboot::TFTP_DIR
            )
        );
        let n = topology::client(1);
        let Expect::Verdict { lines, .. } = client_expect(Scenario::PxeHttp, &n, "10.77.0.1")
        else {
            panic!("a pxe-http client must reach a verdict");
        };
        assert_eq!(
            lines,
            [
                "tftp://10.77.0.1/boot.ipxe... ok",
                "http://10.77.0.1/vmlinuz... ok",
                "http://10.77.0.1/initrd.img... ok"
            ]
        );
        assert!(kinds::by_name("http")
            .unwrap()
            .check(Scenario::PxeHttp, 2, 2)
            .is_err());
    }

    #[test]
    fn role_command_lines() {
        let nfs = kinds::by_name("nfs").unwrap();
        let server = nfs.server.unwrap();
        let a = role_append(nfs, &server, Scenario::Dhcp, 3);
        assert!(
            a.contains("srbuild.export=/srv/root") && a.ends_with("srbuild.dhcp=1"),
            "{a}"
        );
        assert!(!role_append(nfs, &server, Scenario::Normal, 3).contains("dhcp"));
        let gfs2 = kinds::by_name("gfs2").unwrap();
        let a = role_append(gfs2, &gfs2.seed.unwrap(), Scenario::Normal, 3);
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
        assert!(!a.contains("srbuild.hybrid_from="), "{a}");
        // A root image in RAM keeps its hybrid paths on NFS, named after the scenario's
        // arguments; the agent finds /usr on NFS, not on the image's tmpfs.
        let http = kinds::by_name("http").unwrap();
        let a = client_append(
            http,
            &opts(Scenario::HybridRoot),
            &kopts(http),
            &n,
            "10.77.0.1",
        );
        assert!(
            a.contains(
                "root=http://10.77.0.1/root.img srbuild.root_sha256={root_sha256} \
                 srbuild.mount_timeout=150 srbuild.rootmode=hybrid srbuild.hybrid=/usr \
                 srbuild.ramsize=160M \
                 srbuild.hybrid_from=nfs:10.77.0.1:/:vers=4.2,lookupcache=positive quiet"
            ),
            "{a}"
        );
        let a = client_append(http, &opts(Scenario::Normal), &kopts(http), &n, "10.77.0.1");
        assert!(!a.contains("hybrid"), "{a}");
        assert_eq!(
            checks(http, Scenario::HybridRoot),
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
                lines: vec![]
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
                lines: vec![]
            }
        );
        assert_eq!(
            client_expect(Scenario::LoneNode, &n, ""),
            Expect::Verdict {
                fail_stage: Some("cluster"),
                why_has: vec!["no quorum".into()],
                lines: vec![]
            }
        );
        assert_eq!(
            client_expect(Scenario::Dhcp, &n, ""),
            Expect::Verdict {
                fail_stage: None,
                why_has: vec![],
                lines: vec!["srbuild: dhcp on eth0: 10.77.0.11/24".into()]
            }
        );
    }
}

//! The boot contract, both ends: each file of `etc/srbuild` is written by its writer in
//! `srbuild_builder::contract` and read back by its real reader. Shell readers are taken
//! by function name from wherever they live under `builder/templates` or `modules` (so the
//! test follows a function that moves) and run under `busybox sh`, as in the image.

use srbuild_builder::contract::{self, LoadLine};
use srbuild_builder::plan::{Plan, Source};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const BUSYBOX: &str = "/bin/busybox";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Every shell source of the image: `builder/templates/*` and the modules' hook templates.
fn shell_sources() -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "sh" || x == "hbs") {
                out.push((p.clone(), std::fs::read_to_string(&p).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(&root().join("builder/templates"), &mut out);
    walk(&root().join("modules"), &mut out);
    assert!(
        out.len() > 5,
        "no shell sources found under {}",
        root().display()
    );
    out
}

/// The definition of shell function `name`, from whichever source defines it: from its
/// `name() {` line to the first line `}` after which the text parses as shell (an awk
/// program inside the function has `}` lines too), or a one-line `name() { …; }`.
fn shell_function(name: &str) -> String {
    let head = format!("{name}() {{");
    for (path, text) in shell_sources() {
        let Some(start) = text.lines().position(|l| l.starts_with(&head)) else {
            continue;
        };
        let lines: Vec<&str> = text.lines().skip(start).collect();
        if lines[0].trim_end().ends_with('}') && lines[0].len() > head.len() {
            return format!("{}\n", lines[0]);
        }
        for (i, l) in lines.iter().enumerate() {
            if *l != "}" {
                continue;
            }
            let body = format!("{}\n", lines[..=i].join("\n"));
            let ok = Command::new(BUSYBOX)
                .args(["sh", "-nc", &body])
                .output()
                .is_ok_and(|o| o.status.success());
            if ok {
                return body;
            }
        }
        panic!("{}: {name} has no closing brace", path.display());
    }
    panic!("no shell source defines {name}()");
}

/// Runs `script` after the definitions of `functions` under busybox sh; returns stdout.
fn run_sh(functions: &[&str], script: &str, env: &[(&str, &Path)]) -> String {
    let defs: String = functions.iter().map(|f| shell_function(f)).collect();
    let mut c = Command::new(BUSYBOX);
    c.args(["sh", "-euc", &format!("{defs}\n{script}")]);
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().expect("busybox (apt-get install busybox)");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && err.is_empty(), "{script}: {err}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The bytes a writer put at `path`, and the mode.
fn written(plan: &Plan, path: &str) -> (Vec<u8>, u32) {
    let e = plan
        .get(path)
        .unwrap_or_else(|| panic!("{path} not written"));
    match &e.source {
        Source::Bytes(b) => (b.clone(), e.mode),
        other => panic!("{path}: {other:?}"),
    }
}

/// `path`'s bytes written into `dir`, for a shell to read.
fn to_file(plan: &Plan, path: &str, dir: &Path) -> PathBuf {
    let f = dir.join(path.rsplit('/').next().unwrap());
    std::fs::write(&f, written(plan, path).0).unwrap();
    f
}

const CLUSTER: &str = r#"
[cluster]
name = "t"
[[network]]
name = "n"
cidr = "10.9.0.0/24"
gateway = "10.9.0.254"
[[node]]
name = "srv"
id = 100
macs = ["52:54:00:09:00:64"]
addresses = ["10.9.0.100/24"]
roles = ["nfs-server"]
[[node]]
name = "seed"
id = 101
macs = ["52:54:00:09:00:65"]
roles = ["seed"]
[[node]]
name = "n1"
id = 1
macs = ["52:54:00:09:00:01", "52:54:00:09:01:01"]
addresses = ["10.9.0.1/24"]
"#;

#[test]
fn nodes_are_found_by_name_and_by_mac_and_split_into_their_fields() {
    let c = srbuild_cluster::Cluster::parse(CLUSTER, Path::new("c.toml")).unwrap();
    let mut plan = Plan::default();
    contract::write_nodes(&mut plan, &c).unwrap();
    let d = tempfile::tempdir().unwrap();
    let nodes = to_file(&plan, contract::NODES, d.path());
    // A machine with an unknown NIC and n1's second MAC.
    let net = d.path().join("net");
    for (nic, mac) in [("eth0", "52:54:00:99:99:99"), ("eth1", "52:54:00:09:01:01")] {
        std::fs::create_dir_all(net.join(nic)).unwrap();
        std::fs::write(net.join(nic).join("address"), format!("{mac}\n")).unwrap();
    }
    let lookup = |name: &str| {
        run_sh(
            &["sr_node_line", "sr_node_fields"],
            &format!(
                "SR_NODE_IF=\nsr_node_line \"$NODES\" '{name}' \"$NET\"\n\
                 sr_node_fields \"$sr_line\"\n\
                 echo \"$SR_NODE_NAME|$SR_NODE_ID|$SR_NODE_MACS|$SR_NODE_ADDR|$SR_NODE_GW|$SR_NODE_IF\""
            ),
            &[("NODES", &nodes), ("NET", &net)],
        )
    };
    assert_eq!(
        lookup(""),
        "n1|1|52:54:00:09:00:01,52:54:00:09:01:01|10.9.0.1/24|10.9.0.254|eth1\n"
    );
    assert_eq!(
        lookup("srv"),
        "srv|100|52:54:00:09:00:64|10.9.0.100/24|10.9.0.254|\n"
    );
    // No address: the writer's "-" reads as none.
    assert_eq!(lookup("seed"), "seed|101|52:54:00:09:00:65|||\n");
    // A name that is only a prefix of another's is no match.
    let none = run_sh(
        &["sr_node_line"],
        "sr_node_line \"$NODES\" 'n' \"$NET\"\necho \"[$sr_line]\"",
        &[("NODES", &nodes), ("NET", &net)],
    );
    assert_eq!(none, "[]\n");
}

#[test]
fn links_up_and_configured_interfaces_are_read_without_a_process() {
    let d = tempfile::tempdir().unwrap();
    let net = d.path().join("net");
    // eth0 up (IFF_UP with IFF_MULTICAST), eth1 down, eth2 with garbage, eth3 empty.
    for (nic, flags) in [
        ("eth0", "0x1003"),
        ("eth1", "0x1002"),
        ("eth2", "0x1z03"),
        ("eth3", ""),
    ] {
        std::fs::create_dir_all(net.join(nic)).unwrap();
        std::fs::write(net.join(nic).join("flags"), format!("{flags}\n")).unwrap();
    }
    let routes = d.path().join("route");
    std::fs::write(
        &routes,
        "Iface\tDestination\tGateway\tFlags\nbr0\t000200C0\t00000000\t0001\n",
    )
    .unwrap();
    let out = run_sh(
        &["sr_if_up", "sr_if_configured"],
        "for i in eth0 eth1 eth2 eth3 eth9; do\n\
         \tif sr_if_up $i \"$NET\"; then echo \"$i up\"; else echo \"$i down\"; fi\n\
         done\n\
         SR_NET_IFS=' eth1 '\n\
         for i in eth0 eth1 br0; do\n\
         \tif sr_if_configured $i \"$ROUTES\"; then echo \"$i configured\"; else echo \"$i bare\"; fi\n\
         done\n\
         sr_if_configured br0 \"$NET/none\" || echo 'no route table: bare'",
        &[("NET", &net), ("ROUTES", &routes)],
    );
    assert_eq!(
        out,
        "eth0 up\neth1 down\neth2 down\neth3 down\neth9 down\n\
         eth0 bare\neth1 configured\nbr0 configured\nno route table: bare\n"
    );
}

#[test]
fn default_kernel_arguments_come_back_as_the_same_words() {
    let args: Vec<String> = [
        "root=nfs:10.9.0.1:/srv/root:vers=4.2",
        "rd.shell=0",
        "quiet",
    ]
    .map(String::from)
    .to_vec();
    let mut plan = Plan::default();
    contract::write_cmdline_default(&mut plan, &args, "t").unwrap();
    let d = tempfile::tempdir().unwrap();
    let f = to_file(&plan, contract::CMDLINE_DEFAULT, d.path());
    let words = |f: &Path| {
        run_sh(
            &["sr_each_arg"],
            "sr_p() { echo \"[$1]\"; }\nsr_each_arg sr_p \"$F\"",
            &[("F", f)],
        )
    };
    let want: String = args.iter().map(|a| format!("[{a}]\n")).collect();
    assert_eq!(words(&f), want);
    // An image without the file has no defaults, and /init goes on.
    assert_eq!(words(&d.path().join("missing")), "");
}

#[test]
fn the_load_list_and_the_buses_select_the_drivers_of_the_devices_present() {
    let line = |name: &str, class: &'static str, needs: &[&str]| LoadLine {
        name: name.into(),
        class,
        path: format!("kernel/{name}.ko"),
        needs: needs.iter().map(|s| s.to_string()).collect(),
    };
    let lines = [
        line("virtio", "dep", &[]),
        line("virtio_net", "driver", &["virtio"]),
        line("e1000", "driver", &[]),
        line("sunrpc", "dep", &[]),
        line("nfs", "always", &["sunrpc"]),
    ];
    let buses: BTreeSet<String> = ["pci", "virtio"].map(String::from).into();
    let aliases = [
        ("virtio_net", "virtio:d00000001v*"),
        ("e1000", "pci:v00008086d0000100Esv*sd*bc*sc*i*"),
    ]
    .map(|(m, p)| (m.to_string(), p.to_string()));
    let mut plan = Plan::default();
    contract::write_modules_load(&mut plan, &lines).unwrap();
    let table = srbuild_builder::resolve::modmatch::table_text(&lines, &aliases).unwrap();
    contract::write_modules_match(&mut plan, table).unwrap();
    contract::write_modules_buses(&mut plan, &buses).unwrap();
    let d = tempfile::tempdir().unwrap();
    let table = to_file(&plan, contract::MODULES_MATCH, d.path());
    let bus_list = to_file(&plan, contract::MODULES_BUSES, d.path());
    // The load list says the same as the table.
    let load = String::from_utf8(written(&plan, contract::MODULES_LOAD).0).unwrap();
    assert!(
        load.contains("virtio_net driver kernel/virtio_net.ko virtio\n"),
        "{load}"
    );
    // A virtio NIC only.
    let dev = d.path().join("sys/devices/virtio0");
    std::fs::create_dir_all(&dev).unwrap();
    std::fs::write(dev.join("modalias"), "virtio:d00000001v00001AF4\n").unwrap();
    let bus = d.path().join("sys/bus/virtio/devices");
    std::fs::create_dir_all(&bus).unwrap();
    std::os::unix::fs::symlink(&dev, bus.join("virtio0")).unwrap();
    let sys = d.path().join("sys");
    let out = run_sh(
        &[
            "sr_modules_devices",
            "sr_modules_names",
            "sr_modules_want",
            "sr_modules_line",
            "sr_modules_emit",
            "sr_modules_emit_selected",
            "sr_modules_select",
        ],
        ". \"$TABLE\"\nsr_modules_devices \"$SYS\" \"$BUSES\"\nsr_modules_select\nprintf '%s' \"$SR_MODULES_PLAN\"",
        &[("SYS", &sys), ("BUSES", &bus_list), ("TABLE", &table)],
    );
    let picked: Vec<String> = out
        .lines()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        picked,
        [
            "load virtio kernel/virtio.ko",
            "load virtio_net kernel/virtio_net.ko",
            "rest",
            "load sunrpc kernel/sunrpc.ko",
            "load nfs kernel/nfs.ko",
        ]
    );
}

#[test]
fn the_authkey_is_copied_as_is_and_only_from_a_private_file() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let key = d.path().join("authkey");
    std::fs::write(&key, [7u8; 128]).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o400)).unwrap();
    let mut plan = Plan::default();
    contract::write_authkey(&mut plan, &key).unwrap();
    assert_eq!(written(&plan, contract::AUTHKEY), (vec![7u8; 128], 0o400));
    // Its reader is the cluster stack's hook, which copies it where corosync looks.
    let hook = shell_sources()
        .into_iter()
        .find(|(_, t)| t.contains(&format!("cp /{} ", contract::AUTHKEY)));
    assert!(hook.is_some(), "no hook copies /{}", contract::AUTHKEY);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = contract::write_authkey(&mut Plan::default(), &key)
        .unwrap_err()
        .to_string();
    assert!(e.contains("authkey") && e.contains("chmod 0400"), "{e}");
}

#[test]
fn the_profile_record_and_the_cluster_description_read_back() {
    let mut plan = Plan::default();
    let modules = ["base", "nfs"].map(String::from);
    contract::write_profile(&mut plan, "nfs", "6.1.0-9-amd64", &modules).unwrap();
    let (text, _) = written(&plan, contract::PROFILE);
    let d = tempfile::tempdir().unwrap();
    let f = to_file(&plan, contract::PROFILE, d.path());
    // Read as a shell would read key=value lines.
    let out = run_sh(
        &[],
        "while IFS='=' read -r k v; do echo \"$k:$v\"; done <\"$F\"",
        &[("F", &f)],
    );
    assert_eq!(out, "profile:nfs\nkver:6.1.0-9-amd64\nmodules:base,nfs\n");
    assert!(text.ends_with(b"\n"));
    // The description is copied unchanged, so the cluster crate reads the same cluster.
    contract::write_cluster_toml(&mut plan, CLUSTER.as_bytes().to_vec()).unwrap();
    let (copy, mode) = written(&plan, contract::CLUSTER_TOML);
    assert_eq!(mode, 0o644);
    let a = srbuild_cluster::Cluster::parse(CLUSTER, Path::new("c.toml")).unwrap();
    let b =
        srbuild_cluster::Cluster::parse(std::str::from_utf8(&copy).unwrap(), Path::new("c.toml"))
            .unwrap();
    assert_eq!(a, b);
}

#[test]
fn a_fence_password_is_a_private_file_named_after_its_node() {
    let mut plan = Plan::default();
    contract::write_fence_password(&mut plan, "node2", b"Pa55word".to_vec()).unwrap();
    let at = contract::fence_password_path("node2");
    assert_eq!(at, format!("{}/node2.password", contract::FENCE_DIR));
    let (bytes, mode) = written(&plan, &at);
    assert_eq!((bytes.as_slice(), mode), (&b"Pa55word"[..], 0o400));
    assert!(
        srbuild_archive::secret::is_secret(&at),
        "{at} is not a secret"
    );
    // The hook copies the file as it is; ipmitool -f reads its first line.
    let d = tempfile::tempdir().unwrap();
    let f = to_file(&plan, &at, d.path());
    assert_eq!(run_sh(&[], "head -n 1 \"$F\"", &[("F", &f)]), "Pa55word");
}

#[test]
fn the_shell_spells_only_contract_paths_under_etc_srbuild() {
    let known = [
        contract::NODES,
        contract::CMDLINE_DEFAULT,
        contract::PROFILE,
        contract::MODULES_LOAD,
        contract::MODULES_MATCH,
        contract::MODULES_BUSES,
        contract::CLUSTER_TOML,
        contract::AUTHKEY,
        contract::FENCE_DIR,
        contract::CHAP_SECRET,
    ];
    let mut seen = BTreeSet::new();
    for (path, text) in shell_sources() {
        for (i, _) in text.match_indices("/etc/srbuild/") {
            let rest = &text[i + 1..];
            let p: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "/._-".contains(*c))
                .collect();
            let p = p.trim_end_matches('.');
            assert!(
                known.contains(&p),
                "{}: /{p} is not a boot contract path (builder/src/contract.rs)",
                path.display()
            );
            seen.insert(p.to_string());
        }
    }
    // The shell reads at least the nodes table, the defaults and the coldplug lists.
    for p in [
        contract::NODES,
        contract::CMDLINE_DEFAULT,
        contract::MODULES_MATCH,
        contract::MODULES_BUSES,
    ] {
        assert!(seen.contains(p), "no shell source reads /{p}");
    }
}

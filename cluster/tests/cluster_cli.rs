//! Tests of `srbuild cluster …`: query keys, list/show, addnode/removenode
//! edits and netboot output, through the clap structs and library calls.

mod common;

use common::{run, TestCli, Top};

use clap::Parser;
use srbuild_cluster::cli::run_cluster_to;
use srbuild_cluster::edit::{add_node_to_text, remove_node_from_text, IdChoice, NewNode};
use srbuild_cluster::query::{query, QueryValue, QUERY_KEYS};
use srbuild_cluster::Cluster;
use std::path::{Path, PathBuf};

const SAMPLE: &str = include_str!("common_sample.toml");

fn sample_file() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cluster.toml");
    std::fs::write(&p, SAMPLE).unwrap();
    (dir, p)
}

fn sample() -> Cluster {
    Cluster::parse(SAMPLE, Path::new("cluster.toml")).unwrap()
}

#[test]
fn every_query_key_plain_and_json() {
    let (_d, f) = sample_file();
    let cases: &[(&[&str], &str, &str)] = &[
        (&["name"], "lab\n", "\"lab\"\n"),
        (&["count"], "2\n", "2\n"),
        (&["nodes"], "node1\nnode2\n", "[\"node1\",\"node2\"]\n"),
        (&["ids"], "1\n2\n", "[1,2]\n"),
        (&["id", "--node", "node2"], "2\n", "2\n"),
        (&["id", "--mac", "52-54-00-77-01-12"], "2\n", "2\n"),
        (
            &["node", "--mac", "52:54:00:77:00:11"],
            "node1\n",
            "\"node1\"\n",
        ),
        (
            &["address", "--node", "node1"],
            "10.77.0.11\n",
            "\"10.77.0.11\"\n",
        ),
        (
            &["cidr", "--node", "node1"],
            "10.77.0.11/24\n",
            "\"10.77.0.11/24\"\n",
        ),
        (
            &["macs", "--node", "node2"],
            "52:54:00:77:00:12\n52:54:00:77:01:12\n",
            "[\"52:54:00:77:00:12\",\"52:54:00:77:01:12\"]\n",
        ),
        (
            &["kernel-args", "--node", "node1"],
            "console=ttyS0\n",
            "[\"console=ttyS0\"]\n",
        ),
        (&["kernel-args", "--node", "node2"], "", "[]\n"),
        (
            &["roles", "--node", "node1"],
            "nfs-server\n",
            "[\"nfs-server\"]\n",
        ),
    ];
    let mut covered = std::collections::BTreeSet::new();
    for (args, plain, json) in cases {
        covered.insert(args[0]);
        assert_eq!(
            run(&f, &[&["query"], *args].concat()).unwrap(),
            *plain,
            "{args:?}"
        );
        assert_eq!(
            run(&f, &[&["query"], *args, &["--json"]].concat()).unwrap(),
            *json,
            "{args:?} --json"
        );
    }
    for k in QUERY_KEYS {
        assert!(covered.contains(k), "query key {k} not tested");
    }
}

#[test]
fn query_errors() {
    let (_d, f) = sample_file();
    let e = run(&f, &["query", "colour"]).unwrap_err().to_string();
    assert!(
        e.contains("unknown query key 'colour'") && e.contains("kernel-args"),
        "{e}"
    );
    let e = run(&f, &["query", "id"]).unwrap_err().to_string();
    assert!(e.contains("needs --node NODE or --mac MAC"), "{e}");
    let e = run(&f, &["query", "id", "--node", "node7"])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("unknown node 'node7'; known nodes: node1, node2"),
        "{e}"
    );
    let e = run(&f, &["query", "node", "--mac", "52:54:00:00:00:99"])
        .unwrap_err()
        .to_string();
    assert!(e.contains("no node has MAC"), "{e}");
}

#[test]
fn query_library_values() {
    let c = sample();
    assert_eq!(
        query(&c, "count", None, None).unwrap(),
        QueryValue::Number(2)
    );
    assert_eq!(
        query(&c, "ids", None, None).unwrap().to_json(),
        serde_json::json!([1, 2])
    );
}

#[test]
fn list_and_show() {
    let (_d, f) = sample_file();
    let out = run(&f, &["list"]).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("ADDRESSES"),
        "{out}"
    );
    assert!(
        lines[1].starts_with("node1")
            && lines[1].contains("10.77.0.11/24")
            && lines[1].contains("nfs-server"),
        "{out}"
    );
    assert!(
        lines[2].contains("52:54:00:77:00:12,52:54:00:77:01:12"),
        "{out}"
    );
    let out = run(&f, &["show", "node1"]).unwrap();
    for want in [
        "name:        node1",
        "id:          1",
        "network:     lan 10.77.0.0/24",
        "gateway:     10.77.0.254",
        "failover:    web",
        "kernel_args: console=ttyS0",
    ] {
        assert!(out.contains(want), "missing {want} in\n{out}");
    }
    let e = run(&f, &["show", "nodeX"]).unwrap_err().to_string();
    assert!(e.contains("known nodes: node1, node2"), "{e}");
}

#[test]
fn missing_cluster_file_is_clear() {
    let e = run(Path::new("/nonexistent/cluster.toml"), &["list"])
        .unwrap_err()
        .to_string();
    assert!(e.contains("/nonexistent/cluster.toml"), "{e}");
}

#[test]
fn addnode_keeps_comments_and_appends() {
    let (_d, f) = sample_file();
    let out = run(
        &f,
        &[
            "addnode",
            "node3",
            "--mac",
            "52:54:00:77:00:13",
            "--ip",
            "10.77.0.13/24",
            "--kernel-arg",
            "quiet",
        ],
    )
    .unwrap();
    assert!(out.contains("added node node3 (id 3)"), "{out}");
    let text = std::fs::read_to_string(&f).unwrap();
    assert!(text.contains("# first node: NFS server"));
    let block = "\n[[node]]\nname = \"node3\"\nid = 3\nmacs = [\"52:54:00:77:00:13\"]\naddresses = [\"10.77.0.13/24\"]\nkernel_args = [\"quiet\"]\n";
    assert!(text.contains(block), "{text}");
    // Everything else is byte-identical; the new node follows the last node.
    assert_eq!(text.replacen(block, "", 1), SAMPLE);
    assert!(text.find("name = \"node3\"") < text.find("[[failover_domain]]"));
    let c = Cluster::load(&f).unwrap();
    let n = c.node("node3").unwrap();
    assert_eq!(n.addresses[0].to_string(), "10.77.0.13/24");
    assert_eq!(n.kernel_args, vec!["quiet"]);
    // no stray temp files
    let names: Vec<_> = std::fs::read_dir(f.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
}

#[test]
fn addnode_auto_id_fills_gap_and_fixed_id() {
    let text = SAMPLE.replace("id = 1\n", "id = 4\n");
    let new = NewNode {
        name: "n".into(),
        macs: vec!["AA-BB-CC-DD-EE-01".into()],
        ..NewNode::default()
    };
    let (out, node) = add_node_to_text(&text, Path::new("c.toml"), &new).unwrap();
    assert_eq!(node.id, 1);
    assert!(out.contains("macs = [\"aa:bb:cc:dd:ee:01\"]"), "{out}");
    let new = NewNode {
        id: IdChoice::Fixed(9),
        ..new
    };
    assert_eq!(
        add_node_to_text(&text, Path::new("c.toml"), &new)
            .unwrap()
            .1
            .id,
        9
    );
    assert_eq!("auto".parse::<IdChoice>().unwrap(), IdChoice::Auto);
    assert!("x".parse::<IdChoice>().is_err());
}

#[test]
fn addnode_refuses_duplicate_mac_file_unchanged() {
    let (_d, f) = sample_file();
    let before = std::fs::read(&f).unwrap();
    let e = run(&f, &["addnode", "node3", "--mac", "52:54:00:77:00:11"])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("duplicate MAC 52:54:00:77:00:11 (also on node1)"),
        "{e}"
    );
    assert!(e.contains("not changed"), "{e}");
    assert_eq!(std::fs::read(&f).unwrap(), before);
    let e = run(&f, &["addnode", "node1", "--mac", "52:54:00:77:00:99"])
        .unwrap_err()
        .to_string();
    assert!(e.contains("already exists"), "{e}");
    let e = run(
        &f,
        &[
            "addnode",
            "node4",
            "--mac",
            "52:54:00:77:00:99",
            "--ip",
            "10.1.1.1/24",
        ],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("outside every declared network"), "{e}");
    let e = run(
        &f,
        &[
            "addnode",
            "node4",
            "--mac",
            "52:54:00:77:00:99",
            "--id",
            "2",
        ],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("duplicate node id 2"), "{e}");
    assert_eq!(std::fs::read(&f).unwrap(), before);
}

#[test]
fn addnode_to_file_without_nodes() {
    let text = "# empty lab\n[cluster]\nname = \"x\"\n";
    let new = NewNode {
        name: "a".into(),
        macs: vec!["52:54:00:00:00:01".into()],
        ..NewNode::default()
    };
    let (out, _) = add_node_to_text(text, Path::new("c.toml"), &new).unwrap();
    assert!(out.starts_with(text), "{out}");
    assert_eq!(
        Cluster::parse(&out, Path::new("c.toml"))
            .unwrap()
            .nodes
            .len(),
        1
    );
}

#[test]
fn removenode_drops_table_and_domain_member() {
    let (_d, f) = sample_file();
    run(&f, &["removenode", "node1"]).unwrap();
    let text = std::fs::read_to_string(&f).unwrap();
    let c = Cluster::load(&f).unwrap();
    assert!(c.node("node1").is_none());
    assert_eq!(c.failover_domains[0].nodes, vec!["node2"]);
    assert!(text.contains("nodes = [\"node2\"]"), "{text}");
    assert!(
        text.starts_with("# The lab cluster.\n[cluster]\nname = \"lab\"\n\n[[network]]"),
        "{text}"
    );
    assert!(
        text.contains("[[node]]\nname = \"node2\"\nid = 2\n"),
        "{text}"
    );
    let e = run(&f, &["removenode", "node1"]).unwrap_err().to_string();
    assert!(e.contains("unknown node 'node1'"), "{e}");
}

#[test]
fn removenode_last_member_keeps_rest() {
    let out = remove_node_from_text(SAMPLE, Path::new("c.toml"), "node2").unwrap();
    let expected_head = SAMPLE.split("[[node]]\nname = \"node2\"").next().unwrap();
    assert!(out.starts_with(expected_head), "{out}");
    assert!(out.contains("nodes = [\"node1\"]"), "{out}");
}

#[test]
fn every_subcommand_has_about_and_example() {
    use clap::CommandFactory;
    let cmd = TestCli::command();
    cmd.clone().debug_assert();
    let cluster = cmd.find_subcommand("cluster").unwrap();
    assert!(cluster
        .get_arguments()
        .any(|a| a.get_id() == "cluster" && a.is_global_set()));
    let names: Vec<&str> = cluster.get_subcommands().map(|s| s.get_name()).collect();
    assert_eq!(
        names,
        ["list", "show", "query", "addnode", "removenode", "netboot"]
    );
    for sub in cluster.get_subcommands() {
        assert!(sub.get_about().is_some(), "{} has no about", sub.get_name());
        let after = sub
            .get_after_help()
            .map(|h| h.to_string())
            .unwrap_or_default();
        assert!(
            after.contains("srbuild cluster"),
            "{} has no example",
            sub.get_name()
        );
    }
}

#[test]
fn no_default_cluster_file_is_a_clear_error() {
    if Cluster::find_default().is_some() {
        println!("skipped: a default cluster.toml exists on this machine");
        return;
    }
    let Top::Cluster(a) = TestCli::try_parse_from(["srbuild", "cluster", "list"])
        .unwrap()
        .cmd;
    let e = run_cluster_to(a, &mut Vec::new()).unwrap_err().to_string();
    assert!(
        e.contains("./cluster.toml")
            && e.contains("/etc/srbuild/cluster.toml")
            && e.contains("--cluster"),
        "{e}"
    );
}

#[test]
fn addnode_edits_the_real_file_behind_a_link_keeping_owner_and_mode() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let (dir, real) = sample_file();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
    std::os::unix::fs::chown(&real, Some(1234), Some(1235)).unwrap();
    let link = dir.path().join("link.toml");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let add = [
        "addnode",
        "node9",
        "--mac",
        "52:54:00:77:00:99",
        "--id",
        "99",
    ];
    run(&link, &add).unwrap();
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    let text = std::fs::read_to_string(&real).unwrap();
    assert!(
        text.contains("name = \"node9\""),
        "the real file was edited"
    );
    let m = std::fs::metadata(&real).unwrap();
    assert_eq!((m.mode() & 0o777, m.uid(), m.gid()), (0o640, 1234, 1235));

    // Read-only: refused without --force, edited with it.
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o444)).unwrap();
    let e = run(&link, &["removenode", "node9"])
        .unwrap_err()
        .to_string();
    assert!(e.contains("read-only") && e.contains("--force"), "{e}");
    assert!(std::fs::read_to_string(&real).unwrap().contains("node9"));
    run(&link, &["removenode", "node9", "--force"]).unwrap();
    assert!(!std::fs::read_to_string(&real).unwrap().contains("node9"));

    // A hard-linked file is not split: refused, or rewritten in place with --force.
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o644)).unwrap();
    let twin = dir.path().join("twin.toml");
    std::fs::hard_link(&real, &twin).unwrap();
    let e = run(&real, &add).unwrap_err().to_string();
    assert!(e.contains("hard links"), "{e}");
    run(&real, &[&add[..], &["--force"]].concat()).unwrap();
    assert!(
        std::fs::read_to_string(&twin).unwrap().contains("node9"),
        "still one file"
    );
}

#[test]
fn netboot_replaces_links_in_its_output_instead_of_writing_through_them() {
    let (dir, file) = sample_file();
    let out = dir.path().join("tftp");
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    let victim = outside.join("precious");
    std::fs::write(&victim, "keep me").unwrap();
    std::os::unix::fs::symlink(&victim, out.join("dnsmasq.conf")).unwrap();
    std::os::unix::fs::symlink(&outside, out.join("ipxe")).unwrap();
    let kernel = dir.path().join("vmlinuz-src");
    let initrd = dir.path().join("initrd-src");
    std::fs::write(&kernel, "K").unwrap();
    common::write_initramfs(&initrd, "init", b"I");
    std::os::unix::fs::symlink(&victim, out.join("vmlinuz")).unwrap();
    run(
        &file,
        &[
            "netboot",
            out.to_str().unwrap(),
            "--kernel",
            kernel.to_str().unwrap(),
            "--initrd",
            initrd.to_str().unwrap(),
        ],
    )
    .unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        1,
        "nothing written outside"
    );
    assert!(!std::fs::symlink_metadata(out.join("ipxe"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(std::fs::read_to_string(out.join("dnsmasq.conf"))
        .unwrap()
        .contains("dhcp-host"));
    assert_eq!(std::fs::read_to_string(out.join("vmlinuz")).unwrap(), "K");
}

/// Whether `e` cites a line of `file` (`file:LINE:`).
fn cites_a_line(e: &str, file: &str) -> bool {
    e.match_indices(&format!("{file}:"))
        .any(|(i, m)| e[i + m.len()..].starts_with(|c: char| c.is_ascii_digit()))
}

#[test]
fn addnode_errors_about_the_new_node_name_the_option_not_a_line() {
    let (_d, f) = sample_file();
    let before = std::fs::read(&f).unwrap();
    // (arguments after "addnode", the option the error must name, what it must say)
    let cases: &[(&[&str], &str, &str)] = &[
        (
            &["node3", "--mac", "52:54:00:77:00:11"],
            "--mac",
            "duplicate MAC 52:54:00:77:00:11 (also on node1)",
        ),
        (
            &["node3", "--mac", "52:54:00:77:00:13", "--id", "2"],
            "--id",
            "duplicate node id 2",
        ),
        (
            &["node3", "--mac", "52:54:00:77:00:13", "--ip", "10.1.1.1/24"],
            "--ip",
            "outside every declared network",
        ),
        (
            &[
                "node3",
                "--mac",
                "52:54:00:77:00:13",
                "--ip",
                "10.77.0.12/24",
            ],
            "--ip",
            "duplicate IP address 10.77.0.12",
        ),
        (
            &[
                "node3",
                "--mac",
                "52:54:00:77:00:13",
                "--kernel-arg",
                "a\nb",
            ],
            "--kernel-arg",
            "contains '\\n'",
        ),
        (
            &["node3", "--mac", "52:54:00:77:00:13", "--role", "x y"],
            "--role 'x y'",
            "not a role name",
        ),
        (
            &["node3", "--mac", "ff:ff:ff:ff:ff:ff"],
            "--mac",
            "broadcast",
        ),
        (
            &["node3", "--mac", "52:54:00:77:00:13", "--id", "300"],
            "--id 300",
            "out of range",
        ),
        (
            &["x$(reboot)\ny", "--mac", "52:54:00:77:00:13"],
            "the node name 'x$(reboot)\\ny'",
            "not usable",
        ),
    ];
    for (args, option, says) in cases {
        let e = run(&f, &[&["addnode"][..], args].concat())
            .unwrap_err()
            .to_string();
        assert!(e.contains(option) && e.contains(says), "{args:?}: {e}");
        assert!(e.contains("not changed"), "{e}");
        // The edited file exists nowhere: none of its line numbers may be cited.
        assert!(!cites_a_line(&e, f.to_str().unwrap()), "{args:?}: {e}");
        assert!(!e.contains('\n'), "one line: {e}");
    }
    assert_eq!(std::fs::read(&f).unwrap(), before);
}

#[test]
fn addnode_errors_about_the_existing_file_cite_its_own_lines() {
    let (_d, f) = sample_file();
    // The failover domain (line 28) names an unknown node; the new node would go in
    // before it (after line 24), so a line of the edited text would be off by 7.
    let text = SAMPLE.replace(
        "nodes = [\"node1\", \"node2\"]",
        "nodes = [\"node1\", \"ghost\"]",
    );
    std::fs::write(&f, &text).unwrap();
    let e = run(&f, &["addnode", "node3", "--mac", "52:54:00:77:00:13"])
        .unwrap_err()
        .to_string();
    let at = format!("{}:28:", f.display());
    assert!(
        e.contains(&at) && e.contains("unknown node 'ghost'") && e.contains("before the edit"),
        "{e}"
    );
    assert_eq!(std::fs::read_to_string(&f).unwrap(), text);
}

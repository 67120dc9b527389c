//! Tests of CDSL management on temporary trees: create (host-dependent and
//! shared), list, check, remove, addnode, symlink safety and the repair of
//! interrupted runs.

use clap::Parser;
use srbuild_cluster::cdsl::{self, CdslKind, Inventory, Root, Tree};
use srbuild_cluster::cli::{run_cdsl_to, CdslArgs};
use srbuild_cluster::ClusterError;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

#[derive(Parser)]
struct TestCli {
    #[command(subcommand)]
    cmd: Top,
}

#[derive(clap::Subcommand)]
enum Top {
    Cdsl(CdslArgs),
}

fn run(root: &Path, args: &[&str]) -> (Result<(), ClusterError>, String) {
    let mut argv = vec!["srbuild", "cdsl", "--root", root.to_str().unwrap()];
    argv.extend_from_slice(args);
    let Top::Cdsl(a) = TestCli::try_parse_from(argv).expect("arguments parse").cmd;
    let mut out = Vec::new();
    let r = run_cdsl_to(a, &mut out);
    (r, String::from_utf8(out).unwrap())
}

/// A small root: etc/hostname, etc/ssh/{sshd_config,moduli,link}, usr/bin/tool.
fn tree() -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("root");
    fs::create_dir_all(root.join("etc/ssh")).unwrap();
    fs::create_dir_all(root.join("usr/bin")).unwrap();
    fs::write(root.join("etc/hostname"), "shared\n").unwrap();
    fs::set_permissions(root.join("etc/hostname"), fs::Permissions::from_mode(0o640)).unwrap();
    fs::write(root.join("etc/ssh/sshd_config"), "Port 22\n").unwrap();
    fs::write(root.join("etc/ssh/moduli"), "moduli\n").unwrap();
    symlink("sshd_config", root.join("etc/ssh/link")).unwrap();
    fs::set_permissions(root.join("etc/ssh"), fs::Permissions::from_mode(0o700)).unwrap();
    fs::write(root.join("usr/bin/tool"), "#!/bin/sh\n").unwrap();
    (d, root)
}

fn read(p: impl AsRef<Path>) -> String {
    fs::read_to_string(p).unwrap()
}

fn link(p: impl AsRef<Path>) -> String {
    fs::read_link(p).unwrap().to_string_lossy().into_owned()
}

fn mode(p: impl AsRef<Path>) -> u32 {
    fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

fn problems(root: &Path, ids: &[u32]) -> Vec<String> {
    cdsl::check(root, ids)
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn create_hostdependent_file() {
    let (_d, root) = tree();
    let r = cdsl::create_hostdependent(&root, "/etc/hostname", &[1, 2]).unwrap();
    assert_eq!(r.path, "etc/hostname");
    assert_eq!(r.created, vec![Tree::Default, Tree::Node(1), Tree::Node(2)]);
    assert!(r.linked && !r.resumed);
    assert_eq!(link(root.join("etc/hostname")), "/.cdsl.local/etc/hostname");
    for t in ["default", "1", "2"] {
        let p = root.join(format!(".cluster/cdsl/{t}/etc/hostname"));
        assert_eq!(read(&p), "shared\n");
        assert_eq!(mode(&p), 0o640);
    }
    let inv = read(root.join(".cluster/cdsl.inventory"));
    assert!(
        inv.contains("[[cdsl]]\npath = \"etc/hostname\"\nkind = \"hostdependent\""),
        "{inv}"
    );
    assert!(
        problems(&root, &[1, 2]).is_empty(),
        "{:?}",
        problems(&root, &[1, 2])
    );
    // idempotent
    let r = cdsl::create_hostdependent(&root, "etc/hostname", &[1, 2]).unwrap();
    assert!(r.created.is_empty() && r.resumed && !r.linked);
}

#[test]
fn create_hostdependent_directory_keeps_modes_and_symlinks() {
    let (_d, root) = tree();
    cdsl::create_hostdependent(&root, "etc/ssh", &[3]).unwrap();
    assert_eq!(link(root.join("etc/ssh")), "/.cdsl.local/etc/ssh");
    let t = root.join(".cluster/cdsl/3/etc/ssh");
    assert_eq!(mode(&t), 0o700);
    assert_eq!(link(t.join("link")), "sshd_config");
    assert_eq!(read(t.join("moduli")), "moduli\n");
    assert!(!root.join("etc/ssh.srbuild-old").exists());
    // nested create inside a host-dependent dir is refused with a hint
    let e = cdsl::create_hostdependent(&root, "etc/ssh/moduli", &[3])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("inside host-dependent etc/ssh") && e.contains("--shared"),
        "{e}"
    );
    // a parent of an existing CDSL is refused too
    let e = cdsl::create_hostdependent(&root, "etc", &[3])
        .unwrap_err()
        .to_string();
    assert!(e.contains("contains the CDSL etc/ssh"), "{e}");
}

#[test]
fn create_missing_path_and_bad_paths() {
    let (_d, root) = tree();
    let e = cdsl::create_hostdependent(&root, "etc/machine-id", &[1])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("etc/machine-id does not exist in") && e.contains("create it first"),
        "{e}"
    );
    assert!(!root.join(".cluster/cdsl.inventory").exists());
    for bad in ["../etc/passwd", "etc/../../x", "/", ".cluster/cdsl", ""] {
        let e = cdsl::create_hostdependent(&root, bad, &[1])
            .unwrap_err()
            .to_string();
        assert!(!e.is_empty(), "{bad}");
    }
    let e = cdsl::create_hostdependent(&root, "etc/../../x", &[1])
        .unwrap_err()
        .to_string();
    assert!(e.contains("'..'"), "{e}");
}

#[test]
fn symlink_to_etc_is_not_followed() {
    let (_d, root) = tree();
    symlink("/etc", root.join("conf")).unwrap();
    let e = cdsl::create_hostdependent(&root, "conf/hostname", &[1]).unwrap_err();
    assert!(matches!(e, ClusterError::UnsafePath { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("conf -> /etc") && msg.contains("absolute symlink"),
        "{msg}"
    );
    assert!(!Path::new("/etc/hostname.srbuild-link").exists());
    assert!(!Path::new("/etc/.cluster").exists());
    assert!(!root.join(".cluster/cdsl.inventory").exists());
}

#[test]
fn symlinks_leading_outside_change_nothing_outside() {
    let (d, root) = tree();
    let outside = d.path().join("outside");
    fs::create_dir_all(outside.join("cdsl/default")).unwrap();
    fs::write(outside.join("hostname"), "host\n").unwrap();
    let snapshot = |p: &Path| -> Vec<PathBuf> {
        walkdir::WalkDir::new(p)
            .into_iter()
            .map(|e| e.unwrap().path().to_path_buf())
            .collect()
    };
    let before = snapshot(&outside);
    // a directory component pointing outside (absolute and relative)
    symlink(&outside, root.join("abs")).unwrap();
    symlink("../outside", root.join("rel")).unwrap();
    for p in ["abs/hostname", "rel/hostname"] {
        let e = cdsl::create_hostdependent(&root, p, &[1])
            .unwrap_err()
            .to_string();
        assert!(e.contains("refusing to follow symlink"), "{e}");
    }
    let e = cdsl::create_hostdependent(&root, "rel/hostname", &[1])
        .unwrap_err()
        .to_string();
    assert!(e.contains("climbs out of the root"), "{e}");
    // .cluster itself pointing outside
    symlink(&outside, root.join(".cluster")).unwrap();
    let e = cdsl::create_hostdependent(&root, "etc/hostname", &[1])
        .unwrap_err()
        .to_string();
    assert!(e.contains("refusing to follow symlink .cluster"), "{e}");
    assert_eq!(snapshot(&outside), before);
    assert_eq!(read(outside.join("hostname")), "host\n");
    assert_eq!(read(root.join("etc/hostname")), "shared\n");
}

#[test]
fn half_done_create_is_reported_and_repaired() {
    let (_d, root) = tree();
    cdsl::create_hostdependent(&root, "etc/hostname", &[1, 2]).unwrap();
    cdsl::write_node_file(&root, Tree::Node(2), "etc/hostname", b"node2\n").unwrap();
    // Simulate an interruption after recording and copying, before the link:
    fs::remove_file(root.join("etc/hostname")).unwrap();
    fs::write(root.join("etc/hostname"), "shared\n").unwrap();
    // ... and node 1's copy never made it.
    fs::remove_file(root.join(".cluster/cdsl/1/etc/hostname")).unwrap();
    let p = problems(&root, &[1, 2]);
    assert!(
        p.iter().any(|l| l.starts_with(
            "etc/hostname: inventory says host-dependent but ROOT/etc/hostname is a regular file"
        ) && l.contains("re-run")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|l| l.contains("node 1 has its own tree but no copy")),
        "{p:?}"
    );
    let (r, out) = run(&root, &["check"]);
    assert!(
        matches!(r, Err(ClusterError::CheckFailed { count: 2, .. })),
        "{r:?}"
    );
    assert_eq!(out.lines().count(), 2, "{out}");

    let r = cdsl::create_hostdependent(&root, "etc/hostname", &[1, 2]).unwrap();
    assert!(r.resumed && r.linked);
    assert_eq!(r.created, vec![Tree::Node(1)]);
    assert_eq!(
        read(root.join(".cluster/cdsl/2/etc/hostname")),
        "node2\n",
        "node content kept"
    );
    assert!(problems(&root, &[1, 2]).is_empty());
    let (r, out) = run(&root, &["check"]);
    assert!(r.is_ok() && out.contains("ok"), "{out}");
}

#[test]
fn half_done_directory_swap_is_repaired() {
    let (_d, root) = tree();
    cdsl::create_hostdependent(&root, "etc/ssh", &[1]).unwrap();
    // Interrupted between moving the directory aside and placing the link.
    fs::remove_file(root.join("etc/ssh")).unwrap();
    fs::create_dir(root.join("etc/ssh.srbuild-old")).unwrap();
    let p = problems(&root, &[1]);
    assert!(
        p.iter().any(|l| l.contains("ROOT/etc/ssh is missing")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|l| l.starts_with("etc/ssh.srbuild-old: leftover")),
        "{p:?}"
    );
    cdsl::create_hostdependent(&root, "etc/ssh", &[1]).unwrap();
    assert!(
        problems(&root, &[1]).is_empty(),
        "{:?}",
        problems(&root, &[1])
    );
    assert!(!root.join("etc/ssh.srbuild-old").exists());
}

#[test]
fn shared_exception_and_its_removal() {
    let (_d, root) = tree();
    cdsl::create_hostdependent(&root, "etc/ssh", &[1, 2]).unwrap();
    let e = cdsl::create_shared(&root, "usr/bin/tool", &[1, 2])
        .unwrap_err()
        .to_string();
    assert!(e.contains("not inside a host-dependent directory"), "{e}");
    let r = cdsl::create_shared(&root, "/etc/ssh/moduli", &[1, 2]).unwrap();
    assert_eq!(r.created, vec![Tree::Default, Tree::Node(1), Tree::Node(2)]);
    assert_eq!(
        read(root.join(".cluster/shared/etc/ssh/moduli")),
        "moduli\n"
    );
    for t in ["default", "1", "2"] {
        assert_eq!(
            link(root.join(format!(".cluster/cdsl/{t}/etc/ssh/moduli"))),
            "/.cluster/shared/etc/ssh/moduli"
        );
    }
    assert!(
        problems(&root, &[1, 2]).is_empty(),
        "{:?}",
        problems(&root, &[1, 2])
    );
    let inv = Inventory::load(&Root::open(&root).unwrap()).unwrap();
    assert_eq!(inv.get("etc/ssh/moduli").unwrap().kind, CdslKind::Shared);
    // a new node gets the link via the default copy
    cdsl::add_node(&root, 3).unwrap();
    assert_eq!(
        link(root.join(".cluster/cdsl/3/etc/ssh/moduli")),
        "/.cluster/shared/etc/ssh/moduli"
    );
    // write_node_file refuses shared paths
    let e = cdsl::write_node_file(&root, Tree::Node(1), "etc/ssh/moduli", b"x")
        .unwrap_err()
        .to_string();
    assert!(e.contains("shared exception"), "{e}");
    // removing the shared exception gives every tree its copy back
    cdsl::remove(&root, "etc/ssh/moduli", None).unwrap();
    for t in ["default", "1", "2", "3"] {
        assert_eq!(
            read(root.join(format!(".cluster/cdsl/{t}/etc/ssh/moduli"))),
            "moduli\n"
        );
    }
    assert!(!root.join(".cluster/shared/etc").exists());
    assert!(problems(&root, &[1, 2, 3]).is_empty());
}

#[test]
fn check_finds_dangling_unrecorded_and_escaping_links() {
    let (_d, root) = tree();
    cdsl::create_hostdependent(&root, "etc/ssh", &[1]).unwrap();
    cdsl::create_shared(&root, "etc/ssh/moduli", &[1]).unwrap();
    fs::remove_file(root.join(".cluster/shared/etc/ssh/moduli")).unwrap();
    symlink("/.cdsl.local/etc/motd", root.join("etc/motd")).unwrap();
    symlink("../../../../outside", root.join("usr/bin/escape")).unwrap();
    let p = problems(&root, &[1]);
    assert!(
        p.iter()
            .any(|l| l.starts_with("etc/ssh/moduli: shared content") && l.contains("missing")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|l| l.starts_with(".cluster/cdsl/1/etc/ssh/moduli: dangling symlink")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|l| l.starts_with("etc/motd: symlink into /.cdsl.local")
                && l.contains("not in the inventory")),
        "{p:?}"
    );
    assert!(
        p.iter().any(|l| l.starts_with(
            "usr/bin/escape: symlink target ../../../../outside climbs out of the root"
        )),
        "{p:?}"
    );
}

#[test]
fn check_reports_node_without_copy_and_no_default() {
    let (_d, root) = tree();
    cdsl::create_hostdependent(&root, "etc/hostname", &[1]).unwrap();
    fs::remove_file(root.join(".cluster/cdsl/default/etc/hostname")).unwrap();
    // node 5 is in the cluster but has no tree, and there is no default
    let p = problems(&root, &[1, 5]);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].contains("node 5 has no copy and there is no default copy"),
        "{p:?}"
    );
    let e = cdsl::add_node(&root, 5).unwrap_err().to_string();
    assert!(e.contains("no default copy of etc/hostname"), "{e}");
}

#[test]
fn remove_restores_from_default_or_node() {
    let (_d, root) = tree();
    cdsl::create_hostdependent(&root, "etc/hostname", &[1, 2]).unwrap();
    cdsl::write_node_file(&root, Tree::Node(2), "etc/hostname", b"node2\n").unwrap();
    let (r, _) = run(&root, &["remove", "/etc/hostname", "--from-node", "2"]);
    r.unwrap();
    assert_eq!(read(root.join("etc/hostname")), "node2\n");
    assert!(!fs::symlink_metadata(root.join("etc/hostname"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(!root.join(".cluster/cdsl/1/etc").exists());
    assert!(Inventory::load(&Root::open(&root).unwrap())
        .unwrap()
        .cdsl
        .is_empty());
    let e = cdsl::remove(&root, "etc/hostname", None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a CDSL"), "{e}");

    // a directory with a shared exception, restored from default
    cdsl::create_hostdependent(&root, "etc/ssh", &[1]).unwrap();
    cdsl::create_shared(&root, "etc/ssh/moduli", &[1]).unwrap();
    cdsl::remove(&root, "etc/ssh", None).unwrap();
    assert!(fs::symlink_metadata(root.join("etc/ssh")).unwrap().is_dir());
    assert_eq!(read(root.join("etc/ssh/moduli")), "moduli\n");
    assert_eq!(link(root.join("etc/ssh/link")), "sshd_config");
    assert_eq!(mode(root.join("etc/ssh")), 0o700);
    assert!(!root.join(".cluster/shared/etc").exists());
    assert!(Inventory::load(&Root::open(&root).unwrap())
        .unwrap()
        .cdsl
        .is_empty());
    assert!(problems(&root, &[1]).is_empty());
}

#[test]
fn remove_from_missing_node_copy_fails_clearly() {
    let (_d, root) = tree();
    cdsl::create_hostdependent(&root, "etc/hostname", &[1]).unwrap();
    let e = cdsl::remove(&root, "etc/hostname", Some(9))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("tree 9 has no copy") && e.contains("--from-node"),
        "{e}"
    );
    assert_eq!(link(root.join("etc/hostname")), "/.cdsl.local/etc/hostname");
}

#[test]
fn addnode_seeds_from_default() {
    let (_d, root) = tree();
    cdsl::create_hostdependent(&root, "etc/hostname", &[1]).unwrap();
    cdsl::create_hostdependent(&root, "etc/ssh", &[1]).unwrap();
    let (r, out) = run(&root, &["addnode", "4"]);
    r.unwrap();
    assert!(
        out.contains("seeded 2 path(s)") && out.contains("/etc/ssh"),
        "{out}"
    );
    assert_eq!(read(root.join(".cluster/cdsl/4/etc/hostname")), "shared\n");
    assert_eq!(
        read(root.join(".cluster/cdsl/4/etc/ssh/sshd_config")),
        "Port 22\n"
    );
    assert_eq!(cdsl::existing_node_ids(&root).unwrap(), vec![1, 4]);
    // idempotent
    assert!(cdsl::add_node(&root, 4).unwrap().is_empty());
    assert!(cdsl::add_node(&root, 0).is_err());
}

#[test]
fn cli_create_list_with_cluster_file() {
    let (d, root) = tree();
    let cf = d.path().join("cluster.toml");
    fs::write(&cf, include_str!("common_sample.toml")).unwrap();
    let (r, out) = run(
        &root,
        &[
            "--cluster",
            cf.to_str().unwrap(),
            "create",
            "--hostdependent",
            "/etc/hostname",
        ],
    );
    r.unwrap();
    assert!(
        out.contains("etc/hostname hostdependent: copies made in default,1,2"),
        "{out}"
    );
    let (r, out) = run(&root, &["create", "--shared", "etc/hostname"]);
    assert!(r.is_err(), "{out}");
    // node ids now come from the existing trees
    let (r, out) = run(&root, &["list"]);
    r.unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("PATH") && lines[0].contains("DEFAULT"),
        "{out}"
    );
    assert!(
        lines[1].starts_with("/etc/hostname")
            && lines[1].contains("hostdependent")
            && lines[1].contains("1,2"),
        "{out}"
    );
    let s = cdsl::list(&root).unwrap();
    assert_eq!(s[0].nodes, vec![1, 2]);
    assert!(s[0].has_default && s[0].in_place);
    let (r, out) = run(&root, &["--cluster", cf.to_str().unwrap(), "check"]);
    assert!(r.is_ok(), "{out}");
}

#[test]
fn write_node_file_gives_each_node_its_hostname() {
    let (_d, root) = tree();
    cdsl::create_hostdependent(&root, "etc/hostname", &[1, 2]).unwrap();
    for id in [1u32, 2] {
        cdsl::write_node_file(
            &root,
            Tree::Node(id),
            "/etc/hostname",
            format!("node{id}\n").as_bytes(),
        )
        .unwrap();
    }
    assert_eq!(read(root.join(".cluster/cdsl/1/etc/hostname")), "node1\n");
    assert_eq!(read(root.join(".cluster/cdsl/2/etc/hostname")), "node2\n");
    assert_eq!(
        read(root.join(".cluster/cdsl/default/etc/hostname")),
        "shared\n"
    );
    let e = cdsl::write_node_file(&root, Tree::Node(1), "usr/bin/tool", b"x")
        .unwrap_err()
        .to_string();
    assert!(e.contains("not host-dependent"), "{e}");
    let p = cdsl::node_copy_path(&root, Tree::Default, "etc/hostname").unwrap();
    assert!(p.ends_with(".cluster/cdsl/default/etc/hostname"));
}

#[test]
fn every_cdsl_subcommand_has_about_and_example() {
    use clap::CommandFactory;
    let cmd = TestCli::command();
    cmd.clone().debug_assert();
    let cdsl = cmd.find_subcommand("cdsl").unwrap();
    let names: Vec<&str> = cdsl.get_subcommands().map(|s| s.get_name()).collect();
    assert_eq!(names, ["create", "list", "check", "remove", "addnode"]);
    for sub in cdsl.get_subcommands() {
        assert!(sub.get_about().is_some(), "{}", sub.get_name());
        let after = sub
            .get_after_help()
            .map(|h| h.to_string())
            .unwrap_or_default();
        assert!(after.contains("srbuild cdsl --root"), "{}", sub.get_name());
    }
    assert!(
        TestCli::try_parse_from(["srbuild", "cdsl", "list"]).is_err(),
        "--root is required"
    );
    assert!(TestCli::try_parse_from(["srbuild", "cdsl", "--root", "/x", "create"]).is_err());
    assert!(TestCli::try_parse_from([
        "srbuild",
        "cdsl",
        "--root",
        "/x",
        "create",
        "--hostdependent",
        "a",
        "--shared",
        "b"
    ])
    .is_err());
}

#[test]
fn a_relative_link_made_host_dependent_still_resolves_on_a_node() {
    let (_d, root) = tree();
    fs::create_dir_all(root.join("run")).unwrap();
    fs::write(root.join("run/resolv.conf"), "nameserver 10.0.0.1\n").unwrap();
    symlink("../run/resolv.conf", root.join("etc/resolv.conf")).unwrap();
    cdsl::create_hostdependent(&root, "etc/resolv.conf", &[1]).unwrap();
    // What a node sees: its tree bound on /.cdsl.local (a copy stands in for the bind).
    let node = root.join(".cluster/cdsl/1/etc/resolv.conf");
    assert_eq!(link(&node), "../../run/resolv.conf");
    fs::create_dir_all(root.join(".cdsl.local/etc")).unwrap();
    symlink(link(&node), root.join(".cdsl.local/etc/resolv.conf")).unwrap();
    assert_eq!(
        read(root.join(".cdsl.local/etc/resolv.conf")),
        "nameserver 10.0.0.1\n"
    );
    // A link inside a host-dependent directory that points inside it is left alone.
    cdsl::create_hostdependent(&root, "etc/ssh", &[1]).unwrap();
    assert_eq!(
        link(root.join(".cluster/cdsl/1/etc/ssh/link")),
        "sshd_config"
    );
}

//! Tests of `[node.fence]`: every key's checks with the file, line, node and key in the
//! error, the one-BMC-per-node rule, the password file's checks, and `cluster show`.

mod common;

use srbuild_cluster::{Cluster, ClusterError};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Two members, each with a fence device; `{N1}` and `{N2}` are extra lines of each
/// node's `[node.fence]`.
const TEMPLATE: &str = r#"[cluster]
name = "lab"

[[network]]
name = "lan"
cidr = "10.77.0.0/24"

[[node]]
name = "node1"
id = 1
macs = ["52:54:00:77:00:11"]
addresses = ["10.77.0.11/24"]
[node.fence]
agent = "ipmilan"
address = "10.77.0.201"
user = "admin"
password_file = "bmc-node1.password"
{N1}
[[node]]
name = "node2"
id = 2
macs = ["52:54:00:77:00:12"]
addresses = ["10.77.0.12/24"]
[node.fence]
agent = "ipmilan"
address = "10.77.0.202"
port = 6230
user = "fence.bot_2-x"
password_file = "/etc/bmc/node2"
cipher = 17
{N2}"#;

fn text(n1: &str, n2: &str) -> String {
    TEMPLATE.replace("{N1}", n1).replace("{N2}", n2)
}

fn parse(t: &str) -> Result<Cluster, ClusterError> {
    Cluster::parse(t, Path::new("site/cluster.toml"))
}

/// The error for `t`, which must hold exactly one problem, and that problem's line.
fn one_error(t: &str) -> (usize, String) {
    match parse(t) {
        Ok(_) => panic!("accepted:\n{t}"),
        Err(ClusterError::Invalid(d)) => {
            assert_eq!(d.len(), 1, "{d:?}");
            assert_eq!(d[0].file, Path::new("site/cluster.toml"));
            (d[0].line, d[0].to_string())
        }
        Err(e) => panic!("{e}"),
    }
}

fn line_of(t: &str, needle: &str) -> usize {
    t.lines().position(|l| l.contains(needle)).expect(needle) + 1
}

#[test]
fn a_fence_device_parses_with_its_defaults() {
    let c = parse(&text("", "")).unwrap();
    let f = c.nodes[0].fence.as_ref().unwrap();
    assert_eq!(f.agent, "ipmilan");
    assert_eq!(f.address.to_string(), "10.77.0.201");
    assert_eq!((f.port, f.cipher), (623, 3));
    assert_eq!(f.user, "admin");
    assert_eq!(f.password_file, Path::new("site/bmc-node1.password"));
    assert_eq!(f.endpoint(), "10.77.0.201:623");
    let f = c.nodes[1].fence.as_ref().unwrap();
    assert_eq!((f.port, f.cipher), (6230, 17));
    assert_eq!(f.user, "fence.bot_2-x");
    assert_eq!(f.password_file, Path::new("/etc/bmc/node2"));
    // A node without [node.fence] has none.
    let t = text("", "").replace(
        "[node.fence]\nagent = \"ipmilan\"\naddress = \"10.77.0.202\"",
        "[node.x]\nagent = \"ipmilan\"\naddress = \"10.77.0.202\"",
    );
    assert!(
        parse(&t).is_err(),
        "an unknown table under a node is refused"
    );
}

#[test]
fn an_unknown_agent_names_the_known_ones() {
    let t = text("", "").replacen("agent = \"ipmilan\"", "agent = \"ilo9\"", 1);
    let (line, e) = one_error(&t);
    assert_eq!(line, line_of(&t, "ilo9"));
    for want in [
        "node 'node1'",
        "fence.agent",
        "\"ilo9\"",
        "known agents: ipmilan",
    ] {
        assert!(e.contains(want), "{want}: {e}");
    }
}

#[test]
fn an_address_outside_the_networks_or_not_ipv4_is_refused() {
    let t = text("", "").replace("10.77.0.202", "192.168.1.5");
    let (line, e) = one_error(&t);
    assert_eq!(line, line_of(&t, "192.168.1.5"));
    for want in [
        "node 'node2'",
        "fence.address",
        "192.168.1.5",
        "lan 10.77.0.0/24",
    ] {
        assert!(e.contains(want), "{want}: {e}");
    }
    for bad in ["fe80::1", "bmc1.example", "10.77.0.300"] {
        let t = text("", "").replace("10.77.0.202", bad);
        let (_, e) = one_error(&t);
        assert!(
            e.contains("not an IPv4 address") && e.contains("node2"),
            "{e}"
        );
    }
}

#[test]
fn cipher_suite_0_and_unknown_suites_are_refused() {
    let (line, e) = one_error(&text("cipher = 0", ""));
    assert_eq!(line, line_of(&text("cipher = 0", ""), "cipher = 0"));
    for want in ["node 'node1'", "fence.cipher", "no authentication", "use 3"] {
        assert!(e.contains(want), "{want}: {e}");
    }
    for bad in ["18", "-1"] {
        let (_, e) = one_error(&text("", "").replace("cipher = 17", &format!("cipher = {bad}")));
        assert!(e.contains("fence.cipher") && e.contains("1..=17"), "{e}");
    }
}

#[test]
fn bad_users_ports_and_keys_are_refused() {
    for user in ["", "a b", "root;reboot", "x\ny", "seventeen-chars-x"] {
        let t = text("", "").replace("user = \"admin\"", &format!("user = {user:?}"));
        let (_, e) = one_error(&t);
        assert!(
            e.contains("fence.user") && e.contains("node1"),
            "{user:?}: {e}"
        );
    }
    for port in ["0", "65536", "-5"] {
        let (_, e) = one_error(&text(&format!("port = {port}"), ""));
        assert!(e.contains("fence.port") && e.contains("1..=65535"), "{e}");
    }
    let (_, e) = one_error(&text("password = \"secret\"", ""));
    assert!(e.contains("unknown field") && e.contains("password"), "{e}");
    let (_, e) = one_error(&text("", "").replace("\"/etc/bmc/node2\"", "\"\""));
    assert!(e.contains("fence.password_file"), "{e}");
    let (_, e) = one_error(&text("", "").replacen("user = \"admin\"\n", "", 1));
    assert!(e.contains("missing field") && e.contains("user"), "{e}");
}

#[test]
fn two_nodes_sharing_one_bmc_is_an_error_naming_both() {
    let t = text("", "")
        .replace("10.77.0.202", "10.77.0.201")
        .replace("port = 6230\n", "");
    let (line, e) = one_error(&t);
    assert_eq!(
        line,
        t.lines()
            .collect::<Vec<_>>()
            .iter()
            .rposition(|l| l.contains("10.77.0.201"))
            .unwrap()
            + 1
    );
    for want in [
        "node 'node2'",
        "node 'node1'",
        "10.77.0.201:623",
        "fence.address",
    ] {
        assert!(e.contains(want), "{want}: {e}");
    }
    // The same address on another port is another BMC (a relay, say).
    let t = text("", "").replace("10.77.0.202", "10.77.0.201");
    assert!(parse(&t).is_ok());
}

#[test]
fn a_fence_address_that_is_a_nodes_own_address_is_an_error_naming_both() {
    // node1's BMC at node2's address (a later node), and at node1's own.
    for (bmc, owner) in [("10.77.0.12", "node2"), ("10.77.0.11", "node1")] {
        let t = text("", "").replace("10.77.0.201", bmc);
        let (line, e) = one_error(&t);
        assert_eq!(
            line,
            t.lines()
                .position(|l| l.contains(&format!("address = \"{bmc}\"")))
                .unwrap()
                + 1
        );
        for want in [
            "node 'node1'".to_string(),
            format!("fence.address {bmc} is the address of node '{owner}' itself"),
        ] {
            assert!(e.contains(&want), "{want}: {e}");
        }
    }
}

/// A password file `name` in `dir` with `content` and `mode`.
fn pwfile(dir: &Path, name: &str, content: &[u8], mode: u32) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    p
}

#[test]
fn the_password_file_must_be_private_regular_and_one_short_word() {
    let dir = tempfile::tempdir().unwrap();
    let desc = dir.path().join("cluster.toml");
    let load = |n1: &str| {
        std::fs::write(&desc, text(n1, "")).unwrap();
        Cluster::load(&desc).unwrap()
    };
    let c = load("");
    let read = |c: &Cluster| c.fence_password(&c.nodes[0]).map_err(|e| e.to_string());

    // Missing.
    let e = read(&c).unwrap_err();
    assert!(
        e.contains("bmc-node1.password") && e.contains("cannot open"),
        "{e}"
    );
    let at = format!("cluster.toml:{}:", line_of(&text("", ""), "password_file"));
    assert!(
        e.contains(&at) && e.contains("node 'node1': fence.password_file"),
        "{e}"
    );

    // Readable or writable by others, or by the group: refused, the content never shown.
    for mode in [0o644, 0o604, 0o640, 0o620, 0o602] {
        pwfile(dir.path(), "bmc-node1.password", b"Sup3rSecret\n", mode);
        let e = read(&c).unwrap_err();
        assert!(
            e.contains(&format!("mode {mode:o}")) && e.contains("chmod 0400"),
            "{e}"
        );
        assert!(!e.contains("Sup3rSecret"), "{e}");
    }
    // 0400 and 0600: the password, without its newline.
    for mode in [0o400, 0o600] {
        pwfile(dir.path(), "bmc-node1.password", b"Sup3rSecret\n", mode);
        assert_eq!(read(&c).unwrap(), Some(b"Sup3rSecret".to_vec()));
    }
    pwfile(
        dir.path(),
        "bmc-node1.password",
        b"01234567890123456789",
        0o600,
    );
    assert_eq!(read(&c).unwrap().unwrap().len(), 20);
    for bad in [
        &b""[..],
        b"\n",
        b"012345678901234567890",
        b"two words",
        b"line1\nline2\n",
        b"tab\t",
        b"crlf\r\n",
        b"pass\n\n",
        b"p\xc3\xa4ss",
    ] {
        pwfile(dir.path(), "bmc-node1.password", bad, 0o600);
        let e = read(&c).unwrap_err();
        assert!(
            e.contains("node 'node1'") && e.contains("password"),
            "{bad:?}: {e}"
        );
    }
    // A symlink to a good file, and a directory: refused.
    let good = pwfile(dir.path(), "real", b"Sup3rSecret", 0o400);
    std::fs::remove_file(dir.path().join("bmc-node1.password")).unwrap();
    std::os::unix::fs::symlink(&good, dir.path().join("bmc-node1.password")).unwrap();
    let e = read(&c).unwrap_err();
    assert!(e.contains("symlink"), "{e}");
    std::fs::remove_file(dir.path().join("bmc-node1.password")).unwrap();
    std::fs::create_dir(dir.path().join("bmc-node1.password")).unwrap();
    let e = read(&c).unwrap_err();
    assert!(e.contains("not a regular file"), "{e}");
    // A node without a fence device has no password.
    let mut c2 = c.clone();
    c2.nodes[0].fence = None;
    assert_eq!(c2.fence_password(&c2.nodes[0]).unwrap(), None);
}

#[test]
fn the_password_file_of_another_user_is_refused() {
    // Only root can give a file away; elsewhere there is nothing to check here.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("not root: the owner check is covered by read_password's code only");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = pwfile(dir.path(), "bmc-node1.password", b"Sup3rSecret", 0o400);
    std::os::unix::fs::chown(&p, Some(4242), None).unwrap();
    let desc = dir.path().join("cluster.toml");
    std::fs::write(&desc, text("", "")).unwrap();
    let c = Cluster::load(&desc).unwrap();
    let e = c.fence_password(&c.nodes[0]).unwrap_err().to_string();
    assert!(
        e.contains("owned by uid 4242") && e.contains("chown root"),
        "{e}"
    );
}

#[test]
fn cluster_show_prints_the_fence_device_but_never_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("cluster.toml");
    std::fs::write(&f, text("", "")).unwrap();
    pwfile(dir.path(), "bmc-node1.password", b"Sup3rSecret", 0o400);
    let out = common::run(&f, &["show", "node1"]).unwrap();
    assert!(
        out.contains("fence:       ipmilan 10.77.0.201:623 user admin cipher 3 password_file"),
        "{out}"
    );
    assert!(
        out.contains("bmc-node1.password") && !out.contains("Sup3rSecret"),
        "{out}"
    );
    let out = common::run(&f, &["show", "node2"]).unwrap();
    assert!(
        out.contains("10.77.0.202:6230 user fence.bot_2-x cipher 17"),
        "{out}"
    );
}

//! The iSCSI checks of `/init`'s library (`templates/lib/iscsi.sh`) under busybox sh, as
//! the image runs them: dracut's `netroot=iscsi:…` parsed into its fields, and every bad
//! value (an initiator or target name that is no IQN, a malformed netroot, a bad port or
//! LUN, credentials on the command line) refused with one FAILED line naming it.

mod common;

const ISCSI: &str = include_str!("../templates/lib/iscsi.sh");

/// Runs `script` after the library ([`common::run_lib`]); returns (exit status, stdout).
fn run(script: &str) -> (bool, String) {
    common::run_lib(ISCSI, script)
}

fn fails(script: &str, naming: &str) {
    let (ok, out) = run(script);
    assert!(!ok, "{script}: should fail, printed {out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "{script}: one line, got {out}");
    assert!(
        lines[0].starts_with("srbuild: FAILED stage=cmdline: ") && lines[0].contains(naming),
        "{script}: {out}"
    );
}

#[test]
fn a_dracut_netroot_is_split_into_its_fields() {
    let (ok, out) = run(
        "sr_netroot_iscsi iscsi:10.77.0.1::::iqn.2026-12.lab.srbuild:root\n\
         echo \"$SR_ISCSI_HOST|$SR_ISCSI_PORT|$SR_ISCSI_LUN|$SR_ISCSI_TARGET\"\n\
         sr_netroot_iscsi iscsi:san.example:6:03260:2:iqn.2001-04.com.example:storage.disk1\n\
         echo \"$SR_ISCSI_HOST|$SR_ISCSI_PORT|$SR_ISCSI_LUN|$SR_ISCSI_TARGET\"",
    );
    assert!(ok, "{out}");
    assert_eq!(
        out,
        "10.77.0.1|3260|0|iqn.2026-12.lab.srbuild:root\n\
         san.example|3260|2|iqn.2001-04.com.example:storage.disk1\n"
    );
}

#[test]
fn bad_netroots_fail_naming_the_value() {
    fails(
        "sr_netroot_iscsi iscsi:iqn.2026-12.lab:root",
        "netroot=iscsi:iqn.2026-12.lab:root: expected",
    );
    fails(
        "sr_netroot_iscsi iscsi:10.0.0.1::::Not-An-IQN",
        "Not-An-IQN is not an iSCSI name",
    );
    fails(
        "sr_netroot_iscsi iscsi:10.0.0.1::99999::iqn.2026-12.lab:root",
        "port '99999'",
    );
    fails(
        "sr_netroot_iscsi iscsi:10.0.0.1:17:::iqn.2026-12.lab:root",
        "protocol '17'",
    );
    fails(
        "sr_netroot_iscsi iscsi:10.0.0.1:::x:iqn.2026-12.lab:root",
        "LUN 'x'",
    );
    fails(
        "sr_netroot_iscsi iscsi:::::iqn.2026-12.lab:root",
        "no SERVER",
    );
    fails(
        "sr_netroot_iscsi 'iscsi:10.0.0.1:;reboot::::iqn.2026-12.lab:root'",
        "protocol ';reboot'",
    );
    fails(
        "sr_netroot_iscsi iscsi:user:secret@10.0.0.1::::iqn.2026-12.lab:root",
        "credentials on the command line",
    );
}

#[test]
fn initiator_names_must_be_iqns() {
    assert!(run("sr_iqn rd.iscsi.initiator iqn.2026-12.org.srbuild:node1").0);
    assert!(run("sr_iqn rd.iscsi.initiator eui.02004567A425678D").0);
    fails(
        "sr_iqn rd.iscsi.initiator iqn.2026-12.org.srbuild:Node1",
        "rd.iscsi.initiator=iqn.2026-12.org.srbuild:Node1 is not an iSCSI name",
    );
    fails(
        "sr_iqn rd.iscsi.initiator node1",
        "rd.iscsi.initiator=node1 is not",
    );
    fails(
        "sr_iqn rd.iscsi.initiator 'iqn.2026-12.org.x:a b'",
        "is not an iSCSI name",
    );
}

#[test]
fn the_description_and_init_agree_on_what_an_iscsi_name_is() {
    // cluster.toml's iscsi_initiator is checked in Rust (srbuild_cluster::valid_iscsi_name)
    // and again by /init (sr_iqn); both must take and refuse the same names.
    let long = format!("iqn.2026-12.org.x:{}", "a".repeat(205));
    let longer = format!("{long}a");
    for name in [
        "iqn.2026-12.org.srbuild:node1",
        "iqn.2026-12.lab.srbuild:root",
        "iqn.2001-04.com.example:storage.disk1.sys1.xyz",
        "iqn.2026-12.0rg:x",
        "eui.02004567A425678D",
        "eui.02004567a425678d",
        "eui.02004567A425678",
        "iqn.2026-12.org.srbuild:Node1",
        "iqn.2026-1.org.x",
        "iqn.2026-12.",
        "iqn.2026-12.-x",
        "iqn.2026-12.org.x:a b",
        "iqn.2026-12.org.x:a_b",
        "naa.52004567BA64678D",
        "node1",
        "",
        &long,
        &longer,
    ] {
        let rust = srbuild_cluster::valid_iscsi_name(name);
        let (sh, out) = run(&format!("sr_iqn n '{name}'"));
        assert_eq!(
            rust, sh,
            "{name:?}: Rust says {rust}, sr_iqn says {sh} ({out})"
        );
    }
}

#[test]
fn the_description_knows_the_initiator_name_init_makes_up() {
    // cluster.toml refuses an iscsi_initiator equal to the name /init gives a node without
    // one (srbuild_cluster::description::default_iscsi_name); both must make the same name.
    let hook = include_str!("../../modules/iscsi/iscsi-login.sh.hbs");
    let line = hook
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("SR_ISCSI_INITIATOR=iqn.2026-12.org.srbuild:"))
        .expect("the hook's made-up initiator name");
    for node in ["node1", "Node_2", "web.a-b", "x y"] {
        let (ok, out) = run(&format!(
            "SR_NODE_NAME='{node}'\n{line}\necho \"$SR_ISCSI_INITIATOR\""
        ));
        assert!(ok, "{out}");
        assert_eq!(
            out.trim_end(),
            srbuild_cluster::description::default_iscsi_name(node),
            "{node}"
        );
    }
}

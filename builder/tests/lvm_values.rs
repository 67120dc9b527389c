//! The LVM name check of `/init`'s library (`templates/lib/lvm.sh`) under busybox sh, as
//! the image runs it: dracut's `rd.lvm.lv=VG/LV` split into its names, and every bad value
//! (no slash, two, an empty or dash-led name, a character LVM refuses, shell syntax)
//! refused with one FAILED line naming it.

mod common;

const LVM: &str = include_str!("../templates/lib/lvm.sh");

/// Runs `script` after the library ([`common::run_lib`]); returns (exit status, stdout).
fn run(script: &str) -> (bool, String) {
    common::run_lib(LVM, script)
}

fn fails(value: &str, naming: &str) {
    let (ok, out) = run(&format!("sr_lvm_lv rd.lvm.lv '{value}'\necho reached"));
    assert!(!ok, "{value}: should fail, printed {out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "{value}: one line, got {out}");
    assert!(
        lines[0].starts_with("srbuild: FAILED stage=cmdline: rd.lvm.lv=")
            && lines[0].contains(naming),
        "{value}: {out}"
    );
}

#[test]
fn a_volume_is_split_into_its_group_and_name() {
    let (ok, out) = run(
        "sr_lvm_lv rd.lvm.lv labvg/root\necho \"$SR_LVM_VG|$SR_LVM_NAME\"\n\
         sr_lvm_lv rd.lvm.lv vg_0.a+b/lv-1_x\necho \"$SR_LVM_VG|$SR_LVM_NAME\"",
    );
    assert!(ok, "{out}");
    assert_eq!(out, "labvg|root\nvg_0.a+b|lv-1_x\n");
}

#[test]
fn bad_volume_names_fail_naming_the_value() {
    fails(
        "root",
        "rd.lvm.lv=root: write the volume group and the logical volume as VG/LV",
    );
    fails("/root", "as VG/LV");
    fails("vg/", "as VG/LV");
    fails(
        "a/b/c",
        "rd.lvm.lv=a/b/c: name one volume group and one logical volume",
    );
    fails("-vg/root", "the volume group name '-vg' is not an LVM name");
    fails("vg/..", "the logical volume name '..' is not an LVM name");
    fails(
        "vg/ro ot",
        "the logical volume name 'ro ot' is not an LVM name",
    );
    fails(
        "vg/$(reboot)",
        "the logical volume name '$(reboot)' is not an LVM name",
    );
    fails("vg/a;reboot", "'a;reboot' is not an LVM name");
    fails(
        &format!("vg/{}", "x".repeat(128)),
        "longer than 127 characters",
    );
}

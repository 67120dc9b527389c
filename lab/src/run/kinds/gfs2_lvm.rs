//! GFS2 on a shared LVM volume over iSCSI: the gfs2-iscsi kind with a clustered volume group
//! on the LUN. The seed makes it as a site's first node would (a one-node corosync and dlm
//! cluster of the lab's name, lvmlockd, `vgcreate --shared`, one LV, mkfs.gfs2) and fills
//! the LV; every client starts the VG (`vgchange --lock-start`) and activates the LV shared
//! (`lvchange -asy`) after dlm_controld, with `rd.lvm.lv=`; lvmlockd, like iscsid, is a
//! root storage daemon that outlives `switch_root`.

use super::{gfs2, gfs2_iscsi, Check, Formatter, RootArgs, RootKind, SharedFormat, Storage};
use crate::error::Result;
use crate::run::scenarios::Scenario;
use std::path::Path;

/// The volume group and logical volume of the root, as `rd.lvm.lv=` names it.
pub const ROOT_LV: &str = "labvg/root";

pub const KIND: RootKind = RootKind {
    name: "gfs2-lvm",
    doc: "The gfs2-iscsi LUN holding a shared LVM volume group (lvmlockd, lock type dlm); every node activates the root LV shared (lvchange -asy) and mounts it with lock_dlm.",
    modules: &["gfs2", "iscsi", "lvm"],
    client_profile: "gfs2-lvm",
    storage: Storage::Target(FORMATTER),
    seed: Some(super::SEED_LVM),
    checks: &[
        Check::Daemon("corosync"),
        Check::Daemon("dlm_controld"),
        Check::Quorum,
        Check::Daemon("iscsid"),
        Check::IscsiSession(super::TARGET_IQN),
        Check::IscsiInitiator(super::INITIATOR_PREFIX),
        Check::IscsiChap(super::CHAP_USER),
        Check::Daemon("lvmlockd"),
        Check::LvShared(ROOT_LV),
    ],
    scenarios: &[Scenario::Normal, Scenario::MissingLv, Scenario::UnsharedVg],
    root_args,
    ..gfs2_iscsi::KIND
};

/// The host leaves the disk blank: the seed makes the volume group and the filesystem in it
/// (lvmlockd must run for `vgcreate --shared`, and it needs a dlm cluster).
const FORMATTER: Formatter = Formatter {
    tool: "",
    slots_word: "journals",
    run: blank,
    ..gfs2::FORMATTER
};

fn blank(_disk: &Path, _f: &SharedFormat) -> Result<()> {
    Ok(())
}

/// The iSCSI kind's arguments with the root on the LV (`missing-lv`: an LV the volume group
/// does not have, which must fail at mount-root naming it).
fn root_args(a: &RootArgs) -> Vec<String> {
    let lv = if a.wrong_root { MISSING_LV } else { ROOT_LV };
    let mut args: Vec<String> = gfs2_iscsi::root_args_of(a)
        .into_iter()
        .map(|s| {
            if s == "root=/dev/sda" {
                format!("root=/dev/{lv}")
            } else {
                s
            }
        })
        .collect();
    args.push(format!("rd.lvm.lv={lv}"));
    args
}

/// A logical volume the seed does not make.
const MISSING_LV: &str = "labvg/missing";

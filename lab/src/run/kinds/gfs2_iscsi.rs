//! GFS2 over iSCSI: the gfs2 kind's disk (formatted on the host, filled by the seed) is
//! served by a target node running tgtd from its initramfs; every client logs in with
//! open-iscsi (`netroot=iscsi:…`, iscsid as a root storage daemon) and mounts the LUN with
//! lock_dlm, as on the raw disk.

use super::{gfs2, Check, RootArgs, RootKind, Storage, INITIATOR_PREFIX, TARGET, TARGET_IQN};
use crate::run::scenarios::Scenario;

pub const KIND: RootKind = RootKind {
    name: "gfs2-iscsi",
    doc: "The gfs2 disk as one iSCSI LUN of a target node (tgtd); every node logs in (iscsid) and mounts it with lock_dlm.",
    modules: &["gfs2", "iscsi"],
    client_profile: "gfs2-iscsi",
    storage: Storage::Target(gfs2::FORMATTER),
    server: Some(TARGET),
    checks: &[
        Check::Daemon("corosync"),
        Check::Daemon("dlm_controld"),
        Check::Quorum,
        Check::Daemon("iscsid"),
        Check::IscsiSession(TARGET_IQN),
        Check::IscsiInitiator(INITIATOR_PREFIX),
        Check::IscsiChap(super::CHAP_USER),
    ],
    scenarios: &[Scenario::Normal, Scenario::ServerDown, Scenario::BadChap],
    root_args,
    ..gfs2::KIND
};

fn root_args(a: &RootArgs) -> Vec<String> {
    root_args_of(a)
}

/// The kind's root arguments, for the kinds built on it.
pub(super) fn root_args_of(a: &RootArgs) -> Vec<String> {
    super::iscsi_root_args(a, gfs2::root_args)
}

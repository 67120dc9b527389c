//! OCFS2 over iSCSI: the ocfs2 kind's disk (formatted on the host, filled by the seed) is
//! served by a target node running tgtd; every client logs in with open-iscsi
//! (`netroot=iscsi:…`) and mounts the LUN with o2cb and local disk heartbeat.

use super::{ocfs2, Check, RootArgs, RootKind, Storage, INITIATOR_PREFIX, TARGET, TARGET_IQN};
use crate::run::scenarios::Scenario;

pub const KIND: RootKind = RootKind {
    name: "ocfs2-iscsi",
    doc: "The ocfs2 disk as one iSCSI LUN of a target node (tgtd); every node logs in (iscsid) and mounts it with o2cb.",
    modules: &["ocfs2", "iscsi"],
    client_profile: "ocfs2-iscsi",
    storage: Storage::Target(ocfs2::FORMATTER),
    server: Some(TARGET),
    checks: &[
        Check::O2cb(crate::run::topology::CLUSTER),
        Check::Daemon("iscsid"),
        Check::IscsiSession(TARGET_IQN),
        Check::IscsiInitiator(INITIATOR_PREFIX),
        Check::IscsiChap(super::CHAP_USER),
    ],
    scenarios: &[Scenario::Normal],
    root_args,
    ..ocfs2::KIND
};

fn root_args(a: &RootArgs) -> Vec<String> {
    super::iscsi_root_args(a, ocfs2::root_args)
}

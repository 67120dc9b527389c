//! GFS2 over two iSCSI paths: the gfs2-iscsi kind on two networks. The target listens on
//! both; every client logs in through both portals (two SCSI disks of one LUN) and
//! multipath-tools assemble them into one dm-multipath map before the gfs2 mount;
//! multipathd, like iscsid, is a root storage daemon that outlives `switch_root`.

use super::{gfs2, gfs2_iscsi, Check, RootArgs, RootKind, INITIATOR_PREFIX, TARGET_IQN};
use crate::run::scenarios::Scenario;

pub const KIND: RootKind = RootKind {
    name: "gfs2-multipath",
    doc: "The gfs2-iscsi LUN over two networks: two sessions per node, one dm-multipath map (multipathd) under the lock_dlm mount.",
    modules: &["gfs2", "iscsi", "multipath"],
    client_profile: "gfs2-multipath",
    networks: 2,
    checks: &[
        Check::Daemon("corosync"),
        Check::Daemon("dlm_controld"),
        Check::Quorum,
        Check::Daemon("iscsid"),
        Check::IscsiSession(TARGET_IQN),
        Check::IscsiInitiator(INITIATOR_PREFIX),
        Check::IscsiChap(super::CHAP_USER),
        Check::Daemon("multipathd"),
    ],
    scenarios: &[Scenario::Normal, Scenario::PathFails],
    root_args,
    ..gfs2_iscsi::KIND
};

/// The iSCSI kind's arguments (a portal per network), with session timeouts short enough
/// that a dead path is failed within seconds: a NOP-Out every 2 s, answered within 2 s,
/// and the session's I/O handed back to dm-multipath 5 s after the connection dropped
/// (open-iscsi's defaults, 5 + 5 + 120 s, would stall the root two minutes).
fn root_args(a: &RootArgs) -> Vec<String> {
    let mut args = super::iscsi_root_args(a, gfs2::root_args);
    args.extend(
        [
            "rd.iscsi.param=node.conn[0].timeo.noop_out_interval=2",
            "rd.iscsi.param=node.conn[0].timeo.noop_out_timeout=2",
            "rd.iscsi.param=node.session.timeo.replacement_timeout=5",
        ]
        .map(String::from),
    );
    args
}

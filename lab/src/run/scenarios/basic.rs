//! The everyday scenarios: every node boots and passes, or a client the description does
//! not know, or one asking for a root that is not there (or an image whose hash is not the
//! one given, or a volume group that is not shared), fails where it should.

use super::{ScenarioSpec, VerdictSpec, BASE};
use crate::run::scenarios::Scenario;

pub const NORMAL: ScenarioSpec = ScenarioSpec {
    id: Scenario::Normal,
    name: "normal",
    doc: "Every node boots the root and passes the agent's checks; on a shared root each sees the others' writes.",
    ..BASE
};

pub const WRONG_ROOT_PATH: ScenarioSpec = ScenarioSpec {
    id: Scenario::WrongRootPath,
    name: "wrong-root-path",
    doc: "Clients ask for an export that does not exist: `FAILED stage=mount-root`.",
    verdict: VerdictSpec::Fail {
        stage: "mount-root",
        why_has: &[],
    },
    wrong_root: true,
    ..BASE
};

pub const MISSING_LV: ScenarioSpec = ScenarioSpec {
    id: Scenario::MissingLv,
    name: "missing-lv",
    doc: "Clients ask for a logical volume the shared volume group does not have (`rd.lvm.lv=labvg/missing`): `FAILED stage=mount-root` naming it and the volumes there are.",
    verdict: VerdictSpec::Fail {
        stage: "mount-root",
        why_has: &["volume group labvg has no logical volume missing (it has: root)"],
    },
    wrong_root: true,
    ..BASE
};

pub const BAD_CHAP: ScenarioSpec = ScenarioSpec {
    id: Scenario::BadChap,
    name: "bad-chap",
    doc: "The clients' images hold another CHAP secret than the iSCSI target's account: `FAILED stage=mount-root` naming the target, the portal, the initiator and the CHAP user, once the refusal has repeated.",
    verdict: VerdictSpec::Fail {
        stage: "mount-root",
        why_has: &[
            "cannot mount iscsi target iqn.2026-12.lab.srbuild:root at portal 10.77.0.1:3260",
            "authorization failure: the target refused initiator iqn.2026-12.lab.srbuild.node:node1 with CHAP user lab-root",
        ],
    },
    wrong_chap: true,
    ..BASE
};

pub const UNSHARED_VG: ScenarioSpec = ScenarioSpec {
    id: Scenario::UnsharedVg,
    name: "unshared-vg",
    doc: "The seed makes the volume group local (`vgcreate` without `--shared`), as a site that forgot lvmlockd would: clients refuse it with `FAILED stage=mount-root` naming the group, its lock type and how to convert it, before activating anything.",
    seed_args: &["srbuild.seed.lvm.shared=0"],
    verdict: VerdictSpec::Fail {
        stage: "mount-root",
        why_has: &[
            "rd.lvm.lv=labvg/root: volume group labvg is not shared (lock type 'none')",
            "vgchange --lock-type dlm labvg",
        ],
    },
    ..BASE
};

pub const UNKNOWN_NODE: ScenarioSpec = ScenarioSpec {
    id: Scenario::UnknownNode,
    name: "unknown-node",
    doc: "A client whose MAC is not in the cluster description: `FAILED stage=identity`.",
    verdict: VerdictSpec::Fail {
        stage: "identity",
        why_has: &[],
    },
    unknown_macs: true,
    ..BASE
};

/// The hash the bad-hash scenario gives: 64 hexadecimal digits, so the command line is
/// accepted, and not the image's.
macro_rules! wrong_sha256 {
    () => {
        "0000000000000000000000000000000000000000000000000000000000000000"
    };
}

pub const BAD_HASH: ScenarioSpec = ScenarioSpec {
    id: Scenario::BadHash,
    name: "bad-hash",
    doc: "Clients are given a root image hash that is not the image's (`srbuild.root_sha256=` 64 zeros, last on the line): `FAILED stage=mount-root` naming both hashes; nothing of the image is used.",
    client_args: &[concat!("srbuild.root_sha256=", wrong_sha256!())],
    verdict: VerdictSpec::Fail {
        stage: "mount-root",
        why_has: &[concat!(
            "the image at http://{server_ip}/root.img has SHA-256 {root_sha256}, but srbuild.root_sha256=",
            wrong_sha256!(),
            "; nothing of it was used (rebuild it, or give the hash srbuild rootimage printed)"
        )],
    },
    ..BASE
};

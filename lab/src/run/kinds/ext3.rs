//! The ext3 root: one base image made from the tree, a copy-on-write overlay per node (a
//! local root, so the nodes do not see each other's writes).

use super::{RootArgs, RootKind, Sizes, Storage};
use crate::run::scenarios::Scenario;

pub const KIND: RootKind = RootKind {
    name: "ext3",
    doc: "One base image made from the tree, a copy-on-write overlay per node (a local root: the nodes do not see each other's writes).",
    modules: &["ext3"],
    client_profile: "ext3",
    client_memory_mb: 384,
    fstype: "ext3",
    shared: false,
    fencing: false,
    storage: Storage::Overlay { fs: "ext3" },
    networks: 1,
    sizes: Sizes {
        disk_mb: 128,
        source_mb: 0,
    },
    debian: None,
    seed: None,
    server: None,
    checks: &[],
    scenarios: &[Scenario::Normal, Scenario::UnknownNode],
    death_seen: None,
    recovery_seen: None,
    client_input: None,
    hybrid_from: None,
    options: &[],
    root_args,
};

fn root_args(_: &RootArgs) -> Vec<String> {
    vec!["root=LABEL=labroot".into(), "rootfstype=ext3".into()]
}

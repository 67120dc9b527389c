//! Fault scenarios: a late or absent server, a node killed once every node passed, a
//! member alone without quorum.

use super::{Boots, ScenarioSpec, ServerPolicy, VerdictSpec, Victim, BASE};
use crate::run::scenarios::Scenario;

pub const LATE_SERVER: ScenarioSpec = ScenarioSpec {
    id: Scenario::LateServer,
    name: "late-server",
    doc: "The server starts 20 s after the clients, which must retry and pass.",
    server: ServerPolicy::Late(20),
    ..BASE
};

pub const NODE_DIES: ScenarioSpec = ScenarioSpec {
    id: Scenario::NodeDies,
    name: "node-dies",
    doc: "Once every node passed, one node's QEMU is killed; the survivors must notice and go on writing to the shared root.",
    victim: Victim::Client,
    min_nodes: Some((2, "one dies, the others go on")),
    fsck: true,
    ..BASE
};

pub const LONE_NODE: ScenarioSpec = ScenarioSpec {
    id: Scenario::LoneNode,
    name: "lone-node",
    doc: "Only the first of the described members boots: `FAILED stage=cluster` (no quorum).",
    verdict: VerdictSpec::Fail {
        stage: "cluster",
        why_has: &["no quorum"],
    },
    boots: Boots::First,
    min_nodes: Some((
        3,
        "3 described nodes, since with 2 two_node keeps one node quorate",
    )),
    no_quorum: true,
    ..BASE
};

pub const SERVER_DOWN: ScenarioSpec = ScenarioSpec {
    id: Scenario::ServerDown,
    name: "server-down",
    doc: "The server never starts: the clients retry, then `FAILED stage=mount-root` naming it.",
    // Give up soon: nothing will answer.
    client_args: &["srbuild.mount_timeout=30"],
    verdict: VerdictSpec::Fail {
        stage: "mount-root",
        why_has: &["{server_ip}", "gave up"],
    },
    server: ServerPolicy::Absent,
    ..BASE
};

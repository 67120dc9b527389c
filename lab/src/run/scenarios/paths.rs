//! Two paths to the storage: a second L2 segment, and a path cut and restored once every
//! client passed.

use super::{CutNodes, LinkCut, ScenarioSpec, Victim, BASE};
use crate::run::scenarios::Scenario;

pub const PATH_FAILS: ScenarioSpec = ScenarioSpec {
    id: Scenario::PathFails,
    name: "path-fails",
    doc: "Two networks, so two paths to the storage; once every node passed, the server's link on the second network is cut for 20 s (longer, up to 90 s more, until every node saw its path fail): every node must see the path fail (dm-multipath's `Failing path`), go on writing to the shared root, and see it reinstated once the link is back; the longest gap between writes is reported.",
    networks: 2,
    cut: Some(LinkCut {
        nodes: CutNodes::Server,
        segment: 1,
        secs: 20,
        down_seen: "Failing path",
        up_seen: "Reinstating path",
    }),
    // The agent goes on writing (LAB-BEAT) after it passed; nobody is killed.
    victim: Victim::None,
    ..BASE
};

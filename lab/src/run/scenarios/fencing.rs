//! Scenarios of the fencing safety property: a member cut off from the others while it
//! keeps running, and a member that dies while its BMC cannot be reached.

use super::{ScenarioSpec, Victim, BASE};
use crate::run::scenarios::Scenario;

pub const PARTITION: ScenarioSpec = ScenarioSpec {
    id: Scenario::Partition,
    name: "partition",
    doc: "Once every node passed, the last node's link to the others is cut while it keeps running: it loses quorum and must be fenced (its BMC powers its QEMU off, or o2cb makes it fence itself) before anyone replays its journal; the others go on writing, and the shared disk checks clean at the end.",
    victim: Victim::Isolated,
    min_nodes: Some((2, "one is cut off, the others go on")),
    fsck: true,
    ..BASE
};

pub const FENCE_DEVICE_DOWN: ScenarioSpec = ScenarioSpec {
    id: Scenario::FenceDeviceDown,
    name: "fence-device-down",
    doc: "Once every node passed, the last node dies while its BMC is unreachable for 60 s: nobody may replay its journal meanwhile (dlm retries the fence; writes stay blocked), and at least one fence request must meet the unreachable BMC; once the BMC answers, the fence succeeds, the journal is replayed and the others write again; the shared disk checks clean at the end.",
    victim: Victim::Client,
    min_nodes: Some((2, "one dies, the others wait for its fence")),
    bmc_down: 60,
    fsck: true,
    ..BASE
};

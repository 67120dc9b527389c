//! Root modes: the root copied into RAM (all of it, or all but `/usr`), and the failures
//! the mode's arguments must produce.

use super::{RootMode, ScenarioSpec, VerdictSpec, Victim, BASE};
use crate::run::scenarios::Scenario;

pub const RAM_ROOT: ScenarioSpec = ScenarioSpec {
    id: Scenario::RamRoot,
    name: "ram-root",
    doc: "`srbuild.rootmode=ram`: the root is copied into a tmpfs; once every node passed, the server is stopped and the nodes must go on writing.",
    client_args: &["srbuild.rootmode=ram", "srbuild.ramsize=160M"],
    verdict: VerdictSpec::Pass {
        lines: &["srbuild: root in RAM (mode "],
    },
    // A root in RAM outlives its server.
    victim: Victim::Server,
    root_mode: RootMode::Ram,
    ..BASE
};

pub const HYBRID_ROOT: ScenarioSpec = ScenarioSpec {
    id: Scenario::HybridRoot,
    name: "hybrid-root",
    doc: "`srbuild.rootmode=hybrid srbuild.hybrid=/usr`: all but /usr in RAM, /usr read-only from the network.",
    client_args: &[
        "srbuild.rootmode=hybrid",
        "srbuild.hybrid=/usr",
        "srbuild.ramsize=160M",
    ],
    verdict: VerdictSpec::Pass {
        lines: &["srbuild: root in RAM (mode "],
    },
    root_mode: RootMode::Hybrid,
    ..BASE
};

pub const BAD_ROOTMODE: ScenarioSpec = ScenarioSpec {
    id: Scenario::BadRootmode,
    name: "bad-rootmode",
    doc: "`srbuild.rootmode=bogus`: `FAILED stage=cmdline` naming it.",
    client_args: &["srbuild.rootmode=bogus"],
    verdict: VerdictSpec::Fail {
        stage: "cmdline",
        why_has: &["srbuild.rootmode=bogus"],
    },
    ..BASE
};

pub const RAM_TOO_SMALL: ScenarioSpec = ScenarioSpec {
    id: Scenario::RamTooSmall,
    name: "ram-too-small",
    doc: "`srbuild.rootmode=ram srbuild.ramsize=1M`: `FAILED stage=mount-root` before copying.",
    client_args: &["srbuild.rootmode=ram", "srbuild.ramsize=1M"],
    verdict: VerdictSpec::Fail {
        stage: "mount-root",
        why_has: &["more than srbuild.ramsize=1M"],
    },
    ..BASE
};

pub const HYBRID_MISSING_PATH: ScenarioSpec = ScenarioSpec {
    id: Scenario::HybridMissingPath,
    name: "hybrid-missing-path",
    doc: "`srbuild.rootmode=hybrid srbuild.hybrid=/no-such-dir`: `FAILED stage=mount-root` naming the path.",
    client_args: &[
        "srbuild.rootmode=hybrid",
        "srbuild.hybrid=/usr,/no-such-dir",
    ],
    verdict: VerdictSpec::Fail {
        stage: "mount-root",
        why_has: &["srbuild.hybrid: /no-such-dir"],
    },
    ..BASE
};

//! A plan as plain text, one line per recipe, phase and node: what the snapshot tests
//! compare (`lab/tests/plans/*.txt`) and what a reviewer reads to see what a change does
//! to every run. Host-independent as the plan is (QEMU's path is left out).

use crate::qemu::Disk;
use crate::run::nodes::Expect;
use crate::run::plan::LabPlan;
use std::fmt::Write as _;

fn disk(d: &Disk) -> String {
    format!(
        "{} ({:?}{}{})",
        d.path.display(),
        d.format,
        if d.shared { ", shared" } else { "" },
        if d.readonly { ", read-only" } else { "" }
    )
}

impl LabPlan {
    /// The plan as text.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "kind {} scenario {} kver {} bzimage {}",
            self.kind.name,
            self.scenario,
            self.kver.as_deref().unwrap_or("(newest)"),
            self.bzimage
        );
        let _ = writeln!(s, "sysroot {}", self.sysroot);
        let _ = writeln!(s, "tools {}", self.tools.join(" "));
        let _ = writeln!(s, "victim {}", self.victim.as_deref().unwrap_or("-"));
        let _ = writeln!(
            s,
            "poweroff {}",
            self.poweroff
                .map(|d| format!("{} s", d.as_secs()))
                .unwrap_or_else(|| "-".into())
        );
        let _ = writeln!(s, "verdict within {} s", self.verdict_within.as_secs());
        // Shown only when there is one, so plans without them read as before.
        if self.networks > 1 {
            let _ = writeln!(s, "networks {}", self.networks);
        }
        if self.isolate {
            let _ = writeln!(s, "isolate the victim (its first NIC's link down)");
        }
        if let Some(d) = self.bmc_down {
            let _ = writeln!(
                s,
                "bmc-down the victim's BMC for {} s from its death",
                d.as_secs()
            );
        }
        if let Some(c) = &self.fsck {
            let _ = writeln!(s, "fsck {} {}", c.argv.join(" "), c.disk.display());
        }
        if let Some(c) = &self.cut {
            let _ = writeln!(
                s,
                "cut nic {} of {} for {} s, then restore; expect \"{}\" then \"{}\"",
                c.nic,
                c.nodes.join(" "),
                c.down_for.as_secs(),
                c.down_seen,
                c.up_seen
            );
        }
        for r in &self.recipes {
            let _ = writeln!(s, "make {r}");
        }
        for p in &self.phases {
            let _ = writeln!(
                s,
                "phase {} delay {} s{}{}",
                p.name,
                p.delay.as_secs(),
                if p.blocking { " blocking" } else { "" },
                if p.together { " together" } else { "" }
            );
            for r in &p.recipes {
                let _ = writeln!(s, "  make {r}");
            }
            for n in &p.nodes {
                let v = &n.spec;
                let _ = writeln!(
                    s,
                    "  node {} id {} ip {} role {}",
                    n.node.name,
                    n.node.id,
                    n.node.ip,
                    n.node.role.unwrap_or("-")
                );
                let _ = writeln!(
                    s,
                    "    vm {} MiB {} cpu kernel {} initrd {} dir {}{}",
                    v.memory_mb,
                    v.cpus,
                    v.kernel.display(),
                    v.initrd.display(),
                    v.dir.display(),
                    if v.netboot { " netboot" } else { "" }
                );
                for nic in &v.nics {
                    match nic.net {
                        0 => writeln!(s, "    nic {}", nic.mac),
                        k => writeln!(s, "    nic {} segment {k}", nic.mac),
                    }
                    .unwrap_or_default();
                }
                for d in &v.disks {
                    let _ = writeln!(s, "    disk {}", disk(d));
                }
                for b in self.bmcs.iter().filter(|b| b.node == n.node.name) {
                    let _ = writeln!(
                        s,
                        "    bmc {} ipmi_sim {} password {}",
                        b.address,
                        b.dir.display(),
                        b.password_file.display()
                    );
                }
                let _ = writeln!(s, "    append {}", v.append);
                let _ = writeln!(s, "    expect {}", expect(&n.expect));
            }
        }
        s
    }
}

fn expect(e: &Expect) -> String {
    match e {
        Expect::Ready { marker, stopped } => {
            format!(
                "ready {marker}{}",
                if *stopped { ", then stopped" } else { "" }
            )
        }
        Expect::Verdict {
            fail_stage,
            why_has,
            lines,
        } => {
            let mut s = match fail_stage {
                None => "LAB-PASS".to_string(),
                Some(st) => format!("FAILED stage={st}"),
            };
            for w in why_has {
                let _ = write!(s, " naming \"{w}\"");
            }
            for l in lines {
                let _ = write!(s, " with line \"{l}\"");
            }
            s
        }
        Expect::Console { line, forbid } => format!("console \"{line}\", never \"{forbid}\""),
    }
}

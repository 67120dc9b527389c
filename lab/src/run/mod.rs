//! A lab run: plan it ([`plan`]: the root kind from [`kinds`], the scenario from
//! [`scenarios`], the nodes and the recipes of images and disks), make what it needs
//! ([`materialize`]), boot and follow it ([`runner`]), and report (JUnit, timeline, logs). `test` tears
//! everything down; `up` leaves the cluster running for `status`, `console` and `down`.

pub mod afterdeath;
pub mod artifacts;
pub mod bricks;
pub mod cache;
pub mod control;
pub mod docs;
pub mod fencing;
pub mod kinds;
pub mod linkcut;
pub mod materialize;
pub mod matrix;
pub mod nodes;
pub mod plain_modules;
pub mod plan;
pub mod pvh;
pub mod recipe;
pub mod releases;
pub mod render;
pub mod rootfs;
pub mod roottree;
pub mod runner;
pub mod scenarios;
pub mod storage;
pub mod sysroots;
pub mod topology;
pub mod verdict;

use crate::error::{LabError, Result};
use crate::report::{self, NodeResult};
use crate::timeout::scaled;
use scenarios::Scenario;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// `<dir>/traffic.tsv`: frames and bytes the hub delivered per (sender, receiver), written
/// by `lab test` once every client has its verdict ([`crate::hub::Traffic`]).
pub const TRAFFIC: &str = "traffic.tsv";

/// What `srbuild lab test|up` was asked for.
#[derive(Debug, Clone)]
pub struct LabOptions {
    /// `--root`: the root kind (nfs, ext3, gfs2, ocfs2).
    pub root: Option<String>,
    /// `--profile`: the clients' profile (its modules choose the kind without `--root`).
    pub profile: Option<String>,
    /// Client nodes (the cluster's members).
    pub nodes: usize,
    /// Journals (gfs2) or node slots (ocfs2) of the shared disk; default `nodes`.
    pub slots: Option<usize>,
    pub dir: PathBuf,
    /// Boot this client image instead of building one (e.g. a dracut image).
    pub initrd: Option<PathBuf>,
    pub junit: Option<PathBuf>,
    pub scenario: Scenario,
    /// `--opt key=value`: options of the root kind (its descriptor lists them).
    pub kind_opts: Vec<String>,
    pub kver: Option<String>,
    /// `--sysroot DIR` or `--distro N`: the tree every image is built from and whose
    /// kernel boots (default: the host's `/`).
    pub sysroot: sysroots::Sysroot,
    /// `--distro N`: also the release of a Debian root that names none.
    pub distro: Option<&'static releases::Release>,
    /// Extra kernel arguments for every client.
    pub append: Vec<String>,
    /// `lab up`: leave the VMs and the hub running after the verdicts.
    pub detached: bool,
    /// What the shared root is made of (`--rootfs`).
    pub rootfs: rootfs::RootFs,
    /// Start the clients only once the server serves (`--server-first`): a boot then
    /// measures the initramfs alone, not the server's start.
    pub server_first: bool,
    /// `--together`: start every client paused and release them all at one moment once
    /// each QEMU is up (a boot storm); their times count from that moment.
    pub together: bool,
    /// `--bzimage`: boot `/boot/vmlinuz-*` as it is, not its vmlinux through PVH
    /// ([`pvh`]).
    pub bzimage: bool,
}

/// The outcome of `lab test`.
#[derive(Debug)]
pub struct Outcome {
    pub kind: &'static str,
    pub results: Vec<NodeResult>,
    pub junit: PathBuf,
    pub timeline: PathBuf,
    pub wall: Duration,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.results.iter().all(|r| r.passed)
    }
}

/// Boots, checks and tears down (or leaves running with `detached`). Returns the outcome
/// (also when nodes failed); an error means the run could not be judged.
pub fn test(opts: &LabOptions) -> Result<Outcome> {
    let _guard = crate::cleanup::Guard::new()?;
    let start = Instant::now();
    let kind = kinds::choose(opts.root.as_deref(), opts.profile.as_deref())?;
    let mut plan = plan::plan(opts, kind)?;
    let host = materialize::prepare(&mut plan)?;
    let hub = control::Net::start(opts, plan.networks)?;
    // The BMCs live as long as this process: `lab up` leaves none behind.
    let bmcs = fencing::start(&plan.bmcs, &host.bmc_credentials, hub.dir())?;
    if let Some(b) = &bmcs {
        plan.wire_bmcs(&b.wiring);
    }
    let mut started = runner::run(&plan, &host, hub.dir())?;
    if let Some(victim) = &plan.victim {
        if started
            .clients
            .iter()
            .all(|c| c.verdict.as_ref().is_some_and(|v| v.0))
        {
            let gateway = bmcs.as_ref().map(|b| &b.gateway);
            if gateway.is_some() || plan.isolate {
                // A kind that fences: the victim must go down (fenced) before anyone
                // recovers its journal.
                if let (Some(_), Some(g)) = (plan.bmc_down, gateway) {
                    g.set_down(victim, true)?;
                }
                if let Some((died, t0)) = runner::stop_victim(&mut started, victim, plan.isolate)? {
                    afterdeath::watch(
                        &mut started,
                        &afterdeath::Watch {
                            victim,
                            died,
                            t0,
                            what: if plan.isolate { "cut-off" } else { "death" },
                            gateway,
                            bmc_down: plan.bmc_down,
                            recovery_seen: plan.kind.recovery_seen,
                            death_seen: plan.kind.death_seen,
                            bound: scaled(Duration::from_secs(180))
                                + plan.bmc_down.unwrap_or_default(),
                        },
                    )?;
                }
            } else {
                runner::kill_one(
                    &mut started,
                    victim,
                    plan.kind.death_seen,
                    scaled(Duration::from_secs(180)),
                )?;
            }
        }
    }
    if let Some(cut) = &plan.cut {
        if started
            .clients
            .iter()
            .all(|c| c.verdict.as_ref().is_some_and(|v| v.0))
        {
            linkcut::cut_link(&mut started, cut, scaled(Duration::from_secs(90)))?;
        }
    }
    if let (Some(check), false) = (&plan.fsck, opts.detached) {
        runner::quiesce(&mut started, check.settle, scaled(Duration::from_secs(30)))?;
    }
    let mut results: Vec<NodeResult> = started.clients.iter().map(|c| c.result()).collect();
    if let (Some(_), Some(b)) = (plan.poweroff, &bmcs) {
        // An orderly power-off leaves the lockspace and the cluster through the exitrd
        // (modules/exitrd): a survivor that still fences the node took the leave for a
        // failure, which with a reboot would have powered the rebooting node off.
        for r in results.iter_mut() {
            if let Ok(s) = b.gateway.stats(&r.name) {
                if s.sessions > 0 {
                    r.passed = false;
                    r.message.push_str(&format!(
                        "; its BMC saw {} login(s) during the run: fenced, although it left by \
                         powering off (the leave was not clean)",
                        s.sessions
                    ));
                }
            }
        }
    }
    if opts.detached {
        let mut state = control::State::default();
        for r in started.services.into_iter().chain(started.clients) {
            state.nodes.push((
                r.plan.node.name.clone(),
                r.plan.node.ip.clone(),
                r.vm.log_path(),
            ));
            r.vm.detach();
        }
        state.save(&opts.dir)?;
        hub.detach();
    } else {
        if let Some(t) = hub.traffic() {
            // What each node sent to each other one, as the hub delivered it.
            let path = opts.dir.join(TRAFFIC);
            srbuild_fsio::write_file(&path, t.tsv().as_bytes(), 0o644, None)
                .map_err(|e| LabError::io("cannot write", &path, e))?;
        }
        for mut r in started.services.into_iter().chain(started.clients) {
            let _ = r.vm.kill();
        }
        drop(bmcs);
        drop(hub);
        if let Some(check) = &plan.fsck {
            fsck_shared(check, &mut results)?;
        }
    }
    let junit = opts
        .junit
        .clone()
        .unwrap_or_else(|| opts.dir.join("junit.xml"));
    let suite = format!("srbuild-lab-{}-{}", plan.kind.name, opts.scenario);
    report::write_junit(&junit, &suite, &results)?;
    let timeline = opts.dir.join("timeline.svg");
    report::write_timeline_svg(&timeline, &results)?;
    Ok(Outcome {
        kind: plan.kind.name,
        results,
        junit,
        timeline,
        wall: start.elapsed(),
    })
}

/// The host's read-only check of the shared disk, once every VM is gone: clean, or every
/// node's verdict fails with the tool's last lines (its whole output is in the run dir).
fn fsck_shared(check: &plan::DiskCheck, results: &mut [NodeResult]) -> Result<()> {
    let out = std::process::Command::new(check.argv[0])
        .args(&check.argv[1..])
        .arg(&check.disk)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| LabError::Invalid(format!("{}: cannot run: {e}", check.argv[0])))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let log = check.disk.with_extension("fsck.log");
    srbuild_fsio::write_file(&log, text.as_bytes(), 0o644, None)
        .map_err(|e| LabError::Invalid(format!("{}: {e}", log.display())))?;
    let what = format!("{} {}", check.argv.join(" "), check.disk.display());
    let leaks = check.leaks_only.and_then(|f| f(&text));
    let clean = out.status.success() || leaks.is_some();
    let note = if out.status.success() {
        println!("lab: {what}: clean");
        format!("; {} clean", check.argv.join(" "))
    } else if let Some(found) = &leaks {
        println!("lab: {what}: clean but for {found}; see {}", log.display());
        format!("; {} clean but for {found}", check.argv.join(" "))
    } else {
        let tail: Vec<&str> = text.lines().rev().take(3).collect();
        println!(
            "lab: {what}: NOT clean ({}); see {}",
            out.status,
            log.display()
        );
        format!(
            "; {} NOT clean ({}): {}",
            check.argv.join(" "),
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
        )
    };
    for r in results.iter_mut() {
        r.passed &= clean;
        r.message.push_str(&note);
    }
    Ok(())
}

/// The summary table printed after a run.
pub fn summary(o: &Outcome) -> String {
    let mut s =
        String::from("node      result  /init    quorate  mounted  switch   wall     message\n");
    for r in &o.results {
        let at = |stage: &str| r.stages.iter().find(|(n, _)| n == stage).map(|(_, t)| *t);
        let f = |v: Option<f64>| {
            v.map(|t| format!("{t:6.2}s"))
                .unwrap_or_else(|| "     -".into())
        };
        s.push_str(&format!(
            "{:<9} {:<7} {:<8} {:<8} {:<8} {:<8} {:<8} {}\n",
            r.name,
            if r.passed { "PASS" } else { "FAIL" },
            f(r.kernel_init),
            f(at("quorate")),
            // The root is mounted when the next stage (cdsl) starts.
            f(at("cdsl")),
            f(at("switch")),
            format!("{:.1}s", r.duration.as_secs_f64()),
            r.message
        ));
    }
    s.push_str(&format!(
        "lab: {} root: {} of {} nodes passed in {:.1} s; junit {}, timeline {}\n",
        o.kind,
        o.results.iter().filter(|r| r.passed).count(),
        o.results.len(),
        o.wall.as_secs_f64(),
        o.junit.display(),
        o.timeline.display()
    ));
    s
}

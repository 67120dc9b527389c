//! Running a [`LabPlan`]: phases start in order (a blocking phase, the seed, holds the ones
//! after it until it is done; a delay holds just its own phase), service roles must get
//! ready (a phase started `together` is released at one moment once all its QEMUs are
//! up), every client gets a verdict, and in the node-dies scenario one node is killed and
//! the survivors must go on writing to the shared root.

use crate::console::{ConsoleEvent, ConsoleWatcher};
use crate::error::{LabError, Result};
use crate::qemu::Vm;
use crate::report::NodeResult;
use crate::run::materialize::Host;
use crate::run::nodes::Expect;
use crate::run::plan::{LabPlan, NodePlan};
use crate::run::verdict::{self, RoleLine, Verdict};
use crate::timeout::scaled;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

/// One started node.
pub struct Running {
    pub plan: NodePlan,
    pub vm: Vm,
    pub(crate) watch: ConsoleWatcher,
    started: Instant,
    pub verdict: Option<Verdict>,
    pub took: Duration,
    /// A service role printed its marker.
    ready: bool,
}

impl Running {
    fn start(plan: &NodePlan, accel: crate::Accel, hub: &Path, t0: Instant) -> Result<Running> {
        let hub = (!plan.spec.nics.is_empty()).then_some(hub);
        let vm = Vm::start(&plan.spec, accel, hub)?;
        println!(
            "[{:6.1}s] lab: started {} ({}) log {}",
            t0.elapsed().as_secs_f64(),
            plan.node.name,
            if plan.spec.nics.is_empty() {
                "no network"
            } else {
                plan.node.ip.as_str()
            },
            vm.log_path().display()
        );
        Ok(Running {
            watch: ConsoleWatcher::new(&plan.spec.log_path()),
            plan: plan.clone(),
            vm,
            started: Instant::now(),
            verdict: None,
            took: Duration::ZERO,
            ready: false,
        })
    }

    fn role_error(&self, why: String) -> LabError {
        LabError::Role {
            node: self.plan.node.name.clone(),
            why,
            log: self.vm.log_path(),
        }
    }

    pub fn result(&self) -> NodeResult {
        let (passed, message) = self.verdict.clone().unwrap_or((false, "no verdict".into()));
        let message = if passed {
            message
        } else {
            format!("{message} (log {})", self.vm.log_path().display())
        };
        NodeResult {
            name: self.plan.node.name.clone(),
            passed,
            message,
            log: self.vm.log_path(),
            duration: self.took,
            stages: self.watch.stages(),
            kernel_init: self.watch.kernel_init(),
        }
    }
}

/// Everything a run started: service roles still running, and the clients.
pub struct Started {
    pub services: Vec<Running>,
    pub clients: Vec<Running>,
}

/// Boots the plan and follows it until every client has a verdict.
pub fn run(plan: &LabPlan, host: &Host, hub: &Path) -> Result<Started> {
    let t0 = Instant::now();
    let mut services: Vec<Running> = Vec::new();
    let mut clients: Vec<Running> = Vec::new();
    let mut started = vec![false; plan.phases.len()];
    let max_delay = plan
        .phases
        .iter()
        .map(|p| p.delay)
        .max()
        .unwrap_or_default();
    // Above the guests' own waits (quorum or mount 150 s, then the agent's 120 s for its
    // peers), so a slow node reports its own reason rather than "no verdict".
    let limit = plan.verdict_within + max_delay;
    let role_limit = scaled(Duration::from_secs(180));
    loop {
        // Start what the phases allow: a blocking phase holds every later one until all of
        // its nodes are ready; a delay counts from when the phase was allowed to start.
        let mut gate = Some(t0);
        for (i, phase) in plan.phases.iter().enumerate() {
            let Some(since) = gate else { break };
            if !started[i] && since.elapsed() >= phase.delay {
                if !phase.delay.is_zero() {
                    println!(
                        "[{:6.1}s] lab: starting {} {} s late",
                        t0.elapsed().as_secs_f64(),
                        phase.name,
                        phase.delay.as_secs()
                    );
                }
                for r in &phase.recipes {
                    crate::run::materialize::make(r, host)?;
                }
                let mut batch = Vec::new();
                for n in &phase.nodes {
                    let mut n = n.clone();
                    n.spec.paused = phase.together;
                    batch.push(Running::start(&n, host.accel, hub, t0)?);
                }
                if phase.together {
                    release(&mut batch, t0)?;
                }
                for r in batch {
                    match r.plan.expect {
                        Expect::Ready { .. } => services.push(r),
                        Expect::Verdict { .. } | Expect::Console { .. } => clients.push(r),
                    }
                }
                started[i] = true;
            }
            if phase.blocking {
                // Done when each of its nodes is ready (a role) or has a verdict (a client).
                let names: Vec<&str> = phase.nodes.iter().map(|n| n.node.name.as_str()).collect();
                let of_phase = || {
                    services
                        .iter()
                        .chain(clients.iter())
                        .filter(|r| names.contains(&r.plan.node.name.as_str()))
                };
                let done = started[i] && of_phase().all(|r| r.ready || r.verdict.is_some());
                gate = done.then(|| of_phase().map(|r| r.started + r.took).max().unwrap_or(t0));
            }
        }
        for s in services.iter_mut() {
            follow_service(s, t0, role_limit)?;
        }
        for c in clients.iter_mut().filter(|c| c.verdict.is_none()) {
            follow_client(c, t0, limit)?;
        }
        let all_started = started.iter().all(|s| *s);
        if all_started && clients.iter().all(|c| c.verdict.is_some()) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    if let Some(bound) = plan.poweroff {
        for c in clients
            .iter_mut()
            .filter(|c| c.verdict.as_ref().is_some_and(|v| v.0))
        {
            check_poweroff(c, t0, bound)?;
        }
    }
    services.retain(|s| !matches!(s.plan.expect, Expect::Ready { stopped: true, .. }));
    Ok(Started { services, clients })
}

/// Releases nodes started paused all at one moment (QMP `cont`); each one's time counts
/// from then.
fn release(batch: &mut [Running], t0: Instant) -> Result<()> {
    let socks: Vec<std::path::PathBuf> = batch
        .iter()
        .map(|r| r.plan.spec.dir.join(crate::qemu::QMP_SOCK))
        .collect();
    let refs: Vec<&Path> = socks.iter().map(|p| p.as_path()).collect();
    let now = crate::qmp::cont_all(&refs)?;
    for r in batch.iter_mut() {
        r.started = now;
    }
    println!(
        "[{:6.1}s] lab: released {} nodes together",
        t0.elapsed().as_secs_f64(),
        batch.len()
    );
    Ok(())
}

fn follow_service(s: &mut Running, t0: Instant, limit: Duration) -> Result<()> {
    let Expect::Ready { marker, stopped } = s.plan.expect else {
        return Ok(());
    };
    for line in s.watch.poll_lines()? {
        match verdict::role_line(&line, marker) {
            Some(RoleLine::Failed(why)) => return Err(s.role_error(why)),
            Some(RoleLine::Ready) if !s.ready => {
                s.ready = true;
                s.took = s.started.elapsed();
                println!(
                    "[{:6.1}s] {}: ready ({marker})",
                    t0.elapsed().as_secs_f64(),
                    s.plan.node.name
                );
                if stopped {
                    let _ = s.vm.kill();
                }
            }
            _ => {}
        }
    }
    if s.ready {
        return Ok(());
    }
    if let Ok(Some(st)) = s.vm.try_wait() {
        return Err(s.role_error(format!(
            "QEMU exited ({st}) before {marker}; last line: {}",
            s.watch.last_line()
        )));
    }
    if s.started.elapsed() > limit {
        return Err(s.role_error(format!(
            "no {marker} within {} s; last line: {}",
            limit.as_secs(),
            s.watch.last_line()
        )));
    }
    Ok(())
}

fn follow_client(f: &mut Running, t0: Instant, limit: Duration) -> Result<()> {
    if let Expect::Console { line, forbid } = f.plan.expect {
        return follow_console(f, t0, limit, line, forbid);
    }
    for line in f.watch.poll_lines()? {
        let Some(ev) = crate::console::parse_line(&line) else {
            continue;
        };
        if let ConsoleEvent::Stage { name, t } = &ev {
            println!(
                "[{:6.1}s] {}: stage={name} (guest t={t:.2})",
                t0.elapsed().as_secs_f64(),
                f.plan.node.name
            );
            continue; // progress, never a verdict: no need to read the log
        }
        if matches!(ev, ConsoleEvent::KernelInit { .. }) {
            continue;
        }
        let log = String::from_utf8_lossy(&std::fs::read(f.vm.log_path()).unwrap_or_default())
            .into_owned();
        if let Some(v) = verdict::judge(&ev, &f.plan.expect, &log) {
            println!(
                "[{:6.1}s] {}: {}",
                t0.elapsed().as_secs_f64(),
                f.plan.node.name,
                v.1
            );
            f.took = f.started.elapsed();
            f.verdict = Some(v);
            return Ok(());
        }
    }
    if let Ok(Some(st)) = f.vm.try_wait() {
        // Final output may hold the verdict (a FAILED line right before reboot).
        let log = String::from_utf8_lossy(&std::fs::read(f.vm.log_path()).unwrap_or_default())
            .into_owned();
        let mut v = None;
        for line in f.watch.poll_lines()? {
            if let Some(ev) = crate::console::parse_line(&line) {
                v = v.or_else(|| verdict::judge(&ev, &f.plan.expect, &log));
            }
        }
        f.took = f.started.elapsed();
        f.verdict = Some(v.unwrap_or((
            false,
            format!(
                "QEMU exited ({st}) before a verdict; last line: {}",
                f.watch.last_line()
            ),
        )));
    } else if f.started.elapsed() > limit {
        f.took = f.started.elapsed();
        f.verdict = Some((
            false,
            format!(
                "no verdict within {} s; last line: {}",
                limit.as_secs(),
                f.watch.last_line()
            ),
        ));
    }
    Ok(())
}

/// Lines of a shutdown that mean the root was not taken down cleanly.
pub const SHUTDOWN_FAILURES: &[&str] = &[
    "Failed to unmount",
    "Failed unmounting",
    "Failed to remount",
    "Failed to finalize",
    "still around after SIGKILL",
    "Timed out",
    // modules/exitrd/shutdown.sh
    "cannot unmount the root",
    "dlm lockspaces still there",
    "still running after",
    "cannot deactivate or stop the shared volume groups",
];

/// The exitrd's line once the root is unmounted (`srbuild exitrd: [T] root (TYPE) unmounted`):
/// without it, the node powered off with its root mounted, and a cluster member was not
/// seen to leave cleanly.
pub const EXITRD_UNMOUNTED: &str = ") unmounted";

/// Whether `tail` has the exitrd's unmount line ([`EXITRD_UNMOUNTED`]).
fn root_unmounted(tail: &str) -> bool {
    tail.lines().any(|l| {
        l.contains("srbuild exitrd:") && l.contains("root (") && l.contains(EXITRD_UNMOUNTED)
    })
}

/// A passed client of a systemd root powers itself off: it must reach the kernel's
/// power-down line within `bound`, and nothing in its shutdown may say the root was not
/// taken down cleanly ([`SHUTDOWN_FAILURES`]).
fn check_poweroff(c: &mut Running, t0: Instant, bound: Duration) -> Result<()> {
    let exited = c.vm.wait_timeout(bound)?;
    let log =
        String::from_utf8_lossy(&std::fs::read(c.vm.log_path()).unwrap_or_default()).into_owned();
    let tail = &log[log.rfind("LAB-PASS").unwrap_or(0)..];
    let bad: Vec<&str> = tail
        .lines()
        .filter(|l| SHUTDOWN_FAILURES.iter().any(|f| l.contains(f)))
        .map(str::trim)
        .collect();
    let verdict = if exited.is_none() {
        (
            false,
            format!(
                "passed, but did not power off within {} s; last line: {}",
                bound.as_secs(),
                c.watch.last_line()
            ),
        )
    } else if !tail.contains("reboot: Power down") {
        (
            false,
            "passed, but QEMU exited without the kernel's power-down line".to_string(),
        )
    } else if !bad.is_empty() {
        (
            false,
            format!("passed, but its shutdown said: {}", bad.join(" | ")),
        )
    } else if !root_unmounted(tail) {
        (
            false,
            "passed, but powered off without the exitrd unmounting its root (no \
             'srbuild exitrd: ... root (TYPE) unmounted' line)"
                .to_string(),
        )
    } else {
        let took = shutdown_secs(tail)
            .map(|s| format!(" in {s:.1} s"))
            .unwrap_or_default();
        (true, format!("LAB-PASS, clean power-off{took}"))
    };
    println!(
        "[{:6.1}s] {}: {}",
        t0.elapsed().as_secs_f64(),
        c.plan.node.name,
        verdict.1
    );
    c.verdict = Some(verdict);
    Ok(())
}

/// Guest seconds from `LAB-PASS … t=T` to the kernel's `[ T] reboot: Power down` line.
pub fn shutdown_secs(log: &str) -> Option<f64> {
    let pass = log.lines().find_map(|l| {
        l.trim()
            .strip_prefix("LAB-PASS ")?
            .split_whitespace()
            .find_map(|w| w.strip_prefix("t="))?
            .parse::<f64>()
            .ok()
    })?;
    let down = log.lines().find_map(|l| {
        let l = l.trim();
        if !l.ends_with("reboot: Power down") {
            return None;
        }
        l.strip_prefix('[')?
            .split(']')
            .next()?
            .trim()
            .parse::<f64>()
            .ok()
    })?;
    Some(down - pass)
}

/// A node that must not boot: passes when its console shows `want`, fails when it shows
/// `forbid`, or when neither came within `limit`. It is stopped once judged.
fn follow_console(
    f: &mut Running,
    t0: Instant,
    limit: Duration,
    want: &str,
    forbid: &str,
) -> Result<()> {
    for line in f.watch.poll_lines()? {
        let v = if line.contains(forbid) {
            Some((
                false,
                format!("booted although it must not: {}", line.trim()),
            ))
        } else if line.contains(want) {
            Some((true, format!("got no boot: {}", line.trim())))
        } else {
            None
        };
        if let Some(v) = v {
            println!(
                "[{:6.1}s] {}: {}",
                t0.elapsed().as_secs_f64(),
                f.plan.node.name,
                v.1
            );
            f.took = f.started.elapsed();
            f.verdict = Some(v);
            let _ = f.vm.kill();
            return Ok(());
        }
    }
    if f.started.elapsed() > limit {
        f.took = f.started.elapsed();
        f.verdict = Some((
            false,
            format!(
                "no \"{want}\" within {} s; last line: {}",
                limit.as_secs(),
                f.watch.last_line()
            ),
        ));
    }
    Ok(())
}

/// The line the lab types on a running client's console before the host checks the shared
/// disk: the agent's writes stop, the kind's `settle` code runs (what an unmount would do
/// that a remount does not), and the root is remounted read-only (gfs2 and ocfs2 then
/// leave clean journals), so the check sees what a clean unmount leaves. The answer's
/// marker is never in the typed text, so the console's echo of it cannot pass for it.
fn quiesce_line(settle: &str) -> String {
    format!(
        "kill $(cat /dev/lab-beat.pid) 2>/dev/null; sync; {settle}{}mount -o remount,ro / && printf 'LAB-%s ok\\n' QUIESCED || printf 'LAB-%s failed\\n' QUIESCED\n",
        if settle.is_empty() { "" } else { "; " }
    )
}

/// Types [`quiesce_line`] on every running client's console and waits (up to `bound`) for each
/// to answer; a client that answers `failed`, or not at all, fails its verdict.
pub fn quiesce(started: &mut Started, settle: &str, bound: Duration) -> Result<()> {
    let line = quiesce_line(settle);
    use std::io::Write;
    let mut asked = Vec::new();
    // Each connection stays open until the answers are in: QEMU reads a socket console only
    // as fast as the UART takes it, and drops what it had not read when the peer hangs up.
    let mut conns = Vec::new();
    for (i, c) in started.clients.iter_mut().enumerate() {
        if !c.vm.is_running() {
            continue;
        }
        c.watch.poll_lines()?;
        let sock = c.plan.spec.dir.join(crate::qemu::CONSOLE_SOCK);
        match std::os::unix::net::UnixStream::connect(&sock).and_then(|mut s| {
            s.write_all(line.as_bytes())?;
            Ok(s)
        }) {
            Ok(s) => {
                conns.push(s);
                asked.push(i);
            }
            Err(e) => {
                if let Some(v) = c.verdict.as_mut() {
                    v.0 = false;
                    v.1.push_str(&format!("; cannot type on its console ({e})"));
                }
            }
        }
    }
    let start = Instant::now();
    let mut answered = vec![None; started.clients.len()];
    while start.elapsed() < bound && asked.iter().any(|&i| answered[i].is_none()) {
        for &i in &asked {
            if answered[i].is_some() {
                continue;
            }
            for line in started.clients[i].watch.poll_lines()? {
                if let Some(rest) = line.trim_start().strip_prefix("LAB-QUIESCED ") {
                    answered[i] = Some(rest.trim() == "ok");
                }
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(conns);
    for &i in &asked {
        let c = &mut started.clients[i];
        let Some(v) = c.verdict.as_mut() else {
            continue;
        };
        match answered[i] {
            Some(true) => v.1.push_str("; root read-only for the check"),
            Some(false) => {
                v.0 = false;
                v.1.push_str("; could not make its root read-only for the check");
            }
            None => {
                v.0 = false;
                v.1.push_str(&format!(
                    "; did not quiesce its root within {} s",
                    bound.as_secs()
                ));
            }
        }
    }
    Ok(())
}

/// A fencing kind's victim: after what the consoles said so far is read (it does not count),
/// its QEMU is killed or, with `isolate`, its link on the first network taken down through
/// QMP while it keeps running. Returns that moment on both clocks (`None`: no such node).
pub fn stop_victim(
    started: &mut Started,
    victim: &str,
    isolate: bool,
) -> Result<Option<(SystemTime, Instant)>> {
    for c in started.clients.iter_mut() {
        c.watch.poll_lines()?;
    }
    let Some(v) = started
        .clients
        .iter_mut()
        .chain(started.services.iter_mut())
        .find(|c| c.plan.node.name == victim)
    else {
        return Ok(None);
    };
    let note = if isolate {
        let sock = v.plan.spec.dir.join(crate::qemu::QMP_SOCK);
        crate::qmp::set_link(&sock, &crate::qemu::netdev_id(0), false)?;
        println!("lab: partition: {victim} cut off from the others; it must be fenced");
        "; then cut off from the others (partition)"
    } else {
        let _ = v.vm.kill();
        println!("lab: node-dies: killed {victim}; the survivors must fence it, then go on");
        "; then killed (node-dies)"
    };
    let at = (SystemTime::now(), Instant::now());
    if let Some(verdict) = v.verdict.as_mut() {
        verdict.1.push_str(note);
    }
    Ok(Some(at))
}

/// The node-dies and ram-root scenarios: kill `victim`'s QEMU (a client, or the server).
/// Every surviving client must then show on its console that it noticed (`death_seen`, a
/// kernel line; `None`: nothing to notice) and write to its root after that (an agent `LAB-BEAT`
/// line; each beat first reads every node's beat file, which a dead node may have held).
/// Each survivor's verdict gets both times, or fails after `bound`. Returns when the victim
/// was killed (`None`: no such node runs).
pub fn kill_one(
    started: &mut Started,
    victim: &str,
    death_seen: Option<&str>,
    bound: Duration,
) -> Result<Option<SystemTime>> {
    let clients = &mut started.clients;
    for c in clients.iter_mut() {
        c.watch.poll_lines()?; // what was written before the kill does not count
    }
    let Some(v) = clients
        .iter_mut()
        .chain(started.services.iter_mut())
        .find(|c| c.plan.node.name == victim)
    else {
        return Ok(None);
    };
    let _ = v.vm.kill();
    let killed_at = SystemTime::now();
    if let Some(verdict) = v.verdict.as_mut() {
        verdict.1.push_str("; then killed (node-dies)");
    }
    let killed = Instant::now();
    println!("lab: node-dies: killed {victim}; the survivors must notice and go on writing");
    // Per survivor: when it noticed, when it wrote after that.
    let mut seen: Vec<(Option<Duration>, Option<Duration>)> = vec![(None, None); clients.len()];
    loop {
        let mut waiting = false;
        for (i, c) in clients.iter_mut().enumerate() {
            if c.plan.node.name == victim || seen[i].1.is_some() {
                continue;
            }
            for line in c.watch.poll_lines()? {
                if seen[i].0.is_none() && death_seen.is_none_or(|d| line.contains(d)) {
                    seen[i].0 = Some(killed.elapsed());
                } else if seen[i].0.is_some() && verdict::beat(&line).is_some() {
                    seen[i].1 = Some(killed.elapsed());
                    println!(
                        "lab: node-dies: {} noticed after {:.1} s and wrote to the root {:.1} s after {victim} died",
                        c.plan.node.name,
                        seen[i].0.unwrap_or_default().as_secs_f64(),
                        killed.elapsed().as_secs_f64()
                    );
                    break;
                }
            }
            waiting |= seen[i].1.is_none();
        }
        if !waiting || killed.elapsed() > bound {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    for (i, c) in clients.iter_mut().enumerate() {
        if c.plan.node.name == victim {
            continue;
        }
        let Some((passed, msg)) = c.verdict.as_mut() else {
            continue;
        };
        match seen[i] {
            (_, Some(wrote)) if death_seen.is_none() => msg.push_str(&format!(
                "; went on writing {:.1} s after {victim} died",
                wrote.as_secs_f64()
            )),
            (Some(noticed), Some(wrote)) => msg.push_str(&format!(
                "; noticed {victim}'s death after {:.1} s, wrote again after {:.1} s",
                noticed.as_secs_f64(),
                wrote.as_secs_f64()
            )),
            (noticed, _) => {
                *passed = false;
                let what = match noticed {
                    None => format!("never printed '{}'", death_seen.unwrap_or_default()),
                    Some(_) => "never wrote to the shared root again".into(),
                };
                msg.push_str(&format!(
                    "; {what} within {} s after {victim} died; last line: {}",
                    bound.as_secs(),
                    c.watch.last_line()
                ));
            }
        }
    }
    Ok(Some(killed_at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shutdown_time_runs_from_the_pass_line_to_the_power_down_line() {
        let log = "LAB-PASS node=node1 t=86.44\r\nlab-agent: powering off t=86.52\n\
                   [   91.886629] reboot: Power down\n";
        let s = shutdown_secs(log).unwrap();
        assert!((s - 5.446629).abs() < 1e-6, "{s}");
        assert_eq!(shutdown_secs("LAB-PASS node=n t=1.0\n"), None);
        assert!(SHUTDOWN_FAILURES
            .iter()
            .any(|f| "[FAILED] Failed unmounting .cdsl.local.mount".contains(f)));
    }

    #[test]
    fn the_exitrd_unmount_line_is_required_and_its_failures_are_failures() {
        assert!(root_unmounted(
            "srbuild exitrd: [91.20] poweroff: taking the root down\n\
             srbuild exitrd: [91.85] root (gfs2) unmounted\n"
        ));
        assert!(!root_unmounted(
            "srbuild exitrd: [91.85] cannot unmount the root (gfs2): busy held by: x(12)\n"
        ));
        assert!(!root_unmounted("[  92.0] reboot: Power down\n"));
        for line in [
            "srbuild exitrd: [91.85] cannot unmount the root (gfs2): busy held by: x(12)",
            "srbuild exitrd: [92.00] corosync still running after 15 s: killed",
            "srbuild exitrd: [92.00] dlm lockspaces still there: root",
        ] {
            assert!(SHUTDOWN_FAILURES.iter().any(|f| line.contains(f)), "{line}");
        }
    }
}

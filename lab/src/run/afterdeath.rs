//! What the survivors must show after a member died or was cut off, on a kind that fences
//! (a BMC per member, or o2cb fencing itself): the victim goes down, recovery of its journal
//! begins only after it was fenced, and every survivor writes again after that. With the
//! victim's BMC unreachable for a while, nobody recovers and nobody writes meanwhile.
//!
//! Times are the host's: when the lab saw a console line or the victim's QEMU gone (it
//! polls every 200 ms, so a time seen is at most that much late), and when the lab's BMC
//! gateway accepted a login to the victim's BMC (exact). Every survivor's verdict gets the
//! figures, or fails naming what went wrong.

use crate::bmc::gateway::Gateway;
use crate::error::Result;
use crate::run::runner::{Running, Started};
use crate::run::verdict;
use std::time::{Duration, Instant, SystemTime};

/// How often the consoles, the victim and the gateway are looked at.
const POLL: Duration = Duration::from_millis(200);
/// A write a survivor began before it noticed the death may end just after; one that ends
/// later than this after the survivor noticed, while the victim is not yet fenced, did not
/// wait for the fence.
const GRACE: Duration = Duration::from_secs(3);

/// What to watch.
pub struct Watch<'a> {
    pub victim: &'a str,
    /// When the victim was killed or cut off (the lab's clock).
    pub died: SystemTime,
    /// The same moment on the monotonic clock.
    pub t0: Instant,
    /// "cut off" or "death", for the messages.
    pub what: &'static str,
    /// The lab's BMC gateway, on a kind whose members fence through BMCs.
    pub gateway: Option<&'a Gateway>,
    /// The victim's BMC is unreachable this long from `t0`; the watch brings it back.
    pub bmc_down: Option<Duration>,
    /// A console line by which a survivor shows it began recovering a journal.
    pub recovery_seen: Option<&'static str>,
    /// A console line by which a survivor shows it noticed the death.
    pub death_seen: Option<&'static str>,
    pub bound: Duration,
}

/// What one survivor showed, as offsets from `t0`.
#[derive(Debug, Default, Clone)]
struct Survivor {
    recovery: Option<Duration>,
    /// When it printed the kind's `death_seen` line.
    noticed: Option<Duration>,
    /// The first write after the victim was fenced (or down, without BMCs).
    wrote: Option<Duration>,
    /// Writes seen after it noticed the death (and [`GRACE`]) while the victim was not yet
    /// fenced, in a run where its BMC was unreachable.
    writes_while_unfenced: usize,
}

/// Everything the watch saw, for the verdicts.
#[derive(Debug, Default)]
struct Seen {
    fenced: Option<Duration>,
    down: Option<Duration>,
    restored: Option<Duration>,
    /// How many fence requests the gateway dropped while the victim's BMC was unreachable
    /// (read when it became reachable again).
    dropped: u64,
    survivors: Vec<Survivor>,
}

/// Watches until the victim is down, fenced (with BMCs), a survivor began recovery and
/// every survivor wrote again, or `bound`; then adds the figures to every verdict.
pub fn watch(started: &mut Started, w: &Watch) -> Result<()> {
    let mut seen = Seen {
        survivors: vec![Survivor::default(); started.clients.len()],
        ..Seen::default()
    };
    loop {
        let now = w.t0.elapsed();
        if let (Some(d), None, Some(g)) = (w.bmc_down, seen.restored, w.gateway) {
            if now >= d {
                g.set_down(w.victim, false)?;
                seen.restored = Some(now);
                seen.dropped = g.stats(w.victim)?.dropped_down;
                println!(
                    "lab: fencing: {}'s BMC reachable again {:.1} s after its {}",
                    w.victim,
                    now.as_secs_f64(),
                    w.what
                );
            }
        }
        if let (None, Some(g)) = (seen.fenced, w.gateway) {
            let s = g.stats(w.victim)?;
            if let Some(t) = s.session_times.iter().copied().find(|t| *t >= w.died) {
                seen.fenced = Some(t.duration_since(w.died).unwrap_or_default());
            }
        }
        let so = seen_so_far(&seen);
        for (i, c) in started.clients.iter_mut().enumerate() {
            if c.plan.node.name == w.victim {
                if seen.down.is_none() && !c.vm.is_running() {
                    seen.down = Some(now);
                }
                continue;
            }
            observe(c, &mut seen.survivors[i], w, &so, now)?;
        }
        if done(started, w, &seen) || now > w.bound {
            break;
        }
        std::thread::sleep(POLL);
    }
    judge(started, w, &seen);
    Ok(())
}

/// The victim-wide facts a survivor's lines are judged against.
#[derive(Clone, Copy)]
struct SoFar {
    fenced: Option<Duration>,
    down: Option<Duration>,
}

fn seen_so_far(s: &Seen) -> SoFar {
    SoFar {
        fenced: s.fenced,
        down: s.down,
    }
}

/// The moment after which a survivor's write counts as "wrote again": the victim seen down,
/// and with BMCs also fenced through its BMC.
fn safe_from(w: &Watch, s: &SoFar) -> Option<Duration> {
    match (w.gateway.is_some(), s.fenced, s.down) {
        (true, Some(f), Some(d)) => Some(f.max(d)),
        (false, _, Some(d)) => Some(d),
        _ => None,
    }
}

/// Whether journal recovery first seen at `recovery` came after the fence: at or after the
/// first login to the victim's BMC after its death (`fenced`, exact; with BMCs), and no
/// earlier than the victim was seen down (`down`, seen up to one poll late, as is
/// `recovery`). `Err` says what was wrong.
fn recovery_after_fence(
    recovery: Duration,
    bmcs: bool,
    fenced: Option<Duration>,
    down: Option<Duration>,
) -> std::result::Result<(), String> {
    if bmcs {
        match fenced {
            Some(f) if recovery >= f => {}
            Some(f) => {
                return Err(format!(
                    "began {} before anyone logged in to its BMC",
                    secs(f - recovery)
                ))
            }
            None => return Err("began with no login to its BMC at all".into()),
        }
    }
    match down {
        Some(d) if recovery + POLL >= d => Ok(()),
        Some(d) => Err(format!("began {} before it was down", secs(d - recovery))),
        None => Err("began while it was still running".into()),
    }
}

fn observe(c: &mut Running, s: &mut Survivor, w: &Watch, so: &SoFar, now: Duration) -> Result<()> {
    for line in c.watch.poll_lines()? {
        if s.recovery.is_none() && w.recovery_seen.is_some_and(|r| line.contains(r)) {
            s.recovery = Some(now);
        }
        if s.noticed.is_none() && w.death_seen.is_some_and(|d| line.contains(d)) {
            s.noticed = Some(now);
        }
        if verdict::beat(&line).is_none() {
            continue;
        }
        if s.wrote.is_none() && safe_from(w, so).is_some() {
            s.wrote = Some(now);
        }
        let grace = crate::timeout::scaled(GRACE);
        if w.bmc_down.is_some() && so.fenced.is_none() && s.noticed.is_some_and(|n| now > n + grace)
        {
            s.writes_while_unfenced += 1;
        }
    }
    Ok(())
}

fn done(started: &Started, w: &Watch, s: &Seen) -> bool {
    let bmc_ok = w.gateway.is_none() || s.fenced.is_some();
    let recovered = w.recovery_seen.is_none() || s.survivors.iter().any(|x| x.recovery.is_some());
    let all_wrote = started
        .clients
        .iter()
        .zip(&s.survivors)
        .filter(|(c, _)| c.plan.node.name != w.victim)
        .all(|(_, x)| x.wrote.is_some());
    bmc_ok && s.down.is_some() && recovered && all_wrote
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// What a run with the victim's BMC unreachable for `down` (reachable again at `restored`)
/// showed, and whether it passes: no recovery before the BMC answered, and at least one
/// fence request that met the unreachable BMC (`dropped`), or nothing was tested.
fn bmc_down_line(
    down: Duration,
    restored: Duration,
    recovery: Option<Duration>,
    dropped: u64,
) -> (String, bool) {
    let d = down.as_secs();
    match recovery {
        Some(x) if x < restored => (
            format!("; recovery began while its BMC was unreachable ({d} s)"),
            false,
        ),
        _ if dropped == 0 => (
            format!(
                "; no fence request reached its BMC while it was unreachable ({d} s): the \
                 run proved nothing (the death was noticed too late; make the outage longer)"
            ),
            false,
        ),
        _ => (
            format!(
                "; no recovery while its BMC was unreachable ({d} s, {dropped} fence \
                 request(s) dropped)"
            ),
            true,
        ),
    }
}

fn judge(started: &mut Started, w: &Watch, s: &Seen) {
    // The first recovery any survivor showed: the journal's, whoever replays it.
    let recovery = s.survivors.iter().filter_map(|x| x.recovery).min();
    let mut common = String::new();
    let mut ok = true;
    let fail = |ok: &mut bool, common: &mut String, text: String| {
        *ok = false;
        common.push_str(&text);
    };
    match (w.gateway, s.fenced) {
        (Some(_), Some(f)) => common.push_str(&format!(
            "; {}'s BMC asked (first login) {} after its {}",
            w.victim,
            secs(f),
            w.what
        )),
        (Some(_), None) => fail(
            &mut ok,
            &mut common,
            format!(
                "; nobody fenced {} through its BMC within {} (see its gateway.log)",
                w.victim,
                secs(w.bound)
            ),
        ),
        (None, _) => {}
    }
    match s.down {
        Some(d) => common.push_str(&format!(
            "; {} down {} after its {}",
            w.victim,
            secs(d),
            w.what
        )),
        None => fail(
            &mut ok,
            &mut common,
            format!(
                "; {} still running {} after its {}",
                w.victim,
                secs(w.bound),
                w.what
            ),
        ),
    }
    let verdict = recovery.map(|r| {
        (
            r,
            recovery_after_fence(r, w.gateway.is_some(), s.fenced, s.down),
        )
    });
    match verdict {
        Some((r, Ok(()))) => common.push_str(&format!(
            "; journal recovery began {} after its {}, after {}",
            secs(r),
            w.what,
            if w.gateway.is_some() {
                format!("{} was down and its BMC asked", w.victim)
            } else {
                format!("{} went down", w.victim)
            }
        )),
        Some((r, Err(why))) => fail(
            &mut ok,
            &mut common,
            format!(
                "; journal recovery began {} after its {}: UNSAFE, it {why}",
                secs(r),
                w.what
            ),
        ),
        None if w.recovery_seen.is_some() => fail(
            &mut ok,
            &mut common,
            format!(
                "; no survivor printed '{}' within {}",
                w.recovery_seen.unwrap_or_default(),
                secs(w.bound)
            ),
        ),
        None => {}
    }
    if let (Some(d), Some(r)) = (w.bmc_down, s.restored) {
        let (line, good) = bmc_down_line(d, r, recovery, s.dropped);
        if good {
            common.push_str(&line);
        } else {
            fail(&mut ok, &mut common, line);
        }
    }
    for (c, x) in started.clients.iter_mut().zip(&s.survivors) {
        if c.plan.node.name == w.victim {
            continue;
        }
        let Some((passed, msg)) = c.verdict.as_mut() else {
            continue;
        };
        *passed &= ok;
        msg.push_str(&common);
        match x.wrote {
            Some(t) => msg.push_str(&format!("; wrote again {} after its {}", secs(t), w.what)),
            None => {
                *passed = false;
                msg.push_str(&format!(
                    "; never wrote again within {}; last line: {}",
                    secs(w.bound),
                    c.watch.last_line()
                ));
            }
        }
        if x.writes_while_unfenced > 0 {
            *passed = false;
            msg.push_str(&format!(
                "; {} writes after it noticed the death while {} was not fenced",
                x.writes_while_unfenced, w.victim
            ));
        }
    }
    println!("lab: fencing:{}", common.trim_start_matches(';'));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: u64) -> Option<Duration> {
        Some(Duration::from_secs(s))
    }

    #[test]
    fn recovery_counts_as_safe_only_after_the_login_and_the_power_off() {
        let at = Duration::from_secs;
        // With BMCs: after the login and after the victim was down.
        assert!(recovery_after_fence(at(30), true, d(25), d(26)).is_ok());
        // Between the status login and the power-off: unsafe.
        let e = recovery_after_fence(at(26), true, d(25), d(28)).unwrap_err();
        assert!(e.contains("before it was down"), "{e}");
        // Before any login: unsafe, whatever the victim did.
        let e = recovery_after_fence(at(20), true, d(25), d(0)).unwrap_err();
        assert!(e.contains("before anyone logged in"), "{e}");
        assert!(recovery_after_fence(at(20), true, None, d(0)).is_err());
        // Without BMCs (o2cb fences itself): one poll of slack for the down time.
        assert!(recovery_after_fence(at(40) - POLL, false, None, d(40)).is_ok());
        assert!(recovery_after_fence(at(39), false, None, d(40)).is_err());
        assert!(recovery_after_fence(at(39), false, None, None).is_err());
    }

    #[test]
    fn an_outage_passes_only_when_a_fence_request_met_it_and_nobody_recovered_meanwhile() {
        let (line, ok) = bmc_down_line(d(60).unwrap(), d(61).unwrap(), d(70), 4);
        assert!(ok && line.contains("4 fence request(s) dropped"), "{line}");
        let (line, ok) = bmc_down_line(d(60).unwrap(), d(61).unwrap(), d(30), 4);
        assert!(!ok && line.contains("recovery began while"), "{line}");
        let (line, ok) = bmc_down_line(d(60).unwrap(), d(61).unwrap(), d(70), 0);
        assert!(!ok && line.contains("proved nothing"), "{line}");
        let (_, ok) = bmc_down_line(d(60).unwrap(), d(61).unwrap(), None, 0);
        assert!(!ok);
    }

    #[test]
    fn writes_count_as_again_once_fenced_and_down() {
        let so = SoFar {
            fenced: d(9),
            down: d(10),
        };
        let mut w = Watch {
            victim: "node3",
            died: SystemTime::now(),
            t0: Instant::now(),
            what: "death",
            gateway: None,
            bmc_down: None,
            recovery_seen: None,
            death_seen: None,
            bound: Duration::from_secs(1),
        };
        assert_eq!(safe_from(&w, &so), d(10));
        let not_down = SoFar { down: None, ..so };
        assert_eq!(safe_from(&w, &not_down), None);
        w.bmc_down = Some(Duration::from_secs(40));
        assert_eq!(safe_from(&w, &not_down), None);
    }
}

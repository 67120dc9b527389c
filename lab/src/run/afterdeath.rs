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
/// A survivor notices a death (corosync's token, under TCG) well within this; a write seen
/// later while the victim's BMC is still unreachable is a write that did not wait for it.
const NOTICE: Duration = Duration::from_secs(20);

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
    pub bound: Duration,
}

/// What one survivor showed, as offsets from `t0`.
#[derive(Debug, Default, Clone)]
struct Survivor {
    recovery: Option<Duration>,
    /// The first write after the victim was fenced (or down, without BMCs).
    wrote: Option<Duration>,
    /// Writes seen while the victim's BMC was unreachable, past [`NOTICE`].
    writes_while_unfenced: usize,
}

/// Everything the watch saw, for the verdicts.
#[derive(Debug, Default)]
struct Seen {
    fenced: Option<Duration>,
    down: Option<Duration>,
    restored: Option<Duration>,
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
    restored: Option<Duration>,
}

fn seen_so_far(s: &Seen) -> SoFar {
    SoFar {
        fenced: s.fenced,
        down: s.down,
        restored: s.restored,
    }
}

/// The moment after which a survivor's write counts as "wrote again": the fence with BMCs,
/// else the victim seen down.
fn safe_from(w: &Watch, s: &SoFar) -> Option<Duration> {
    if w.gateway.is_some() {
        s.fenced
    } else {
        s.down
    }
}

fn observe(c: &mut Running, s: &mut Survivor, w: &Watch, so: &SoFar, now: Duration) -> Result<()> {
    for line in c.watch.poll_lines()? {
        if s.recovery.is_none() && w.recovery_seen.is_some_and(|r| line.contains(r)) {
            s.recovery = Some(now);
        }
        if verdict::beat(&line).is_none() {
            continue;
        }
        if s.wrote.is_none() && safe_from(w, so).is_some() {
            s.wrote = Some(now);
        }
        if w.bmc_down.is_some() && so.restored.is_none() && now > NOTICE {
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
            "; {} fenced through its BMC {} after its {}",
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
    let safe = if w.gateway.is_some() {
        s.fenced
    } else {
        s.down
    };
    match (recovery, safe) {
        // A line seen up to one poll late may have been printed just before the victim
        // was seen down; with BMCs the fence's time is exact and no slack is given.
        (Some(r), Some(f)) if r + slack(w) >= f => common.push_str(&format!(
            "; journal recovery began {} after its {}, after {}",
            secs(r),
            w.what,
            if w.gateway.is_some() {
                "the fence".to_string()
            } else {
                format!("{} went down", w.victim)
            }
        )),
        (Some(r), _) => fail(
            &mut ok,
            &mut common,
            format!(
                "; journal recovery began {} after its {}, BEFORE {} was fenced",
                secs(r),
                w.what,
                w.victim
            ),
        ),
        (None, _) if w.recovery_seen.is_some() => fail(
            &mut ok,
            &mut common,
            format!(
                "; no survivor printed '{}' within {}",
                w.recovery_seen.unwrap_or_default(),
                secs(w.bound)
            ),
        ),
        (None, _) => {}
    }
    if let (Some(d), Some(r)) = (w.bmc_down, s.restored) {
        match recovery {
            Some(x) if x < r => fail(
                &mut ok,
                &mut common,
                format!(
                    "; recovery began while its BMC was unreachable ({} s)",
                    d.as_secs()
                ),
            ),
            _ => common.push_str(&format!(
                "; no recovery while its BMC was unreachable ({} s)",
                d.as_secs()
            )),
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
                "; {} writes while {} was not fenced (past {} s)",
                x.writes_while_unfenced,
                w.victim,
                NOTICE.as_secs()
            ));
        }
    }
    println!("lab: fencing:{}", common.trim_start_matches(';'));
}

fn slack(w: &Watch) -> Duration {
    if w.gateway.is_some() {
        Duration::ZERO
    } else {
        POLL
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fence_is_the_safe_point_with_bmcs_and_the_victim_down_without() {
        let so = SoFar {
            fenced: Some(Duration::from_secs(9)),
            down: Some(Duration::from_secs(10)),
            restored: None,
        };
        let base = Watch {
            victim: "node3",
            died: SystemTime::now(),
            t0: Instant::now(),
            what: "death",
            gateway: None,
            bmc_down: None,
            recovery_seen: None,
            bound: Duration::from_secs(1),
        };
        assert_eq!(safe_from(&base, &so), Some(Duration::from_secs(10)));
        assert_eq!(slack(&base), POLL);
    }
}

//! A link cut once every client passed ([`PlannedCut`]): QMP `set_link` takes the NIC down
//! on the named nodes, holds it down, brings it back; meanwhile every client's console must
//! show the path failing and, after the link is back, being reinstated, and the client must
//! go on writing (`LAB-BEAT`). The I/O stall is the longest gap between two consecutive
//! writes, in the guest's own clock (the `t=` of the beats).

use crate::error::{LabError, Result};
use crate::run::plan::PlannedCut;
use crate::run::runner::Started;
use crate::run::verdict;
use std::time::{Duration, Instant};

/// The guest time `t=` of a `LAB-BEAT` line.
pub fn beat_time(line: &str) -> Option<f64> {
    verdict::beat(line)?;
    line.split_whitespace()
        .find_map(|w| w.strip_prefix("t="))?
        .parse()
        .ok()
}

/// The longest gap between consecutive times of `ts` (0 with fewer than two).
pub fn longest_gap(ts: &[f64]) -> f64 {
    ts.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max)
}

/// What one client showed around the cut.
#[derive(Debug, Default, Clone)]
struct Seen {
    /// A write was seen just before the cut (the first of `down_beats`).
    baseline: bool,
    /// Its last write before the cut, and its writes while the link was down.
    down_beats: Vec<f64>,
    /// Its writes after the link came back (the last one while down first).
    up_beats: Vec<f64>,
    down_at: Option<Duration>,
    up_at: Option<Duration>,
}

fn set_links(started: &Started, cut: &PlannedCut, up: bool) -> Result<()> {
    for name in &cut.nodes {
        let node = started
            .services
            .iter()
            .chain(started.clients.iter())
            .find(|r| &r.plan.node.name == name)
            .ok_or_else(|| LabError::Invalid(format!("link cut: no running node {name}")))?;
        let sock = node.plan.spec.dir.join(crate::qemu::QMP_SOCK);
        crate::qmp::set_link(&sock, &crate::qemu::netdev_id(cut.nic), up)?;
    }
    Ok(())
}

/// Cuts, holds, restores, and adds what each client showed to its verdict (failing it when
/// the path was not seen failing, not reinstated, or the client stopped writing). Holds the
/// link down for the cut's time and, until every client saw its path fail, at most `bound`
/// more; waits at most `bound` after the restore.
pub fn cut_link(started: &mut Started, cut: &PlannedCut, bound: Duration) -> Result<()> {
    let mut seen = vec![Seen::default(); started.clients.len()];
    // Each client's last write before the cut starts its series: the lines the run read
    // before are gone, so wait (a few seconds at most) for a fresh beat from every
    // client, then cut at once. A stall that begins with the cut is then the gap between
    // that beat and the next.
    let fresh_until = Instant::now() + Duration::from_secs(10);
    loop {
        for (c, s) in started.clients.iter_mut().zip(seen.iter_mut()) {
            if let Some(t) = c
                .watch
                .poll_lines()?
                .iter()
                .rev()
                .find_map(|l| beat_time(l))
            {
                s.down_beats = vec![t];
                s.baseline = true;
            }
        }
        if seen.iter().all(|s| !s.down_beats.is_empty()) || Instant::now() > fresh_until {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    set_links(started, cut, false)?;
    let t_cut = Instant::now();
    println!(
        "lab: link cut: nic {} of {} down for {} s",
        cut.nic,
        cut.nodes.join(", "),
        cut.down_for.as_secs()
    );
    // Down for `down_for`, and longer (up to `bound`) until every client saw its path fail:
    // a loaded host slows the guests' clocks, and a path restored before it failed proves
    // nothing about the reinstatement.
    while t_cut.elapsed() < cut.down_for
        || (seen.iter().any(|s| s.down_at.is_none())
            && t_cut.elapsed() < cut.down_for.saturating_add(bound))
    {
        for (c, s) in started.clients.iter_mut().zip(seen.iter_mut()) {
            for line in c.watch.poll_lines()? {
                if s.down_at.is_none() && line.contains(cut.down_seen) {
                    s.down_at = Some(t_cut.elapsed());
                }
                s.down_beats.extend(beat_time(&line));
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    set_links(started, cut, true)?;
    let t_up = Instant::now();
    println!(
        "lab: link cut: nic {} restored after {:.1} s",
        cut.nic,
        t_cut.elapsed().as_secs_f64()
    );
    for s in seen.iter_mut() {
        s.up_beats.extend(s.down_beats.last().copied());
    }
    loop {
        let mut waiting = false;
        for (c, s) in started.clients.iter_mut().zip(seen.iter_mut()) {
            for line in c.watch.poll_lines()? {
                if s.up_at.is_none() && line.contains(cut.up_seen) {
                    s.up_at = Some(t_up.elapsed());
                }
                s.up_beats.extend(beat_time(&line));
            }
            // Reinstated, and a few writes after that to measure the gaps.
            waiting |= s.up_at.is_none() || s.up_beats.len() < 4;
        }
        if !waiting || t_up.elapsed() > bound {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    for (c, s) in started.clients.iter_mut().zip(seen.iter()) {
        let Some((passed, msg)) = c.verdict.as_mut() else {
            continue;
        };
        let (line, ok) = judge(cut, s, bound);
        *passed &= ok;
        msg.push_str(&line);
        println!("lab: link cut: {}{line}", c.plan.node.name);
    }
    Ok(())
}

/// A client's line about the cut, and whether it passes.
fn judge(cut: &PlannedCut, s: &Seen, bound: Duration) -> (String, bool) {
    let stall = longest_gap(&s.down_beats);
    let after = longest_gap(&s.up_beats);
    let mut line = format!(
        "; link cut: {} writes while down, longest gap {stall:.1} s, after restore {after:.1} s",
        s.down_beats.len().saturating_sub(1)
    );
    let mut ok = true;
    match s.down_at {
        Some(d) => line.push_str(&format!(
            ", \"{}\" after {:.1} s",
            cut.down_seen,
            d.as_secs_f64()
        )),
        None => {
            ok = false;
            line.push_str(&format!(", never printed \"{}\" while down", cut.down_seen));
        }
    }
    match s.up_at {
        Some(d) => line.push_str(&format!(
            ", \"{}\" {:.1} s after the restore",
            cut.up_seen,
            d.as_secs_f64()
        )),
        None => {
            ok = false;
            line.push_str(&format!(
                ", never printed \"{}\" within {} s after the restore",
                cut.up_seen,
                bound.as_secs()
            ));
        }
    }
    if !s.baseline {
        ok = false;
        line.push_str(", no write seen just before the cut (the stall cannot be measured)");
    }
    if s.down_beats.len() < 2 || s.up_beats.len() < 2 {
        ok = false;
        line.push_str(", stopped writing to the shared root");
    }
    (line, ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut() -> PlannedCut {
        PlannedCut {
            nodes: vec!["server".into()],
            nic: 1,
            down_for: Duration::from_secs(20),
            down_seen: "Failing path",
            up_seen: "Reinstating path",
        }
    }

    #[test]
    fn beats_give_their_guest_time_and_the_longest_gap_is_the_stall() {
        assert_eq!(beat_time("LAB-BEAT node=node1 n=4 t=31.50\r"), Some(31.5));
        assert_eq!(beat_time("lab-agent: t=3"), None);
        assert!((longest_gap(&[1.0, 2.1, 9.6, 10.7]) - 7.5).abs() < 1e-9);
        assert_eq!(longest_gap(&[3.0]), 0.0);
    }

    #[test]
    fn a_client_passes_only_with_the_path_failed_reinstated_and_writes_throughout() {
        let good = Seen {
            baseline: true,
            down_beats: vec![10.0, 11.0, 15.5, 16.5],
            up_beats: vec![16.5, 17.5, 18.6],
            down_at: Some(Duration::from_millis(4200)),
            up_at: Some(Duration::from_secs(3)),
        };
        let (line, ok) = judge(&cut(), &good, Duration::from_secs(60));
        assert!(ok, "{line}");
        assert!(line.contains("longest gap 4.5 s"), "{line}");
        let never_failed = Seen {
            down_at: None,
            ..good.clone()
        };
        let (line, ok) = judge(&cut(), &never_failed, Duration::from_secs(60));
        assert!(
            !ok && line.contains("never printed \"Failing path\""),
            "{line}"
        );
        let no_baseline = Seen {
            baseline: false,
            ..good.clone()
        };
        let (line, ok) = judge(&cut(), &no_baseline, Duration::from_secs(60));
        assert!(
            !ok && line.contains("no write seen just before the cut"),
            "{line}"
        );
        let stuck = Seen {
            up_beats: vec![16.5],
            ..good
        };
        assert!(!judge(&cut(), &stuck, Duration::from_secs(60)).1);
    }
}

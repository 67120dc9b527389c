//! Judging consoles: a client's verdict from its console events, a service role's
//! readiness, and the agent's `LAB-BEAT` lines in the fault scenario. Pure functions.

use crate::console::ConsoleEvent;
use crate::run::nodes::Expect;

/// A verdict: passed, and why.
pub type Verdict = (bool, String);

/// The verdict a client's console event gives, if any. `log` is the whole console so far
/// (for the expected extra line).
pub fn judge(ev: &ConsoleEvent, expect: &Expect, log: &str) -> Option<Verdict> {
    let Expect::Verdict {
        fail_stage,
        why_has,
        lines,
    } = expect
    else {
        return None;
    };
    let v = match (ev, fail_stage) {
        (ConsoleEvent::Pass, None) => (true, "LAB-PASS".to_string()),
        (ConsoleEvent::Pass, Some(st)) => (
            false,
            format!("reached LAB-PASS, expected FAILED stage={st}"),
        ),
        (ConsoleEvent::Failed { stage, why }, Some(st)) if stage == st => {
            match why_has.iter().find(|w| !why.contains(w.as_str())) {
                None => (true, format!("FAILED stage={stage} as expected: {why}")),
                Some(w) => (
                    false,
                    format!("FAILED stage={stage} as expected, but not naming '{w}': {why}"),
                ),
            }
        }
        (ConsoleEvent::Failed { stage, why }, _) => (false, format!("FAILED stage={stage}: {why}")),
        (ConsoleEvent::Fail(why), _) => (false, format!("LAB-FAIL {why}")),
        (ConsoleEvent::Panic(why), _) => (false, format!("kernel panic: {why}")),
        _ => return None,
    };
    match lines.iter().find(|want| v.0 && !shows(log, want)) {
        Some(want) => Some((
            false,
            format!("{} but the console never said '{want}'", v.1),
        )),
        None => Some(v),
    }
}

/// Whether `log` shows `want`: as written, or on a line as a terminal draws it. Firmware
/// such as iPXE draws progress in place (`http://…/vmlinuz... 42%` then backspaces, spaces
/// and backspaces, then ` ok`), so its final text is only on the screen.
pub fn shows(log: &str, want: &str) -> bool {
    log.contains(want)
        || log
            .lines()
            .any(|l| l.contains('\u{8}') && drawn(l).contains(want))
}

/// `line` as a terminal draws it: a backspace moves the cursor left, what follows
/// overwrites; a carriage return goes back to the start.
fn drawn(line: &str) -> String {
    let mut cells: Vec<char> = Vec::new();
    let mut at: usize = 0;
    for c in line.chars() {
        match c {
            '\u{8}' => at = at.saturating_sub(1),
            '\r' => at = 0,
            c => {
                if at < cells.len() {
                    cells[at] = c;
                } else {
                    cells.push(c);
                }
                at += 1;
            }
        }
    }
    cells.into_iter().collect()
}

/// What a service role's console line means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleLine {
    Ready,
    Failed(String),
}

/// Reads one line of a service role's console.
pub fn role_line(line: &str, marker: &str) -> Option<RoleLine> {
    match crate::console::parse_line(line) {
        Some(ConsoleEvent::Failed { stage, why }) => {
            Some(RoleLine::Failed(format!("FAILED stage={stage}: {why}")))
        }
        Some(ConsoleEvent::Panic(why)) => Some(RoleLine::Failed(format!("kernel panic: {why}"))),
        _ if line.trim_end().ends_with(marker) => Some(RoleLine::Ready),
        _ => None,
    }
}

/// `LAB-BEAT node=N n=K`: the agent wrote its K-th beat file to the shared root.
pub fn beat(line: &str) -> Option<u64> {
    let rest = line.trim().strip_prefix("LAB-BEAT ")?;
    rest.split_whitespace()
        .find_map(|w| w.strip_prefix("n="))
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass() -> Expect {
        Expect::Verdict {
            fail_stage: None,
            why_has: vec![],
            lines: vec![],
        }
    }

    #[test]
    fn a_line_drawn_in_place_by_the_firmware_counts_as_its_final_text() {
        let http = Expect::Verdict {
            fail_stage: None,
            why_has: vec![],
            lines: vec![
                "tftp://10.77.0.1/boot.ipxe... ok".into(),
                "http://10.77.0.1/vmlinuz... ok".into(),
            ],
        };
        // iPXE's progress: a percentage, wiped with backspaces, spaces and backspaces.
        let log = "tftp://10.77.0.1/boot.ipxe... ok\r\n\
                   http://10.77.0.1/vmlinuz... 37%\u{8}\u{8}\u{8}\u{8}    \u{8}\u{8}\u{8}\u{8} 88%\
                   \u{8}\u{8}\u{8}\u{8}    \u{8}\u{8}\u{8}\u{8} ok\r\n";
        assert!(shows(log, "http://10.77.0.1/vmlinuz... ok"));
        assert!(judge(&ConsoleEvent::Pass, &http, log).unwrap().0);
        // A failed fetch is not an ok one, however drawn.
        let failed = "tftp://10.77.0.1/boot.ipxe... ok\r\n\
                      http://10.77.0.1/vmlinuz... 37%\u{8}\u{8}\u{8}\u{8}    \u{8}\u{8}\u{8}\u{8} \
                      Connection reset (https://ipxe.org/0f0c6039)\r\n";
        let v = judge(&ConsoleEvent::Pass, &http, failed).unwrap();
        assert!(
            !v.0 && v.1.contains("never said 'http://10.77.0.1/vmlinuz... ok'"),
            "{v:?}"
        );
        assert_eq!(drawn("ab\u{8}\u{8}\u{8}c"), "cb");
        assert_eq!(drawn("abc\rx"), "xbc");
    }

    #[test]
    fn clients_pass_fail_and_fail_as_expected() {
        assert_eq!(
            judge(&ConsoleEvent::Pass, &pass(), ""),
            Some((true, "LAB-PASS".into()))
        );
        let failed = ConsoleEvent::Failed {
            stage: "cluster".into(),
            why: "no quorum after 25 s".into(),
        };
        assert!(!judge(&failed, &pass(), "").unwrap().0);
        let lone = Expect::Verdict {
            fail_stage: Some("cluster"),
            why_has: vec!["no quorum".into()],
            lines: vec![],
        };
        let log = "srbuild: FAILED stage=cluster: no quorum after 25 s: Nodes: 1\n";
        assert!(judge(&failed, &lone, log).unwrap().0);
        // The right stage for another reason does not count.
        let other = ConsoleEvent::Failed {
            stage: "cluster".into(),
            why: "corosync did not start".into(),
        };
        let v = judge(&other, &lone, "").unwrap();
        assert!(!v.0 && v.1.contains("not naming 'no quorum'"), "{v:?}");
        let ip = Expect::Verdict {
            fail_stage: None,
            why_has: vec![],
            lines: vec!["srbuild: ip 10.77.0.51/24 on eth0".into()],
        };
        let v = judge(&ConsoleEvent::Pass, &ip, "srbuild: node=node1").unwrap();
        assert!(!v.0 && v.1.contains("never said"), "{v:?}");
        assert!(
            judge(
                &ConsoleEvent::Pass,
                &ip,
                "srbuild: ip 10.77.0.51/24 on eth0"
            )
            .unwrap()
            .0
        );
        let v = judge(&ConsoleEvent::Pass, &lone, "").unwrap();
        assert!(!v.0 && v.1.contains("expected FAILED stage=cluster"));
        assert_eq!(
            judge(
                &ConsoleEvent::Stage {
                    name: "x".into(),
                    t: 1.0
                },
                &pass(),
                ""
            ),
            None
        );
        let ready = Expect::Ready {
            marker: "X",
            stopped: false,
        };
        assert_eq!(judge(&ConsoleEvent::Pass, &ready, ""), None);
    }

    #[test]
    fn role_lines_and_beats() {
        assert_eq!(
            role_line("LAB-SEED-DONE", "LAB-SEED-DONE"),
            Some(RoleLine::Ready)
        );
        assert_eq!(
            role_line(
                "[ 3.1] srbuild: FAILED stage=cluster: seed: cannot mount",
                "LAB-SEED-DONE"
            ),
            Some(RoleLine::Failed(
                "FAILED stage=cluster: seed: cannot mount".into()
            ))
        );
        assert_eq!(role_line("srbuild: stage=network t=1.0", "X"), None);
        assert_eq!(beat("LAB-BEAT node=node1 n=7 t=33.2"), Some(7));
        assert_eq!(beat("lab-agent: LAB-BEAT n=7"), None);
        assert_eq!(beat("LAB-BEAT node=node1"), None);
    }
}

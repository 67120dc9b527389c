//! Reading a node's serial console log.
//!
//! [`parse_line`] turns product, test-agent and kernel lines into
//! [`ConsoleEvent`]s; [`ConsoleWatcher`] tails a growing `console.log`
//! (which may not exist yet), splitting it into lines across partial
//! writes and CRLF endings, and waits for a line matching a predicate.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(100);
const TAIL_LINES: usize = 50;

/// Something meaningful seen on a console.
#[derive(Debug, Clone, PartialEq)]
pub enum ConsoleEvent {
    /// `srbuild: stage=<name> t=<seconds>`, or `srbuild: mark=<name> t=<seconds>`.
    Stage { name: String, t: f64 },
    /// `srbuild: FAILED stage=<name>: <why>`.
    Failed { stage: String, why: String },
    /// `LAB-PASS` from the test agent.
    Pass,
    /// `LAB-FAIL <why>` from the test agent.
    Fail(String),
    /// The kernel's `Run /init as init process`, at kernel time `t`.
    KernelInit { t: f64 },
    /// `Kernel panic - not syncing: <why>`.
    Panic(String),
}

/// Splits a leading `[    2.561234] ` kernel timestamp off `line`.
pub fn split_timestamp(line: &str) -> (Option<f64>, &str) {
    let trimmed = line.trim_start();
    if let Some(rest) = trimmed.strip_prefix('[') {
        if let Some((ts, after)) = rest.split_once(']') {
            if let Ok(t) = ts.trim().parse::<f64>() {
                return (Some(t), after.trim_start());
            }
        }
    }
    (None, trimmed)
}

/// Recognises one console line (without its line ending).
pub fn parse_line(line: &str) -> Option<ConsoleEvent> {
    let line = line.trim_end_matches(['\r', '\n']);
    let (ts, body) = split_timestamp(line);
    let body = body.trim_end();
    if let Some(i) = body.find("srbuild: ") {
        let rest = &body[i + "srbuild: ".len()..];
        if let Some(failed) = rest.strip_prefix("FAILED stage=") {
            let (stage, why) = failed.split_once(':').unwrap_or((failed, ""));
            return Some(ConsoleEvent::Failed {
                stage: stage.trim().to_string(),
                why: why.trim().to_string(),
            });
        }
        // `mark=<name> t=<t>`: a point inside a stage (quorum, say), drawn like a stage.
        if let Some(stage) = rest
            .strip_prefix("stage=")
            .or_else(|| rest.strip_prefix("mark="))
        {
            let mut words = stage.split_whitespace();
            let name = words.next()?.to_string();
            let t = words
                .find_map(|w| w.strip_prefix("t="))
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|t| t.is_finite())?;
            return Some(ConsoleEvent::Stage { name, t });
        }
        return None;
    }
    if body == "LAB-PASS" || body.starts_with("LAB-PASS ") {
        return Some(ConsoleEvent::Pass);
    }
    if let Some(why) = body.strip_prefix("LAB-FAIL") {
        if why.is_empty() || why.starts_with(char::is_whitespace) {
            return Some(ConsoleEvent::Fail(why.trim().to_string()));
        }
    }
    if let Some(i) = body.find("Kernel panic - not syncing") {
        let why = body[i..]
            .split_once(':')
            .map(|(_, w)| w.trim())
            .unwrap_or("");
        return Some(ConsoleEvent::Panic(why.to_string()));
    }
    if body.starts_with("Run ") && body.ends_with(" as init process") {
        return ts.map(|t| ConsoleEvent::KernelInit { t });
    }
    // After switch_root: the root's own stages, so that a stall there is drawn and named.
    if let Some(rest) = body.strip_prefix("lab-agent: ") {
        let name = match rest.split_whitespace().next()? {
            "start" => "agent",
            "systemd" => "system-up",
            "checks" => "checks",
            _ => return None,
        };
        let t = rest
            .split_whitespace()
            .find_map(|w| w.strip_prefix("t="))?
            .parse::<f64>()
            .ok()
            .filter(|t| t.is_finite())?;
        return Some(ConsoleEvent::Stage {
            name: name.to_string(),
            t,
        });
    }
    if body.contains("systemd[1]: systemd ") && body.contains(" running in system mode") {
        return ts.map(|t| ConsoleEvent::Stage {
            name: "root-init".into(),
            t,
        });
    }
    None
}

/// Why [`ConsoleWatcher::wait_for`] gave up.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error(
        "timed out after {:.1}s waiting on {}; last line: {last_line:?} \
         (raise SRBUILD_LAB_TIMEOUT_X on slow hosts)",
        waited.as_secs_f64(),
        log.display()
    )]
    Timeout {
        log: PathBuf,
        waited: Duration,
        last_line: String,
    },
    #[error("kernel panic in {}: {line}", log.display())]
    KernelPanic { log: PathBuf, line: String },
    #[error("QEMU of node {node} exited ({status}) before the awaited line appeared in {}; last line: {last_line:?}", log.display())]
    Exited {
        node: String,
        status: String,
        log: PathBuf,
        last_line: String,
    },
    #[error("cannot read {}: {source}", log.display())]
    Io {
        log: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Tails a console log; see the module docs.
#[derive(Debug)]
pub struct ConsoleWatcher {
    path: PathBuf,
    file: Option<File>,
    pos: u64,
    partial: Vec<u8>,
    last_line: String,
    tail: VecDeque<String>,
    events: Vec<ConsoleEvent>,
}

impl ConsoleWatcher {
    /// Watches `path` from its beginning; the file need not exist yet.
    pub fn new(path: &Path) -> ConsoleWatcher {
        ConsoleWatcher {
            path: path.to_path_buf(),
            file: None,
            pos: 0,
            partial: Vec::new(),
            last_line: String::new(),
            tail: VecDeque::new(),
            events: Vec::new(),
        }
    }

    /// The watched file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last non-empty complete line seen (or the pending partial line).
    pub fn last_line(&self) -> String {
        let partial = clean(&self.partial);
        if partial.trim().is_empty() {
            self.last_line.clone()
        } else {
            partial
        }
    }

    /// Up to the last 50 complete lines seen.
    pub fn tail(&self) -> Vec<String> {
        self.tail.iter().cloned().collect()
    }

    /// All events parsed so far, in order.
    pub fn events(&self) -> &[ConsoleEvent] {
        &self.events
    }

    /// `(stage, t)` pairs seen so far.
    pub fn stages(&self) -> Vec<(String, f64)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                ConsoleEvent::Stage { name, t } => Some((name.clone(), *t)),
                _ => None,
            })
            .collect()
    }

    /// Kernel time of `Run /init`, if seen.
    pub fn kernel_init(&self) -> Option<f64> {
        self.events.iter().find_map(|e| match e {
            ConsoleEvent::KernelInit { t } => Some(*t),
            _ => None,
        })
    }

    /// Reads whatever was appended since the last call and returns the new
    /// complete lines (line endings and stray `\r` removed).
    pub fn poll_lines(&mut self) -> Result<Vec<String>, WaitError> {
        let io = |source| WaitError::Io {
            log: self.path.clone(),
            source,
        };
        if self.file.is_none() {
            match File::open(&self.path) {
                Ok(f) => self.file = Some(f),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                Err(e) => return Err(io(e)),
            }
        }
        let mut buf = Vec::new();
        if let Some(f) = self.file.as_mut() {
            let len = f.metadata().map_err(io)?.len();
            if len < self.pos {
                // Truncated or replaced: start over.
                self.pos = 0;
                self.partial.clear();
            }
            f.seek(SeekFrom::Start(self.pos)).map_err(io)?;
            f.read_to_end(&mut buf).map_err(io)?;
        }
        self.pos += buf.len() as u64;
        self.partial.extend_from_slice(&buf);
        let mut lines = Vec::new();
        while let Some(nl) = self.partial.iter().position(|&b| b == b'\n') {
            let raw: Vec<u8> = self.partial.drain(..=nl).collect();
            let line = clean(&raw[..raw.len() - 1]);
            self.record(&line);
            lines.push(line);
        }
        Ok(lines)
    }

    fn record(&mut self, line: &str) {
        if !line.trim().is_empty() {
            self.last_line = line.to_string();
        }
        if self.tail.len() == TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(line.to_string());
        if let Some(ev) = parse_line(line) {
            self.events.push(ev);
        }
    }

    /// Waits up to `limit` for a complete line satisfying `pred`, returning
    /// it.  A kernel panic line that does not satisfy `pred` ends the wait.
    pub fn wait_for(
        &mut self,
        pred: impl Fn(&str) -> bool,
        limit: Duration,
    ) -> Result<String, WaitError> {
        self.wait_while(pred, limit, || None)
    }

    /// Like [`ConsoleWatcher::wait_for`], but also gives up as soon as `exited` says the
    /// machine writing the console is gone (its node and exit status), once its final
    /// output has been read.
    pub fn wait_while(
        &mut self,
        pred: impl Fn(&str) -> bool,
        limit: Duration,
        mut exited: impl FnMut() -> Option<(String, String)>,
    ) -> Result<String, WaitError> {
        let start = Instant::now();
        loop {
            // Check for exit before reading so the final output is not missed.
            let gone = exited();
            for line in self.poll_lines()? {
                if pred(&line) {
                    return Ok(line);
                }
                if let Some(ConsoleEvent::Panic(_)) = parse_line(&line) {
                    return Err(WaitError::KernelPanic {
                        log: self.path.clone(),
                        line,
                    });
                }
            }
            let partial = clean(&self.partial);
            if let Some((node, status)) = gone {
                if !partial.is_empty() && pred(&partial) {
                    return Ok(partial);
                }
                return Err(WaitError::Exited {
                    node,
                    status,
                    log: self.path.clone(),
                    last_line: self.last_line(),
                });
            }
            if start.elapsed() >= limit {
                if !partial.is_empty() && pred(&partial) {
                    return Ok(partial);
                }
                return Err(WaitError::Timeout {
                    log: self.path.clone(),
                    waited: start.elapsed(),
                    last_line: self.last_line(),
                });
            }
            std::thread::sleep(POLL);
        }
    }
}

/// Decodes a raw line, dropping `\r` and other control characters except tab.
fn clean(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw)
        .chars()
        .filter(|c| *c == '\t' || !c.is_control())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn parses_product_lines() {
        assert_eq!(
            parse_line("srbuild: stage=mount-root t=3.25\r\n"),
            Some(ConsoleEvent::Stage {
                name: "mount-root".into(),
                t: 3.25
            })
        );
        assert_eq!(
            parse_line("[    4.000001] srbuild: stage=udev t=4.00"),
            Some(ConsoleEvent::Stage {
                name: "udev".into(),
                t: 4.0
            })
        );
        assert_eq!(
            parse_line("srbuild: FAILED stage=nfs: mount 10.0.0.1:/srv timed out\r"),
            Some(ConsoleEvent::Failed {
                stage: "nfs".into(),
                why: "mount 10.0.0.1:/srv timed out".into()
            })
        );
        assert_eq!(
            parse_line("srbuild: mark=quorate t=14.50"),
            Some(ConsoleEvent::Stage {
                name: "quorate".into(),
                t: 14.5
            })
        );
        assert_eq!(parse_line("srbuild: stage=x t=abc"), None);
        assert_eq!(parse_line("srbuild: hello"), None);
    }

    #[test]
    fn the_roots_own_stages_are_parsed_after_switch_root() {
        let stage = |l: &str| match parse_line(l) {
            Some(ConsoleEvent::Stage { name, t }) => Some((name, t)),
            _ => None,
        };
        assert_eq!(
            stage(
                "[   18.977811] systemd[1]: systemd 252.39-1~deb12u2 running in system mode (+PAM)"
            ),
            Some(("root-init".into(), 18.977811))
        );
        assert_eq!(
            stage("lab-agent: start t=81.98\r"),
            Some(("agent".into(), 81.98))
        );
        assert_eq!(
            stage("lab-agent: systemd state=running t=83.21"),
            Some(("system-up".into(), 83.21))
        );
        assert_eq!(
            stage("lab-agent: checks t=83.5"),
            Some(("checks".into(), 83.5))
        );
        assert_eq!(stage("lab-agent: node=node1 id=1 addr=10.77.0.11/24"), None);
        assert_eq!(stage("lab-agent: start t=never"), None);
    }

    #[test]
    fn parses_agent_and_kernel_lines() {
        assert_eq!(parse_line("LAB-PASS\r"), Some(ConsoleEvent::Pass));
        assert_eq!(
            parse_line("LAB-FAIL ping 10.99.0.2 failed\r\n"),
            Some(ConsoleEvent::Fail("ping 10.99.0.2 failed".into()))
        );
        assert_eq!(parse_line("LAB-FAILED"), None);
        assert_eq!(
            parse_line("[    2.561234] Run /init as init process\r"),
            Some(ConsoleEvent::KernelInit { t: 2.561234 })
        );
        assert_eq!(parse_line("Run /init as init process"), None);
        assert_eq!(
            parse_line("[    3.100000] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\r"),
            Some(ConsoleEvent::Panic(
                "VFS: Unable to mount root fs on unknown-block(0,0)".into()
            ))
        );
        assert_eq!(parse_line("[    0.000000] Linux version 6.1.0"), None);
        assert_eq!(split_timestamp("[12345.5] x"), (Some(12345.5), "x"));
        assert_eq!(split_timestamp("[abc] x"), (None, "[abc] x"));
    }

    #[test]
    fn tails_growing_file_with_partial_lines() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("console.log");
        let mut w = ConsoleWatcher::new(&path);
        assert!(w.poll_lines()?.is_empty()); // does not exist yet
        let mut f = File::create(&path)?;
        f.write_all(b"[    2.5] Run /init as init process\r\r\nsrbuild: sta")?;
        assert_eq!(w.poll_lines()?, ["[    2.5] Run /init as init process"]);
        assert_eq!(w.last_line(), "srbuild: sta");
        f.write_all(b"ge=net t=3.5\r\nLAB-PA")?;
        f.flush()?;
        let path2 = path.clone();
        let writer = std::thread::spawn(move || -> std::io::Result<()> {
            std::thread::sleep(Duration::from_millis(300));
            let mut f = std::fs::OpenOptions::new().append(true).open(path2)?;
            f.write_all(b"SS\r\n")
        });
        let line = w.wait_for(|l| l.contains("LAB-PASS"), Duration::from_secs(5))?;
        writer.join().map_err(|_| "writer panicked")??;
        assert_eq!(line, "LAB-PASS");
        assert_eq!(w.stages(), [("net".to_string(), 3.5)]);
        assert_eq!(w.kernel_init(), Some(2.5));
        assert_eq!(w.events().last(), Some(&ConsoleEvent::Pass));
        Ok(())
    }

    #[test]
    fn times_out_and_stops_on_panic() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("console.log");
        std::fs::write(&path, "booting\nalmost\n")?;
        let mut w = ConsoleWatcher::new(&path);
        match w.wait_for(|l| l == "never", Duration::from_millis(250)) {
            Err(WaitError::Timeout { last_line, .. }) => assert_eq!(last_line, "almost"),
            other => return Err(format!("expected timeout, got {other:?}").into()),
        }
        std::fs::write(
            &path,
            "booting\n[ 1.0] Kernel panic - not syncing: Attempted to kill init!\n",
        )?;
        let mut w = ConsoleWatcher::new(&path);
        let r = w.wait_for(|l| l == "never", Duration::from_secs(5));
        assert!(matches!(r, Err(WaitError::KernelPanic { .. })), "{r:?}");
        Ok(())
    }
}

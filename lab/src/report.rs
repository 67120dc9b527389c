//! Lab results: JUnit XML for CI and an SVG boot timeline.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{LabError, Result};

/// How many trailing log lines go into a JUnit failure.
pub const FAILURE_LOG_LINES: usize = 40;

/// The outcome of one node.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeResult {
    pub name: String,
    pub passed: bool,
    pub message: String,
    /// The node's console log.
    pub log: PathBuf,
    /// Wall-clock time from start to verdict.
    pub duration: Duration,
    /// `(stage, guest uptime seconds)` in order of appearance.
    pub stages: Vec<(String, f64)>,
    /// Kernel time of `Run /init`.
    pub kernel_init: Option<f64>,
}

/// Escapes text for XML content and attribute values; drops characters
/// XML 1.0 forbids (most C0 controls, e.g. terminal escape sequences).
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' => out.push(c),
            '\r' => {}
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// The last `n` lines of `path` (empty if unreadable).
pub fn last_lines(path: &Path, n: usize) -> Vec<String> {
    let Ok(bytes) = std::fs::read(path) else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| l.trim_end_matches('\r').to_string())
        .collect()
}

/// Renders a JUnit report: one `<testcase>` per node.
pub fn junit_xml(suite_name: &str, results: &[NodeResult]) -> String {
    let failures = results.iter().filter(|r| !r.passed).count();
    let total: f64 = results.iter().map(|r| r.duration.as_secs_f64()).sum();
    let suite = xml_escape(suite_name);
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"{suite}\" tests=\"{}\" failures=\"{failures}\" time=\"{total:.3}\">",
        results.len()
    );
    let _ = writeln!(
        x,
        "  <testsuite name=\"{suite}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" time=\"{total:.3}\">",
        results.len()
    );
    for r in results {
        let _ = write!(
            x,
            "    <testcase classname=\"{suite}\" name=\"{}\" time=\"{:.3}\"",
            xml_escape(&r.name),
            r.duration.as_secs_f64()
        );
        if r.passed {
            x.push_str(">\n");
        } else {
            let log = last_lines(&r.log, FAILURE_LOG_LINES).join("\n");
            let _ = writeln!(
                x,
                ">\n      <failure message=\"{}\" type=\"LabFailure\">{}\n\nlast lines of {}:\n{}</failure>",
                xml_escape(&r.message),
                xml_escape(&r.message),
                xml_escape(&r.log.display().to_string()),
                xml_escape(&log)
            );
        }
        let mut out = format!("log: {}\n", r.log.display());
        if let Some(t) = r.kernel_init {
            let _ = writeln!(out, "kernel reached /init at {t:.3}s");
        }
        for (stage, t) in &r.stages {
            let _ = writeln!(out, "stage {stage} at {t:.3}s");
        }
        let _ = writeln!(x, "      <system-out>{}</system-out>", xml_escape(&out));
        x.push_str("    </testcase>\n");
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}

/// Writes [`junit_xml`] to `path`.
pub fn write_junit(path: &Path, suite_name: &str, results: &[NodeResult]) -> Result<()> {
    srbuild_fsio::write_file(path, junit_xml(suite_name, results).as_bytes(), 0o644, None)
        .map_err(|e| LabError::io("cannot write JUnit report", path, e))
}

const COLORS: [&str; 8] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#ff9da7", "#9c755f",
];

/// Renders the boot timeline: one row per node, one bar per stage from
/// its `t` to the next stage's `t` (the last to the node's end, at least
/// a sliver), and a tick where the kernel reached `/init`.
pub fn timeline_svg(results: &[NodeResult]) -> String {
    const LABEL_W: f64 = 140.0;
    const PLOT_W: f64 = 760.0;
    const ROW_H: f64 = 28.0;
    const TOP: f64 = 30.0;
    let end_of = |r: &NodeResult| {
        let last = r.stages.last().map_or(0.0, |s| s.1);
        let kinit = r.kernel_init.unwrap_or(0.0);
        last.max(kinit).max(r.duration.as_secs_f64())
    };
    let max_t = results.iter().map(end_of).fold(1.0_f64, f64::max);
    let x_of = |t: f64| LABEL_W + (t.max(0.0) / max_t) * PLOT_W;
    let height = TOP + ROW_H * results.len() as f64 + 30.0;
    let width = LABEL_W + PLOT_W + 20.0;

    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" \
         viewBox=\"0 0 {width:.0} {height:.0}\" font-family=\"sans-serif\" font-size=\"11\">"
    );
    let _ = writeln!(s, "  <rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
    let _ = writeln!(
        s,
        "  <text x=\"4\" y=\"16\" font-size=\"13\">boot timeline (guest seconds, 0 to {max_t:.1}s)</text>"
    );
    // Grid lines each second (or coarser for long runs).
    let step = (max_t / 10.0).ceil().max(1.0);
    let mut t = 0.0;
    while t <= max_t + 1e-9 {
        let x = x_of(t);
        let _ = writeln!(
            s,
            "  <line x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#666\">{t:.0}</text>",
            height - 22.0,
            height - 8.0
        );
        t += step;
    }
    for (row, r) in results.iter().enumerate() {
        let y = TOP + ROW_H * row as f64;
        let color = if r.passed { "#222" } else { "#c00" };
        let verdict = if r.passed { "pass" } else { "FAIL" };
        let _ = writeln!(
            s,
            "  <text x=\"4\" y=\"{:.1}\" fill=\"{color}\"><title>{}</title>{} ({verdict})</text>",
            y + ROW_H / 2.0 + 4.0,
            xml_escape(&r.message),
            xml_escape(&r.name)
        );
        let end = end_of(r);
        for (i, (name, t0)) in r.stages.iter().enumerate() {
            let t1 = r.stages.get(i + 1).map_or(end, |s| s.1);
            let x0 = x_of(*t0);
            let w = (x_of(t1) - x0).max(3.0);
            let fill = COLORS[i % COLORS.len()];
            let _ = writeln!(
                s,
                "  <rect x=\"{x0:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"{fill}\">\
                 <title>{} {t0:.3}s to {t1:.3}s</title></rect>",
                y + 4.0,
                ROW_H - 8.0,
                xml_escape(name)
            );
            if w > 30.0 {
                let _ = writeln!(
                    s,
                    "  <text x=\"{:.1}\" y=\"{:.1}\" fill=\"white\">{}</text>",
                    x0 + 3.0,
                    y + ROW_H / 2.0 + 4.0,
                    xml_escape(name)
                );
            }
        }
        if let Some(k) = r.kernel_init {
            let x = x_of(k);
            let _ = writeln!(
                s,
                "  <line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"black\" \
                 stroke-width=\"2\"><title>kernel ran /init at {k:.3}s</title></line>",
                y + 2.0,
                y + ROW_H - 2.0
            );
        }
    }
    s.push_str("</svg>\n");
    s
}

/// Writes [`timeline_svg`] to `path`.
pub fn write_timeline_svg(path: &Path, results: &[NodeResult]) -> Result<()> {
    srbuild_fsio::write_file(path, timeline_svg(results).as_bytes(), 0o644, None)
        .map_err(|e| LabError::io("cannot write timeline", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use quick_xml::events::Event;
    use quick_xml::Reader;

    fn results(log: PathBuf) -> Vec<NodeResult> {
        vec![
            NodeResult {
                name: "node<1>".into(),
                passed: true,
                message: "ok".into(),
                log: log.clone(),
                duration: Duration::from_millis(4200),
                stages: vec![("net".into(), 2.7), ("mount".into(), 3.1)],
                kernel_init: Some(2.56),
            },
            NodeResult {
                name: "n2&\"x\"".into(),
                passed: false,
                message: "LAB-FAIL a<b & \"c\"".into(),
                log,
                duration: Duration::from_secs(9),
                stages: vec![],
                kernel_init: None,
            },
        ]
    }

    /// Parses `xml` fully; returns (element names, all text).
    fn parse(xml: &str) -> Result<(Vec<String>, String), String> {
        let mut r = Reader::from_str(xml);
        let (mut names, mut text) = (Vec::new(), String::new());
        loop {
            match r.read_event().map_err(|e| e.to_string())? {
                Event::Start(e) | Event::Empty(e) => {
                    names.push(e.name().as_ref().to_string());
                    for a in e.attributes() {
                        let a = a.map_err(|e| e.to_string())?;
                        let v = a
                            .normalized_value(quick_xml::XmlVersion::default())
                            .map_err(|e| e.to_string())?;
                        text.push_str(&v);
                        text.push('\n');
                    }
                }
                Event::Text(t) => {
                    text.push_str(&t.xml10_content());
                }
                Event::GeneralRef(r) => {
                    let c = match &*r.xml10_content() {
                        "amp" => "&",
                        "lt" => "<",
                        "gt" => ">",
                        "quot" => "\"",
                        "apos" => "'",
                        other => return Err(format!("unknown entity {other}")),
                    };
                    text.push_str(c);
                }
                Event::Eof => break,
                _ => {}
            }
        }
        Ok((names, text))
    }

    #[test]
    fn junit_is_well_formed_and_escaped() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let log = dir.path().join("console.log");
        std::fs::write(&log, "boot\r\n\x1b[0mcolour & <tag>\r\nLAB-FAIL a<b\r\n")?;
        let xml = junit_xml("suite \"s\" <&>", &results(log));
        let (names, text) = parse(&xml)?;
        assert_eq!(names.iter().filter(|n| *n == "testcase").count(), 2);
        assert_eq!(names.iter().filter(|n| *n == "failure").count(), 1);
        assert!(text.contains("node<1>"));
        assert!(text.contains("n2&\"x\""));
        assert!(text.contains("suite \"s\" <&>"));
        assert!(text.contains("LAB-FAIL a<b & \"c\""));
        assert!(text.contains("colour & <tag>"));
        assert!(!xml.contains('\u{1b}'));
        Ok(())
    }

    #[test]
    fn svg_is_well_formed_with_bars() -> Result<(), Box<dyn std::error::Error>> {
        let svg = timeline_svg(&results(PathBuf::from("/nonexistent")));
        let (names, text) = parse(&svg)?;
        assert_eq!(names.first().map(String::as_str), Some("svg"));
        assert!(names.iter().filter(|n| *n == "rect").count() >= 3);
        assert!(text.contains("net 2.700s to 3.100s"));
        assert!(text.contains("n2&\"x\""));
        let dir = tempfile::tempdir()?;
        write_timeline_svg(&dir.path().join("t.svg"), &[])?;
        write_junit(&dir.path().join("j.xml"), "empty", &[])?;
        Ok(())
    }
}

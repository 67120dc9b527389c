//! Writes a benchmark's figures into `docs/measurements.md`, between the markers
//! `<!-- BEGIN bench: NAME -->` and `<!-- END bench: NAME -->`, as a table of figure,
//! value, date (UTC), commit (`-dirty` when the tree has changes besides that file) and
//! machine (cores, memory, CPU model, the lab's accelerator). A section that is not there
//! yet is appended at the end of the file.

use anyhow::{bail, Context, Result};
use std::path::Path;
use xshell::{cmd, Shell};

/// The file the benchmarks write, relative to the workspace root.
pub const FILE: &str = "docs/measurements.md";

/// One measured figure: what it is, and its value with its unit.
pub struct Figure {
    pub name: String,
    pub value: String,
}

/// A figure named `name` with the value `value`.
pub fn fig(name: impl Into<String>, value: impl Into<String>) -> Figure {
    Figure {
        name: name.into(),
        value: value.into(),
    }
}

/// When, on what and where a run measured.
pub struct Stamp {
    pub date: String,
    pub commit: String,
    pub machine: String,
}

/// The stamp of a run now: today's UTC date, HEAD, this machine.
pub fn stamp(sh: &Shell) -> Result<Stamp> {
    let date = cmd!(sh, "date -u +%F").quiet().read().context("date -u")?;
    // The benchmarks rewrite the measurements file themselves; that change alone does
    // not make the measured code different. Outside a git checkout the figures are still
    // worth keeping, so the commit is then "unknown".
    let exclude = format!(":(exclude){FILE}");
    let head = cmd!(sh, "git rev-parse --short HEAD")
        .quiet()
        .ignore_stderr()
        .read();
    let changes = cmd!(sh, "git status --porcelain -- . {exclude}")
        .quiet()
        .ignore_stderr()
        .read();
    let commit = match (head, changes) {
        (Ok(head), Ok(changes)) if changes.trim().is_empty() => head,
        (Ok(head), Ok(_)) => format!("{head}-dirty"),
        _ => "unknown (no git)".to_string(),
    };
    Ok(Stamp {
        date,
        commit,
        machine: machine(),
    })
}

/// "2 cores, 23 GiB, AMD EPYC, tcg": what a reader needs to compare two runs.
fn machine() -> String {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get().to_string())
        .unwrap_or_else(|_| "?".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| format!("{:.0} GiB", kib as f64 / (1024.0 * 1024.0)))
        .unwrap_or_else(|| "? GiB".into());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let accel = srbuild_lab::accel::detect(&srbuild_lab::qemu::qemu_binary());
    format!("{cores} cores, {memory}, {cpu}, {accel}")
}

/// The table of `figures` under `stamp`, ending with a newline.
pub fn table(figures: &[Figure], stamp: &Stamp) -> String {
    let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    let mut out =
        String::from("| figure | value | date | commit | machine |\n|---|---|---|---|---|\n");
    for f in figures {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            cell(&f.name),
            cell(&f.value),
            cell(&stamp.date),
            cell(&stamp.commit),
            cell(&stamp.machine)
        ));
    }
    out
}

fn markers(name: &str) -> (String, String) {
    (
        format!("<!-- BEGIN bench: {name} -->"),
        format!("<!-- END bench: {name} -->"),
    )
}

/// `doc` with the section `name` holding `body` (which ends with a newline): the text
/// between its markers replaced, or the section appended when `doc` has neither marker.
/// Markers that are unpaired, repeated or out of order are an error.
pub fn replace_section(doc: &str, name: &str, body: &str) -> Result<String> {
    let (begin, end) = markers(name);
    let (nb, ne) = (doc.matches(&begin).count(), doc.matches(&end).count());
    match (nb, ne) {
        (0, 0) => {
            let mut out = doc.to_string();
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(&format!("\n{begin}\n{body}{end}\n"));
            Ok(out)
        }
        (1, 1) => {
            let b = doc.find(&begin).expect("counted once");
            let e = doc.find(&end).expect("counted once");
            if e < b {
                bail!("`{end}` comes before `{begin}`; put the END marker after the BEGIN one");
            }
            // The body starts on the line after BEGIN; END stays at the start of its line.
            let after_begin = b + begin.len();
            let start = match doc[after_begin..].find('\n') {
                Some(i) if after_begin + i < e => after_begin + i + 1,
                _ => bail!("`{begin}` must be alone on its line, with `{end}` on a later line"),
            };
            let stop = doc[..e].rfind('\n').map_or(e, |i| i + 1).max(start);
            Ok(format!("{}{body}{}", &doc[..start], &doc[stop..]))
        }
        _ => bail!(
            "expected one `{begin}` and one `{end}`, found {nb} and {ne}; \
             leave one pair of markers around the section"
        ),
    }
}

/// Writes `figures` into the section `name` of [`FILE`] under `root`, and says so.
pub fn write(sh: &Shell, root: &Path, name: &str, figures: &[Figure]) -> Result<()> {
    let stamp = stamp(sh)?;
    let path = root.join(FILE);
    let doc = std::fs::read_to_string(&path)
        .with_context(|| format!("reading {} to record the {name} figures", path.display()))?;
    let new = replace_section(&doc, name, &table(figures, &stamp))
        .with_context(|| format!("{}: the bench: {name} section", path.display()))?;
    std::fs::write(&path, new)
        .with_context(|| format!("writing the {name} figures into {}", path.display()))?;
    println!(
        "xtask: {} figures written into {FILE} (bench: {name}, {}, {})",
        figures.len(),
        stamp.commit,
        stamp.machine
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp() -> Stamp {
        Stamp {
            date: "2026-12-04".into(),
            commit: "abc1234-dirty".into(),
            machine: "2 cores, 23 GiB, AMD EPYC, tcg".into(),
        }
    }

    #[test]
    fn replaces_only_the_named_section() {
        let doc = "# M\n\n<!-- BEGIN bench: floor -->\nold floor\n<!-- END bench: floor -->\n\
                   text\n<!-- BEGIN bench: read -->\nold read\n<!-- END bench: read -->\n";
        let out = replace_section(doc, "floor", "new 1\nnew 2\n").unwrap();
        assert_eq!(
            out,
            "# M\n\n<!-- BEGIN bench: floor -->\nnew 1\nnew 2\n<!-- END bench: floor -->\n\
             text\n<!-- BEGIN bench: read -->\nold read\n<!-- END bench: read -->\n"
        );
        // Replacing again with the same body changes nothing.
        assert_eq!(
            replace_section(&out, "floor", "new 1\nnew 2\n").unwrap(),
            out
        );
    }

    #[test]
    fn an_empty_section_is_filled() {
        let doc = "a\n<!-- BEGIN bench: lab -->\n<!-- END bench: lab -->\nb\n";
        let out = replace_section(doc, "lab", "x\n").unwrap();
        assert_eq!(
            out,
            "a\n<!-- BEGIN bench: lab -->\nx\n<!-- END bench: lab -->\nb\n"
        );
    }

    #[test]
    fn a_missing_section_is_appended() {
        let out = replace_section("# M\ntext", "build", "row\n").unwrap();
        assert_eq!(
            out,
            "# M\ntext\n\n<!-- BEGIN bench: build -->\nrow\n<!-- END bench: build -->\n"
        );
        // A name that is only a prefix of another section's is its own section.
        let doc = "<!-- BEGIN bench: floor2 -->\nz\n<!-- END bench: floor2 -->\n";
        let out = replace_section(doc, "floor", "row\n").unwrap();
        assert!(out.starts_with(doc) && out.contains("<!-- BEGIN bench: floor -->\nrow\n"));
    }

    #[test]
    fn broken_markers_are_errors() {
        let only_begin = "<!-- BEGIN bench: read -->\nx\n";
        let err = replace_section(only_begin, "read", "y\n").unwrap_err();
        assert!(err.to_string().contains("found 1 and 0"), "{err}");
        let reversed = "<!-- END bench: read -->\nx\n<!-- BEGIN bench: read -->\n";
        let err = replace_section(reversed, "read", "y\n").unwrap_err();
        assert!(err.to_string().contains("comes before"), "{err}");
        let same_line = "<!-- BEGIN bench: read --><!-- END bench: read -->\n";
        assert!(replace_section(same_line, "read", "y\n").is_err());
    }

    #[test]
    fn the_measurements_file_has_one_section_per_bench() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(FILE);
        let doc = std::fs::read_to_string(&path).unwrap();
        for name in ["build", "floor", "read", "lab"] {
            let (begin, _) = markers(name);
            assert_eq!(
                doc.matches(&begin).count(),
                1,
                "{name} in {}",
                path.display()
            );
            let out = replace_section(&doc, name, "row\n").unwrap();
            assert!(out.contains(&format!("{begin}\nrow\n<!-- END bench: {name} -->")));
            assert!(out.len() < doc.len(), "{name}: the old rows went");
        }
    }

    #[test]
    fn table_rows_carry_the_stamp_and_escape_pipes() {
        let t = table(
            &[
                fig("`find | sort`, median", "134.2 ms"),
                fig("ratio", "1.11x"),
            ],
            &stamp(),
        );
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "| figure | value | date | commit | machine |");
        assert_eq!(
            lines[2],
            "| `find \\| sort`, median | 134.2 ms | 2026-12-04 | abc1234-dirty | 2 cores, 23 GiB, AMD EPYC, tcg |"
        );
        assert_eq!(lines.len(), 4);
        assert!(t.ends_with('\n'));
    }
}

//! `cargo xtask lab [--jobs N] [SCENARIO...]` and the lab step of `cargo xtask ci`: the
//! end-to-end scenarios of `srbuild_lab::run::matrix::MATRIX` (all, or those named), each
//! one `srbuild lab test` run under `target/lab-ci/NAME`, up to N of them side by side.
//!
//! Why side by side: under TCG most scenarios spend much of their time waiting (for a
//! fence, a timeout, a server that comes back), with the host's two cores idle; five fault
//! scenarios measured 73 % idle on average. With N > 1 each scenario's output goes to
//! `target/lab-ci/NAME.log` and is printed whole once it ends, so the log reads as with
//! N = 1. Scenarios whose root is a Debian tree (systemd, the longest) start first, so the
//! last one to end is a short one. The lab cache is built under a lock
//! (`srbuild_lab::run::cache::lock`), so two runs never build one entry twice.

use crate::leftovers;
use anyhow::{bail, Context, Result};
use srbuild_lab::run::matrix::{MatrixEntry, MATRIX};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Instant;

/// Scenarios side by side in `cargo xtask ci` (the machine's two cores).
pub const CI_JOBS: usize = 2;

/// What `cargo xtask lab` was asked for.
#[derive(Debug, PartialEq)]
pub struct Options {
    pub jobs: usize,
    pub only: Vec<String>,
}

/// Parses `[--jobs N] [SCENARIO...]`.
pub fn parse(args: &[String]) -> Result<Options> {
    let mut opts = Options {
        jobs: 1,
        only: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--jobs" {
            let n = it.next().context("--jobs needs a number (1 to 8)")?;
            opts.jobs = match n.parse::<usize>() {
                Ok(j @ 1..=8) => j,
                _ => bail!("--jobs {n}: give a number from 1 to 8"),
            };
        } else if a.starts_with('-') {
            bail!("unknown option {a}; usage: cargo xtask lab [--jobs N] [SCENARIO...]");
        } else {
            opts.only.push(a.clone());
        }
    }
    Ok(opts)
}

/// The chosen entries in the order they start: Debian roots first, then the rest, each
/// group in matrix order.
fn chosen<'a>(matrix: &'a [MatrixEntry], only: &[String]) -> Result<Vec<&'a MatrixEntry>> {
    if let Some(bad) = only.iter().find(|o| !matrix.iter().any(|m| m.name == *o)) {
        let names: Vec<&str> = matrix.iter().map(|m| m.name).collect();
        bail!("no lab scenario named {bad}; known: {}", names.join(" "));
    }
    let mut chosen: Vec<&MatrixEntry> = matrix
        .iter()
        .filter(|m| only.is_empty() || only.iter().any(|o| o == m.name))
        .collect();
    // A stable sort keeps the matrix order inside each group.
    chosen.sort_by_key(|m| !m.rootfs.is_debian());
    Ok(chosen)
}

/// The `srbuild lab test` command of `m`, writing under `dir`.
fn command(m: &MatrixEntry, dir: &Path) -> Command {
    let mut c = Command::new("target/release/srbuild");
    c.args(["lab", "test", "--root", m.kind])
        .args(["--nodes", &m.nodes.to_string()])
        .args(["--scenario", m.scenario.name()])
        .args(["--rootfs", &m.rootfs.to_string()]);
    if let Some(r) = m.distro {
        c.args(["--distro", r.number]);
    }
    c.arg("--dir")
        .arg(dir)
        .arg("--junit")
        .arg(dir.join("junit.xml"));
    c
}

/// Runs one scenario: its output on ours (`log` None) or into `log`. Whether it passed.
fn run_one(root: &Path, m: &MatrixEntry, dir: &Path, log: Option<&Path>) -> Result<bool> {
    let mut c = command(m, dir);
    c.current_dir(root).stdin(Stdio::null());
    if let Some(log) = log {
        let f = std::fs::File::create(root.join(log))
            .with_context(|| format!("cannot create {}", log.display()))?;
        let f2 = f
            .try_clone()
            .context("cannot duplicate the log's descriptor")?;
        c.stdout(f).stderr(f2);
    } else {
        println!("$ {c:?}");
    }
    let status = c
        .status()
        .context("cannot run target/release/srbuild (was it built?)")?;
    Ok(status.success())
}

/// How many lines of a failed scenario's output are repeated at the end of the run.
const FAILED_TAIL: usize = 40;

/// The last `n` lines of `text`.
fn last_lines(text: &str, n: usize) -> &str {
    if n == 0 {
        return "";
    }
    let text = text.trim_end_matches('\n');
    match text.rmatch_indices('\n').nth(n - 1) {
        Some((i, _)) => &text[i + 1..],
        None => text,
    }
}

/// Runs the chosen scenarios, `jobs` at a time, then checks that none left a QEMU or BMC
/// behind. Fails naming every scenario that failed.
pub fn run(root: &Path, opts: &Options) -> Result<()> {
    // Relative, so the unix socket paths under it stay short.
    let out = Path::new("target/lab-ci");
    std::fs::create_dir_all(root.join(out)).context("cannot create target/lab-ci")?;
    let before = leftovers::qemus_under(root, out);
    let todo = chosen(MATRIX, &opts.only)?;
    let print = Mutex::new(());
    let side_by_side = opts.jobs > 1;
    // Debian roots never side by side: two of them at once stalled guests for 16 s (a
    // cluster member was taken for dead and fenced); a light scenario runs beside one.
    let outcomes = crate::pool::each(
        &todo,
        opts.jobs,
        |m| m.rootfs.is_debian(),
        |m| {
            let dir = out.join(m.name);
            let log = out.join(format!("{}.log", m.name));
            {
                let _p = print.lock().unwrap_or_else(|p| p.into_inner());
                println!("xtask: lab scenario {}", m.name);
            }
            let t = Instant::now();
            let res = run_one(root, m, &dir, side_by_side.then_some(log.as_path()));
            let took = t.elapsed();
            if side_by_side {
                let _p = print.lock().unwrap_or_else(|p| p.into_inner());
                let verdict = match &res {
                    Ok(true) => "passed",
                    _ => "FAILED",
                };
                println!(
                    "xtask: lab scenario {} {verdict} in {:.0} s; its output ({}):",
                    m.name,
                    took.as_secs_f64(),
                    log.display()
                );
                match std::fs::read(root.join(&log)) {
                    Ok(text) => print!("{}", String::from_utf8_lossy(&text)),
                    Err(e) => println!("xtask: cannot read {}: {e}", log.display()),
                }
            }
            (took, res)
        },
    );
    let mut failed: Vec<String> = Vec::new();
    let mut passed = 0;
    let mut times: Vec<String> = Vec::new();
    for (m, (took, res)) in todo.iter().zip(&outcomes) {
        let name = m.name;
        times.push(format!("{name} {:.0} s", took.as_secs_f64()));
        match res {
            Ok(true) => passed += 1,
            Ok(false) => failed.push(format!(
                "{name} (logs {}/{name}/*/console.log)",
                out.display()
            )),
            Err(e) => failed.push(format!("{name} ({e:#})")),
        }
    }
    // Every exit path of `lab test` must have killed its QEMUs and BMCs. Only those of this
    // run count (their command lines name files under target/lab-ci); others are left alone.
    let left: Vec<String> = leftovers::qemus_under(root, out)
        .into_iter()
        .filter(|p| !before.contains(p))
        .map(|p| p.to_string())
        .collect();
    if left.is_empty() {
        passed += 1;
    } else {
        eprintln!(
            "xtask: QEMU or ipmi_sim processes of this run left behind: pids {}",
            left.join(" ")
        );
        failed.push(format!("no-qemu-left-behind (pids {})", left.join(" ")));
    }
    // CI keeps only the end of its output: repeat the end of each failed scenario's log
    // (its verdict table and the lines before it) next to the summary.
    if side_by_side {
        for (m, (_, res)) in todo.iter().zip(&outcomes) {
            if matches!(res, Ok(true)) {
                continue;
            }
            let log = out.join(format!("{}.log", m.name));
            if let Ok(text) = std::fs::read(root.join(&log)) {
                let text = String::from_utf8_lossy(&text);
                println!(
                    "xtask: the last {FAILED_TAIL} lines of {} ({}):",
                    m.name,
                    log.display()
                );
                println!("{}", last_lines(&text, FAILED_TAIL));
            }
        }
    }
    println!(
        "lab: scenario times ({} side by side): {}",
        opts.jobs,
        times.join(", ")
    );
    println!("lab: {passed} passed, {} failed", failed.len());
    if !failed.is_empty() {
        bail!("lab scenarios failed: {}", failed.join("; "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_end_of_a_failed_log_is_its_last_lines() {
        assert_eq!(last_lines("a\nb\nc\n", 2), "b\nc");
        assert_eq!(last_lines("a\nb\nc", 5), "a\nb\nc");
        assert_eq!(last_lines("a\nb\nc", 3), "a\nb\nc");
        assert_eq!(last_lines("a\nb\nc", 0), "");
        assert_eq!(last_lines("", 3), "");
    }

    #[test]
    fn options() {
        let o = parse(&args(&["--jobs", "2", "nfs-3-clients"])).unwrap();
        assert_eq!(o.jobs, 2);
        assert_eq!(o.only, ["nfs-3-clients"]);
        assert_eq!(parse(&[]).unwrap().jobs, 1);
        for bad in [
            &["--jobs"][..],
            &["--jobs", "0"],
            &["--jobs", "x"],
            &["--jobs", "9"],
            &["-j"],
        ] {
            assert!(parse(&args(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn debian_roots_start_first_and_every_entry_runs_once() {
        let all = chosen(MATRIX, &[]).unwrap();
        assert_eq!(all.len(), MATRIX.len());
        let first_other = all.iter().position(|m| !m.rootfs.is_debian()).unwrap();
        assert!(first_other > 0, "the matrix has Debian-root entries");
        assert!(all[first_other..].iter().all(|m| !m.rootfs.is_debian()));
        let mut names: Vec<&str> = all.iter().map(|m| m.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), MATRIX.len());
    }

    #[test]
    fn an_unknown_scenario_is_named() {
        let e = chosen(MATRIX, &args(&["nfs-3-clients", "no-such"])).unwrap_err();
        assert!(
            e.to_string().contains("no lab scenario named no-such"),
            "{e}"
        );
    }

    #[test]
    fn the_command_names_the_entry_and_its_directory() {
        let m = MATRIX.iter().find(|m| m.distro.is_some()).unwrap();
        let c = command(m, Path::new("target/lab-ci/x"));
        let a: Vec<String> = c
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let text = a.join(" ");
        assert!(text.starts_with(&format!("lab test --root {} --nodes {}", m.kind, m.nodes)));
        assert!(text.contains("--distro "), "{text}");
        assert!(text.ends_with("--dir target/lab-ci/x --junit target/lab-ci/x/junit.xml"));
    }
}

//! `cargo xtask fuzz [--seconds N] [TARGET...]`: builds the cargo-fuzz crate (`fuzz/`) on
//! stable Rust with the coverage flags `cargo fuzz build -s none` passes (no sanitizer, so no
//! nightly), into its own target directory (`target/fuzz`, the main builds stay valid), then
//! runs each libFuzzer target for a bounded time, one per core side by side. The checked-in corpus
//! (`fuzz/corpus/TARGET`) is read; what libFuzzer finds goes to `target/fuzz/corpus-new`.
//! Prints one line per target with its executions; a crash fails with the input's path.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// Every fuzz target of `fuzz/Cargo.toml`, in the order they start.
pub const TARGETS: &[&str] = &[
    "archive_list",
    "profile_toml",
    "module_toml",
    "cluster_toml",
    "elf_deps",
];

/// The seconds each target runs in `cargo xtask ci`.
pub const CI_SECONDS: u64 = 20;

/// What `cargo fuzz build -s none` (cargo-fuzz 0.12/0.13) gives rustc for an optimized build
/// with debug assertions, plus overflow checks. All stable: `-C passes` and `-C llvm-args`
/// need no `-Z`. Coverage: inline 8-bit counters with the PC table libFuzzer reads, and
/// comparison tracing (so magic numbers and TOML keys are found quickly).
const RUSTFLAGS: &[&str] = &[
    "--cfg",
    "fuzzing",
    "-Cpasses=sancov-module",
    "-Cllvm-args=-sanitizer-coverage-level=4",
    "-Cllvm-args=-sanitizer-coverage-inline-8bit-counters",
    "-Cllvm-args=-sanitizer-coverage-pc-table",
    "-Cllvm-args=-sanitizer-coverage-trace-compares",
    "-Cllvm-args=-sanitizer-coverage-stack-depth",
    "-Cllvm-args=-simplifycfg-branch-fold-threshold=0",
    "-Clink-dead-code",
    "-Cdebug-assertions",
    "-Coverflow-checks",
    "-Ccodegen-units=1",
];

/// The result of one target's run, from libFuzzer's `-print_final_stats=1` lines.
#[derive(Debug, Default, PartialEq, Eq)]
struct Stats {
    execs: u64,
    new_units: u64,
    peak_rss_mb: u64,
    /// `Test unit written to PATH`: the input of a crash, leak, timeout or OOM.
    crash_input: Option<String>,
}

fn parse_stats(log: &str) -> Stats {
    let mut s = Stats::default();
    for line in log.lines() {
        let number = |key: &str| -> Option<u64> { line.strip_prefix(key)?.trim().parse().ok() };
        if let Some(n) = number("stat::number_of_executed_units:") {
            s.execs = n;
        } else if let Some(n) = number("stat::new_units_added:") {
            s.new_units = n;
        } else if let Some(n) = number("stat::peak_rss_mb:") {
            s.peak_rss_mb = n;
        } else if let Some((_, path)) = line.split_once("Test unit written to ") {
            s.crash_input = Some(path.trim().to_string());
        }
    }
    s
}

#[derive(Debug)]
struct Options {
    seconds: u64,
    targets: Vec<String>,
}

fn parse_args(args: &[String]) -> Result<Options> {
    let mut seconds = 60;
    let mut targets = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => {
                let v = it.next().context("--seconds needs a number")?;
                seconds = v
                    .parse()
                    .with_context(|| format!("--seconds {v}: not a number of seconds"))?;
                if seconds == 0 {
                    bail!("--seconds 0: give at least one second");
                }
            }
            t if TARGETS.contains(&t) => targets.push(t.to_string()),
            other => bail!(
                "unknown fuzz target or option '{other}'; usage: cargo xtask fuzz \
                 [--seconds N] [TARGET...]; targets: {}",
                TARGETS.join(" ")
            ),
        }
    }
    if targets.is_empty() {
        targets = TARGETS.iter().map(|t| t.to_string()).collect();
    }
    Ok(Options { seconds, targets })
}

/// The host's target triple (`rustc -vV`). Building for an explicit `--target` keeps the
/// coverage flags away from build scripts and proc macros, as cargo-fuzz does.
fn host_triple() -> Result<String> {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .context("running rustc -vV")?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_string)
        .context("rustc -vV printed no host line")
}

/// Builds the fuzz targets; returns the directory holding the binaries.
fn build(root: &Path, targets: &[String]) -> Result<PathBuf> {
    let triple = host_triple()?;
    let target_dir = root.join("target/fuzz");
    let mut flags = RUSTFLAGS.join(" ");
    if let Ok(extra) = std::env::var("RUSTFLAGS") {
        flags.push(' ');
        flags.push_str(&extra);
    }
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root)
        .args(["build", "--release", "--manifest-path", "fuzz/Cargo.toml"])
        .arg("--target")
        .arg(&triple)
        .arg("--target-dir")
        .arg(&target_dir)
        .env("RUSTFLAGS", flags)
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    for t in targets {
        cmd.args(["--bin", t]);
    }
    let started = Instant::now();
    let status = cmd
        .status()
        .context("running cargo build for fuzz/Cargo.toml")?;
    if !status.success() {
        bail!("building the fuzz targets failed ({status}); the command was {cmd:?}");
    }
    println!(
        "fuzz: built {} in {:.0} s",
        targets.join(" "),
        started.elapsed().as_secs_f64()
    );
    Ok(target_dir.join(triple).join("release"))
}

/// Runs one target for `seconds`; its libFuzzer output goes to `log`.
fn run_target(root: &Path, bin: &Path, target: &str, seconds: u64, log: &Path) -> Result<Stats> {
    let fuzz_dir = root.join("target/fuzz");
    let scratch = fuzz_dir.join("corpus-new").join(target);
    let artifacts = fuzz_dir.join("artifacts").join(target);
    let seeds = root.join("fuzz/corpus").join(target);
    for d in [&scratch, &artifacts] {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    if !seeds.is_dir() {
        bail!(
            "{} is missing: the checked-in corpus (python3 fuzz/make_seeds.py makes it)",
            seeds.display()
        );
    }
    let out = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let err = out.try_clone()?;
    // New units are written to the first corpus directory: the scratch one.
    let status = Command::new(bin)
        .current_dir(root)
        .arg(format!("-max_total_time={seconds}"))
        .arg("-print_final_stats=1")
        // A unit slower than this is a hang and fails like a crash.
        .arg("-timeout=10")
        .arg("-rss_limit_mb=2048")
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .arg(&scratch)
        .arg(&seeds)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .status()
        .with_context(|| format!("running {}", bin.display()))?;
    let text =
        std::fs::read_to_string(log).with_context(|| format!("reading {}", log.display()))?;
    let stats = parse_stats(&text);
    if !status.success() || stats.crash_input.is_some() {
        let tail: Vec<&str> = text.lines().rev().take(40).collect();
        for l in tail.into_iter().rev() {
            eprintln!("  {l}");
        }
        bail!(
            "fuzz target {target} failed ({status}) after {} execs: input {}; log {}; \
             reproduce with {} {}",
            stats.execs,
            stats.crash_input.as_deref().unwrap_or("(none written)"),
            log.display(),
            bin.display(),
            stats.crash_input.as_deref().unwrap_or("INPUT"),
        );
    }
    if stats.execs == 0 {
        bail!(
            "fuzz target {target} ran no input (no stat::number_of_executed_units in {})",
            log.display()
        );
    }
    Ok(stats)
}

/// `cargo xtask fuzz [--seconds N] [TARGET...]` (default: every target, 60 s each).
/// Targets run side by side, one per core (a libFuzzer run uses one); each is reported in
/// the order given, the first failure ends the command.
pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let opts = parse_args(args)?;
    let bin_dir = build(root, &opts.targets)?;
    let logs = root.join("target/fuzz/logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let done = crate::pool::each(
        &opts.targets,
        jobs,
        |_| false,
        |t| {
            let log = logs.join(format!("{t}.log"));
            let started = Instant::now();
            let res = run_target(root, &bin_dir.join(t), t, opts.seconds, &log);
            (started.elapsed(), res)
        },
    );
    for (t, (took, res)) in opts.targets.iter().zip(done) {
        let stats = res?;
        println!(
            "fuzz: {t} {} execs in {:.0} s, no crash ({} new inputs in target/fuzz/corpus-new/{t}, \
             peak RSS {} MB)",
            stats.execs,
            took.as_secs_f64(),
            stats.new_units,
            stats.peak_rss_mb
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_of_a_clean_run() {
        let log = "#2\tINITED cov: 10\nDone 1234567 runs in 21 second(s)\n\
                   stat::number_of_executed_units: 1234567\n\
                   stat::average_exec_per_sec:     58788\n\
                   stat::new_units_added:          42\n\
                   stat::slowest_unit_time_sec:    0\n\
                   stat::peak_rss_mb:              61\n";
        let s = parse_stats(log);
        assert_eq!(
            s,
            Stats {
                execs: 1234567,
                new_units: 42,
                peak_rss_mb: 61,
                crash_input: None
            }
        );
    }

    #[test]
    fn stats_of_a_crash() {
        let log = "thread '<unnamed>' panicked at fuzz_targets/x.rs:3:5\n\
                   ==1== ERROR: libFuzzer: deadly signal\n\
                   MS: 1 ChangeBit-; base unit: 0\n\
                   artifact_prefix='target/fuzz/artifacts/x/'; Test unit written to \
                   target/fuzz/artifacts/x/crash-da39a3ee\n\
                   stat::number_of_executed_units: 77\n";
        let s = parse_stats(log);
        assert_eq!(s.execs, 77);
        assert_eq!(
            s.crash_input.as_deref(),
            Some("target/fuzz/artifacts/x/crash-da39a3ee")
        );
    }

    #[test]
    fn arguments() {
        let o = parse_args(&[]).unwrap();
        assert_eq!(o.seconds, 60);
        assert_eq!(o.targets.len(), TARGETS.len());
        let args: Vec<String> = ["--seconds", "5", "elf_deps"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let o = parse_args(&args).unwrap();
        assert_eq!((o.seconds, o.targets), (5, vec!["elf_deps".to_string()]));
        let err = parse_args(&["nope".to_string()]).unwrap_err().to_string();
        assert!(err.contains("archive_list"), "{err}");
        assert!(parse_args(&["--seconds".to_string()]).is_err());
    }
}

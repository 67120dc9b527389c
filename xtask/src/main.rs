//! Project automation: `cargo xtask deps [--check-releases] | ci | bench [--floor|--read|--lab|--storm [--nodes 4,8,16]] [--runs N] | demo | lab [--jobs N] [SCENARIO...] |
//! fuzz [--seconds N] [TARGET...] | docs [--check]`.
//! `ci` is what `.ci/run` calls; it installs the host packages it needs first.

mod bench;
mod deps;
mod dist;
mod docs;
mod fuzz;
mod hostreleases;
mod labrun;
mod leftovers;
mod pool;

use anyhow::{bail, Context, Result};
use std::process::ExitCode;
use xshell::{cmd, Shell};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line with the chain, not a backtrace of xtask itself.
            eprintln!("xtask: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sh = Shell::new()?;
    sh.change_dir(project_root());
    match args.first().map(String::as_str) {
        Some("deps") => match args.get(1).map(String::as_str) {
            None => deps(&sh),
            Some("--check-releases") => hostreleases::run(&sh),
            Some(other) => bail!("cargo xtask deps [--check-releases]: unknown argument {other}"),
        },
        Some("ci") => ci(&sh),
        Some("bench") => bench::run(&sh, &args[1..]),
        Some("demo") => demo(&sh),
        Some("dist") => match args.get(1).map(String::as_str) {
            None => dist::build(&sh).map(|_| ()),
            Some("--check") => dist::run(&sh),
            Some(other) => bail!("cargo xtask dist [--check]: unknown argument {other}"),
        },
        Some("fuzz") => fuzz::run(&project_root(), &args[1..]),
        Some("docs") => docs::run(&project_root(), &args[1..]),
        Some("lab") => {
            let opts = labrun::parse(&args[1..])?;
            cmd!(sh, "cargo build --release -p srbuild").run()?;
            labrun::run(&project_root(), &opts)
        }
        _ => {
            eprintln!(
                "usage: cargo xtask deps [--check-releases] | ci | bench [--floor|--read|--lab|--storm [--nodes 4,8,16]] [--runs N] | demo | lab [--jobs N] [SCENARIO...] | \
                 fuzz [--seconds N] [TARGET...] | docs [--check]"
            );
            std::process::exit(2);
        }
    }
}

fn project_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// `cargo xtask deps` (see [`deps`]).
pub fn deps(sh: &Shell) -> Result<()> {
    deps::run(sh)
}

fn ci(sh: &Shell) -> Result<()> {
    let mut steps = Steps::default();
    steps.run("deps", || deps(sh))?;
    // The same package list must resolve on every supported host release (Debian 12 and
    // 13), with apt's resolver and nothing installed: mmdebstrap comes from the list.
    steps.run("host releases", || {
        hostreleases::run(sh).context("host releases")
    })?;
    steps.run("fmt", || {
        cmd!(sh, "cargo fmt --all -- --check")
            .run()
            .context("cargo fmt")
    })?;
    // The docs' generated tables (kinds, scenarios) match the registries.
    steps.run("docs", || {
        docs::run(&project_root(), &["--check".into()]).context("generated docs")
    })?;
    steps.run("clippy", || {
        cmd!(sh, "cargo clippy --workspace --all-targets -- -D warnings")
            .run()
            .context("clippy")
    })?;
    // Release build: the lab scenarios and the builder tests use the real binary.
    steps.run("release build", || {
        Ok(cmd!(sh, "cargo build --release --workspace").run()?)
    })?;
    steps.run("tests", || {
        cmd!(sh, "cargo test --release --workspace -- --test-threads=2")
            .run()
            .context("cargo test")
    })?;
    // Every fuzz target for a bounded time on the checked-in corpus (builds on stable).
    steps.run("fuzz", || {
        let seconds = fuzz::CI_SECONDS.to_string();
        fuzz::run(&project_root(), &["--seconds".into(), seconds]).context("fuzzing")
    })?;
    // The .deb: install, use from outside the tree, a real kernel package install and
    // removal through its hooks, purge leaves nothing.
    steps.run("packaging", || dist::run(sh).context("packaging test"))?;
    // A failed step has printed the times already.
    steps.run("lab", || {
        let opts = labrun::Options {
            jobs: labrun::CI_JOBS,
            only: Vec::new(),
        };
        labrun::run(&project_root(), &opts)
    })?;
    steps.report();
    Ok(())
}

/// The wall time of each step of `cargo xtask ci`, printed at the end, so that every CI log
/// says where its time went (docs/measurements.md keeps the figures).
#[derive(Default)]
struct Steps(Vec<(&'static str, std::time::Duration)>);

impl Steps {
    fn run(&mut self, name: &'static str, step: impl FnOnce() -> Result<()>) -> Result<()> {
        let t = std::time::Instant::now();
        let res = step();
        self.0.push((name, t.elapsed()));
        if res.is_err() {
            self.report();
        }
        res
    }

    fn report(&self) {
        let total: f64 = self.0.iter().map(|(_, d)| d.as_secs_f64()).sum();
        let each: Vec<String> = self
            .0
            .iter()
            .map(|(n, d)| format!("{n} {:.0} s", d.as_secs_f64()))
            .collect();
        println!(
            "xtask: ci steps: {}; total {:.1} min",
            each.join(", "),
            total / 60.0
        );
    }
}

fn demo(sh: &Shell) -> Result<()> {
    deps(sh)?;
    cmd!(sh, "cargo build --release").run()?;
    // The image on its own, then the lab, which builds its images in-process with the lab's
    // cluster description built in (identity by MAC) and boots a server + 3 clients.
    sh.create_dir("target/demo")?;
    cmd!(
        sh,
        "target/release/srbuild image --profile nfs -o target/demo/initrd-nfs.img"
    )
    .run()?;
    let listing = cmd!(sh, "target/release/srbuild ls target/demo/initrd-nfs.img")
        .quiet()
        .read()?;
    println!(
        "xtask: the image holds {} entries (srbuild ls target/demo/initrd-nfs.img)",
        listing.lines().count()
    );
    cmd!(
        sh,
        "target/release/srbuild lab test --root nfs --nodes 3 --dir target/demo/lab"
    )
    .run()?;
    println!("xtask: the report is in target/demo/lab (console logs, junit.xml, timeline.svg)");
    Ok(())
}

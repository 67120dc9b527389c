//! `cargo xtask bench --floor` (also run by `cargo xtask bench`): srbuild's nfs build
//! against the floor on the same tree, side by side in one hyperfine run.
//!
//! The floor is what writing the same files takes without srbuild: srbuild's own image is
//! extracted into a directory, and `find . | LC_ALL=C sort | cpio -o -H newc | zstd` packs
//! it again, with srbuild's zstd level and worker count. It prints both medians and the
//! ratio srbuild / floor, against the 1.2x goal, and records them (`bench: floor`).

use super::record::fig;
use anyhow::{Context, Result};
use srbuild_archive::{ZSTD_LEVEL, ZSTD_WORKERS};
use xshell::{cmd, Shell};

const DIR: &str = "target/bench/floor";

/// The goal: srbuild at most this many times the floor.
const GOAL: f64 = 1.2;

pub fn run(sh: &Shell, kver: &str, runs: &str) -> Result<()> {
    sh.create_dir(DIR)?;
    let root = sh.current_dir().join(DIR);
    let root = root.display();
    let img = format!("{root}/srbuild.img");
    let tree = format!("{root}/tree");
    let srbuild = format!("target/release/srbuild image --profile nfs --kver {kver} -o {img}");
    cmd!(
        sh,
        "target/release/srbuild image --profile nfs --kver {kver} -o {img}"
    )
    .quiet()
    .run()
    .context("building the nfs image")?;
    let _ = std::fs::remove_dir_all(&tree);
    cmd!(sh, "target/release/srbuild extract {img} {tree}")
        .quiet()
        .run()
        .context("extracting the nfs image for the floor")?;
    let floor = format!(
        "cd {tree} && find . | LC_ALL=C sort | cpio -o -H newc --quiet \
         | zstd -q -f -T{ZSTD_WORKERS} -{ZSTD_LEVEL} -o {root}/floor.img"
    );
    let json = format!("{DIR}/hyperfine.json");
    cmd!(
        sh,
        "hyperfine --warmup 2 --runs {runs} --export-json {json} -n srbuild {srbuild} -n floor {floor}"
    )
    .run()
    .context("hyperfine")?;
    let data = sh.read_file(&json)?;
    let median = |name: &str| {
        super::json_number_after(&data, &format!("\"command\": \"{name}\""), "\"median\":")
            .with_context(|| format!("median of {name} in hyperfine's json"))
    };
    let (s, f) = (median("srbuild")?, median("floor")?);
    let ratio = s / f;
    let size = |p: &str| {
        std::fs::metadata(p)
            .map(|m| m.len() as f64 / 1e6)
            .unwrap_or(0.0)
    };
    println!(
        "\nThe nfs build against the floor on the same tree (zstd -{ZSTD_LEVEL}, \
         {ZSTD_WORKERS} threads), one hyperfine run, medians:\n"
    );
    println!("| command | median | image size |");
    println!("|---|---|---|");
    println!(
        "| `srbuild image --profile nfs` | {:.1} ms | {:.1} MB |",
        s * 1e3,
        size(&img)
    );
    println!(
        "| `find \\| sort \\| cpio -o -H newc \\| zstd` | {:.1} ms | {:.1} MB |",
        f * 1e3,
        size(&format!("{root}/floor.img"))
    );
    println!(
        "\nsrbuild / floor = {ratio:.2}x ({} the {GOAL}x goal)",
        if ratio <= GOAL { "meets" } else { "MISSES" }
    );
    let figures = [
        fig(
            "`srbuild image --profile nfs`, median",
            format!("{:.1} ms", s * 1e3),
        ),
        fig(
            "`find | sort | cpio | zstd`, median",
            format!("{:.1} ms", f * 1e3),
        ),
        fig("srbuild image size", format!("{:.1} MB", size(&img))),
        fig(
            "floor image size",
            format!("{:.1} MB", size(&format!("{root}/floor.img"))),
        ),
        fig("srbuild / floor", format!("{ratio:.2}x")),
    ];
    super::record::write(sh, &crate::project_root(), "floor", &figures)
}

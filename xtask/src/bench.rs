//! `cargo xtask bench`: builds the nfs image with srbuild, dracut and mkinitramfs on the same
//! kernel with zstd, timed side by side by hyperfine in one run; prints medians, sizes and
//! ratios as a Markdown table for the README.

use anyhow::{Context, Result};
use xshell::{cmd, Shell};

struct Row {
    tool: &'static str,
    median: f64,
    bytes: u64,
}

pub fn run(sh: &Shell, args: &[String]) -> Result<()> {
    if args.iter().any(|a| a == "--lab") {
        return lab(sh);
    }
    crate::deps(sh)?;
    cmd!(sh, "cargo build --release -p srbuild").run()?;
    let kver = newest_kernel()?;
    let dir = "target/bench";
    sh.create_dir(dir)?;
    let runs = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| "5".into());
    let srbuild =
        format!("target/release/srbuild image --profile nfs --kver {kver} -o {dir}/srbuild.img");
    let mut commands = vec![("srbuild", srbuild)];
    if sh.path_exists("/usr/bin/dracut") {
        commands.push((
            "dracut",
            format!("dracut --force --no-hostonly --add \"nfs network-legacy\" --compress zstd --kver {kver} {dir}/dracut.img"),
        ));
    }
    if sh.path_exists("/usr/sbin/mkinitramfs") {
        // Same compression as the others: zstd through initramfs.conf's COMPRESS.
        let conf = format!("{dir}/initramfs-tools");
        sh.create_dir(format!("{conf}/conf.d"))?;
        sh.write_file(
            format!("{conf}/initramfs.conf"),
            "MODULES=most\nBUSYBOX=auto\nCOMPRESS=zstd\nBOOT=nfs\n",
        )?;
        commands.push((
            "mkinitramfs",
            format!("mkinitramfs -d {conf} -o {dir}/mkinitramfs.img {kver}"),
        ));
    }
    let json = format!("{dir}/hyperfine.json");
    let mut hf = vec![
        "--warmup".to_string(),
        "1".into(),
        "--runs".into(),
        runs,
        "--export-json".into(),
        json.clone(),
    ];
    for (name, c) in &commands {
        hf.push("-n".into());
        hf.push(name.to_string());
        hf.push(c.clone());
    }
    cmd!(sh, "hyperfine {hf...}").run().context("hyperfine")?;
    let data = sh.read_file(&json)?;
    let mut rows = Vec::new();
    for (name, _) in &commands {
        let median = json_number_after(&data, &format!("\"command\": \"{name}\""), "\"median\":")
            .context("median in hyperfine's json")?;
        let bytes = std::fs::metadata(format!("{dir}/{name}.img"))
            .map(|m| m.len())
            .unwrap_or(0);
        rows.push(Row {
            tool: name,
            median,
            bytes,
        });
    }
    let base = &rows[0];
    println!("\nKernel {kver}, zstd, median of the runs above, one hyperfine run:\n");
    println!("| tool | median build time | image size | time vs srbuild | size vs srbuild |");
    println!("|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {:.2} s | {:.1} MB | {:.1}x | {:.1}x |",
            r.tool,
            r.median,
            r.bytes as f64 / 1e6,
            r.median / base.median,
            r.bytes as f64 / base.bytes.max(1) as f64
        );
    }
    let a = std::fs::read(format!("{dir}/srbuild.img"))?;
    cmd!(
        sh,
        "target/release/srbuild image --profile nfs --kver {kver} -o {dir}/srbuild2.img"
    )
    .quiet()
    .run()?;
    let b = std::fs::read(format!("{dir}/srbuild2.img"))?;
    println!(
        "\nsrbuild: two builds byte-identical: {}",
        if a == b { "yes" } else { "NO" }
    );
    Ok(())
}

fn json_number_after(data: &str, anchor: &str, key: &str) -> Option<f64> {
    let at = data.find(anchor)?;
    let rest = &data[at..];
    let k = rest.find(key)?;
    let num: String = rest[k + key.len()..]
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == 'e' || *c == '-')
        .collect();
    num.parse().ok()
}

fn newest_kernel() -> Result<String> {
    let mut v: Vec<String> = std::fs::read_dir("/lib/modules")
        .context("/lib/modules")?
        .flatten()
        .filter(|e| e.path().join("modules.dep").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v.pop().context("no kernel installed")
}

fn lab(sh: &Shell) -> Result<()> {
    crate::deps(sh)?;
    cmd!(sh, "cargo build --release -p srbuild").run()?;
    // The summary table of each run gives, per node, the kernel's /init time, the switch_root
    // time (the end of the initramfs phase) and the wall time from QEMU start to LAB-PASS.
    for run in 1..=3 {
        let dir = format!("target/bench/lab/run{run}");
        println!("xtask: lab bench run {run}");
        cmd!(
            sh,
            "target/release/srbuild lab test --profile nfs --nodes 3 --dir {dir}"
        )
        .run()?;
    }
    Ok(())
}

//! `cargo xtask bench --read`: reading images. Times `srbuild ls` against the
//! decompression floor (`zstd -dc -o /dev/null`) with hyperfine, side by side,
//! on the nfs image and on a 1 GB image, and measures the peak RSS of `ls` and
//! `extract`, including a zstd bomb that inflates to 6 GiB (extracted into a
//! small tmpfs, so it must stop with a clear "no space" error). Records the figures
//! (`bench: read`).

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

use super::record::{fig, Figure};
use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

const DIR: &str = "target/bench/read";

/// Peak RSS (KiB) and exit status of one run of `argv`, output discarded.
fn peak_rss(argv: &[&str]) -> Result<(u64, std::process::ExitStatus, String)> {
    let child = Command::new(argv[0])
        .args(&argv[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", argv[0]))?;
    let pid = child.id() as libc::pid_t;
    let mut stderr = child.stderr.context("stderr pipe")?;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut text).ok();
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid out-parameter for wait4.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own child, not yet waited for; pointers are valid.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    if rc != pid {
        bail!("wait4 on {}: {}", argv[0], std::io::Error::last_os_error());
    }
    Ok((
        usage.ru_maxrss as u64,
        std::process::ExitStatus::from_raw(status),
        text,
    ))
}

/// A ~1 GB uncompressed image of real files (modules, libraries, docs), zstd level 3.
fn big_image(sh: &Shell, kver: &str) -> Result<String> {
    let img = format!("{DIR}/big.img");
    if sh.path_exists(&img) {
        return Ok(img);
    }
    let script = format!(
        "set -e; find /usr/lib/modules/{kver} /usr/lib/x86_64-linux-gnu /usr/share /usr/bin \
         -xdev -type f -size -64M 2>/dev/null | head -c 10000000 > {DIR}/big.list; \
         : > {DIR}/big.sel; total=0; \
         while IFS= read -r f; do sz=$(stat -c %s \"$f\" 2>/dev/null || echo 0); \
         total=$((total + sz)); echo \"$f\" >> {DIR}/big.sel; \
         [ $total -ge 1000000000 ] && break; done < {DIR}/big.list; \
         cpio -o -H newc --quiet < {DIR}/big.sel | zstd -q -T0 -3 -o {img}.tmp; mv {img}.tmp {img}"
    );
    cmd!(sh, "sh -c {script}")
        .run()
        .context("making the 1 GB image")?;
    Ok(img)
}

/// Two sparse 3 GiB files in one cpio, zstd: 6 GiB inside, a few hundred KB outside.
fn bomb(sh: &Shell) -> Result<String> {
    let img = format!("{DIR}/bomb.img");
    if sh.path_exists(&img) {
        return Ok(img);
    }
    let script = format!(
        "set -e; rm -rf {DIR}/bombsrc; mkdir -p {DIR}/bombsrc; cd {DIR}/bombsrc; \
         truncate -s 3G a b; printf 'a\\nb\\n' | cpio -o -H newc --quiet | zstd -q -T0 -19 -o ../bomb.img.tmp; \
         cd ..; rm -rf bombsrc; mv bomb.img.tmp bomb.img"
    );
    cmd!(sh, "sh -c {script}")
        .run()
        .context("making the bomb")?;
    Ok(img)
}

fn median_of(json: &str, name: &str) -> Result<f64> {
    super::json_number_after(json, &format!("\"command\": \"{name}\""), "\"median\":")
        .with_context(|| format!("median of {name} in hyperfine's json"))
}

pub fn run(sh: &Shell, kver: &str) -> Result<()> {
    sh.create_dir(DIR)?;
    let nfs = format!("{DIR}/nfs.img");
    cmd!(
        sh,
        "target/release/srbuild image --profile nfs --kver {kver} -o {nfs}"
    )
    .quiet()
    .run()?;
    let big = big_image(sh, kver)?;
    let bomb = bomb(sh)?;
    println!(
        "\nReading images: `srbuild ls` against the decompression floor, one hyperfine run:\n"
    );
    println!(
        "| image | zstd size | `zstd -dc -o /dev/null` | `srbuild ls` | ratio | `lsinitramfs` |"
    );
    println!("|---|---|---|---|---|---|");
    let mut figures: Vec<Figure> = Vec::new();
    for (label, img, runs) in [("nfs", &nfs, "20"), ("1 GB", &big, "3")] {
        let json = format!("{DIR}/hf-{}.json", label.replace(' ', ""));
        let floor = format!("zstd -dc {img} -o /dev/null");
        let ls = format!("target/release/srbuild ls {img}");
        let mut hf = vec![
            "--warmup",
            "1",
            "--runs",
            runs,
            "--output",
            "null",
            "--export-json",
            &json,
            "-n",
            "floor",
            &floor,
            "-n",
            "ls",
            &ls,
        ];
        let lsinitramfs = format!("lsinitramfs {img}");
        let have_lsinitramfs = sh.path_exists("/usr/bin/lsinitramfs");
        if have_lsinitramfs {
            hf.extend(["-n", "lsinitramfs", lsinitramfs.as_str()]);
        }
        cmd!(sh, "hyperfine {hf...}")
            .quiet()
            .ignore_stdout()
            .run()
            .context("hyperfine")?;
        let data = sh.read_file(&json)?;
        let f = median_of(&data, "floor")?;
        let l = median_of(&data, "ls")?;
        let other = if have_lsinitramfs {
            format!("{:.1} ms", median_of(&data, "lsinitramfs")? * 1e3)
        } else {
            "-".into()
        };
        let size = std::fs::metadata(img)?.len() as f64 / 1e6;
        println!(
            "| {label} | {size:.1} MB | {:.1} ms | {:.1} ms | {:.2}x | {other} |",
            f * 1e3,
            l * 1e3,
            l / f
        );
        figures.extend([
            fig(format!("{label} image, zstd size"), format!("{size:.1} MB")),
            fig(
                format!("{label} image, `zstd -dc` median"),
                format!("{:.1} ms", f * 1e3),
            ),
            fig(
                format!("{label} image, `srbuild ls` median"),
                format!("{:.1} ms", l * 1e3),
            ),
            fig(
                format!("{label} image, ls / floor"),
                format!("{:.2}x", l / f),
            ),
            fig(format!("{label} image, `lsinitramfs` median"), other),
        ]);
    }

    println!("\nPeak RSS (wait4's ru_maxrss):\n");
    println!("| command | peak RSS | result |");
    println!("|---|---|---|");
    let out = format!("{DIR}/extract");
    let tmpfs = format!("{DIR}/small-tmpfs");
    let mut worst = 0u64;
    let mut report = |what: &str, argv: &[&str], want_ok: bool| -> Result<()> {
        let _ = std::fs::remove_dir_all(&out);
        let (kib, status, err) = peak_rss(argv)?;
        worst = worst.max(kib);
        let result = if status.success() {
            "ok".to_string()
        } else {
            err.lines().next().unwrap_or("").chars().take(110).collect()
        };
        println!("| {what} | {:.1} MiB | {result} |", kib as f64 / 1024.0);
        let figure = if status.success() {
            format!("peak RSS, {what}")
        } else {
            format!("peak RSS, {what} (fails)")
        };
        figures.push(fig(figure, format!("{:.1} MiB", kib as f64 / 1024.0)));
        if status.success() != want_ok {
            bail!("{what}: unexpected result: {result}");
        }
        Ok(())
    };
    let srb = "target/release/srbuild";
    report("`ls` nfs image", &[srb, "ls", &nfs], true)?;
    report("`ls` 1 GB image", &[srb, "ls", &big], true)?;
    report("`ls` bomb (6 GiB inside)", &[srb, "ls", &bomb], true)?;
    report("`extract` nfs image", &[srb, "extract", &nfs, &out], true)?;
    report("`extract` 1 GB image", &[srb, "extract", &big, &out], true)?;
    // The bomb goes into a 64 MiB tmpfs: extraction must stop at the full disk.
    sh.create_dir(&tmpfs)?;
    let mounted = cmd!(sh, "mount -t tmpfs -o size=64m srbuild-bench {tmpfs}")
        .quiet()
        .ignore_stderr()
        .run()
        .is_ok();
    if mounted {
        let into = format!("{tmpfs}/x");
        let r = report(
            "`extract` bomb into a 64 MiB tmpfs",
            &[srb, "extract", &bomb, &into],
            false,
        );
        cmd!(sh, "umount {tmpfs}").quiet().run()?;
        r?;
    } else {
        println!("| `extract` bomb | - | skipped: cannot mount a tmpfs (not root?) |");
        figures.push(fig(
            "peak RSS, `extract` bomb into a 64 MiB tmpfs",
            "skipped: no tmpfs (not root?)",
        ));
    }
    let _ = std::fs::remove_dir_all(&out);
    println!(
        "\nworst peak RSS: {:.1} MiB (goal: at most 64 MiB)",
        worst as f64 / 1024.0
    );
    super::record::write(sh, &crate::project_root(), "read", &figures)?;
    if worst > 64 * 1024 {
        bail!("peak RSS above 64 MiB");
    }
    Ok(())
}

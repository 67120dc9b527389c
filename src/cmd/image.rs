//! `srbuild image` and `srbuild profiles`.

use anyhow::{Context, Result};
use clap::Args;
use srbuild_builder::{build_image, build_image_with_manifest, BuildOptions, Compression};
use std::io::Write;
use std::path::PathBuf;

#[derive(Args)]
#[command(
    after_help = "Examples:\n  srbuild image --profile nfs\n  srbuild image --profile gfs2 --cluster cluster.toml -o /boot/initrd-gfs2.img\n  srbuild image --profile ./my-profile.toml --kver 6.1.0-56-amd64 --compress xz\n  srbuild image --profile ext3 --sysroot /srv/debian12 -o ext3.img\n  SOURCE_DATE_EPOCH=0 srbuild image --profile nfs --json > nfs.manifest.json"
)]
pub struct ImageArgs {
    /// Profile name (nfs, gfs2, ocfs2, glusterfs, ext3) or path to a profile .toml
    #[arg(long, short)]
    profile: String,
    /// Output file [default: initrd-<profile>-<kver>.img]
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Kernel version [default: newest under <sysroot>/lib/modules]
    #[arg(long)]
    kver: Option<String>,
    /// Tree to take binaries, libraries and modules from
    #[arg(long, default_value = "/")]
    sysroot: PathBuf,
    /// zstd, gzip, xz, lz4 or none
    #[arg(long, default_value = "zstd")]
    compress: Compression,
    /// Cluster description to build in (node identity by MAC address)
    #[arg(long)]
    cluster: Option<PathBuf>,
    /// Treat missing firmware as an error
    #[arg(long)]
    strict: bool,
    /// Extra default kernel argument baked into the image (repeatable)
    #[arg(long = "kernel-arg", value_name = "ARG")]
    kernel_args: Vec<String>,
    /// GlusterFS client volfile (`gluster system:: getspec VOLUME`): take only the xlators
    /// its `type` lines name, instead of the glusterfs module's default client set
    /// (the same as `--input gluster-volfile=FILE`)
    #[arg(long, value_name = "FILE")]
    gluster_volfile: Option<PathBuf>,
    /// A file for a module's resolver, by the input's name (repeatable); the inputs are:
    /// gluster-volfile (a GlusterFS client volfile)
    #[arg(long = "input", value_name = "NAME=FILE", value_parser = parse_input)]
    inputs: Vec<(String, PathBuf)>,
    /// File mode of the image, in octal [default: the mode of the image it replaces, or 0600]
    #[arg(long, value_name = "OCTAL", value_parser = parse_mode)]
    mode: Option<u32>,
    /// Print the build manifest as JSON on stdout (inputs with their SHA-256, every file
    /// with type, mode, size, source, SHA-256 and who asked for it, kernel modules, sizes);
    /// the summary line then goes to stderr. `build_seconds` is left out when
    /// SOURCE_DATE_EPOCH is set, so two builds of the same inputs print the same bytes
    #[arg(long)]
    json: bool,
}

pub fn run(a: ImageArgs) -> Result<()> {
    let mut opts = BuildOptions::new(&a.profile);
    opts.output = a.output;
    opts.kver = a.kver;
    opts.sysroot = a.sysroot;
    opts.compression = a.compress;
    opts.cluster = a.cluster;
    opts.strict = a.strict;
    opts.kernel_args = a.kernel_args;
    add_inputs(&mut opts, a.gluster_volfile, a.inputs);
    opts.mode = a.mode;
    clean_up_on_signals();
    if a.json {
        let (report, manifest) = build_image_with_manifest(&opts)?;
        for w in &report.warnings {
            eprintln!("srbuild: warning: {}", crate::one_line(w));
        }
        eprintln!("{}", report.summary());
        let mut out = std::io::stdout().lock();
        out.write_all(manifest.to_json().as_bytes())
            .and_then(|_| out.flush())
            .with_context(|| {
                format!(
                    "cannot print the manifest of {} on stdout (the image is written)",
                    report.output.display()
                )
            })?;
        return Ok(());
    }
    let report = build_image(&opts)?;
    for w in &report.warnings {
        eprintln!("srbuild: warning: {}", crate::one_line(w));
    }
    println!("{}", report.summary());
    Ok(())
}

/// `NAME=FILE` of `--input`.
pub(crate) fn parse_input(s: &str) -> std::result::Result<(String, PathBuf), String> {
    match s.split_once('=') {
        Some((name, file)) if !name.is_empty() && !file.is_empty() => {
            Ok((name.to_string(), PathBuf::from(file)))
        }
        _ => Err(format!(
            "{s:?}: expected NAME=FILE, such as gluster-volfile=client.vol"
        )),
    }
}

/// `--gluster-volfile FILE` (sugar for `--input gluster-volfile=FILE`), then the `--input`s.
pub(crate) fn add_inputs(
    opts: &mut BuildOptions,
    volfile: Option<PathBuf>,
    inputs: Vec<(String, PathBuf)>,
) {
    if let Some(v) = volfile {
        opts.add_input("gluster-volfile", v);
    }
    for (name, path) in inputs {
        opts.add_input(&name, path);
    }
}

#[derive(Args)]
#[command(
    after_help = "Example:\n  srbuild profiles\n\nSearch order, first found wins: $SRBUILD_DATA_DIR (colon-separated), /etc/srbuild (the admin's overrides), /usr/share/srbuild (the package's copies), the copies built into srbuild. Each line names the copy used and, in parentheses, the ones it hides."
)]
pub struct ProfilesArgs {}

pub fn profiles(_a: ProfilesArgs) -> Result<()> {
    let lib = srbuild_builder::library::Library::standard();
    let mut order: Vec<String> = lib.dirs().iter().map(|d| d.display().to_string()).collect();
    order.push("built in".into());
    println!("search order: {}", order.join(", "));
    let profiles: Vec<(String, String)> = lib
        .profile_names()
        .into_iter()
        .map(|n| (format!("profiles/{n}.toml"), n))
        .collect();
    let modules: Vec<(String, String)> = lib
        .module_names()
        .into_iter()
        .map(|n| (format!("modules/{n}/module.toml"), n))
        .collect();
    for (title, list) in [("profiles", profiles), ("modules", modules)] {
        println!("{title}:");
        let width = list.iter().map(|(_, n)| n.len()).max().unwrap_or(0);
        for (rel, name) in list {
            let found = lib.locations(&rel);
            let (used, hidden) = found
                .split_first()
                .map_or(("?", &[][..]), |(u, h)| (u.as_str(), h));
            let hides = if hidden.is_empty() {
                String::new()
            } else {
                format!("  (over {})", hidden.join(", "))
            };
            println!("  {name:width$}  {used}{hides}");
        }
    }
    Ok(())
}

/// `--mode`: an octal file mode such as 600 or 0644 (the configuration file's `mode` too).
fn parse_mode(s: &str) -> std::result::Result<u32, String> {
    crate::settings::parse_mode(s)
}

/// On SIGINT/SIGTERM/SIGHUP the half-written image goes first, then the signal takes its
/// default course (the archive's cleanup action is registered before ours, so it runs
/// first). Signals that were ignored stay ignored.
pub fn clean_up_on_signals() {
    srbuild_archive::install_signal_cleanup();
    for sig in srbuild_archive::caught_signals() {
        // SAFETY: emulate_default_handler is async-signal-safe.
        let _ = unsafe {
            signal_hook::low_level::register(sig, move || {
                let _ = signal_hook::low_level::emulate_default_handler(sig);
            })
        };
    }
}

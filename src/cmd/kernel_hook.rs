//! `srbuild kernel-hook add|remove KVER`: what the distribution's kernel hooks call (the
//! Debian `/etc/kernel/postinst.d/srbuild` and `postrm.d/srbuild` scripts and the
//! kernel-install plugin `50-srbuild.install`). `add` builds the image the configuration
//! file asks for, atomically, and keeps a log per kernel; `remove` deletes an initrd only
//! when srbuild made it.

use crate::settings::{self, Settings};
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use srbuild_builder::{build_image, BuildOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where the build logs go unless `--log-dir` or `$SRBUILD_LOG_DIR` says otherwise.
pub const DEFAULT_LOG_DIR: &str = "/var/log/srbuild";

/// The entry every image srbuild writes carries (profile, kernel and modules it was built
/// from); `remove` deletes only initrds that hold it.
pub const MARKER: &str = srbuild_builder::contract::PROFILE;

#[derive(Args)]
#[command(after_help = "Examples:\n  \
    srbuild kernel-hook add 6.1.0-56-amd64\n  \
    srbuild kernel-hook add 6.1.0-56-amd64 --output /tmp/staging/initrd\n  \
    srbuild kernel-hook remove 6.1.0-56-amd64\n\n\
    The configuration file (default /etc/srbuild/srbuild.toml, or $SRBUILD_CONFIG) sets\n\
    profile, cluster, compression, kernel_args, sysroot, mode and kernel_hooks; a missing\n\
    file means profile \"nfs\", zstd, sysroot /. Each build's log is LOG_DIR/KVER.log\n\
    (default /var/log/srbuild, or $SRBUILD_LOG_DIR). A failed build leaves the previous\n\
    image in place and exits 1.")]
pub struct KernelHookArgs {
    #[command(subcommand)]
    command: HookCommand,
    /// Configuration file [default: $SRBUILD_CONFIG, else /etc/srbuild/srbuild.toml]
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Directory of the build logs [default: $SRBUILD_LOG_DIR, else /var/log/srbuild]
    #[arg(long, global = true, value_name = "DIR")]
    log_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum HookCommand {
    /// Build the initrd of kernel KVER with the configuration file's settings
    Add {
        /// Kernel version (a directory under <sysroot>/lib/modules)
        kver: String,
        /// Image to write [default: /boot/initrd.img-KVER]
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Delete the initrd of kernel KVER, only if srbuild made it
    Remove {
        /// Kernel version
        kver: String,
        /// Image to delete [default: /boot/initrd.img-KVER]
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

pub fn run(a: KernelHookArgs) -> Result<()> {
    let config = settings::path(a.config.as_deref());
    let log_dir = a.log_dir.unwrap_or_else(|| {
        std::env::var_os("SRBUILD_LOG_DIR")
            .filter(|v| !v.is_empty())
            .map_or_else(|| PathBuf::from(DEFAULT_LOG_DIR), PathBuf::from)
    });
    match a.command {
        HookCommand::Add { kver, output } => {
            check_kver(&kver)?;
            let output = output.unwrap_or_else(|| default_output(&kver));
            add(
                &config,
                &kver,
                &output,
                &log_dir.join(format!("{kver}.log")),
            )
        }
        HookCommand::Remove { kver, output } => {
            check_kver(&kver)?;
            let output = output.unwrap_or_else(|| default_output(&kver));
            // Removal does not depend on a valid configuration: a broken file must not
            // block a kernel package's removal. Only images srbuild made are removed.
            let hooks_on = match settings::load(&config) {
                Ok(s) => s.kernel_hooks,
                Err(e) => {
                    eprintln!(
                        "srbuild: warning: {}; removing {} anyway if srbuild made it",
                        crate::one_line(&format!("{e:#}")),
                        output.display()
                    );
                    true
                }
            };
            if !hooks_on {
                eprintln!(
                    "srbuild: kernel hooks are off (kernel_hooks = false in {}); {} left alone",
                    config.display(),
                    output.display()
                );
                return Ok(());
            }
            remove(&output)?;
            // The kernel is gone: so is the log of its builds.
            let log = log_dir.join(format!("{kver}.log"));
            match std::fs::remove_file(&log) {
                Ok(()) => eprintln!("srbuild: removed {}", log.display()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => eprintln!("srbuild: warning: cannot remove {}: {e}", log.display()),
            }
            Ok(())
        }
    }
}

fn default_output(kver: &str) -> PathBuf {
    PathBuf::from(format!("/boot/initrd.img-{kver}"))
}

/// The kernel version names a log file and a default output: a plain name only.
fn check_kver(kver: &str) -> Result<()> {
    let plain = !kver.is_empty()
        && !kver.starts_with('.')
        && kver
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._+-~".contains(c));
    if !plain {
        bail!(
            "kernel version {kver:?} is not a plain name (letters, digits and . _ + - ~); \
             pass the directory name under /lib/modules"
        );
    }
    Ok(())
}

/// Reads the configuration and builds; whatever happens (a bad configuration file
/// included) goes into the kernel's log, and a failure names the log.
fn add(config: &Path, kver: &str, output: &Path, log: &Path) -> Result<()> {
    let mut text = String::new();
    log_line(&mut text, &format!("srbuild kernel-hook add {kver}"));
    log_line(&mut text, &format!("output: {}", output.display()));
    let outcome = build(config, kver, output, &mut text);
    match &outcome {
        Ok(Some(report)) => {
            for w in &report.warnings {
                log_line(&mut text, &format!("warning: {w}"));
            }
            log_line(&mut text, &report.summary());
            log_line(&mut text, "result: ok");
        }
        Ok(None) => log_line(
            &mut text,
            "result: kernel hooks are off (kernel_hooks = false)",
        ),
        Err(e) => {
            for (i, cause) in e.chain().enumerate() {
                let lead = if i == 0 { "error:" } else { "  caused by:" };
                log_line(&mut text, &format!("{lead} {cause}"));
            }
            log_line(
                &mut text,
                &format!("result: failed; {} was not changed", output.display()),
            );
        }
    }
    let where_log = match write_log(log, &text) {
        Ok(()) => format!("full log: {}", log.display()),
        Err(e) => {
            eprintln!("srbuild: warning: {e:#}");
            "the log could not be written; the causes follow".to_string()
        }
    };
    match outcome {
        Ok(Some(report)) => {
            for w in &report.warnings {
                eprintln!("srbuild: warning: {}", crate::one_line(w));
            }
            println!("{}", report.summary());
            Ok(())
        }
        Ok(None) => {
            eprintln!(
                "srbuild: kernel hooks are off (kernel_hooks = false in {}); {} not written",
                config.display(),
                output.display()
            );
            Ok(())
        }
        Err(e) => Err(e.context(format!(
            "building the initrd of kernel {kver} failed; {} was left as it was (an earlier \
             image stays); {where_log}",
            output.display()
        ))),
    }
}

/// One build with the configuration file's settings; `None` when the hooks are off.
fn build(
    config: &Path,
    kver: &str,
    output: &Path,
    log: &mut String,
) -> Result<Option<srbuild_builder::BuildReport>> {
    let settings: Settings = settings::load(config)?;
    for line in settings.describe() {
        log_line(log, &line);
    }
    if !settings.kernel_hooks {
        return Ok(None);
    }
    let mut opts = BuildOptions::new(&settings.profile);
    opts.output = Some(output.to_path_buf());
    opts.kver = Some(kver.to_string());
    opts.sysroot = settings.sysroot.clone();
    opts.compression = settings.compression;
    opts.cluster = settings.cluster.clone();
    opts.kernel_args = settings.kernel_args.clone();
    opts.mode = settings.mode;
    super::image::clean_up_on_signals();
    Ok(Some(build_image(&opts)?))
}

/// The log's mode, set through the descriptor on every write (an older, looser log is
/// tightened): root writes, the `adm` group of log readers reads, others nothing.
const LOG_MODE: u32 = 0o640;

/// Appends `line` to the log text, escaped as errors are (`one_line`): a value holding a
/// newline or a terminal escape (a profile name, a path) cannot forge log lines.
fn log_line(text: &mut String, line: &str) {
    text.push_str(&crate::one_line(line));
    text.push('\n');
}

/// Replaces the kernel's log with this build's (directory created 0755, log 0640). The
/// log and its directory are opened without following links (a link is refused, with
/// the error naming it), and the mode is set through the descriptor.
fn write_log(log: &Path, text: &str) -> Result<()> {
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the log directory {}", dir.display()))?;
    }
    let mut f = srbuild_fsio::open_append(log, LOG_MODE)
        .with_context(|| format!("cannot write the build log {}", log.display()))?;
    f.set_len(0)
        .and_then(|()| f.write_all(text.as_bytes()))
        .with_context(|| format!("cannot write the build log {}", log.display()))
}

fn remove(output: &Path) -> Result<()> {
    let meta = match std::fs::symlink_metadata(output) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!(
                "srbuild: no initrd at {}; nothing to remove",
                output.display()
            );
            return Ok(());
        }
        Err(e) => return Err(e).with_context(|| format!("cannot inspect {}", output.display())),
    };
    if !meta.is_file() || !made_by_srbuild(output) {
        eprintln!(
            "srbuild: {} was not made by srbuild (no {MARKER} in it); left in place",
            output.display()
        );
        return Ok(());
    }
    std::fs::remove_file(output).with_context(|| format!("cannot remove {}", output.display()))?;
    eprintln!("srbuild: removed {}", output.display());
    Ok(())
}

/// Whether `path` is an image that srbuild wrote: it holds [`MARKER`]. Reading stops at
/// the marker; anything unreadable counts as not ours.
pub fn made_by_srbuild(path: &Path) -> bool {
    let mut found = false;
    let _ = srbuild_archive::for_each_entry(path, |e| {
        let name = e.path.trim_start_matches("./").trim_start_matches('/');
        if name == MARKER {
            found = true;
            // Stop reading: the rest of the image does not matter.
            return Err(srbuild_archive::ArchiveError::ReadImage {
                path: path.to_path_buf(),
                source: std::io::Error::other("marker found"),
            });
        }
        Ok(())
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_versions_are_plain_names() {
        for ok in ["6.1.0-56-amd64", "6.12.3+deb13-amd64", "5.10~rc1"] {
            check_kver(ok).unwrap();
        }
        for bad in ["", "..", "../etc", "a/b", "6.1 x", ".hidden"] {
            assert!(check_kver(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn default_output_is_debians_path() {
        assert_eq!(
            default_output("6.1.0-56-amd64"),
            Path::new("/boot/initrd.img-6.1.0-56-amd64")
        );
    }
}

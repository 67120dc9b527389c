//! One build start to finish: plan the image ([`crate::assembly`]), then write it as a
//! compressed cpio, with or without its manifest ([`crate::manifest`]).

use crate::assembly::{plan_image, Planned};
use crate::contract;
use crate::error::Result;
use crate::manifest::{self, Manifest, Sizes};
use crate::options::{source_date_epoch, BuildOptions, BuildReport};
use std::path::PathBuf;
use std::time::Instant;

/// Builds and writes an image.
pub fn build_image(opts: &BuildOptions) -> Result<BuildReport> {
    let start = Instant::now();
    let planned = plan_image(opts)?;
    let entries = planned.plan.to_entries()?;
    write_planned(opts, planned, &entries, start)
}

/// Builds and writes an image, and returns its manifest ([`crate::manifest`]). The writer
/// hashes each host file as it copies it (one read); a file that cannot be read fails the
/// write, which then leaves no image behind.
pub fn build_image_with_manifest(opts: &BuildOptions) -> Result<(BuildReport, Manifest)> {
    let start = Instant::now();
    let planned = plan_image(opts)?;
    let mut manifest = manifest::draft(opts, &planned)?;
    let entries = planned.plan.to_hashed_entries()?;
    let report = write_planned(opts, planned, &entries, start)?;
    manifest.fill_host_digests(&entries)?;
    let sizes = Sizes {
        entries: report.entries,
        files: report.files,
        uncompressed_bytes: report.uncompressed_bytes,
        compressed_bytes: report.compressed_bytes,
    };
    manifest.finish(sizes, report.elapsed);
    Ok((report, manifest))
}

/// Writes `entries` (of `planned`) where `opts` says (default `initrd-<profile>-<kver>.img`).
fn write_planned(
    opts: &BuildOptions,
    planned: Planned,
    entries: &[srbuild_archive::Entry],
    start: Instant,
) -> Result<BuildReport> {
    let output = opts.output.clone().unwrap_or_else(|| {
        PathBuf::from(format!(
            "initrd-{}-{}.img",
            planned.profile.name, planned.kver
        ))
    });
    let mtime = source_date_epoch()?;
    // An image that carries a secret never keeps group or other bits from the image it
    // replaces (older srbuild wrote 0644); --mode still decides when given.
    let mode = opts.mode.or_else(|| {
        planned.plan.contains(contract::AUTHKEY).then(|| {
            std::fs::metadata(&output)
                .ok()
                .filter(|m| m.is_file())
                .map_or(srbuild_archive::DEFAULT_MODE, |m| {
                    use std::os::unix::fs::PermissionsExt;
                    m.permissions().mode() & 0o700
                })
        })
    });
    let stats =
        srbuild_archive::write_image_with_mode(&output, entries, opts.compression, mtime, mode)?;
    let files = entries
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                srbuild_archive::EntryKind::File { .. }
                    | srbuild_archive::EntryKind::HashedFile { .. }
                    | srbuild_archive::EntryKind::Bytes(_)
            )
        })
        .count();
    Ok(BuildReport {
        output,
        profile: planned.profile.name,
        kver: planned.kver,
        files,
        entries: entries.len(),
        kernel_modules: planned.kernel_modules.len(),
        elf_parsed: planned.elf_parsed,
        uncompressed_bytes: stats.uncompressed_bytes,
        compressed_bytes: stats.compressed_bytes,
        compression: opts.compression,
        elapsed: start.elapsed(),
        warnings: planned.warnings,
    })
}

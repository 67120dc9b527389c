//! `srbuild rootimage`: a directory tree as a root image for `root=http://…`.

use anyhow::{Context, Result};
use clap::Args;
use srbuild_builder::rootimage::build_root_image;
use srbuild_builder::Compression;
use std::io::Write;
use std::path::PathBuf;

#[derive(Args)]
#[command(
    after_help = "The image is a newc cpio of the tree (sorted, owners 0, mtimes SOURCE_DATE_EPOCH or 0), so the same tree gives the same bytes. Boot it with root=http://SERVER/PATH srbuild.root_sha256=HASH (the hash is printed).\n\nExamples:\n  srbuild rootimage /srv/root -o /srv/www/root.img\n  srbuild rootimage /srv/root -o root.img --json > root.manifest.json"
)]
pub struct RootImageArgs {
    /// The root's top directory (links in it are stored as links, never followed)
    tree: PathBuf,
    /// Output file
    #[arg(long, short)]
    output: PathBuf,
    /// gzip, xz or none (what busybox in the initramfs unpacks)
    #[arg(long, default_value = "gzip")]
    compress: Compression,
    /// File mode of the image, in octal [default: 0644, since it is served over HTTP]
    #[arg(long, value_name = "OCTAL", value_parser = crate::settings::parse_mode)]
    mode: Option<u32>,
    /// Leave out what this directory of the root holds, keeping it as an empty mount point
    /// (repeatable; for srbuild.rootmode=hybrid, such as --exclude /usr)
    #[arg(long, value_name = "/PATH")]
    exclude: Vec<String>,
    /// Print the manifest as JSON on stdout (every file with type, mode, size and SHA-256;
    /// the image's SHA-256); the summary line then goes to stderr
    #[arg(long)]
    json: bool,
}

pub fn run(a: RootImageArgs) -> Result<()> {
    super::image::clean_up_on_signals();
    let m = build_root_image(&a.tree, &a.output, a.compress, a.mode, &a.exclude)?;
    for w in &m.warnings {
        eprintln!("srbuild: warning: {}", crate::one_line(w));
    }
    let summary = format!(
        "{}: {} entries, {} bytes ({} uncompressed, {}); srbuild.root_sha256={}",
        a.output.display(),
        m.sizes.entries,
        m.sizes.image_bytes,
        m.sizes.uncompressed_bytes,
        m.compression,
        m.image_sha256
    );
    if a.json {
        eprintln!("{}", crate::one_line(&summary));
        let mut out = std::io::stdout().lock();
        out.write_all(m.to_json().as_bytes())
            .and_then(|_| out.flush())
            .context("cannot print the manifest on stdout (the image is written)")?;
    } else {
        println!("{}", crate::one_line(&summary));
    }
    Ok(())
}

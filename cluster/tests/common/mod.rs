//! Helpers shared by the cluster crate's test binaries.

use srbuild_archive::{write_image, Compression, Entry, EntryKind};
use std::path::Path;

/// Writes an initramfs holding one regular file `name` with `body` to `path`, through the
/// archive crate's writer: what `cluster netboot` can read to look for secrets.
#[allow(dead_code)] // only the netboot tests read an initramfs
pub fn write_initramfs(path: &Path, name: &str, body: &[u8]) {
    let entry = Entry {
        path: name.into(),
        mode: 0o644,
        kind: EntryKind::Bytes(body.to_vec()),
        hardlink_group: None,
    };
    write_image(path, &[entry], Compression::None, 0).unwrap();
}

/// `srbuild cluster …` as the binary parses it, for the tests that run the library.
#[derive(clap::Parser)]
pub struct TestCli {
    #[command(subcommand)]
    pub cmd: Top,
}

#[derive(clap::Subcommand)]
pub enum Top {
    Cluster(srbuild_cluster::cli::ClusterArgs),
}

/// Runs `srbuild cluster --cluster FILE ARGS…`, returning stdout.
pub fn run(file: &Path, args: &[&str]) -> Result<String, srbuild_cluster::ClusterError> {
    use clap::Parser;
    let mut argv = vec!["srbuild", "cluster", "--cluster", file.to_str().unwrap()];
    argv.extend_from_slice(args);
    let Top::Cluster(a) = TestCli::try_parse_from(argv).expect("arguments parse").cmd;
    let mut out = Vec::new();
    srbuild_cluster::cli::run_cluster_to(a, &mut out)?;
    Ok(String::from_utf8(out).unwrap())
}

//! What a build is asked to do ([`BuildOptions`], and `SOURCE_DATE_EPOCH` from the
//! environment) and what it reports ([`BuildReport`]).

use crate::error::{BuildError, Result};
use srbuild_archive::Compression;
use std::path::PathBuf;
use std::time::Duration;

/// What `srbuild image` was asked to do.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Profile name (`nfs`) or path to a profile file.
    pub profile: String,
    /// Output file; default `initrd-<profile>-<kver>.img` in the current directory.
    pub output: Option<PathBuf>,
    /// Kernel version; default the newest under `<sysroot>/lib/modules`.
    pub kver: Option<String>,
    pub sysroot: PathBuf,
    pub compression: Compression,
    /// Cluster description to build in (identity by MAC at boot).
    pub cluster: Option<PathBuf>,
    /// Missing firmware is an error instead of a warning.
    pub strict: bool,
    /// Extra kernel arguments baked into the image's defaults.
    pub kernel_args: Vec<String>,
    /// Extra generated files (image path, content, mode), e.g. from the lab.
    pub extra_files: Vec<(String, Vec<u8>, u32)>,
    /// The image's file mode; `None` keeps the mode of the image it replaces, or 0600.
    pub mode: Option<u32>,
    /// Files handed to a module's resolver by name (see [`crate::resolve::inputs`]), such
    /// as a GlusterFS client volfile that chooses the client's xlators.
    pub module_inputs: Vec<ModuleInput>,
    /// Add the boot runtime (`/init`, hooks, `etc/srbuild`, kernel modules, device nodes).
    /// Without it the plan is just the profile's files: a root tree (see [`crate::tree`]).
    pub runtime: bool,
}

/// A named file for a module's resolver: `--input NAME=FILE` (`--gluster-volfile FILE`
/// is `gluster-volfile`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleInput {
    pub name: String,
    pub path: PathBuf,
}

impl BuildOptions {
    pub fn new(profile: &str) -> Self {
        BuildOptions {
            profile: profile.to_string(),
            output: None,
            kver: None,
            sysroot: PathBuf::from("/"),
            compression: Compression::default(),
            cluster: None,
            strict: false,
            kernel_args: Vec::new(),
            extra_files: Vec::new(),
            module_inputs: Vec::new(),
            mode: None,
            runtime: true,
        }
    }

    /// Hands `path` to the resolver of input `name` (checked when the image is planned).
    pub fn add_input(&mut self, name: &str, path: impl Into<PathBuf>) {
        self.module_inputs.push(ModuleInput {
            name: name.to_string(),
            path: path.into(),
        });
    }
}

/// What a finished build reports.
#[derive(Debug, Clone)]
pub struct BuildReport {
    pub output: PathBuf,
    pub profile: String,
    pub kver: String,
    pub files: usize,
    pub entries: usize,
    pub kernel_modules: usize,
    pub elf_parsed: usize,
    pub uncompressed_bytes: u64,
    pub compressed_bytes: u64,
    pub compression: Compression,
    pub elapsed: Duration,
    pub warnings: Vec<String>,
}

impl BuildReport {
    /// The one-line summary printed by `srbuild image`.
    pub fn summary(&self) -> String {
        format!(
            "srbuild: wrote {} (profile {}, kernel {}): {} files, {} kernel modules, {:.1} MB -> {:.1} MB {}, {:.2} s",
            self.output.display(),
            self.profile,
            self.kver,
            self.files,
            self.kernel_modules,
            self.uncompressed_bytes as f64 / 1e6,
            self.compressed_bytes as f64 / 1e6,
            self.compression,
            self.elapsed.as_secs_f64()
        )
    }
}

/// `SOURCE_DATE_EPOCH` (0 when unset or empty); a value that is not a number of seconds
/// that cpio can carry (0 to 4294967295) is an error, not a silent 0.
pub fn source_date_epoch() -> Result<u32> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Err(_) => Ok(0),
        Ok(v) if v.trim().is_empty() => Ok(0),
        Ok(v) => v.trim().parse::<u32>().map_err(|_| BuildError::Config {
            location: "SOURCE_DATE_EPOCH".into(),
            message: format!(
                "{:?} is not a time in seconds since 1970 that cpio can hold (0 to 4294967295)",
                v.chars().take(40).collect::<String>()
            ),
        }),
    }
}

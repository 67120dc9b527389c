//! The builder's error type: every variant names the file, module or path involved and,
//! where there is one, the next thing to try.

use std::path::PathBuf;

/// Everything that can stop a build.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("unknown profile '{name}': not found in {searched}; pass a path to a .toml file or one of: {known}")]
    UnknownProfile {
        name: String,
        searched: String,
        known: String,
    },
    #[error("unknown module '{name}' (asked for by {by}); available modules: {known}")]
    UnknownModule {
        name: String,
        by: String,
        known: String,
    },
    #[error("module dependency cycle: {0}; remove one of these `depends` entries")]
    DependencyCycle(String),
    #[error("{location}: {message}")]
    Config { location: String, message: String },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("binary '{name}' (asked for by {by}) not found in {searched}; install the package that provides it or mark it optional")]
    MissingBinary {
        name: String,
        by: String,
        searched: String,
    },
    #[error("library '{name}' needed by {needed_by} not found in {searched}; install the package that provides it")]
    MissingLibrary {
        name: String,
        needed_by: String,
        searched: String,
    },
    #[error("file '{path}' (asked for by {by}) does not exist in the sysroot{hint}")]
    MissingFile {
        path: String,
        by: String,
        hint: String,
    },
    #[error("{path}: not a valid ELF file: {message}")]
    BadElf { path: PathBuf, message: String },
    #[error("kernel {kver} is not installed: {dir} does not exist{hint}")]
    KernelNotInstalled {
        kver: String,
        dir: PathBuf,
        hint: String,
    },
    #[error("no kernel found under {0}; install a kernel (apt-get install linux-image-amd64) or pass --kver and --sysroot")]
    NoKernel(PathBuf),
    #[error("kernel module '{name}' (asked for by {by}) not found for kernel {kver}: not in modules.dep, modules.alias or modules.builtin; check the name with `modinfo -k {kver} {name}` or mark it optional")]
    UnknownKernelModule {
        name: String,
        by: String,
        kver: String,
    },
    #[error("kernel module {module}: {message} (the coldplug table, etc/srbuild/modules.match)")]
    ColdplugTable { module: String, message: String },
    #[error("{path}:{line}: malformed line in {what}: {text}")]
    ModulesIndex {
        path: PathBuf,
        line: usize,
        what: &'static str,
        text: String,
    },
    #[error("firmware '{name}' for kernel module {module} not found under {searched}; install the firmware package or drop --strict")]
    MissingFirmware {
        name: String,
        module: String,
        searched: String,
    },
    #[error("two sources for {path} in the image: {first} and {second}")]
    Conflict {
        path: String,
        first: String,
        second: String,
    },
    #[error("{path}: too many levels of symbolic links (or a loop) in the sysroot")]
    SymlinkLoop { path: String },
    #[error("template {template}: {message}")]
    Template { template: String, message: String },
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}{}: {message}", path.display(), if *line > 0 { format!(":{line}") } else { String::new() })]
    Volfile {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("cluster description")]
    Cluster(#[source] srbuild_cluster::ClusterError),
    #[error(
        "{}: node '{node}' is a cluster member but has no address, and the cluster stack binds \
         to it; add `addresses = [\"A.B.C.D/PREFIX\"]` to the node, or say `member = false` if \
         it only serves the cluster",
        cluster.display()
    )]
    MemberWithoutAddress { cluster: PathBuf, node: String },
    #[error(
        "{}: token_ms = {value} is out of range; corosync's token timeout is given in \
         milliseconds, from {} to {}",
        cluster.display(),
        srbuild_cluster::TOKEN_MS.start(),
        srbuild_cluster::TOKEN_MS.end()
    )]
    TokenOutOfRange { cluster: PathBuf, value: u32 },
    #[error(
        "profile {profile}: module {module} needs a cluster description (its members go into \
         the cluster stack's configuration); pass --cluster cluster.toml (see `srbuild cluster --help`)"
    )]
    NeedsCluster { profile: String, module: String },
    #[error("root tree {}: {message}", path.display())]
    RootTree { path: PathBuf, message: String },
    #[error(transparent)]
    Archive(#[from] srbuild_archive::ArchiveError),
}

impl BuildError {
    /// Shorthand for an IO error while reading `path`.
    pub fn read(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        BuildError::Read {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T> = std::result::Result<T, BuildError>;

//! The crate-wide error type [`LabError`].
//!
//! Every message names the node or file concerned and, where there is
//! one, what the user can do about it.

use std::io;
use std::path::PathBuf;

use crate::console::WaitError;

/// Result alias used throughout the lab.
pub type Result<T, E = LabError> = std::result::Result<T, E>;

/// Everything that can go wrong while running lab machinery.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// A filesystem operation on a lab file failed.
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// The hub could not bind its socket.
    #[error(
        "hub: cannot bind {}: {source} (is another hub running on this lab directory? \
         stop it or remove the stale socket)",
        path.display()
    )]
    HubBind {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// A unix socket path exceeds the kernel's `sun_path` limit.
    #[error(
        "socket path {} is {len} bytes, longer than the {max}-byte limit of unix sockets; \
         use a shorter lab directory",
        path.display()
    )]
    SocketPathTooLong {
        path: PathBuf,
        len: usize,
        max: usize,
    },

    /// A [`crate::qemu::VmSpec`] is inconsistent.
    #[error("node {node}: invalid VM spec: {why}")]
    InvalidSpec { node: String, why: String },

    /// QEMU could not be executed at all.
    #[error(
        "node {node}: cannot run {}: {source} (install qemu-system-x86 or set SRBUILD_LAB_QEMU)",
        qemu.display()
    )]
    Spawn {
        node: String,
        qemu: PathBuf,
        #[source]
        source: io::Error,
    },

    /// QEMU exited while starting up (bad arguments, missing files, ...).
    #[error("node {node}: QEMU exited during start-up ({status}); see {}: {stderr}", stderr_path.display())]
    QemuExited {
        node: String,
        status: String,
        stderr_path: PathBuf,
        stderr: String,
    },

    /// QEMU started but did not write its pidfile in time.
    #[error("node {node}: QEMU did not write {} within {secs:.1}s; see {}", pidfile.display(), stderr_path.display())]
    PidfileTimeout {
        node: String,
        pidfile: PathBuf,
        stderr_path: PathBuf,
        secs: f64,
    },

    /// A pidfile is unreadable or does not point at a QEMU of this lab.
    #[error("pidfile {}: {why}", path.display())]
    Pidfile { path: PathBuf, why: String },

    /// Sending a signal failed.
    #[error("cannot send signal {signal} to pid {pid} ({what}): {source}")]
    Signal {
        pid: i32,
        signal: i32,
        what: String,
        #[source]
        source: io::Error,
    },

    /// A host command the lab runs is not installed.
    #[error("{}", not_installed(command, *package))]
    NotInstalled {
        command: String,
        /// The Debian package that has it, when the lab's tool table knows.
        package: Option<&'static str>,
    },

    /// Refused before anything boots: options the lab cannot run, no such lab or node.
    #[error("{0}")]
    Invalid(String),

    /// An image the run built fails the lab's check of its modules
    /// ([`crate::run::plain_modules`]).
    #[error("image {}: {why}", image.display())]
    ImageCheck { image: PathBuf, why: String },

    /// Building an image or a root tree failed.
    #[error("{what}")]
    Build {
        what: String,
        #[source]
        source: srbuild_builder::BuildError,
    },

    /// Writing the test root's CDSLs failed.
    #[error("{what}")]
    Cdsl {
        what: String,
        #[source]
        source: srbuild_cluster::ClusterError,
    },

    /// Writing the netboot files of the pxe scenario failed.
    #[error("{what}")]
    Netboot {
        what: String,
        #[source]
        source: srbuild_cluster::ClusterError,
    },

    /// A host tool (mkfs, qemu-img) ran and failed.
    #[error("{what} failed: {stderr}")]
    Tool { what: String, stderr: String },

    /// A service role (server, seed) failed or never got ready; the clients cannot pass.
    #[error("{node}: {why} (console log {})", log.display())]
    Role {
        node: String,
        why: String,
        log: PathBuf,
    },

    /// Waiting for console output failed.
    #[error(transparent)]
    Wait(#[from] WaitError),
}

impl LabError {
    /// Shorthand for [`LabError::Io`].
    pub fn io(what: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        LabError::Io {
            what,
            path: path.into(),
            source,
        }
    }
}

/// "X (package P) is not installed; ..." for a command that could not be started.
pub fn not_installed(command: &str, package: Option<&str>) -> String {
    match package {
        Some(p) => format!(
            "{command} (package {p}) is not installed; run `cargo xtask deps` \
             (or `apt-get install {p}`)"
        ),
        None => format!("{command} is not installed or not on PATH"),
    }
}

//! The crate's error type, [`ClusterError`], and [`Diagnostic`], one located
//! problem in a `cluster.toml` (file, line, column, message).

use std::fmt;
use std::path::PathBuf;

/// One problem found in a cluster description, located by line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file the problem is in.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// What is wrong and what to do about it.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

fn join_diagnostics(d: &[Diagnostic]) -> String {
    d.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The cluster description is malformed or inconsistent (one entry per problem).
    #[error("{}", join_diagnostics(.0))]
    Invalid(Vec<Diagnostic>),

    /// A file system operation failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },

    /// No `--cluster` was given and no default file exists.
    #[error("no cluster description found: looked for ./cluster.toml and /etc/srbuild/cluster.toml; pass --cluster FILE or create ./cluster.toml")]
    NotFound,

    /// A node name that is not in the description.
    #[error("{}: unknown node '{name}'; known nodes: {known}", file.display())]
    UnknownNode {
        file: PathBuf,
        name: String,
        known: String,
    },

    /// An unknown `query` key.
    #[error("unknown query key '{key}'; valid keys: {valid}")]
    UnknownKey { key: String, valid: String },

    /// A command was called with arguments that do not fit together.
    #[error("{0}")]
    Usage(String),

    /// An edit of `cluster.toml` (addnode/removenode) was refused; the file is unchanged.
    #[error("{}: {message}", file.display())]
    Edit { file: PathBuf, message: String },

    /// A CDSL operation was refused or cannot proceed.
    #[error("{}: {message}", root.display())]
    Cdsl { root: PathBuf, message: String },

    /// A path component inside the root is a symlink that must not be followed.
    #[error("{}: refusing to follow symlink {} -> {}: {why}", root.display(), link.display(), target.display())]
    UnsafePath {
        root: PathBuf,
        link: PathBuf,
        target: PathBuf,
        why: String,
    },

    /// `cdsl check` found problems (they were printed one per line).
    #[error("{}: cdsl check found {count} problem(s); fix them or re-run the interrupted create/remove", root.display())]
    CheckFailed { root: PathBuf, count: usize },
}

impl ClusterError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        ClusterError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// A value from the command line as it may be shown in a one-line message: at most 64
/// characters, control characters escaped.
pub(crate) fn shown(value: &str) -> String {
    let cut: String = value.chars().take(64).collect();
    let more = if value.chars().count() > 64 {
        "…"
    } else {
        ""
    };
    format!("'{}{more}'", cut.escape_debug())
}

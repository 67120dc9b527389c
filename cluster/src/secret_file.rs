//! Reading a secret from a file an administrator names in the description (a BMC password,
//! an iSCSI CHAP secret): through one descriptor that never follows a link, refusing a file
//! anyone but its owner could read or write, and checking the secret's length and bytes.
//! Every error says what is wrong without showing the file's content. It also owns where a
//! file the description names is: beside the description unless the path is absolute.

use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// A file the description at `source` names: an absolute path as it is, a relative one
/// taken from the description's directory.
pub(crate) fn beside(source: &Path, path: &str) -> PathBuf {
    let p = PathBuf::from(path);
    if p.is_absolute() {
        p
    } else {
        source.parent().unwrap_or(Path::new(".")).join(p)
    }
}

/// What a secret file must hold.
pub(crate) struct SecretRule {
    /// What the secret is, in messages ("password", "CHAP secret").
    pub what: &'static str,
    /// Fewest and most bytes, and why the limits are what they are.
    pub min: usize,
    pub max: usize,
    pub limits_why: &'static str,
    /// Whether a byte may be part of the secret, and those bytes in words.
    pub byte_ok: fn(u8) -> bool,
    pub bytes_doc: &'static str,
    /// What to renew when the file's mode let others read it.
    pub renew: &'static str,
}

/// Reads the secret at `path` by `rule`: a regular file owned by root or by the one
/// running srbuild, that neither group nor others may read or write, holding the secret
/// with at most one trailing newline (which is not part of it).
pub(crate) fn read_secret(path: &Path, rule: &SecretRule) -> Result<Vec<u8>, String> {
    let what = rule.what;
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => format!(
                "{} is a symlink; name the {what} file itself",
                path.display()
            ),
            _ => format!("cannot open {}: {e}", path.display()),
        })?;
    let m = f
        .metadata()
        .map_err(|e| format!("cannot stat {}: {e}", path.display()))?;
    if !m.is_file() {
        return Err(format!(
            "{} is not a regular file; name the {what} file itself",
            path.display()
        ));
    }
    // SAFETY: geteuid(2) has no failure mode.
    let me = unsafe { libc::geteuid() };
    if m.uid() != 0 && m.uid() != me {
        return Err(format!(
            "{} is owned by uid {}; it must belong to root (chown root, chmod 0400)",
            path.display(),
            m.uid()
        ));
    }
    if m.mode() & 0o077 != 0 {
        return Err(format!(
            "{} has mode {:o}, which lets group or others read or write it; chmod 0400 \
             it (and set a new {}: this one may have leaked)",
            path.display(),
            m.mode() & 0o7777,
            rule.renew
        ));
    }
    let mut bytes = Vec::new();
    f.by_ref()
        .take(rule.max as u64 + 2)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let body = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
    if body.len() < rule.min || body.len() > rule.max {
        return Err(format!(
            "{} must hold a {what} of {} to {} characters ({}), with at most one newline \
             after it",
            path.display(),
            rule.min,
            rule.max,
            rule.limits_why
        ));
    }
    if !body.iter().all(|b| (rule.byte_ok)(*b)) {
        return Err(format!(
            "{} holds a byte a {what} may not have (a space, a control character, a second \
             line, a non-ASCII byte or a character outside {}); the {what} must be one word \
             of {}",
            path.display(),
            rule.bytes_doc,
            rule.bytes_doc
        ));
    }
    Ok(body.to_vec())
}

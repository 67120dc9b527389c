//! Which members of an image are secrets: the corosync authkey the builder puts at the
//! boot contract's path. One list, for every command that must not publish or show them
//! (`cluster netboot` refuses to serve an image holding one).

use crate::error::ArchiveError;
use std::path::Path;

/// Paths (normalised, no leading `/` or `./`) of the members that are secrets, with what
/// each is.
pub const SECRET_PATHS: &[(&str, &str)] =
    &[("etc/srbuild/corosync-authkey", "the corosync authkey")];

/// What the secret at archive path `name` is, if it is one. The name is resolved the way
/// the kernel's unpacker resolves it (`./etc//x`, `/etc/x` and `etc/./x` are `etc/x`).
pub fn secret_kind(name: &str) -> Option<&'static str> {
    let mut parts: Vec<&str> = Vec::new();
    for c in name.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    let norm = parts.join("/");
    SECRET_PATHS
        .iter()
        .find(|(p, _)| *p == norm)
        .map(|(_, what)| *what)
}

/// The secrets the image at `path` holds: (name as stored, what it is), in archive order.
pub fn secrets_in_image(path: &Path) -> Result<Vec<(String, &'static str)>, ArchiveError> {
    let mut found = Vec::new();
    crate::read::for_each_entry(path, |e| {
        if e.mode & crate::entry::S_IFMT == crate::entry::S_IFREG {
            if let Some(what) = secret_kind(&e.path) {
                found.push((e.path.clone(), what));
            }
        }
        Ok(())
    })?;
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::secret_kind;

    #[test]
    fn every_spelling_of_the_authkey_is_a_secret() {
        for n in [
            "etc/srbuild/corosync-authkey",
            "./etc/srbuild/corosync-authkey",
            "/etc//srbuild/./corosync-authkey",
            "etc/x/../srbuild/corosync-authkey",
        ] {
            assert_eq!(secret_kind(n), Some("the corosync authkey"), "{n}");
        }
        for n in [
            "etc/srbuild/profile",
            "etc/srbuild/corosync-authkey.txt",
            "",
        ] {
            assert_eq!(secret_kind(n), None, "{n}");
        }
    }
}

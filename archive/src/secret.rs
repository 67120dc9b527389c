//! The one list of the image paths that hold secrets, with what each is. Every output that
//! shows or publishes what an image holds consults it: the build manifest (`srbuild image
//! --json`) and `srbuild diff` (text and JSON) print no hash of a secret's content and say
//! that it is one, `srbuild why` names it as one, and `srbuild cluster netboot` refuses to
//! serve an image holding one. Paths are compared after the clean-up the kernel's unpacker
//! gives every spelling (leading `/` and `./`, repeated slashes, `.`, and `..`, which stops
//! at the root); `srbuild diff` also marks every hardlink of a secret file.

use crate::error::ArchiveError;
use std::path::Path;

/// The corosync authkey, which `srbuild image --cluster` puts in images of corosync profiles.
pub const COROSYNC_AUTHKEY: &str = "etc/srbuild/corosync-authkey";

/// The CHAP secret of the root's iSCSI sessions, which `srbuild image --cluster` puts in
/// images of profiles that log in to or serve iSCSI targets when the description has
/// `[iscsi]`.
pub const ISCSI_CHAP_SECRET: &str = "etc/srbuild/iscsi-chap.secret";

/// The directory of the fence devices' passwords (`NODE.password`), which `srbuild image
/// --cluster` puts in images of profiles that run dlm: every file under it is a secret.
pub const FENCE_PASSWORD_DIR: &str = "etc/srbuild/fence";

/// Directories every file under which (at any depth) holds a secret, with what each is.
pub const SECRET_DIRS: &[(&str, &str)] = &[(FENCE_PASSWORD_DIR, "a fence device's password")];

/// Every path that holds a secret (normalised: no leading `/` or `./`), with what it is.
pub const SECRET_PATHS: &[(&str, &str)] = &[
    (COROSYNC_AUTHKEY, "the corosync authkey"),
    (ISCSI_CHAP_SECRET, "the iSCSI CHAP secret"),
    // Where corosync itself reads it: a profile that lists the host's key puts it here.
    ("etc/corosync/authkey", "the corosync authkey"),
];

/// `name` as the kernel's unpacker resolves it lexically.
fn normalise(name: &str) -> String {
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
    parts.join("/")
}

/// What the secret at archive path `name` is, if it is one.
pub fn secret_kind(name: &str) -> Option<&'static str> {
    let norm = normalise(name);
    SECRET_PATHS
        .iter()
        .find(|(p, _)| *p == norm)
        .or_else(|| {
            SECRET_DIRS.iter().find(|(d, _)| {
                norm.strip_prefix(d)
                    .is_some_and(|rest| rest.starts_with('/') && rest.len() > 1)
            })
        })
        .map(|(_, what)| *what)
}

/// Whether the image path `path` (any spelling) holds a secret.
pub fn is_secret(path: &str) -> bool {
    secret_kind(path).is_some()
}

/// The secrets the image at `path` holds: (name as stored, what it is), in archive order.
pub fn secrets_in_image(path: &Path) -> Result<Vec<(String, &'static str)>, ArchiveError> {
    let mut found = Vec::new();
    crate::visit::for_each_entry(path, |e| {
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
    use super::{is_secret, secret_kind};

    #[test]
    fn every_spelling_of_the_authkey_is_a_secret() {
        for n in [
            "etc/srbuild/corosync-authkey",
            "/etc/srbuild/corosync-authkey",
            "./etc//srbuild/./corosync-authkey",
            "/etc//srbuild/./corosync-authkey",
            "etc/x/../srbuild/corosync-authkey",
            "../etc/srbuild/corosync-authkey",
            "etc/corosync/authkey",
            "/etc//corosync/authkey",
        ] {
            assert_eq!(secret_kind(n), Some("the corosync authkey"), "{n}");
            assert!(is_secret(n), "{n}");
        }
        for n in [
            "etc/srbuild/profile",
            "etc/srbuild/cluster.toml",
            "etc/srbuild",
            "corosync-authkey",
            "etc/srbuild/corosync-authkey.txt",
            "",
        ] {
            assert_eq!(secret_kind(n), None, "{n}");
            assert!(!is_secret(n), "{n}");
        }
    }

    #[test]
    fn every_file_under_the_fence_password_directory_is_a_secret() {
        for n in [
            "etc/srbuild/fence/node1.password",
            "/etc//srbuild/fence/./node2.password",
            "etc/srbuild/x/../fence/a",
            "etc/srbuild/fence/sub/deeper",
        ] {
            assert_eq!(secret_kind(n), Some("a fence device's password"), "{n}");
        }
        for n in [
            "etc/srbuild/fence",
            "etc/srbuild/fence/",
            "etc/srbuild/fencex/a",
            "etc/srbuild/fence.password",
        ] {
            assert!(!is_secret(n), "{n}");
        }
    }
}

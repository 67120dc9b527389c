//! The one list of the image paths that hold secrets. Every output that shows what an image
//! holds consults it: the build manifest (`srbuild image --json`) and `srbuild diff` (text
//! and JSON) print no hash of a secret's content, and say that it is one. Paths are compared
//! after the lexical clean-up every spelling of an image path goes through (leading `/` and
//! `./`, repeated slashes, `.` components); `srbuild diff` also marks every hardlink of a
//! secret file.

/// The corosync authkey, which `srbuild image --cluster` puts in images of corosync profiles.
pub const COROSYNC_AUTHKEY: &str = "etc/srbuild/corosync-authkey";

/// Every path that holds a secret.
pub const SECRET_PATHS: &[&str] = &[COROSYNC_AUTHKEY];

/// Whether the image path `path` (with or without a leading `/`) holds a secret.
pub fn is_secret(path: &str) -> bool {
    let clean: Vec<&str> = path
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    SECRET_PATHS
        .iter()
        .any(|s| s.split('/').eq(clean.iter().copied()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_the_authkey_is_a_secret() {
        for p in [
            "etc/srbuild/corosync-authkey",
            "/etc/srbuild/corosync-authkey",
            "./etc//srbuild/./corosync-authkey",
        ] {
            assert!(is_secret(p), "{p}");
        }
        for p in [
            "etc/srbuild/cluster.toml",
            "etc/srbuild",
            "corosync-authkey",
            "",
        ] {
            assert!(!is_secret(p), "{p}");
        }
    }
}

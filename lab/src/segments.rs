//! The lab's L2 segments when a run needs more than one network: segment 0 is the hub in
//! the lab's network directory (as always), segment `k` a hub of its own in `<dir>/net<k>`
//! (a second switch, so a second L2 segment: two paths to a SAN target). The hubs
//! themselves are [`crate::hub`]'s; this module only names their directories.

use std::path::{Path, PathBuf};

/// The most segments a run may ask for (each one more NIC per node).
pub const MAX_SEGMENTS: usize = 4;

/// The hub directory of segment `k` (0-based) under the lab's network directory `base`.
pub fn dir(base: &Path, k: usize) -> PathBuf {
    if k == 0 {
        base.to_path_buf()
    } else {
        base.join(format!("net{k}"))
    }
}

/// The hub directories of `count` segments under `base`, segment 0 first.
pub fn dirs(base: &Path, count: usize) -> Vec<PathBuf> {
    (0..count.max(1)).map(|k| dir(base, k)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_zero_is_the_base_and_the_others_are_below_it() {
        let base = Path::new("/tmp/srbuild-lab-1");
        assert_eq!(
            dirs(base, 2),
            [PathBuf::from("/tmp/srbuild-lab-1"), base.join("net1")]
        );
        assert_eq!(dirs(base, 0).len(), 1);
        // A node socket on segment 1 still fits in a unix socket address.
        let s = crate::hub::node_socket(&dir(base, 1), "node10", 1);
        assert!(crate::hub::check_socket_path(&s).is_ok());
    }
}

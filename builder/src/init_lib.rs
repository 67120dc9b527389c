//! The shell library `/init` sources (`builder/templates/lib/*.sh`, shipped as
//! `usr/lib/srbuild/lib/*.sh`): static files, the same in every image. `/init` itself
//! (`templates/init.sh.hbs`) only runs the stages; the functions live here.

use crate::error::Result;
use crate::plan::Plan;

/// Where the library goes in the image.
pub const INIT_LIB_DIR: &str = "usr/lib/srbuild/lib";

/// (file name, text) of every library file, in the order `/init` sources them.
pub const INIT_LIB: &[(&str, &str)] = &[
    ("core.sh", include_str!("../templates/lib/core.sh")),
    ("cmdline.sh", include_str!("../templates/lib/cmdline.sh")),
    ("mount.sh", include_str!("../templates/lib/mount.sh")),
    ("svc.sh", include_str!("../templates/lib/svc.sh")),
    ("net.sh", include_str!("../templates/lib/net.sh")),
    ("identity.sh", include_str!("../templates/lib/identity.sh")),
    ("iscsi.sh", include_str!("../templates/lib/iscsi.sh")),
    ("lvm.sh", include_str!("../templates/lib/lvm.sh")),
];

/// Puts the library into `plan` (mode 0644: sourced, never run).
pub fn add_init_lib(plan: &mut Plan) -> Result<()> {
    for (name, text) in INIT_LIB {
        plan.insert_bytes(
            &format!("{INIT_LIB_DIR}/{name}"),
            text.as_bytes().to_vec(),
            0o644,
            "srbuild",
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_sources_every_library_file_in_this_order() {
        let init = include_str!("../templates/init.sh.hbs");
        let mut at = 0;
        for (name, _) in INIT_LIB {
            let line = format!("\n. /{INIT_LIB_DIR}/{name}\n");
            let found = init[at..].find(&line);
            assert!(
                found.is_some(),
                "init.sh.hbs sources {name} after the one before"
            );
            at += found.unwrap_or(0) + line.len() - 1;
        }
    }
}

//! `srbuild why PATH --profile P`: plans the profile's image (nothing is written) and
//! prints the chain of causes that brought PATH in, back to the profile or module that
//! asked; a path that is not planned is an error with close matches.

use anyhow::{bail, Result};
use clap::Args;
use srbuild_builder::provenance;
use srbuild_builder::{plan_image, BuildOptions};
use std::path::PathBuf;

#[derive(Args)]
#[command(
    after_help = "Examples:\n  srbuild why /usr/lib/x86_64-linux-gnu/libtirpc.so.3 --profile nfs\n  srbuild why lib/modules/6.1.0-56-amd64/kernel/net/sunrpc/sunrpc.ko --profile nfs\n  srbuild why usr/sbin/corosync --profile gfs2 --cluster cluster.toml\n\nEach step reads `A ← how B`: A is in the image because of B (DT_NEEDED, PT_INTERP, #! interpreter, symlink target, modules.dep, softdep, firmware), back to the list of the module or profile that asked (binaries, files, plugin_dirs, kernel_modules, symlinks, dirs)."
)]
pub struct WhyArgs {
    /// Path in the image (with or without the leading /); links in it are followed as in
    /// the image
    path: String,
    /// Profile name or path to a profile .toml
    #[arg(long, short)]
    profile: String,
    /// Kernel version [default: newest under <sysroot>/lib/modules]
    #[arg(long)]
    kver: Option<String>,
    /// Tree to take binaries, libraries and modules from
    #[arg(long, default_value = "/")]
    sysroot: PathBuf,
    /// Cluster description (needed by profiles that render the cluster, such as gfs2)
    #[arg(long)]
    cluster: Option<PathBuf>,
    /// GlusterFS client volfile, as for `srbuild image`
    #[arg(long, value_name = "FILE")]
    gluster_volfile: Option<PathBuf>,
    /// A file for a module's resolver, as for `srbuild image` (repeatable)
    #[arg(long = "input", value_name = "NAME=FILE", value_parser = super::image::parse_input)]
    inputs: Vec<(String, PathBuf)>,
}

pub fn run(a: WhyArgs) -> Result<()> {
    let mut opts = BuildOptions::new(&a.profile);
    opts.kver = a.kver;
    opts.sysroot = a.sysroot;
    opts.cluster = a.cluster;
    super::image::add_inputs(&mut opts, a.gluster_volfile, a.inputs);
    let planned = plan_image(&opts)?;
    let wanted = a.path.trim_start_matches('/').trim_end_matches('/');
    if wanted.is_empty() {
        bail!("{:?} names the image's root; name a path in it", a.path);
    }
    let shown = srbuild_archive::escape_name(wanted);
    if planned.plan.get(wanted).is_some() {
        let steps = provenance::chain(&planned.plan, wanted);
        println!(
            "{}{}",
            crate::one_line(&provenance::render(&steps, &planned.profile)),
            secret_note(wanted)
        );
        return Ok(());
    }
    // A path through a link of the image (`lib/...` on a merged-/usr host).
    let walk = provenance::walk_plan(&planned.plan, wanted);
    if let Some(target) = walk.target.as_deref() {
        let mut links = walk.on_the_way.clone();
        links.extend(walk.final_links.iter().cloned());
        links.retain(|l| {
            matches!(
                planned.plan.get(l).map(|e| &e.source),
                Some(srbuild_builder::plan::Source::Symlink(_))
            )
        });
        println!(
            "{shown} is {} in the image (through the link {})",
            srbuild_archive::escape_name(target),
            links.join(", ")
        );
        let steps = provenance::chain(&planned.plan, target);
        println!(
            "{}{}",
            crate::one_line(&provenance::render(&steps, &planned.profile)),
            secret_note(target)
        );
        return Ok(());
    }
    let matches = provenance::close_matches(&planned.plan, wanted, 8);
    let hint = if matches.is_empty() {
        "; `srbuild image` with this profile and `srbuild ls` show what is there".to_string()
    } else {
        let list: Vec<String> = matches
            .iter()
            .map(|m| srbuild_archive::escape_name(m))
            .collect();
        format!("; close matches: {}", list.join(", "))
    };
    bail!(
        "{shown} is not in the image of profile {} (kernel {}, sysroot {}){hint}",
        planned.profile.name,
        planned.kver,
        opts.sysroot.display()
    )
}

/// `why` shows causes, never content; a secret (`srbuild_archive::secret`) says so.
fn secret_note(path: &str) -> &'static str {
    if srbuild_archive::secret::is_secret(path) {
        " (a secret: no output shows its content or hash)"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_secret_is_named_as_one() {
        assert!(super::secret_note("etc/srbuild/corosync-authkey").contains("secret"));
        assert_eq!(super::secret_note("etc/srbuild/nodes"), "");
    }
}

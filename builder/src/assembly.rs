//! Assembling an image's plan from its profile: the skeleton, the declared symlinks and
//! directories, the binaries and files with what they need (ELF closure, scripts), plugin
//! directories, then the boot runtime ([`crate::runtime`]) and extra files.

use crate::config::{load_profile, Profile};
use crate::error::{BuildError, Result};
use crate::kernel::choose_kernel;
use crate::library::{Library, TextFile};
use crate::listed::add_listed;
use crate::names::check_plain_name;
use crate::options::BuildOptions;
use crate::plan::{Plan, Source};
use crate::resolve::inputs::InputRead;
use crate::runtime::add_runtime;
use crate::sysroot::Sysroot;

/// A planned image, before it is written.
#[derive(Debug)]
pub struct Planned {
    pub plan: Plan,
    pub profile: Profile,
    pub kver: String,
    pub kernel_modules: Vec<String>,
    /// Each kernel module in load order with its archive path.
    pub kernel_module_paths: Vec<(String, String)>,
    /// The profile and module files read, with their paths relative to a data directory
    /// (`profiles/nfs.toml`, `modules/nfs/module.toml`): the build's text inputs.
    pub inputs: Vec<(String, TextFile)>,
    /// The module inputs read (`--input`), each hashed from the bytes used.
    pub module_inputs: Vec<InputRead>,
    pub elf_parsed: usize,
    pub warnings: Vec<String>,
}

/// Builds the plan for an image without writing anything.
pub fn plan_image(opts: &BuildOptions) -> Result<Planned> {
    // A sysroot that is missing or a file would only show up later as "no kernel under
    // <file>/lib/modules"; say what is wrong with it first.
    let sysroot = Sysroot::open(&opts.sysroot)?;
    let mut library = Library::standard();
    let mut profile = load_profile(&mut library, &opts.profile)?;
    check_plain_name(
        &format!("profile name (from {})", profile.source),
        &profile.name,
    )?;
    let args = profile
        .kernel_args
        .iter()
        .map(|a| (a, profile.source.as_str()))
        .chain(opts.kernel_args.iter().map(|a| (a, "--kernel-arg")));
    for (a, from) in args {
        srbuild_cluster::description::check_kernel_arg(a).map_err(|message| {
            BuildError::Config {
                location: from.to_string(),
                message,
            }
        })?;
    }
    let module_inputs = crate::resolve::inputs::apply(&opts.module_inputs, &mut profile, &sysroot)?;
    let kver = choose_kernel(&sysroot, opts.kver.as_deref())?;
    // An admin's (or a profile directory's) copy of a built-in module is named in the output.
    let mut warnings = library.overrides();
    let mut plan = Plan::default();

    add_skeleton(&mut plan, opts.runtime)?;
    let elf_parsed = add_listed(&sysroot, &profile, &mut plan, &mut warnings)?;
    if !opts.runtime && (opts.cluster.is_some() || !opts.kernel_args.is_empty()) {
        return Err(BuildError::Config {
            location: profile.source.clone(),
            message: "a root tree (no boot runtime) takes no cluster description or kernel \
                      arguments; build an image for those"
                .into(),
        });
    }
    let kernel_module_paths = if opts.runtime {
        add_runtime(opts, &profile, &sysroot, &kver, &mut plan, &mut warnings)?
    } else {
        Vec::new()
    };
    let kernel_modules = kernel_module_paths.iter().map(|(n, _)| n.clone()).collect();
    for (path, bytes, mode) in &opts.extra_files {
        plan.insert_bytes(path, bytes.clone(), *mode, "extra file")?;
    }
    plan.fill_parents()?;
    Ok(Planned {
        plan,
        profile,
        kver,
        kernel_modules,
        kernel_module_paths,
        inputs: library.files_read(),
        module_inputs,
        elf_parsed,
        warnings,
    })
}

/// The skeleton every image has; with the runtime, the device records that give the
/// kernel a console before devtmpfs.
fn add_skeleton(plan: &mut Plan, runtime: bool) -> Result<()> {
    for d in ["dev", "proc", "sys", "run", "tmp", "root", "etc", "var"] {
        plan.insert(d, Source::Dir, 0o755, "skeleton")?;
    }
    if runtime {
        plan.insert("sysroot", Source::Dir, 0o755, "skeleton")?;
        plan.insert("dev/console", Source::CharDev(5, 1), 0o600, "skeleton")?;
        plan.insert("dev/null", Source::CharDev(1, 3), 0o666, "skeleton")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A profile directory (profiles/, modules/) and a sysroot with an empty kernel 9.9.9.
    fn setup() -> (tempfile::TempDir, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("sysroot");
        std::fs::create_dir_all(root.join("lib/modules/9.9.9")).unwrap();
        std::fs::write(root.join("lib/modules/9.9.9/modules.dep"), "").unwrap();
        (d, root)
    }

    fn write(dir: &std::path::Path, rel: &str, text: &str) -> String {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    }

    fn plan_error(profile: &str, sysroot: &std::path::Path) -> String {
        let mut opts = BuildOptions::new(profile);
        opts.sysroot = sysroot.to_path_buf();
        plan_image(&opts).unwrap_err().to_string()
    }

    #[test]
    fn a_missing_file_hint_fits_where_the_file_was_listed() {
        let (d, root) = setup();
        // Listed by a profile: profiles have no optional_files, so the hint must not
        // tell the user to list it there.
        let p = write(d.path(), "profiles/p.toml", "files = [\"/no/such/file\"]\n");
        let e = plan_error(&p, &root);
        assert!(e.contains("'/no/such/file' (asked for by"), "{e}");
        assert!(e.contains(&format!("remove it from `files` in {p}")), "{e}");
        assert!(
            e.contains("profiles have no optional_files")
                && e.contains("list that module under `modules`"),
            "{e}"
        );
        assert!(!e.contains("or list it under optional_files"), "{e}");
        // Listed by a module: that module's optional_files is the place.
        let m = write(
            d.path(),
            "modules/m/module.toml",
            "files = [\"/no/other\"]\n",
        );
        let p = write(d.path(), "profiles/q.toml", "modules = [\"m\"]\n");
        let e = plan_error(&p, &root);
        assert!(
            e.contains(&format!(
                "move it from `files` to `optional_files` in module m ({m})"
            )),
            "{e}"
        );
        // In a module's optional_files it is skipped with a warning.
        write(
            d.path(),
            "modules/m/module.toml",
            "optional_files = [\"/no/other\"]\n",
        );
        let mut opts = BuildOptions::new(&p);
        opts.sysroot = root.clone();
        opts.runtime = false;
        let planned = plan_image(&opts).unwrap();
        assert!(
            planned.warnings.iter().any(|w| w.contains("/no/other")),
            "{:?}",
            planned.warnings
        );
    }

    #[test]
    fn a_sysroot_that_is_not_a_directory_is_named_before_anything_else() {
        let (d, _) = setup();
        let file = d.path().join("passwd");
        std::fs::write(&file, "root:x:0:0::/root:/bin/sh\n").unwrap();
        let e = plan_error("nfs", &file);
        assert!(
            e.contains(&format!("--sysroot: {} is a file", file.display())),
            "{e}"
        );
        assert!(!e.contains("no kernel found"), "{e}");
        let e = plan_error("nfs", &d.path().join("missing"));
        assert!(e.contains("missing does not exist"), "{e}");
    }
}

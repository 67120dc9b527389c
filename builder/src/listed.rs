//! What a profile lists, added to the plan: declared symlinks and directories, binaries
//! and files (each with its ELF closure or `#!` interpreter), and plugin directories.

use crate::config::{Item, Profile};
use crate::error::{BuildError, Result};
use crate::plan::{Cause, Plan, Source};
use crate::provenance;
use crate::resolve::elf::ElfResolver;
use crate::sysroot::Sysroot;

/// Adds everything `profile` lists; returns how many ELF files were parsed.
pub fn add_listed(
    sysroot: &Sysroot,
    profile: &Profile,
    plan: &mut Plan,
    warnings: &mut Vec<String>,
) -> Result<usize> {
    // Declared symlinks first: the image's view of a path wins over the host's.
    add_symlinks(sysroot, profile, plan)?;
    for d in &profile.dirs {
        plan.insert(&d.name, Source::Dir, 0o755, &d.by)?;
        let listed = Cause::Listed {
            list: "dirs",
            by: d.by.clone(),
        };
        plan.set_cause(&d.name, &d.by, listed);
    }

    let mut elf = ElfResolver::new(sysroot);
    elf.list = "binaries";
    add_binaries(sysroot, profile, plan, &mut elf, warnings)?;
    elf.list = "files";
    for f in &profile.files {
        let hint = missing_file_hint(profile, f);
        add_glob(sysroot, plan, &mut elf, f, false, &hint, warnings)?;
    }
    elf.list = "plugin_dirs";
    for p in &profile.plugin_dirs {
        add_glob(sysroot, plan, &mut elf, p, true, "", warnings)?;
    }

    Ok(elf.parsed)
}

/// The declared symlinks, each in the directory its parent resolves to in the sysroot.
fn add_symlinks(sysroot: &Sysroot, profile: &Profile, plan: &mut Plan) -> Result<()> {
    for (path, (target, by)) in &profile.symlinks {
        let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
        let dir = if parent.is_empty() {
            String::new()
        } else {
            let found = sysroot.add(plan, &format!("/{parent}"), by)?;
            let listed = Cause::Listed {
                list: "symlinks",
                by: by.clone(),
            };
            provenance::record(plan, &format!("/{parent}"), by, listed);
            match found {
                Some(r) if r.is_dir => r.image_path,
                _ => parent.to_string(),
            }
        };
        let at = if dir.is_empty() {
            name.to_string()
        } else {
            format!("{dir}/{name}")
        };
        plan.insert(&at, Source::Symlink(target.clone()), 0o777, by)?;
        let listed = Cause::Listed {
            list: "symlinks",
            by: by.clone(),
        };
        plan.set_cause(&at, by, listed);
    }
    Ok(())
}

/// The listed binaries: a path, or a name searched in the sysroot's `PATH` directories.
fn add_binaries(
    sysroot: &Sysroot,
    profile: &Profile,
    plan: &mut Plan,
    elf: &mut ElfResolver,
    warnings: &mut Vec<String>,
) -> Result<()> {
    for b in &profile.binaries {
        let path = if b.name.contains('/') {
            Some(b.name.clone())
        } else {
            sysroot.which(&b.name)?
        };
        let found = match &path {
            Some(p) => elf.add(plan, p, &b.by)?,
            None => false,
        };
        if !found {
            if b.optional {
                warnings.push(format!(
                    "optional binary {} (from {}) not found; skipped",
                    b.name, b.by
                ));
                continue;
            }
            return Err(BuildError::MissingBinary {
                name: b.name.clone(),
                by: b.by.clone(),
                searched: if b.name.contains('/') {
                    sysroot.host(&b.name).display().to_string()
                } else {
                    crate::sysroot::BIN_DIRS
                        .iter()
                        .map(|d| sysroot.host(d).display().to_string())
                        .collect::<Vec<_>>()
                        .join(":")
                },
            });
        }
    }
    Ok(())
}

/// What to do about a `files` entry that matched nothing, for where it was listed: a module
/// can mark it optional; a profile cannot (profiles have no `optional_files`).
fn missing_file_hint(profile: &Profile, item: &Item) -> String {
    if profile.profile_files.contains(&item.by) {
        format!(
            "; install the package that provides it, or remove it from `files` in {} \
             (profiles have no optional_files: to make it optional, put it under \
             optional_files in a module's module.toml and list that module under `modules`)",
            item.by
        )
    } else {
        format!(
            "; install the package that provides it, or move it from `files` to \
             `optional_files` in {}",
            item.by
        )
    }
}

/// Adds the sysroot files matching `item` (a path or glob); `hint` ends the error when
/// nothing matches and the item is required.
fn add_glob(
    sysroot: &Sysroot,
    plan: &mut Plan,
    elf: &mut ElfResolver,
    item: &Item,
    whole_dirs: bool,
    hint: &str,
    warnings: &mut Vec<String>,
) -> Result<()> {
    // Expanded inside the sysroot (links and `..` resolved as under chroot), never on the host.
    let matches = sysroot.glob(&item.name)?;
    let missing = || BuildError::MissingFile {
        path: item.name.clone(),
        by: item.by.clone(),
        hint: hint.to_string(),
    };
    if matches.is_empty() {
        if item.optional || whole_dirs {
            warnings.push(format!(
                "{} (from {}) matched nothing; skipped",
                item.name, item.by
            ));
            return Ok(());
        }
        return Err(missing());
    }
    let mut added = false;
    for m in matches {
        let is_dir = sysroot.resolve(&m)?.is_some_and(|r| r.is_dir);
        if is_dir {
            // The directory (and any link on the way to it), then what it holds.
            sysroot.add(plan, &m, &item.by)?;
            added = true;
            for f in sysroot.walk_files(&m)? {
                elf.add(plan, &f, &item.by)?;
            }
        } else {
            added |= elf.add(plan, &m, &item.by)?;
        }
    }
    if !added && !item.optional {
        return Err(missing());
    }
    Ok(())
}

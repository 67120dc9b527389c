//! The kernel of a build: which version (the one asked for, or the newest installed), and
//! its modules in the image (uncompressed, with their firmware, the trimmed module index
//! and the coldplug files).

use crate::config::Item;
use crate::contract;
use crate::error::{BuildError, Result};
use crate::names::check_plain_name;
use crate::plan::{Cause, Plan, Via};
use crate::provenance;
use crate::resolve::kmod::{
    firmware_of, read_decompressed, strip_compression, ModuleIndex, Selected,
};
use crate::sysroot::Sysroot;

/// Picks the kernel version: the one asked for (it must be installed) or the newest.
pub fn choose_kernel(sysroot: &Sysroot, kver: Option<&str>) -> Result<String> {
    if let Some(k) = kver {
        check_plain_name("--kver", k)?;
    }
    let chosen = choose_installed(sysroot, kver)?;
    // The newest directory name is used as is: it must be a plain name too.
    check_plain_name(
        &format!(
            "kernel directory under {}",
            sysroot.host("lib/modules").display()
        ),
        &chosen,
    )?;
    Ok(chosen)
}

fn choose_installed(sysroot: &Sysroot, kver: Option<&str>) -> Result<String> {
    let installed = sysroot.kernels();
    match kver {
        Some(k) => {
            if installed.iter().any(|i| i == k) {
                Ok(k.to_string())
            } else {
                Err(BuildError::KernelNotInstalled {
                    kver: k.to_string(),
                    dir: sysroot.host(&format!("lib/modules/{k}")),
                    hint: if installed.is_empty() {
                        "; no kernel is installed there (apt-get install linux-image-amd64)".into()
                    } else {
                        format!("; installed: {}", installed.join(", "))
                    },
                })
            }
        }
        None => installed
            .into_iter()
            .next()
            .ok_or_else(|| BuildError::NoKernel(sysroot.host("lib/modules"))),
    }
}

/// Adds the kernel modules `requests` name, with their closure, firmware and index files,
/// and the coldplug files. Returns each module in load order with its archive path.
pub fn add_kernel_modules(
    sysroot: &Sysroot,
    kver: &str,
    requests: &[Item],
    plan: &mut Plan,
    strict: bool,
    warnings: &mut Vec<String>,
) -> Result<Vec<(String, String)>> {
    let dir = sysroot
        .add(plan, &format!("/lib/modules/{kver}"), "kernel modules")?
        .ok_or_else(|| BuildError::KernelNotInstalled {
            kver: kver.to_string(),
            dir: sysroot.host(&format!("lib/modules/{kver}")),
            hint: String::new(),
        })?;
    let index = ModuleIndex::load(sysroot, &format!("/{}", dir.image_path), kver)?;
    let sel = index.select(requests)?;
    for m in &sel.missing_optional {
        warnings.push(format!(
            "optional kernel module {} (from {}) not found; skipped",
            m.name, m.by
        ));
    }
    // Where a module goes in the image: uncompressed, as `.ko`.
    let at = |name: &str| format!("{}/{}", dir.image_path, index.plain_path_of(name));
    let mut paths = Vec::with_capacity(sel.load_order.len());
    for name in &sel.load_order {
        let rel = index.path_of(name).unwrap_or_default();
        let bytes = read_decompressed(sysroot, &format!("/{}/{rel}", dir.image_path))?;
        let image_path = at(name);
        for fw in firmware_of(&bytes) {
            let module = (name.as_str(), image_path.as_str());
            add_firmware(sysroot, plan, kver, &fw, module, strict, warnings)?;
        }
        let by = format!("kernel module {name}");
        plan.insert_bytes(&image_path, bytes, 0o644, &by)?;
        let cause = match sel.reasons.get(name) {
            Some(Selected::Requested(item)) => Cause::Listed {
                list: "kernel_modules",
                by: item.by.clone(),
            },
            Some(Selected::DependencyOf(m)) => Cause::Object {
                path: at(m),
                via: Via::ModuleDep,
            },
            Some(Selected::SoftdepOf(m)) => Cause::Object {
                path: at(m),
                via: Via::Softdep,
            },
            None => Cause::Listed {
                list: "kernel_modules",
                by: by.clone(),
            },
        };
        plan.set_cause(&image_path, &by, cause);
        paths.push((name.clone(), image_path));
    }
    for (file, text) in index.image_indexes(&sel.load_order) {
        plan.insert_bytes(
            &format!("{}/{file}", dir.image_path),
            text.into_bytes(),
            0o644,
            "kernel module index",
        )?;
    }
    for f in [
        "modules.builtin",
        "modules.builtin.modinfo",
        "modules.order",
    ] {
        if dir.host_path.join(f).exists() {
            sysroot.add(
                plan,
                &format!("/lib/modules/{kver}/{f}"),
                "kernel module index",
            )?;
        }
    }
    // What loads at boot: drivers by modalias, the rest always or as needed (coldplug.rs).
    let load = crate::resolve::coldplug::load_list(&index, &sel)?;
    contract::write_modules_load(plan, &load.lines)?;
    let table = crate::resolve::modmatch::table_text(&load.lines, &load.aliases)?;
    contract::write_modules_match(plan, table)?;
    contract::write_modules_buses(plan, &load.buses)?;
    crate::resolve::coldplug::add_shell(plan)?;
    Ok(paths)
}

fn add_firmware(
    sysroot: &Sysroot,
    plan: &mut Plan,
    kver: &str,
    fw: &str,
    (module, module_path): (&str, &str),
    strict: bool,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let dirs = [
        format!("/lib/firmware/updates/{kver}"),
        "/lib/firmware/updates".into(),
        format!("/lib/firmware/{kver}"),
        "/lib/firmware".into(),
    ];
    let cause = || Cause::Object {
        path: module_path.to_string(),
        via: Via::Firmware,
    };
    let by = format!("firmware for {module}");
    for d in &dirs {
        for suffix in ["", ".xz", ".zst"] {
            let p = format!("{d}/{fw}{suffix}");
            if sysroot.resolve(&p)?.is_none() {
                continue;
            }
            if suffix.is_empty() {
                sysroot.add(plan, &p, &by)?;
            } else {
                add_decompressed(sysroot, plan, &p, &by)?;
            }
            // The name the kernel asks for, plain: its links and directories are recorded.
            provenance::record(plan, &format!("{d}/{fw}"), &by, cause());
            return Ok(());
        }
    }
    if strict {
        return Err(BuildError::MissingFirmware {
            name: fw.to_string(),
            module: module.to_string(),
            searched: dirs.join(", "),
        });
    }
    warnings.push(format!("firmware {fw} for kernel module {module} not found; skipped (--strict makes this an error)"));
    Ok(())
}

/// Adds the compressed firmware file `path` (`.../name.bin.xz`) decompressed, under its
/// plain name in the same directory (`.../name.bin`): the kernel finds it without
/// `CONFIG_FW_LOADER_COMPRESS`, and the image is compressed once. The directory's links
/// (`/lib` to `usr/lib`) are recorded as they are in the sysroot.
fn add_decompressed(sysroot: &Sysroot, plan: &mut Plan, path: &str, by: &str) -> Result<()> {
    let plain = strip_compression(path).unwrap_or(path);
    let (parent, base) = plain.rsplit_once('/').unwrap_or(("", plain));
    let Some(dir) = sysroot.add(plan, parent, by)? else {
        return Ok(());
    };
    let at = format!("{}/{base}", dir.image_path);
    if !plan.contains(&at) {
        let bytes = read_decompressed(sysroot, path)?;
        plan.insert_bytes(&at, bytes, 0o644, by)?;
    }
    Ok(())
}

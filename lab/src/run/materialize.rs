//! Making what a plan's recipes describe, on this host: the checks of host tools, the
//! kernel's choice, then each recipe in order — before anything boots, and a phase's own
//! recipes when the runner starts that phase.

use crate::accel::{self, Accel};
use crate::error::{LabError, Result};
use crate::qemu::qemu_binary;
use crate::run::artifacts;
use crate::run::plan::{LabPlan, KERNEL, ROOT_SHA256};
use crate::run::pvh::BootKernel;
use crate::run::recipe::Recipe;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What the host gave the run: the kernel and the accelerator.
#[derive(Debug)]
pub struct Host {
    /// The tree the images are built from (`/` unless `--sysroot` or `--distro`).
    pub sysroot: PathBuf,
    /// What the sysroot's modules end in, when it is a release's (`--distro`).
    pub module_suffix: Option<&'static str>,
    pub kver: String,
    /// The compressed kernel (what netboot files carry).
    pub kernel: PathBuf,
    /// What the VMs boot.
    pub boot: BootKernel,
    pub accel: Accel,
    /// The run's BMC credentials by node (fresh per run; the plan's BMCs).
    pub bmc_credentials: std::collections::BTreeMap<String, crate::bmc::Credentials>,
}

/// Checks the host's tools, chooses the kernel, points every VM at it, and makes every
/// recipe that comes before the first boot.
pub fn prepare(plan: &mut LabPlan) -> Result<Host> {
    // Fail before building anything when a host tool of the run is missing.
    crate::host_tools::require(qemu_binary().as_os_str())?;
    for tool in &plan.tools {
        crate::host_tools::require(OsStr::new(tool))?;
    }
    // And when the bricks' host fill cannot run (it needs root), before the tree is built.
    if plan
        .recipes
        .iter()
        .any(|r| matches!(r, Recipe::Bricks { .. }))
    {
        crate::run::bricks::may_fill()?;
    }
    std::fs::create_dir_all(&plan.work)
        .map_err(|e| LabError::io("cannot create", &plan.work, e))?;
    let sysroot = plan.sysroot.directory(&crate::run::rootfs::cache_dir())?;
    let kver = srbuild_builder::kernel::choose_kernel(
        &srbuild_builder::sysroot::Sysroot::new(&sysroot),
        plan.kver.as_deref(),
    )
    .map_err(|source| LabError::Build {
        what: "choosing the kernel".into(),
        source,
    })?;
    let kernel = artifacts::kernel_image(&sysroot, &kver)?;
    let started = Instant::now();
    // What the VMs boot; the PXE scenario's netboot files keep the bzImage.
    let boot = if plan.bzimage {
        BootKernel::BzImage(kernel.clone(), "--bzimage".into())
    } else {
        crate::run::pvh::boot_kernel(&kernel, &crate::run::rootfs::cache_dir())?
    };
    for n in plan.phases.iter_mut().flat_map(|p| p.nodes.iter_mut()) {
        if n.spec.kernel == Path::new(KERNEL) {
            n.spec.kernel = boot.path().to_path_buf();
        }
    }
    let (accel, why) = accel::detect_with_reason(&qemu_binary());
    let module_suffix = match &plan.sysroot {
        crate::run::sysroots::Sysroot::Release(r) => Some(r.module_suffix),
        _ => None,
    };
    let host = Host {
        sysroot,
        module_suffix,
        kver,
        kernel,
        boot,
        accel,
        bmc_credentials: crate::run::fencing::credentials(&plan.bmcs)?,
    };
    for r in &plan.recipes {
        make(r, &host)?;
    }
    // The root image's hash, now that it is made, where the plan left its placeholder.
    let made: Vec<String> = plan
        .recipes
        .iter()
        .filter_map(|r| match r {
            Recipe::RootImage { sum, .. } => Some(sum),
            _ => None,
        })
        .map(|sum| {
            std::fs::read_to_string(sum)
                .map(|t| t.trim().to_string())
                .map_err(|e| LabError::io("cannot read", sum, e))
        })
        .collect::<Result<_>>()?;
    if let Some(sum) = made.last() {
        plan.fill(ROOT_SHA256, sum);
    }
    let clients = plan
        .phases
        .iter()
        .flat_map(|p| &p.nodes)
        .filter(|n| matches!(n.expect, crate::run::nodes::Expect::Verdict { .. }))
        .count();
    println!(
        "lab: {} root, {clients} client(s), scenario {}; artifacts ready in {:.1} s under {}; \
         accelerator {} ({why}); {}",
        plan.kind.name,
        plan.scenario,
        started.elapsed().as_secs_f64(),
        plan.work.display(),
        host.accel.as_str(),
        host.boot.describe()
    );
    Ok(host)
}

/// Makes one recipe.
pub fn make(r: &Recipe, host: &Host) -> Result<()> {
    match r {
        Recipe::Cluster {
            path,
            authkey,
            nodes,
            fences,
            initiators,
            chap,
        } => {
            artifacts::authkey(authkey)?;
            let fences = crate::run::fencing::write_password_files(fences, &host.bmc_credentials)?;
            // A description, with `(user, secret file)` when the target requires CHAP: the
            // file gets a fresh secret (0600) and the description's [iscsi] names it.
            let write = |desc: &Path, chap: Option<(&str, &Path)>| -> Result<()> {
                let with = match chap {
                    Some((user, s)) => {
                        let key = crate::bmc::secret::random_alnum(CHAP_SECRET_LEN)?;
                        crate::bmc::secret::write_secret(s, key.as_bytes())?;
                        Some((user, file_name(s)))
                    }
                    None => None,
                };
                let text = crate::run::topology::cluster_toml(
                    nodes,
                    Some(file_name(authkey)),
                    &fences,
                    *initiators,
                    with,
                );
                srbuild_fsio::write_file(desc, text.as_bytes(), 0o644, None)
                    .map_err(|e| LabError::io("cannot write", desc, e))
            };
            write(path, chap.as_ref().map(|c| (c.user, c.secret.as_path())))?;
            // The clients' own description, whose secret is another one.
            if let Some((c, (desc, s))) = chap.as_ref().and_then(|c| Some((c, c.wrong.as_ref()?))) {
                write(desc, Some((c.user, s)))?;
            }
            Ok(())
        }
        Recipe::RootTree {
            path,
            cluster,
            clients,
            agent,
            rootfs,
        } => crate::run::roottree::root_tree(
            path,
            &host.sysroot,
            &host.kver,
            cluster,
            clients,
            agent,
            *rootfs,
        ),
        Recipe::Image {
            profile,
            cluster,
            output,
            from_server,
        } => {
            let input = match from_server {
                None => None,
                Some(f) => {
                    let log = std::fs::read_to_string(&f.log)
                        .map_err(|e| LabError::io("cannot read", &f.log, e))?;
                    let text =
                        artifacts::cut_from_console(&log, f.begin, f.end).ok_or_else(|| {
                            LabError::Role {
                                node: f.node.clone(),
                                why: format!(
                                    "it said it was ready but printed nothing between {} and {}",
                                    f.begin, f.end
                                ),
                                log: f.log.clone(),
                            }
                        })?;
                    srbuild_fsio::write_file(&f.file, text.as_bytes(), 0o644, None)
                        .map_err(|e| LabError::io("cannot write", &f.file, e))?;
                    Some((f.input, f.file.as_path()))
                }
            };
            let from = (host.sysroot.as_path(), host.kver.as_str());
            artifacts::build_image_with(profile, from, cluster.as_deref(), output, input)?;
            let checking = Instant::now();
            let c = crate::run::plain_modules::check_image(
                output,
                &host.sysroot,
                &host.kver,
                host.module_suffix,
            )?;
            println!(
                "lab: {profile} image: {} modules, all plain ELF ({} decompressed from the \
                 sysroot), {} firmware files plain, modules.dep names only .ko; checked in \
                 {:.2} s",
                c.modules,
                c.decompressed,
                c.firmware,
                checking.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Recipe::DataDir { tree, dir } => {
            let _ = std::fs::remove_dir_all(dir);
            std::fs::create_dir_all(dir).map_err(|e| LabError::io("cannot create", dir, e))?;
            std::fs::rename(tree, dir.join("root"))
                .map_err(|e| LabError::io("cannot move the root tree", tree, e))
        }
        Recipe::RootImage {
            tree,
            output,
            exclude,
            sum,
        } => {
            let hash = artifacts::root_image(tree, output, exclude)?;
            srbuild_fsio::write_file(sum, format!("{hash}\n").as_bytes(), 0o644, None)
                .map_err(|e| LabError::io("cannot write", sum, e))
        }
        Recipe::Netboot {
            cluster,
            out,
            initrd,
            append,
            http_base,
        } => netboot(
            cluster,
            out,
            &host.kernel,
            initrd,
            append,
            http_base.as_deref(),
        ),
        Recipe::Mkfs {
            fs,
            src,
            image,
            size_mb,
            label,
        } => artifacts::mkfs_from_dir(fs, src, image, *size_mb, label),
        Recipe::Bricks {
            tree,
            image,
            size_mb,
            label,
        } => crate::run::bricks::fill(tree, image, *size_mb, label),
        Recipe::SharedDisk {
            path,
            size_mb,
            format,
            with,
        } => {
            artifacts::raw_image(path, *size_mb)?;
            (format.run)(path, with)
        }
        Recipe::Overlay { base, path } => artifacts::overlay(base, path),
    }
}

/// Writes the netboot files for the lab's cluster into `out`, as `srbuild cluster netboot
/// --tftp-root /srv/netboot` does (with `http_base`: `--http-base URL --tftp-root
/// /srv/netboot/tftp`): the server's data disk carries them to its dnsmasq (and nginx).
fn netboot(
    cluster: &Path,
    out: &Path,
    kernel: &Path,
    initrd: &Path,
    append: &str,
    http_base: Option<&str>,
) -> Result<()> {
    let what = |w: &str| format!("{w} for the pxe scenario ({})", out.display());
    let c = srbuild_cluster::Cluster::load(cluster).map_err(|source| LabError::Netboot {
        what: what("reading the cluster description"),
        source,
    })?;
    let opts = srbuild_cluster::netboot::NetbootOptions {
        outdir: out.to_path_buf(),
        kernel: kernel.to_path_buf(),
        initrd: initrd.to_path_buf(),
        append: Some(append.to_string()),
        tftp_root: Some(PathBuf::from(match http_base {
            None => crate::run::scenarios::NETBOOT_DIR,
            Some(_) => crate::run::scenarios::NETBOOT_TFTP_DIR,
        })),
        http_base: http_base.map(str::to_string),
    };
    srbuild_cluster::netboot::write_netboot(&c, &opts).map_err(|source| LabError::Netboot {
        what: what("writing the netboot files"),
        source,
    })?;
    Ok(())
}

/// The length of the lab's CHAP secrets: letters and digits (about 143 bits).
const CHAP_SECRET_LEN: usize = 24;

/// The last component of `p` (a file the plan named next to the description), which is
/// always a plain name.
fn file_name(p: &Path) -> &str {
    p.file_name().and_then(|n| n.to_str()).unwrap_or_default()
}
